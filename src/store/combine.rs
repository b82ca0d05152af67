//! Requests that only post an entry, executed as a set.
//!
//! Most writes are a transfer or a few: lock the accounts, apply the rules, append the entry. Run
//! one by one inside a batch (see `store::group`), each costs its own round trips. Here concurrent
//! posting requests queue instead, and whoever finds no one draining the queue starts a drain (a
//! task of its own, so no request's cancellation stops it): it waits for its turn in the batch,
//! takes every request queued by then, locks all their accounts with one statement, applies each
//! request to the locked states in memory, in arrival order, each with its own result (one
//! request's insufficient points or unknown account never fails another's), and writes every
//! entry, balance, lot and idempotency record with one script. Every request is answered once the
//! batch holding the set is durable — a handful of round trips for the whole set, as TigerBeetle
//! does with its batches.
//!
//! An `Idempotency-Key` is looked up with the set (one statement per 500 keys, only when a
//! request carries one): a key already answered replays that answer; a key sent twice within one set replays the
//! first request's answer when that one succeeds, and is tried again when it failed.

use std::collections::{BTreeSet, HashMap};
use std::pin::Pin;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter};
use tokio::sync::oneshot;

use super::ledger::{self, Applied, EntryDraft, EntryRecord};
use super::script::{Kind, Rows, Script, Value};
use super::{Context, IdempotencyKey, Replay, Store, StoreError, StoreResult, UnitOfWork, audit, stored_answer};
use crate::domain::ledger::AccountId;
use entity::idempotency_key;

/// Postings a set takes at most (its accounts are locked with one statement, well under both
/// databases' limits of bound parameters); what is left waits for the next set.
const POSTINGS_PER_SET: usize = 4_000;
/// Keys looked up per statement.
const KEYS_PER_LOOKUP: usize = 500;

/// A request that posts one entry, with what it records beside it.
pub struct PostRequest {
    pub draft: EntryDraft,
    pub actor_id: Option<i64>,
    pub request_id: Option<String>,
    pub key: Option<IdempotencyKey>,
    pub audit: AuditNote,
    /// The body of the answer (`201 Created`), made from the entry, stored for the key.
    pub answer: fn(&EntryRecord) -> serde_json::Value,
}

/// The status of a posting's answer, stored with its key.
const CREATED: u16 = 201;

/// The audit record of a posting. It names the entry: as its target when `target_id` is `None`,
/// otherwise as `entry_id` in its summary.
pub struct AuditNote {
    pub action: &'static str,
    pub target_type: &'static str,
    pub target_id: Option<String>,
    pub summary: serde_json::Value,
}

/// What a posting request got.
pub enum Posted {
    Fresh(EntryRecord),
    /// An earlier request with the same key was answered: its answer.
    Replayed(Replay),
}

/// The queue of posting requests and whether a drain is under way.
#[derive(Default)]
pub(super) struct Combiner {
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Queued>,
    draining: bool,
}

struct Queued {
    request: PostRequest,
    now: DateTime<Utc>,
    reply: oneshot::Sender<StoreResult<Posted>>,
}

impl Store {
    /// Posts one entry as part of the next set (see the module's documentation), answered once it is
    /// durable.
    pub async fn post(&self, request: PostRequest) -> StoreResult<Posted> {
        if let Some(key) = &request.key
            && let Some(replay) = self.find_replay(key).await?
        {
            return Ok(Posted::Replayed(replay));
        }
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut queue = self.combiner.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            queue.waiting.push(Queued { request, now: self.now(), reply });
            !std::mem::replace(&mut queue.draining, true)
        };
        if start {
            spawn_drain(self.clone());
        }
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }
}

fn stopped() -> StoreError {
    StoreError::Database(DbErr::Custom("the posting stopped".into()))
}

fn spawn_drain(store: Store) {
    // Boxed: a drain may start the next one, and a recursive future's type must be named.
    let drain: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(drain(store));
    tokio::spawn(drain);
}

/// Takes a turn in the batch, then the queued requests, executes them and answers each.
async fn drain(store: Store) {
    let pending = PendingDrain(Some(store.clone()));
    let turn = store.group.turn().await;
    let set = pending.take();
    let turn = match turn {
        Ok(turn) => turn,
        Err(error) => return fail(set, &error),
    };
    let Some(last) = set.last() else { return };
    // Due holds are expired as of the latest request of the set.
    let context = Context { actor_id: last.request.actor_id, request_id: None, now: last.now };
    let mut work = UnitOfWork { turn, context, idempotency_record_id: None };
    work.turn.units = set.len() as u64;
    let (requests, replies): (Vec<_>, Vec<_>) =
        set.into_iter().map(|queued| ((queued.request, queued.now), queued.reply)).unzip();
    let results = match execute(&work, &requests).await {
        Ok(results) => results,
        Err(error) => {
            drop(work);
            return fail_replies(replies, &error);
        }
    };
    if let Err(error) = work.commit_plain().await {
        return fail_replies(replies, &error);
    }
    for (reply, result) in replies.into_iter().zip(results) {
        let _ = reply.send(result);
    }
}

/// A drain that has not yet taken its set. Should it end before (a panic while waiting for its
/// turn), another drain takes over, so no queued request waits for a drain that never comes.
struct PendingDrain(Option<Store>);

impl PendingDrain {
    /// Takes the requests queued so far (up to `POSTINGS_PER_SET` postings, and always at least
    /// one, however many postings it has); what is left gets a drain of its own, behind this one.
    fn take(mut self) -> Vec<Queued> {
        let store = self.0.take().expect("a pending drain has its store");
        let mut queue = store.combiner.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut postings = 0;
        let taken = queue
            .waiting
            .iter()
            .take_while(|queued| {
                postings += queued.request.draft.postings.len();
                postings <= POSTINGS_PER_SET
            })
            .count()
            .max(1)
            .min(queue.waiting.len());
        let set: Vec<Queued> = queue.waiting.drain(..taken).collect();
        queue.draining = !queue.waiting.is_empty();
        if queue.draining {
            spawn_drain(store.clone());
        }
        set
    }
}

impl Drop for PendingDrain {
    fn drop(&mut self) {
        if let Some(store) = self.0.take() {
            spawn_drain(store);
        }
    }
}

fn fail(set: Vec<Queued>, error: &StoreError) {
    fail_replies(set.into_iter().map(|queued| queued.reply).collect(), error);
}

fn fail_replies(replies: Vec<oneshot::Sender<StoreResult<Posted>>>, error: &StoreError) {
    tracing::error!(%error, requests = replies.len(), "a set of postings failed");
    for reply in replies {
        let _ = reply.send(Err(StoreError::Database(DbErr::Custom(error.to_string()))));
    }
}

/// Where a request stands while its set is applied.
enum Outcome {
    /// Applied: the index of its entry among the set's.
    Applied(usize),
    /// Carries the key of the applied request at `request`, whose entry is `entry`: replays its answer.
    SameAs {
        request: usize,
        entry: usize,
    },
    Done(StoreResult<Posted>),
}

/// Executes a set in `work`: the results, one per request, in order. An error here is the
/// database's and fails the whole set.
async fn execute(
    work: &UnitOfWork,
    requests: &[(PostRequest, DateTime<Utc>)],
) -> StoreResult<Vec<StoreResult<Posted>>> {
    let txn = work.txn();
    let answered = answered_keys(work, requests).await?;
    let account_ids: BTreeSet<AccountId> = requests
        .iter()
        .flat_map(|(request, _)| request.draft.postings.iter().map(|posting| posting.account_id))
        .collect();
    let (mut book, _) = ledger::lock_existing(txn, &account_ids, work.now()).await?;
    let mut outcomes = Vec::with_capacity(requests.len());
    let mut applied: Vec<Applied<'_>> = Vec::new();
    // Keys of this set's applied requests: (caller, key) → (request, entry, request hash).
    let mut claimed: HashMap<(i64, &str), (usize, usize, &str)> = HashMap::new();
    for (index, (request, now)) in requests.iter().enumerate() {
        let key = request.key.as_ref();
        if let Some(key) = key {
            if let Some(stored) = answered.get(&(key.caller_id, key.key.clone())) {
                outcomes.push(Outcome::Done(replay_of(stored, key)));
                continue;
            }
            if let Some(&(first_index, entry, request_hash)) = claimed.get(&(key.caller_id, key.key.as_str())) {
                outcomes.push(if request_hash == key.request_hash {
                    Outcome::SameAs { request: first_index, entry }
                } else {
                    Outcome::Done(Err(StoreError::IdempotencyMismatch))
                });
                continue;
            }
        }
        match book.post(&request.draft.postings) {
            Ok(planned) => {
                if let Some(key) = key {
                    claimed
                        .insert((key.caller_id, key.key.as_str()), (index, applied.len(), key.request_hash.as_str()));
                }
                outcomes.push(Outcome::Applied(applied.len()));
                applied.push(Applied { draft: &request.draft, planned, actor_id: request.actor_id, now: *now });
            }
            Err(error) => outcomes.push(Outcome::Done(Err(error.into()))),
        }
    }
    let records = if applied.is_empty() {
        // Due holds of these accounts may have expired while locking them.
        ledger::write_balances(txn, &book).await?;
        Vec::new()
    } else {
        let answers =
            |script: &mut Script, records: &[EntryRecord]| record_answers(script, requests, &outcomes, records);
        ledger::append_entries(work, &book, &applied, answers).await?
    };
    let results = outcomes
        .into_iter()
        .zip(requests)
        .map(|(outcome, (request, now))| match outcome {
            Outcome::Done(result) => result,
            Outcome::Applied(entry) => {
                work.turn.audit(audit_record(request, *now, &records[entry]));
                Ok(Posted::Fresh(records[entry].clone()))
            }
            Outcome::SameAs { request: first_index, entry } => {
                let first = &requests[first_index].0;
                Ok(Posted::Replayed(Replay { status_code: CREATED, body: (first.answer)(&records[entry]) }))
            }
        })
        .collect();
    Ok(results)
}

/// The stored answers of the keys this set carries, read inside the batch: every earlier batch has
/// committed (batches follow one another), and earlier units of this batch have finished.
async fn answered_keys(
    work: &UnitOfWork,
    requests: &[(PostRequest, DateTime<Utc>)],
) -> StoreResult<HashMap<(i64, String), idempotency_key::Model>> {
    let keys: BTreeSet<(i64, &str)> = requests
        .iter()
        .filter_map(|(request, _)| request.key.as_ref().map(|key| (key.caller_id, key.key.as_str())))
        .collect();
    let texts: Vec<&str> = keys.iter().map(|(_, key)| *key).collect::<BTreeSet<_>>().into_iter().collect();
    let mut answered = HashMap::new();
    // By key text (one list, not a condition per key: SQLite limits how deep a condition nests),
    // then by caller.
    for chunk in texts.chunks(KEYS_PER_LOOKUP) {
        let found = idempotency_key::Entity::find()
            .filter(idempotency_key::Column::Key.is_in(chunk.iter().copied()))
            .all(work.txn())
            .await?;
        answered.extend(
            found
                .into_iter()
                .filter(|model| keys.contains(&(model.caller_id, model.key.as_str())))
                .map(|model| ((model.caller_id, model.key.clone()), model)),
        );
    }
    Ok(answered)
}

fn replay_of(stored: &idempotency_key::Model, key: &IdempotencyKey) -> StoreResult<Posted> {
    match stored_answer(stored, key)? {
        Some(replay) => Ok(Posted::Replayed(replay)),
        None => Err(StoreError::key_in_progress()),
    }
}

/// Adds the answers of the applied requests that carry a key to the set's script.
fn record_answers(
    script: &mut Script,
    requests: &[(PostRequest, DateTime<Utc>)],
    outcomes: &[Outcome],
    records: &[EntryRecord],
) {
    let mut rows = Rows::new("idempotency_keys", KEY_COLUMNS);
    for (outcome, (request, now)) in outcomes.iter().zip(requests) {
        if let (Outcome::Applied(entry), Some(key)) = (outcome, &request.key) {
            rows.push([
                Value::Integer(key.caller_id),
                Value::Text(key.key.clone()),
                Value::Text(key.request_hash.clone()),
                Value::Integer(i64::from(CREATED)),
                Value::Text((request.answer)(&records[*entry]).to_string()),
                Value::Time(*now),
            ]);
        }
    }
    script.insert(&mut rows);
}

const KEY_COLUMNS: &[(&str, Kind)] = &[
    ("caller_id", Kind::Integer),
    ("key", Kind::Text),
    ("request_hash", Kind::Text),
    ("status_code", Kind::Integer),
    ("response_body", Kind::Text),
    ("created_at", Kind::Time),
];

fn audit_record(request: &PostRequest, now: DateTime<Utc>, record: &EntryRecord) -> entity::audit_event::ActiveModel {
    let context = Context { actor_id: request.actor_id, request_id: request.request_id.clone(), now };
    let note = &request.audit;
    let (target_id, summary) = match &note.target_id {
        None => (record.id.to_string(), note.summary.clone()),
        Some(target_id) => {
            let mut summary = note.summary.clone();
            if let Some(fields) = summary.as_object_mut() {
                fields.insert("entry_id".into(), record.id.into());
            }
            (target_id.clone(), summary)
        }
    };
    audit::event(&context, note.action, note.target_type, Some(target_id), summary)
}
