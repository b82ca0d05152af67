//! Lots: each credit to a rider's account is a lot, and debits consume lots soonest-expiring first
//! (points that never expire last). The remaining amounts of an account's lots always sum to its
//! posted balance, which `verify` checks. A level may make points expire N months after they were
//! earned; the lots remember when.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Months, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter, QuerySelect};

use super::StoreResult;
use super::ledger::EntryRecord;
use super::script::{Kind, Rows, Script, Value};
use crate::domain::ledger::{AccountId, AccountKind, Book};
use crate::domain::points::Points;
use entity::lot;

/// Points of a rider's account that expire on one date.
#[derive(Clone, Debug)]
pub struct Expiring {
    pub expires_at: DateTime<Utc>,
    pub amount: Points,
}

/// Adds the lots of newly appended entries to `script`: credits to rider accounts open lots, debits
/// consume them.
///
/// `book` must be the one the entries were applied to: its first lots are as read with the
/// accounts' locks, so the first debit of an account that fits in its first lot takes it from
/// that lot directly; any other debit spreads over the lots in order. New lots and first-lot
/// debits touch rows nothing else in the call reads, so each kind is written with one statement
/// for the whole call; both are written before a spread, which reads the account's lots.
pub(super) fn record(script: &mut Script, book: &Book, entries: &[EntryRecord]) {
    let rider = |account_id: AccountId| book.get(account_id).filter(|state| state.kind == AccountKind::Rider);
    let mut new_lots = Rows::new("lots", LOT_COLUMNS);
    // (lot, amount) taken from first lots.
    let mut first_lot_debits: Vec<(i64, i64)> = Vec::new();
    // Accounts whose lots this call has changed: their first lot as read may be stale.
    let mut changed: BTreeSet<AccountId> = BTreeSet::new();
    for entry in entries {
        for posting in &entry.postings {
            let Some(state) = rider(posting.account_id) else { continue };
            if posting.amount.is_positive() {
                let expires_at = state
                    .points_expire_months
                    .and_then(|months| entry.created_at.checked_add_months(Months::new(months)));
                new_lots.push([
                    Value::Integer(posting.account_id),
                    Value::Integer(entry.id),
                    Value::Integer(posting.amount.minor()),
                    Value::Integer(posting.amount.minor()),
                    Value::Time(entry.created_at),
                    expires_at.map_or(Value::Null, Value::Time),
                ]);
                changed.insert(posting.account_id);
            } else if posting.amount.is_negative() {
                let amount = -posting.amount.minor();
                let first_lot = state.first_lot.filter(|lot| lot.remaining >= amount);
                match first_lot {
                    Some(lot) if changed.insert(posting.account_id) => first_lot_debits.push((lot.id, amount)),
                    _ => {
                        changed.insert(posting.account_id);
                        // The spread sees every lot as it stands: what was opened or taken before it.
                        script.insert(&mut new_lots);
                        take_from_first_lots(script, &mut first_lot_debits);
                        script.push(&spread(posting.account_id, amount));
                    }
                }
            }
        }
    }
    script.insert(&mut new_lots);
    take_from_first_lots(script, &mut first_lot_debits);
}

/// Takes each amount from its lot, with one statement, and empties the list.
fn take_from_first_lots(script: &mut Script, debits: &mut Vec<(i64, i64)>) {
    if debits.is_empty() {
        return;
    }
    // Only integers go into this statement. A list's columns are `column1`… on both databases; the
    // ids again as an `IN` list, so the lots are looked up by key (see `ledger::balances_statement`).
    let rows: Vec<String> = debits.iter().map(|(lot_id, amount)| format!("({lot_id}, {amount})")).collect();
    let ids: Vec<String> = debits.iter().map(|(lot_id, _)| lot_id.to_string()).collect();
    script.push(&format!(
        "UPDATE lots SET remaining = lots.remaining - v.column2 FROM (VALUES {}) AS v \
         WHERE lots.id = v.column1 AND lots.id IN ({})",
        rows.join(", "),
        ids.join(", ")
    ));
    debits.clear();
}

const LOT_COLUMNS: &[(&str, Kind)] = &[
    ("account_id", Kind::Integer),
    ("entry_id", Kind::Integer),
    ("amount", Kind::Integer),
    ("remaining", Kind::Integer),
    ("earned_at", Kind::Time),
    ("expires_at", Kind::Time),
];

/// The statement that takes `amount` (minor units) out of an account's lots, soonest-expiring
/// first (never-expiring last): each lot gives what is left to take after the lots before it.
/// Only integers go into it.
fn spread(account_id: AccountId, amount: i64) -> String {
    format!(
        "UPDATE lots SET remaining = lots.remaining - taking.amount FROM (\
           SELECT id, CASE WHEN before + remaining <= {amount} THEN remaining ELSE {amount} - before END AS amount \
           FROM (SELECT id, remaining, SUM(remaining) OVER (ORDER BY (expires_at IS NULL), expires_at, earned_at, id \
                   ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - remaining AS before \
                 FROM lots WHERE account_id = {account_id} AND remaining > 0) AS ordered \
           WHERE before < {amount}) AS taking \
         WHERE lots.id = taking.id"
    )
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
