//! Background work that must happen without anyone pressing a button: expiring due holds and
//! redemptions, refunding pools whose deadline passed, moving expired points to breakage, and
//! lapsing inactive members.
//!
//! Each sweep is one transaction that locks what it changes, so any number of servers can run the
//! jobs at once: a hold is expired exactly once, by whichever server gets to it first.

use std::time::Duration;

use tokio::sync::watch;

use crate::store::{Begun, Store, StoreResult, UnitOfWork, ledger, membership, spending};

/// How often the jobs run. Reads never wait for them: a due hold already reads as expired.
const SWEEP_INTERVAL: Duration = Duration::from_secs(5);

pub async fn run(store: Store, lapse_months: u32, mut stop: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(SWEEP_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stop.changed() => return,
        }
        if let Err(error) = sweep(&store, lapse_months).await {
            tracing::warn!(%error, "background sweep failed; will retry");
        }
    }
}

/// Items each job handles per transaction.
const ITEMS_PER_TRANSACTION: u64 = 100;

/// Runs every job until it has nothing left; returns how many items were processed. Members lapse
/// after `lapse_months` without signals or volunteering.
pub async fn sweep(store: &Store, lapse_months: u32) -> anyhow::Result<u64> {
    let mut processed = 0;
    let mut after_id = 0;
    loop {
        let Begun::Fresh(work) = store.begin(None, Some("job:lapse-members".into()), None).await? else { break };
        let (lapsed, last_id) =
            membership::lapse_inactive(&work, lapse_months, after_id, ITEMS_PER_TRANSACTION).await?;
        work.commit_plain().await?;
        processed += lapsed;
        match last_id {
            Some(last_id) => after_id = last_id,
            None => break,
        }
    }
    processed += drain(store, "job:expire-redemptions", |work| {
        Box::pin(spending::expire_due_redemptions(work, ITEMS_PER_TRANSACTION))
    })
    .await?;
    processed +=
        drain(store, "job:refund-pools", |work| Box::pin(spending::refund_due_pools(work, ITEMS_PER_TRANSACTION)))
            .await?;
    processed += drain(store, "job:expire-holds", |work| Box::pin(ledger::expire_due_holds(work))).await?;
    processed +=
        drain(store, "job:expire-points", |work| Box::pin(spending::expire_points(work, ITEMS_PER_TRANSACTION)))
            .await?;
    Ok(processed)
}

type JobStep =
    for<'a> fn(&'a UnitOfWork) -> std::pin::Pin<Box<dyn std::future::Future<Output = StoreResult<u64>> + Send + 'a>>;

/// Runs one job, a transaction at a time, until a transaction finds nothing to do.
async fn drain(store: &Store, name: &str, step: JobStep) -> anyhow::Result<u64> {
    let mut processed = 0;
    loop {
        let Begun::Fresh(work) = store.begin(None, Some(name.to_owned()), None).await? else { break };
        let done = step(&work).await?;
        work.commit_plain().await?;
        processed += done;
        if done == 0 {
            return Ok(processed);
        }
    }
    Ok(processed)
}
