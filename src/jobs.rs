//! Background work that must happen without anyone pressing a button: expiring due holds.
//!
//! Each sweep is one transaction that locks what it changes, so any number of servers can run the
//! jobs at once: a hold is expired exactly once, by whichever server gets to it first.

use std::time::Duration;

use tokio::sync::watch;

use crate::store::{Begun, Store, ledger};

/// How often the jobs run. Reads never wait for them: a due hold already reads as expired.
const SWEEP_INTERVAL: Duration = Duration::from_secs(5);

pub async fn run(store: Store, mut stop: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(SWEEP_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stop.changed() => return,
        }
        if let Err(error) = sweep(&store).await {
            tracing::warn!(%error, "background sweep failed; will retry");
        }
    }
}

/// Runs every job once; returns how many items were processed.
pub async fn sweep(store: &Store) -> anyhow::Result<u64> {
    let mut processed = 0;
    loop {
        let Begun::Fresh(work) = store.begin(None, Some("job:expire-holds".into()), None).await? else { break };
        let expired = ledger::expire_due_holds(&work).await?;
        work.commit_plain().await?;
        processed += expired;
        if expired == 0 {
            break;
        }
    }
    Ok(processed)
}
