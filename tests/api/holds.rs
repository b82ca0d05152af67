use chrono::TimeDelta;
use serde_json::json;

use crate::helpers::{TestApp, spawn_app};

async fn funded_rider(app: &TestApp) -> (i64, i64) {
    let (city, _, [community, _]) = app.small_tree().await;
    let rider = app.rider("13800000001", community).await.account_id.unwrap();
    let budget = app.budget_account(city).await;
    app.fund(city, "100.00").await;
    app.transfer(budget, rider, "10.00").await.ok(201);
    (rider, budget)
}

#[tokio::test]
async fn a_hold_keeps_points_back_until_posted() {
    let app = spawn_app().await;
    let (rider, budget) = funded_rider(&app).await;
    let hold = app
        .post(
            "/api/v1/holds",
            &app.admin_token,
            json!({"from": rider, "to": budget, "amount": "6.00", "reason": "tea"}),
        )
        .await;
    let hold = hold.ok(201).clone();
    assert_eq!(hold["status"], "pending");
    let account = app.account(rider).await;
    assert_eq!(account["balance"], "10.00");
    assert_eq!(account["available"], "4.00");
    assert_eq!(account["debits_pending"], "6.00");
    let second = app
        .post(
            "/api/v1/holds",
            &app.admin_token,
            json!({"from": rider, "to": budget, "amount": "4.01", "reason": "more tea"}),
        )
        .await;
    assert_eq!(second.problem(422, "insufficient-points")["available"], "4.00");

    let hold_id = hold["id"].as_i64().unwrap();
    let posted = app
        .post(&format!("/api/v1/holds/{hold_id}/post"), &app.admin_token, json!({"amount": "5.00"}))
        .await
        .ok(200)
        .clone();
    assert_eq!(posted["hold"]["status"], "posted");
    assert_eq!(posted["hold"]["posted_amount"], "5.00");
    assert_eq!(posted["entry"]["reason"], "tea");
    let account = app.account(rider).await;
    assert_eq!(account["balance"], "5.00", "only what was posted is spent");
    assert_eq!(account["available"], "5.00");
    assert_eq!(account["debits_pending"], "0.00");
    app.post(&format!("/api/v1/holds/{hold_id}/post"), &app.admin_token, json!({}))
        .await
        .problem(409, "hold-not-pending");
    app.post(&format!("/api/v1/holds/{hold_id}/void"), &app.admin_token, json!({}))
        .await
        .problem(409, "hold-not-pending");
    app.assert_verified().await;
}

#[tokio::test]
async fn posting_more_than_was_held_is_refused() {
    let app = spawn_app().await;
    let (rider, budget) = funded_rider(&app).await;
    let hold = app
        .post("/api/v1/holds", &app.admin_token, json!({"from": rider, "to": budget, "amount": "2.00", "reason": "x"}))
        .await;
    let hold_id = hold.ok(201)["id"].as_i64().unwrap();
    let answer = app.post(&format!("/api/v1/holds/{hold_id}/post"), &app.admin_token, json!({"amount": "2.01"})).await;
    assert_eq!(answer.problem(422, "hold-amount-exceeded")["held"], "2.00");
    assert_eq!(app.account(rider).await["available"], "8.00");
}

#[tokio::test]
async fn a_voided_hold_gives_the_points_back() {
    let app = spawn_app().await;
    let (rider, budget) = funded_rider(&app).await;
    let hold = app
        .post("/api/v1/holds", &app.admin_token, json!({"from": rider, "to": budget, "amount": "10.00", "reason": "x"}))
        .await;
    let hold_id = hold.ok(201)["id"].as_i64().unwrap();
    assert_eq!(app.account(rider).await["available"], "0.00");
    let voided = app.post(&format!("/api/v1/holds/{hold_id}/void"), &app.admin_token, json!({})).await;
    assert_eq!(voided.ok(200)["status"], "voided");
    assert_eq!(app.account(rider).await["available"], "10.00");
    assert_eq!(app.account(budget).await["credits_pending"], "0.00");
    app.assert_verified().await;
}

#[tokio::test]
async fn an_expired_hold_reads_expired_at_once_and_is_released() {
    let mut app = spawn_app().await;
    let (rider, budget) = funded_rider(&app).await;
    let expires_at = (app.now() + TimeDelta::minutes(30)).to_rfc3339();
    let hold = app
        .post(
            "/api/v1/holds",
            &app.admin_token,
            json!({"from": rider, "to": budget, "amount": "7.00", "reason": "x", "expires_at": expires_at}),
        )
        .await;
    let hold_id = hold.ok(201)["id"].as_i64().unwrap();
    assert_eq!(app.account(rider).await["available"], "3.00");
    app.advance_clock(TimeDelta::minutes(31)).await;
    // Right whenever it is read, before any sweep.
    assert_eq!(app.get(&format!("/api/v1/holds/{hold_id}"), &app.admin_token).await.ok(200)["status"], "expired");
    assert_eq!(app.account(rider).await["available"], "10.00");
    app.post(&format!("/api/v1/holds/{hold_id}/post"), &app.admin_token, json!({}))
        .await
        .problem(409, "hold-not-pending");
    // Spending touches the account: the due hold is expired in the same transaction.
    app.transfer(rider, budget, "10.00").await.ok(201);
    assert_eq!(app.account(rider).await["balance"], "0.00");
    app.assert_verified().await;
}

#[tokio::test]
async fn the_sweeper_expires_due_holds_exactly_once() {
    let mut app = spawn_app().await;
    let (rider, budget) = funded_rider(&app).await;
    let expires_at = (app.now() + TimeDelta::minutes(5)).to_rfc3339();
    for _ in 0..3 {
        app.post(
            "/api/v1/holds",
            &app.admin_token,
            json!({"from": rider, "to": budget, "amount": "1.00", "reason": "x", "expires_at": expires_at}),
        )
        .await
        .ok(201);
    }
    app.advance_clock(TimeDelta::minutes(6)).await;
    let (first, second) =
        tokio::join!(union_ledger::jobs::sweep(&app.state.store, 6), union_ledger::jobs::sweep(&app.state.store, 6));
    assert_eq!(first.unwrap() + second.unwrap(), 3);
    assert_eq!(union_ledger::jobs::sweep(&app.state.store, 6).await.unwrap(), 0);
    assert_eq!(app.account(rider).await["debits_pending"], "0.00");
    app.assert_verified().await;
}

#[tokio::test]
async fn hold_requests_are_validated() {
    let app = spawn_app().await;
    let (rider, budget) = funded_rider(&app).await;
    let past = (app.now() - TimeDelta::minutes(1)).to_rfc3339();
    let answer = app
        .post(
            "/api/v1/holds",
            &app.admin_token,
            json!({"from": rider, "to": rider, "amount": "0.00", "reason": "", "expires_at": past}),
        )
        .await;
    answer.problem(422, "validation-error");
    assert_eq!(answer.fields(), ["amount", "to", "reason", "expires_at"]);
    let _ = budget;
}
