use std::collections::HashSet;

use futures::future::join_all;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn fifty_simultaneous_spends_of_one_point_from_ten_points() {
    let app = spawn_app().await;
    let (city, _, [community, _]) = app.small_tree().await;
    let rider = app.rider("13800000001", community).await.account_id.unwrap();
    let budget = app.budget_account(city).await;
    app.fund(city, "100.00").await;
    app.transfer(budget, rider, "10.00").await.ok(201);

    let answers = join_all((0..50).map(|_| app.transfer(rider, budget, "1.00"))).await;
    let succeeded = answers.iter().filter(|answer| answer.status.as_u16() == 201).count();
    for refused in answers.iter().filter(|answer| answer.status.as_u16() != 201) {
        refused.problem(422, "insufficient-points");
    }
    assert_eq!(succeeded, 10);
    let account = app.account(rider).await;
    assert_eq!(account["balance"], "0.00");
    let statement =
        app.get(&format!("/api/v1/accounts/{rider}/statement?limit=500"), &app.admin_token).await.ok(200).clone();
    let balances_after: Vec<&str> =
        statement["lines"].as_array().unwrap().iter().map(|line| line["balance_after"].as_str().unwrap()).collect();
    assert!(balances_after.iter().all(|balance| !balance.starts_with('-')), "never below zero: {balances_after:?}");
    app.assert_verified().await;
}

#[tokio::test]
async fn opposite_transfers_between_two_accounts_neither_deadlock_nor_fail() {
    let app = spawn_app().await;
    let (city, _, [community_a, community_b]) = app.small_tree().await;
    let a = app.rider("13800000001", community_a).await.account_id.unwrap();
    let b = app.rider("13800000002", community_b).await.account_id.unwrap();
    let budget = app.budget_account(city).await;
    app.fund(city, "200.00").await;
    app.transfer(budget, a, "100.00").await.ok(201);
    app.transfer(budget, b, "100.00").await.ok(201);

    let requests =
        (0..40).map(|index| if index % 2 == 0 { app.transfer(a, b, "1.00") } else { app.transfer(b, a, "1.00") });
    let answers = join_all(requests).await;
    for answer in &answers {
        answer.ok(201);
    }
    assert_eq!(app.balance(a).await, "100.00");
    assert_eq!(app.balance(b).await, "100.00");
    app.assert_verified().await;
}

#[tokio::test]
async fn simultaneous_retries_with_one_key_post_once() {
    let app = spawn_app().await;
    let (city, _, [community, _]) = app.small_tree().await;
    let rider = app.rider("13800000001", community).await.account_id.unwrap();
    let budget = app.budget_account(city).await;
    app.fund(city, "100.00").await;
    let body = json!({"reason": "award", "transfers": [{"from": budget, "to": rider, "amount": "3.00"}]});
    // Spread over a few milliseconds, so that retries land in the same set as the first, in later
    // sets of its batch, and after it is durable.
    let answers = join_all((0..48u64).map(|index| {
        let body = body.clone();
        let app = &app;
        async move {
            tokio::time::sleep(std::time::Duration::from_micros(500 * index)).await;
            let headers: &[(&str, &str)] = &[("Idempotency-Key", "same-key")];
            app.request_with(reqwest::Method::POST, "/api/v1/entries", Some(&app.admin_token), Some(body), headers)
                .await
        }
    }))
    .await;
    let ids: HashSet<i64> = answers
        .iter()
        .filter_map(|answer| if answer.status.as_u16() == 201 { answer.body["id"].as_i64() } else { None })
        .collect();
    for answer in &answers {
        // A retry that arrives while the first is still in flight may be told so; none posts twice.
        assert!(answer.status.as_u16() == 201 || answer.status.as_u16() == 409, "{}", answer.body);
    }
    assert_eq!(ids.len(), 1, "one entry, whatever the interleaving");
    assert_eq!(app.balance(rider).await, "3.00");
    app.assert_verified().await;
}

#[tokio::test]
async fn a_hot_budget_paying_many_riders_at_once_stays_exact() {
    let app = spawn_app().await;
    let (city, _, [community, _]) = app.small_tree().await;
    let budget = app.budget_account(city).await;
    app.fund(city, "25.00").await;
    let mut riders = Vec::new();
    for index in 0..10 {
        riders.push(app.rider(&format!("1380000001{index}"), community).await.account_id.unwrap());
    }
    let answers = join_all((0..40).map(|index| app.transfer(budget, riders[index % riders.len()], "1.00"))).await;
    let succeeded = answers.iter().filter(|answer| answer.status.as_u16() == 201).count();
    assert_eq!(succeeded, 25, "a budget is never overspent");
    assert_eq!(app.balance(budget).await, "0.00");
    app.assert_verified().await;
}

/// Reads a counter from /metrics.
async fn counter(app: &crate::helpers::TestApp, name: &str) -> u64 {
    let metrics = app.client.get(format!("{}/metrics", app.address)).send().await.unwrap().text().await.unwrap();
    let line = metrics.lines().find(|line| line.starts_with(&format!("{name} "))).expect("the counter is exported");
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn concurrent_writes_share_commits_and_a_refusal_never_fails_its_neighbours() {
    let app = spawn_app().await;
    let (city, _, [community, _]) = app.small_tree().await;
    let budget = app.budget_account(city).await;
    let empty = app.rider("13800000001", community).await.account_id.unwrap();
    let paid = app.rider("13800000002", community).await.account_id.unwrap();
    app.fund(city, "100.00").await;
    let batches_before = counter(&app, "ledger_commit_batches_total").await;
    let units_before = counter(&app, "ledger_commit_units_total").await;

    // Every third request spends from an empty account and must fail alone, inside a shared batch.
    let answers = join_all((0..60).map(|index| {
        if index % 3 == 0 { app.transfer(empty, budget, "1.00") } else { app.transfer(budget, paid, "1.00") }
    }))
    .await;
    for (index, answer) in answers.iter().enumerate() {
        if index % 3 == 0 {
            answer.problem(422, "insufficient-points");
        } else {
            assert_eq!(answer.status.as_u16(), 201, "{:?}", answer.body);
        }
    }
    assert_eq!(app.account(paid).await["balance"], "40.00");
    assert_eq!(app.account(empty).await["balance"], "0.00");
    let batches = counter(&app, "ledger_commit_batches_total").await - batches_before;
    let units = counter(&app, "ledger_commit_units_total").await - units_before;
    assert!(units >= 40, "every acknowledged transfer was made durable by a commit: {units}");
    assert!(batches < units, "concurrent requests shared commits: {batches} commits for {units} units");
    app.assert_verified().await;
}

#[tokio::test]
async fn postings_sent_together_each_get_their_own_answer_audit_record_and_key() {
    let app = spawn_app().await;
    let (city, _, [community, _]) = app.small_tree().await;
    let budget = app.budget_account(city).await;
    let empty = app.rider("13800000001", community).await.account_id.unwrap();
    let paid = app.rider("13800000002", community).await.account_id.unwrap();
    app.fund(city, "100.00").await;
    let missing = paid + 1_000;
    let send = |from: i64, to: i64, key: String| {
        let body = json!({"reason": "together", "transfers": [{"from": from, "to": to, "amount": "1.00"}]});
        let app = &app;
        async move {
            let headers = [("Idempotency-Key", key.as_str())];
            app.request_with(reqwest::Method::POST, "/api/v1/entries", Some(&app.admin_token), Some(body), &headers)
                .await
        }
    };
    // Refusals of two kinds among successes, all at once: each request stands alone.
    let plan: Vec<(i64, i64)> = (0..30)
        .map(|index| match index % 5 {
            0 => (budget, missing),
            1 => (empty, budget),
            _ => (budget, paid),
        })
        .collect();
    let answers =
        join_all(plan.iter().enumerate().map(|(index, (from, to))| send(*from, *to, format!("k{index}")))).await;
    let mut entries = HashSet::new();
    for (index, answer) in answers.iter().enumerate() {
        match index % 5 {
            0 => assert_eq!(answer.problem(422, "unknown-account")["account_id"], missing),
            1 => {
                answer.problem(422, "insufficient-points");
            }
            _ => {
                let entry_id = answer.ok(201)["id"].as_i64().unwrap();
                assert!(entries.insert(entry_id), "one entry per request");
                // Its own audit record, with its own request id.
                let trail = app.get(&format!("/api/v1/audit?target=entry:{entry_id}"), &app.admin_token).await;
                let events = trail.ok(200)["events"].as_array().unwrap().clone();
                assert_eq!(events.len(), 1, "{events:?}");
                assert_eq!(events[0]["action"], "entry.post");
                assert_eq!(events[0]["request_id"], answer.headers["x-request-id"].to_str().unwrap());
            }
        }
    }
    assert_eq!(entries.len(), 18);
    assert_eq!(app.balance(paid).await, "18.00");
    // Each key kept its own answer: a retry replays it; a refused request's key was never used up.
    for (index, (from, to)) in plan.iter().enumerate() {
        let retry = send(*from, *to, format!("k{index}")).await;
        if index % 5 >= 2 {
            assert_eq!(retry.ok(201)["id"], answers[index].body["id"]);
            assert_eq!(retry.headers["idempotency-replayed"], "true");
        } else {
            assert_eq!(retry.status.as_u16(), 422, "{}", retry.body);
        }
    }
    assert_eq!(app.balance(paid).await, "18.00");
    app.assert_verified().await;
}

#[tokio::test]
async fn one_key_sent_at_once_with_two_different_bodies_posts_one_of_them() {
    let app = spawn_app().await;
    let (city, _, [community, _]) = app.small_tree().await;
    let budget = app.budget_account(city).await;
    let rider = app.rider("13800000001", community).await.account_id.unwrap();
    app.fund(city, "100.00").await;
    let amounts: Vec<&str> = (0..16).map(|index| if index % 2 == 0 { "1.00" } else { "2.00" }).collect();
    let answers = join_all(amounts.iter().map(|amount| {
        let body = json!({"reason": "twice", "transfers": [{"from": budget, "to": rider, "amount": amount}]});
        let headers: &[(&str, &str)] = &[("Idempotency-Key", "twice")];
        app.request_with(reqwest::Method::POST, "/api/v1/entries", Some(&app.admin_token), Some(body), headers)
    }))
    .await;
    let posted: HashSet<i64> = answers.iter().filter_map(|answer| answer.body["id"].as_i64()).collect();
    assert_eq!(posted.len(), 1, "one entry");
    let winner = answers.iter().find(|answer| answer.status.as_u16() == 201).expect("one body was posted");
    let amount = winner.body["postings"][0]["amount"].as_str().unwrap().trim_start_matches('-').to_owned();
    for (answer, sent) in answers.iter().zip(&amounts) {
        if *sent == amount {
            assert_eq!(answer.ok(201)["id"], winner.body["id"], "the same body replays the entry");
        } else {
            answer.problem(409, "idempotency-key-reused");
        }
    }
    assert_eq!(app.balance(rider).await, amount);
    app.assert_verified().await;
}

#[tokio::test]
async fn more_postings_at_once_than_one_set_takes_are_all_posted_exactly_once() {
    let app = spawn_app().await;
    let (city, _, [community, _]) = app.small_tree().await;
    let budget = app.budget_account(city).await;
    let riders = [
        app.rider("13800000001", community).await.account_id.unwrap(),
        app.rider("13800000002", community).await.account_id.unwrap(),
    ];
    app.fund(city, "10000.00").await;
    // 40 requests of 100 transfers: 8,000 postings, twice what one set takes, so the queue is
    // drained by several sets one after another.
    let answers = join_all((0..40).map(|_| {
        let transfers: Vec<_> =
            (0..100).map(|index| json!({"from": budget, "to": riders[index % 2], "amount": "1.00"})).collect();
        app.post("/api/v1/entries", &app.admin_token, json!({"reason": "many", "transfers": transfers}))
    }))
    .await;
    let entries: HashSet<i64> = answers.iter().map(|answer| answer.ok(201)["id"].as_i64().unwrap()).collect();
    assert_eq!(entries.len(), 40, "one entry per request");
    assert_eq!(app.balance(riders[0]).await, "2000.00");
    assert_eq!(app.balance(riders[1]).await, "2000.00");
    assert_eq!(app.balance(budget).await, "6000.00");
    app.assert_verified().await;
}
