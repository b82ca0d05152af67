//! Sign-in, token refresh with rotation and reuse detection, sign-out, rider registration.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::Extension;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{AnyPerson, Caller, Json, WriteRequest};
use super::views::UserView;
use crate::auth::{hash_password, hash_token, new_opaque_token, verify_password};
use crate::domain::people::{self, Phone, Role};
use crate::domain::{Validator, required_text};
use crate::store::sessions::{self, RefreshOutcome};
use crate::store::users::{self, NewUser, UserRecord};

#[derive(Serialize, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// A staff username, or a rider's phone number.
    pub username: String,
    pub password: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Opaque; exchange it once at /api/v1/auth/refresh for a new pair.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// A mainland mobile number; it becomes the rider's username.
    pub phone: String,
    pub password: String,
    pub display_name: String,
    /// The level (usually a community) the rider belongs to.
    pub level_id: i64,
}

const WRONG_CREDENTIALS: &str = "the username or password is wrong";

/// Issues an access token and a new refresh token in the session `family_id`.
async fn issue_tokens(
    state: &AppState,
    connection: &impl sea_orm::ConnectionTrait,
    user: &UserRecord,
    family_id: &str,
) -> ApiResult<TokenResponse> {
    let now = state.store.now();
    let (refresh_token, refresh_hash) = new_opaque_token();
    let expires_at = now + TimeDelta::seconds(state.tokens.refresh_ttl_seconds);
    sessions::start(connection, user.id, family_id, refresh_hash, now, expires_at).await?;
    let language = match user.level_id {
        Some(level_id) => crate::store::levels::language_of(connection, level_id).await?,
        None => None,
    };
    Ok(TokenResponse {
        access_token: state.tokens.issue(user.id, user.role, user.level_id, language, family_id, now),
        refresh_token,
        token_type: "Bearer".into(),
        expires_in: state.tokens.access_ttl_seconds,
    })
}

/// Sign in with a username (or a rider's phone number) and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "Wrong username or password", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid input", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed sign-ins for this account or address: wait `Retry-After` seconds",
         body = Problem, content_type = "application/problem+json"),
    ),
    extensions(("x-roles" = json!(["public"]))))]
pub async fn login(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    write: WriteRequest,
    Json(body): Json<LoginRequest>,
) -> ApiResult<Json<TokenResponse>> {
    if body.username.trim().is_empty()
        || body.password.is_empty()
        || body.password.chars().count() > people::PASSWORD_CHARS_MAX
    {
        return Err(ApiError::Unauthorized(WRONG_CREDENTIALS.into()));
    }
    let address = peer.map(|Extension(ConnectInfo(address))| address.ip());
    let user = sign_in(&state, &body, address).await?;
    let work = state.begin_plain(Some(user.id), write.request_id).await?;
    let family_id = uuid::Uuid::new_v4().to_string();
    let tokens = issue_tokens(&state, work.txn(), &user, &family_id).await?;
    work.audit("session.start", "user", user.id, json!({ "session": family_id })).await?;
    work.commit_plain().await?;
    Ok(Json(tokens))
}

/// Checks a username and password under the brute-force throttle: a few failures are answered
/// slowly, more are refused for a while (429 with Retry-After).
async fn sign_in(state: &AppState, body: &LoginRequest, address: Option<IpAddr>) -> ApiResult<UserRecord> {
    let throttle = &state.login_throttle;
    let delay = throttle.check(&body.username, address, Instant::now())?;
    let user = check_password(state, body).await?;
    match user {
        Some(user) => {
            throttle.succeeded(&body.username);
            Ok(user)
        }
        None => {
            let refusal = throttle.failed(&body.username, address, Instant::now());
            tokio::time::sleep(delay).await;
            match refusal {
                Some(refusal) => Err(refusal.into()),
                None => Err(ApiError::Unauthorized(WRONG_CREDENTIALS.into())),
            }
        }
    }
}

async fn check_password(state: &AppState, body: &LoginRequest) -> ApiResult<Option<UserRecord>> {
    let username = body.username.trim().to_lowercase();
    let mut user = users::find_by_username(state.store.reader(), &username).await?;
    if user.is_none()
        && let Ok(phone) = Phone::parse(&username)
    {
        user = users::find_by_username(state.store.reader(), phone.as_str()).await?;
    }
    let password_matches =
        verify_password(user.as_ref().map(|user| user.password_hash.clone()), body.password.clone()).await;
    Ok(user.filter(|_| password_matches))
}

/// Exchange a refresh token for a new access token and a new refresh token. Each refresh token
/// works once: presenting a spent one revokes the whole session.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "Unknown, expired, revoked or reused refresh token", body = Problem, content_type = "application/problem+json"),
    ),
    extensions(("x-roles" = json!(["public"]))))]
pub async fn refresh(
    State(state): State<AppState>,
    write: WriteRequest,
    Json(body): Json<RefreshRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let work = state.begin_plain(None, write.request_id).await?;
    match sessions::spend(work.txn(), &hash_token(body.refresh_token.trim()), work.now()).await? {
        RefreshOutcome::Rotated { user_id, family_id } => {
            let user = users::find(work.txn(), user_id).await?;
            let tokens = issue_tokens(&state, work.txn(), &user, &family_id).await?;
            work.commit_plain().await?;
            Ok(Json(tokens))
        }
        RefreshOutcome::ReuseDetected => {
            // Keep the revocation even though the request fails.
            work.audit("session.revoke", "session", "reuse", json!({ "reason": "refresh token reused" })).await?;
            work.commit_plain().await?;
            Err(ApiError::Unauthorized(
                "this refresh token was already used; the session has been revoked. Sign in again".into(),
            ))
        }
        RefreshOutcome::Invalid => {
            Err(ApiError::Unauthorized("the refresh token is unknown or expired; sign in again".into()))
        }
    }
}

/// Sign out: revokes the caller's session, so its refresh tokens no longer work. The access token
/// itself lapses within minutes.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    security(("bearer" = [])),
    responses((status = 204, description = "Signed out"), (status = 401, body = Problem, content_type = "application/problem+json")),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor", "rider"]))))]
pub async fn logout(
    State(state): State<AppState>,
    caller: Caller<AnyPerson>,
    write: WriteRequest,
) -> ApiResult<StatusCode> {
    let work = state.begin_plain(Some(caller.user_id), write.request_id).await?;
    sessions::revoke_family(work.txn(), &caller.session_id, work.now()).await?;
    work.audit("session.end", "user", caller.user_id, json!({ "session": caller.session_id })).await?;
    work.commit_plain().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A rider signs up with their phone number; they can sign in with it at once.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, body = UserView),
        (status = 409, description = "The phone number is already registered", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    extensions(("x-roles" = json!(["public"]))))]
pub async fn register(
    State(state): State<AppState>,
    write: WriteRequest,
    Json(body): Json<RegisterRequest>,
) -> ApiResult<Response> {
    let mut validator = Validator::new();
    let phone = validator.take(Phone::parse(&body.phone));
    validator.take(people::password(&body.password));
    let display_name = validator.take(people::display_name(&body.display_name));
    validator.finish()?;
    let (Some(phone), Some(display_name)) = (phone, display_name) else { unreachable!("validated above") };
    if state.level_path(body.level_id).await?.is_none() {
        return Err(ApiError::invalid("level_id", "there is no such level"));
    }
    let password_hash = hash_password(body.password).await.map_err(ApiError::internal)?;
    let work = state.begin_plain(None, write.request_id).await?;
    let user = users::create(
        &work,
        NewUser {
            username: phone.as_str().to_owned(),
            role: Role::Rider,
            level_id: Some(body.level_id),
            display_name,
            phone: Some(phone.as_str().to_owned()),
            phone_key: Some(state.subjects.phone(&phone)),
            password_hash,
        },
    )
    .await
    .map_err(|error| match error {
        crate::store::StoreError::Conflict(_) => ApiError::Conflict {
            slug: "already-registered",
            title: "Already registered",
            detail: "this phone number is already registered; sign in instead".into(),
        },
        other => other.into(),
    })?;
    work.audit(
        "user.register",
        "user",
        user.id,
        json!({ "role": "rider", "level_id": body.level_id, "phone": phone.masked() }),
    )
    .await?;
    work.commit_plain().await?;
    let view = UserView::for_viewer(user.clone(), user.id, Role::Rider);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// Validates the common fields of a new person.
pub fn validate_new_person(
    username: &str,
    password: &str,
    display_name: &str,
) -> Result<(String, String), crate::domain::Invalid> {
    let mut validator = Validator::new();
    let username = validator.take(people::username(username));
    validator.take(people::password(password));
    let display_name = validator.take(required_text("display_name", display_name, people::NAME_CHARS_MAX));
    validator.finish()?;
    Ok((username.unwrap_or_default(), display_name.unwrap_or_default()))
}
