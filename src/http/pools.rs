//! Collective pledges: riders pool points towards a goal (226 riders, 300 cups of tea for medical
//! staff). Pledges are held; the pledge that reaches the goal fulfils the pool, posting every
//! pledge in one entry; if the deadline passes first, every pledge is released, automatically.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Allowed, AnyPerson, Caller, Json, Path, RiderOnly, Staff, WriteRequest};
use super::rewards::{ancestry, visible_reward};
use crate::domain::people::Role;
use crate::domain::points::Points;
use crate::domain::spending::{PledgeStatus, PoolStatus, pool_goal};
use crate::domain::volunteering::TITLE_CHARS_MAX;
use crate::domain::{Validator, required_text};
use crate::store::StoreError;
use crate::store::levels as level_store;
use crate::store::spending::{self as store, PoolRecord};

const PROBLEMS: &str = "application/problem+json";

#[derive(Serialize, Deserialize, ToSchema)]
pub struct CreatePool {
    pub level_id: i64,
    pub title: String,
    /// Who benefits, e.g. "江门市中心医院医护人员".
    pub beneficiary: String,
    /// What it buys: a reward × quantity (its stock is reserved now)…
    pub reward_id: Option<i64>,
    pub quantity: Option<i64>,
    /// …or a points goal.
    pub goal_points: Option<Points>,
    pub deadline: DateTime<Utc>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct PledgeRequest {
    pub amount: Points,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct PledgeView {
    pub id: i64,
    pub rider_id: i64,
    pub display_name: String,
    pub amount: Points,
    pub status: PledgeStatus,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct PoolView {
    pub id: i64,
    pub level_id: i64,
    pub title: String,
    pub beneficiary: String,
    pub reward_id: Option<i64>,
    pub quantity: Option<i64>,
    pub goal: Points,
    /// Points pledged and held now (or posted, once fulfilled).
    pub pledged: Points,
    pub remaining: Points,
    pub deadline: DateTime<Utc>,
    /// An open pool past its deadline reads as refunded.
    pub status: PoolStatus,
    /// The entry that spent every pledge, once fulfilled.
    pub entry_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Every pledge with its rider (in a list of pools: empty).
    pub pledges: Vec<PledgeView>,
}

impl From<PoolRecord> for PoolView {
    fn from(record: PoolRecord) -> Self {
        let pool = record.pool;
        let status = record.status;
        let pledged = if status == PoolStatus::Refunded { 0 } else { pool.pledged };
        PoolView {
            id: pool.id,
            level_id: pool.level_id,
            title: pool.title,
            beneficiary: pool.beneficiary,
            reward_id: pool.reward_id,
            quantity: pool.quantity,
            goal: Points::from_minor(pool.goal),
            pledged: Points::from_minor(pledged),
            remaining: Points::from_minor(pool.goal - pledged),
            deadline: pool.deadline,
            status,
            entry_id: pool.entry_id,
            created_at: pool.created_at,
            closed_at: pool.closed_at,
            pledges: record
                .pledges
                .into_iter()
                .map(|(pledge, status, display_name)| PledgeView {
                    id: pledge.id,
                    rider_id: pledge.rider_id,
                    display_name,
                    amount: Points::from_minor(pledge.amount),
                    status,
                    created_at: pledge.created_at,
                    closed_at: pledge.closed_at,
                })
                .collect(),
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct PoolList {
    pub pools: Vec<PoolView>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct PledgeResult {
    pub pledge_id: i64,
    pub pool: PoolView,
}

/// A pool the caller may see: riders those of their level and the levels above it; staff and
/// auditors those in their scope.
async fn visible_pool<R: Allowed>(state: &AppState, caller: &Caller<R>, pool_id: i64) -> ApiResult<PoolRecord> {
    let record = super::found(caller, store::pool_by_id(state.store.reader(), pool_id, state.store.now()).await)?;
    state.require_offered(caller, record.pool.level_id).await?;
    Ok(record)
}

/// Open a pool: a title, what it buys (a reward × quantity, or a points goal), who benefits, and a deadline.
#[utoipa::path(post, path = "/api/v1/pools", tag = "spending",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key replay the first answer")),
    request_body = CreatePool,
    responses((status = 201, body = PoolView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS),
              (status = 409, description = "out-of-stock", body = Problem, content_type = PROBLEMS),
              (status = 422, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer"]))))]
pub async fn create_pool(
    State(state): State<AppState>,
    caller: Caller<Staff>,
    write: WriteRequest,
    Json(body): Json<CreatePool>,
) -> ApiResult<(StatusCode, Json<PoolView>)> {
    let mut validator = Validator::new();
    let title = validator.take(required_text("title", &body.title, TITLE_CHARS_MAX));
    let beneficiary = validator.take(required_text("beneficiary", &body.beneficiary, TITLE_CHARS_MAX));
    validator.check(body.deadline > state.store.now(), "deadline", "must be in the future");
    match (body.reward_id, body.quantity, body.goal_points) {
        (Some(_), Some(_), None) | (None, None, Some(_)) => {}
        _ => validator.check(false, "goal_points", "give either reward_id and quantity, or goal_points"),
    }
    if let Some(goal) = body.goal_points {
        validator.check(goal.is_positive(), "goal_points", "must be greater than zero");
    }
    validator.finish()?;
    state.require_level(&caller, body.level_id).await?;
    let reward = match (body.reward_id, body.quantity) {
        (Some(reward_id), Some(quantity)) => {
            let reward = visible_reward(&state, &caller, reward_id).await?;
            let goal = pool_goal(Points::from_minor(reward.cost), quantity)?;
            Some((reward, quantity, goal))
        }
        _ => None,
    };
    let goal = reward.as_ref().map_or(body.goal_points.unwrap_or(Points::ZERO), |(_, _, goal)| *goal);
    let work = state.begin(caller.user_id, &write, &body).await?;
    let record = store::create_pool(
        &work,
        body.level_id,
        title.unwrap_or_default(),
        beneficiary.unwrap_or_default(),
        reward.as_ref().map(|(reward, quantity, _)| (reward, *quantity)),
        goal,
        body.deadline,
    )
    .await?;
    work.audit("pool.create", "pool", record.pool.id, json!({ "goal": goal, "deadline": body.deadline })).await?;
    let view = PoolView::from(record);
    work.commit(201, &view).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Pools the caller can see, newest first.
#[utoipa::path(get, path = "/api/v1/pools", tag = "spending",
    security(("bearer" = [])),
    responses((status = 200, body = PoolList), (status = 401, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor", "rider"]))))]
pub async fn list_pools(State(state): State<AppState>, caller: Caller<AnyPerson>) -> ApiResult<Json<PoolList>> {
    let reader = state.store.reader();
    let level_ids = match caller.role {
        Role::Rider => {
            Some(ancestry(&state.level_path(caller.level_id.unwrap_or_default()).await?.unwrap_or_default()))
        }
        _ => match state.scope_root(&caller).await? {
            Some(root) => Some(level_store::ids_under(reader, &root).await?),
            None => None,
        },
    };
    let pools = store::pools(reader, level_ids, state.store.now()).await?;
    Ok(Json(PoolList { pools: pools.into_iter().map(Into::into).collect() }))
}

/// A pool with every pledge and its rider: its statement.
#[utoipa::path(get, path = "/api/v1/pools/{id}", tag = "spending",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = PoolView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor", "rider"]))))]
pub async fn get_pool(
    State(state): State<AppState>,
    caller: Caller<AnyPerson>,
    Path(pool_id): Path<i64>,
) -> ApiResult<Json<PoolView>> {
    Ok(Json(visible_pool(&state, &caller, pool_id).await?.into()))
}

/// A rider pledges points: held, not spent. The pledge that completes the goal fulfils the pool;
/// a pledge may not pass the goal.
#[utoipa::path(post, path = "/api/v1/pools/{id}/pledges", tag = "spending",
    security(("bearer" = [])),
    params(("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key replay the first answer")),
    request_body = PledgeRequest,
    responses((status = 201, body = PledgeResult), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS),
              (status = 409, description = "pool-closed", body = Problem, content_type = PROBLEMS),
              (status = 422, description = "Invalid amount, more than the pool needs, or insufficient-points", body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["rider"]))))]
pub async fn pledge(
    State(state): State<AppState>,
    caller: Caller<RiderOnly>,
    write: WriteRequest,
    Path(pool_id): Path<i64>,
    Json(body): Json<PledgeRequest>,
) -> ApiResult<(StatusCode, Json<PledgeResult>)> {
    if !body.amount.is_positive() {
        return Err(ApiError::invalid("amount", "must be greater than zero"));
    }
    let pool = visible_pool(&state, &caller, pool_id).await?;
    let pool_path = state.level_path(pool.pool.level_id).await?.unwrap_or_default();
    let city_id = ancestry(&pool_path).first().copied().unwrap_or_default();
    let accounts = store::spending_accounts(state.store.reader(), caller.user_id, city_id).await?;
    let work = state.begin(caller.user_id, &write, &body).await?;
    let (record, pledge_id) = store::pledge(&work, pool_id, caller.user_id, accounts, body.amount).await?;
    work.audit(
        "pool.pledge",
        "pool",
        pool_id,
        json!({ "pledge_id": pledge_id, "amount": body.amount, "status": record.status }),
    )
    .await?;
    let view = PledgeResult { pledge_id, pool: record.into() };
    work.commit(201, &view).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// A rider withdraws their pending pledge while the pool is open: the points are released.
#[utoipa::path(delete, path = "/api/v1/pools/{id}/pledges/{pledge_id}", tag = "spending",
    security(("bearer" = [])),
    params(("id" = i64, Path), ("pledge_id" = i64, Path)),
    responses((status = 200, body = PoolView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS),
              (status = 409, description = "pool-closed or pledge-not-pending", body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["rider"]))))]
pub async fn withdraw_pledge(
    State(state): State<AppState>,
    caller: Caller<RiderOnly>,
    write: WriteRequest,
    Path((pool_id, pledge_id)): Path<(i64, i64)>,
) -> ApiResult<Json<PoolView>> {
    visible_pool(&state, &caller, pool_id).await?;
    let work = state.begin(caller.user_id, &write, &(pool_id, pledge_id)).await?;
    let record = store::withdraw(&work, pool_id, pledge_id, caller.user_id).await.map_err(|error| match error {
        StoreError::NotFound(_) => ApiError::forbidden(),
        other => other.into(),
    })?;
    work.audit("pool.withdraw", "pool", pool_id, json!({ "pledge_id": pledge_id })).await?;
    let view = PoolView::from(record);
    work.commit(200, &view).await?;
    Ok(Json(view))
}
