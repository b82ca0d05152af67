//! The real binary in separate processes: two servers on one database, and a server killed with
//! SIGKILL in the middle of a write load.

use std::process::{Child, Command};
use std::time::Duration;

use futures::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{JWT_SECRET, SUBJECT_KEY, TestDatabase};

const ADMIN_PASSWORD: &str = "admin-password-1";

/// `union-ledger serve` as its own process.
struct ServerProcess {
    child: Child,
    base: String,
}

impl ServerProcess {
    async fn start(database: &TestDatabase, data_dir: &std::path::Path) -> ServerProcess {
        ServerProcess::start_with(database, data_dir, &[]).await
    }

    /// Started with these variables added to the environment (and glibc's malloc settings removed,
    /// unless given).
    async fn start_with(
        database: &TestDatabase,
        data_dir: &std::path::Path,
        variables: &[(&str, &str)],
    ) -> ServerProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(env!("CARGO_BIN_EXE_union-ledger"))
            .arg("serve")
            .env("DATABASE_URL", &database.url)
            .env("LEDGER_DATA_DIR", data_dir)
            .env("LEDGER_LISTEN", format!("127.0.0.1:{port}"))
            .env("LEDGER_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("LEDGER_JWT_SECRET", JWT_SECRET)
            .env("LEDGER_SUBJECT_KEY", SUBJECT_KEY)
            .env("RUST_LOG", "warn")
            .env_remove("MALLOC_ARENA_MAX")
            .env_remove("GLIBC_TUNABLES")
            .envs(variables.iter().copied())
            .spawn()
            .expect("the server starts");
        let server = ServerProcess { child, base: format!("http://127.0.0.1:{port}") };
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if client.get(format!("{}/readyz", server.base)).send().await.is_ok_and(|answer| answer.status() == 200) {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the server did not become ready");
    }

    /// SIGKILL: no chance to finish anything.
    fn kill(&mut self) {
        self.child.kill().expect("the server is killed");
        self.child.wait().expect("the server is gone");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Status, whether the answer was replayed, and the body.
type Answered = (u16, bool, Value);

/// An admin's HTTP client for any of the servers.
#[derive(Clone)]
struct Admin {
    client: reqwest::Client,
    token: String,
}

impl Admin {
    async fn sign_in(base: &str) -> Admin {
        let client = reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap();
        let answer: Value = client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Admin { client, token: answer["access_token"].as_str().expect("the admin signs in").to_owned() }
    }

    /// Status, whether the answer was replayed, and the body; `None` when the server did not answer.
    async fn send(&self, base: &str, path: &str, body: Option<Value>, key: Option<&str>) -> Option<Answered> {
        let mut request = match &body {
            Some(body) => self.client.post(format!("{base}{path}")).json(body),
            None => self.client.get(format!("{base}{path}")),
        };
        request = request.bearer_auth(&self.token).timeout(Duration::from_secs(20));
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let answer = request.send().await.ok()?;
        let status = answer.status().as_u16();
        let replayed = answer.headers().contains_key("idempotency-replayed");
        let body = answer.json().await.unwrap_or(Value::Null);
        Some((status, replayed, body))
    }

    async fn ok(&self, base: &str, path: &str, body: Option<Value>) -> Value {
        let (status, _, body) = self.send(base, path, body, None).await.expect("an answer");
        assert!((200..300).contains(&status), "{path}: {status} {body}");
        body
    }
}

/// A city with a funded budget and a rider: (budget account, rider account).
async fn city_with_rider(admin: &Admin, base: &str, rider_points: &str) -> (i64, i64) {
    let city =
        admin.ok(base, "/api/v1/levels", Some(json!({"name": "江门市", "kind": "city"}))).await["id"].as_i64().unwrap();
    let budget = admin.ok(base, &format!("/api/v1/levels/{city}"), None).await["budget_account_id"].as_i64().unwrap();
    admin
        .ok(base, &format!("/api/v1/levels/{city}/budget/fund"), Some(json!({"amount": "100000.00", "reason": "预算"})))
        .await;
    let rider = admin
        .ok(
            base,
            "/api/v1/users",
            Some(json!({"password": "rider-password-1", "display_name": "骑手", "role": "rider",
                        "level_id": city, "phone": "13800000001"})),
        )
        .await["account_id"]
        .as_i64()
        .unwrap();
    let transfer = json!({"reason": "奖励", "transfers": [{"from": budget, "to": rider, "amount": rider_points}]});
    admin.ok(base, "/api/v1/entries", Some(transfer)).await;
    (budget, rider)
}

async fn verified(admin: &Admin, base: &str) -> u64 {
    let report = admin.ok(base, "/api/v1/ledger/verify", None).await;
    assert_eq!(report["ok"], true, "{report}");
    report["entries_checked"].as_u64().unwrap()
}

#[tokio::test]
async fn two_servers_on_one_database_never_overspend_replay_each_others_retries_and_share_the_jobs() {
    let database = TestDatabase::new().await;
    let data_dir = tempfile::tempdir().unwrap();
    let first = ServerProcess::start(&database, data_dir.path()).await;
    let second = ServerProcess::start(&database, data_dir.path()).await;
    let servers = [first.base.clone(), second.base.clone()];
    let admin = Admin::sign_in(&servers[0]).await;
    let (budget, rider) = city_with_rider(&admin, &servers[0], "10.00").await;

    // 64 spends of 1.00 from 10.00, through both servers at once.
    let spend = json!({"reason": "兑换", "transfers": [{"from": rider, "to": budget, "amount": "1.00"}]});
    let answers = join_all((0..64).map(|index| {
        let (admin, spend, base) = (admin.clone(), spend.clone(), servers[index % 2].clone());
        async move { admin.send(&base, "/api/v1/entries", Some(spend), Some(&format!("spend-{index}"))).await }
    }))
    .await;
    let answers: Vec<Answered> = answers.into_iter().map(|answer| answer.expect("an answer")).collect();
    let accepted: Vec<usize> = (0..64).filter(|index| answers[*index].0 == 201).collect();
    assert_eq!(accepted.len(), 10, "exactly the points there were");
    assert!(answers.iter().all(|(status, _, _)| *status == 201 || *status == 422));
    let rider_account = admin.ok(&servers[1], &format!("/api/v1/accounts/{rider}"), None).await;
    assert_eq!(rider_account["balance"], "0.00");
    let entries = verified(&admin, &servers[1]).await;

    // Retries sent to the other server are replayed, not posted again.
    for index in &accepted {
        let other = &servers[(index + 1) % 2];
        let retry = admin.send(other, "/api/v1/entries", Some(spend.clone()), Some(&format!("spend-{index}"))).await;
        let (status, replayed, body) = retry.expect("an answer");
        assert_eq!((status, replayed), (201, true));
        assert_eq!(body["id"], answers[*index].2["id"]);
    }
    assert_eq!(verified(&admin, &servers[0]).await, entries, "nothing was posted twice");

    // Holds that lapse while both servers sweep: each expires once, and the points come back once.
    let due = (chrono::Utc::now() + chrono::TimeDelta::seconds(1)).to_rfc3339();
    let mut holds = Vec::new();
    for index in 0..20 {
        let hold = json!({"from": budget, "to": rider, "amount": "1.00", "reason": format!("hold {index}"), "expires_at": due});
        holds.push(admin.ok(&servers[index % 2], "/api/v1/holds", Some(hold)).await["id"].as_i64().unwrap());
    }
    tokio::time::sleep(Duration::from_secs(7)).await;
    for hold in holds {
        let read = admin.ok(&servers[0], &format!("/api/v1/holds/{hold}"), None).await;
        assert_eq!(read["status"], "expired", "{read}");
    }
    let expired_rows = database_count(&database, "SELECT COUNT(*) FROM holds WHERE status = 'expired'").await;
    assert_eq!(expired_rows, 20);
    let budget_account = admin.ok(&servers[1], &format!("/api/v1/accounts/{budget}"), None).await;
    assert_eq!(budget_account["debits_pending"], "0.00", "{budget_account}");
    verified(&admin, &servers[1]).await;
}

async fn database_count(database: &TestDatabase, sql: &str) -> i64 {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let connection = Database::connect(&database.url).await.unwrap();
    let row = connection
        .query_one_raw(Statement::from_string(connection.get_database_backend(), sql))
        .await
        .unwrap()
        .expect("a row");
    let count: i64 = row.try_get_by_index(0).unwrap();
    connection.close().await.ok();
    count
}

#[tokio::test]
async fn a_server_killed_mid_load_loses_no_acknowledged_transfer_and_retries_post_nothing_twice() {
    let database = TestDatabase::new().await;
    let data_dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(&database, data_dir.path()).await;
    let base = server.base.clone();
    let admin = Admin::sign_in(&base).await;
    let (budget, rider) = city_with_rider(&admin, &base, "1.00").await;
    let entries_before = verified(&admin, &base).await;

    // 16 clients send transfers with their own keys until the server dies; every fourth request
    // spends from the rider far more than it holds and must be refused.
    let load = (0..16).map(|client| {
        let (admin, base) = (admin.clone(), base.clone());
        tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for sequence in 0.. {
                let key = format!("crash-{client}-{sequence}");
                let refused_kind = sequence % 4 == 3;
                let transfer = if refused_kind {
                    json!({"reason": key, "transfers": [{"from": rider, "to": budget, "amount": "500.00"}]})
                } else {
                    json!({"reason": key, "transfers": [{"from": budget, "to": rider, "amount": "0.01"}]})
                };
                let answer = admin.send(&base, "/api/v1/entries", Some(transfer.clone()), Some(&key)).await;
                let stop = answer.is_none();
                outcomes.push((key, transfer, answer));
                if stop {
                    break;
                }
            }
            outcomes
        })
    });
    let load: Vec<_> = load.collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill();
    let mut outcomes = Vec::new();
    for client in load {
        outcomes.extend(client.await.unwrap());
    }
    let acknowledged: Vec<&(String, Value, Option<Answered>)> =
        outcomes.iter().filter(|(_, _, answer)| matches!(answer, Some((201, _, _)))).collect();
    assert!(acknowledged.len() >= 10, "the load ran before the kill: {}", acknowledged.len());
    assert!(outcomes.iter().any(|(_, _, answer)| matches!(answer, Some((422, _, _)))), "some were refused");

    // Restarted on the same database: every acknowledged transfer is there, as it was answered.
    let server = ServerProcess::start(&database, data_dir.path()).await;
    let base = server.base.clone();
    let admin = Admin::sign_in(&base).await;
    for (_, _, answer) in &acknowledged {
        let posted = &answer.as_ref().unwrap().2;
        let stored = admin.ok(&base, &format!("/api/v1/entries/{}", posted["id"]), None).await;
        assert_eq!(stored["hash"], posted["hash"]);
        assert_eq!(stored["reason"], posted["reason"]);
    }
    verified(&admin, &base).await;

    // Clients retry everything with the same keys: acknowledged ones replay, refused ones are
    // refused again, and the ones cut off by the kill post at most once.
    let mut posted = 0u64;
    for (key, transfer, answer) in &outcomes {
        let retry = admin.send(&base, "/api/v1/entries", Some(transfer.clone()), Some(key)).await.expect("an answer");
        match answer {
            Some((201, _, first)) => {
                assert_eq!((retry.0, retry.1), (201, true), "{key}");
                assert_eq!(retry.2["id"], first["id"]);
                posted += 1;
            }
            Some((422, _, _)) => assert_eq!(retry.0, 422, "{key}: refused again, never posted"),
            _ => {
                assert!(retry.0 == 201 || retry.0 == 422, "{key}: {retry:?}");
                posted += u64::from(retry.0 == 201);
            }
        }
    }
    // Each key is in the journal at most once: the entry count and the rider's balance say so.
    assert_eq!(verified(&admin, &base).await, entries_before + posted);
    let rider_balance = admin.ok(&base, &format!("/api/v1/accounts/{rider}"), None).await["balance"].clone();
    let credited = posted as i64; // 0.01 each
    let expected = format!("{}.{:02}", (100 + credited) / 100, (100 + credited) % 100);
    assert_eq!(rider_balance, expected.as_str());
}

/// The server process's environment as it runs (after any start again).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn environment_of(server: &ServerProcess) -> Vec<String> {
    let environ = std::fs::read(format!("/proc/{}/environ", server.child.id())).unwrap();
    environ.split(|byte| *byte == 0).map(|variable| String::from_utf8_lossy(variable).into_owned()).collect()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[tokio::test]
async fn a_server_limits_glibc_to_four_malloc_arenas_unless_its_environment_chooses() {
    let database = TestDatabase::new().await;
    let data_dir = tempfile::tempdir().unwrap();
    let chosen_by_the_server = ServerProcess::start(&database, data_dir.path()).await;
    let chosen_by_the_operator =
        ServerProcess::start_with(&database, data_dir.path(), &[("MALLOC_ARENA_MAX", "8")]).await;

    let environment = environment_of(&chosen_by_the_server);
    assert!(environment.contains(&"MALLOC_ARENA_MAX=4".to_owned()), "{environment:?}");
    assert!(environment.contains(&"RUST_LOG=warn".to_owned()), "the rest of the environment is kept: {environment:?}");
    let environment = environment_of(&chosen_by_the_operator);
    assert!(environment.contains(&"MALLOC_ARENA_MAX=8".to_owned()), "{environment:?}");
    assert!(!environment.contains(&"MALLOC_ARENA_MAX=4".to_owned()), "{environment:?}");
}
