//! The reward catalog, redemptions, collective pools and points expiry.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::ledger::{self, EntryRecord, Reference};
use super::{Page, StoreError, StoreResult, UnitOfWork};
use crate::domain::Invalid;
use crate::domain::ledger::{AccountId, AccountKind, EntryKind, Transfer};
use crate::domain::points::Points;
use crate::domain::spending::{LimitPeriod, PledgeStatus, PoolStatus, RedemptionStatus, RewardDraft, check_pledge};
use entity::{account, hold, level, pledge, pool, redemption, reward, user};

pub type RewardRecord = reward::Model;
pub type PledgeRecord = pledge::Model;

/// Changes to a reward; absent fields stay as they are.
#[derive(Default)]
pub struct RewardChanges {
    pub name_zh: Option<String>,
    pub name_en: Option<String>,
    pub description: Option<String>,
    pub cost: Option<Points>,
    pub stock: Option<Option<i64>>,
    pub limit: Option<Option<(i32, LimitPeriod)>>,
    pub valid_from: Option<Option<DateTime<Utc>>>,
    pub valid_until: Option<Option<DateTime<Utc>>>,
    pub active: Option<bool>,
}

/// A redemption with its effective status (a pending one past its expiry reads as expired).
#[derive(Clone, Debug)]
pub struct RedemptionRecord {
    pub redemption: redemption::Model,
    pub status: RedemptionStatus,
    pub reward_name_zh: String,
    pub reward_name_en: String,
}

#[derive(Clone, Debug)]
pub struct PoolRecord {
    pub pool: pool::Model,
    /// Effective status: an open pool past its deadline reads as refunded.
    pub status: PoolStatus,
    pub pledges: Vec<(PledgeRecord, PledgeStatus, String)>,
}

fn refused(code: &'static str, detail: impl Into<String>) -> StoreError {
    StoreError::Refused { code, detail: detail.into() }
}

pub async fn create_reward(
    work: &UnitOfWork,
    level_id: i64,
    draft: RewardDraft,
    active: bool,
) -> StoreResult<RewardRecord> {
    let inserted = reward::Entity::insert(reward::ActiveModel {
        level_id: Set(level_id),
        name_zh: Set(draft.name_zh),
        name_en: Set(draft.name_en),
        description: Set(draft.description),
        cost: Set(draft.cost.minor()),
        kind: Set(draft.kind.as_str().to_owned()),
        cash_value_fen: Set(draft.cash_value_fen),
        stock_remaining: Set(draft.stock),
        limit_count: Set(draft.limit.map(|limit| limit.0)),
        limit_period: Set(draft.limit.map(|limit| limit.1.as_str().to_owned())),
        valid_from: Set(draft.valid_from),
        valid_until: Set(draft.valid_until),
        active: Set(active),
        created_by: Set(work.context.actor_id),
        created_at: Set(work.now()),
        updated_at: Set(work.now()),
        ..Default::default()
    })
    .exec(work.txn())
    .await?;
    reward_by_id(work.txn(), inserted.last_insert_id).await
}

pub async fn reward_by_id(connection: &impl ConnectionTrait, reward_id: i64) -> StoreResult<RewardRecord> {
    reward::Entity::find_by_id(reward_id).one(connection).await?.ok_or(StoreError::NotFound("reward"))
}

/// Rewards offered at these levels (all when `None`), optionally only active ones.
pub async fn rewards(
    connection: &impl ConnectionTrait,
    level_ids: Option<Vec<i64>>,
    only_active: bool,
) -> StoreResult<Vec<RewardRecord>> {
    let mut query = reward::Entity::find();
    if let Some(level_ids) = level_ids {
        query = query.filter(reward::Column::LevelId.is_in(level_ids));
    }
    if only_active {
        query = query.filter(reward::Column::Active.eq(true));
    }
    Ok(query.order_by_asc(reward::Column::Id).all(connection).await?)
}

pub async fn update_reward(work: &UnitOfWork, reward_id: i64, changes: RewardChanges) -> StoreResult<RewardRecord> {
    let mut update = reward::Entity::update_many().col_expr(reward::Column::UpdatedAt, Expr::value(work.now()));
    if let Some(name) = changes.name_zh {
        update = update.col_expr(reward::Column::NameZh, Expr::value(name));
    }
    if let Some(name) = changes.name_en {
        update = update.col_expr(reward::Column::NameEn, Expr::value(name));
    }
    if let Some(description) = changes.description {
        update = update.col_expr(reward::Column::Description, Expr::value(description));
    }
    if let Some(cost) = changes.cost {
        update = update.col_expr(reward::Column::Cost, Expr::value(cost.minor()));
    }
    if let Some(stock) = changes.stock {
        update = update.col_expr(reward::Column::StockRemaining, Expr::value(stock));
    }
    if let Some(limit) = changes.limit {
        update = update
            .col_expr(reward::Column::LimitCount, Expr::value(limit.map(|limit| limit.0)))
            .col_expr(reward::Column::LimitPeriod, Expr::value(limit.map(|limit| limit.1.as_str().to_owned())));
    }
    if let Some(valid_from) = changes.valid_from {
        update = update.col_expr(reward::Column::ValidFrom, Expr::value(valid_from));
    }
    if let Some(valid_until) = changes.valid_until {
        update = update.col_expr(reward::Column::ValidUntil, Expr::value(valid_until));
    }
    if let Some(active) = changes.active {
        update = update.col_expr(reward::Column::Active, Expr::value(active));
    }
    update.filter(reward::Column::Id.eq(reward_id)).exec(work.txn()).await?;
    reward_by_id(work.txn(), reward_id).await
}

/// Takes `quantity` items from a reward's stock, if it keeps one; refuses when too few are left.
async fn take_stock(work: &UnitOfWork, reward: &RewardRecord, quantity: i64) -> StoreResult<()> {
    if reward.stock_remaining.is_none() {
        return Ok(());
    }
    let taken = reward::Entity::update_many()
        .col_expr(reward::Column::StockRemaining, Expr::col(reward::Column::StockRemaining).sub(quantity))
        .filter(reward::Column::Id.eq(reward.id))
        .filter(reward::Column::StockRemaining.gte(quantity))
        .exec(work.txn())
        .await?;
    if taken.rows_affected != 1 {
        return Err(refused("out-of-stock", format!("{} is out of stock", reward.name_en)));
    }
    Ok(())
}

async fn return_stock(work: &UnitOfWork, reward_id: i64, quantity: i64) -> StoreResult<()> {
    reward::Entity::update_many()
        .col_expr(reward::Column::StockRemaining, Expr::col(reward::Column::StockRemaining).add(quantity))
        .filter(reward::Column::Id.eq(reward_id))
        .filter(reward::Column::StockRemaining.is_not_null())
        .exec(work.txn())
        .await?;
    Ok(())
}

/// The accounts a rider's spending moves between: their own, and their city's redemption account.
pub async fn spending_accounts(
    connection: &impl ConnectionTrait,
    rider_id: i64,
    city_id: i64,
) -> StoreResult<(AccountId, AccountId)> {
    let rider_account = ledger::account_id_of(connection, AccountKind::Rider, None, Some(rider_id)).await?;
    let redemption_account = ledger::account_id_of(connection, AccountKind::Redemption, Some(city_id), None).await?;
    Ok((rider_account, redemption_account))
}

/// A rider redeems: stock is reserved, the cost is held on their account, a pickup code issued.
#[allow(clippy::too_many_arguments)]
pub async fn redeem(
    work: &UnitOfWork,
    reward: &RewardRecord,
    rider_id: i64,
    accounts: (AccountId, AccountId),
    quantity: i64,
    cost: Points,
    pickup_code: String,
    expires_at: DateTime<Utc>,
) -> StoreResult<RedemptionRecord> {
    take_stock(work, reward, quantity).await?;
    let hold = ledger::create_hold(
        work,
        Transfer { from: accounts.0, to: accounts.1, amount: cost },
        EntryKind::Redemption,
        format!("兑换 {} / Redeemed {} ×{quantity}", reward.name_zh, reward.name_en),
        Reference::to("reward", reward.id),
        Some(expires_at),
    )
    .await?;
    // The hold has locked the rider's account: counting now sees every earlier redemption of theirs.
    if let (Some(count), Some(period)) =
        (reward.limit_count, reward.limit_period.as_deref().and_then(LimitPeriod::parse))
    {
        let since = period.start(work.now());
        let taken: Option<i64> = redemption::Entity::find()
            .select_only()
            .column_as(Expr::col(redemption::Column::Quantity).sum().cast_as("bigint"), "taken")
            .filter(redemption::Column::RiderId.eq(rider_id))
            .filter(redemption::Column::RewardId.eq(reward.id))
            .filter(
                redemption::Column::Status
                    .is_in([RedemptionStatus::Pending.as_str(), RedemptionStatus::Fulfilled.as_str()]),
            )
            .filter(redemption::Column::CreatedAt.gte(since))
            .into_tuple()
            .one(work.txn())
            .await?
            .flatten();
        if taken.unwrap_or(0) + quantity > i64::from(count) {
            return Err(refused(
                "redemption-limit-reached",
                format!(
                    "this reward is limited to {count} per rider per {period}; you have {} this {period}",
                    taken.unwrap_or(0)
                ),
            ));
        }
    }
    let inserted = redemption::Entity::insert(redemption::ActiveModel {
        reward_id: Set(reward.id),
        level_id: Set(reward.level_id),
        rider_id: Set(rider_id),
        quantity: Set(quantity),
        cost: Set(cost.minor()),
        status: Set(RedemptionStatus::Pending.as_str().to_owned()),
        pickup_code: Set(pickup_code),
        hold_id: Set(hold.id),
        entry_id: Set(None),
        created_at: Set(work.now()),
        expires_at: Set(expires_at),
        closed_at: Set(None),
        closed_by: Set(None),
        ..Default::default()
    })
    .exec(work.txn())
    .await?;
    let redemption_id = inserted.last_insert_id;
    ledger::set_hold_reference(work, hold.id, &Reference::to("redemption", redemption_id)).await?;
    redemption_by_id(work.txn(), redemption_id, work.now()).await
}

pub async fn redemption_by_id(
    connection: &impl ConnectionTrait,
    redemption_id: i64,
    now: DateTime<Utc>,
) -> StoreResult<RedemptionRecord> {
    let model = redemption::Entity::find_by_id(redemption_id)
        .one(connection)
        .await?
        .ok_or(StoreError::NotFound("redemption"))?;
    let reward = reward_by_id(connection, model.reward_id).await?;
    Ok(redemption_record(model, &reward, now))
}

fn redemption_record(model: redemption::Model, reward: &RewardRecord, now: DateTime<Utc>) -> RedemptionRecord {
    let mut status = RedemptionStatus::parse(&model.status).unwrap_or(RedemptionStatus::Pending);
    if status == RedemptionStatus::Pending && model.expires_at <= now {
        status = RedemptionStatus::Expired;
    }
    RedemptionRecord {
        redemption: model,
        status,
        reward_name_zh: reward.name_zh.clone(),
        reward_name_en: reward.name_en.clone(),
    }
}

/// Redemptions of one rider, or at levels in `level_ids`, newest first.
pub async fn redemptions(
    connection: &impl ConnectionTrait,
    rider_id: Option<i64>,
    level_ids: Option<Vec<i64>>,
    status: Option<RedemptionStatus>,
    now: DateTime<Utc>,
    limit: u64,
    cursor: Option<i64>,
) -> StoreResult<Page<RedemptionRecord>> {
    let mut query = redemption::Entity::find();
    if let Some(rider_id) = rider_id {
        query = query.filter(redemption::Column::RiderId.eq(rider_id));
    }
    if let Some(level_ids) = level_ids {
        query = query.filter(redemption::Column::LevelId.is_in(level_ids));
    }
    match status {
        Some(RedemptionStatus::Pending) => {
            query =
                query.filter(redemption::Column::Status.eq("pending")).filter(redemption::Column::ExpiresAt.gt(now));
        }
        Some(RedemptionStatus::Expired) => {
            query = query.filter(
                redemption::Column::Status
                    .eq("expired")
                    .or(redemption::Column::Status.eq("pending").and(redemption::Column::ExpiresAt.lte(now))),
            );
        }
        Some(other) => query = query.filter(redemption::Column::Status.eq(other.as_str())),
        None => {}
    }
    if let Some(cursor) = cursor {
        query = query.filter(redemption::Column::Id.lt(cursor));
    }
    let rows = query.order_by_desc(redemption::Column::Id).limit(limit + 1).all(connection).await?;
    let reward_ids: Vec<i64> = rows.iter().map(|row| row.reward_id).collect();
    let rewards: HashMap<i64, RewardRecord> = reward::Entity::find()
        .filter(reward::Column::Id.is_in(reward_ids))
        .all(connection)
        .await?
        .into_iter()
        .map(|reward| (reward.id, reward))
        .collect();
    let records = rows
        .into_iter()
        .filter_map(|row| {
            let reward = rewards.get(&row.reward_id)?;
            Some(redemption_record(row, reward, now))
        })
        .collect();
    Ok(Page::from_rows(records, limit, |record: &RedemptionRecord| record.redemption.id))
}

/// Claims a pending redemption for a new status; refuses one already closed or past its expiry.
async fn close_redemption(
    work: &UnitOfWork,
    redemption_id: i64,
    status: RedemptionStatus,
) -> StoreResult<RedemptionRecord> {
    let current = redemption_by_id(work.txn(), redemption_id, work.now()).await?;
    if current.status != RedemptionStatus::Pending {
        return Err(refused("redemption-not-pending", format!("the redemption is already {}", current.status)));
    }
    let claimed = redemption::Entity::update_many()
        .col_expr(redemption::Column::Status, Expr::value(status.as_str()))
        .col_expr(redemption::Column::ClosedAt, Expr::value(work.now()))
        .col_expr(redemption::Column::ClosedBy, Expr::value(work.context.actor_id))
        .filter(redemption::Column::Id.eq(redemption_id))
        .filter(redemption::Column::Status.eq(RedemptionStatus::Pending.as_str()))
        .exec(work.txn())
        .await?;
    if claimed.rows_affected != 1 {
        return Err(refused("redemption-not-pending", "the redemption was closed by another request"));
    }
    Ok(current)
}

/// Hands the reward over: the held points post to the redemption account.
pub async fn fulfil(
    work: &UnitOfWork,
    redemption_id: i64,
    pickup_code: &str,
) -> StoreResult<(RedemptionRecord, EntryRecord)> {
    let current = redemption_by_id(work.txn(), redemption_id, work.now()).await?;
    if current.status == RedemptionStatus::Pending && current.redemption.pickup_code != pickup_code.trim() {
        return Err(Invalid::one("pickup_code", "does not match this redemption's code").into());
    }
    close_redemption(work, redemption_id, RedemptionStatus::Fulfilled).await?;
    let (_, entry) = ledger::post_hold(work, current.redemption.hold_id, None, None).await?;
    redemption::Entity::update_many()
        .col_expr(redemption::Column::EntryId, Expr::value(entry.id))
        .filter(redemption::Column::Id.eq(redemption_id))
        .exec(work.txn())
        .await?;
    Ok((redemption_by_id(work.txn(), redemption_id, work.now()).await?, entry))
}

/// Cancels a pending redemption: the hold is voided and the stock returned.
pub async fn cancel(work: &UnitOfWork, redemption_id: i64) -> StoreResult<RedemptionRecord> {
    let current = close_redemption(work, redemption_id, RedemptionStatus::Cancelled).await?;
    // Rows are locked in one order everywhere (the reward before accounts), so no two writers
    // wait on each other.
    return_stock(work, current.redemption.reward_id, current.redemption.quantity).await?;
    ledger::void_hold(work, current.redemption.hold_id).await?;
    redemption_by_id(work.txn(), redemption_id, work.now()).await
}

/// Closes redemptions past their expiry: marked expired, their holds released, stock returned.
pub async fn expire_due_redemptions(work: &UnitOfWork, limit: u64) -> StoreResult<u64> {
    let due = redemption::Entity::find()
        .filter(redemption::Column::Status.eq(RedemptionStatus::Pending.as_str()))
        .filter(redemption::Column::ExpiresAt.lte(work.now()))
        .limit(limit)
        .all(work.txn())
        .await?;
    let mut expired = 0;
    for due_redemption in due {
        let claimed = redemption::Entity::update_many()
            .col_expr(redemption::Column::Status, Expr::value(RedemptionStatus::Expired.as_str()))
            .col_expr(redemption::Column::ClosedAt, Expr::value(work.now()))
            .filter(redemption::Column::Id.eq(due_redemption.id))
            .filter(redemption::Column::Status.eq(RedemptionStatus::Pending.as_str()))
            .exec(work.txn())
            .await?;
        if claimed.rows_affected != 1 {
            continue;
        }
        return_stock(work, due_redemption.reward_id, due_redemption.quantity).await?;
        let held = ledger::hold_by_id(work.txn(), due_redemption.hold_id, work.now()).await?;
        ledger::settle_due_holds(work, &[held.from_account_id, held.to_account_id]).await?;
        expired += 1;
    }
    Ok(expired)
}

/// A new pool: for a reward × quantity (its stock reserved now) or a points goal.
pub async fn create_pool(
    work: &UnitOfWork,
    level_id: i64,
    title: String,
    beneficiary: String,
    reward: Option<(&RewardRecord, i64)>,
    goal: Points,
    deadline: DateTime<Utc>,
) -> StoreResult<PoolRecord> {
    if let Some((reward, quantity)) = reward {
        take_stock(work, reward, quantity).await?;
    }
    let inserted = pool::Entity::insert(pool::ActiveModel {
        level_id: Set(level_id),
        title: Set(title),
        beneficiary: Set(beneficiary),
        reward_id: Set(reward.map(|(reward, _)| reward.id)),
        quantity: Set(reward.map(|(_, quantity)| quantity)),
        goal: Set(goal.minor()),
        pledged: Set(0),
        deadline: Set(deadline),
        status: Set(PoolStatus::Open.as_str().to_owned()),
        entry_id: Set(None),
        created_by: Set(work.context.actor_id),
        created_at: Set(work.now()),
        closed_at: Set(None),
        ..Default::default()
    })
    .exec(work.txn())
    .await?;
    pool_by_id(work.txn(), inserted.last_insert_id, work.now()).await
}

pub async fn pool_by_id(
    connection: &impl ConnectionTrait,
    pool_id: i64,
    now: DateTime<Utc>,
) -> StoreResult<PoolRecord> {
    let model = pool::Entity::find_by_id(pool_id).one(connection).await?.ok_or(StoreError::NotFound("pool"))?;
    let pledges = pledge::Entity::find()
        .filter(pledge::Column::PoolId.eq(pool_id))
        .order_by_asc(pledge::Column::Id)
        .all(connection)
        .await?;
    let rider_ids: Vec<i64> = pledges.iter().map(|pledge| pledge.rider_id).collect();
    let mut names: HashMap<i64, String> = HashMap::new();
    for chunk in rider_ids.chunks(500) {
        let rows: Vec<(i64, String)> = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .column(user::Column::DisplayName)
            .filter(user::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(connection)
            .await?;
        names.extend(rows);
    }
    Ok(pool_record(model, pledges, &names, now))
}

fn pool_record(
    model: pool::Model,
    pledges: Vec<PledgeRecord>,
    names: &HashMap<i64, String>,
    now: DateTime<Utc>,
) -> PoolRecord {
    let mut status = PoolStatus::parse(&model.status).unwrap_or(PoolStatus::Open);
    let past_deadline = status == PoolStatus::Open && model.deadline <= now;
    if past_deadline {
        status = PoolStatus::Refunded;
    }
    let pledges = pledges
        .into_iter()
        .map(|pledge| {
            let mut pledge_status = PledgeStatus::parse(&pledge.status).unwrap_or(PledgeStatus::Pending);
            if past_deadline && pledge_status == PledgeStatus::Pending {
                pledge_status = PledgeStatus::Refunded;
            }
            let name = names.get(&pledge.rider_id).cloned().unwrap_or_default();
            (pledge, pledge_status, name)
        })
        .collect();
    PoolRecord { pool: model, status, pledges }
}

/// Pools at these levels (all when `None`), newest first.
pub async fn pools(
    connection: &impl ConnectionTrait,
    level_ids: Option<Vec<i64>>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<PoolRecord>> {
    let mut query = pool::Entity::find();
    if let Some(level_ids) = level_ids {
        query = query.filter(pool::Column::LevelId.is_in(level_ids));
    }
    let models = query.order_by_desc(pool::Column::Id).limit(200).all(connection).await?;
    Ok(models.into_iter().map(|model| pool_record(model, Vec::new(), &HashMap::new(), now)).collect())
}

/// Locks a pool for a change and checks it is still open.
async fn lock_open_pool(work: &UnitOfWork, pool_id: i64) -> StoreResult<pool::Model> {
    let model = pool::Entity::find_by_id(pool_id)
        .lock_exclusive()
        .one(work.txn())
        .await?
        .ok_or(StoreError::NotFound("pool"))?;
    if model.status != PoolStatus::Open.as_str() || model.deadline <= work.now() {
        return Err(refused("pool-closed", "the pool is closed: it was fulfilled or its deadline has passed"));
    }
    Ok(model)
}

/// A rider pledges points: they are held until the pool is fulfilled (posted, all in one entry) or
/// its deadline passes (released). The pledge that reaches the goal fulfils the pool.
pub async fn pledge(
    work: &UnitOfWork,
    pool_id: i64,
    rider_id: i64,
    accounts: (AccountId, AccountId),
    amount: Points,
) -> StoreResult<(PoolRecord, i64)> {
    let locked = lock_open_pool(work, pool_id).await?;
    check_pledge(amount, Points::from_minor(locked.goal), Points::from_minor(locked.pledged))?;
    let hold = ledger::create_hold(
        work,
        Transfer { from: accounts.0, to: accounts.1, amount },
        EntryKind::Pledge,
        format!("认捐 Pledge: {}", locked.title),
        Reference::to("pool", pool_id),
        Some(locked.deadline),
    )
    .await?;
    let inserted = pledge::Entity::insert(pledge::ActiveModel {
        pool_id: Set(pool_id),
        rider_id: Set(rider_id),
        amount: Set(amount.minor()),
        hold_id: Set(hold.id),
        status: Set(PledgeStatus::Pending.as_str().to_owned()),
        created_at: Set(work.now()),
        closed_at: Set(None),
        ..Default::default()
    })
    .exec(work.txn())
    .await?;
    let pledged = locked.pledged + amount.minor();
    pool::Entity::update_many()
        .col_expr(pool::Column::Pledged, Expr::value(pledged))
        .filter(pool::Column::Id.eq(pool_id))
        .exec(work.txn())
        .await?;
    if pledged == locked.goal {
        fulfil_pool(work, &locked).await?;
    }
    Ok((pool_by_id(work.txn(), pool_id, work.now()).await?, inserted.last_insert_id))
}

/// Every pending pledge posts, in one entry, to the redemption account.
async fn fulfil_pool(work: &UnitOfWork, locked: &pool::Model) -> StoreResult<EntryRecord> {
    let pending: Vec<(i64, i64)> = pledge::Entity::find()
        .select_only()
        .column(pledge::Column::Id)
        .column(pledge::Column::HoldId)
        .filter(pledge::Column::PoolId.eq(locked.id))
        .filter(pledge::Column::Status.eq(PledgeStatus::Pending.as_str()))
        .into_tuple()
        .all(work.txn())
        .await?;
    let hold_ids: Vec<i64> = pending.iter().map(|(_, hold_id)| *hold_id).collect();
    let entry = ledger::post_holds_together(
        work,
        &hold_ids,
        EntryKind::Pledge,
        format!("集体兑换 Pool fulfilled: {} — for {}", locked.title, locked.beneficiary),
        Reference::to("pool", locked.id),
    )
    .await?;
    close_pledges(work, locked.id, PledgeStatus::Fulfilled).await?;
    pool::Entity::update_many()
        .col_expr(pool::Column::Status, Expr::value(PoolStatus::Fulfilled.as_str()))
        .col_expr(pool::Column::EntryId, Expr::value(entry.id))
        .col_expr(pool::Column::ClosedAt, Expr::value(work.now()))
        .filter(pool::Column::Id.eq(locked.id))
        .exec(work.txn())
        .await?;
    Ok(entry)
}

async fn close_pledges(work: &UnitOfWork, pool_id: i64, status: PledgeStatus) -> StoreResult<()> {
    pledge::Entity::update_many()
        .col_expr(pledge::Column::Status, Expr::value(status.as_str()))
        .col_expr(pledge::Column::ClosedAt, Expr::value(work.now()))
        .filter(pledge::Column::PoolId.eq(pool_id))
        .filter(pledge::Column::Status.eq(PledgeStatus::Pending.as_str()))
        .exec(work.txn())
        .await?;
    Ok(())
}

/// A rider takes back a pending pledge while the pool is open.
pub async fn withdraw(work: &UnitOfWork, pool_id: i64, pledge_id: i64, rider_id: i64) -> StoreResult<PoolRecord> {
    let locked = lock_open_pool(work, pool_id).await?;
    let found = pledge::Entity::find_by_id(pledge_id).one(work.txn()).await?;
    let Some(found) = found.filter(|found| found.pool_id == pool_id && found.rider_id == rider_id) else {
        return Err(StoreError::NotFound("pledge"));
    };
    if found.status != PledgeStatus::Pending.as_str() {
        return Err(refused("pledge-not-pending", format!("the pledge is already {}", found.status)));
    }
    ledger::void_hold(work, found.hold_id).await?;
    pledge::Entity::update_many()
        .col_expr(pledge::Column::Status, Expr::value(PledgeStatus::Withdrawn.as_str()))
        .col_expr(pledge::Column::ClosedAt, Expr::value(work.now()))
        .filter(pledge::Column::Id.eq(pledge_id))
        .exec(work.txn())
        .await?;
    pool::Entity::update_many()
        .col_expr(pool::Column::Pledged, Expr::value(locked.pledged - found.amount))
        .filter(pool::Column::Id.eq(pool_id))
        .exec(work.txn())
        .await?;
    pool_by_id(work.txn(), pool_id, work.now()).await
}

/// Refunds pools whose deadline passed unfulfilled, each exactly once: every pledge released,
/// reserved stock returned.
pub async fn refund_due_pools(work: &UnitOfWork, limit: u64) -> StoreResult<u64> {
    let due: Vec<i64> = pool::Entity::find()
        .select_only()
        .column(pool::Column::Id)
        .filter(pool::Column::Status.eq(PoolStatus::Open.as_str()))
        .filter(pool::Column::Deadline.lte(work.now()))
        .limit(limit)
        .into_tuple()
        .all(work.txn())
        .await?;
    let mut refunded = 0;
    for pool_id in due {
        let Some(locked) = pool::Entity::find_by_id(pool_id).lock_exclusive().one(work.txn()).await? else { continue };
        if locked.status != PoolStatus::Open.as_str() {
            continue;
        }
        let hold_ids: Vec<i64> = pledge::Entity::find()
            .select_only()
            .column(pledge::Column::HoldId)
            .filter(pledge::Column::PoolId.eq(pool_id))
            .filter(pledge::Column::Status.eq(PledgeStatus::Pending.as_str()))
            .into_tuple()
            .all(work.txn())
            .await?;
        let mut accounts: Vec<i64> = Vec::new();
        for chunk in hold_ids.chunks(500) {
            let rows: Vec<(i64, i64)> = hold::Entity::find()
                .select_only()
                .column(hold::Column::FromAccountId)
                .column(hold::Column::ToAccountId)
                .filter(hold::Column::Id.is_in(chunk.iter().copied()))
                .into_tuple()
                .all(work.txn())
                .await?;
            accounts.extend(rows.into_iter().flat_map(|(from, to)| [from, to]));
        }
        if let (Some(reward_id), Some(quantity)) = (locked.reward_id, locked.quantity) {
            return_stock(work, reward_id, quantity).await?;
        }
        // The holds expire at the deadline; settling their accounts releases them.
        ledger::settle_due_holds(work, &accounts).await?;
        close_pledges(work, pool_id, PledgeStatus::Refunded).await?;
        pool::Entity::update_many()
            .col_expr(pool::Column::Status, Expr::value(PoolStatus::Refunded.as_str()))
            .col_expr(pool::Column::ClosedAt, Expr::value(work.now()))
            .filter(pool::Column::Id.eq(pool_id))
            .exec(work.txn())
            .await?;
        refunded += 1;
    }
    Ok(refunded)
}

/// Moves expired points to breakage for a batch of accounts; returns the entries posted.
pub async fn expire_points(work: &UnitOfWork, limit: u64) -> StoreResult<u64> {
    let accounts = super::lots::accounts_with_due_lots(work.txn(), work.now(), limit).await?;
    let mut posted = 0;
    for account_id in accounts {
        let level_id: i64 = account::Entity::find_by_id(account_id)
            .select_only()
            .column(account::Column::LevelId)
            .into_tuple()
            .one(work.txn())
            .await?
            .ok_or(StoreError::NotFound("account"))?;
        let path: String = level::Entity::find_by_id(level_id)
            .select_only()
            .column(level::Column::Path)
            .into_tuple()
            .one(work.txn())
            .await?
            .ok_or(StoreError::NotFound("level"))?;
        let city_id = path.split('/').find_map(|part| part.parse::<i64>().ok()).unwrap_or(level_id);
        let breakage = ledger::account_id_of(work.txn(), AccountKind::Breakage, Some(city_id), None).await?;
        if ledger::expire_lots(work, account_id, breakage).await?.is_some() {
            posted += 1;
        }
    }
    Ok(posted)
}
