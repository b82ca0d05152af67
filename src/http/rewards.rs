//! The reward catalog: what riders can redeem points for, offered by a level to its subtree.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Allowed, AnyPerson, Caller, Json, Path, Query, Staff, WriteRequest, present};
use crate::domain::people::{Language, Role};
use crate::domain::points::Points;
use crate::domain::spending::{self, LimitPeriod, RewardDraft, RewardKind};
use crate::store::levels as level_store;
use crate::store::spending::{self as store, RewardChanges, RewardRecord};

const PROBLEMS: &str = "application/problem+json";

#[derive(Clone, Copy, Serialize, Deserialize, ToSchema)]
pub struct RedemptionLimit {
    /// Items per rider per period.
    pub count: i32,
    pub period: LimitPeriod,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct CreateReward {
    pub level_id: i64,
    pub name_zh: String,
    pub name_en: String,
    #[serde(default)]
    pub description: String,
    /// Points per item.
    pub cost: Points,
    pub kind: RewardKind,
    /// For a cash bonus: its value in yuan, an exact decimal string such as "50.00".
    #[schema(value_type = Option<String>, example = "50.00")]
    pub cash_value_yuan: Option<Decimal>,
    /// Items available; absent for unlimited.
    pub stock: Option<i64>,
    pub limit: Option<RedemptionLimit>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    /// Default: true.
    pub active: Option<bool>,
}

#[derive(Serialize, Deserialize, ToSchema, Default)]
pub struct UpdateReward {
    pub name_zh: Option<String>,
    pub name_en: Option<String>,
    pub description: Option<String>,
    /// A new cost applies to redemptions from now on.
    pub cost: Option<Points>,
    /// Items left; null for unlimited.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub stock: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<RedemptionLimit>)]
    pub limit: Option<Option<RedemptionLimit>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub valid_from: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub valid_until: Option<Option<DateTime<Utc>>>,
    pub active: Option<bool>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct RewardView {
    pub id: i64,
    pub level_id: i64,
    /// The name in the answer's language (`Accept-Language`, else the caller's level's default).
    pub name: String,
    pub name_zh: String,
    pub name_en: String,
    pub description: String,
    pub cost: Points,
    pub kind: RewardKind,
    #[schema(value_type = Option<String>, example = "50.00")]
    pub cash_value_yuan: Option<Decimal>,
    /// Items left; null for unlimited.
    pub stock: Option<i64>,
    pub limit: Option<RedemptionLimit>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub active: bool,
    /// Active, within its validity window and in stock right now.
    pub available_now: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RewardView {
    pub fn new(reward: RewardRecord, now: DateTime<Utc>, language: Language) -> Self {
        let in_window = spending::availability(reward.active, reward.valid_from, reward.valid_until, now).is_ok();
        RewardView {
            id: reward.id,
            level_id: reward.level_id,
            name: language.pick(&reward.name_zh, &reward.name_en).to_owned(),
            name_zh: reward.name_zh,
            name_en: reward.name_en,
            description: reward.description,
            cost: Points::from_minor(reward.cost),
            kind: RewardKind::parse(&reward.kind).unwrap_or(RewardKind::Goods),
            cash_value_yuan: reward.cash_value_fen.map(|fen| Decimal::new(fen, 2)),
            stock: reward.stock_remaining,
            limit: reward
                .limit_count
                .zip(reward.limit_period.as_deref().and_then(LimitPeriod::parse))
                .map(|(count, period)| RedemptionLimit { count, period }),
            valid_from: reward.valid_from,
            valid_until: reward.valid_until,
            active: reward.active,
            available_now: in_window && reward.stock_remaining.is_none_or(|stock| stock > 0),
            created_at: reward.created_at,
            updated_at: reward.updated_at,
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct RewardList {
    pub rewards: Vec<RewardView>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RewardQuery {
    /// Only rewards offered by this level.
    pub level_id: Option<i64>,
}

fn cash_value_fen(value: Option<Decimal>) -> ApiResult<Option<i64>> {
    value
        .map(|yuan| {
            Points::from_decimal(yuan)
                .map(Points::minor)
                .map_err(|error| ApiError::invalid("cash_value_yuan", error.to_string()))
        })
        .transpose()
}

/// The level ids whose rewards a rider can see: their own level and every level above it.
pub fn ancestry(path: &str) -> Vec<i64> {
    path.split('/').filter_map(|part| part.parse().ok()).collect()
}

/// A reward the caller may see: riders those offered to them (by their level or one above);
/// staff and auditors those in their scope.
pub async fn visible_reward<R: Allowed>(
    state: &AppState,
    caller: &Caller<R>,
    reward_id: i64,
) -> ApiResult<RewardRecord> {
    let reward = super::found(caller, store::reward_by_id(state.store.reader(), reward_id).await)?;
    state.require_offered(caller, reward.level_id).await?;
    Ok(reward)
}

/// Offer a reward at a level (organizers: in their subtree).
#[utoipa::path(post, path = "/api/v1/rewards", tag = "spending",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key replay the first answer")),
    request_body = CreateReward,
    responses((status = 201, body = RewardView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 422, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer"]))))]
pub async fn create_reward(
    State(state): State<AppState>,
    caller: Caller<Staff>,
    write: WriteRequest,
    Json(body): Json<CreateReward>,
) -> ApiResult<(StatusCode, Json<RewardView>)> {
    let draft = RewardDraft {
        name_zh: body.name_zh.clone(),
        name_en: body.name_en.clone(),
        description: body.description.clone(),
        cost: body.cost,
        kind: body.kind,
        cash_value_fen: cash_value_fen(body.cash_value_yuan)?,
        stock: body.stock,
        limit: body.limit.map(|limit| (limit.count, limit.period)),
        valid_from: body.valid_from,
        valid_until: body.valid_until,
    }
    .validate()?;
    state.require_level(&caller, body.level_id).await?;
    let work = state.begin(caller.user_id, &write, &body).await?;
    let reward = store::create_reward(&work, body.level_id, draft, body.active.unwrap_or(true)).await?;
    work.audit(
        "reward.create",
        "reward",
        reward.id,
        json!({ "level_id": reward.level_id, "name": reward.name_en, "cost": reward.cost }),
    )
    .await?;
    let view = RewardView::new(reward, work.now(), caller.language);
    work.commit(201, &view).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// The catalog: riders see the active rewards offered to them; staff and auditors the rewards in
/// their scope, active or not.
#[utoipa::path(get, path = "/api/v1/rewards", tag = "spending",
    security(("bearer" = [])),
    params(RewardQuery),
    responses((status = 200, body = RewardList), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor", "rider"]))))]
pub async fn list_rewards(
    State(state): State<AppState>,
    caller: Caller<AnyPerson>,
    Query(query): Query<RewardQuery>,
) -> ApiResult<Json<RewardList>> {
    let reader = state.store.reader();
    let (mut level_ids, only_active) = match caller.role {
        Role::Rider => {
            let rider_path = state.level_path(caller.level_id.unwrap_or_default()).await?.unwrap_or_default();
            (Some(ancestry(&rider_path)), true)
        }
        _ => match state.scope_root(&caller).await? {
            Some(root) => (Some(level_store::ids_under(reader, &root).await?), false),
            None => (None, false),
        },
    };
    if let Some(level_id) = query.level_id {
        level_ids = Some(match level_ids {
            Some(ids) if ids.contains(&level_id) => vec![level_id],
            Some(_) => Vec::new(),
            None => vec![level_id],
        });
    }
    let rewards = store::rewards(reader, level_ids, only_active).await?;
    let now = state.store.now();
    Ok(Json(RewardList {
        rewards: rewards.into_iter().map(|reward| RewardView::new(reward, now, caller.language)).collect(),
    }))
}

/// One reward.
#[utoipa::path(get, path = "/api/v1/rewards/{id}", tag = "spending",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = RewardView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor", "rider"]))))]
pub async fn get_reward(
    State(state): State<AppState>,
    caller: Caller<AnyPerson>,
    Path(reward_id): Path<i64>,
) -> ApiResult<Json<RewardView>> {
    let reward = visible_reward(&state, &caller, reward_id).await?;
    Ok(Json(RewardView::new(reward, state.store.now(), caller.language)))
}

/// Change a reward: names, cost (for redemptions from now on), stock, limit, validity, active.
#[utoipa::path(patch, path = "/api/v1/rewards/{id}", tag = "spending",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    request_body = UpdateReward,
    responses((status = 200, body = RewardView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS),
              (status = 422, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer"]))))]
pub async fn update_reward(
    State(state): State<AppState>,
    caller: Caller<Staff>,
    write: WriteRequest,
    Path(reward_id): Path<i64>,
    Json(body): Json<UpdateReward>,
) -> ApiResult<Json<RewardView>> {
    let current = visible_reward(&state, &caller, reward_id).await?;
    // Check the reward as it would be after the change.
    let limit = match body.limit {
        Some(limit) => limit.map(|limit| (limit.count, limit.period)),
        None => current.limit_count.zip(current.limit_period.as_deref().and_then(LimitPeriod::parse)),
    };
    let draft = RewardDraft {
        name_zh: body.name_zh.clone().unwrap_or_else(|| current.name_zh.clone()),
        name_en: body.name_en.clone().unwrap_or_else(|| current.name_en.clone()),
        description: body.description.clone().unwrap_or_else(|| current.description.clone()),
        cost: body.cost.unwrap_or(Points::from_minor(current.cost)),
        kind: RewardKind::parse(&current.kind).unwrap_or(RewardKind::Goods),
        cash_value_fen: current.cash_value_fen,
        stock: body.stock.unwrap_or(current.stock_remaining),
        limit,
        valid_from: body.valid_from.unwrap_or(current.valid_from),
        valid_until: body.valid_until.unwrap_or(current.valid_until),
    }
    .validate()?;
    let changes = RewardChanges {
        name_zh: body.name_zh.as_ref().map(|_| draft.name_zh.clone()),
        name_en: body.name_en.as_ref().map(|_| draft.name_en.clone()),
        description: body.description.as_ref().map(|_| draft.description.clone()),
        cost: body.cost,
        stock: body.stock,
        limit: body.limit.map(|limit| limit.map(|limit| (limit.count, limit.period))),
        valid_from: body.valid_from,
        valid_until: body.valid_until,
        active: body.active,
    };
    let work = state.begin(caller.user_id, &write, &body).await?;
    let reward = store::update_reward(&work, reward_id, changes).await?;
    work.audit(
        "reward.update",
        "reward",
        reward_id,
        json!({ "active": reward.active, "cost": reward.cost, "stock": reward.stock_remaining }),
    )
    .await?;
    let view = RewardView::new(reward, work.now(), caller.language);
    work.commit(200, &view).await?;
    Ok(Json(view))
}
