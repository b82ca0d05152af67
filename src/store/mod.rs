//! The only place that talks to the database.
//!
//! Every write runs in one [`UnitOfWork`]: the change, the balances, the idempotency record and the
//! audit record together, or nothing. Concurrent units share a database transaction (group commit,
//! see `group`): each works in its own savepoint, so it succeeds or fails alone, and is answered
//! only once the shared commit is durable. SQLite gets one writer connection (SQLite serialises
//! writers anyway) and a small pool of readers; PostgreSQL gets one pool for both.

pub mod audit;
pub mod baseline;
mod bound;
mod combine;
mod group;
pub mod ledger;
pub mod levels;
pub mod lots;
pub mod membership;
mod script;
pub mod sessions;
mod signals;
pub mod spending;
pub mod users;
pub mod volunteering;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::postgres::PgSslMode;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectOptions, Database, DatabaseConnection, DatabaseTransaction,
    DbBackend, DbErr, EntityTrait, QueryFilter, SqlErr,
};
use serde::Serialize;

use crate::clock::Clock;
use crate::domain::Invalid;
use crate::domain::ledger::LedgerError;
use combine::Combiner;
pub use combine::{AuditNote, PostRequest, Posted};
use entity::idempotency_key;
pub use group::{ChainHead, CommitStats};
use group::{GroupCommit, Turn};
pub use signals::{CheckedBatch, Stored};

/// Connections a PostgreSQL pool may open; the server has `max_connections` (100 by default) for
/// every API server in front of it.
const POSTGRES_CONNECTIONS_MAX: u32 = 16;
/// Reader connections on SQLite (the writer is one more).
const SQLITE_READERS_MAX: u32 = 4;
/// Prepared statements each SQLite connection keeps (least recently used go; a miss prepares again).
const SQLITE_STATEMENTS_CACHED: usize = 24;
/// How long SQLite waits for another process's lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// A pooled connection idle this long is pinged before it is handed out (one that was in use
/// moments ago is not: the driver's default pinged on every checkout, a round trip more for every
/// read and every batch). A connection that broke while in use fails its statement, and the pool
/// drops it.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("hold {hold_id} is already {status}")]
    HoldNotPending { hold_id: i64, status: String },
    #[error("entry {entry_id} was already reversed by entry {reversal_entry_id}")]
    AlreadyReversed { entry_id: i64, reversal_entry_id: i64 },
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyMismatch,
    /// A business rule refuses the request as things stand (out of stock, pool closed...).
    #[error("{detail}")]
    Refused { code: &'static str, detail: String },
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

impl StoreError {
    /// A unique-constraint violation, classified by kind rather than by constraint name (names differ per backend).
    /// A retry that arrives while the first request with its key has not finished.
    fn key_in_progress() -> StoreError {
        StoreError::Conflict("a request with this Idempotency-Key is still in progress".into())
    }

    pub fn is_unique_violation(error: &DbErr) -> bool {
        matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Who is acting, for which request, and when: recorded with every change.
#[derive(Clone, Debug)]
pub struct Context {
    pub actor_id: Option<i64>,
    pub request_id: Option<String>,
    pub now: DateTime<Utc>,
}

/// A client's `Idempotency-Key`, scoped to the caller, with a fingerprint of the request it came with.
#[derive(Clone, Debug)]
pub struct IdempotencyKey {
    pub caller_id: i64,
    pub key: String,
    pub request_hash: String,
}

/// A stored first answer, replayed for a retry.
#[derive(Clone, Debug)]
pub struct Replay {
    pub status_code: u16,
    pub body: serde_json::Value,
}

#[derive(Clone)]
pub struct Store {
    write: DatabaseConnection,
    read: DatabaseConnection,
    group: Arc<GroupCommit>,
    /// Posting requests waiting to be executed as a set (see `combine`).
    combiner: Arc<Combiner>,
    /// Each partner's signal batches waiting to be stored as a set (see `signals`).
    signals: Arc<signals::SignalQueues>,
    clock: Arc<dyn Clock>,
}

impl Store {
    /// Connects (creating a SQLite file if needed) and runs every pending migration.
    pub async fn connect(database_url: &str, clock: Arc<dyn Clock>) -> StoreResult<Store> {
        let store = if database_url.starts_with("sqlite:") {
            let write = Database::connect(sqlite_options(database_url, 1)).await?;
            Migrator::up(&write, None).await?;
            let read = Database::connect(sqlite_options(database_url, SQLITE_READERS_MAX)).await?;
            Store {
                group: GroupCommit::start(write.clone()),
                combiner: Arc::default(),
                signals: Arc::default(),
                write,
                read,
                clock,
            }
        } else {
            let mut options = ConnectOptions::new(database_url);
            let plain = plain_by_default(database_url);
            options
                .max_connections(POSTGRES_CONNECTIONS_MAX)
                .min_connections(1)
                .connect_timeout(Duration::from_secs(10))
                .acquire_timeout(Duration::from_secs(30))
                .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR)
                .sqlx_logging(false)
                .map_sqlx_postgres_opts(move |postgres| {
                    // The driver's default ("prefer") encrypts whenever the server can. To a server
                    // on this machine that protects nothing, and costs both processes on every
                    // statement (a tenth of a balance read's time, measured): plain, unless chosen.
                    if plain { postgres.ssl_mode(PgSslMode::Disable) } else { postgres }
                });
            let write = Database::connect(options).await?;
            Migrator::up(&write, None).await?;
            Store {
                group: GroupCommit::start(write.clone()),
                combiner: Arc::default(),
                signals: Arc::default(),
                read: write.clone(),
                write,
                clock,
            }
        };
        ledger::ensure_genesis(&store.write).await?;
        volunteering::ensure_default_categories(&store.write, store.now()).await?;
        Ok(store)
    }

    pub fn backend(&self) -> DbBackend {
        self.write.get_database_backend()
    }

    pub fn reader(&self) -> &DatabaseConnection {
        &self.read
    }

    /// The writer connection outside group commit: for the benchmark's baseline only.
    pub fn unbatched_writer(&self) -> &DatabaseConnection {
        &self.write
    }

    /// Batches committed so far and the units of work they held.
    pub fn commit_stats(&self) -> &CommitStats {
        &self.group.stats
    }

    /// The clock's time, to the microsecond both databases keep.
    pub fn now(&self) -> DateTime<Utc> {
        crate::domain::ledger::ledger_time(self.clock.now())
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> StoreResult<()> {
        self.read.ping().await?;
        Ok(())
    }

    pub async fn close(self) {
        let _ = self.read.close().await;
        let _ = self.write.close().await;
    }

    /// Starts a unit of work in the open batch (see [`group`]), or finds the stored answer of an
    /// earlier request with the same key.
    pub async fn begin(
        &self,
        actor_id: Option<i64>,
        request_id: Option<String>,
        key: Option<IdempotencyKey>,
    ) -> StoreResult<Begun> {
        if let Some(key) = &key
            && let Some(replay) = self.find_replay(key).await?
        {
            return Ok(Begun::Replayed(replay));
        }
        let turn = self.group.turn().await?;
        let context = Context { actor_id, request_id, now: self.now() };
        let mut idempotency_record_id = None;
        if let Some(key) = &key {
            // Claim the key first. Units take turns, so a unit holding the same key has finished:
            // wait until its batch is durable, then replay its answer instead of doing the work twice.
            let claim = idempotency_key::ActiveModel {
                caller_id: Set(key.caller_id),
                key: Set(key.key.clone()),
                request_hash: Set(key.request_hash.clone()),
                status_code: Set(0),
                response_body: Set(String::new()),
                created_at: Set(context.now),
                ..Default::default()
            };
            match claim.insert(turn.txn()).await {
                Ok(record) => idempotency_record_id = Some(record.id),
                Err(error) if StoreError::is_unique_violation(&error) => {
                    turn.wait_for_batch().await?;
                    return match self.find_replay(key).await? {
                        Some(replay) => Ok(Begun::Replayed(replay)),
                        None => Err(StoreError::key_in_progress()),
                    };
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(Begun::Fresh(UnitOfWork { turn, context, idempotency_record_id }))
    }

    /// Starts a unit of work in the open batch for a write that takes no `Idempotency-Key`.
    pub(super) async fn begin_unkeyed(
        &self,
        actor_id: Option<i64>,
        request_id: Option<String>,
    ) -> StoreResult<UnitOfWork> {
        let turn = self.group.turn().await?;
        Ok(UnitOfWork { turn, context: Context { actor_id, request_id, now: self.now() }, idempotency_record_id: None })
    }

    /// Starts a unit of work outside group commit, in a transaction of its own, for writes that
    /// touch no balance and no hash chain: they run side by side with each other and with the
    /// batches on PostgreSQL (on SQLite, with its one writer, they join the open batch). No
    /// `Idempotency-Key`; posting an entry in one is refused at commit.
    pub async fn begin_solo(&self, actor_id: Option<i64>, request_id: Option<String>) -> StoreResult<UnitOfWork> {
        let turn = self.group.solo().await?;
        Ok(UnitOfWork { turn, context: Context { actor_id, request_id, now: self.now() }, idempotency_record_id: None })
    }

    async fn find_replay(&self, key: &IdempotencyKey) -> StoreResult<Option<Replay>> {
        let found = idempotency_key::Entity::find()
            .filter(idempotency_key::Column::CallerId.eq(key.caller_id))
            .filter(idempotency_key::Column::Key.eq(key.key.as_str()))
            .one(&self.read)
            .await?;
        let Some(found) = found else { return Ok(None) };
        stored_answer(&found, key)
    }
}

/// The answer stored for a key, for a retry with the same request; `None` while the first request
/// is still in progress (its claim holds no answer yet).
fn stored_answer(found: &idempotency_key::Model, key: &IdempotencyKey) -> StoreResult<Option<Replay>> {
    if found.request_hash != key.request_hash {
        return Err(StoreError::IdempotencyMismatch);
    }
    if found.status_code == 0 {
        return Ok(None);
    }
    let body = serde_json::from_str(&found.response_body).map_err(|error| DbErr::Custom(error.to_string()))?;
    Ok(Some(Replay { status_code: u16::try_from(found.status_code).unwrap_or(200), body }))
}

/// Whether a PostgreSQL URL is spoken to without TLS though it does not say so: the server is on
/// this machine, and neither the URL (`sslmode=`) nor the environment (`PGSSLMODE`) chooses.
pub fn plain_by_default(database_url: &str) -> bool {
    !tls_chosen(database_url) && postgres_on_this_machine(database_url)
}

/// Whether the URL names a PostgreSQL server on this machine (loopback or a Unix socket).
pub fn postgres_on_this_machine(database_url: &str) -> bool {
    use std::str::FromStr;
    let postgres = ["postgres://", "postgresql://"].iter().any(|scheme| database_url.starts_with(scheme));
    postgres
        && sea_orm::sqlx::postgres::PgConnectOptions::from_str(database_url)
            .is_ok_and(|options| on_this_machine(options.get_host()))
}

/// Whether the URL (`sslmode=`) or the environment (`PGSSLMODE`) says how to use TLS.
fn tls_chosen(database_url: &str) -> bool {
    let query = database_url.split_once('?').map_or("", |(_, query)| query);
    query.split('&').any(|pair| pair.split('=').next() == Some("sslmode")) || std::env::var_os("PGSSLMODE").is_some()
}

/// A loopback address or a Unix socket's directory.
fn on_this_machine(host: &str) -> bool {
    host.starts_with('/')
        || host.eq_ignore_ascii_case("localhost")
        || host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|address| address.is_loopback())
}

fn sqlite_options(database_url: &str, connections: u32) -> ConnectOptions {
    let mut options = ConnectOptions::new(database_url);
    options
        .max_connections(connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|sqlite| {
            sqlite
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // FULL: a commit is on disk before the request is answered.
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                // On SQLite prepared statements live in this process, and a multi-row insert's is
                // large: sqlx's default of a hundred per connection let signal batches grow the
                // server past 150 MiB.
                .statement_cache_capacity(SQLITE_STATEMENTS_CACHED)
                // The bundled SQLite keeps temporary tables and sorts in memory; a rule's
                // aggregate over a month of signals then grew the server by 100 MiB. On disk
                // (the OS caches it), memory stays bounded by the page cache.
                .pragma("temp_store", "FILE")
        });
    options
}

pub enum Begun {
    Fresh(UnitOfWork),
    Replayed(Replay),
}

/// One use case's work: a savepoint in the batch's transaction, committed durably with the batch;
/// dropped without `commit`, it rolls back alone.
pub struct UnitOfWork {
    turn: Turn,
    pub context: Context,
    idempotency_record_id: Option<i64>,
}

impl UnitOfWork {
    pub fn txn(&self) -> &DatabaseTransaction {
        self.turn.txn()
    }

    /// The end of the hash chain as this batch sees it (`None`: read it from the database).
    pub fn chain_head(&self) -> &std::sync::Mutex<Option<ChainHead>> {
        &self.turn.head
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.context.now
    }

    /// Records what changed; written with the batch, in the same transaction as the change.
    pub async fn audit(
        &self,
        action: &str,
        target_type: &str,
        target_id: impl ToString,
        summary: serde_json::Value,
    ) -> StoreResult<()> {
        self.turn.audit(audit::event(&self.context, action, target_type, Some(target_id.to_string()), summary));
        Ok(())
    }

    /// Stores the answer for the idempotency key (if any) and commits everything.
    pub async fn commit<T: Serialize>(self, status_code: u16, answer: &T) -> StoreResult<()> {
        if let Some(record_id) = self.idempotency_record_id {
            let body = serde_json::to_string(answer).map_err(|error| DbErr::Custom(error.to_string()))?;
            idempotency_key::ActiveModel {
                id: Set(record_id),
                status_code: Set(i32::from(status_code)),
                response_body: Set(body),
                ..Default::default()
            }
            .update(self.txn())
            .await?;
        }
        self.turn.finish().await
    }

    /// Commits a change that has no answer worth replaying.
    pub async fn commit_plain(self) -> StoreResult<()> {
        self.turn.finish().await
    }
}

/// A page of results in keyset order with the cursor of the next page.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<i64>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only says there is more.
    pub fn from_rows(mut rows: Vec<T>, limit: u64, cursor_of: impl Fn(&T) -> i64) -> Self {
        let has_more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if has_more { rows.last().map(&cursor_of) } else { None };
        Page { items: rows, next_cursor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_is_left_as_chosen_and_off_only_for_a_server_on_this_machine() {
        assert!(tls_chosen("postgres://u@db.example:5432/ledger?sslmode=require"));
        assert!(tls_chosen("postgres://u@127.0.0.1/ledger?application_name=x&sslmode=prefer"));
        assert!(!tls_chosen("postgres://u@127.0.0.1/ledger?application_name=sslmode"));
        for host in ["127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost", "/var/run/postgresql"] {
            assert!(on_this_machine(host), "{host}");
        }
        for host in ["10.0.0.5", "db.example", "2001:db8::1"] {
            assert!(!on_this_machine(host), "{host}");
        }
        assert!(plain_by_default("postgres://u@127.0.0.1:5432/ledger"));
        assert!(!plain_by_default("postgres://u@127.0.0.1:5432/ledger?sslmode=require"));
        assert!(!plain_by_default("postgres://u@db.example:5432/ledger"));
    }

    #[test]
    fn a_postgres_url_names_this_machine_or_another() {
        assert!(postgres_on_this_machine("postgresql://localhost/bench?sslmode=disable"));
        assert!(postgres_on_this_machine("postgres://postgres@%2Fvar%2Frun%2Fpostgresql/bench"));
        assert!(!postgres_on_this_machine("postgres://ledger:secret@db.example.com:5432/ledger"));
        assert!(!postgres_on_this_machine("sqlite:///tmp/ledger.db"));
    }
}
