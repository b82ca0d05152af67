use chrono::{DateTime, Utc};
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn fund_allocate_pay_a_rider_reverse_and_verify() {
    let app = spawn_app().await;
    let (city, [district, _], [community, _]) = app.small_tree().await;
    let rider = app.rider("13812341234", community).await;
    let rider_account = rider.account_id.unwrap();
    let city_budget = app.budget_account(city).await;
    let district_budget = app.budget_account(district).await;

    let funded = app.fund(city, "10000.00").await;
    assert_eq!(funded["kind"], "fund");
    assert_eq!(funded["reference"], json!({"type": "level", "id": city.to_string()}));
    assert_eq!(
        funded["postings"][1],
        json!({"account_id": city_budget, "amount": "10000.00", "balance_after": "10000.00"})
    );

    let allocated = app
        .post(
            &format!("/api/v1/levels/{city}/budget/allocate"),
            &app.admin_token,
            json!({"to_level_id": district, "amount": "2500.50", "reason": "Q1 budget"}),
        )
        .await;
    assert_eq!(allocated.ok(201)["kind"], "allocate");
    assert_eq!(app.balance(city_budget).await, "7499.50");
    assert_eq!(app.balance(district_budget).await, "2500.50");

    let payment = app.transfer(district_budget, rider_account, "12.50").await.ok(201).clone();
    assert_eq!(payment["kind"], "adjustment");
    let payment_id = payment["id"].as_i64().unwrap();
    assert_eq!(app.balance(rider_account).await, "12.50");
    let me = app.get("/api/v1/me", &rider.token).await.ok(200).clone();
    assert_eq!(me["balance"], "12.50");

    let statement = app.get("/api/v1/me/statement", &rider.token).await.ok(200).clone();
    assert_eq!(statement["balance"], "12.50");
    let line = &statement["lines"][0];
    assert_eq!(line["entry_id"], payment_id);
    assert_eq!(line["kind"], "adjustment");
    assert_eq!(line["reason"], "test transfer");
    assert_eq!(line["amount"], "12.50");
    assert_eq!(line["balance_after"], "12.50");

    let reversal = app
        .post(&format!("/api/v1/entries/{payment_id}/reversal"), &app.admin_token, json!({"reason": "logged twice"}))
        .await;
    let reversal = reversal.ok(201).clone();
    assert_eq!(reversal["kind"], "reversal");
    assert_eq!(reversal["reverses_entry_id"], payment_id);
    assert_eq!(app.balance(rider_account).await, "0.00");
    assert_eq!(app.balance(district_budget).await, "2500.50");
    let original = app.get(&format!("/api/v1/entries/{payment_id}"), &app.admin_token).await.ok(200).clone();
    assert_eq!(original["reversed_by_entry_id"], reversal["id"], "linked both ways");
    let twice =
        app.post(&format!("/api/v1/entries/{payment_id}/reversal"), &app.admin_token, json!({"reason": "again"})).await;
    twice.problem(409, "entry-already-reversed");

    let statement = app.get("/api/v1/me/statement", &rider.token).await.ok(200).clone();
    let amounts: Vec<&str> =
        statement["lines"].as_array().unwrap().iter().map(|line| line["amount"].as_str().unwrap()).collect();
    assert_eq!(amounts, ["-12.50", "12.50"], "newest first");
    let report = app.assert_verified().await;
    assert_eq!(report["entries_checked"], 4);
}

#[tokio::test]
async fn a_manual_entry_posts_all_its_transfers_or_none() {
    let app = spawn_app().await;
    let (city, _, [community_a, community_b]) = app.small_tree().await;
    let a = app.rider("13800000001", community_a).await.account_id.unwrap();
    let b = app.rider("13800000002", community_b).await.account_id.unwrap();
    let budget = app.budget_account(city).await;
    app.fund(city, "100.00").await;
    let too_much = app
        .post(
            "/api/v1/entries",
            &app.admin_token,
            json!({"reason": "split", "transfers": [{"from": budget, "to": a, "amount": "60.00"}, {"from": budget, "to": b, "amount": "60.00"}]}),
        )
        .await;
    let problem = too_much.problem(422, "insufficient-points");
    assert_eq!(problem["available"], "40.00");
    assert_eq!(problem["requested"], "60.00");
    assert_eq!(problem["account_id"], budget);
    assert_eq!(app.balance(a).await, "0.00", "the first transfer did not post either");
    assert_eq!(app.balance(budget).await, "100.00");

    let split = app
        .post(
            "/api/v1/entries",
            &app.admin_token,
            json!({"reason": "split", "transfers": [{"from": budget, "to": a, "amount": "60.00"}, {"from": budget, "to": b, "amount": "40.00"}]}),
        )
        .await;
    assert_eq!(split.ok(201)["postings"].as_array().unwrap().len(), 4);
    assert_eq!(app.balance(budget).await, "0.00");
    app.assert_verified().await;
}

#[tokio::test]
async fn bad_entries_name_what_is_wrong_and_change_nothing() {
    let app = spawn_app().await;
    let (city, _, [community, _]) = app.small_tree().await;
    let rider = app.rider("13800000001", community).await.account_id.unwrap();
    let budget = app.budget_account(city).await;
    app.fund(city, "100.00").await;
    let cases = [
        (json!({"reason": "", "transfers": []}), vec!["reason", "transfers"]),
        (
            json!({"reason": "x", "transfers": [{"from": budget, "to": budget, "amount": "1.00"}]}),
            vec!["transfers[0].to"],
        ),
        (
            json!({"reason": "x", "transfers": [{"from": budget, "to": rider, "amount": "0.00"}]}),
            vec!["transfers[0].amount"],
        ),
        (
            json!({"reason": "x", "transfers": [{"from": budget, "to": rider, "amount": "1.005"}]}),
            vec!["transfers[0].amount"],
        ),
        (
            json!({"reason": "x", "transfers": [{"from": budget, "to": rider, "amount": 1.5}]}),
            vec!["transfers[0].amount"],
        ),
        (json!({"reason": "x", "transfers": [{"from": budget, "to": rider}]}), vec!["transfers[0]"]),
    ];
    for (body, fields) in cases {
        let answer = app.post("/api/v1/entries", &app.admin_token, body.clone()).await;
        answer.problem(422, "validation-error");
        assert_eq!(answer.fields(), fields, "{body}");
    }
    let unknown = app.transfer(budget, 9999, "1.00").await;
    assert_eq!(unknown.problem(422, "unknown-account")["account_id"], 9999);
    assert_eq!(app.balance(budget).await, "100.00");
    let report = app.assert_verified().await;
    assert_eq!(report["entries_checked"], 1);
}

#[tokio::test]
async fn idempotent_retries_replay_and_never_post_twice() {
    let app = spawn_app().await;
    let (city, _, [community, _]) = app.small_tree().await;
    let rider = app.rider("13800000001", community).await.account_id.unwrap();
    let budget = app.budget_account(city).await;
    app.fund(city, "100.00").await;
    let body = json!({"reason": "award", "transfers": [{"from": budget, "to": rider, "amount": "5.00"}]});
    let key = [("Idempotency-Key", "award-2026-11-22-001")];
    let first = app
        .request_with(reqwest::Method::POST, "/api/v1/entries", Some(&app.admin_token), Some(body.clone()), &key)
        .await;
    let retry = app
        .request_with(reqwest::Method::POST, "/api/v1/entries", Some(&app.admin_token), Some(body.clone()), &key)
        .await;
    assert_eq!(first.ok(201)["id"], retry.ok(201)["id"]);
    assert_eq!(first.body, retry.body, "the first answer, replayed");
    assert!(first.headers.get("idempotency-replayed").is_none());
    assert_eq!(retry.headers["idempotency-replayed"], "true");
    assert_eq!(app.balance(rider).await, "5.00");

    let different = json!({"reason": "award", "transfers": [{"from": budget, "to": rider, "amount": "6.00"}]});
    let reused =
        app.request_with(reqwest::Method::POST, "/api/v1/entries", Some(&app.admin_token), Some(different), &key).await;
    reused.problem(409, "idempotency-key-reused");

    // Keys are scoped per caller: another admin's identical key is another request.
    let other_admin = app.staff("admin", "second.admin", None).await;
    let theirs =
        app.request_with(reqwest::Method::POST, "/api/v1/entries", Some(&other_admin.token), Some(body), &key).await;
    assert_ne!(theirs.ok(201)["id"], first.body["id"]);
    assert_eq!(app.balance(rider).await, "10.00");
    app.assert_verified().await;
}

#[tokio::test]
async fn balances_at_past_instants_and_statement_pages() {
    let mut app = spawn_app().await;
    let (city, _, [community, _]) = app.small_tree().await;
    let rider = app.rider("13800000001", community).await;
    let account = rider.account_id.unwrap();
    let budget = app.budget_account(city).await;
    app.fund(city, "100.00").await;
    let mut times: Vec<DateTime<Utc>> = Vec::new();
    for amount in ["1.00", "2.00", "3.00", "4.00", "5.00"] {
        let entry = app.transfer(budget, account, amount).await.ok(201).clone();
        times.push(entry["created_at"].as_str().unwrap().parse().unwrap());
        app.advance_clock(chrono::TimeDelta::seconds(10)).await;
    }
    let at =
        |instant: DateTime<Utc>| format!("/api/v1/accounts/{account}/balance?at={}", urlencode(&instant.to_rfc3339()));
    assert_eq!(app.get(&at(times[0] - chrono::TimeDelta::seconds(1)), &rider.token).await.ok(200)["balance"], "0.00");
    assert_eq!(app.get(&at(times[0]), &rider.token).await.ok(200)["balance"], "1.00");
    assert_eq!(app.get(&at(times[2] + chrono::TimeDelta::seconds(5)), &rider.token).await.ok(200)["balance"], "6.00");
    assert_eq!(app.get(&at(times[4]), &rider.token).await.ok(200)["balance"], "15.00");
    app.get(&format!("/api/v1/accounts/{account}/balance?at=yesterday"), &rider.token)
        .await
        .problem(422, "validation-error");

    let mut seen = Vec::new();
    let mut cursor: Option<i64> = None;
    loop {
        let path = match cursor {
            Some(cursor) => format!("/api/v1/accounts/{account}/statement?limit=2&cursor={cursor}"),
            None => format!("/api/v1/accounts/{account}/statement?limit=2"),
        };
        let page = app.get(&path, &rider.token).await.ok(200).clone();
        for line in page["lines"].as_array().unwrap() {
            seen.push(line["amount"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_i64() {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["5.00", "4.00", "3.00", "2.00", "1.00"]);
    let window = format!(
        "/api/v1/accounts/{account}/statement?from={}&to={}",
        urlencode(&times[1].to_rfc3339()),
        urlencode(&times[3].to_rfc3339())
    );
    let windowed = app.get(&window, &rider.token).await.ok(200).clone();
    let amounts: Vec<&str> =
        windowed["lines"].as_array().unwrap().iter().map(|line| line["amount"].as_str().unwrap()).collect();
    assert_eq!(amounts, ["3.00", "2.00"]);
    // Each page, however windowed, carries the balance as it stands now.
    assert_eq!(windowed["balance"], "15.00");
    let after_all = format!(
        "/api/v1/accounts/{account}/statement?from={}",
        urlencode(&(times[4] + chrono::TimeDelta::seconds(1)).to_rfc3339())
    );
    let empty = app.get(&after_all, &rider.token).await.ok(200).clone();
    assert_eq!(empty["lines"].as_array().map(Vec::len), Some(0));
    assert_eq!((empty["balance"].as_str(), empty["available"].as_str()), (Some("15.00"), Some("15.00")));
    assert!(empty["next_cursor"].is_null());
    app.get("/api/v1/accounts/9999999/statement", &app.admin_token).await.problem(404, "not-found");
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn verify_finds_the_entry_whose_posting_was_edited() {
    let app = spawn_app().await;
    let (city, _, [community, _]) = app.small_tree().await;
    let rider = app.rider("13800000001", community).await.account_id.unwrap();
    let budget = app.budget_account(city).await;
    app.fund(city, "100.00").await;
    let target = app.transfer(budget, rider, "7.00").await.ok(201)["id"].as_i64().unwrap();
    app.transfer(budget, rider, "3.00").await.ok(201);
    app.assert_verified().await;

    app.execute_sql(&format!("UPDATE postings SET amount = 70000 WHERE entry_id = {target} AND account_id = {rider}"))
        .await;
    let report = app.get("/api/v1/ledger/verify", &app.admin_token).await.ok(200).clone();
    assert_eq!(report["ok"], false);
    assert_eq!(report["discrepancy"]["entry_id"], target, "{report}");
    assert!(report["discrepancy"]["problem"].as_str().unwrap().contains("hash"));
}

#[tokio::test]
async fn postings_and_lots_name_only_accounts_and_entries_that_exist_and_those_stay() {
    let app = spawn_app().await;
    let (city, _, [community, _]) = app.small_tree().await;
    let rider = app.rider("13800000001", community).await.account_id.unwrap();
    let budget = app.budget_account(city).await;
    app.fund(city, "100.00").await;
    let entry = app.transfer(budget, rider, "7.00").await.ok(201)["id"].as_i64().unwrap();
    let missing = 999_999;
    let at = "'2026-12-03T00:00:00+00:00'";
    let posting = |entry_id: i64, account_id: i64| format!("({entry_id}, {account_id}, 0, 0, {at})");
    let refused = [
        // A set of rows is refused whole when one of them names what does not exist.
        format!(
            "INSERT INTO postings (entry_id, account_id, amount, balance_after, created_at) VALUES {}, {}",
            posting(entry, rider),
            posting(entry, missing)
        ),
        format!(
            "INSERT INTO postings (entry_id, account_id, amount, balance_after, created_at) VALUES {}",
            posting(missing, rider)
        ),
        format!(
            "INSERT INTO lots (account_id, entry_id, amount, remaining, earned_at, expires_at) \
             VALUES ({rider}, {entry}, 1, 1, {at}, NULL), ({missing}, {entry}, 1, 1, {at}, NULL)"
        ),
        format!("UPDATE postings SET account_id = {missing} WHERE entry_id = {entry}"),
        format!("UPDATE postings SET entry_id = {missing} WHERE entry_id = {entry}"),
        format!("UPDATE lots SET account_id = {missing} WHERE account_id = {rider}"),
        format!("DELETE FROM accounts WHERE id = {rider}"),
        format!("UPDATE accounts SET id = {missing} WHERE id = {rider}"),
        format!("DELETE FROM journal_entries WHERE id = {entry}"),
        format!("UPDATE journal_entries SET id = {missing} WHERE id = {entry}"),
    ];
    for sql in &refused {
        assert!(app.try_sql(sql).await.is_err(), "the database took {sql}");
    }
    // Nothing of what was refused is left: the journal checks out, the rider holds what was paid.
    app.assert_verified().await;
    assert_eq!(app.balance(rider).await, "7.00");
    // What names what exists is taken, and changing what a lot holds is still allowed.
    app.try_sql(&format!("UPDATE lots SET remaining = remaining WHERE account_id = {rider}")).await.expect("taken");
}

#[tokio::test]
async fn verify_finds_an_account_total_edited_behind_the_ledgers_back() {
    let app = spawn_app().await;
    let (city, _, _) = app.small_tree().await;
    let budget = app.budget_account(city).await;
    app.fund(city, "100.00").await;
    app.execute_sql(&format!("UPDATE accounts SET credits_posted = credits_posted + 100 WHERE id = {budget}")).await;
    let report = app.get("/api/v1/ledger/verify", &app.admin_token).await.ok(200).clone();
    assert_eq!(report["ok"], false);
    assert_eq!(report["discrepancy"]["account_id"], budget, "{report}");
}

#[tokio::test]
async fn organizers_allocate_only_down_their_own_subtree_and_within_budget() {
    let app = spawn_app().await;
    let (city, [district_a, district_b], [community_a, community_b]) = app.small_tree().await;
    let organizer = app.staff("organizer", "org.a", Some(district_a)).await;
    app.fund(city, "1000.00").await;
    let allocate = |from: i64, to: i64, amount: &str| {
        (
            format!("/api/v1/levels/{from}/budget/allocate"),
            json!({"to_level_id": to, "amount": amount, "reason": "activities"}),
        )
    };
    let (path, body) = allocate(city, district_a, "100.00");
    app.post(&path, &organizer.token, body).await.problem(403, "forbidden");
    let (path, body) = allocate(city, district_a, "100.00");
    app.post(&path, &app.admin_token, body).await.ok(201);
    let (path, body) = allocate(district_a, community_a, "60.00");
    app.post(&path, &organizer.token, body).await.ok(201);
    let (path, body) = allocate(district_a, community_b, "10.00");
    assert_eq!(
        app.post(&path, &organizer.token, body).await.problem(422, "validation-error")["errors"][0]["field"],
        "to_level_id"
    );
    let (path, body) = allocate(district_b, community_b, "10.00");
    app.post(&path, &organizer.token, body).await.problem(403, "forbidden");
    let (path, body) = allocate(district_a, community_a, "40.01");
    let problem = app.post(&path, &organizer.token, body).await;
    assert_eq!(problem.problem(422, "insufficient-points")["available"], "40.00");
    let (path, body) = allocate(district_a, district_a, "1.00");
    app.post(&path, &organizer.token, body).await.problem(422, "validation-error");
    app.assert_verified().await;
}

#[tokio::test]
async fn accounts_and_entries_are_visible_only_within_scope() {
    let app = spawn_app().await;
    let (city, [district_a, _], [community_a, community_b]) = app.small_tree().await;
    let rider = app.rider("13800000001", community_a).await;
    let other = app.rider("13800000002", community_b).await;
    let organizer = app.staff("organizer", "org.a", Some(district_a)).await;
    let auditor = app.staff("auditor", "aud", None).await;
    let budget = app.budget_account(city).await;
    app.fund(city, "10.00").await;
    let paid_other = app.transfer(budget, other.account_id.unwrap(), "1.00").await.ok(201)["id"].as_i64().unwrap();
    let paid_rider = app.transfer(budget, rider.account_id.unwrap(), "1.00").await.ok(201)["id"].as_i64().unwrap();

    let account_path = |id: i64| format!("/api/v1/accounts/{id}");
    app.get(&account_path(rider.account_id.unwrap()), &rider.token).await.ok(200);
    for path in [
        account_path(other.account_id.unwrap()),
        format!("{}/statement", account_path(other.account_id.unwrap())),
        account_path(budget),
        account_path(9999),
        format!("/api/v1/entries/{paid_other}"),
        "/api/v1/entries/9999".to_owned(),
    ] {
        app.get(&path, &rider.token).await.problem(403, "forbidden");
    }
    app.get(&format!("/api/v1/entries/{paid_rider}"), &rider.token).await.ok(200);
    app.get(&account_path(rider.account_id.unwrap()), &organizer.token).await.ok(200);
    app.get(&account_path(other.account_id.unwrap()), &organizer.token).await.problem(403, "forbidden");
    app.get(&account_path(budget), &organizer.token).await.problem(403, "forbidden");
    app.get(&account_path(other.account_id.unwrap()), &auditor.token).await.ok(200);
    app.get(&account_path(9999), &auditor.token).await.problem(404, "not-found");
    app.get("/api/v1/ledger/verify", &auditor.token).await.ok(200);
    app.get("/api/v1/ledger/verify", &organizer.token).await.problem(403, "forbidden");
}

#[tokio::test]
async fn verify_reads_a_journal_larger_than_its_pages() {
    let app = spawn_app().await;
    let (city, _, [community, _]) = app.small_tree().await;
    app.fund(city, "100000.00").await;
    let budget = app.budget_account(city).await;
    let riders = app.bulk_riders(community, "1390000", 100).await;
    let mut accounts = Vec::new();
    for rider in riders {
        accounts.push(app.account_of(rider).await);
    }
    // 60 entries of 100 transfers: more postings than verify reads in one page, so pages end
    // inside entries.
    for round in 0..60 {
        let transfers: Vec<_> =
            accounts.iter().map(|account| json!({"from": budget, "to": account, "amount": "1.00"})).collect();
        app.post(
            "/api/v1/entries",
            &app.admin_token,
            json!({"reason": format!("round {round}"), "transfers": transfers}),
        )
        .await
        .ok(201);
    }
    let report = app.assert_verified().await;
    assert_eq!(report["entries_checked"], 61, "{report}");

    // A posting edited in the last entry, read from a later page, is still found.
    let last: i64 = report["entries_checked"].as_i64().unwrap();
    app.execute_sql(&format!(
        "UPDATE postings SET amount = 200 WHERE entry_id = {last} AND account_id = {}",
        accounts[99]
    ))
    .await;
    let report = app.get("/api/v1/ledger/verify", &app.admin_token).await.ok(200).clone();
    assert_eq!(report["ok"], false);
    assert_eq!(report["discrepancy"]["entry_id"], last, "{report}");
}

#[tokio::test]
async fn any_reason_is_stored_exactly_as_sent_and_chains() {
    // A posting's writes go to the database as one script with its values inline (store::script):
    // quotes, backslashes, statement separators, comments and Chinese come back byte for byte.
    let app = spawn_app().await;
    let (city, _, [community, _]) = app.small_tree().await;
    let rider = app.rider("13800000001", community).await.account_id.unwrap();
    let budget = app.budget_account(city).await;
    app.fund(city, "10.00").await;
    let reason = "奶茶 'quoted' \"double\" back\\slash \\' ); DROP TABLE accounts; -- /* ☕ E'\\x00' $$";
    let posted = app
        .post(
            "/api/v1/entries",
            &app.admin_token,
            json!({"reason": reason, "transfers": [{"from": budget, "to": rider, "amount": "1.50"}]}),
        )
        .await;
    let entry_id = posted.ok(201)["id"].as_i64().unwrap();
    let read = app.get(&format!("/api/v1/entries/{entry_id}"), &app.admin_token).await;
    assert_eq!(read.ok(200)["reason"], reason);
    assert_eq!(app.balance(rider).await, "1.50");
    app.assert_verified().await;
}
