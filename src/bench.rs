//! The benchmark harness: `union-ledger bench`.
//!
//! Starts the service in this process on the configured database (a fresh SQLite file by default),
//! seeds its own data through the store, then drives the HTTP API with a fixed number of concurrent
//! clients for a fixed time per workload, and prints throughput, latency percentiles, errors and the
//! process's peak memory. After each run it calls verify and checks the totals it expects. A
//! baseline measures single-row durable inserts on the same database, so every figure is also a
//! ratio to what the disk allows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use serde_json::{Value, json};

use crate::app::Application;
use crate::auth;
use crate::clock::SystemClock;
use crate::config::{Secret, Settings};
use crate::domain::people::{Phone, Role};
use crate::store::{Begun, baseline, users};

#[derive(Args, Clone, Debug)]
pub struct BenchArgs {
    /// Seconds each workload runs.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Concurrent clients for W1 (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    pub clients: Vec<usize>,
    /// Rider accounts W1 spreads its transfers over.
    #[arg(long, default_value_t = 10_000)]
    pub accounts: usize,
}

/// What one workload run measured.
#[derive(Debug)]
pub struct RunReport {
    pub name: String,
    pub clients: usize,
    pub ok: u64,
    pub errors: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl RunReport {
    fn print(&self, baseline: Option<f64>) {
        let ratio = baseline
            .filter(|rate| *rate > 0.0)
            .map(|rate| format!("{:.2}×", self.per_second / rate))
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<34} {:>4} clients {:>9.0}/s  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>8.2} ms  errors {:>5}  vs baseline {}  peak RSS {} MiB",
            self.name,
            self.clients,
            self.per_second,
            self.p50_ms,
            self.p99_ms,
            self.max_ms,
            self.errors,
            ratio,
            peak_rss_mib()
        );
    }
}

/// The peak resident memory of this process (server and load generator together), from /proc.
fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| status.lines().find(|line| line.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|line| line.split_whitespace().nth(1).and_then(|kib| kib.parse::<u64>().ok()))
        .map_or(0, |kib| kib / 1024)
}

fn percentile(sorted_us: &[u64], fraction: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let index = ((sorted_us.len() as f64 - 1.0) * fraction).round() as usize;
    sorted_us[index] as f64 / 1000.0
}

/// Runs `request` in `clients` loops for `seconds`; each call returns whether it succeeded.
async fn drive<F, Fut>(name: &str, clients: usize, seconds: u64, request: F) -> RunReport
where
    F: Fn(usize, u64) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for client in 0..clients {
        let stop = stop.clone();
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut sequence = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                let ok = request(client, sequence).await;
                sequence += 1;
                if ok {
                    latencies.push(sent.elapsed().as_micros() as u64);
                } else {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        if let Ok((client_latencies, client_errors)) = task.await {
            latencies.extend(client_latencies);
            errors += client_errors;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    RunReport {
        name: name.to_owned(),
        clients,
        ok: latencies.len() as u64,
        errors,
        per_second: latencies.len() as f64 / elapsed,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        max_ms: latencies.last().map_or(0.0, |max| *max as f64 / 1000.0),
    }
}

struct Target {
    base: String,
    client: reqwest::Client,
    admin_token: String,
}

impl Target {
    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let response =
            self.client.post(format!("{}{path}", self.base)).bearer_auth(&self.admin_token).json(body).send().await?;
        let status = response.status();
        let body: Value = response.json().await?;
        anyhow::ensure!(status.is_success(), "{path}: {status} {body}");
        Ok(body)
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let response = self.client.get(format!("{}{path}", self.base)).bearer_auth(&self.admin_token).send().await?;
        let status = response.status();
        let body: Value = response.json().await?;
        anyhow::ensure!(status.is_success(), "{path}: {status} {body}");
        Ok(body)
    }

    async fn balance(&self, account_id: i64) -> anyhow::Result<String> {
        Ok(self.get(&format!("/api/v1/accounts/{account_id}")).await?["balance"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    async fn verify(&self) -> anyhow::Result<Value> {
        let report = self.get("/api/v1/ledger/verify").await?;
        anyhow::ensure!(report["ok"] == true, "verify failed: {report}");
        Ok(report)
    }
}

pub async fn run(settings: &Settings, args: &BenchArgs) -> anyhow::Result<Vec<RunReport>> {
    let data_dir = tempfile_dir()?;
    let mut settings = settings.clone();
    settings.data_dir = data_dir.clone();
    settings.listen = "127.0.0.1:0".parse()?;
    settings.admin_username = "bench".into();
    settings.admin_password = Some(Secret::new("bench-admin-password"));
    let application = Application::build_with_clock(&settings, Arc::new(SystemClock)).await?;
    let base = format!("http://127.0.0.1:{}", application.port());
    let backend = format!("{:?}", application.state().store.backend());
    println!(
        "union-ledger bench: {backend} at {}, {} s per run",
        settings.database_url().split('?').next().unwrap_or(""),
        args.seconds
    );
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;

    // Seed before serving: a city with a budget, and riders each holding 1,000.00 points.
    let state = application.state();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let login: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "bench", "password": "bench-admin-password"}))
        .send()
        .await?
        .json()
        .await?;
    let target = Target {
        base,
        client,
        admin_token: login["access_token"].as_str().context("bench admin signs in")?.to_owned(),
    };
    let city = target.post("/api/v1/levels", &json!({"name": "Bench City", "kind": "city"})).await?["id"]
        .as_i64()
        .context("a city")?;
    let budget =
        target.get(&format!("/api/v1/levels/{city}")).await?["budget_account_id"].as_i64().context("a budget")?;
    let accounts = seed_riders(&state, city, args.accounts).await?;
    let funding = 1_000u64 * accounts.len() as u64 + 10_000_000;
    target
        .post(
            &format!("/api/v1/levels/{city}/budget/fund"),
            &json!({"amount": format!("{funding}.00"), "reason": "bench"}),
        )
        .await?;
    for chunk in accounts.chunks(100) {
        let transfers: Vec<Value> =
            chunk.iter().map(|account| json!({"from": budget, "to": account, "amount": "1000.00"})).collect();
        target.post("/api/v1/entries", &json!({"reason": "bench seed", "transfers": transfers})).await?;
    }
    let target = Arc::new(target);
    let mut reports = Vec::new();

    let base_1 = baseline(&state, 1, args.seconds).await?;
    base_1.print(None);
    let base_8 = baseline(&state, 8, args.seconds).await?;
    base_8.print(None);
    let baseline_rate = base_1.per_second.max(base_8.per_second);
    reports.push(base_1);
    reports.push(base_8);

    for clients in &args.clients {
        let entries_before = target.verify().await?["entries_checked"].as_u64().unwrap_or(0);
        let accounts = Arc::new(accounts.clone());
        let shared = target.clone();
        let report = drive(&format!("W1 single transfers ({} accounts)", accounts.len()), *clients, args.seconds, move |client, sequence| {
            let target = shared.clone();
            let accounts = accounts.clone();
            async move {
                // A cheap, deterministic spread over all accounts, never from an account to itself.
                let count = accounts.len();
                let from = (client * 7919 + sequence as usize * 104_729) % count;
                let to = (from + 1 + (sequence as usize * 31) % (count - 1)) % count;
                let body = json!({"reason": "W1", "transfers": [{"from": accounts[from], "to": accounts[to], "amount": "0.01"}]});
                target.post("/api/v1/entries", &body).await.is_ok()
            }
        })
        .await;
        let verified = target.verify().await?;
        let entries_after = verified["entries_checked"].as_u64().unwrap_or(0);
        anyhow::ensure!(
            entries_after == entries_before + report.ok,
            "every acknowledged transfer is in the journal once"
        );
        report.print(Some(baseline_rate));
        reports.push(report);
    }

    // W3: ten hot riders and one budget that every award debits.
    let hot: Arc<Vec<i64>> = Arc::new(accounts[..10.min(accounts.len())].to_vec());
    let budget_before = parse_points(&target.balance(budget).await?);
    let shared = target.clone();
    let hot_accounts = hot.clone();
    let report = drive("W3 hot budget + 10 hot riders", 32, args.seconds, move |client, sequence| {
        let target = shared.clone();
        let hot = hot_accounts.clone();
        async move {
            let to = hot[(client + sequence as usize) % hot.len()];
            let body = json!({"reason": "W3", "transfers": [{"from": budget, "to": to, "amount": "0.01"}]});
            target.post("/api/v1/entries", &body).await.is_ok()
        }
    })
    .await;
    target.verify().await?;
    let budget_after = parse_points(&target.balance(budget).await?);
    anyhow::ensure!(
        budget_before - budget_after == report.ok as i64,
        "the budget paid exactly the acknowledged awards"
    );
    anyhow::ensure!(budget_after >= 0, "no overdraft");
    report.print(Some(baseline_rate));
    reports.push(report);

    let _ = stop.send(());
    let _ = server.await;
    let _ = std::fs::remove_dir_all(&data_dir);
    println!(
        "verify passed after every run; peak RSS of this process (server + load generator): {} MiB",
        peak_rss_mib()
    );
    Ok(reports)
}

/// Creates riders straight through the store (one password hash for all): seeding 10,000 people
/// through the API would measure argon2, not the ledger.
async fn seed_riders(state: &crate::http::AppState, level_id: i64, count: usize) -> anyhow::Result<Vec<i64>> {
    let hash = auth::hash_password("bench-rider-password".into()).await?;
    let mut accounts = Vec::with_capacity(count);
    for chunk_start in (0..count).step_by(1_000) {
        let Begun::Fresh(work) = state.store.begin(None, Some("bench:seed".into()), None).await? else {
            anyhow::bail!("no replay")
        };
        for index in chunk_start..(chunk_start + 1_000).min(count) {
            let phone = format!("1990{index:07}");
            let parsed = Phone::parse(&phone).map_err(|invalid| anyhow::anyhow!("{invalid}"))?;
            let user = users::create(
                &work,
                users::NewUser {
                    username: phone.clone(),
                    role: Role::Rider,
                    level_id: Some(level_id),
                    display_name: format!("bench {index}"),
                    phone_key: Some(state.subjects.phone(&parsed)),
                    phone: Some(phone),
                    password_hash: hash.clone(),
                },
            )
            .await?;
            accounts.push(user.account_id.context("a rider has an account")?);
        }
        work.commit_plain().await?;
    }
    Ok(accounts)
}

/// Single-row durable inserts, each its own transaction: the disk's commit rate on this database.
async fn baseline(state: &crate::http::AppState, clients: usize, seconds: u64) -> anyhow::Result<RunReport> {
    baseline::create(state.store.reader()).await?;
    let store = state.store.clone();
    let report = drive("baseline: 1-row durable insert", clients, seconds, move |client, sequence| {
        let store = store.clone();
        async move { baseline::insert(&store, client as i64, sequence as i64).await.is_ok() }
    })
    .await;
    baseline::drop_table(state.store.reader()).await?;
    Ok(report)
}

fn parse_points(text: &str) -> i64 {
    text.parse::<crate::domain::points::Points>().map(|points| points.minor()).unwrap_or(i64::MIN)
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let path = std::env::temp_dir().join(format!("union-ledger-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&path)?;
    Ok(path)
}
