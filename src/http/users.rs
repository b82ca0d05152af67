//! Staff and riders, and the caller themselves.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{AnyPerson, Caller, Json, Path, Query, Staff, StaffOrAuditor, WriteRequest};
use super::views::{UserView, page_limit};
use crate::auth::hash_password;
use crate::domain::Validator;
use crate::domain::people::{self, Phone, Role, within};
use crate::domain::points::Points;
use crate::store::{ledger, users};

#[derive(Serialize, Deserialize, ToSchema)]
pub struct CreateUser {
    /// Staff username (letters, digits, `.`, `_`, `-`). Riders sign in with their phone number instead.
    pub username: Option<String>,
    pub password: String,
    pub display_name: String,
    pub role: Role,
    /// Required for organizers and riders; absent for admins and auditors.
    pub level_id: Option<i64>,
    /// Required for riders.
    pub phone: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct UserPage {
    pub users: Vec<UserView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<i64>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    pub role: Option<Role>,
    /// Only people at this level or below it.
    pub level_id: Option<i64>,
    /// 1–500, default 50.
    pub limit: Option<u64>,
    pub cursor: Option<i64>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct MeView {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub level_id: Option<i64>,
    pub level_name: Option<String>,
    pub display_name: String,
    /// In full: it is the caller's own.
    pub phone: Option<String>,
    /// A rider's points account.
    pub account_id: Option<i64>,
    pub balance: Option<Points>,
    pub available: Option<Points>,
}

/// Create a person. Admins create anyone; organizers create riders in their own subtree.
#[utoipa::path(post, path = "/api/v1/users", tag = "users",
    security(("bearer" = [])),
    request_body = CreateUser,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key replay the first answer")),
    responses(
        (status = 201, body = UserView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Username or phone number taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    extensions(("x-roles" = json!(["admin", "organizer"]))))]
pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller<Staff>,
    write: WriteRequest,
    Json(body): Json<CreateUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    if caller.role == Role::Organizer && body.role != Role::Rider {
        return Err(ApiError::Forbidden("organizers may create riders only".into()));
    }
    if body.role == Role::Partner {
        return Err(ApiError::invalid("role", "partners are machine clients: register them at /api/v1/partners"));
    }
    let mut validator = Validator::new();
    validator.take(people::password(&body.password));
    let display_name = validator.take(people::display_name(&body.display_name));
    let phone = match (&body.phone, body.role) {
        (Some(phone), _) => validator.take(Phone::parse(phone)),
        (None, Role::Rider) => {
            validator.check(false, "phone", "is required for a rider");
            None
        }
        (None, _) => None,
    };
    let username = match (body.role, &body.username, &phone) {
        (Role::Rider, None, Some(phone)) => Some(phone.as_str().to_owned()),
        (Role::Rider, Some(username), Some(phone)) => {
            validator.check(
                username == phone.as_str(),
                "username",
                "a rider's username is their phone number; leave it out",
            );
            Some(phone.as_str().to_owned())
        }
        (Role::Rider, _, None) => None,
        (_, Some(username), _) => validator.take(people::username(username)),
        (_, None, _) => {
            validator.check(false, "username", "is required");
            None
        }
    };
    match (body.role.needs_level(), body.level_id) {
        (true, None) => validator.check(false, "level_id", "is required for organizers and riders"),
        (false, Some(_)) => validator.check(false, "level_id", "admins and auditors belong to no level"),
        _ => {}
    }
    validator.finish()?;
    if let Some(level_id) = body.level_id {
        match caller.role {
            Role::Admin => {
                if state.level_path(level_id).await?.is_none() {
                    return Err(ApiError::invalid("level_id", "there is no such level"));
                }
            }
            _ => {
                state.require_level(&caller, level_id).await?;
            }
        }
    }
    let password_hash = hash_password(body.password.clone()).await.map_err(ApiError::internal)?;
    let work = state.begin(caller.user_id, &write, &body).await?;
    let user = users::create(
        &work,
        users::NewUser {
            username: username.unwrap_or_default(),
            role: body.role,
            level_id: body.level_id,
            display_name: display_name.unwrap_or_default(),
            phone: phone.as_ref().map(|phone| phone.as_str().to_owned()),
            phone_key: phone.as_ref().map(|phone| state.subjects.phone(phone)),
            password_hash,
        },
    )
    .await?;
    work.audit(
        "user.create",
        "user",
        user.id,
        json!({ "role": user.role, "level_id": user.level_id, "phone": phone.map(|phone| phone.masked()) }),
    )
    .await?;
    let view = UserView::for_viewer(user, caller.user_id, caller.role);
    work.commit(201, &view).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// People in the caller's scope (organizers: their subtree), by id.
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    security(("bearer" = [])),
    params(UserQuery),
    responses((status = 200, body = UserPage), (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor"]))))]
pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller<StaffOrAuditor>,
    Query(query): Query<UserQuery>,
) -> ApiResult<Json<UserPage>> {
    let limit = page_limit(query.limit)?;
    let root = match query.level_id {
        Some(level_id) => Some(state.require_level(&caller, level_id).await?),
        None => state.scope_root(&caller).await?,
    };
    let page = users::list(state.store.reader(), root.as_deref(), query.role, limit, query.cursor).await?;
    Ok(Json(UserPage {
        users: page.items.into_iter().map(|user| UserView::for_viewer(user, caller.user_id, caller.role)).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One person: riders may read themselves; organizers people in their subtree.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = UserView), (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor", "rider"]))))]
pub async fn get_user(
    State(state): State<AppState>,
    caller: Caller<AnyPerson>,
    Path(user_id): Path<i64>,
) -> ApiResult<Json<UserView>> {
    let found = users::find(state.store.reader(), user_id).await;
    let allowed = match (&found, caller.role) {
        (_, Role::Admin | Role::Auditor) => true,
        (_, Role::Rider) => user_id == caller.user_id,
        (Ok(user), Role::Organizer) => match (state.scope_root(&caller).await?, user.level_id) {
            (Some(root), Some(level_id)) => state.level_path(level_id).await?.is_some_and(|path| within(&root, &path)),
            _ => false,
        },
        (Err(_), Role::Organizer) | (_, Role::Partner) => false,
    };
    if !allowed {
        return Err(ApiError::forbidden());
    }
    Ok(Json(UserView::for_viewer(found?, caller.user_id, caller.role)))
}

/// The caller: who they are, their level, and for a rider their points account and balance.
#[utoipa::path(get, path = "/api/v1/me", tag = "users",
    security(("bearer" = [])),
    responses((status = 200, body = MeView), (status = 401, body = Problem, content_type = "application/problem+json")),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor", "rider"]))))]
pub async fn me(State(state): State<AppState>, caller: Caller<AnyPerson>) -> ApiResult<Json<MeView>> {
    let reader = state.store.reader();
    let user = users::find(reader, caller.user_id).await?;
    let level_name = match user.level_id {
        Some(level_id) => Some(crate::store::levels::find(reader, level_id).await?.name),
        None => None,
    };
    let account = match user.account_id {
        Some(account_id) => Some(ledger::account(reader, account_id, state.store.now()).await?),
        None => None,
    };
    Ok(Json(MeView {
        id: user.id,
        username: user.username,
        role: user.role,
        level_id: user.level_id,
        level_name,
        display_name: user.display_name,
        phone: user.phone,
        account_id: user.account_id,
        balance: account.as_ref().map(|account| account.balances.posted()),
        available: account.as_ref().map(|account| account.balances.available()),
    }))
}
