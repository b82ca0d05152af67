//! Lots: each credit to a rider's account is a lot, and debits consume lots soonest-expiring first
//! (points that never expire last). The remaining amounts of an account's lots always sum to its
//! posted balance, which `verify` checks. A level may make points expire N months after they were
//! earned; the lots remember when.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Months, Utc};
use sea_orm::sea_query::{Expr, Order};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter, QueryOrder, QuerySelect,
    Statement,
};

use super::StoreResult;
use super::ledger::EntryRecord;
use crate::domain::ledger::{AccountId, AccountKind, Book};
use crate::domain::points::Points;
use entity::lot;

/// Lots read per round trip while consuming.
const LOTS_PER_READ: u64 = 64;

/// Points of a rider's account that expire on one date.
#[derive(Clone, Debug)]
pub struct Expiring {
    pub expires_at: DateTime<Utc>,
    pub amount: Points,
}

/// Records the lots of newly appended entries: credits to rider accounts open lots, debits consume them.
pub async fn record(connection: &impl ConnectionTrait, book: &Book, entries: &[EntryRecord]) -> StoreResult<()> {
    let is_rider = |account_id: AccountId| book.get(account_id).is_some_and(|state| state.kind == AccountKind::Rider);
    let credited: BTreeSet<AccountId> = entries
        .iter()
        .flat_map(|entry| entry.postings.iter())
        .filter(|posting| posting.amount.is_positive() && is_rider(posting.account_id))
        .map(|posting| posting.account_id)
        .collect();
    let months = expiry_months(connection, &credited).await?;
    let mut new_lots: Vec<lot::ActiveModel> = Vec::new();
    for entry in entries {
        for posting in entry.postings.iter().filter(|posting| is_rider(posting.account_id)) {
            if posting.amount.is_positive() {
                let expires_at = months
                    .get(&posting.account_id)
                    .copied()
                    .flatten()
                    .and_then(|months| entry.created_at.checked_add_months(Months::new(months)));
                new_lots.push(lot::ActiveModel {
                    account_id: Set(posting.account_id),
                    entry_id: Set(entry.id),
                    amount: Set(posting.amount.minor()),
                    remaining: Set(posting.amount.minor()),
                    earned_at: Set(entry.created_at),
                    expires_at: Set(expires_at),
                    ..Default::default()
                });
            } else if posting.amount.is_negative() {
                // A debit may spend a lot opened earlier in this same batch.
                flush(connection, &mut new_lots).await?;
                consume(connection, posting.account_id, -posting.amount.minor()).await?;
            }
        }
    }
    flush(connection, &mut new_lots).await
}

async fn flush(connection: &impl ConnectionTrait, new_lots: &mut Vec<lot::ActiveModel>) -> StoreResult<()> {
    for chunk in new_lots.chunks(1_000) {
        lot::Entity::insert_many(chunk.to_vec()).exec_without_returning(connection).await?;
    }
    new_lots.clear();
    Ok(())
}

/// Takes `amount` (minor units) out of an account's lots, soonest-expiring first.
async fn consume(connection: &impl ConnectionTrait, account_id: AccountId, amount: i64) -> StoreResult<()> {
    // Most debits fit in the first lot: take them with one statement (integers only).
    let first_lot = format!(
        "UPDATE lots SET remaining = remaining - {amount} WHERE remaining >= {amount} AND id = \
         (SELECT id FROM lots WHERE account_id = {account_id} AND remaining > 0 \
          ORDER BY (expires_at IS NULL), expires_at, earned_at, id LIMIT 1)"
    );
    if connection.execute_unprepared(&first_lot).await?.rows_affected() == 1 {
        return Ok(());
    }
    let mut left = amount;
    while left > 0 {
        let lots = lot::Entity::find()
            .filter(lot::Column::AccountId.eq(account_id))
            .filter(lot::Column::Remaining.gt(0))
            .order_by(Expr::col(lot::Column::ExpiresAt).is_null(), Order::Asc)
            .order_by_asc(lot::Column::ExpiresAt)
            .order_by_asc(lot::Column::EarnedAt)
            .order_by_asc(lot::Column::Id)
            .limit(LOTS_PER_READ)
            .all(connection)
            .await?;
        if lots.is_empty() {
            break;
        }
        for lot in lots {
            let taken = std::cmp::min(lot.remaining, left);
            lot::Entity::update_many()
                .col_expr(lot::Column::Remaining, Expr::value(lot.remaining - taken))
                .filter(lot::Column::Id.eq(lot.id))
                .exec(connection)
                .await?;
            left -= taken;
            if left == 0 {
                break;
            }
        }
    }
    Ok(())
}

/// For each rider account: after how many months its new points expire (the setting of its level,
/// or of the nearest level above that has one).
async fn expiry_months(
    connection: &impl ConnectionTrait,
    accounts: &BTreeSet<AccountId>,
) -> StoreResult<HashMap<AccountId, Option<u32>>> {
    if accounts.is_empty() {
        return Ok(HashMap::new());
    }
    // Each account's level and every level above it that sets an expiry, in one query; the deepest
    // (longest path) wins. Only integers go into the statement.
    let ids: Vec<String> = accounts.iter().map(ToString::to_string).collect();
    let sql = format!(
        "SELECT a.id AS account_id, anc.path AS path, anc.points_expire_months AS months \
         FROM accounts a JOIN levels l ON l.id = a.level_id \
         JOIN levels anc ON anc.points_expire_months IS NOT NULL AND l.path LIKE anc.path || '%' \
         WHERE a.id IN ({})",
        ids.join(",")
    );
    let rows = connection.query_all_raw(Statement::from_string(connection.get_database_backend(), sql)).await?;
    let mut months: HashMap<AccountId, (usize, Option<u32>)> =
        accounts.iter().map(|account_id| (*account_id, (0, None))).collect();
    for row in rows {
        let account_id: i64 = row.try_get("", "account_id")?;
        let path: String = row.try_get("", "path")?;
        let setting: i32 = row.try_get("", "months")?;
        if let Some(deepest) = months.get_mut(&account_id)
            && path.len() > deepest.0
        {
            *deepest = (path.len(), u32::try_from(setting).ok());
        }
    }
    Ok(months.into_iter().map(|(account_id, (_, months))| (account_id, months)).collect())
}

/// Points of an account already past their expiry and not yet moved to breakage (minor units).
pub async fn due_total(
    connection: &impl ConnectionTrait,
    account_id: AccountId,
    now: DateTime<Utc>,
) -> StoreResult<i64> {
    let total: Option<i64> = lot::Entity::find()
        .select_only()
        .column_as(Expr::col(lot::Column::Remaining).sum().cast_as("bigint"), "total")
        .filter(lot::Column::AccountId.eq(account_id))
        .filter(lot::Column::Remaining.gt(0))
        .filter(lot::Column::ExpiresAt.lte(now))
        .into_tuple()
        .one(connection)
        .await?
        .flatten();
    Ok(total.unwrap_or(0))
}

/// Accounts holding points past their expiry, at most `limit` of them.
pub async fn accounts_with_due_lots(
    connection: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> StoreResult<Vec<AccountId>> {
    Ok(lot::Entity::find()
        .select_only()
        .column(lot::Column::AccountId)
        .distinct()
        .filter(lot::Column::Remaining.gt(0))
        .filter(lot::Column::ExpiresAt.lte(now))
        .limit(limit)
        .into_tuple()
        .all(connection)
        .await?)
}

/// What an account's points will expire next: up to `count` upcoming dates with their amounts.
pub async fn expiring(
    connection: &impl ConnectionTrait,
    account_id: AccountId,
    now: DateTime<Utc>,
    count: u64,
) -> StoreResult<Vec<Expiring>> {
    let lots = lot::Entity::find()
        .filter(lot::Column::AccountId.eq(account_id))
        .filter(lot::Column::Remaining.gt(0))
        .filter(lot::Column::ExpiresAt.gt(now))
        .order_by_asc(lot::Column::ExpiresAt)
        .limit(count)
        .all(connection)
        .await?;
    Ok(lots
        .into_iter()
        .filter_map(|lot| Some(Expiring { expires_at: lot.expires_at?, amount: Points::from_minor(lot.remaining) }))
        .collect())
}

/// The sum of remaining lot amounts per rider account, for `verify`.
pub async fn remaining_by_account(connection: &impl ConnectionTrait) -> StoreResult<HashMap<AccountId, i64>> {
    let rows: Vec<(i64, i64)> = lot::Entity::find()
        .select_only()
        .column(lot::Column::AccountId)
        .column_as(Expr::col(lot::Column::Remaining).sum().cast_as("bigint"), "total")
        .group_by(lot::Column::AccountId)
        .into_tuple()
        .all(connection)
        .await?;
    Ok(rows.into_iter().collect())
}
