//! Prometheus metrics: requests by route and status, and latency histograms by route.
//!
//! Kept in-house (a mutex-guarded map; a lock per request is far below a database commit) so that
//! each app instance has its own registry and tests can run many apps in one process.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// Upper bounds of the latency buckets, in microseconds.
const LATENCY_BUCKETS_US: [u64; 12] =
    [500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 5_000_000];

#[derive(Default)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS_US.len()],
    count: u64,
    sum_us: u64,
}

#[derive(Default)]
struct Registry {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<(String, String), Histogram>,
}

#[derive(Default)]
pub struct Metrics {
    registry: Mutex<Registry>,
}

impl Metrics {
    fn observe(&self, method: &str, route: &str, status: u16, elapsed_us: u64) {
        let mut registry = self.registry.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *registry.requests.entry((method.to_owned(), route.to_owned(), status)).or_default() += 1;
        let histogram = registry.latency.entry((method.to_owned(), route.to_owned())).or_default();
        histogram.count += 1;
        histogram.sum_us += elapsed_us;
        for (bucket, bound) in histogram.buckets.iter_mut().zip(LATENCY_BUCKETS_US) {
            if elapsed_us <= bound {
                *bucket += 1;
            }
        }
    }

    /// The Prometheus text exposition format.
    pub fn render(&self, commits: &crate::store::CommitStats) -> String {
        let registry = self.registry.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut out = String::new();
        out.push_str(
            "# HELP http_requests_total Requests answered, by route and status.\n# TYPE http_requests_total counter\n",
        );
        for ((method, route, status), count) in &registry.requests {
            let _ = writeln!(
                out,
                "http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {count}"
            );
        }
        out.push_str(
            "# HELP http_request_duration_seconds Time to answer, by route.\n# TYPE http_request_duration_seconds histogram\n",
        );
        for ((method, route), histogram) in &registry.latency {
            let labels = format!("method=\"{method}\",route=\"{route}\"");
            for (count, bound) in histogram.buckets.iter().zip(LATENCY_BUCKETS_US) {
                let _ =
                    writeln!(out, "http_request_duration_seconds_bucket{{{labels},le=\"{}\"}} {count}", seconds(bound));
            }
            let _ = writeln!(out, "http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", histogram.count);
            let _ = writeln!(out, "http_request_duration_seconds_sum{{{labels}}} {}", seconds(histogram.sum_us));
            let _ = writeln!(out, "http_request_duration_seconds_count{{{labels}}} {}", histogram.count);
        }
        let batches = commits.batches.load(std::sync::atomic::Ordering::Relaxed);
        let units = commits.units.load(std::sync::atomic::Ordering::Relaxed);
        let _ = write!(
            out,
            "# HELP ledger_commit_batches_total Database commits of group commit.\n# TYPE ledger_commit_batches_total counter\n\
             ledger_commit_batches_total {batches}\n\
             # HELP ledger_commit_units_total Units of work (write requests and jobs) those commits made durable.\n\
             # TYPE ledger_commit_units_total counter\nledger_commit_units_total {units}\n"
        );
        out
    }
}

/// Microseconds as a decimal number of seconds, without floating point.
fn seconds(microseconds: u64) -> String {
    format!("{}.{:06}", microseconds / 1_000_000, microseconds % 1_000_000)
}

pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    // The route template, never the raw path: ids would make the label set unbounded.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(request).await;
    let elapsed_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    metrics.observe(&method, &route, response.status().as_u16(), elapsed_us);
    let status = response.status();
    if status.is_server_error() {
        tracing::error!(%status, elapsed_us, "answered");
    } else if status.is_client_error() {
        tracing::debug!(%status, elapsed_us, "answered");
    } else {
        tracing::info!(%status, elapsed_us, "answered");
    }
    response
}
