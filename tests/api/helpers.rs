use std::sync::Arc;

use chrono::{FixedOffset, NaiveTime, TimeDelta, Utc};
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database, DatabaseTransaction, DbBackend, TransactionTrait};
use serde_json::{Value, json};
use union_ledger::app::Application;
use union_ledger::clock::OffsetClock;
use union_ledger::config::{Secret, Settings};
use union_ledger::http::AppState;

pub const ADMIN_PASSWORD: &str = "admin-password-123";
pub const PASSWORD: &str = "rider-password-1";
/// The signing key of test servers, so tests can forge tokens with other keys and claims.
pub const JWT_SECRET: &str = "test-signing-key-test-signing-key-0123456789";
pub const SUBJECT_KEY: &str = "test-subject-key-test-subject-key-0123456789";

/// A fresh database: a SQLite file in a temporary directory, or a PostgreSQL database.
pub struct TestDatabase {
    pub url: String,
    postgres: Option<(String, String)>,
    _directory: tempfile::TempDir,
}

impl TestDatabase {
    pub async fn new() -> TestDatabase {
        let directory = tempfile::tempdir().expect("a temporary directory");
        match std::env::var("TEST_DATABASE_URL").ok().filter(|url| url.starts_with("postgres")) {
            Some(server_url) => {
                let name = format!("test_{}", uuid::Uuid::new_v4().simple());
                let server = Database::connect(&server_url).await.expect("TEST_DATABASE_URL reachable");
                server.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create a test database");
                server.close().await.ok();
                let (base, _) = server_url.rsplit_once('/').expect("a database URL ends with /name");
                TestDatabase {
                    url: format!("{base}/{name}"),
                    postgres: Some((server_url, name)),
                    _directory: directory,
                }
            }
            None => {
                let url = format!("sqlite://{}?mode=rwc", directory.path().join("test.db").display());
                TestDatabase { url, postgres: None, _directory: directory }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((server_url, name)) = self.postgres.take() {
            // Drop runs outside async; a short-lived runtime on another thread does the cleanup.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
                runtime.block_on(async {
                    if let Ok(server) = Database::connect(&server_url).await {
                        let _ =
                            server.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                        let _ = server.close().await;
                    }
                });
            })
            .join();
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub admin_token: String,
    pub clock: Arc<OffsetClock>,
    pub state: AppState,
    pub settings: Settings,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    /// Kept until the app is dropped; dropping it deletes the database. A second server on the
    /// same database (`spawn_beside`) holds none.
    _database: Option<TestDatabase>,
}

pub fn test_settings(database: &TestDatabase) -> Settings {
    let mut settings = Settings::for_database(&database.url, std::env::temp_dir().as_path());
    settings.admin_password = Some(Secret::new(ADMIN_PASSWORD));
    settings.jwt_secret = Some(Secret::new(JWT_SECRET));
    settings.subject_key = Some(Secret::new(SUBJECT_KEY));
    settings
}

pub async fn spawn_app() -> TestApp {
    let database = TestDatabase::new().await;
    let settings = test_settings(&database);
    spawn_with(database, settings).await
}

pub async fn spawn_with(database: TestDatabase, settings: Settings) -> TestApp {
    serve(Some(database), settings).await
}

impl TestApp {
    /// A second server on this app's database with other settings; it must not outlive this app.
    pub async fn spawn_beside(&self, settings: Settings) -> TestApp {
        serve(None, settings).await
    }
}

/// The clock of a test server: now, or with `TEST_CHINA_TIME=HH:MM` the last time it was HH:MM in
/// China (UTC+8), so that the suite can be run at the hours where a local day turns.
fn starting_clock() -> OffsetClock {
    let clock = OffsetClock::default();
    if let Ok(time) = std::env::var("TEST_CHINA_TIME") {
        let time = NaiveTime::parse_from_str(&time, "%H:%M").expect("TEST_CHINA_TIME is HH:MM");
        let china = FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
        let now = Utc::now().with_timezone(&china);
        let mut then = now.date_naive().and_time(time).and_local_timezone(china).unwrap();
        if then > now {
            then -= TimeDelta::days(1);
        }
        clock.advance(then - now);
    }
    clock
}

async fn serve(database: Option<TestDatabase>, settings: Settings) -> TestApp {
    let clock = Arc::new(starting_clock());
    let application = Application::build_with_clock(&settings, clock.clone()).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", application.port());
    let state = application.state();
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        application
            .run_until_stopped(async {
                let _ = stopped.await;
            })
            .await
            .expect("the app runs");
    });
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build().expect("a client");
    let mut app = TestApp {
        address,
        client,
        admin_token: String::new(),
        clock,
        state,
        settings,
        shutdown: Some(shutdown),
        server: Some(server),
        _database: database,
    };
    if let Some(password) = app.settings.admin_password.clone() {
        let username = app.settings.admin_username.clone();
        app.admin_token =
            app.login(&username, password.expose()).await["access_token"].as_str().expect("admin signs in").to_owned();
    }
    app
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// An answer: status, headers and JSON body (Null when there is none).
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn content_type(&self) -> &str {
        self.headers.get("content-type").and_then(|value| value.to_str().ok()).unwrap_or("")
    }

    /// Asserts a problem+json answer of this status and type slug; returns the body.
    #[track_caller]
    pub fn problem(&self, status: u16, slug: &str) -> &Value {
        assert_eq!(self.status.as_u16(), status, "status of {}", self.body);
        assert!(self.content_type().starts_with("application/problem+json"), "content type {}", self.content_type());
        assert_eq!(self.body["type"], format!("/problems/{slug}"), "problem {}", self.body);
        assert_eq!(self.body["status"], status);
        assert!(self.body["title"].as_str().is_some_and(|title| !title.is_empty()));
        assert!(self.body["detail"].as_str().is_some_and(|detail| !detail.is_empty()));
        &self.body
    }

    #[track_caller]
    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "unexpected answer: {}", self.body);
        &self.body
    }

    /// The fields named by a validation problem.
    pub fn fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| errors.iter().map(|error| error["field"].as_str().unwrap_or("").to_owned()).collect())
            .unwrap_or_default()
    }
}

pub struct Person {
    pub id: i64,
    pub token: String,
    pub account_id: Option<i64>,
}

impl TestApp {
    pub async fn request(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        self.request_with(method, path, token, body, &[]).await
    }

    pub async fn request_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = self.client.request(method, format!("{}{path}", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("a body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Answer { status, headers, body }
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.request(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.request(Method::POST, path, Some(token), Some(body)).await
    }

    /// A CSV export: checks the media type and the byte-order mark, and gives the lines.
    pub async fn csv(&self, path: &str, token: &str) -> Vec<String> {
        let answer = self.request_with(Method::GET, path, Some(token), None, &[("accept", "text/csv")]).await;
        assert_eq!(answer.status.as_u16(), 200, "{path}: {:?}", answer.body);
        assert!(answer.content_type().starts_with("text/csv; charset=utf-8"), "{path}");
        let text = answer.body.as_str().expect("a CSV body").to_owned();
        assert!(text.starts_with('\u{feff}'), "{path}: a byte-order mark for spreadsheet programs");
        text.trim_start_matches('\u{feff}').lines().map(str::to_owned).collect()
    }

    pub async fn login(&self, username: &str, password: &str) -> Value {
        let answer = self
            .request(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"username": username, "password": password})),
            )
            .await;
        answer.ok(200).clone()
    }

    pub async fn create_level(&self, name: &str, kind: &str, parent_id: Option<i64>) -> Value {
        self.post("/api/v1/levels", &self.admin_token, json!({"name": name, "kind": kind, "parent_id": parent_id}))
            .await
            .ok(201)
            .clone()
    }

    /// A city with two districts, each with one street and one community. Returns
    /// (city, [district A, district B], [community under A, community under B]) ids.
    pub async fn small_tree(&self) -> (i64, [i64; 2], [i64; 2]) {
        let city = self.create_level("江门市", "city", None).await["id"].as_i64().unwrap();
        let district_a = self.create_level("蓬江区", "district", Some(city)).await["id"].as_i64().unwrap();
        let district_b = self.create_level("江海区", "district", Some(city)).await["id"].as_i64().unwrap();
        let street_a = self.create_level("环市街道", "street", Some(district_a)).await["id"].as_i64().unwrap();
        let street_b = self.create_level("外海街道", "street", Some(district_b)).await["id"].as_i64().unwrap();
        let community_a = self.create_level("篁庄社区", "community", Some(street_a)).await["id"].as_i64().unwrap();
        let community_b = self.create_level("麻三社区", "community", Some(street_b)).await["id"].as_i64().unwrap();
        (city, [district_a, district_b], [community_a, community_b])
    }

    /// Creates a staff member (admin, organizer, auditor) and signs them in.
    pub async fn staff(&self, role: &str, username: &str, level_id: Option<i64>) -> Person {
        let created = self
            .post(
                "/api/v1/users",
                &self.admin_token,
                json!({"username": username, "password": PASSWORD, "display_name": username, "role": role, "level_id": level_id}),
            )
            .await;
        let id = created.ok(201)["id"].as_i64().unwrap();
        let token = self.login(username, PASSWORD).await["access_token"].as_str().unwrap().to_owned();
        Person { id, token, account_id: None }
    }

    /// Registers a rider and signs them in.
    pub async fn rider(&self, phone: &str, level_id: i64) -> Person {
        let created = self
            .request(
                Method::POST,
                "/api/v1/auth/register",
                None,
                Some(json!({"phone": phone, "password": PASSWORD, "display_name": format!("骑手{phone}"), "level_id": level_id})),
            )
            .await;
        let body = created.ok(201).clone();
        let token = self.login(phone, PASSWORD).await["access_token"].as_str().unwrap().to_owned();
        Person { id: body["id"].as_i64().unwrap(), token, account_id: body["account_id"].as_i64() }
    }

    pub async fn budget_account(&self, level_id: i64) -> i64 {
        self.get(&format!("/api/v1/levels/{level_id}"), &self.admin_token).await.ok(200)["budget_account_id"]
            .as_i64()
            .unwrap()
    }

    pub async fn fund(&self, level_id: i64, amount: &str) -> Value {
        self.post(
            &format!("/api/v1/levels/{level_id}/budget/fund"),
            &self.admin_token,
            json!({"amount": amount, "reason": "annual budget"}),
        )
        .await
        .ok(201)
        .clone()
    }

    /// Moves points between accounts by a manual entry.
    pub async fn transfer(&self, from: i64, to: i64, amount: &str) -> Answer {
        self.post(
            "/api/v1/entries",
            &self.admin_token,
            json!({"reason": "test transfer", "transfers": [{"from": from, "to": to, "amount": amount}]}),
        )
        .await
    }

    pub async fn account(&self, account_id: i64) -> Value {
        self.get(&format!("/api/v1/accounts/{account_id}"), &self.admin_token).await.ok(200).clone()
    }

    pub async fn balance(&self, account_id: i64) -> String {
        self.account(account_id).await["balance"].as_str().unwrap().to_owned()
    }

    /// The service's time, which tests move with `advance_clock`.
    pub fn now(&self) -> chrono::DateTime<Utc> {
        use union_ledger::clock::Clock;
        self.clock.now()
    }

    pub async fn assert_verified(&self) -> Value {
        let report = self.get("/api/v1/ledger/verify", &self.admin_token).await.ok(200).clone();
        assert_eq!(report["ok"], true, "verify: {report}");
        report
    }

    /// Moves the service's clock; the admin signs in again, as their old token may have expired.
    pub async fn advance_clock(&mut self, by: TimeDelta) {
        self.clock.advance(by);
        if let Some(password) = self.settings.admin_password.clone() {
            let username = self.settings.admin_username.clone();
            self.admin_token =
                self.login(&username, password.expose()).await["access_token"].as_str().unwrap().to_owned();
        }
    }

    /// Runs SQL straight against the database, as an attacker or a broken disk might.
    pub async fn execute_sql(&self, sql: &str) {
        self.try_sql(sql).await.expect("the SQL runs");
    }

    /// Runs SQL straight against the database and says whether the database took it.
    pub async fn try_sql(&self, sql: &str) -> Result<(), sea_orm::DbErr> {
        self.state.store.reader().execute_unprepared(sql).await.map(|_| ())
    }

    /// Holds back inserts into `table` until the returned transaction ends, as another client's long
    /// transaction would: on its own connection, SQLite's write lock (every write waits), on
    /// PostgreSQL a lock on the table that inserts wait for.
    pub async fn hold_inserts_into(&self, table: &str) -> DatabaseTransaction {
        let connection = Database::connect(self.settings.database_url()).await.expect("the database is reachable");
        let transaction = connection.begin().await.expect("a transaction");
        let statement = match transaction.get_database_backend() {
            DbBackend::Sqlite => format!("UPDATE {table} SET id = id WHERE id < 0"),
            _ => format!("LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"),
        };
        transaction.execute_unprepared(&statement).await.expect("the lock is taken");
        transaction
    }
}

impl TestApp {
    /// Creates many riders at a level quickly (one password hash for all), as fixtures. They sign in
    /// with phone numbers `prefix` + a four-digit index and the password `PASSWORD`.
    pub async fn bulk_riders(&self, level_id: i64, prefix: &str, count: usize) -> Vec<i64> {
        use union_ledger::store::{Begun, users};
        let hash = union_ledger::auth::hash_password(PASSWORD.to_owned()).await.unwrap();
        let Begun::Fresh(work) = self.state.store.begin(None, None, None).await.unwrap() else { unreachable!() };
        let mut ids = Vec::with_capacity(count);
        for index in 0..count {
            let phone = format!("{prefix}{index:04}");
            let user = users::create(
                &work,
                users::NewUser {
                    username: phone.clone(),
                    role: union_ledger::domain::people::Role::Rider,
                    level_id: Some(level_id),
                    display_name: format!("骑手{index}"),
                    phone_key: Some(
                        self.state.subjects.phone(&union_ledger::domain::people::Phone::parse(&phone).unwrap()),
                    ),
                    phone: Some(phone),
                    password_hash: hash.clone(),
                },
            )
            .await
            .unwrap();
            ids.push(user.id);
        }
        work.commit_plain().await.unwrap();
        ids
    }

    /// The rider's points account.
    pub async fn account_of(&self, user_id: i64) -> i64 {
        self.get(&format!("/api/v1/users/{user_id}"), &self.admin_token).await.ok(200)["account_id"].as_i64().unwrap()
    }
}

impl TestApp {
    /// Registers a battery-swap partner serving `level_id` and returns (id, client id, secret).
    pub async fn partner(&self, name: &str, level_id: i64) -> (i64, String, String) {
        let created = self
            .post(
                "/api/v1/partners",
                &self.admin_token,
                json!({"name": name, "kind": "battery_swap", "level_ids": [level_id]}),
            )
            .await;
        let body = created.ok(201).clone();
        (
            body["partner"]["id"].as_i64().unwrap(),
            body["partner"]["client_id"].as_str().unwrap().to_owned(),
            body["client_secret"].as_str().unwrap().to_owned(),
        )
    }

    /// A partner's access token, by client credentials in a JSON body.
    pub async fn client_token(&self, client_id: &str, client_secret: &str) -> Answer {
        self.request(
            Method::POST,
            "/api/v1/auth/token",
            None,
            Some(json!({"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret})),
        )
        .await
    }

    /// Registers a partner serving `level_id` and signs it in.
    pub async fn partner_token(&self, level_id: i64) -> String {
        let (_, client_id, secret) = self.partner(&format!("换电{}", uuid::Uuid::new_v4().simple()), level_id).await;
        self.client_token(&client_id, &secret).await.ok(200)["access_token"].as_str().unwrap().to_owned()
    }
}
