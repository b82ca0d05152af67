//! The union's tree of levels.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{AdminOnly, AnyPerson, Caller, Json, Path, StaffOrAuditor, WriteRequest, present};
use super::views::{LevelNode, LevelView};
use crate::domain::people::{self, Language, LevelKind, Role};
use crate::store::levels as level_store;

#[derive(Serialize, Deserialize, ToSchema)]
pub struct CreateLevel {
    pub name: String,
    pub kind: LevelKind,
    /// The level above; absent only for a city.
    pub parent_id: Option<i64>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct UpdateLevel {
    /// A new name.
    pub name: Option<String>,
    /// Require hours logged at this level to be approved by someone other than who logged them.
    pub approver_must_differ: Option<bool>,
    /// Make points earned by riders here expire this many months later (1–120); 0 turns expiry off.
    pub points_expire_months: Option<i32>,
    /// Points posted from this level's budget to each new member approved here; "0" turns it off.
    pub welcome_points: Option<crate::domain::points::Points>,
    /// The default language of texts (problems, names) for the people here and below whose client
    /// does not ask for one (`Accept-Language`): "zh-CN" or "en"; null follows the level above.
    /// It applies from their next sign-in or token refresh.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Language>)]
    pub language: Option<Option<Language>>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct LevelTree {
    /// The roots the caller can see (every city for admins and auditors; an organizer's own level).
    pub levels: Vec<LevelNode>,
}

/// Create a level under a parent (a city has none). It gets a budget account; a city also gets
/// its issuance, redemption and breakage accounts.
#[utoipa::path(post, path = "/api/v1/levels", tag = "levels",
    security(("bearer" = [])),
    request_body = CreateLevel,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key replay the first answer")),
    responses(
        (status = 201, body = LevelView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    extensions(("x-roles" = json!(["admin"]))))]
pub async fn create_level(
    State(state): State<AppState>,
    caller: Caller<AdminOnly>,
    write: WriteRequest,
    Json(body): Json<CreateLevel>,
) -> ApiResult<(StatusCode, Json<LevelView>)> {
    let name = people::level_name(&body.name)?;
    let parent = match body.parent_id {
        Some(parent_id) => Some(
            level_store::find(state.store.reader(), parent_id)
                .await
                .map_err(|_| ApiError::invalid("parent_id", "there is no such level"))?,
        ),
        None => None,
    };
    body.kind.check_parent(parent.as_ref().map(|parent| parent.kind))?;
    let work = state.begin(caller.user_id, &write, &body).await?;
    let level = level_store::create(&work, name, body.kind, parent.as_ref()).await?;
    work.audit(
        "level.create",
        "level",
        level.id,
        json!({ "name": level.name, "kind": level.kind, "parent_id": level.parent_id }),
    )
    .await?;
    let view = LevelView::from(level);
    work.commit(201, &view).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// The tree of levels the caller can see: all of it for admins and auditors, their own subtree for organizers.
#[utoipa::path(get, path = "/api/v1/levels", tag = "levels",
    security(("bearer" = [])),
    responses((status = 200, body = LevelTree), (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json")),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor"]))))]
pub async fn list_levels(State(state): State<AppState>, caller: Caller<StaffOrAuditor>) -> ApiResult<Json<LevelTree>> {
    let root = state.scope_root(&caller).await?;
    let levels = level_store::list(state.store.reader(), root.as_deref()).await?;
    // Levels come parents first (ids grow downwards), so children can be attached bottom-up.
    let visible: std::collections::HashSet<i64> = levels.iter().map(|level| level.id).collect();
    let mut children: HashMap<i64, Vec<LevelNode>> = HashMap::new();
    let mut roots = Vec::new();
    for level in levels.into_iter().rev() {
        let node = LevelNode {
            id: level.id,
            name: level.name,
            kind: level.kind,
            parent_id: level.parent_id,
            budget_account_id: level.budget_account_id,
            children: {
                let mut below = children.remove(&level.id).unwrap_or_default();
                below.reverse();
                below
            },
        };
        match level.parent_id.filter(|parent_id| visible.contains(parent_id)) {
            Some(parent_id) => children.entry(parent_id).or_default().push(node),
            None => roots.push(node),
        }
    }
    roots.reverse();
    Ok(Json(LevelTree { levels: roots }))
}

/// One level. Riders may read their own level; staff and auditors those in their scope.
#[utoipa::path(get, path = "/api/v1/levels/{id}", tag = "levels",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = LevelView), (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor", "rider"]))))]
pub async fn get_level(
    State(state): State<AppState>,
    caller: Caller<AnyPerson>,
    Path(level_id): Path<i64>,
) -> ApiResult<Json<LevelView>> {
    if caller.role == Role::Rider {
        if caller.level_id != Some(level_id) {
            return Err(ApiError::forbidden());
        }
    } else {
        state.require_level(&caller, level_id).await?;
    }
    Ok(Json(LevelView::from(level_store::find(state.store.reader(), level_id).await?)))
}

/// Rename a level or change its settings.
#[utoipa::path(patch, path = "/api/v1/levels/{id}", tag = "levels",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    request_body = UpdateLevel,
    responses((status = 200, body = LevelView), (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")),
    extensions(("x-roles" = json!(["admin"]))))]
pub async fn rename_level(
    State(state): State<AppState>,
    caller: Caller<AdminOnly>,
    write: WriteRequest,
    Path(level_id): Path<i64>,
    Json(body): Json<UpdateLevel>,
) -> ApiResult<Json<LevelView>> {
    let name = body.name.as_deref().map(people::level_name).transpose()?;
    let points_expire_months = match body.points_expire_months {
        None => None,
        Some(0) => Some(None),
        Some(months) if (1..=crate::domain::spending::EXPIRY_MONTHS_MAX).contains(&months) => Some(Some(months)),
        Some(_) => return Err(ApiError::invalid("points_expire_months", "must be 0 (never) or 1–120 months")),
    };
    let welcome_points = match body.welcome_points {
        None => None,
        Some(points) if points.is_negative() => {
            return Err(ApiError::invalid("welcome_points", "must not be negative"));
        }
        Some(points) => Some(Some(points).filter(|points| points.is_positive())),
    };
    let changes = level_store::LevelChanges {
        name,
        approver_must_differ: body.approver_must_differ,
        points_expire_months,
        welcome_points,
        language: body.language,
    };
    let work = state.begin(caller.user_id, &write, &body).await?;
    let level = level_store::update(&work, level_id, changes).await?;
    work.audit(
        "level.update",
        "level",
        level.id,
        json!({
            "name": level.name,
            "approver_must_differ": level.approver_must_differ,
            "points_expire_months": level.points_expire_months,
            "welcome_points": level.welcome_points,
            "language": level.language,
        }),
    )
    .await?;
    let view = LevelView::from(level);
    work.commit(200, &view).await?;
    Ok(Json(view))
}
