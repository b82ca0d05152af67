//! Lots: each credit to a rider's account is a lot, and debits consume lots soonest-expiring first
//! (points that never expire last). The remaining amounts of an account's lots always sum to its
//! posted balance, which `verify` checks. A level may make points expire N months after they were
//! earned; the lots remember when.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Months, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, ExprTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};

use super::StoreResult;
use super::ledger::EntryRecord;
use super::script::Script;
use crate::domain::ledger::{AccountId, AccountKind, Book};
use crate::domain::points::Points;
use entity::lot;

/// Points of a rider's account that expire on one date.
#[derive(Clone, Debug)]
pub struct Expiring {
    pub expires_at: DateTime<Utc>,
    pub amount: Points,
}

/// Records the lots of newly appended entries: credits to rider accounts open lots (added to
/// `script`), debits consume them (at once: most take the first lot with one statement). A debit
/// may spend a lot opened earlier in the same call, so the script runs first when it holds one.
pub(super) async fn record(
    connection: &impl ConnectionTrait,
    script: &mut Script,
    book: &Book,
    entries: &[EntryRecord],
) -> StoreResult<()> {
    let is_rider = |account_id: AccountId| book.get(account_id).is_some_and(|state| state.kind == AccountKind::Rider);
    let credited: BTreeSet<AccountId> = entries
        .iter()
        .flat_map(|entry| entry.postings.iter())
        .filter(|posting| posting.amount.is_positive() && is_rider(posting.account_id))
        .map(|posting| posting.account_id)
        .collect();
    let months = expiry_months(connection, &credited).await?;
    let mut new_lots: Vec<String> = Vec::new();
    let mut opened: BTreeSet<AccountId> = BTreeSet::new();
    for entry in entries {
        for posting in entry.postings.iter().filter(|posting| is_rider(posting.account_id)) {
            if posting.amount.is_positive() {
                let expires_at = months
                    .get(&posting.account_id)
                    .copied()
                    .flatten()
                    .and_then(|months| entry.created_at.checked_add_months(Months::new(months)));
                new_lots.push(format!(
                    "({}, {}, {amount}, {amount}, {}, {})",
                    posting.account_id,
                    entry.id,
                    script.time(entry.created_at),
                    script.optional_time(expires_at),
                    amount = posting.amount.minor(),
                ));
                opened.insert(posting.account_id);
            } else if posting.amount.is_negative() {
                if opened.contains(&posting.account_id) {
                    open(script, &mut new_lots);
                    script.run_now(connection).await?;
                    opened.clear();
                }
                consume(connection, posting.account_id, -posting.amount.minor()).await?;
            }
        }
    }
    open(script, &mut new_lots);
    Ok(())
}

fn open(script: &mut Script, new_lots: &mut Vec<String>) {
    for chunk in new_lots.chunks(1_000) {
        script.push(&format!(
            "INSERT INTO lots (account_id, entry_id, amount, remaining, earned_at, expires_at) VALUES {}",
            chunk.join(", ")
        ));
    }
    new_lots.clear();
}

/// Takes `amount` (minor units) out of an account's lots, soonest-expiring first (never-expiring
/// last).
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
    // Otherwise each lot in turn gives what is left to take after the lots before it.
    let spread = format!(
        "UPDATE lots SET remaining = lots.remaining - taking.amount FROM (\
           SELECT id, CASE WHEN before + remaining <= {amount} THEN remaining ELSE {amount} - before END AS amount \
           FROM (SELECT id, remaining, SUM(remaining) OVER (ORDER BY (expires_at IS NULL), expires_at, earned_at, id \
                   ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - remaining AS before \
                 FROM lots WHERE account_id = {account_id} AND remaining > 0) AS ordered \
           WHERE before < {amount}) AS taking \
         WHERE lots.id = taking.id"
    );
    connection.execute_unprepared(&spread).await?;
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
    // (longest path) wins. The ids are bound, so the statement is prepared once per count of ids.
    let backend = connection.get_database_backend();
    let placeholders: Vec<String> = (1..=accounts.len())
        .map(|n| if backend == DbBackend::Postgres { format!("${n}") } else { "?".to_owned() })
        .collect();
    let sql = format!(
        "SELECT a.id AS account_id, anc.path AS path, anc.points_expire_months AS months \
         FROM accounts a JOIN levels l ON l.id = a.level_id \
         JOIN levels anc ON anc.points_expire_months IS NOT NULL AND l.path LIKE anc.path || '%' \
         WHERE a.id IN ({})",
        placeholders.join(",")
    );
    let values = accounts.iter().map(|account_id| sea_orm::Value::from(*account_id));
    let rows = connection.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
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
