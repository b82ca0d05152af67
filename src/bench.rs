//! The benchmark harness: `union-ledger bench`.
//!
//! Starts the service as a child process (`union-ledger serve`) on the configured database (a fresh
//! SQLite file by default), seeds its own data through the store and the API, then drives the HTTP
//! API with a fixed number of concurrent clients for a fixed time per workload, and prints
//! throughput, latency percentiles, errors and the server's peak memory. After each run it calls
//! verify and checks the totals it expects. A baseline measures single-row durable inserts on the
//! same database, so every figure is also a ratio to what the disk allows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use serde_json::{Value, json};

use crate::auth;
use crate::clock::SystemClock;
use crate::config::{Secret, Settings};
use crate::domain::ledger::{AccountKind, EntryKind, Transfer, transfers_to_postings};
use crate::domain::membership::SubjectKeys;
use crate::domain::people::{Phone, Role};
use crate::domain::points::Points;
use crate::loopback::{self, Method};
use crate::store::ledger::{self, EntryDraft, Reference};
use crate::store::{Begun, Store, baseline, users};

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
    /// Workloads to run (comma-separated): w1, w2, w3, w4, w5, w6; the baseline always runs.
    #[arg(long, value_delimiter = ',', default_value = "w1,w2,w3,w4,w5,w6")]
    pub workloads: Vec<String>,
    /// Concurrent clients for W4's reads (comma-separated): a latency at a load the machine
    /// keeps up with, and one with more clients than cores, queued.
    #[arg(long, value_delimiter = ',', default_value = "8,32")]
    pub read_clients: Vec<usize>,
    /// Postings in the journal W4 reads from (seeded before it runs).
    #[arg(long, default_value_t = 10_000_000)]
    pub journal_postings: u64,
    /// Riders whose 30 days of swaps W6 infers candidates from.
    #[arg(long, default_value_t = 40_000)]
    pub inference_riders: u64,
}

impl BenchArgs {
    fn runs(&self, workload: &str) -> bool {
        self.workloads.iter().any(|chosen| chosen.eq_ignore_ascii_case(workload))
    }
}

/// What one workload run measured.
#[derive(Debug)]
pub struct RunReport {
    pub name: String,
    pub clients: usize,
    /// Transfers or signals per request (1 for single requests).
    pub items_per_request: u64,
    pub ok: u64,
    pub errors: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    /// None where the tool measured no tail (pgbench prints only the mean).
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    /// What each acknowledged request cost the machine's CPU, where measured.
    pub cpu: Option<CpuPerRequest>,
}

/// CPU time (user and system) per acknowledged request, in microseconds, by process: the server,
/// PostgreSQL's processes on this machine (none on SQLite, which runs inside the server), and the
/// bench itself, whose load generator shares the machine with both.
#[derive(Clone, Copy, Debug)]
pub struct CpuPerRequest {
    pub server_us: f64,
    pub database_us: Option<f64>,
    pub load_generator_us: f64,
}

/// CPU time used so far, from /proc (Linux; in clock ticks of 1/100 s).
#[derive(Clone, Copy)]
struct CpuUsed {
    server: u64,
    database: Option<u64>,
    load_generator: u64,
}

impl CpuUsed {
    fn now(server: &Server) -> Option<CpuUsed> {
        let database = server.postgres_here.then(postgres_ticks).flatten();
        Some(CpuUsed {
            server: process_ticks(&server.child.id().to_string())?,
            database,
            load_generator: process_ticks("self")?,
        })
    }

    fn per_request(self, later: CpuUsed, requests: u64) -> Option<CpuPerRequest> {
        let per = |before: u64, after: u64| (after.saturating_sub(before) * 10_000) as f64 / requests as f64;
        (requests > 0).then(|| CpuPerRequest {
            server_us: per(self.server, later.server),
            database_us: self.database.zip(later.database).map(|(before, after)| per(before, after)),
            load_generator_us: per(self.load_generator, later.load_generator),
        })
    }
}

/// A process's user and system time in clock ticks (`/proc/<pid>/stat`, fields 14 and 15).
fn process_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the parenthesised name start at the third (the state).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The CPU time of every PostgreSQL process on this machine (the postmaster, the backends, the
/// WAL writer and the rest), where the database runs here; its processes that ended meanwhile are
/// not counted.
fn postgres_ticks() -> Option<u64> {
    let mut total = None;
    for process in std::fs::read_dir("/proc").ok()?.flatten() {
        let pid = process.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|byte| byte.is_ascii_digit()) {
            continue;
        }
        if std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|name| name.trim_end() == "postgres") {
            *total.get_or_insert(0) += process_ticks(&pid).unwrap_or(0);
        }
    }
    total
}

impl RunReport {
    /// Counts `items` (transfers, signals) per acknowledged request.
    fn with_items(mut self, items: u64) -> Self {
        self.items_per_request = items;
        self.per_second *= items as f64;
        self
    }

    fn print(&self, baseline: Option<f64>, server: &Server) {
        let ratio = baseline
            .filter(|rate| *rate > 0.0)
            .map(|rate| format!("{:.2}×", self.per_second / rate))
            .unwrap_or_else(|| "-".into());
        let tail = |ms: Option<f64>| ms.map_or_else(|| "-".into(), |ms| format!("{ms:.2}"));
        // A run of one long request is a fraction of a request a second, not "0/s".
        let rate =
            if self.per_second < 100.0 { format!("{:.2}", self.per_second) } else { format!("{:.0}", self.per_second) };
        let cpu = self.cpu.map_or_else(String::new, |cpu| {
            let database = cpu.database_us.map_or_else(|| "-".into(), |us| format!("{us:.0}"));
            format!(
                "  CPU µs/request: server {:.0}, database {database}, load generator {:.0}",
                cpu.server_us, cpu.load_generator_us
            )
        });
        println!(
            "{:<38} {:>4} clients {:>9}/s  p50 {:>7.2} ms  p99 {:>7} ms  max {:>8} ms  errors {:>5}  vs baseline {}  server peak RSS {} MiB{cpu}",
            self.name,
            self.clients,
            rate,
            self.p50_ms,
            tail(self.p99_ms),
            tail(self.max_ms),
            self.errors,
            ratio,
            server.peak_rss_mib()
        );
    }
}

/// The service under test, in its own process, so that its memory is its own.
struct Server {
    child: std::process::Child,
    /// Whether the database is a PostgreSQL on this machine, whose processes' CPU the reports count.
    postgres_here: bool,
}

impl Server {
    /// Starts `union-ledger serve` on a free port and waits until it is ready.
    async fn start(settings: &Settings) -> anyhow::Result<(Server, String)> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = std::process::Command::new(std::env::current_exe()?)
            .arg("serve")
            .env("DATABASE_URL", settings.database_url())
            .env("LEDGER_DATA_DIR", &settings.data_dir)
            .env("LEDGER_LISTEN", format!("127.0.0.1:{port}"))
            .env("LEDGER_ADMIN_USERNAME", &settings.admin_username)
            .env("LEDGER_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
            // The bench partner is meant to push as fast as the server takes it, and the bench's
            // tokens must outlive a long seeding.
            .env("LEDGER_PARTNER_REQUESTS_PER_SECOND", "1000000")
            .env("LEDGER_ACCESS_TOKEN_TTL_SECONDS", "86400")
            // Verifying a journal of ten million postings takes longer than a request may by default.
            .env("LEDGER_REQUEST_TIMEOUT_SECONDS", "3600")
            .spawn()
            .context("starting the server")?;
        let server = Server { child, postgres_here: crate::store::postgres_on_this_machine(&settings.database_url()) };
        let base = format!("http://127.0.0.1:{port}");
        let client = loopback::Client::new(&base)?;
        for _ in 0..300 {
            if client.send(Method::GET, "/readyz", None, None).await.is_ok_and(|answer| answer.status.is_success()) {
                return Ok((server, base));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("the server did not become ready in 30 s")
    }

    /// The server's peak resident memory, from /proc.
    fn peak_rss_mib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|status| status.lines().find(|line| line.starts_with("VmHWM:")).map(str::to_owned))
            .and_then(|line| line.split_whitespace().nth(1).and_then(|kib| kib.parse::<u64>().ok()))
            .map_or(0, |kib| kib / 1024)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const ADMIN_PASSWORD: &str = "bench-admin-password";

/// The bench's own way into the database, for seeding what the API would take minutes to create.
struct Seeder {
    store: Store,
    subjects: SubjectKeys,
}

fn percentile(sorted_us: &[u64], fraction: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let index = ((sorted_us.len() as f64 - 1.0) * fraction).round() as usize;
    sorted_us[index] as f64 / 1000.0
}

/// Runs `request` in `clients` loops for `seconds`; each call returns whether it succeeded.
async fn drive<F, Fut>(server: &Server, name: &str, clients: usize, seconds: u64, request: F) -> RunReport
where
    F: Fn(usize, u64) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let cpu_before = CpuUsed::now(server);
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
    let cpu = cpu_before
        .zip(CpuUsed::now(server))
        .and_then(|(before, after)| before.per_request(after, latencies.len() as u64));
    latencies.sort_unstable();
    RunReport {
        name: name.to_owned(),
        clients,
        items_per_request: 1,
        ok: latencies.len() as u64,
        errors,
        per_second: latencies.len() as f64 / elapsed,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: Some(percentile(&latencies, 0.99)),
        max_ms: Some(latencies.last().map_or(0.0, |max| *max as f64 / 1000.0)),
        cpu,
    }
}

/// The server under test, called as the bench's admin.
struct Target {
    http: Arc<loopback::Client>,
    admin_token: String,
}

impl Target {
    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.http.call(Method::POST, path, Some(&self.admin_token), Some(body)).await
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.http.call(Method::GET, path, Some(&self.admin_token), None).await
    }

    /// Whether a request of a workload succeeded, by its status alone: the load generator reads
    /// every answer to its end but parses none (each workload checks its totals afterwards).
    async fn succeeds(&self, method: Method, path: &str, body: Option<&Value>) -> bool {
        self.http.send(method, path, Some(&self.admin_token), body).await.is_ok_and(|answer| answer.status.is_success())
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
    settings.admin_username = "bench".into();
    settings.admin_password = Some(Secret::new(ADMIN_PASSWORD));
    // Migrate, create the admin and the keys first, so the server finds them.
    let store = Store::connect(&settings.database_url(), Arc::new(SystemClock)).await?;
    crate::app::bootstrap_admin(&store, &settings).await?;
    let seeder = Seeder { subjects: SubjectKeys::new(&settings.subject_key()?), store };
    let (server, base) = Server::start(&settings).await?;
    println!(
        "union-ledger bench: {:?} at {}, {} s per run; the server runs as process {}",
        seeder.store.backend(),
        settings.database_url().split('?').next().unwrap_or(""),
        args.seconds,
        server.child.id()
    );
    let http = Arc::new(loopback::Client::new(&base)?);
    let login = http
        .call(Method::POST, "/api/v1/auth/login", None, Some(&json!({"username": "bench", "password": ADMIN_PASSWORD})))
        .await?;
    let target =
        Target { http, admin_token: login["access_token"].as_str().context("bench admin signs in")?.to_owned() };
    // A city with a budget, and riders each holding 1,000.00 points.
    let city = target.post("/api/v1/levels", &json!({"name": "Bench City", "kind": "city"})).await?["id"]
        .as_i64()
        .context("a city")?;
    let budget =
        target.get(&format!("/api/v1/levels/{city}")).await?["budget_account_id"].as_i64().context("a budget")?;
    let accounts = seed_riders(&seeder, city, args.accounts).await?;
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

    let base_1 = baseline(&server, &seeder, 1, args.seconds).await?;
    base_1.print(None, &server);
    let base_8 = baseline(&server, &seeder, 8, args.seconds).await?;
    base_8.print(None, &server);
    let mut baseline_rate = base_1.per_second.max(base_8.per_second);
    reports.push(base_1);
    reports.push(base_8);
    if seeder.store.backend() == sea_orm::DbBackend::Postgres {
        for clients in [1, 8] {
            match pgbench(&seeder.store, &settings.database_url(), clients, args.seconds).await {
                Ok(report) => {
                    report.print(None, &server);
                    baseline_rate = baseline_rate.max(report.per_second);
                    reports.push(report);
                }
                Err(error) => println!("pgbench baseline skipped: {error:#}"),
            }
        }
    }

    if args.runs("w1") {
        for clients in &args.clients {
            let report = w1(&server, &target, &accounts, *clients, args.seconds).await?;
            report.print(Some(baseline_rate), &server);
            reports.push(report);
        }
    }
    if args.runs("w2") {
        let report = w2(&server, &target, budget, &accounts, 8, args.seconds).await?;
        report.print(Some(baseline_rate), &server);
        reports.push(report);
    }
    if args.runs("w3") {
        let report = w3(&server, &target, budget, &accounts, 32, args.seconds).await?;
        report.print(Some(baseline_rate), &server);
        reports.push(report);
    }
    if args.runs("w4") {
        reports.extend(w4(&seeder, &target, &server, city, args).await?);
    }
    if args.runs("w5") || args.runs("w6") {
        let partner = Arc::new(Partner::register(&target, city).await?);
        if args.runs("w5") {
            let report = w5(&server, &seeder, &partner, 8, args.seconds).await?;
            report.print(Some(baseline_rate), &server);
            reports.push(report);
        }
        if args.runs("w6") {
            for report in w6(&seeder, &target, &partner, args.inference_riders).await? {
                report.print(None, &server);
                reports.push(report);
            }
        }
    }

    println!("verify passed after every run; the server's peak RSS: {} MiB", server.peak_rss_mib());
    drop(server);
    seeder.store.close().await;
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(reports)
}

/// W1: single transfers between riders spread over every account.
async fn w1(
    server: &Server,
    target: &Arc<Target>,
    accounts: &[i64],
    clients: usize,
    seconds: u64,
) -> anyhow::Result<RunReport> {
    let entries_before = target.verify().await?["entries_checked"].as_u64().unwrap_or(0);
    let accounts = Arc::new(accounts.to_vec());
    let shared = target.clone();
    let name = format!("W1 single transfers ({} accounts)", accounts.len());
    let report = drive(server, &name, clients, seconds, move |client, sequence| {
        let target = shared.clone();
        let accounts = accounts.clone();
        async move {
            let (from, to) = spread(accounts.len(), client, sequence);
            let body =
                json!({"reason": "W1", "transfers": [{"from": accounts[from], "to": accounts[to], "amount": "0.01"}]});
            target.succeeds(Method::POST, "/api/v1/entries", Some(&body)).await
        }
    })
    .await;
    let entries_after = target.verify().await?["entries_checked"].as_u64().unwrap_or(0);
    anyhow::ensure!(entries_after == entries_before + report.ok, "every acknowledged transfer is in the journal once");
    Ok(report)
}

/// A cheap, deterministic spread over `count` accounts, never from an account to itself.
fn spread(count: usize, client: usize, sequence: u64) -> (usize, usize) {
    let from = (client * 7919 + sequence as usize * 104_729) % count;
    let to = (from + 1 + (sequence as usize * 31) % (count - 1)) % count;
    (from, to)
}

/// W2: awards in batches: one entry of 100 transfers from the budget to 100 riders per request.
async fn w2(
    server: &Server,
    target: &Arc<Target>,
    budget: i64,
    accounts: &[i64],
    clients: usize,
    seconds: u64,
) -> anyhow::Result<RunReport> {
    const PER_REQUEST: usize = 100;
    let entries_before = target.verify().await?["entries_checked"].as_u64().unwrap_or(0);
    let budget_before = parse_points(&target.balance(budget).await?);
    let accounts = Arc::new(accounts.to_vec());
    let shared = target.clone();
    let report = drive(server, "W2 awards, 100 transfers per request", clients, seconds, move |client, sequence| {
        let target = shared.clone();
        let accounts = accounts.clone();
        async move {
            let start = (client * 7919 + sequence as usize * PER_REQUEST) % accounts.len();
            let transfers: Vec<Value> = (0..PER_REQUEST)
                .map(|offset| {
                    json!({"from": budget, "to": accounts[(start + offset) % accounts.len()], "amount": "0.01"})
                })
                .collect();
            let body = json!({"reason": "W2", "transfers": transfers});
            target.succeeds(Method::POST, "/api/v1/entries", Some(&body)).await
        }
    })
    .await;
    let entries_after = target.verify().await?["entries_checked"].as_u64().unwrap_or(0);
    anyhow::ensure!(entries_after == entries_before + report.ok, "every acknowledged batch is in the journal once");
    let budget_after = parse_points(&target.balance(budget).await?);
    anyhow::ensure!(
        budget_before - budget_after == report.ok as i64 * PER_REQUEST as i64,
        "the budget paid exactly the acknowledged awards"
    );
    Ok(report.with_items(PER_REQUEST as u64))
}

/// W3: ten hot riders and one budget that every award debits.
async fn w3(
    server: &Server,
    target: &Arc<Target>,
    budget: i64,
    accounts: &[i64],
    clients: usize,
    seconds: u64,
) -> anyhow::Result<RunReport> {
    let hot: Arc<Vec<i64>> = Arc::new(accounts[..10.min(accounts.len())].to_vec());
    let budget_before = parse_points(&target.balance(budget).await?);
    let shared = target.clone();
    let report = drive(server, "W3 hot budget + 10 hot riders", clients, seconds, move |client, sequence| {
        let target = shared.clone();
        let hot = hot.clone();
        async move {
            let to = hot[(client + sequence as usize) % hot.len()];
            let body = json!({"reason": "W3", "transfers": [{"from": budget, "to": to, "amount": "0.01"}]});
            target.succeeds(Method::POST, "/api/v1/entries", Some(&body)).await
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
    Ok(report)
}

/// Accounts W4 reads; the journal's postings are spread over them.
const W4_ACCOUNTS: usize = 1_000;
/// Entries per unit of work while seeding W4's journal.
const W4_ENTRIES_PER_UNIT: usize = 2_500;

/// W4: balance and statement reads on a journal of `postings` postings (seeded here through the
/// store, as budget transfers between `W4_ACCOUNTS` accounts, so the hash chain stays whole).
async fn w4(
    seeder: &Seeder,
    target: &Arc<Target>,
    server: &Server,
    city: i64,
    args: &BenchArgs,
) -> anyhow::Result<Vec<RunReport>> {
    let (postings, seconds) = (args.journal_postings, args.seconds);
    let seeding = Instant::now();
    let accounts = {
        let Begun::Fresh(work) = seeder.store.begin(None, Some("bench:w4".into()), None).await? else {
            anyhow::bail!("no replay")
        };
        let issuance = ledger::account_id_of(work.txn(), AccountKind::Issuance, Some(city), None).await?;
        let mut accounts = Vec::with_capacity(W4_ACCOUNTS);
        for _ in 0..W4_ACCOUNTS {
            accounts.push(ledger::create_account(work.txn(), &work.context, AccountKind::Budget, city, None).await?);
        }
        let funding: Vec<EntryDraft> = accounts
            .iter()
            .map(|account| {
                draft(&[Transfer { from: issuance, to: *account, amount: Points::from_minor(100_000_000_000) }])
            })
            .collect();
        ledger::post_entries(&work, &funding).await?;
        work.commit_plain().await?;
        accounts
    };
    let mut written = 2 * W4_ACCOUNTS as u64;
    let mut round = 0usize;
    while written < postings {
        let Begun::Fresh(work) = seeder.store.begin(None, Some("bench:w4".into()), None).await? else {
            anyhow::bail!("no replay")
        };
        let drafts: Vec<EntryDraft> = (0..W4_ENTRIES_PER_UNIT)
            .map(|index| {
                let from = accounts[index % W4_ACCOUNTS];
                let to = accounts[(index + 1 + round % (W4_ACCOUNTS - 1)) % W4_ACCOUNTS];
                draft(&[Transfer { from, to, amount: Points::from_minor(1) }])
            })
            .collect();
        ledger::post_entries(&work, &drafts).await?;
        work.commit_plain().await?;
        written += 2 * W4_ENTRIES_PER_UNIT as u64;
        round += 1;
    }
    println!(
        "W4 journal: {written} postings over {W4_ACCOUNTS} accounts seeded in {:.0} s",
        seeding.elapsed().as_secs_f64()
    );
    settle(seeder).await?;
    let accounts = Arc::new(accounts);
    let mut reports = Vec::new();
    for (name, statement) in [("W4 balance reads", false), ("W4 statement reads (20 lines)", true)] {
        for clients in &args.read_clients {
            let shared = target.clone();
            let accounts = accounts.clone();
            let report = drive(server, name, *clients, seconds, move |client, sequence| {
                let target = shared.clone();
                let accounts = accounts.clone();
                async move {
                    let (account, _) = spread(accounts.len(), client, sequence);
                    let path = if statement {
                        format!("/api/v1/accounts/{}/statement?limit=20", accounts[account])
                    } else {
                        format!("/api/v1/accounts/{}", accounts[account])
                    };
                    target.succeeds(Method::GET, &path, None).await
                }
            })
            .await;
            // Printed at once: the verify of the whole journal below takes a while.
            report.print(None, server);
            reports.push(report);
        }
    }
    let verifying = Instant::now();
    let verified = target.verify().await?;
    println!(
        "W4 verify: {} entries checked in {:.1} s",
        verified["entries_checked"],
        verifying.elapsed().as_secs_f64()
    );
    Ok(reports)
}

fn draft(transfers: &[Transfer]) -> EntryDraft {
    EntryDraft {
        kind: EntryKind::Adjustment,
        reason: "bench".into(),
        reference: Reference::default(),
        postings: transfers_to_postings(transfers),
        reverses_entry_id: None,
    }
}

/// A battery-swap partner serving the bench city, signed in.
struct Partner {
    http: Arc<loopback::Client>,
    token: String,
}

impl Partner {
    async fn register(target: &Target, city: i64) -> anyhow::Result<Partner> {
        let created = target
            .post("/api/v1/partners", &json!({"name": "Bench Swap", "kind": "battery_swap", "level_ids": [city]}))
            .await?;
        let credentials = json!({
            "grant_type": "client_credentials",
            "client_id": created["partner"]["client_id"],
            "client_secret": created["client_secret"],
        });
        let token = target.http.call(Method::POST, "/api/v1/auth/token", None, Some(&credentials)).await?;
        Ok(Partner {
            http: target.http.clone(),
            token: token["access_token"].as_str().context("a partner token")?.to_owned(),
        })
    }

    /// Sends a batch; the number of events accepted.
    async fn send(&self, events: &[Value]) -> anyhow::Result<u64> {
        let body = json!({ "events": events });
        let answer = self.http.call(Method::POST, "/api/v1/signals", Some(&self.token), Some(&body)).await?;
        Ok(answer["accepted"].as_u64().unwrap_or(0))
    }
}

fn swap(event_id: String, subject: u64, at: chrono::DateTime<chrono::Utc>) -> Value {
    json!({
        "event_id": event_id,
        "subject": {"partner_ref": format!("rider-{subject}")},
        "kind": "battery_swap",
        "occurred_at": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "area": "Bench District",
    })
}

/// W5: partner signal batches of 1,000 events.
async fn w5(
    server: &Server,
    seeder: &Seeder,
    partner: &Arc<Partner>,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<RunReport> {
    const PER_BATCH: u64 = 1_000;
    let stored_before = signal_events(seeder).await?;
    let shared = partner.clone();
    let report = drive(server, "W5 partner signals, 1,000 per batch", clients, seconds, move |client, sequence| {
        let partner = shared.clone();
        async move {
            let now = chrono::Utc::now();
            let events: Vec<Value> = (0..PER_BATCH)
                .map(|index| swap(format!("w5-{client}-{sequence}-{index}"), 1_000_000 + index, now))
                .collect();
            partner.send(&events).await.is_ok_and(|accepted| accepted == PER_BATCH)
        }
    })
    .await;
    let stored = signal_events(seeder).await? - stored_before;
    anyhow::ensure!(stored == report.ok * PER_BATCH, "every acknowledged signal is stored once ({stored})");
    Ok(report.with_items(PER_BATCH))
}

async fn signal_events(seeder: &Seeder) -> anyhow::Result<u64> {
    use sea_orm::{EntityTrait, PaginatorTrait};
    Ok(entity::signal_event::Entity::find().count(seeder.store.reader()).await?)
}

/// W6: candidate inference over 30 days of swaps (three a day) by `riders` riders, sent as batches
/// of 1,000; then the rule is created (inference over everything, making every rider a candidate)
/// and run again on demand (nothing new).
async fn w6(
    seeder: &Seeder,
    target: &Arc<Target>,
    partner: &Arc<Partner>,
    riders: u64,
) -> anyhow::Result<Vec<RunReport>> {
    const DAYS: u64 = 30;
    const SWAPS_PER_DAY: u64 = 3;
    let seeding = Instant::now();
    let now = chrono::Utc::now();
    let total = riders * DAYS * SWAPS_PER_DAY;
    let events = move |index: u64| {
        let rider = index % riders;
        let slot = index / riders;
        let (day, swap_of_day) = (slot / SWAPS_PER_DAY, slot % SWAPS_PER_DAY);
        let at = now - chrono::TimeDelta::days(day as i64) - chrono::TimeDelta::hours(1 + 4 * swap_of_day as i64);
        swap(format!("w6-{index}"), rider, at)
    };
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut senders = Vec::new();
    for _ in 0..8 {
        let (next, partner) = (next.clone(), partner.clone());
        senders.push(tokio::spawn(async move {
            loop {
                let start = next.fetch_add(1_000, Ordering::Relaxed);
                if start >= total {
                    return anyhow::Ok(());
                }
                let batch: Vec<Value> = (start..(start + 1_000).min(total)).map(events).collect();
                partner.send(&batch).await?;
            }
        }));
    }
    for sender in senders {
        sender.await??;
    }
    println!(
        "W6 signals: {total} swaps by {riders} riders over {DAYS} days sent in {:.0} s",
        seeding.elapsed().as_secs_f64()
    );
    settle(seeder).await?;
    let rule = json!({
        "name": "W6 active riders", "kind": "battery_swap", "window_days": DAYS,
        "min_count": DAYS * SWAPS_PER_DAY / 2, "min_active_days": DAYS / 2,
    });
    let mut reports = Vec::new();
    let started = Instant::now();
    let created = target.post("/api/v1/membership/rules", &rule).await?;
    reports.push(timed("W6 rule created: inference over all", started, 1));
    anyhow::ensure!(
        created["candidates_created"].as_u64() == Some(riders),
        "every rider became a candidate: {}",
        created["candidates_created"]
    );
    let started = Instant::now();
    let rerun = target.post("/api/v1/membership/inference", &json!({})).await?;
    reports.push(timed("W6 inference again (nothing new)", started, 1));
    anyhow::ensure!(rerun["candidates_created"].as_u64() == Some(0), "nothing new: {rerun}");
    Ok(reports)
}

/// After seeding what a workload then only reads (W4's journal, W6's signals): on a PostgreSQL
/// server with autovacuum off (as on this project's machines), vacuums and analyzes, as autovacuum
/// would have by then on a server in service. Not before W1–W3, whose tables grow tenfold while
/// they run: statistics taken once, while the journal was small, made every posting's foreign key
/// check scan the whole journal (W1 at 32 clients 2.3× slower), which autovacuum, analyzing again
/// as the table grows, would not.
async fn settle(seeder: &Seeder) -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait;
    let connection = seeder.store.unbatched_writer();
    if seeder.store.backend() != sea_orm::DbBackend::Postgres {
        return Ok(());
    }
    let setting = connection
        .query_one_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, "SHOW autovacuum"))
        .await?
        .map(|row| row.try_get_by_index::<String>(0))
        .transpose()?;
    if setting.as_deref() == Some("off") {
        let started = Instant::now();
        connection.execute_unprepared("VACUUM ANALYZE").await?;
        println!("autovacuum is off: vacuumed and analyzed after seeding in {:.1} s", started.elapsed().as_secs_f64());
    }
    Ok(())
}

/// A report of one timed request.
fn timed(name: &str, started: Instant, clients: usize) -> RunReport {
    let elapsed = started.elapsed();
    let ms = elapsed.as_secs_f64() * 1000.0;
    RunReport {
        name: name.to_owned(),
        clients,
        items_per_request: 1,
        ok: 1,
        errors: 0,
        per_second: 1.0 / elapsed.as_secs_f64(),
        p50_ms: ms,
        p99_ms: Some(ms),
        max_ms: Some(ms),
        cpu: None,
    }
}

/// Creates riders straight through the store (one password hash for all): seeding 10,000 people
/// through the API would measure argon2, not the ledger.
async fn seed_riders(seeder: &Seeder, level_id: i64, count: usize) -> anyhow::Result<Vec<i64>> {
    let hash = auth::hash_password("bench-rider-password".into()).await?;
    let mut accounts = Vec::with_capacity(count);
    for chunk_start in (0..count).step_by(1_000) {
        let Begun::Fresh(work) = seeder.store.begin(None, Some("bench:seed".into()), None).await? else {
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
                    phone_key: Some(seeder.subjects.phone(&parsed)),
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
async fn baseline(server: &Server, seeder: &Seeder, clients: usize, seconds: u64) -> anyhow::Result<RunReport> {
    baseline::create(seeder.store.reader()).await?;
    let store = seeder.store.clone();
    let report = drive(server, "baseline: 1-row durable insert", clients, seconds, move |client, sequence| {
        let store = store.clone();
        async move { baseline::insert(&store, client as i64, sequence as i64).await.is_ok() }
    })
    .await;
    baseline::drop_table(seeder.store.reader()).await?;
    Ok(report)
}

/// The same one-row insert driven by pgbench (PostgreSQL's own load generator), where it is installed.
async fn pgbench(store: &Store, database_url: &str, clients: usize, seconds: u64) -> anyhow::Result<RunReport> {
    let program = ["pgbench", "/usr/lib/postgresql/15/bin/pgbench"]
        .into_iter()
        .find(|program| std::process::Command::new(program).arg("--version").output().is_ok())
        .context("pgbench is not installed")?;
    baseline::create(store.reader()).await?;
    let script = std::env::temp_dir().join(format!("union-ledger-pgbench-{}.sql", std::process::id()));
    std::fs::write(&script, "INSERT INTO bench_baseline (client, n) VALUES (:client_id, 1);\n")?;
    let arguments: Vec<String> = vec![
        "-n".into(),
        "-c".into(),
        clients.to_string(),
        "-j".into(),
        clients.min(2).to_string(),
        "-T".into(),
        seconds.to_string(),
        "-r".into(),
        "-f".into(),
        script.display().to_string(),
        database_url.to_owned(),
    ];
    // Over the same transport as the server's own connections.
    let plain = crate::store::plain_by_default(database_url);
    let output = tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new(program);
        if plain {
            command.env("PGSSLMODE", "disable");
        }
        command.args(arguments).output()
    })
    .await??;
    let _ = std::fs::remove_file(&script);
    baseline::drop_table(store.reader()).await?;
    let text = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(output.status.success(), "pgbench failed: {}", String::from_utf8_lossy(&output.stderr));
    let figure = |prefix: &str| {
        text.lines()
            .find_map(|line| line.trim().strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|number| number.parse::<f64>().ok())
    };
    let per_second = figure("tps = ").context("pgbench printed no tps")?;
    let latency_ms = figure("latency average = ").unwrap_or(0.0);
    let ok = figure("number of transactions actually processed: ").unwrap_or(0.0) as u64;
    Ok(RunReport {
        name: "baseline: pgbench insert (mean lat.)".into(),
        clients,
        items_per_request: 1,
        ok,
        errors: 0,
        per_second,
        p50_ms: latency_ms,
        p99_ms: None,
        max_ms: None,
        cpu: None,
    })
}

fn parse_points(text: &str) -> i64 {
    text.parse::<crate::domain::points::Points>().map(|points| points.minor()).unwrap_or(i64::MIN)
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let path = std::env::temp_dir().join(format!("union-ledger-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&path)?;
    Ok(path)
}
