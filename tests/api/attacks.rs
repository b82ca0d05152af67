//! Attacks refused: guessing passwords and client secrets, partners flooding the API.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{PASSWORD, TestDatabase, spawn_app, spawn_with, test_settings};

async fn sign_in(app: &crate::helpers::TestApp, username: &str, password: &str) -> crate::helpers::Answer {
    app.request(Method::POST, "/api/v1/auth/login", None, Some(json!({"username": username, "password": password})))
        .await
}

#[tokio::test]
async fn guessing_a_password_is_slowed_then_refused_for_a_while_without_touching_other_accounts() {
    let app = spawn_app().await;
    let (_, _, [community, _]) = app.small_tree().await;
    app.rider("13800000001", community).await;
    app.rider("13800000002", community).await;

    // The owner's own typo, then success: the count starts again.
    sign_in(&app, "13800000001", "wrong-password-0").await.problem(401, "unauthorized");
    sign_in(&app, "13800000001", PASSWORD).await.ok(200);

    let mut statuses = Vec::new();
    for attempt in 0..5 {
        statuses.push(sign_in(&app, "13800000001", &format!("wrong-password-{attempt}")).await);
    }
    let codes: Vec<u16> = statuses.iter().map(|answer| answer.status.as_u16()).collect();
    assert_eq!(codes, [401, 401, 401, 401, 429]);
    let refused = statuses.last().unwrap();
    refused.problem(429, "too-many-attempts");
    let retry_after: u64 = refused.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "a lock-out of a minute at first: {retry_after}");

    // Locked: even the right password waits (the attacker learns nothing), and says for how long.
    let locked = sign_in(&app, "13800000001", PASSWORD).await;
    locked.problem(429, "too-many-attempts");
    assert!(locked.headers.contains_key("retry-after"));
    // Another rider signs in as usual.
    sign_in(&app, "13800000002", PASSWORD).await.ok(200);
}

#[tokio::test]
async fn guessing_a_partner_secret_is_refused_for_a_while() {
    let app = spawn_app().await;
    let (_, [district, _], _) = app.small_tree().await;
    let (_, client_id, secret) = app.partner("铁塔换电", district).await;
    let mut last = None;
    for attempt in 0..5 {
        last = Some(app.client_token(&client_id, &format!("not-the-secret-{attempt}")).await);
    }
    last.unwrap().problem(429, "too-many-attempts");
    app.client_token(&client_id, &secret).await.problem(429, "too-many-attempts");
}

#[tokio::test]
async fn partners_are_rate_limited_each_on_their_own() {
    let database = TestDatabase::new().await;
    let mut settings = test_settings(&database);
    settings.partner_requests_per_second = 1;
    let app = spawn_with(database, settings).await;
    let (_, [district, _], _) = app.small_tree().await;
    let greedy = app.partner_token(district).await;
    let polite = app.partner_token(district).await;
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(app.get("/api/v1/signals", &greedy).await);
    }
    assert_eq!(answers.iter().filter(|answer| answer.status.as_u16() == 200).count(), 2, "a burst of two");
    let refused = answers.last().unwrap();
    refused.problem(429, "too-many-attempts");
    assert_eq!(refused.headers["retry-after"], "1");
    app.get("/api/v1/signals", &polite).await.ok(200);
}

/// Rider A asks for rider B's things: each answer is the same refusal as for something that does
/// not exist, so nothing about B is revealed.
#[tokio::test]
async fn a_rider_cannot_read_or_touch_another_riders_things_nor_learn_that_they_exist() {
    let app = spawn_app().await;
    let (city, _, [community, _]) = app.small_tree().await;
    app.fund(city, "1000.00").await;
    let budget = app.budget_account(city).await;
    let a = app.rider("13800000001", community).await;
    let b = app.rider("13800000002", community).await;
    let b_account = b.account_id.unwrap();
    let entry = app.transfer(budget, b_account, "100.00").await.ok(201)["id"].as_i64().unwrap();
    let hold = app
        .post(
            "/api/v1/holds",
            &app.admin_token,
            json!({"from": b_account, "to": budget, "amount": "1.00", "reason": "x"}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let hazard = app
        .post("/api/v1/hazard-reports", &b.token, json!({"description": "井盖缺失", "place": "篁庄路口"}))
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let tea = app
        .post(
            "/api/v1/rewards",
            &app.admin_token,
            json!({"level_id": city, "name_zh": "奶茶", "name_en": "Milk tea", "cost": "15.00", "kind": "goods"}),
        )
        .await
        .ok(201)["id"]
        .clone();
    let redemption =
        app.post("/api/v1/redemptions", &b.token, json!({"reward_id": tea})).await.ok(201)["id"].as_i64().unwrap();
    let pool = app
        .post(
            "/api/v1/pools",
            &app.admin_token,
            json!({"level_id": city, "title": "奶茶送医护", "beneficiary": "医护人员", "goal_points": "500.00",
                   "deadline": app.now() + chrono::TimeDelta::days(7)}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let pledge = app.post(&format!("/api/v1/pools/{pool}/pledges"), &b.token, json!({"amount": "5.00"})).await.ok(201)
        ["pledge_id"]
        .as_i64()
        .unwrap();
    let application =
        app.post("/api/v1/membership/applications", &b.token, json!({})).await.ok(201)["id"].as_i64().unwrap();

    let missing = 9_999_999;
    let probes: Vec<(Method, String, String, Option<serde_json::Value>)> = vec![
        (Method::GET, format!("/api/v1/accounts/{b_account}"), format!("/api/v1/accounts/{missing}"), None),
        (
            Method::GET,
            format!("/api/v1/accounts/{b_account}/statement"),
            format!("/api/v1/accounts/{missing}/statement"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/accounts/{b_account}/balance?at=2030-01-01T00:00:00Z"),
            format!("/api/v1/accounts/{missing}/balance?at=2030-01-01T00:00:00Z"),
            None,
        ),
        (Method::GET, format!("/api/v1/entries/{entry}"), format!("/api/v1/entries/{missing}"), None),
        (Method::GET, format!("/api/v1/holds/{hold}"), format!("/api/v1/holds/{missing}"), None),
        (Method::GET, format!("/api/v1/hazard-reports/{hazard}"), format!("/api/v1/hazard-reports/{missing}"), None),
        (Method::GET, format!("/api/v1/redemptions/{redemption}"), format!("/api/v1/redemptions/{missing}"), None),
        (
            Method::POST,
            format!("/api/v1/redemptions/{redemption}/cancel"),
            format!("/api/v1/redemptions/{missing}/cancel"),
            Some(json!({})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/pools/{pool}/pledges/{pledge}"),
            format!("/api/v1/pools/{pool}/pledges/{missing}"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/membership/applications/{application}"),
            format!("/api/v1/membership/applications/{missing}"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/membership/applications/{application}/renew"),
            format!("/api/v1/membership/applications/{missing}/renew"),
            Some(json!({})),
        ),
        (Method::GET, format!("/api/v1/users/{}", b.id), format!("/api/v1/users/{missing}"), None),
    ];
    for (method, theirs, nothing, body) in probes {
        let on_theirs = app.request(method.clone(), &theirs, Some(&a.token), body.clone()).await;
        let on_nothing = app.request(method.clone(), &nothing, Some(&a.token), body).await;
        on_theirs.problem(403, "forbidden");
        assert_eq!(
            (on_theirs.status, &on_theirs.body["type"], &on_theirs.body["detail"]),
            (on_nothing.status, &on_nothing.body["type"], &on_nothing.body["detail"]),
            "{method} {theirs}: refused exactly like something that does not exist"
        );
    }
    // B's things are untouched, and B still sees them.
    app.get(&format!("/api/v1/redemptions/{redemption}"), &b.token).await.ok(200);
    assert_eq!(app.get(&format!("/api/v1/pools/{pool}"), &b.token).await.ok(200)["pledged"], "5.00");
    app.assert_verified().await;
}

/// Every text column of the tables that hold secrets, as stored.
async fn stored_texts(app: &crate::helpers::TestApp, sql: &str) -> Vec<String> {
    use sea_orm::{ConnectionTrait, Statement};
    let reader = app.state.store.reader();
    let rows = reader.query_all_raw(Statement::from_string(reader.get_database_backend(), sql)).await.unwrap();
    rows.iter().map(|row| row.try_get_by_index::<String>(0).unwrap()).collect()
}

#[tokio::test]
async fn passwords_refresh_tokens_and_client_secrets_are_stored_only_as_hashes() {
    let app = spawn_app().await;
    let (_, [district, _], [community, _]) = app.small_tree().await;
    app.rider("13800000001", community).await;
    let session = sign_in(&app, "13800000001", PASSWORD).await.ok(200).clone();
    let refresh_token = session["refresh_token"].as_str().unwrap().to_owned();
    let (_, _, client_secret) = app.partner("铁塔换电", district).await;

    let password_hashes = stored_texts(&app, "SELECT password_hash FROM users").await;
    assert!(password_hashes.iter().all(|hash| hash.starts_with("$argon2id$")), "{password_hashes:?}");
    assert!(password_hashes.iter().all(|hash| !hash.contains(PASSWORD)));
    let token_hashes = stored_texts(&app, "SELECT token_hash FROM refresh_tokens").await;
    assert!(!token_hashes.is_empty());
    assert!(token_hashes.iter().all(|hash| hash != &refresh_token && !hash.contains(&refresh_token)));
    let secret_hashes = stored_texts(&app, "SELECT secret_hash FROM partners").await;
    assert!(secret_hashes.iter().all(|hash| hash.starts_with("$argon2id$") && !hash.contains(&client_secret)));
}
