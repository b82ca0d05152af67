//! Redemptions: a rider exchanges points for a reward. The cost is held until an organizer hands
//! the reward over (the hold posts) or the redemption is cancelled or expires (the hold is voided).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::csv::{self, Csv};
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{AnyPerson, Caller, Json, Path, Query, RiderOnly, Staff, WriteRequest};
use super::rewards::visible_reward;
use super::views::{EntryView, page_limit};
use crate::domain::people::{Language, Role, within};
use crate::domain::points::Points;
use crate::domain::spending::{self, RedemptionStatus, Unavailable};
use crate::store::levels as level_store;
use crate::store::spending::{self as store, RedemptionRecord};

const PROBLEMS: &str = "application/problem+json";

#[derive(Serialize, Deserialize, ToSchema)]
pub struct RedeemRequest {
    pub reward_id: i64,
    /// Default: 1.
    pub quantity: Option<i64>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct RedemptionView {
    pub id: i64,
    pub reward_id: i64,
    /// The reward's name in the answer's language (`Accept-Language`, else the caller's level's default).
    pub reward_name: String,
    pub reward_name_zh: String,
    pub reward_name_en: String,
    pub rider_id: i64,
    pub quantity: i64,
    /// Points held (then spent on fulfilment).
    pub cost: Points,
    /// A pending redemption past its expiry reads as expired.
    pub status: RedemptionStatus,
    /// Shown only to the rider, who shows it when collecting.
    pub pickup_code: Option<String>,
    pub hold_id: i64,
    /// The redemption entry, once fulfilled.
    pub entry_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl RedemptionView {
    pub fn for_viewer(record: RedemptionRecord, viewer_id: i64, language: Language) -> Self {
        let redemption = record.redemption;
        RedemptionView {
            id: redemption.id,
            reward_id: redemption.reward_id,
            reward_name: language.pick(&record.reward_name_zh, &record.reward_name_en).to_owned(),
            reward_name_zh: record.reward_name_zh,
            reward_name_en: record.reward_name_en,
            rider_id: redemption.rider_id,
            quantity: redemption.quantity,
            cost: Points::from_minor(redemption.cost),
            status: record.status,
            pickup_code: (redemption.rider_id == viewer_id).then_some(redemption.pickup_code),
            hold_id: redemption.hold_id,
            entry_id: redemption.entry_id,
            created_at: redemption.created_at,
            expires_at: redemption.expires_at,
            closed_at: redemption.closed_at,
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct RedemptionList {
    pub redemptions: Vec<RedemptionView>,
    pub next_cursor: Option<i64>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RedemptionQuery {
    pub status: Option<RedemptionStatus>,
    pub limit: Option<u64>,
    pub cursor: Option<i64>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct FulfilRequest {
    /// The code the rider shows.
    pub pickup_code: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct FulfilledRedemption {
    pub redemption: RedemptionView,
    pub entry: EntryView,
}

fn unavailable(reason: Unavailable) -> ApiError {
    let detail = match reason {
        Unavailable::Inactive => "this reward is not offered at the moment".to_owned(),
        Unavailable::NotYetValid(from) => format!("this reward can be redeemed from {}", from.to_rfc3339()),
        Unavailable::NoLongerValid(until) => format!("this reward could be redeemed until {}", until.to_rfc3339()),
    };
    ApiError::Conflict { slug: "reward-unavailable", title: "Reward not available", detail }
}

/// A rider redeems a reward: the cost is held on their account, stock reserved, and a pickup code
/// issued. Refused with a clear problem when points, stock, the per-rider limit or the validity
/// window do not allow it.
#[utoipa::path(post, path = "/api/v1/redemptions", tag = "spending",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key replay the first answer")),
    request_body = RedeemRequest,
    responses((status = 201, body = RedemptionView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, description = "The reward is not offered to this rider", body = Problem, content_type = PROBLEMS),
              (status = 409, description = "out-of-stock, redemption-limit-reached or reward-unavailable", body = Problem, content_type = PROBLEMS),
              (status = 422, description = "Invalid input or insufficient-points", body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["rider"]))))]
pub async fn redeem(
    State(state): State<AppState>,
    caller: Caller<RiderOnly>,
    write: WriteRequest,
    Json(body): Json<RedeemRequest>,
) -> ApiResult<(StatusCode, Json<RedemptionView>)> {
    let quantity = body.quantity.unwrap_or(1);
    let reward = visible_reward(&state, &caller, body.reward_id).await?;
    let cost = spending::redemption_cost(Points::from_minor(reward.cost), quantity)?;
    let now = state.store.now();
    spending::availability(reward.active, reward.valid_from, reward.valid_until, now).map_err(unavailable)?;
    let rider_path = state.level_path(caller.level_id.unwrap_or_default()).await?.unwrap_or_default();
    let city_id = super::rewards::ancestry(&rider_path).first().copied().unwrap_or_default();
    let accounts = store::spending_accounts(state.store.reader(), caller.user_id, city_id).await?;
    let code = spending::pickup_code(rand::rng().random());
    let work = state.begin(caller.user_id, &write, &body).await?;
    let expires_at = work.now() + state.policy.redemption_expiry;
    let record = store::redeem(&work, &reward, caller.user_id, accounts, quantity, cost, code, expires_at).await?;
    work.audit(
        "redemption.create",
        "redemption",
        record.redemption.id,
        json!({ "reward_id": reward.id, "quantity": quantity, "cost": cost }),
    )
    .await?;
    let view = RedemptionView::for_viewer(record, caller.user_id, caller.language);
    work.commit(201, &view).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Redemptions: riders see their own; staff and auditors those of rewards in their scope.
/// `?status=pending` with `Accept: text/csv` is the list of rewards to hand over, for a spreadsheet.
#[utoipa::path(get, path = "/api/v1/redemptions", tag = "spending",
    security(("bearer" = [])),
    params(RedemptionQuery),
    responses((status = 200, content((RedemptionList = "application/json"), (String = "text/csv"))),
              (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 422, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor", "rider"]))))]
pub async fn list_redemptions(
    State(state): State<AppState>,
    caller: Caller<AnyPerson>,
    headers: HeaderMap,
    Query(query): Query<RedemptionQuery>,
) -> ApiResult<Response> {
    let limit = page_limit(query.limit)?;
    let reader = state.store.reader();
    let (rider, levels) = match caller.role {
        Role::Rider => (Some(caller.user_id), None),
        _ => match state.scope_root(&caller).await? {
            Some(root) => (None, Some(level_store::ids_under(reader, &root).await?)),
            None => (None, None),
        },
    };
    let page = store::redemptions(reader, rider, levels, query.status, state.store.now(), limit, query.cursor).await?;
    let list = RedemptionList {
        redemptions: page
            .items
            .into_iter()
            .map(|record| RedemptionView::for_viewer(record, caller.user_id, caller.language))
            .collect(),
        next_cursor: page.next_cursor,
    };
    if !csv::wanted(&headers) {
        return Ok(Json(list).into_response());
    }
    let mut table = Csv::new(&[
        "id",
        "reward_id",
        "reward_name_zh",
        "reward_name_en",
        "rider_id",
        "quantity",
        "cost",
        "status",
        "created_at",
        "expires_at",
    ]);
    for redemption in &list.redemptions {
        table.row([
            redemption.id.to_string(),
            redemption.reward_id.to_string(),
            redemption.reward_name_zh.clone(),
            redemption.reward_name_en.clone(),
            redemption.rider_id.to_string(),
            redemption.quantity.to_string(),
            redemption.cost.to_string(),
            csv::text(&redemption.status),
            redemption.created_at.to_rfc3339(),
            redemption.expires_at.to_rfc3339(),
        ]);
    }
    Ok(table.into_response("redemptions.csv"))
}

async fn visible_redemption<R: super::extract::Allowed>(
    state: &AppState,
    caller: &Caller<R>,
    redemption_id: i64,
) -> ApiResult<RedemptionRecord> {
    let record =
        super::found(caller, store::redemption_by_id(state.store.reader(), redemption_id, state.store.now()).await)?;
    let allowed = match caller.role {
        Role::Rider => record.redemption.rider_id == caller.user_id,
        _ => match state.scope_root(caller).await? {
            Some(root) => state.level_path(record.redemption.level_id).await?.is_some_and(|path| within(&root, &path)),
            None => true,
        },
    };
    if allowed { Ok(record) } else { Err(ApiError::forbidden()) }
}

/// One redemption.
#[utoipa::path(get, path = "/api/v1/redemptions/{id}", tag = "spending",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = RedemptionView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor", "rider"]))))]
pub async fn get_redemption(
    State(state): State<AppState>,
    caller: Caller<AnyPerson>,
    Path(redemption_id): Path<i64>,
) -> ApiResult<Json<RedemptionView>> {
    let record = visible_redemption(&state, &caller, redemption_id).await?;
    Ok(Json(RedemptionView::for_viewer(record, caller.user_id, caller.language)))
}

/// Hand the reward over, checking the rider's pickup code: the held points are spent.
#[utoipa::path(post, path = "/api/v1/redemptions/{id}/fulfil", tag = "spending",
    security(("bearer" = [])),
    params(("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key replay the first answer")),
    request_body = FulfilRequest,
    responses((status = 200, body = FulfilledRedemption), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS),
              (status = 409, description = "redemption-not-pending", body = Problem, content_type = PROBLEMS),
              (status = 422, description = "Wrong pickup code", body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer"]))))]
pub async fn fulfil(
    State(state): State<AppState>,
    caller: Caller<Staff>,
    write: WriteRequest,
    Path(redemption_id): Path<i64>,
    Json(body): Json<FulfilRequest>,
) -> ApiResult<Json<FulfilledRedemption>> {
    visible_redemption(&state, &caller, redemption_id).await?;
    let work = state.begin(caller.user_id, &write, &body).await?;
    let (record, entry) = store::fulfil(&work, redemption_id, &body.pickup_code).await?;
    work.audit("redemption.fulfil", "redemption", redemption_id, json!({ "entry_id": entry.id })).await?;
    let view = FulfilledRedemption {
        redemption: RedemptionView::for_viewer(record, caller.user_id, caller.language),
        entry: entry.into(),
    };
    work.commit(200, &view).await?;
    Ok(Json(view))
}

/// Cancel a pending redemption (the rider, or an organizer in scope): the points are released and
/// the stock returned.
#[utoipa::path(post, path = "/api/v1/redemptions/{id}/cancel", tag = "spending",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = RedemptionView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS),
              (status = 409, description = "redemption-not-pending", body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer", "rider"]))))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller<super::extract::StaffOrRider>,
    write: WriteRequest,
    Path(redemption_id): Path<i64>,
) -> ApiResult<Json<RedemptionView>> {
    visible_redemption(&state, &caller, redemption_id).await?;
    let work = state.begin(caller.user_id, &write, &redemption_id).await?;
    let record = store::cancel(&work, redemption_id).await?;
    work.audit("redemption.cancel", "redemption", redemption_id, json!({})).await?;
    let view = RedemptionView::for_viewer(record, caller.user_id, caller.language);
    work.commit(200, &view).await?;
    Ok(Json(view))
}
