//! Holds: pending (two-phase) transfers that keep points back until posted, voided or expired.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{AdminOnly, AnyPerson, Caller, Json, Path, WriteRequest};
use super::views::{EntryView, HoldView};
use crate::domain::ledger::{EntryKind, REASON_CHARS_MAX, Transfer};
use crate::domain::points::Points;
use crate::domain::{Validator, required_text};
use crate::store::ledger::{self, Reference};

const PROBLEMS: &str = "application/problem+json";

#[derive(Serialize, Deserialize, ToSchema)]
pub struct CreateHold {
    /// Account whose points are kept back.
    pub from: i64,
    /// Account that receives them when the hold is posted.
    pub to: i64,
    pub amount: Points,
    pub reason: String,
    /// When the hold lapses by itself if nobody posts or voids it.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, Deserialize, ToSchema, Default)]
pub struct PostHold {
    /// Post less than was held; the rest is released. Default: all of it.
    pub amount: Option<Points>,
    /// Reason of the entry; default: the hold's reason.
    pub reason: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct PostedHold {
    pub hold: HoldView,
    pub entry: EntryView,
}

/// Keep points back on an account without spending them.
#[utoipa::path(post, path = "/api/v1/holds", tag = "ledger",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key replay the first answer")),
    request_body = CreateHold,
    responses((status = 201, body = HoldView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 409, body = Problem, content_type = PROBLEMS),
              (status = 422, description = "Invalid input, unknown account or insufficient points", body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin"]))))]
pub async fn create_hold(
    State(state): State<AppState>,
    caller: Caller<AdminOnly>,
    write: WriteRequest,
    Json(body): Json<CreateHold>,
) -> ApiResult<(StatusCode, Json<HoldView>)> {
    let mut validator = Validator::new();
    validator.check(body.amount.is_positive(), "amount", "must be greater than zero");
    validator.check(body.from != body.to, "to", "must differ from `from`");
    let reason = validator.take(required_text("reason", &body.reason, REASON_CHARS_MAX));
    if let Some(expires_at) = body.expires_at {
        validator.check(expires_at > state.store.now(), "expires_at", "must be in the future");
    }
    validator.finish()?;
    let work = state.begin(caller.user_id, &write, &body).await?;
    let hold = ledger::create_hold(
        &work,
        Transfer { from: body.from, to: body.to, amount: body.amount },
        EntryKind::Adjustment,
        reason.unwrap_or_default(),
        Reference::default(),
        body.expires_at,
    )
    .await?;
    work.audit(
        "hold.create",
        "hold",
        hold.id,
        json!({ "from": hold.from_account_id, "to": hold.to_account_id, "amount": hold.amount }),
    )
    .await?;
    let view = HoldView::from(hold);
    work.commit(201, &view).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// One hold. Organizers and riders may read holds on accounts they can read.
#[utoipa::path(get, path = "/api/v1/holds/{id}", tag = "ledger",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = HoldView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor", "rider"]))))]
pub async fn get_hold(
    State(state): State<AppState>,
    caller: Caller<AnyPerson>,
    Path(hold_id): Path<i64>,
) -> ApiResult<Json<HoldView>> {
    let found = ledger::hold_by_id(state.store.reader(), hold_id, state.store.now()).await;
    if caller.sees_everything() {
        return Ok(Json(found?.into()));
    }
    let Ok(hold) = found else { return Err(ApiError::forbidden()) };
    for account_id in [hold.from_account_id, hold.to_account_id] {
        let account = ledger::account(state.store.reader(), account_id, state.store.now()).await?;
        if state.may_read_account(&caller, &account).await? {
            return Ok(Json(hold.into()));
        }
    }
    Err(ApiError::forbidden())
}

/// Post a pending hold, all of it or a smaller amount (the rest is released).
#[utoipa::path(post, path = "/api/v1/holds/{id}/post", tag = "ledger",
    security(("bearer" = [])),
    params(("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key replay the first answer")),
    request_body = PostHold,
    responses((status = 200, body = PostedHold), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS),
              (status = 409, description = "The hold is no longer pending", body = Problem, content_type = PROBLEMS),
              (status = 422, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin"]))))]
pub async fn post_hold(
    State(state): State<AppState>,
    caller: Caller<AdminOnly>,
    write: WriteRequest,
    Path(hold_id): Path<i64>,
    Json(body): Json<PostHold>,
) -> ApiResult<Json<PostedHold>> {
    let mut validator = Validator::new();
    if let Some(amount) = body.amount {
        validator.check(amount.is_positive(), "amount", "must be greater than zero");
    }
    let reason = match &body.reason {
        Some(reason) => validator.take(required_text("reason", reason, REASON_CHARS_MAX)),
        None => None,
    };
    validator.finish()?;
    let work = state.begin(caller.user_id, &write, &body).await?;
    let (hold, entry) = ledger::post_hold(&work, hold_id, body.amount, reason).await?;
    work.audit("hold.post", "hold", hold_id, json!({ "entry_id": entry.id, "amount": hold.posted_amount })).await?;
    let view = PostedHold { hold: hold.into(), entry: entry.into() };
    work.commit(200, &view).await?;
    Ok(Json(view))
}

/// Void a pending hold: what it kept back is available again.
#[utoipa::path(post, path = "/api/v1/holds/{id}/void", tag = "ledger",
    security(("bearer" = [])),
    params(("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key replay the first answer")),
    responses((status = 200, body = HoldView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS),
              (status = 409, description = "The hold is no longer pending", body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin"]))))]
pub async fn void_hold(
    State(state): State<AppState>,
    caller: Caller<AdminOnly>,
    write: WriteRequest,
    Path(hold_id): Path<i64>,
) -> ApiResult<Json<HoldView>> {
    let work = state.begin(caller.user_id, &write, &hold_id).await?;
    let hold = ledger::void_hold(&work, hold_id).await?;
    work.audit("hold.void", "hold", hold_id, json!({ "amount": hold.amount })).await?;
    let view = HoldView::from(hold);
    work.commit(200, &view).await?;
    Ok(Json(view))
}
