//! Accounts, journal entries, holds, statements and verification.
//!
//! The write path of every posting: lock the accounts involved (in id order, so two writers never
//! wait on each other in a cycle), expire their due holds, apply the domain's rules to the locked
//! states in memory, write the new totals, then append the entry to the hash chain under the chain
//! head's lock. Everything runs in the caller's transaction, so several requests can later share
//! one transaction (group commit) while each keeps its own result.

use std::collections::{BTreeSet, HashMap, VecDeque};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, ExprTrait,
    FromQueryResult, QueryFilter, QueryOrder, QueryResult, QuerySelect,
};

use super::bound::Bound;
use super::script::{Kind, Rows, Script, Value};
use super::{ChainHead, Context, Page, StoreError, StoreResult, UnitOfWork};
use crate::domain::ledger::{
    AccountId, AccountKind, AccountState, Balances, Book, Discrepancy, EntryContent, EntryId, EntryKind, FirstLot,
    GENESIS_HASH, HoldStatus, PlannedPosting, PostingDraft, StoredPosting, Transfer, Verifier, entry_hash, ledger_time,
    reversal_postings, transfers_to_postings,
};
use crate::domain::points::Points;
use entity::{account, hold, journal_entry, ledger_head, posting};

/// Entries, and postings, read per round trip while verifying.
const VERIFY_ENTRIES_PER_PAGE: u64 = 2_000;
const VERIFY_POSTINGS_PER_PAGE: u64 = 5_000;
/// Due holds expired per sweep.
const EXPIRY_HOLDS_PER_SWEEP: u64 = 500;

#[derive(Clone, Debug)]
pub struct AccountRecord {
    pub id: AccountId,
    pub kind: AccountKind,
    pub level_id: i64,
    pub user_id: Option<i64>,
    pub no_overdraft: bool,
    pub balances: Balances,
    pub created_at: DateTime<Utc>,
    /// For a rider's account: the next points to expire, soonest first.
    pub expiring: Vec<super::lots::Expiring>,
}

/// Upcoming expiries shown with a rider's account.
const EXPIRING_SHOWN: u64 = 5;

#[derive(Clone, Debug)]
pub struct PostingRecord {
    pub account_id: AccountId,
    pub amount: Points,
    pub balance_after: Points,
}

#[derive(Clone, Debug)]
pub struct EntryRecord {
    pub id: EntryId,
    pub kind: EntryKind,
    pub reason: String,
    pub reference_type: Option<String>,
    pub reference_id: Option<String>,
    pub actor_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub reverses_entry_id: Option<EntryId>,
    pub reversed_by_entry_id: Option<EntryId>,
    pub hash: String,
    pub prev_hash: String,
    pub postings: Vec<PostingRecord>,
}

/// What an entry is about, such as ("level", "4") or ("redemption", "17").
#[derive(Clone, Debug, Default)]
pub struct Reference {
    pub reference_type: Option<String>,
    pub reference_id: Option<String>,
}

impl Reference {
    pub fn to(reference_type: &str, reference_id: impl ToString) -> Self {
        Self { reference_type: Some(reference_type.to_owned()), reference_id: Some(reference_id.to_string()) }
    }
}

/// An entry to post: what, why, about what, and its postings.
#[derive(Clone, Debug)]
pub struct EntryDraft {
    pub kind: EntryKind,
    pub reason: String,
    pub reference: Reference,
    pub postings: Vec<PostingDraft>,
    pub reverses_entry_id: Option<EntryId>,
}

#[derive(Clone, Debug)]
pub struct HoldRecord {
    pub id: i64,
    pub from_account_id: AccountId,
    pub to_account_id: AccountId,
    pub amount: Points,
    pub kind: EntryKind,
    /// Effective status: a pending hold past its expiry reads as expired even before the sweeper runs.
    pub status: HoldStatus,
    pub reason: String,
    pub reference: Reference,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub posted_entry_id: Option<EntryId>,
    pub posted_amount: Option<Points>,
}

#[derive(Clone, Debug)]
pub struct StatementLine {
    pub posting_id: i64,
    pub entry_id: EntryId,
    pub created_at: DateTime<Utc>,
    pub kind: EntryKind,
    pub reason: String,
    pub reference: Reference,
    pub amount: Points,
    pub balance_after: Points,
}

#[derive(Clone, Debug)]
pub struct VerifyReport {
    pub entries_checked: u64,
    pub accounts_checked: u64,
    pub discrepancy: Option<Discrepancy>,
}

/// Writes the chain's genesis row if it is missing (concurrent starts are harmless).
pub async fn ensure_genesis(connection: &DatabaseConnection) -> StoreResult<()> {
    let genesis = ledger_head::ActiveModel {
        id: Set(1),
        last_entry_id: Set(0),
        last_hash: Set(GENESIS_HASH.to_owned()),
        last_at: Set(DateTime::UNIX_EPOCH),
    };
    ledger_head::Entity::insert(genesis)
        .on_conflict_do_nothing_on([ledger_head::Column::Id])
        .exec_without_returning(connection)
        .await?;
    Ok(())
}

pub async fn create_account(
    connection: &impl ConnectionTrait,
    context: &Context,
    kind: AccountKind,
    level_id: i64,
    user_id: Option<i64>,
) -> StoreResult<AccountId> {
    let created = account::Entity::insert(account::ActiveModel {
        kind: Set(kind.as_str().to_owned()),
        level_id: Set(level_id),
        user_id: Set(user_id),
        no_overdraft: Set(kind.no_overdraft()),
        debits_posted: Set(0),
        credits_posted: Set(0),
        debits_pending: Set(0),
        credits_pending: Set(0),
        created_at: Set(context.now),
        ..Default::default()
    })
    .exec(connection)
    .await?;
    Ok(created.last_insert_id)
}

fn account_record(model: account::Model) -> AccountRecord {
    AccountRecord {
        id: model.id,
        kind: AccountKind::parse(&model.kind).unwrap_or(AccountKind::Rider),
        level_id: model.level_id,
        user_id: model.user_id,
        no_overdraft: model.no_overdraft,
        balances: balances(&model),
        created_at: model.created_at,
        expiring: Vec::new(),
    }
}

fn balances(model: &account::Model) -> Balances {
    Balances {
        debits_posted: Points::from_minor(model.debits_posted),
        credits_posted: Points::from_minor(model.credits_posted),
        debits_pending: Points::from_minor(model.debits_pending),
        credits_pending: Points::from_minor(model.credits_pending),
    }
}

/// An account with its balances as they stand now: holds past their expiry no longer count.
pub async fn account(
    connection: &impl ConnectionTrait,
    account_id: AccountId,
    now: DateTime<Utc>,
) -> StoreResult<AccountRecord> {
    // One query, so that a read is one round trip and the balance and the lots are of one instant.
    let backend = connection.get_database_backend();
    let mut bound = Bound::new(backend);
    let sql = if backend == sea_orm::DbBackend::Postgres {
        // Written so that PostgreSQL keeps one plan for every read. As a join of the account with a
        // sorted subquery (SQLite's form below), its generic plan cost more than a plan made for
        // the given values, so once the lots table had statistics every balance read was planned
        // anew (~100 µs of PostgreSQL's CPU). Here the lots are looked up only for a rider's
        // account, in the spending index's order, and neither plan sorts.
        let (id, rider) = (bound.value(account_id), bound.value(AccountKind::Rider.as_str()));
        let after = bound.value(now);
        format!(
            "SELECT a.*, l.expires_at AS lot_expires_at, l.remaining AS lot_remaining FROM accounts a \
             LEFT JOIN LATERAL (SELECT expires_at, remaining FROM lots WHERE account_id = a.id AND a.kind = {rider} \
             AND remaining > 0 AND (expires_at IS NULL) = false AND expires_at > {after} \
             ORDER BY expires_at LIMIT {EXPIRING_SHOWN}) l ON true WHERE a.id = {id}"
        )
    } else {
        // SQLite has no LATERAL, and keeps a statement's plan as it is.
        let (lots_of, after) = (bound.value(account_id), bound.value(now));
        let (rider, id) = (bound.value(AccountKind::Rider.as_str()), bound.value(account_id));
        format!(
            "SELECT a.*, l.expires_at AS lot_expires_at, l.remaining AS lot_remaining FROM accounts a \
             LEFT JOIN (SELECT account_id, expires_at, remaining FROM lots WHERE account_id = {lots_of} \
             AND remaining > 0 AND expires_at > {after} ORDER BY expires_at LIMIT {EXPIRING_SHOWN}) l \
             ON l.account_id = a.id AND a.kind = {rider} WHERE a.id = {id}"
        )
    };
    let rows = connection.query_all_raw(bound.statement(&sql)).await?;
    let first = rows.first().ok_or(StoreError::NotFound("account"))?;
    let mut record = account_record(account::Model::from_query_result(first, "")?);
    for row in &rows {
        let expires_at: Option<DateTime<Utc>> = row.try_get("", "lot_expires_at")?;
        let remaining: Option<i64> = row.try_get("", "lot_remaining")?;
        if let (Some(expires_at), Some(remaining)) = (expires_at, remaining) {
            record.expiring.push(super::lots::Expiring { expires_at, amount: Points::from_minor(remaining) });
        }
    }
    record.expiring.sort_by_key(|lot| lot.expires_at);
    release_due_holds(connection, &mut record, now).await?;
    Ok(record)
}

/// A hold past its expiry reads as released at once; only an account with something pending has one.
async fn release_due_holds(
    connection: &impl ConnectionTrait,
    record: &mut AccountRecord,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let has_pending = record.balances.debits_pending != Points::ZERO || record.balances.credits_pending != Points::ZERO;
    if !has_pending {
        return Ok(());
    }
    for due_hold in due_holds(connection, &[record.id], now).await? {
        let amount = Points::from_minor(due_hold.amount);
        if due_hold.from_account_id == record.id {
            record.balances.debits_pending = record.balances.debits_pending.checked_sub(amount).unwrap_or(Points::ZERO);
        }
        if due_hold.to_account_id == record.id {
            record.balances.credits_pending =
                record.balances.credits_pending.checked_sub(amount).unwrap_or(Points::ZERO);
        }
    }
    Ok(())
}

/// The account of a rider, of a level's budget, or of a city's issuance, redemption or breakage.
pub async fn account_id_of(
    connection: &impl ConnectionTrait,
    kind: AccountKind,
    level_id: Option<i64>,
    user_id: Option<i64>,
) -> StoreResult<AccountId> {
    let mut query = account::Entity::find()
        .select_only()
        .column(account::Column::Id)
        .filter(account::Column::Kind.eq(kind.as_str()));
    if let Some(level_id) = level_id {
        query = query.filter(account::Column::LevelId.eq(level_id));
    }
    if let Some(user_id) = user_id {
        query = query.filter(account::Column::UserId.eq(user_id));
    }
    query.into_tuple::<i64>().one(connection).await?.ok_or(StoreError::NotFound("account"))
}

/// The points accounts of these riders, by rider, in one query.
pub async fn rider_accounts(
    connection: &impl ConnectionTrait,
    rider_ids: &[i64],
) -> StoreResult<HashMap<i64, AccountId>> {
    let mut found = HashMap::with_capacity(rider_ids.len());
    for chunk in rider_ids.chunks(500) {
        let rows: Vec<(Option<i64>, i64)> = account::Entity::find()
            .select_only()
            .column(account::Column::UserId)
            .column(account::Column::Id)
            .filter(account::Column::Kind.eq(AccountKind::Rider.as_str()))
            .filter(account::Column::UserId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(connection)
            .await?;
        found.extend(rows.into_iter().filter_map(|(user_id, account_id)| user_id.map(|user_id| (user_id, account_id))));
    }
    Ok(found)
}

/// Pending holds on these accounts whose expiry has passed.
async fn due_holds(
    connection: &impl ConnectionTrait,
    account_ids: &[AccountId],
    now: DateTime<Utc>,
) -> StoreResult<Vec<hold::Model>> {
    Ok(hold::Entity::find()
        .filter(hold::Column::Status.eq(HoldStatus::Pending.as_str()))
        .filter(hold::Column::ExpiresAt.lte(now))
        .filter(
            hold::Column::FromAccountId
                .is_in(account_ids.iter().copied())
                .or(hold::Column::ToAccountId.is_in(account_ids.iter().copied())),
        )
        .all(connection)
        .await?)
}

/// Locks the accounts (in id order), expires their due holds, and returns their states.
async fn lock_book(
    connection: &impl ConnectionTrait,
    account_ids: &BTreeSet<AccountId>,
    now: DateTime<Utc>,
) -> StoreResult<Book> {
    Ok(lock_book_counting_expiries(connection, account_ids, now).await?.0)
}

/// `lock_book`, also saying how many due holds this call expired (others may have got there first).
///
/// Every write runs in turn (see `store::group`), so the locks cannot deadlock; they still keep
/// out writers that do not go through this process.
async fn lock_book_counting_expiries(
    connection: &impl ConnectionTrait,
    account_ids: &BTreeSet<AccountId>,
    now: DateTime<Utc>,
) -> StoreResult<(Book, u64)> {
    let (book, expired) = lock_existing(connection, account_ids, now).await?;
    if let Some(missing) = account_ids.iter().find(|id| book.get(**id).is_none()) {
        return Err(crate::domain::ledger::LedgerError::UnknownAccount(*missing).into());
    }
    Ok((book, expired))
}

/// Locks those of the accounts that exist (in id order), expires their due holds, and returns
/// their states; an operation on a missing one fails in the book. For a set of requests, where
/// one request's unknown account must not fail the others.
pub(super) async fn lock_existing(
    connection: &impl ConnectionTrait,
    account_ids: &BTreeSet<AccountId>,
    now: DateTime<Utc>,
) -> StoreResult<(Book, u64)> {
    let mut rows = lock_accounts(connection, account_ids).await?;
    // Only an account with something pending can have a due hold: most writes skip this query.
    let has_pending = rows.iter().any(|row| row.account.debits_pending != 0 || row.account.credits_pending != 0);
    let due = if has_pending {
        let ids: Vec<AccountId> = account_ids.iter().copied().collect();
        due_holds(connection, &ids, now).await?
    } else {
        Vec::new()
    };
    // A due hold also touches its other account: lock that too.
    let others: BTreeSet<AccountId> = due
        .iter()
        .flat_map(|due_hold| [due_hold.from_account_id, due_hold.to_account_id])
        .filter(|id| !account_ids.contains(id))
        .collect();
    if !others.is_empty() {
        rows.extend(lock_accounts(connection, &others).await?);
    }
    let mut book = Book::new(rows.iter().map(|row| AccountState {
        id: row.account.id,
        kind: AccountKind::parse(&row.account.kind).unwrap_or(AccountKind::Rider),
        no_overdraft: row.account.no_overdraft,
        balances: balances(&row.account),
        points_expire_months: row.points_expire_months.and_then(|months| u32::try_from(months).ok()),
        first_lot: row.first_lot_id.zip(row.first_lot_remaining).map(|(id, remaining)| FirstLot { id, remaining }),
    }));
    let mut expired = 0;
    for due_hold in due {
        if resolve_hold(connection, due_hold.id, HoldStatus::Expired, now, None, None).await? {
            book.release(due_hold.from_account_id, due_hold.to_account_id, Points::from_minor(due_hold.amount))?;
            expired += 1;
        }
    }
    Ok((book, expired))
}

/// A locked account, when points credited to it expire, and the lot a debit takes from first.
struct LockedAccount {
    account: account::Model,
    points_expire_months: Option<i32>,
    first_lot_id: Option<i64>,
    first_lot_remaining: Option<i64>,
}

impl FromQueryResult for LockedAccount {
    fn from_query_result(row: &QueryResult, prefix: &str) -> Result<Self, DbErr> {
        Ok(LockedAccount {
            account: account::Model::from_query_result(row, prefix)?,
            points_expire_months: row.try_get(prefix, "points_expire_months")?,
            first_lot_id: row.try_get(prefix, "first_lot_id")?,
            first_lot_remaining: row.try_get(prefix, "first_lot_remaining")?,
        })
    }
}

/// The expiry setting of the account's level or of the nearest level above that sets one (the
/// longest path wins), read with the lock so that crediting a rider costs no extra round trip.
const POINTS_EXPIRE_MONTHS: &str = "(SELECT anc.points_expire_months FROM levels l \
     JOIN levels anc ON anc.points_expire_months IS NOT NULL AND l.path LIKE anc.path || '%' \
     WHERE l.id = accounts.level_id ORDER BY LENGTH(anc.path) DESC LIMIT 1)";

/// The first lot a debit takes from (soonest-expiring first, never-expiring last; see
/// `store::lots`), read with the lock: a debit that fits in it costs no round trip of its own.
fn first_lot(column: &str) -> String {
    format!(
        "(SELECT {column} FROM lots WHERE lots.account_id = accounts.id AND lots.remaining > 0 \
          ORDER BY (lots.expires_at IS NULL), lots.expires_at, lots.earned_at, lots.id LIMIT 1)"
    )
}

async fn lock_accounts(
    connection: &impl ConnectionTrait,
    account_ids: &BTreeSet<AccountId>,
) -> StoreResult<Vec<LockedAccount>> {
    Ok(account::Entity::find()
        .column_as(Expr::cust(POINTS_EXPIRE_MONTHS), "points_expire_months")
        .column_as(Expr::cust(first_lot("lots.id")), "first_lot_id")
        .column_as(Expr::cust(first_lot("lots.remaining")), "first_lot_remaining")
        .filter(account::Column::Id.is_in(account_ids.iter().copied()))
        .order_by_asc(account::Column::Id)
        .lock_exclusive()
        .into_model::<LockedAccount>()
        .all(connection)
        .await?)
}

/// Moves a hold out of `pending`; false when another writer got there first.
async fn resolve_hold(
    connection: &impl ConnectionTrait,
    hold_id: i64,
    status: HoldStatus,
    now: DateTime<Utc>,
    posted_entry_id: Option<EntryId>,
    posted_amount: Option<Points>,
) -> StoreResult<bool> {
    let result = hold::Entity::update_many()
        .col_expr(hold::Column::Status, Expr::value(status.as_str()))
        .col_expr(hold::Column::ResolvedAt, Expr::value(now))
        .col_expr(hold::Column::PostedEntryId, Expr::value(posted_entry_id))
        .col_expr(hold::Column::PostedAmount, Expr::value(posted_amount.map(Points::minor)))
        .filter(hold::Column::Id.eq(hold_id))
        .filter(hold::Column::Status.eq(HoldStatus::Pending.as_str()))
        .exec(connection)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Writes the changed balances back with one statement, however many accounts changed.
pub(super) async fn write_balances(connection: &impl ConnectionTrait, book: &Book) -> StoreResult<()> {
    if let Some(statement) = balances_statement(book) {
        connection.execute_unprepared(&statement).await?;
    }
    Ok(())
}

/// The statement that writes the changed balances back, if any changed: a join with a list of
/// the new totals (a `CASE` per column would compare every row with every id, which a set of a
/// thousand accounts makes slow).
fn balances_statement(book: &Book) -> Option<String> {
    // Only integers go into this statement, so writing them inline is safe.
    let rows: Vec<String> = book
        .changed()
        .map(|state| {
            let balances = &state.balances;
            format!(
                "({}, {}, {}, {}, {})",
                state.id,
                balances.debits_posted.minor(),
                balances.credits_posted.minor(),
                balances.debits_pending.minor(),
                balances.credits_pending.minor()
            )
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    let ids: Vec<String> = book.changed().map(|state| state.id.to_string()).collect();
    // A list's columns are `column1`… on both databases. The ids are named again in an `IN` list
    // so that the rows are looked up by key: joined with the list alone, PostgreSQL with current
    // statistics scanned every account instead (a set's 60 accounts among 10,000: 6 ms, and more
    // as the table bloats between vacuums, against 2 ms).
    Some(format!(
        "UPDATE accounts SET debits_posted = v.column2, credits_posted = v.column3, debits_pending = v.column4, \
         credits_pending = v.column5 FROM (VALUES {}) AS v WHERE accounts.id = v.column1 AND accounts.id IN ({})",
        rows.join(", "),
        ids.join(", ")
    ))
}

const ENTRY_COLUMNS: &[(&str, Kind)] = &[
    ("id", Kind::Integer),
    ("kind", Kind::Text),
    ("reason", Kind::Text),
    ("reference_type", Kind::Text),
    ("reference_id", Kind::Text),
    ("actor_id", Kind::Integer),
    ("created_at", Kind::Time),
    ("reverses_entry_id", Kind::Integer),
    ("prev_hash", Kind::Text),
    ("hash", Kind::Text),
];

const POSTING_COLUMNS: &[(&str, Kind)] = &[
    ("entry_id", Kind::Integer),
    ("account_id", Kind::Integer),
    ("amount", Kind::Integer),
    ("balance_after", Kind::Integer),
    ("created_at", Kind::Time),
];

/// An entry applied to the book, to be appended: who posted it, and when.
pub(super) struct Applied<'a> {
    pub(super) draft: &'a EntryDraft,
    pub(super) planned: Vec<PlannedPosting>,
    pub(super) actor_id: Option<i64>,
    pub(super) now: DateTime<Utc>,
}

impl<'a> Applied<'a> {
    fn by(work: &UnitOfWork, draft: &'a EntryDraft, planned: Vec<PlannedPosting>) -> Self {
        Applied { draft, planned, actor_id: work.context.actor_id, now: work.context.now }
    }
}

/// Appends applied entries to the hash chain, in order, with the book's changed balances and the
/// entries' lots: one script, one round trip (see `store::script`), which `more` may extend with
/// statements of its own that depend on the records. The chain head is read (and locked) once per
/// batch of units and written back when the batch commits (see `store::group`).
pub(super) async fn append_entries(
    work: &UnitOfWork,
    book: &Book,
    applied: &[Applied<'_>],
    more: impl FnOnce(&mut Script, &[EntryRecord]),
) -> StoreResult<Vec<EntryRecord>> {
    let connection = work.txn();
    let cached = work.chain_head().lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
    let head = match cached {
        Some(head) => head,
        None => {
            let row = ledger_head::Entity::find_by_id(1)
                .lock_exclusive()
                .one(connection)
                .await?
                .ok_or(StoreError::NotFound("ledger head"))?;
            ChainHead { last_entry_id: row.last_entry_id, last_hash: row.last_hash, last_at: row.last_at, moved: false }
        }
    };
    let mut prev_hash = head.last_hash;
    // Entry times never run backwards along the chain, so time order is chain order.
    let mut last_at = head.last_at;
    let mut records = Vec::with_capacity(applied.len());
    let mut script = Script::new(connection.get_database_backend());
    if let Some(statement) = balances_statement(book) {
        script.push(&statement);
    }
    let mut entry_rows = Rows::new("journal_entries", ENTRY_COLUMNS);
    let mut posting_rows = Rows::new("postings", POSTING_COLUMNS);
    for (offset, Applied { draft, planned, actor_id, now }) in applied.iter().enumerate() {
        let id = head.last_entry_id + 1 + offset as i64;
        let created_at = std::cmp::max(ledger_time(*now), last_at);
        last_at = created_at;
        let posting_pairs: Vec<(AccountId, i64)> =
            planned.iter().map(|posting| (posting.account_id, posting.amount.minor())).collect();
        let content = EntryContent {
            id,
            kind: draft.kind.as_str(),
            reason: &draft.reason,
            reference_type: draft.reference.reference_type.as_deref(),
            reference_id: draft.reference.reference_id.as_deref(),
            actor_id: *actor_id,
            created_at,
            reverses_entry_id: draft.reverses_entry_id,
            postings: &posting_pairs,
        };
        let hash = entry_hash(&prev_hash, &content);
        entry_rows.push([
            Value::Integer(id),
            Value::Text(draft.kind.as_str().to_owned()),
            Value::Text(draft.reason.clone()),
            Value::optional_text(draft.reference.reference_type.as_deref()),
            Value::optional_text(draft.reference.reference_id.as_deref()),
            Value::optional_integer(*actor_id),
            Value::Time(created_at),
            Value::optional_integer(draft.reverses_entry_id),
            Value::Text(prev_hash.clone()),
            Value::Text(hash.clone()),
        ]);
        for posting in planned {
            posting_rows.push([
                Value::Integer(id),
                Value::Integer(posting.account_id),
                Value::Integer(posting.amount.minor()),
                Value::Integer(posting.balance_after.minor()),
                Value::Time(created_at),
            ]);
        }
        records.push(EntryRecord {
            id,
            kind: draft.kind,
            reason: draft.reason.clone(),
            reference_type: draft.reference.reference_type.clone(),
            reference_id: draft.reference.reference_id.clone(),
            actor_id: *actor_id,
            created_at,
            reverses_entry_id: draft.reverses_entry_id,
            reversed_by_entry_id: None,
            hash: hash.clone(),
            prev_hash: std::mem::replace(&mut prev_hash, hash),
            postings: planned
                .iter()
                .map(|posting| PostingRecord {
                    account_id: posting.account_id,
                    amount: posting.amount,
                    balance_after: posting.balance_after,
                })
                .collect(),
        });
    }
    script.insert(&mut entry_rows);
    script.insert(&mut posting_rows);
    super::lots::record(&mut script, book, &records);
    more(&mut script, &records);
    let reversal = applied.iter().find_map(|applied| applied.draft.reverses_entry_id);
    script.run(connection).await.map_err(|error| match reversal {
        Some(entry_id) if StoreError::is_unique_violation(&error) => {
            StoreError::Conflict(format!("entry {entry_id} was reversed by another request"))
        }
        _ => error.into(),
    })?;
    let last = records.last().expect("a batch holds at least one entry");
    *work.chain_head().lock().unwrap_or_else(|poisoned| poisoned.into_inner()) =
        Some(ChainHead { last_entry_id: last.id, last_hash: last.hash.clone(), last_at, moved: true });
    Ok(records)
}

async fn append_entry(
    work: &UnitOfWork,
    book: &Book,
    draft: &EntryDraft,
    planned: &[PlannedPosting],
) -> StoreResult<EntryRecord> {
    let mut records = append_entries(work, book, &[Applied::by(work, draft, planned.to_vec())], |_, _| {}).await?;
    Ok(records.remove(0))
}

/// Posts several entries in one go, all or none: the accounts of all of them are locked together,
/// each entry is applied in order, and the chain head is taken once. For bulk approvals.
pub async fn post_entries(work: &UnitOfWork, drafts: &[EntryDraft]) -> StoreResult<Vec<EntryRecord>> {
    if drafts.is_empty() {
        return Ok(Vec::new());
    }
    let account_ids: BTreeSet<AccountId> =
        drafts.iter().flat_map(|draft| draft.postings.iter().map(|posting| posting.account_id)).collect();
    let mut book = lock_book(work.txn(), &account_ids, work.now()).await?;
    let mut applied = Vec::with_capacity(drafts.len());
    for draft in drafts {
        applied.push(Applied::by(work, draft, book.post(&draft.postings)?));
    }
    append_entries(work, &book, &applied, |_, _| {}).await
}

/// Posts an entry: the heart of every award, redemption, transfer and reversal.
pub async fn post_entry(work: &UnitOfWork, draft: EntryDraft) -> StoreResult<EntryRecord> {
    let account_ids: BTreeSet<AccountId> = draft.postings.iter().map(|posting| posting.account_id).collect();
    let mut book = lock_book(work.txn(), &account_ids, work.now()).await?;
    let planned = book.post(&draft.postings)?;
    append_entry(work, &book, &draft, &planned).await
}

impl EntryDraft {
    /// An entry of transfers.
    pub fn of_transfers(kind: EntryKind, reason: String, reference: Reference, transfers: &[Transfer]) -> Self {
        EntryDraft { kind, reason, reference, postings: transfers_to_postings(transfers), reverses_entry_id: None }
    }
}

/// Posts transfers as one entry.
pub async fn post_transfers(
    work: &UnitOfWork,
    kind: EntryKind,
    reason: String,
    reference: Reference,
    transfers: &[Transfer],
) -> StoreResult<EntryRecord> {
    post_entry(work, EntryDraft::of_transfers(kind, reason, reference, transfers)).await
}

/// Posts the exact opposite of an entry, once.
pub async fn reverse_entry(work: &UnitOfWork, entry_id: EntryId, reason: String) -> StoreResult<EntryRecord> {
    let original = entry(work.txn(), entry_id).await?;
    if let Some(reversal_entry_id) = original.reversed_by_entry_id {
        return Err(StoreError::AlreadyReversed { entry_id, reversal_entry_id });
    }
    if original.kind == EntryKind::Reversal {
        return Err(StoreError::Conflict(format!(
            "entry {entry_id} is itself a reversal; post a new entry to correct it"
        )));
    }
    let postings: Vec<PostingDraft> = original
        .postings
        .iter()
        .map(|posting| PostingDraft { account_id: posting.account_id, amount: posting.amount })
        .collect();
    post_entry(
        work,
        EntryDraft {
            kind: EntryKind::Reversal,
            reason,
            reference: Reference::to("entry", entry_id),
            postings: reversal_postings(&postings),
            reverses_entry_id: Some(entry_id),
        },
    )
    .await
}

pub async fn entry(connection: &impl ConnectionTrait, entry_id: EntryId) -> StoreResult<EntryRecord> {
    let model =
        journal_entry::Entity::find_by_id(entry_id).one(connection).await?.ok_or(StoreError::NotFound("entry"))?;
    let postings = posting::Entity::find()
        .filter(posting::Column::EntryId.eq(entry_id))
        .order_by_asc(posting::Column::Id)
        .all(connection)
        .await?;
    let reversed_by_entry_id = journal_entry::Entity::find()
        .select_only()
        .column(journal_entry::Column::Id)
        .filter(journal_entry::Column::ReversesEntryId.eq(entry_id))
        .into_tuple::<i64>()
        .one(connection)
        .await?;
    Ok(EntryRecord {
        id: model.id,
        kind: EntryKind::parse(&model.kind).unwrap_or(EntryKind::Adjustment),
        reason: model.reason,
        reference_type: model.reference_type,
        reference_id: model.reference_id,
        actor_id: model.actor_id,
        created_at: model.created_at,
        reverses_entry_id: model.reverses_entry_id,
        reversed_by_entry_id,
        hash: model.hash,
        prev_hash: model.prev_hash,
        postings: postings
            .into_iter()
            .map(|posting| PostingRecord {
                account_id: posting.account_id,
                amount: Points::from_minor(posting.amount),
                balance_after: Points::from_minor(posting.balance_after),
            })
            .collect(),
    })
}

/// Creates a pending transfer.
#[allow(clippy::too_many_arguments)]
pub async fn create_hold(
    work: &UnitOfWork,
    transfer: Transfer,
    kind: EntryKind,
    reason: String,
    reference: Reference,
    expires_at: Option<DateTime<Utc>>,
) -> StoreResult<HoldRecord> {
    let account_ids: BTreeSet<AccountId> = [transfer.from, transfer.to].into_iter().collect();
    let mut book = lock_book(work.txn(), &account_ids, work.now()).await?;
    book.hold(transfer.from, transfer.to, transfer.amount)?;
    write_balances(work.txn(), &book).await?;
    let model = hold::ActiveModel {
        from_account_id: Set(transfer.from),
        to_account_id: Set(transfer.to),
        amount: Set(transfer.amount.minor()),
        kind: Set(kind.as_str().to_owned()),
        status: Set(HoldStatus::Pending.as_str().to_owned()),
        reason: Set(reason),
        reference_type: Set(reference.reference_type),
        reference_id: Set(reference.reference_id),
        actor_id: Set(work.context.actor_id),
        created_at: Set(ledger_time(work.now())),
        expires_at: Set(expires_at.map(ledger_time)),
        resolved_at: Set(None),
        posted_entry_id: Set(None),
        posted_amount: Set(None),
        ..Default::default()
    };
    let inserted = hold::Entity::insert(model).exec(work.txn()).await?;
    hold_by_id(work.txn(), inserted.last_insert_id, work.now()).await
}

pub async fn hold_by_id(
    connection: &impl ConnectionTrait,
    hold_id: i64,
    now: DateTime<Utc>,
) -> StoreResult<HoldRecord> {
    let model = hold::Entity::find_by_id(hold_id).one(connection).await?.ok_or(StoreError::NotFound("hold"))?;
    Ok(hold_record(model, now))
}

fn hold_record(model: hold::Model, now: DateTime<Utc>) -> HoldRecord {
    let mut status = HoldStatus::parse(&model.status).unwrap_or(HoldStatus::Pending);
    if status == HoldStatus::Pending && model.expires_at.is_some_and(|expires_at| expires_at <= now) {
        status = HoldStatus::Expired;
    }
    HoldRecord {
        id: model.id,
        from_account_id: model.from_account_id,
        to_account_id: model.to_account_id,
        amount: Points::from_minor(model.amount),
        kind: EntryKind::parse(&model.kind).unwrap_or(EntryKind::Adjustment),
        status,
        reason: model.reason,
        reference: Reference { reference_type: model.reference_type, reference_id: model.reference_id },
        created_at: model.created_at,
        expires_at: model.expires_at,
        resolved_at: model.resolved_at,
        posted_entry_id: model.posted_entry_id,
        posted_amount: model.posted_amount.map(Points::from_minor),
    }
}

/// Posts a pending hold (all of it, or a smaller amount; the rest is released).
pub async fn post_hold(
    work: &UnitOfWork,
    hold_id: i64,
    amount: Option<Points>,
    reason: Option<String>,
) -> StoreResult<(HoldRecord, EntryRecord)> {
    let current = hold_by_id(work.txn(), hold_id, work.now()).await?;
    let account_ids: BTreeSet<AccountId> = [current.from_account_id, current.to_account_id].into_iter().collect();
    let mut book = lock_book(work.txn(), &account_ids, work.now()).await?;
    // Re-read under the accounts' locks: the hold may have been resolved meanwhile.
    let current = hold_by_id(work.txn(), hold_id, work.now()).await?;
    if current.status != HoldStatus::Pending {
        return Err(StoreError::HoldNotPending { hold_id, status: current.status.as_str().to_owned() });
    }
    let amount = amount.unwrap_or(current.amount);
    let planned = book.post_hold(current.from_account_id, current.to_account_id, current.amount, amount)?;
    let reference = if current.reference.reference_type.is_some() {
        current.reference.clone()
    } else {
        Reference::to("hold", hold_id)
    };
    let draft = EntryDraft {
        kind: current.kind,
        reason: reason.unwrap_or_else(|| current.reason.clone()),
        reference,
        postings: planned
            .iter()
            .map(|posting| PostingDraft { account_id: posting.account_id, amount: posting.amount })
            .collect(),
        reverses_entry_id: None,
    };
    let entry = append_entry(work, &book, &draft, &planned).await?;
    let resolved =
        resolve_hold(work.txn(), hold_id, HoldStatus::Posted, work.now(), Some(entry.id), Some(amount)).await?;
    assert!(resolved, "a hold checked pending under its accounts' locks resolves");
    Ok((hold_by_id(work.txn(), hold_id, work.now()).await?, entry))
}

/// Voids a pending hold: what it kept back is available again.
pub async fn void_hold(work: &UnitOfWork, hold_id: i64) -> StoreResult<HoldRecord> {
    let current = hold_by_id(work.txn(), hold_id, work.now()).await?;
    let account_ids: BTreeSet<AccountId> = [current.from_account_id, current.to_account_id].into_iter().collect();
    let mut book = lock_book(work.txn(), &account_ids, work.now()).await?;
    let current = hold_by_id(work.txn(), hold_id, work.now()).await?;
    if current.status != HoldStatus::Pending {
        return Err(StoreError::HoldNotPending { hold_id, status: current.status.as_str().to_owned() });
    }
    book.release(current.from_account_id, current.to_account_id, current.amount)?;
    write_balances(work.txn(), &book).await?;
    resolve_hold(work.txn(), hold_id, HoldStatus::Voided, work.now(), None, None).await?;
    hold_by_id(work.txn(), hold_id, work.now()).await
}

/// Posts several pending holds as one entry (a fulfilled pool): each hold's source is debited what
/// it held, and each destination credited the total it was promised.
pub async fn post_holds_together(
    work: &UnitOfWork,
    hold_ids: &[i64],
    kind: EntryKind,
    reason: String,
    reference: Reference,
) -> StoreResult<EntryRecord> {
    let mut holds = Vec::with_capacity(hold_ids.len());
    for chunk in hold_ids.chunks(500) {
        holds.extend(hold::Entity::find().filter(hold::Column::Id.is_in(chunk.iter().copied())).all(work.txn()).await?);
    }
    let account_ids: BTreeSet<AccountId> =
        holds.iter().flat_map(|hold| [hold.from_account_id, hold.to_account_id]).collect();
    let mut book = lock_book(work.txn(), &account_ids, work.now()).await?;
    let mut debits = Vec::with_capacity(holds.len());
    let mut credits: std::collections::BTreeMap<AccountId, i64> = std::collections::BTreeMap::new();
    for held in &holds {
        // Resolve under the accounts' locks: a hold that expired or was voided meanwhile refuses the whole entry.
        if !resolve_hold(
            work.txn(),
            held.id,
            HoldStatus::Posted,
            work.now(),
            None,
            Some(Points::from_minor(held.amount)),
        )
        .await?
        {
            return Err(StoreError::HoldNotPending { hold_id: held.id, status: "no longer pending".into() });
        }
        book.release(held.from_account_id, held.to_account_id, Points::from_minor(held.amount))?;
        debits.push(PostingDraft { account_id: held.from_account_id, amount: -Points::from_minor(held.amount) });
        *credits.entry(held.to_account_id).or_default() += held.amount;
    }
    let mut postings = debits;
    postings.extend(
        credits.into_iter().map(|(account_id, amount)| PostingDraft { account_id, amount: Points::from_minor(amount) }),
    );
    let draft = EntryDraft { kind, reason, reference, postings, reverses_entry_id: None };
    let planned = book.post(&draft.postings)?;
    let entry = append_entry(work, &book, &draft, &planned).await?;
    for chunk in hold_ids.chunks(500) {
        hold::Entity::update_many()
            .col_expr(hold::Column::PostedEntryId, Expr::value(entry.id))
            .filter(hold::Column::Id.is_in(chunk.iter().copied()))
            .exec(work.txn())
            .await?;
    }
    Ok(entry)
}

/// Settles the due holds of these accounts (as every write touching them does).
pub async fn settle_due_holds(work: &UnitOfWork, account_ids: &[AccountId]) -> StoreResult<()> {
    let account_ids: BTreeSet<AccountId> = account_ids.iter().copied().collect();
    let book = lock_book(work.txn(), &account_ids, work.now()).await?;
    write_balances(work.txn(), &book).await
}

/// Sets what a hold belongs to, once the thing it holds for exists.
pub async fn set_hold_reference(work: &UnitOfWork, hold_id: i64, reference: &Reference) -> StoreResult<()> {
    hold::Entity::update_many()
        .col_expr(hold::Column::ReferenceType, Expr::value(reference.reference_type.clone()))
        .col_expr(hold::Column::ReferenceId, Expr::value(reference.reference_id.clone()))
        .filter(hold::Column::Id.eq(hold_id))
        .exec(work.txn())
        .await?;
    Ok(())
}

/// Moves a rider's points that are past their expiry to the breakage account: as much as is not
/// held for pending redemptions or pledges (the rest follows once those are settled). Decided under
/// the account's lock, so running it twice, or on two servers, expires nothing twice.
pub async fn expire_lots(
    work: &UnitOfWork,
    account_id: AccountId,
    breakage_id: AccountId,
) -> StoreResult<Option<EntryRecord>> {
    let account_ids: BTreeSet<AccountId> = [account_id, breakage_id].into_iter().collect();
    let mut book = lock_book(work.txn(), &account_ids, work.now()).await?;
    let due = super::lots::due_total(work.txn(), account_id, work.now()).await?;
    let available = book.get(account_id).map_or(0, |state| state.balances.available().minor());
    let amount = std::cmp::min(due, available);
    if amount <= 0 {
        return Ok(None);
    }
    let draft = EntryDraft {
        kind: EntryKind::Expiry,
        reason: format!("{} points expired", Points::from_minor(amount)),
        reference: Reference::to("account", account_id),
        postings: transfers_to_postings(&[Transfer {
            from: account_id,
            to: breakage_id,
            amount: Points::from_minor(amount),
        }]),
        reverses_entry_id: None,
    };
    let planned = book.post(&draft.postings)?;
    Ok(Some(append_entry(work, &book, &draft, &planned).await?))
}

/// Expires a batch of due holds; returns how many. Run by the background sweeper.
pub async fn expire_due_holds(work: &UnitOfWork) -> StoreResult<u64> {
    let due: Vec<(i64, i64)> = hold::Entity::find()
        .select_only()
        .column(hold::Column::FromAccountId)
        .column(hold::Column::ToAccountId)
        .filter(hold::Column::Status.eq(HoldStatus::Pending.as_str()))
        .filter(hold::Column::ExpiresAt.lte(work.now()))
        .limit(EXPIRY_HOLDS_PER_SWEEP)
        .into_tuple()
        .all(work.txn())
        .await?;
    let account_ids: BTreeSet<AccountId> = due.iter().flat_map(|(from, to)| [*from, *to]).collect();
    if account_ids.is_empty() {
        return Ok(0);
    }
    let (book, expired) = lock_book_counting_expiries(work.txn(), &account_ids, work.now()).await?;
    write_balances(work.txn(), &book).await?;
    Ok(expired)
}

/// Which of an account's lines a statement shows: `limit` at a time, newest first, older than
/// `cursor` (a posting id), within `from`..`to`.
#[derive(Clone, Debug)]
pub struct StatementWindow {
    pub limit: u64,
    pub cursor: Option<i64>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// An account as it stands (without its expiring lots) and a page of its lines, read in one query:
/// a statement is one round trip, and its balance and lines are of one instant.
pub async fn statement(
    connection: &impl ConnectionTrait,
    account_id: AccountId,
    now: DateTime<Utc>,
    window: &StatementWindow,
) -> StoreResult<(AccountRecord, Page<StatementLine>)> {
    // The account joined with the page of its postings, each joined with its entry (by primary
    // key). The page's columns are named apart from the account's.
    let mut bound = Bound::new(connection.get_database_backend());
    let mut page = format!(
        "SELECT p.id AS line_id, p.entry_id AS line_entry_id, p.created_at AS line_created_at, \
         p.amount AS line_amount, p.balance_after AS line_balance_after, e.kind AS line_kind, \
         e.reason AS line_reason, e.reference_type AS line_reference_type, e.reference_id AS line_reference_id \
         FROM postings p JOIN journal_entries e ON e.id = p.entry_id WHERE p.account_id = {}",
        bound.value(account_id)
    );
    if let Some(cursor) = window.cursor {
        page += &format!(" AND p.id < {}", bound.value(cursor));
    }
    if let Some(from) = window.from {
        page += &format!(" AND p.created_at >= {}", bound.value(from));
    }
    if let Some(to) = window.to {
        page += &format!(" AND p.created_at < {}", bound.value(to));
    }
    // The limit is written out, not bound: with `LIMIT $n` PostgreSQL's generic plan expects a
    // tenth of the account's postings, costs more than a plan made for each page, and so plans
    // every page anew. A page's limit is one of a few numbers (a checked integer), each its own
    // prepared statement.
    page += &format!(" ORDER BY p.id DESC LIMIT {}", window.limit + 1);
    let sql = format!(
        "SELECT a.*, s.* FROM accounts a LEFT JOIN ({page}) s ON true WHERE a.id = {}",
        bound.value(account_id)
    );
    let rows = connection.query_all_raw(bound.statement(&sql)).await?;
    let first = rows.first().ok_or(StoreError::NotFound("account"))?;
    let mut record = account_record(account::Model::from_query_result(first, "")?);
    let mut lines = Vec::with_capacity(rows.len());
    for row in &rows {
        // An account without a line in the window comes back as one row with no line.
        let Some(posting_id) = row.try_get::<Option<i64>>("", "line_id")? else { continue };
        lines.push(StatementLine {
            posting_id,
            entry_id: row.try_get("", "line_entry_id")?,
            created_at: row.try_get("", "line_created_at")?,
            kind: EntryKind::parse(&row.try_get::<String>("", "line_kind")?).unwrap_or(EntryKind::Adjustment),
            reason: row.try_get("", "line_reason")?,
            reference: Reference {
                reference_type: row.try_get("", "line_reference_type")?,
                reference_id: row.try_get("", "line_reference_id")?,
            },
            amount: Points::from_minor(row.try_get("", "line_amount")?),
            balance_after: Points::from_minor(row.try_get("", "line_balance_after")?),
        });
    }
    // The join keeps the page's rows but not, by any rule of SQL, their order.
    lines.sort_unstable_by_key(|line: &StatementLine| std::cmp::Reverse(line.posting_id));
    release_due_holds(connection, &mut record, now).await?;
    Ok((record, Page::from_rows(lines, window.limit, |line: &StatementLine| line.posting_id)))
}

/// The posted balance at an instant: the running balance of the last posting at or before it.
pub async fn balance_at(
    connection: &impl ConnectionTrait,
    account_id: AccountId,
    at: DateTime<Utc>,
) -> StoreResult<Points> {
    let balance_after: Option<i64> = posting::Entity::find()
        .select_only()
        .column(posting::Column::BalanceAfter)
        .filter(posting::Column::AccountId.eq(account_id))
        .filter(posting::Column::CreatedAt.lte(at))
        .order_by_desc(posting::Column::CreatedAt)
        .order_by_desc(posting::Column::Id)
        .into_tuple()
        .one(connection)
        .await?;
    Ok(Points::from_minor(balance_after.unwrap_or(0)))
}

/// Walks the hash chain and recomputes every account's balances from its postings and holds.
pub async fn verify(connection: &impl ConnectionTrait) -> StoreResult<VerifyReport> {
    let mut verifier = Verifier::default();
    let report = |verifier: &Verifier, accounts_checked, discrepancy| VerifyReport {
        entries_checked: verifier.entries_checked,
        accounts_checked,
        discrepancy,
    };
    // Entries and postings are read as two sorted streams, a page at a time, and joined as they
    // go: memory stays one page of each however large the journal or its entries are.
    let mut entries = EntryPages { connection, after_id: 0, page: VecDeque::new(), done: false };
    let mut postings = PostingPages { connection, after: (0, 0), page: VecDeque::new(), done: false };
    while let Some(entry) = entries.next().await? {
        let mut stored = Vec::new();
        while let Some(&(entry_id, _, account_id, amount, balance_after)) = postings.peek().await? {
            if entry_id > entry.id {
                break;
            }
            if entry_id < entry.id {
                return Ok(report(&verifier, 0, Some(orphan_postings(entry_id))));
            }
            stored.push(StoredPosting { account_id, amount, balance_after });
            postings.page.pop_front();
        }
        let pairs: Vec<(AccountId, i64)> = stored.iter().map(|posting| (posting.account_id, posting.amount)).collect();
        let content = EntryContent {
            id: entry.id,
            kind: &entry.kind,
            reason: &entry.reason,
            reference_type: entry.reference_type.as_deref(),
            reference_id: entry.reference_id.as_deref(),
            actor_id: entry.actor_id,
            created_at: entry.created_at,
            reverses_entry_id: entry.reverses_entry_id,
            postings: &pairs,
        };
        if let Err(discrepancy) = verifier.entry(&content, &entry.prev_hash, &entry.hash, &stored) {
            return Ok(report(&verifier, 0, Some(discrepancy)));
        }
    }
    if let Some(&(entry_id, ..)) = postings.peek().await? {
        return Ok(report(&verifier, 0, Some(orphan_postings(entry_id))));
    }
    let head = ledger_head::Entity::find_by_id(1).one(connection).await?.ok_or(StoreError::NotFound("ledger head"))?;
    if let Err(discrepancy) = verifier.head(head.last_entry_id, &head.last_hash) {
        return Ok(report(&verifier, 0, Some(discrepancy)));
    }
    let pending_out = pending_sums(connection, hold::Column::FromAccountId).await?;
    let pending_in = pending_sums(connection, hold::Column::ToAccountId).await?;
    let accounts = account::Entity::find().order_by_asc(account::Column::Id).all(connection).await?;
    let lots = super::lots::remaining_by_account(connection).await?;
    for account in &accounts {
        if account.kind == AccountKind::Rider.as_str() {
            let in_lots = lots.get(&account.id).copied().unwrap_or(0);
            if in_lots != balances(account).posted().minor() {
                let problem = format!(
                    "its lots hold {} but its balance is {}",
                    Points::from_minor(in_lots),
                    balances(account).posted()
                );
                return Ok(report(
                    &verifier,
                    accounts.len() as u64,
                    Some(Discrepancy::Account { account_id: account.id, problem }),
                ));
            }
        }
        let pending =
            (pending_out.get(&account.id).copied().unwrap_or(0), pending_in.get(&account.id).copied().unwrap_or(0));
        if let Err(discrepancy) = verifier.account(account.id, &balances(account), pending) {
            return Ok(report(&verifier, accounts.len() as u64, Some(discrepancy)));
        }
        if account.no_overdraft && balances(account).available().is_negative() {
            let discrepancy = Discrepancy::Account { account_id: account.id, problem: "it is below zero".into() };
            return Ok(report(&verifier, accounts.len() as u64, Some(discrepancy)));
        }
    }
    Ok(report(&verifier, accounts.len() as u64, None))
}

fn orphan_postings(entry_id: EntryId) -> Discrepancy {
    Discrepancy::Entry { entry_id, problem: "postings refer to an entry missing from the chain".into() }
}

/// The journal's entries in id order, read a page at a time.
struct EntryPages<'a, C> {
    connection: &'a C,
    after_id: i64,
    page: VecDeque<journal_entry::Model>,
    done: bool,
}

impl<C: ConnectionTrait> EntryPages<'_, C> {
    async fn next(&mut self) -> StoreResult<Option<journal_entry::Model>> {
        if self.page.is_empty() && !self.done {
            let page = journal_entry::Entity::find()
                .filter(journal_entry::Column::Id.gt(self.after_id))
                .order_by_asc(journal_entry::Column::Id)
                .limit(VERIFY_ENTRIES_PER_PAGE)
                .all(self.connection)
                .await?;
            self.done = (page.len() as u64) < VERIFY_ENTRIES_PER_PAGE;
            if let Some(last) = page.last() {
                self.after_id = last.id;
            }
            self.page = page.into();
        }
        Ok(self.page.pop_front())
    }
}

/// Postings as (entry id, posting id, account, amount, balance after), in (entry, posting) order,
/// read a page at a time.
struct PostingPages<'a, C> {
    connection: &'a C,
    after: (i64, i64),
    page: VecDeque<(i64, i64, i64, i64, i64)>,
    done: bool,
}

impl<C: ConnectionTrait> PostingPages<'_, C> {
    async fn peek(&mut self) -> StoreResult<Option<&(i64, i64, i64, i64, i64)>> {
        if self.page.is_empty() && !self.done {
            let (entry_id, posting_id) = self.after;
            let page: Vec<(i64, i64, i64, i64, i64)> = posting::Entity::find()
                .select_only()
                .column(posting::Column::EntryId)
                .column(posting::Column::Id)
                .column(posting::Column::AccountId)
                .column(posting::Column::Amount)
                .column(posting::Column::BalanceAfter)
                // A range on the entry index, then past the last posting read.
                .filter(posting::Column::EntryId.gte(entry_id))
                .filter(
                    Condition::any().add(posting::Column::EntryId.gt(entry_id)).add(posting::Column::Id.gt(posting_id)),
                )
                .order_by_asc(posting::Column::EntryId)
                .order_by_asc(posting::Column::Id)
                .limit(VERIFY_POSTINGS_PER_PAGE)
                .into_tuple()
                .all(self.connection)
                .await?;
            self.done = (page.len() as u64) < VERIFY_POSTINGS_PER_PAGE;
            if let Some(&(entry_id, posting_id, ..)) = page.last() {
                self.after = (entry_id, posting_id);
            }
            self.page = page.into();
        }
        Ok(self.page.front())
    }
}

async fn pending_sums(connection: &impl ConnectionTrait, side: hold::Column) -> StoreResult<HashMap<AccountId, i64>> {
    let rows: Vec<(i64, i64)> = hold::Entity::find()
        .select_only()
        .column(side)
        .column_as(Expr::col(hold::Column::Amount).sum().cast_as("bigint"), "total")
        .filter(hold::Column::Status.eq(HoldStatus::Pending.as_str()))
        .group_by(side)
        .into_tuple()
        .all(connection)
        .await?;
    Ok(rows.into_iter().collect())
}
