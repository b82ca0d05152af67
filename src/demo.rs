//! `union-ledger serve --demo`: a believable city to try the product on, seeded through the API.
//!
//! Jiangmen city → three districts → two streets each → two communities each; an organizer per
//! district and an auditor with printed demo passwords; 300 riders; an emergency squad, a repair
//! squad and a city-duty shift with logged and approved hours; a battery-swap partner with a month
//! of swaps that makes some riders (and some people not registered yet) candidates; a catalog of
//! tea, an e-bike inspection and a cash bonus; and a pool of 300 teas for medical staff, partly
//! pledged. Everything goes through the HTTP API as a user would, so the demo is also a smoke test.
//! Seeding is deterministic (the same names, numbers and amounts every time, dated relative to now)
//! and refuses a database that already holds anything but its first admin.

use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::loopback::{self, Method};

/// The admin's password when none is configured.
pub const ADMIN_PASSWORD: &str = "demo-admin-password";
pub const ORGANIZER_PASSWORD: &str = "demo-organizer-password";
pub const AUDITOR_PASSWORD: &str = "demo-auditor-password";
pub const RIDER_PASSWORD: &str = "demo-rider-password";
const RIDERS: usize = 300;

struct Client {
    http: Arc<loopback::Client>,
    token: String,
}

impl Client {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        self.http.call(method, path, Some(&self.token), body.as_ref()).await
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(Method::GET, path, None).await
    }

    fn as_user(&self, token: String) -> Client {
        Client { http: self.http.clone(), token }
    }
}

async fn sign_in(http: &loopback::Client, username: &str, password: &str) -> anyhow::Result<String> {
    let answer = http
        .call(Method::POST, "/api/v1/auth/login", None, Some(&json!({"username": username, "password": password})))
        .await?;
    Ok(answer["access_token"].as_str().with_context(|| format!("{username} signs in: {answer}"))?.to_owned())
}

fn id(value: &Value) -> anyhow::Result<i64> {
    value["id"].as_i64().with_context(|| format!("an id in {value}"))
}

/// Who can sign in to the demo, printed when it is ready.
pub struct Summary {
    pub lines: Vec<String>,
}

/// A street and its two communities.
type Street = (&'static str, [&'static str; 2]);

/// The tree: each district with its two streets.
const TREE: [(&str, [Street; 2]); 3] = [
    ("蓬江区", [("环市街道", ["篁庄社区", "江北社区"]), ("白沙街道", ["水南社区", "西区社区"])]),
    ("江海区", [("外海街道", ["麻三社区", "直冲社区"]), ("礼乐街道", ["威东社区", "新华社区"])]),
    ("新会区", [("会城街道", ["城南社区", "圭峰社区"]), ("大泽镇", ["大泽社区", "五和社区"])]),
];

/// Seeds the demo city through the API at `base`, signed in as the admin.
pub async fn seed(base: &str, admin_username: &str, admin_password: &str) -> anyhow::Result<Summary> {
    let http = Arc::new(loopback::Client::new(base)?);
    let token = sign_in(&http, admin_username, admin_password).await.context(
        "refusing to seed the demo: the admin cannot sign in with the demo password, so this database is not new",
    )?;
    let admin = Client { http: http.clone(), token };
    let existing = admin.get("/api/v1/levels").await?;
    if existing["levels"].as_array().is_some_and(|levels| !levels.is_empty()) {
        bail!("refusing to seed the demo: this database already holds levels (use an empty database)");
    }
    let users = admin.get("/api/v1/users?limit=2").await?;
    if users["users"].as_array().is_some_and(|users| users.len() > 1) {
        bail!("refusing to seed the demo: this database already holds people besides the admin");
    }
    let now = Utc::now();

    // The tree and its budgets.
    let city = id(&admin.post("/api/v1/levels", json!({"name": "江门市", "kind": "city"})).await?)?;
    // Jiangmen's people read Chinese unless their client asks for English.
    admin.call(Method::PATCH, &format!("/api/v1/levels/{city}"), Some(json!({"language": "zh-CN"}))).await?;
    admin
        .post(
            &format!("/api/v1/levels/{city}/budget/fund"),
            json!({"amount": "1000000.00", "reason": "2026年度积分预算"}),
        )
        .await?;
    let mut districts = Vec::new();
    let mut communities = Vec::new();
    for (district_name, streets) in TREE {
        let district = id(&admin
            .post("/api/v1/levels", json!({"name": district_name, "kind": "district", "parent_id": city}))
            .await?)?;
        admin
            .post(
                &format!("/api/v1/levels/{city}/budget/allocate"),
                json!({"to_level_id": district, "amount": "100000.00", "reason": "区级志愿服务预算"}),
            )
            .await?;
        for (street_name, community_names) in streets {
            let street = id(&admin
                .post("/api/v1/levels", json!({"name": street_name, "kind": "street", "parent_id": district}))
                .await?)?;
            for community_name in community_names {
                communities.push(id(&admin
                    .post("/api/v1/levels", json!({"name": community_name, "kind": "community", "parent_id": street}))
                    .await?)?);
            }
        }
        districts.push((district, district_name));
    }

    // Staff.
    let mut lines = vec![format!("admin            {admin_username} / {admin_password}")];
    let mut organizers = Vec::new();
    for (index, (district, name)) in districts.iter().enumerate() {
        let username = format!("organizer{}", index + 1);
        admin
            .post(
                "/api/v1/users",
                json!({"username": username, "password": ORGANIZER_PASSWORD, "display_name": format!("{name}工会干事"),
                       "role": "organizer", "level_id": district}),
            )
            .await?;
        organizers.push(admin.as_user(sign_in(&http, &username, ORGANIZER_PASSWORD).await?));
        lines.push(format!("organizer ({name}) {username} / {ORGANIZER_PASSWORD}"));
    }
    admin
        .post(
            "/api/v1/users",
            json!({"username": "auditor", "password": AUDITOR_PASSWORD, "display_name": "市总工会审计", "role": "auditor"}),
        )
        .await?;
    lines.push(format!("auditor          auditor / {AUDITOR_PASSWORD}"));

    // Riders, spread over the communities, created a few at a time (each password is hashed).
    let admin = Arc::new(admin);
    let mut riders: Vec<(usize, i64, i64)> = Vec::with_capacity(RIDERS);
    for chunk_start in (0..RIDERS).step_by(16) {
        let mut creating = JoinSet::new();
        for index in chunk_start..(chunk_start + 16).min(RIDERS) {
            let (admin, level) = (admin.clone(), communities[index % communities.len()]);
            creating.spawn(async move {
                let created = admin
                    .post(
                        "/api/v1/users",
                        json!({"password": RIDER_PASSWORD, "display_name": rider_name(index), "role": "rider",
                               "level_id": level, "phone": rider_phone(index)}),
                    )
                    .await?;
                anyhow::Ok((index, id(&created)?, created["account_id"].as_i64().context("a rider account")?))
            });
        }
        while let Some(created) = creating.join_next().await {
            riders.push(created??);
        }
    }
    riders.sort_unstable();
    lines.push(format!("riders           {} … {} / {RIDER_PASSWORD}", rider_phone(0), rider_phone(RIDERS - 1)));

    // Volunteering in 蓬江区: an emergency squad, a repair squad, a city-duty shift; hours approved.
    let (penjiang, _) = districts[0];
    let organizer = &organizers[0];
    // Riders of 蓬江区: the first four communities (riders are spread over them in turn).
    let local: Vec<(usize, i64)> = riders
        .iter()
        .filter(|(index, _, _)| index % communities.len() < 4)
        .map(|(index, user, _)| (*index, *user))
        .collect();
    let volunteers: Vec<i64> = local.iter().map(|(_, user)| *user).take(60).collect();
    let work = [
        ("应急抢险队", "emergency_response", "台风“苏拉”过境抢险", "2.50", &volunteers[..20]),
        ("维修服务队", "repair_service", "V站免费修车", "2.00", &volunteers[20..40]),
        ("", "city_duty", "城市值班：江门站早高峰", "3.00", &volunteers[40..60]),
    ];
    let mut approved = 0;
    for (day, (squad_name, category, title, hours, members)) in work.into_iter().enumerate() {
        let squad = if squad_name.is_empty() {
            None
        } else {
            let squad = id(&organizer
                .post("/api/v1/squads", json!({"level_id": penjiang, "name": squad_name, "category": category}))
                .await?)?;
            organizer.post(&format!("/api/v1/squads/{squad}/members"), json!({"rider_ids": members})).await?;
            Some(squad)
        };
        let starts_at = now - TimeDelta::days(3 - day as i64) - TimeDelta::hours(6);
        let activity = id(&organizer
            .post(
                "/api/v1/activities",
                json!({"level_id": penjiang, "squad_id": squad, "title": title, "category": category,
                       "starts_at": starts_at, "ends_at": starts_at + TimeDelta::hours(5), "place": "江门市蓬江区"}),
            )
            .await?)?;
        organizer.post(&format!("/api/v1/activities/{activity}/status"), json!({"status": "open"})).await?;
        let rows: Vec<Value> = members
            .iter()
            .enumerate()
            .map(|(position, rider)| {
                json!({"rider_id": rider, "hours": hours, "outcome": if position % 5 == 0 { "commended" } else { "completed" },
                       "evidence_urls": [format!("https://photos.example/demo/{activity}/{position}.jpg")]})
            })
            .collect();
        let logged = organizer.post(&format!("/api/v1/activities/{activity}/hours"), json!({"rows": rows})).await?;
        let ids: Vec<Value> =
            logged["logs"].as_array().context("logged hours")?.iter().map(|log| log["id"].clone()).collect();
        approved += ids.len();
        organizer.post("/api/v1/hours/approve", json!({"ids": ids})).await?;
    }

    // A battery-swap partner with a month of swaps: 40 registered riders and 20 people not yet
    // registered swap three times a day; 20 more swap only now and then.
    let partner = admin
        .post("/api/v1/partners", json!({"name": "铁塔换电", "kind": "battery_swap", "level_ids": [city]}))
        .await?;
    let credentials = json!({"grant_type": "client_credentials", "client_id": partner["partner"]["client_id"],
                             "client_secret": partner["client_secret"]});
    let token = http.call(Method::POST, "/api/v1/auth/token", None, Some(&credentials)).await?;
    let swap_partner = admin.as_user(token["access_token"].as_str().context("a partner token")?.to_owned());
    let mut events = Vec::new();
    let subjects: Vec<(String, &str, u32)> = (0..80)
        .map(|subject| {
            let phone = if subject < 40 { rider_phone(subject * 7 % RIDERS) } else { format!("1370000{subject:04}") };
            let area = TREE[subject % 3].0;
            let days = if subject < 60 { 30 } else { 4 };
            (phone, area, days)
        })
        .collect();
    for (subject, (phone, area, days)) in subjects.iter().enumerate() {
        for day in 0..*days {
            for swap in 0..3 {
                let at = now - TimeDelta::days(i64::from(day)) - TimeDelta::hours(2 + 5 * swap);
                events.push(json!({"event_id": format!("tt-{subject}-{day}-{swap}"), "subject": {"phone": phone},
                                   "kind": "battery_swap", "occurred_at": rfc3339(at), "area": area}));
            }
        }
    }
    for batch in events.chunks(1_000) {
        swap_partner.post("/api/v1/signals", json!({"events": batch})).await?;
    }
    let rule = admin
        .post(
            "/api/v1/membership/rules",
            json!({"name": "活跃换电骑手", "kind": "battery_swap", "window_days": 30, "min_count": 20, "min_active_days": 7}),
        )
        .await?;

    // Rewards and a pool of 300 teas for medical staff, partly pledged.
    let tea = admin
        .post(
            "/api/v1/rewards",
            json!({"level_id": city, "name_zh": "奶茶", "name_en": "Milk tea", "description": "合作茶饮店一杯", "cost": "15.00",
                   "kind": "goods", "stock": 2000}),
        )
        .await?;
    admin
        .post(
            "/api/v1/rewards",
            json!({"level_id": city, "name_zh": "电动车免费检修", "name_en": "E-bike inspection", "cost": "30.00", "kind": "goods",
                   "limit": {"count": 1, "period": "month"}}),
        )
        .await?;
    admin
        .post(
            "/api/v1/rewards",
            json!({"level_id": city, "name_zh": "现金奖励", "name_en": "Cash bonus", "cost": "100.00", "kind": "cash_bonus",
                   "cash_value_yuan": "50.00", "limit": {"count": 1, "period": "month"}}),
        )
        .await?;
    let pool = admin
        .post(
            "/api/v1/pools",
            json!({"level_id": city, "title": "300杯奶茶送医护", "beneficiary": "江门市中心医院医护人员", "reward_id": tea["id"],
                   "quantity": 300, "deadline": now + TimeDelta::days(14)}),
        )
        .await?;
    let pool_id = id(&pool)?;
    let mut pledged = 0;
    // The emergency squad, who earned the most, pledge.
    for (index, _) in local.iter().take(20) {
        let rider = admin.as_user(sign_in(&http, &rider_phone(*index), RIDER_PASSWORD).await?);
        rider.post(&format!("/api/v1/pools/{pool_id}/pledges"), json!({"amount": "10.00"})).await?;
        pledged += 1;
    }

    lines.push(format!(
        "seeded: {} levels, {RIDERS} riders, {approved} approved hour logs, {} swap signals, {} candidates, \
         3 rewards, a pool of 300 teas with {pledged} pledges",
        1 + communities.len() + districts.len() * 3,
        events.len(),
        rule["candidates_created"],
    ));
    Ok(Summary { lines })
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Demo riders' phone numbers: 13900000000, 13900000001, …
pub fn rider_phone(index: usize) -> String {
    format!("139{index:08}")
}

fn rider_name(index: usize) -> String {
    const FAMILY: [&str; 12] = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙"];
    const GIVEN: [&str; 10] = ["伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明"];
    format!("{}{}{}", FAMILY[index % FAMILY.len()], GIVEN[(index / FAMILY.len()) % GIVEN.len()], index / 120 + 1)
}
