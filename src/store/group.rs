//! Group commit: concurrent units of work share one database transaction and one flush to disk.
//!
//! Units of work take turns (the baton, a fair mutex), each inside its own savepoint of the open
//! batch's transaction, so one request's failure rolls back only its own work and never its
//! neighbours'. When a unit finishes, it releases its savepoint and opens the next unit's in the
//! same round trip (under load a unit pays one round trip for its savepoint, not two), joins the
//! batch's members and wakes the flusher; the flusher queues for the baton behind every unit
//! already waiting, so a batch holds whatever arrived while the previous one was being flushed. It
//! then commits the batch and only then answers its members: an answer always follows a durable
//! commit. With one client a batch is one unit and nothing waits. A unit that gives up leaves its
//! savepoint to be rolled back by whoever holds the batch next, or before the commit.
//!
//! Units run one after another, so the order of entries in a batch is the order of the hash chain,
//! and the chain head is read once per batch and written once at its end. On PostgreSQL every batch
//! takes a transaction-level advisory lock first, so batches from several API servers on one
//! database follow one another instead of deadlocking on each other's row locks; on SQLite it
//! begins IMMEDIATE, taking the write lock before it reads.
//!
//! Work that touches no balance and no hash chain (a partner's signal batch) may run outside the
//! batches in a transaction of its own (`GroupCommit::solo`), side by side on PostgreSQL.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};
use tokio::sync::{Notify, OwnedMutexGuard, oneshot};

use super::script::{Kind, Rows, Script, Value};
use super::{StoreError, StoreResult};
use entity::audit_event;

/// The key of the advisory lock every batch holds on PostgreSQL (any constant shared by all servers).
const WRITE_LOCK_KEY: i64 = 0x6c65_6467_6572; // "ledger"

/// The end of the hash chain as the open batch sees it.
#[derive(Clone, Debug)]
pub struct ChainHead {
    pub last_entry_id: i64,
    pub last_hash: String,
    pub last_at: DateTime<Utc>,
    /// Moved by this batch, so it is written back before the commit.
    pub moved: bool,
}

/// How many batches were committed and how many units they held.
#[derive(Debug, Default)]
pub struct CommitStats {
    pub batches: AtomicU64,
    pub units: AtomicU64,
}

pub(super) struct GroupCommit {
    connection: DatabaseConnection,
    slot: Arc<tokio::sync::Mutex<Slot>>,
    flush: Arc<Notify>,
    pub(super) stats: CommitStats,
}

#[derive(Default)]
pub(super) struct Slot {
    open: Option<OpenBatch>,
}

struct OpenBatch {
    txn: DatabaseTransaction,
    members: Vec<oneshot::Sender<Result<(), String>>>,
    /// Units of work the members carry (a set of postings is one member and many units).
    units: u64,
    head: Option<ChainHead>,
    /// The audit records of the finished units, written with one insert before the commit.
    audit: Vec<audit_event::ActiveModel>,
    savepoint: Savepoint,
}

/// The state of the batch's one savepoint (`unit`) between units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Savepoint {
    /// None is open: the next unit opens it.
    Closed,
    /// Open and empty, ready for the next unit.
    Ready,
    /// A unit gave up inside it: what it did is rolled back before anything else runs.
    Abandoned,
}

const OPEN_SAVEPOINT: &str = "SAVEPOINT unit";
const RELEASE_AND_REOPEN_SAVEPOINT: &str = "RELEASE SAVEPOINT unit; SAVEPOINT unit";
const ROLL_BACK_SAVEPOINT: &str = "ROLLBACK TO SAVEPOINT unit";

/// A unit's turn: the baton (its work goes into the batch's transaction, inside the savepoint);
/// or, for a unit outside group commit (no baton), a transaction of its own.
pub(super) struct Turn {
    own: Option<DatabaseTransaction>,
    /// Units of work this turn does: one, or a set's requests.
    pub(super) units: u64,
    pub(super) head: Mutex<Option<ChainHead>>,
    audit: Mutex<Vec<audit_event::ActiveModel>>,
    baton: Option<Baton>,
}

/// The baton; handing it back wakes the flusher, so a batch is never left open with no one to commit it.
struct Baton {
    guard: Option<OwnedMutexGuard<Slot>>,
    flush: Arc<Notify>,
    /// This unit opened the batch and has not finished: giving up rolls the batch back. It works
    /// in the batch's transaction itself, outside any savepoint, which saves round trips.
    opened_batch: bool,
    /// This unit works inside the savepoint and has not finished: giving up abandons it.
    in_savepoint: bool,
}

impl Baton {
    fn batch(&self) -> &OpenBatch {
        self.guard.as_ref().and_then(|slot| slot.open.as_ref()).expect("the baton holds an open batch")
    }

    fn batch_mut(&mut self) -> &mut OpenBatch {
        self.guard.as_mut().and_then(|slot| slot.open.as_mut()).expect("the baton holds an open batch")
    }
}

impl Drop for Baton {
    fn drop(&mut self) {
        if let Some(mut slot) = self.guard.take() {
            if self.opened_batch {
                // Dropping the transaction rolls it back; no one else has joined it.
                slot.open = None;
            } else if self.in_savepoint
                && let Some(batch) = slot.open.as_mut()
            {
                // Rolled back by whoever holds the batch next, before anything else (see `turn`
                // and `flush`): a drop cannot wait for the database.
                batch.savepoint = Savepoint::Abandoned;
            }
        }
        self.flush.notify_one();
    }
}

impl GroupCommit {
    pub(super) fn start(connection: DatabaseConnection) -> Arc<GroupCommit> {
        let group = Arc::new(GroupCommit {
            connection,
            slot: Arc::new(tokio::sync::Mutex::new(Slot::default())),
            flush: Arc::new(Notify::new()),
            stats: CommitStats::default(),
        });
        tokio::spawn(run_flusher(Arc::downgrade(&group), group.flush.clone()));
        group
    }

    /// Waits for the baton, and opens a savepoint in the open batch or opens a batch.
    pub(super) async fn turn(&self) -> StoreResult<Turn> {
        let guard = self.slot.clone().lock_owned().await;
        let mut baton =
            Baton { guard: Some(guard), flush: self.flush.clone(), opened_batch: false, in_savepoint: false };
        let slot = baton.guard.as_mut().expect("the baton is held");
        match &mut slot.open {
            Some(batch) => {
                match batch.savepoint {
                    Savepoint::Ready => {}
                    Savepoint::Closed => {
                        batch.txn.execute_unprepared(OPEN_SAVEPOINT).await?;
                    }
                    Savepoint::Abandoned => {
                        batch.txn.execute_unprepared(ROLL_BACK_SAVEPOINT).await?;
                    }
                }
                batch.savepoint = Savepoint::Ready;
                baton.in_savepoint = true;
            }
            None => {
                let txn = match self.connection.get_database_backend() {
                    DbBackend::Postgres => {
                        let txn = self.connection.begin().await?;
                        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")).await?;
                        txn
                    }
                    // Take SQLite's write lock at once: a batch that read first could not write after
                    // another process (a second server, `create-admin`) wrote in between.
                    _ => {
                        let immediate = TransactionOptions {
                            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                            ..Default::default()
                        };
                        self.connection.begin_with_options(immediate).await?
                    }
                };
                slot.open = Some(OpenBatch {
                    txn,
                    members: Vec::new(),
                    units: 0,
                    head: None,
                    audit: Vec::new(),
                    savepoint: Savepoint::Closed,
                });
                baton.opened_batch = true;
            }
        }
        let head = Mutex::new(baton.batch().head.clone());
        Ok(Turn { own: None, units: 1, head, audit: Mutex::default(), baton: Some(baton) })
    }

    /// A unit in a transaction of its own, beside the batches, for work that touches no balance
    /// and no hash chain. SQLite has one writer, so there it takes its turn in the batch instead.
    pub(super) async fn solo(&self) -> StoreResult<Turn> {
        if self.connection.get_database_backend() != DbBackend::Postgres {
            return self.turn().await;
        }
        let txn = self.connection.begin().await?;
        Ok(Turn { own: Some(txn), units: 1, head: Mutex::default(), audit: Mutex::default(), baton: None })
    }

    /// Commits the open batch, if any, and answers its members.
    async fn flush(&self) {
        let Some(batch) = self.slot.lock().await.open.take() else { return };
        let units = batch.units;
        let result = async {
            // Whatever a unit that gave up left behind is never committed.
            if batch.savepoint == Savepoint::Abandoned {
                batch.txn.execute_unprepared(ROLL_BACK_SAVEPOINT).await?;
            }
            commit_batch(batch.txn, batch.head, batch.audit).await
        }
        .await
        .map_err(|error| error.to_string());
        if result.is_ok() {
            self.stats.batches.fetch_add(1, Ordering::Relaxed);
            self.stats.units.fetch_add(units, Ordering::Relaxed);
        } else {
            tracing::error!(error = ?result, units, "group commit failed");
        }
        for member in batch.members {
            let _ = member.send(result.clone());
        }
    }
}

async fn run_flusher(group: Weak<GroupCommit>, flush: Arc<Notify>) {
    loop {
        flush.notified().await;
        let Some(group) = group.upgrade() else { return };
        group.flush().await;
    }
}

/// Writes the batch's audit records and chain head with one script (one round trip), then commits.
async fn commit_batch(
    txn: DatabaseTransaction,
    head: Option<ChainHead>,
    audit: Vec<audit_event::ActiveModel>,
) -> Result<(), DbErr> {
    let mut script = Script::new(txn.get_database_backend());
    let mut rows = Rows::new("audit_events", AUDIT_COLUMNS);
    for record in &audit {
        rows.push([
            Value::Time(*record.at.as_ref()),
            Value::optional_integer(*record.actor_id.as_ref()),
            Value::Text(record.action.as_ref().clone()),
            Value::Text(record.target_type.as_ref().clone()),
            Value::optional_text(record.target_id.as_ref().as_deref()),
            Value::optional_text(record.request_id.as_ref().as_deref()),
            Value::Text(record.summary.as_ref().clone()),
        ]);
    }
    script.insert(&mut rows);
    if let Some(head) = head.filter(|head| head.moved) {
        script.push(&format!(
            "UPDATE ledger_head SET last_entry_id = {}, last_hash = {}, last_at = {} WHERE id = 1",
            head.last_entry_id,
            script.text(&head.last_hash),
            script.time(head.last_at)
        ));
    }
    script.run(&txn).await?;
    txn.commit().await
}

const AUDIT_COLUMNS: &[(&str, Kind)] = &[
    ("at", Kind::Time),
    ("actor_id", Kind::Integer),
    ("action", Kind::Text),
    ("target_type", Kind::Text),
    ("target_id", Kind::Text),
    ("request_id", Kind::Text),
    ("summary", Kind::Text),
];

impl Turn {
    /// Where this unit's statements go: the batch's transaction (inside the savepoint unless it
    /// opened the batch), or its own.
    pub(super) fn txn(&self) -> &DatabaseTransaction {
        match (&self.own, &self.baton) {
            (Some(own), _) => own,
            (None, Some(baton)) => &baton.batch().txn,
            (None, None) => unreachable!("a unit outside group commit has its own transaction"),
        }
    }

    /// Keeps an audit record to be written with the batch (and dropped with this unit if it fails).
    pub(super) fn audit(&self, record: audit_event::ActiveModel) {
        self.audit.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(record);
    }

    /// Releases the savepoint, hands the baton on, and waits until the batch is durable.
    pub(super) async fn finish(self) -> StoreResult<()> {
        let Turn { own, units, head, audit, baton } = self;
        let head = head.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
        let audit = audit.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(mut baton) = baton else {
            let txn = own.expect("a unit outside group commit has its own transaction");
            // The hash chain is extended in batches only; an entry here would fork it.
            if head.is_some_and(|head| head.moved) {
                return Err(StoreError::Database(DbErr::Custom("entries are posted in group commit only".into())));
            }
            return commit_batch(txn, None, audit).await.map_err(StoreError::from);
        };
        if baton.in_savepoint {
            // Released, and open again for the next unit, in one round trip.
            baton.batch().txn.execute_unprepared(RELEASE_AND_REOPEN_SAVEPOINT).await?;
            baton.in_savepoint = false;
        }
        Self::wait_durable(baton, units, head, audit).await
    }

    /// Gives up this unit's work and waits until everything before it in the batch is durable.
    pub(super) async fn wait_for_batch(self) -> StoreResult<()> {
        let Turn { own, baton, .. } = self;
        let Some(mut baton) = baton else {
            // Its own transaction: nothing before it to wait for.
            if let Some(txn) = own {
                txn.rollback().await?;
            }
            return Ok(());
        };
        if baton.opened_batch {
            // Dropping the baton rolls the batch back, and every batch before it is durable
            // already (a batch opens only once the one before has committed).
            return Ok(());
        }
        // Rolled back; the savepoint stays open, empty, for the next unit.
        baton.batch().txn.execute_unprepared(ROLL_BACK_SAVEPOINT).await?;
        baton.in_savepoint = false;
        // It made nothing durable, so it counts as no unit of the batch.
        Self::wait_durable(baton, 0, None, Vec::new()).await
    }

    async fn wait_durable(
        mut baton: Baton,
        units: u64,
        head: Option<ChainHead>,
        audit: Vec<audit_event::ActiveModel>,
    ) -> StoreResult<()> {
        let (sender, receiver) = oneshot::channel();
        let batch = baton.batch_mut();
        batch.members.push(sender);
        batch.units += units;
        if head.is_some() {
            batch.head = head;
        }
        batch.audit.extend(audit);
        baton.opened_batch = false;
        baton.in_savepoint = false;
        drop(baton);
        match receiver.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(StoreError::Database(DbErr::Custom(message))),
            Err(_) => Err(StoreError::Database(DbErr::Custom("the group commit stopped".into()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sea_orm::{Database, Statement};

    use super::*;

    async fn database() -> (tempfile::TempDir, DatabaseConnection) {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}?mode=rwc", directory.path().join("group.db").display());
        let connection = Database::connect(&url).await.expect("SQLite opens");
        connection.execute_unprepared("CREATE TABLE t (x INTEGER NOT NULL)").await.expect("a table");
        (directory, connection)
    }

    async fn rows(connection: &DatabaseConnection) -> Vec<i64> {
        let sql = "SELECT x FROM t ORDER BY x";
        let rows = connection.query_all_raw(Statement::from_string(DbBackend::Sqlite, sql)).await.expect("rows");
        rows.iter().map(|row| row.try_get::<i64>("", "x").expect("an integer")).collect()
    }

    /// A unit that writes `x`, then finishes or gives up (is dropped, as when its request fails or
    /// is cut off).
    async fn unit(group: Arc<GroupCommit>, x: i64, finishes: bool) {
        let turn = group.turn().await.expect("a turn");
        turn.txn().execute_unprepared(&format!("INSERT INTO t VALUES ({x})")).await.expect("an insert");
        if finishes {
            turn.finish().await.expect("durable");
        }
    }

    #[tokio::test]
    async fn a_unit_that_gives_up_inside_a_batch_leaves_nothing_and_its_neighbours_commit() {
        // The unit that gives up is followed by another unit, or only by the commit.
        for followed in [true, false] {
            let (_directory, connection) = database().await;
            let group = GroupCommit::start(connection.clone());
            let first = group.turn().await.expect("the batch opens");
            first.txn().execute_unprepared("INSERT INTO t VALUES (1)").await.expect("an insert");
            // The next units queue for the baton while the first holds it, so all share its batch.
            let mut queued = vec![tokio::spawn(unit(group.clone(), 2, false))];
            tokio::time::sleep(Duration::from_millis(20)).await;
            if followed {
                queued.push(tokio::spawn(unit(group.clone(), 3, true)));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            first.finish().await.expect("durable");
            for task in queued {
                task.await.expect("the unit ran");
            }
            let expected = if followed { vec![1, 3] } else { vec![1] };
            assert_eq!(rows(&connection).await, expected, "followed: {followed}");
            assert_eq!(group.stats.batches.load(Ordering::Relaxed), 1, "one batch");
        }
    }
}
