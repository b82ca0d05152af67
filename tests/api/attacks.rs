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
