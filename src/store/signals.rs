//! Partner signal batches, stored as sets, and the activity windows rules are evaluated on.
//!
//! A partner pushes batches of up to 10,000 events, often several at once. One partner's batches
//! add to the same riders' daily counts, so stored side by side they would only wait for each
//! other's row locks. Instead they queue per partner, and a drain stores every batch queued by
//! then as one set (up to `EVENTS_PER_SET` events) in one transaction of its own, outside the
//! ledger's group commit (signals touch no balance and no hash chain): one statement inserts the
//! events and says which were new, one numbers new subjects, one adds the new events to the daily
//! counts. Each batch keeps its own answer and audit record. Candidates are then made in group
//! commit, after the set's commit, so a rider whose swaps arrive in two sets at once is found by
//! whichever comes second.
//!
//! Two drains per partner take sets in turn (`SETS_IN_FLIGHT`), so that one set is stored while
//! the other waits for its commit or for its candidates. Two sets never wait for each other in a
//! cycle: each statement takes its rows in key order (events by id, subjects and daily counts by
//! key), and the statements of a set come in the same order.
//!
//! Every statement has the same text whatever the set holds (see `store::bound`), so each is
//! prepared once per connection.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use sea_orm::{ConnectionTrait, DbErr};
use serde_json::json;
use tokio::sync::oneshot;

use super::bound::{Bound, Columns};
use super::{Context, Store, StoreError, StoreResult, UnitOfWork, audit, membership};
use crate::domain::membership::{CheckedSignal, MembershipStatus, RuleCriteria};
use crate::domain::volunteering::local_day;

/// Events a set takes at most (a batch holds up to 10,000: a set always takes at least one batch).
const EVENTS_PER_SET: usize = 10_000;
/// Sets of one partner stored at once by this server.
const SETS_IN_FLIGHT: usize = 2;
/// Subjects named per statement when a window is read for some subjects only.
const SUBJECTS_PER_QUERY: usize = 500;

/// A partner's batch of checked events.
pub struct CheckedBatch {
    pub partner_id: i64,
    pub events: Vec<CheckedSignal>,
    pub request_id: Option<String>,
    /// Rows refused before storing (for the audit record).
    pub rejected: usize,
}

/// What storing a batch did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stored {
    pub accepted: u64,
    /// Events this partner had sent before, or sent twice in the batch.
    pub duplicates: u64,
}

/// Each partner's queue of batches; a partner is in the map while a drain is storing its batches.
#[derive(Default)]
pub(super) struct SignalQueues {
    partners: Mutex<HashMap<i64, PartnerQueue>>,
}

#[derive(Default)]
struct PartnerQueue {
    waiting: Vec<Queued>,
    /// Drains storing this partner's batches (at most `SETS_IN_FLIGHT`).
    drains: usize,
}

struct Queued {
    batch: CheckedBatch,
    reply: oneshot::Sender<StoreResult<Stored>>,
}

impl SignalQueues {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, PartnerQueue>> {
        self.partners.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Store {
    /// Stores a partner's batch with whatever else the partner sent meanwhile (see the module's
    /// documentation); answered once it is durable and its candidates are made.
    pub async fn push_signals(&self, batch: CheckedBatch) -> StoreResult<Stored> {
        let (reply, answer) = oneshot::channel();
        let partner_id = batch.partner_id;
        let start = {
            let mut partners = self.signals.lock();
            let queue = partners.entry(partner_id).or_default();
            queue.waiting.push(Queued { batch, reply });
            let start = queue.drains < SETS_IN_FLIGHT;
            queue.drains += usize::from(start);
            start
        };
        if start {
            tokio::spawn(drain(self.clone(), partner_id));
        }
        answer.await.unwrap_or_else(|_| Err(StoreError::Database(DbErr::Custom("the signal batch stopped".into()))))
    }
}

/// Stores a partner's queued batches, a set at a time, until none is left. A task of its own, so
/// that no request's cancellation stops it.
async fn drain(store: Store, partner_id: i64) {
    let mut guard = Draining { store: store.clone(), partner_id, finished: false };
    while let Some(set) = take_set(&store, partner_id) {
        let (batches, replies): (Vec<CheckedBatch>, Vec<_>) =
            set.into_iter().map(|queued| (queued.batch, queued.reply)).unzip();
        match store_set(&store, partner_id, &batches).await {
            // Candidates in group commit, while the next set is stored.
            Ok((stored, subjects)) => {
                let request_id = batches.last().and_then(|batch| batch.request_id.clone());
                tokio::spawn(make_candidates(store.clone(), partner_id, request_id, subjects, stored, replies));
            }
            Err(error) => {
                tracing::error!(%error, batches = replies.len(), "a set of signal batches failed");
                for reply in replies {
                    let _ = reply.send(Err(StoreError::Database(DbErr::Custom(error.to_string()))));
                }
            }
        }
    }
    guard.finished = true;
}

/// The batches queued for the partner (up to `EVENTS_PER_SET` events, at least one batch), or
/// `None`, ending the drain, when there are none.
fn take_set(store: &Store, partner_id: i64) -> Option<Vec<Queued>> {
    let mut partners = store.signals.lock();
    let queue = partners.get_mut(&partner_id)?;
    if queue.waiting.is_empty() {
        queue.drains -= 1;
        if queue.drains == 0 {
            partners.remove(&partner_id);
        }
        return None;
    }
    let mut events = 0;
    let taken = queue
        .waiting
        .iter()
        .take_while(|queued| {
            events += queued.batch.events.len();
            events <= EVENTS_PER_SET
        })
        .count()
        .max(1);
    Some(queue.waiting.drain(..taken).collect())
}

/// A drain that ended before its queue was empty (a panic) hands its place to a new drain, so no
/// batch waits for a drain that never comes.
struct Draining {
    store: Store,
    partner_id: i64,
    finished: bool,
}

impl Drop for Draining {
    fn drop(&mut self) {
        if !self.finished {
            tokio::spawn(drain(self.store.clone(), self.partner_id));
        }
    }
}

/// Stores a set in a transaction of its own: each batch's answer, and the subjects of the set.
async fn store_set(
    store: &Store,
    partner_id: i64,
    batches: &[CheckedBatch],
) -> StoreResult<(Vec<Stored>, Vec<String>)> {
    let work = store.begin_solo(None, None).await?;
    let stored = ingest(&work, partner_id, batches).await?;
    for (batch, stored) in batches.iter().zip(&stored) {
        let context = Context { actor_id: None, request_id: batch.request_id.clone(), now: work.now() };
        let summary =
            json!({ "accepted": stored.accepted, "duplicates": stored.duplicates, "rejected": batch.rejected });
        work.turn.audit(audit::event(&context, "signals.push", "partner", Some(partner_id.to_string()), summary));
    }
    work.commit_plain().await?;
    // Every subject of the set, not only of its new events: a partner retrying a batch whose first
    // answer was lost gets the candidates looked for again.
    let subjects: BTreeSet<&str> =
        batches.iter().flat_map(|batch| batch.events.iter().map(|event| event.subject_key.as_str())).collect();
    Ok((stored, subjects.into_iter().map(str::to_owned).collect()))
}

/// Makes candidates of the set's subjects, in group commit, then answers the set's batches.
async fn make_candidates(
    store: Store,
    partner_id: i64,
    request_id: Option<String>,
    subjects: Vec<String>,
    stored: Vec<Stored>,
    replies: Vec<oneshot::Sender<StoreResult<Stored>>>,
) {
    let made = async {
        let work = store.begin_unkeyed(None, request_id).await?;
        let created = membership::candidates_among(&work, &subjects).await?;
        if created > 0 {
            work.audit("candidates.infer", "partner", partner_id, json!({ "candidates_created": created })).await?;
        }
        work.commit_plain().await
    }
    .await;
    match made {
        Ok(()) => {
            for (reply, stored) in replies.into_iter().zip(stored) {
                let _ = reply.send(Ok(stored));
            }
        }
        Err(error) => {
            for reply in replies {
                let _ = reply.send(Err(StoreError::Database(DbErr::Custom(error.to_string()))));
            }
        }
    }
}

/// Inserts the set's events, each once per partner and event id, and adds the new ones to the
/// daily counts. An event sent twice in the set is new for the first batch that sent it only.
async fn ingest(work: &UnitOfWork, partner_id: i64, batches: &[CheckedBatch]) -> StoreResult<Vec<Stored>> {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut stored = vec![Stored::default(); batches.len()];
    let mut events: Vec<(usize, &CheckedSignal)> = Vec::new();
    for (batch_index, batch) in batches.iter().enumerate() {
        for event in &batch.events {
            if seen.insert(event.event_id.as_str()) {
                events.push((batch_index, event));
            } else {
                stored[batch_index].duplicates += 1;
            }
        }
    }
    // In event id order: two sets of one partner (two drains here, or on two servers) never wait
    // for each other's rows in opposite orders.
    events.sort_unstable_by(|(_, a), (_, b)| a.event_id.cmp(&b.event_id));
    // The insert itself says which events are new: no look-up of what the partner sent before,
    // whose cost would grow with everything it ever sent.
    let new_ids = insert_events(work, partner_id, &events).await?;
    let mut daily: BTreeMap<(&str, &str, String, &str), i64> = BTreeMap::new();
    for (batch_index, event) in events {
        if new_ids.contains(event.event_id.as_str()) {
            stored[batch_index].accepted += 1;
            let day = local_day(event.occurred_at).format("%Y-%m-%d").to_string();
            let key = (event.subject_key.as_str(), event.kind.as_str(), day, event.area.as_deref().unwrap_or_default());
            *daily.entry(key).or_default() += event.quantity;
        } else {
            stored[batch_index].duplicates += 1;
        }
    }
    if !daily.is_empty() {
        let subjects: BTreeSet<&str> = daily.keys().map(|(subject, ..)| *subject).collect();
        insert_subjects(work, &subjects).await?;
        add_daily(work, partner_id, &daily).await?;
    }
    Ok(stored)
}

/// Inserts the events the partner has not sent before; the event ids of those inserted.
async fn insert_events(
    work: &UnitOfWork,
    partner_id: i64,
    events: &[(usize, &CheckedSignal)],
) -> StoreResult<HashSet<String>> {
    let mut bound = Bound::new(work.txn().get_database_backend());
    let partner = bound.value(partner_id);
    let received_at = bound.value(work.now());
    let rows = bound.rows(
        Columns::default()
            .text("event_id", events.iter().map(|(_, event)| event.event_id.clone()))
            .text("subject_key", events.iter().map(|(_, event)| event.subject_key.clone()))
            .text("kind", events.iter().map(|(_, event)| event.kind.as_str().to_owned()))
            .time("occurred_at", events.iter().map(|(_, event)| event.occurred_at))
            .integer("quantity", events.iter().map(|(_, event)| event.quantity))
            // An area is never empty (empty is none), so '' stands for none.
            .text("area", events.iter().map(|(_, event)| event.area.clone().unwrap_or_default())),
    );
    let sql = format!(
        "INSERT INTO signal_events (partner_id, event_id, subject_key, kind, occurred_at, quantity, area, received_at) \
         SELECT {partner}, u.event_id, u.subject_key, u.kind, u.occurred_at, u.quantity, NULLIF(u.area, ''), \
         {received_at} FROM {rows} WHERE true ON CONFLICT (partner_id, event_id) DO NOTHING RETURNING event_id"
    );
    let rows = work.txn().query_all_raw(bound.statement(&sql)).await?;
    rows.iter().map(|row| row.try_get::<String>("", "event_id").map_err(StoreError::from)).collect()
}

/// Numbers the subjects not seen before (in key order, for the same reason as the events).
async fn insert_subjects(work: &UnitOfWork, subjects: &BTreeSet<&str>) -> StoreResult<()> {
    let mut bound = Bound::new(work.txn().get_database_backend());
    let rows = bound.rows(Columns::default().text("subject_key", subjects.iter().map(|subject| (*subject).to_owned())));
    let sql = format!(
        "INSERT INTO signal_subjects (subject_key) SELECT u.subject_key FROM {rows} WHERE true \
         ORDER BY u.subject_key ON CONFLICT (subject_key) DO NOTHING"
    );
    work.txn().execute_raw(bound.statement(&sql)).await?;
    Ok(())
}

/// Adds counts (per subject key, kind, day and area) to the partner's daily counts, in key order.
async fn add_daily(
    work: &UnitOfWork,
    partner_id: i64,
    daily: &BTreeMap<(&str, &str, String, &str), i64>,
) -> StoreResult<()> {
    let mut bound = Bound::new(work.txn().get_database_backend());
    let partner = bound.value(partner_id);
    let rows = bound.rows(
        Columns::default()
            .text("subject_key", daily.keys().map(|(subject, ..)| (*subject).to_owned()))
            .text("kind", daily.keys().map(|(_, kind, ..)| (*kind).to_owned()))
            .text("day", daily.keys().map(|(_, _, day, _)| day.clone()))
            .text("area", daily.keys().map(|(.., area)| (*area).to_owned()))
            .integer("count", daily.values().copied()),
    );
    let sql = format!(
        "INSERT INTO signal_daily (subject_id, partner_id, kind, day, area, count) \
         SELECT s.id, {partner}, u.kind, u.day, u.area, u.count \
         FROM {rows} JOIN signal_subjects s ON s.subject_key = u.subject_key WHERE true \
         ORDER BY s.id, u.kind, u.day, u.area \
         ON CONFLICT (subject_id, partner_id, kind, day, area) DO UPDATE SET count = signal_daily.count + excluded.count"
    );
    work.txn().execute_raw(bound.statement(&sql)).await?;
    Ok(())
}

/// What a subject did in a rule's window.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Activity {
    /// Signals counted by the rule (of its partners and areas, when it names them).
    pub signal_count: i64,
    /// Distinct days with a counted signal.
    pub active_days: i64,
    pub first_seen: String,
    pub last_seen: String,
    /// Every partner that saw the subject in the window, in id order.
    pub partner_ids: Vec<i64>,
    /// The area (with the partner) where the subject was seen most in the window ("" for none).
    pub busiest_area: String,
}

/// Whom a rule's evaluation considers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Subjects {
    /// Everyone with signals (a preview counts candidates and members too).
    All,
    /// Those neither candidates already nor members (or applying): whom a rule may make candidates.
    New,
}

/// The subjects (optionally among `subjects`) whose signals in the rule's window satisfy it now,
/// by subject key, with what they did.
///
/// With [`Subjects::New`] the database leaves out candidates and members in the same query, by
/// anti-joins, instead of the caller looking every matched subject up again.
///
/// One pass groups the window by subject, partner and area: integers and short text, hashed,
/// however many subjects there are. A subject's distinct days are that one group's row count when
/// a single group counts for the rule (rows are one per subject, partner, kind, day and area);
/// only subjects that could match and were counted in several groups (seen by two partners, or in
/// two areas, perhaps on the same day) are counted again exactly, in a second query.
pub(super) async fn matching(
    connection: &(impl ConnectionTrait + sea_orm::StreamTrait),
    criteria: &RuleCriteria,
    subjects: Option<&[String]>,
    whom: Subjects,
    now: DateTime<Utc>,
) -> StoreResult<BTreeMap<String, Activity>> {
    let chunks: Vec<Option<&[String]>> = match subjects {
        Some(subjects) => subjects.chunks(SUBJECTS_PER_QUERY).map(Some).collect(),
        None => vec![None],
    };
    let first_day = criteria.first_day(now);
    let counted = |partner_id: i64, area: &str| {
        criteria.partner_ids.as_ref().is_none_or(|partners| partners.contains(&partner_id))
            && criteria.areas.as_ref().is_none_or(|areas| areas.iter().any(|named| named == area))
    };
    // Per subject: what it did, how many groups counted, and the busiest group's count.
    let mut found: BTreeMap<String, (Activity, u32, i64)> = BTreeMap::new();
    for chunk in chunks {
        let mut bound = Bound::new(ConnectionTrait::get_database_backend(connection));
        let kind = bound.value(criteria.kind.as_str());
        let from = bound.value(first_day.as_str());
        let among = chunk.map_or(String::new(), |chunk| {
            format!(" AND subject_id IN (SELECT id FROM signal_subjects WHERE subject_key IN ({}))", bound.list(chunk))
        });
        let new_only = match whom {
            Subjects::All => String::new(),
            Subjects::New => {
                let rejected = bound.value(MembershipStatus::Rejected.as_str());
                format!(
                    " WHERE NOT EXISTS (SELECT 1 FROM candidates c WHERE c.subject_key = s.subject_key) \
                     AND NOT EXISTS (SELECT 1 FROM users r JOIN memberships m ON m.user_id = r.id \
                     WHERE r.phone_key = s.subject_key AND m.status <> {rejected})"
                )
            }
        };
        let sql = format!(
            "SELECT s.subject_key, g.partner_id, g.area, g.total, g.days, g.first_day, g.last_day FROM \
             (SELECT subject_id, partner_id, area, CAST(SUM(count) AS BIGINT) AS total, COUNT(*) AS days, \
             MIN(day) AS first_day, MAX(day) AS last_day FROM signal_daily \
             WHERE kind = {kind} AND day >= {from}{among} GROUP BY subject_id, partner_id, area) g \
             JOIN signal_subjects s ON s.id = g.subject_id{new_only}"
        );
        // Streamed: a city's riders are folded as they come instead of held as rows at once.
        let mut rows = std::pin::pin!(connection.stream_raw(bound.statement(&sql)).await?);
        while let Some(row) = rows.next().await {
            let row = row?;
            let subject: String = row.try_get("", "subject_key")?;
            let partner_id: i64 = row.try_get("", "partner_id")?;
            let area: String = row.try_get("", "area")?;
            let total: i64 = row.try_get("", "total")?;
            let (activity, groups, busiest) = found.entry(subject).or_default();
            if let Err(at) = activity.partner_ids.binary_search(&partner_id) {
                activity.partner_ids.insert(at, partner_id);
            }
            if total > *busiest {
                *busiest = total;
                activity.busiest_area.clone_from(&area);
            }
            if !counted(partner_id, &area) {
                continue;
            }
            let first: String = row.try_get("", "first_day")?;
            let last: String = row.try_get("", "last_day")?;
            activity.signal_count += total;
            activity.active_days += row.try_get::<i64>("", "days")?;
            if *groups == 0 || first < activity.first_seen {
                activity.first_seen = first;
            }
            if *groups == 0 || last > activity.last_seen {
                activity.last_seen = last;
            }
            *groups += 1;
        }
    }
    // Days summed over several groups may count a day twice: at most, never fewer.
    let could_match = |activity: &Activity| {
        activity.signal_count >= criteria.min_count && activity.active_days >= i64::from(criteria.min_active_days)
    };
    let recount: Vec<String> = found
        .iter()
        .filter(|(_, (activity, groups, _))| *groups > 1 && could_match(activity))
        .map(|(subject, _)| subject.clone())
        .collect();
    for chunk in recount.chunks(SUBJECTS_PER_QUERY) {
        for (subject, days) in distinct_days(connection, criteria, &first_day, chunk).await? {
            if let Some((activity, ..)) = found.get_mut(&subject) {
                activity.active_days = days;
            }
        }
    }
    Ok(found
        .into_iter()
        .filter(|(_, (activity, groups, _))| *groups > 0 && could_match(activity))
        .map(|(subject, (activity, ..))| (subject, activity))
        .collect())
}

/// The distinct days with a signal counted by the rule, for the subjects named.
async fn distinct_days(
    connection: &impl ConnectionTrait,
    criteria: &RuleCriteria,
    first_day: &str,
    subjects: &[String],
) -> StoreResult<Vec<(String, i64)>> {
    let mut bound = Bound::new(connection.get_database_backend());
    let kind = bound.value(criteria.kind.as_str());
    let from = bound.value(first_day);
    let mut sql = format!(
        "SELECT s.subject_key, COUNT(DISTINCT d.day) AS days FROM signal_daily d \
         JOIN signal_subjects s ON s.id = d.subject_id WHERE d.kind = {kind} AND d.day >= {from}"
    );
    if let Some(partners) = &criteria.partner_ids {
        sql += &format!(" AND d.partner_id IN ({})", bound.list(partners));
    }
    if let Some(areas) = &criteria.areas {
        sql += &format!(" AND d.area IN ({})", bound.list(areas));
    }
    sql += &format!(" AND s.subject_key IN ({}) GROUP BY s.subject_key", bound.list(subjects));
    let rows = connection.query_all_raw(bound.statement(&sql)).await?;
    rows.iter()
        .map(|row| Ok((row.try_get("", "subject_key")?, row.try_get("", "days")?)))
        .collect::<Result<_, DbErr>>()
        .map_err(StoreError::from)
}
