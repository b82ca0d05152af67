use chrono::TimeDelta;
use futures::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Person, TestApp, spawn_app};

/// A city (funded), two districts with a community each, and an organizer of district A.
struct Setup {
    city: i64,
    district_a: i64,
    district_b: i64,
    community_a: i64,
    community_b: i64,
    organizer: Person,
}

async fn setup(app: &TestApp) -> Setup {
    let (city, [district_a, district_b], [community_a, community_b]) = app.small_tree().await;
    app.fund(city, "1000000.00").await;
    let organizer = app.staff("organizer", "org.a", Some(district_a)).await;
    Setup { city, district_a, district_b, community_a, community_b, organizer }
}

/// Gives riders points from the city's budget, up to 100 per entry.
async fn give(app: &TestApp, city: i64, accounts: &[i64], amount: &str) {
    let budget = app.budget_account(city).await;
    for chunk in accounts.chunks(100) {
        let transfers: Vec<Value> =
            chunk.iter().map(|account| json!({"from": budget, "to": account, "amount": amount})).collect();
        app.post("/api/v1/entries", &app.admin_token, json!({"reason": "awards", "transfers": transfers}))
            .await
            .ok(201);
    }
}

/// Makes points credited under `level` expire `months` after they were earned.
async fn expire_after(app: &TestApp, level: i64, months: u32) {
    app.request(
        Method::PATCH,
        &format!("/api/v1/levels/{level}"),
        Some(&app.admin_token),
        Some(json!({"points_expire_months": months})),
    )
    .await
    .ok(200);
}

/// What an account shows as expiring next: the amounts, soonest first.
fn expiring_amounts(account: &Value) -> Vec<String> {
    account["expiring"].as_array().unwrap().iter().map(|lot| lot["amount"].as_str().unwrap().to_owned()).collect()
}

async fn reward(app: &TestApp, token: &str, body: Value) -> Value {
    app.post("/api/v1/rewards", token, body).await.ok(201).clone()
}

fn tea_at(level_id: i64) -> Value {
    json!({"level_id": level_id, "name_zh": "奶茶", "name_en": "Milk tea", "description": "一杯", "cost": "15.00", "kind": "goods"})
}

#[tokio::test]
async fn organizers_manage_the_catalog_of_their_subtree_and_riders_see_what_is_offered_to_them() {
    let app = spawn_app().await;
    let setup = setup(&app).await;
    let tea = reward(&app, &setup.organizer.token, tea_at(setup.district_a)).await;
    assert_eq!(tea["available_now"], true);
    let bonus = reward(
        &app,
        &app.admin_token,
        json!({"level_id": setup.city, "name_zh": "现金奖励", "name_en": "Cash bonus", "cost": "100.00", "kind": "cash_bonus", "cash_value_yuan": "50.00",
               "limit": {"count": 1, "period": "month"}}),
    )
    .await;
    assert_eq!(bonus["cash_value_yuan"], "50.00");
    assert_eq!(bonus["limit"], json!({"count": 1, "period": "month"}));
    app.post("/api/v1/rewards", &setup.organizer.token, tea_at(setup.district_b)).await.problem(403, "forbidden");
    let bad = app
        .post("/api/v1/rewards", &setup.organizer.token, json!({"level_id": setup.district_a, "name_zh": "", "name_en": "x", "cost": "0", "kind": "cash_bonus", "stock": -1}))
        .await;
    assert_eq!(bad.fields(), ["name_zh", "cost", "cash_value_yuan", "stock"]);

    let rider_a = app.rider("13800000001", setup.community_a).await;
    let rider_b = app.rider("13800000002", setup.community_b).await;
    let names = |list: &Value| -> Vec<String> {
        list["rewards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|reward| reward["name_en"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(app.get("/api/v1/rewards", &rider_a.token).await.ok(200)), ["Milk tea", "Cash bonus"]);
    assert_eq!(names(app.get("/api/v1/rewards", &rider_b.token).await.ok(200)), ["Cash bonus"]);
    app.get(&format!("/api/v1/rewards/{}", tea["id"]), &rider_b.token).await.problem(403, "forbidden");

    let hidden = app
        .request(
            Method::PATCH,
            &format!("/api/v1/rewards/{}", tea["id"]),
            Some(&setup.organizer.token),
            Some(json!({"active": false, "stock": 5})),
        )
        .await;
    let hidden = hidden.ok(200);
    assert_eq!(hidden["active"], false);
    assert_eq!(hidden["stock"], 5);
    assert_eq!(
        names(app.get("/api/v1/rewards", &rider_a.token).await.ok(200)),
        ["Cash bonus"],
        "riders see active rewards only"
    );
    let cleared = app
        .request(
            Method::PATCH,
            &format!("/api/v1/rewards/{}", tea["id"]),
            Some(&setup.organizer.token),
            Some(json!({"stock": null})),
        )
        .await;
    assert!(cleared.ok(200)["stock"].is_null(), "null clears the stock: unlimited");
}

#[tokio::test]
async fn a_redemption_holds_points_until_fulfilled_with_the_pickup_code() {
    let app = spawn_app().await;
    let setup = setup(&app).await;
    let rider = app.rider("13800000001", setup.community_a).await;
    give(&app, setup.city, &[rider.account_id.unwrap()], "40.00").await;
    let tea = reward(&app, &setup.organizer.token, json!({"level_id": setup.district_a, "name_zh": "奶茶", "name_en": "Milk tea", "cost": "15.00", "kind": "goods", "stock": 10})).await;

    let redemption = app
        .post("/api/v1/redemptions", &rider.token, json!({"reward_id": tea["id"], "quantity": 2}))
        .await
        .ok(201)
        .clone();
    assert_eq!(redemption["status"], "pending");
    assert_eq!(redemption["cost"], "30.00");
    let code = redemption["pickup_code"].as_str().unwrap().to_owned();
    // The organizer's list of rewards to hand over, for a spreadsheet; no pickup code in it.
    let to_fulfil = app.csv("/api/v1/redemptions?status=pending", &setup.organizer.token).await;
    assert_eq!(
        to_fulfil[0],
        "id,reward_id,reward_name_zh,reward_name_en,rider_id,quantity,cost,status,created_at,expires_at"
    );
    assert_eq!(to_fulfil.len(), 2);
    assert!(to_fulfil[1].contains(",奶茶,Milk tea,") && to_fulfil[1].contains(",2,30.00,pending,"), "{to_fulfil:?}");
    assert!(!to_fulfil.concat().contains(&code));
    let account = app.account(rider.account_id.unwrap()).await;
    assert_eq!((account["balance"].as_str().unwrap(), account["available"].as_str().unwrap()), ("40.00", "10.00"));
    assert_eq!(app.get(&format!("/api/v1/rewards/{}", tea["id"]), &rider.token).await.ok(200)["stock"], 8);

    let id = redemption["id"].as_i64().unwrap();
    let seen_by_organizer = app.get(&format!("/api/v1/redemptions/{id}"), &setup.organizer.token).await.ok(200).clone();
    assert!(seen_by_organizer["pickup_code"].is_null(), "only the rider sees the code");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    app.post(&format!("/api/v1/redemptions/{id}/fulfil"), &setup.organizer.token, json!({"pickup_code": wrong}))
        .await
        .problem(422, "validation-error");
    let fulfilled = app
        .post(&format!("/api/v1/redemptions/{id}/fulfil"), &setup.organizer.token, json!({"pickup_code": code}))
        .await
        .ok(200)
        .clone();
    assert_eq!(fulfilled["redemption"]["status"], "fulfilled");
    assert_eq!(fulfilled["entry"]["kind"], "redemption");
    let account = app.account(rider.account_id.unwrap()).await;
    assert_eq!((account["balance"].as_str().unwrap(), account["available"].as_str().unwrap()), ("10.00", "10.00"));
    app.post(&format!("/api/v1/redemptions/{id}/fulfil"), &setup.organizer.token, json!({"pickup_code": code}))
        .await
        .problem(409, "redemption-not-pending");
    app.request(Method::POST, &format!("/api/v1/redemptions/{id}/cancel"), Some(&rider.token), None)
        .await
        .problem(409, "redemption-not-pending");

    let statement = app.get("/api/v1/me/statement", &rider.token).await.ok(200).clone();
    let line = &statement["lines"][0];
    assert_eq!(line["kind"], "redemption");
    assert_eq!(line["amount"], "-30.00");
    assert_eq!(line["reference"], json!({"type": "redemption", "id": id.to_string()}));
    assert!(line["reason"].as_str().unwrap().contains("Milk tea ×2"), "{line}");
    let statement_csv = app.csv("/api/v1/me/statement", &rider.token).await;
    assert_eq!(statement_csv[0], "entry_id,created_at,kind,reason,reference,amount,balance_after");
    assert!(
        statement_csv[1].contains(",redemption,")
            && statement_csv[1].ends_with(&format!(",redemption:{id},-30.00,10.00"))
    );
    let listed = app.get("/api/v1/redemptions?status=fulfilled", &setup.organizer.token).await.ok(200).clone();
    assert_eq!(listed["redemptions"].as_array().unwrap().len(), 1);
    app.assert_verified().await;
}

#[tokio::test]
async fn cancelled_and_expired_redemptions_give_back_points_and_stock() {
    let mut app = spawn_app().await;
    let setup = setup(&app).await;
    let rider = app.rider("13800000001", setup.community_a).await;
    give(&app, setup.city, &[rider.account_id.unwrap()], "30.00").await;
    let tea = reward(&app, &setup.organizer.token, json!({"level_id": setup.district_a, "name_zh": "奶茶", "name_en": "Milk tea", "cost": "10.00", "kind": "goods", "stock": 3})).await;
    let first = app.post("/api/v1/redemptions", &rider.token, json!({"reward_id": tea["id"]})).await.ok(201)["id"]
        .as_i64()
        .unwrap();
    let cancelled =
        app.request(Method::POST, &format!("/api/v1/redemptions/{first}/cancel"), Some(&rider.token), None).await;
    assert_eq!(cancelled.ok(200)["status"], "cancelled");
    assert_eq!(app.account(rider.account_id.unwrap()).await["available"], "30.00");
    assert_eq!(app.get(&format!("/api/v1/rewards/{}", tea["id"]), &app.admin_token).await.ok(200)["stock"], 3);

    let second = app
        .post("/api/v1/redemptions", &rider.token, json!({"reward_id": tea["id"], "quantity": 2}))
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    assert_eq!(app.account(rider.account_id.unwrap()).await["available"], "10.00");
    app.advance_clock(TimeDelta::days(15)).await;
    let rider_token = app.login("13800000001", PASSWORD).await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get(&format!("/api/v1/redemptions/{second}"), &rider_token).await.ok(200)["status"], "expired");
    assert_eq!(
        app.account(rider.account_id.unwrap()).await["available"],
        "30.00",
        "the hold lapsed with the redemption"
    );
    assert_eq!(
        union_ledger::jobs::sweep(&app.state.store, 6).await.unwrap(),
        1,
        "the redemption, and its hold with it"
    );
    assert_eq!(union_ledger::jobs::sweep(&app.state.store, 6).await.unwrap(), 0, "exactly once");
    assert_eq!(
        app.get(&format!("/api/v1/rewards/{}", tea["id"]), &app.admin_token).await.ok(200)["stock"],
        3,
        "stock returned"
    );
    app.assert_verified().await;
}

#[tokio::test]
async fn redemptions_are_refused_with_the_reason() {
    let app = spawn_app().await;
    let setup = setup(&app).await;
    let rider = app.rider("13800000001", setup.community_a).await;
    give(&app, setup.city, &[rider.account_id.unwrap()], "100.00").await;
    let redeem = |reward: &Value, quantity: i64| {
        app.post("/api/v1/redemptions", &rider.token, json!({"reward_id": reward["id"], "quantity": quantity}))
    };

    let dear = reward(&app, &setup.organizer.token, json!({"level_id": setup.district_a, "name_zh": "电动车检修", "name_en": "E-bike inspection", "cost": "150.00", "kind": "goods"})).await;
    let problem = redeem(&dear, 1).await;
    assert_eq!(problem.problem(422, "insufficient-points")["available"], "100.00");

    let scarce = reward(&app, &setup.organizer.token, json!({"level_id": setup.district_a, "name_zh": "头盔", "name_en": "Helmet", "cost": "10.00", "kind": "goods", "stock": 1})).await;
    redeem(&scarce, 2).await.problem(409, "out-of-stock");

    let limited = reward(&app, &app.admin_token, json!({"level_id": setup.city, "name_zh": "现金", "name_en": "Cash", "cost": "10.00", "kind": "cash_bonus", "cash_value_yuan": "5.00", "limit": {"count": 2, "period": "month"}})).await;
    redeem(&limited, 2).await.ok(201);
    redeem(&limited, 1).await.problem(409, "redemption-limit-reached");

    let later = reward(&app, &setup.organizer.token, json!({"level_id": setup.district_a, "name_zh": "年货", "name_en": "New year gift", "cost": "1.00", "kind": "goods", "valid_from": app.now() + TimeDelta::days(30)})).await;
    redeem(&later, 1).await.problem(409, "reward-unavailable");
    let over = reward(&app, &setup.organizer.token, json!({"level_id": setup.district_a, "name_zh": "旧", "name_en": "Old", "cost": "1.00", "kind": "goods", "valid_until": app.now() - TimeDelta::days(1)})).await;
    assert_eq!(over["available_now"], false);
    redeem(&over, 1).await.problem(409, "reward-unavailable");
    let outside = reward(&app, &app.admin_token, tea_at(setup.district_b)).await;
    redeem(&outside, 1).await.problem(403, "forbidden");
    redeem(&dear, 0).await.problem(422, "validation-error");
    assert_eq!(
        app.account(rider.account_id.unwrap()).await["available"],
        "80.00",
        "only the allowed redemption holds points"
    );
    app.assert_verified().await;
}

#[tokio::test]
async fn one_item_left_and_twenty_riders_at_once_exactly_one_gets_it() {
    let app = spawn_app().await;
    let setup = setup(&app).await;
    let riders = app.bulk_riders(setup.community_a, "1390000", 20).await;
    let mut accounts = Vec::new();
    for rider in &riders {
        accounts.push(app.account_of(*rider).await);
    }
    give(&app, setup.city, &accounts, "50.00").await;
    let last = reward(&app, &setup.organizer.token, json!({"level_id": setup.district_a, "name_zh": "最后一杯", "name_en": "Last tea", "cost": "15.00", "kind": "goods", "stock": 1})).await;
    let mut tokens = Vec::new();
    for index in 0..20 {
        tokens.push(
            app.login(&format!("1390000{index:04}"), PASSWORD).await["access_token"].as_str().unwrap().to_owned(),
        );
    }
    let answers =
        join_all(tokens.iter().map(|token| app.post("/api/v1/redemptions", token, json!({"reward_id": last["id"]}))))
            .await;
    assert_eq!(answers.iter().filter(|answer| answer.status.as_u16() == 201).count(), 1);
    for refused in answers.iter().filter(|answer| answer.status.as_u16() != 201) {
        refused.problem(409, "out-of-stock");
    }
    assert_eq!(app.get(&format!("/api/v1/rewards/{}", last["id"]), &app.admin_token).await.ok(200)["stock"], 0);
    app.assert_verified().await;
}

#[tokio::test]
async fn ten_points_and_twenty_simultaneous_redemptions_of_one() {
    let app = spawn_app().await;
    let setup = setup(&app).await;
    let rider = app.rider("13800000001", setup.community_a).await;
    give(&app, setup.city, &[rider.account_id.unwrap()], "10.00").await;
    let sticker = reward(
        &app,
        &setup.organizer.token,
        json!({"level_id": setup.district_a, "name_zh": "贴纸", "name_en": "Sticker", "cost": "1.00", "kind": "goods"}),
    )
    .await;
    let answers =
        join_all((0..20).map(|_| app.post("/api/v1/redemptions", &rider.token, json!({"reward_id": sticker["id"]}))))
            .await;
    let succeeded = answers.iter().filter(|answer| answer.status.as_u16() == 201).count();
    assert!(succeeded <= 10, "{succeeded} succeeded");
    assert_eq!(succeeded, 10, "with no other limit, every point is used");
    for refused in answers.iter().filter(|answer| answer.status.as_u16() != 201) {
        refused.problem(422, "insufficient-points");
    }
    let account = app.account(rider.account_id.unwrap()).await;
    assert_eq!((account["balance"].as_str().unwrap(), account["available"].as_str().unwrap()), ("10.00", "0.00"));
    app.assert_verified().await;
}

/// The seeds' case: in November 2022, 226 riders pooled city-duty points for 300 cups of tea for
/// medical staff.
#[tokio::test]
async fn two_hundred_twenty_six_riders_pool_points_for_three_hundred_teas() {
    let app = spawn_app().await;
    let setup = setup(&app).await;
    let riders = app.bulk_riders(setup.community_a, "1390000", 226).await;
    let mut accounts = Vec::new();
    for rider in &riders {
        accounts.push(app.account_of(*rider).await);
    }
    give(&app, setup.city, &accounts, "30.00").await;
    let tea = reward(&app, &setup.organizer.token, json!({"level_id": setup.district_a, "name_zh": "奶茶", "name_en": "Milk tea", "cost": "15.00", "kind": "goods", "stock": 500})).await;
    let pool = app
        .post(
            "/api/v1/pools",
            &setup.organizer.token,
            json!({"level_id": setup.district_a, "title": "300杯奶茶送医护", "beneficiary": "江门市中心医院医护人员",
            "reward_id": tea["id"], "quantity": 300, "deadline": app.now() + TimeDelta::days(7)}),
        )
        .await
        .ok(201)
        .clone();
    assert_eq!(pool["goal"], "4500.00");
    assert_eq!(
        app.get(&format!("/api/v1/rewards/{}", tea["id"]), &app.admin_token).await.ok(200)["stock"],
        200,
        "the teas are reserved"
    );
    let pool_id = pool["id"].as_i64().unwrap();

    // 225 riders pledge 19.90 and one 22.50: exactly 4500.00, whatever order they arrive in.
    let mut tokens = Vec::new();
    for index in 0..226 {
        tokens.push(
            app.login(&format!("1390000{index:04}"), PASSWORD).await["access_token"].as_str().unwrap().to_owned(),
        );
    }
    let pledge_path = format!("/api/v1/pools/{pool_id}/pledges");
    let answers = join_all(tokens.iter().enumerate().map(|(index, token)| {
        let amount = if index == 225 { "22.50" } else { "19.90" };
        app.post(&pledge_path, token, json!({"amount": amount}))
    }))
    .await;
    for answer in &answers {
        answer.ok(201);
    }
    let seen = app.get(&format!("/api/v1/pools/{pool_id}"), &tokens[0]).await.ok(200).clone();
    assert_eq!(seen["status"], "fulfilled");
    assert_eq!(seen["pledged"], "4500.00");
    assert_eq!(seen["remaining"], "0.00");
    let pledges = seen["pledges"].as_array().unwrap();
    assert_eq!(pledges.len(), 226);
    assert!(
        pledges
            .iter()
            .all(|pledge| pledge["status"] == "fulfilled"
                && pledge["display_name"].as_str().unwrap().starts_with("骑手"))
    );

    let entry = app.get(&format!("/api/v1/entries/{}", seen["entry_id"]), &app.admin_token).await.ok(200).clone();
    assert_eq!(entry["kind"], "pledge");
    assert_eq!(entry["postings"].as_array().unwrap().len(), 227, "every pledge posts in one entry");
    assert_eq!(entry["reference"], json!({"type": "pool", "id": pool_id.to_string()}));
    let total: i64 =
        pledges.iter().map(|pledge| pledge["amount"].as_str().unwrap().replace('.', "").parse::<i64>().unwrap()).sum();
    assert_eq!(total, 450_000);
    assert_eq!(app.balance(accounts[0]).await, "10.10");
    assert_eq!(app.balance(accounts[225]).await, "7.50");
    let statement = app.get("/api/v1/me/statement", &tokens[3]).await.ok(200).clone();
    assert_eq!(statement["lines"][0]["kind"], "pledge");
    assert_eq!(statement["lines"][0]["amount"], "-19.90");
    assert!(statement["lines"][0]["reason"].as_str().unwrap().contains("300杯奶茶送医护"));
    app.post(&format!("/api/v1/pools/{pool_id}/pledges"), &tokens[0], json!({"amount": "1.00"}))
        .await
        .problem(409, "pool-closed");
    app.assert_verified().await;
}

#[tokio::test]
async fn a_pool_that_misses_its_deadline_refunds_everyone_once() {
    let mut app = spawn_app().await;
    let setup = setup(&app).await;
    let riders = app.bulk_riders(setup.community_a, "1390000", 3).await;
    let mut accounts = Vec::new();
    for rider in &riders {
        accounts.push(app.account_of(*rider).await);
    }
    give(&app, setup.city, &accounts, "30.00").await;
    let pool = app
        .post(
            "/api/v1/pools",
            &setup.organizer.token,
            json!({"level_id": setup.district_a, "title": "慰问环卫工人", "beneficiary": "环卫工人",
            "goal_points": "1000.00", "deadline": app.now() + TimeDelta::hours(1)}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let mut tokens = Vec::new();
    for index in 0..3 {
        tokens.push(
            app.login(&format!("1390000{index:04}"), PASSWORD).await["access_token"].as_str().unwrap().to_owned(),
        );
    }
    let mut pledge_ids = Vec::new();
    for token in &tokens {
        pledge_ids.push(app.post(&format!("/api/v1/pools/{pool}/pledges"), token, json!({"amount": "20.00"})).await.ok(201)["pledge_id"].as_i64().unwrap());
    }
    assert_eq!(app.account(accounts[0]).await["available"], "10.00", "pledges are held, not spent");
    let too_much = app.post(&format!("/api/v1/pools/{pool}/pledges"), &tokens[0], json!({"amount": "940.01"})).await;
    too_much.problem(422, "validation-error");
    let withdrawn = app
        .request(Method::DELETE, &format!("/api/v1/pools/{pool}/pledges/{}", pledge_ids[2]), Some(&tokens[2]), None)
        .await;
    assert_eq!(withdrawn.ok(200)["pledged"], "40.00");
    app.request(Method::DELETE, &format!("/api/v1/pools/{pool}/pledges/{}", pledge_ids[0]), Some(&tokens[1]), None)
        .await
        .problem(403, "forbidden");
    assert_eq!(app.account(accounts[2]).await["available"], "30.00");

    app.advance_clock(TimeDelta::hours(2)).await;
    let token = app.login("13900000000", PASSWORD).await["access_token"].as_str().unwrap().to_owned();
    let seen = app.get(&format!("/api/v1/pools/{pool}"), &token).await.ok(200).clone();
    assert_eq!(seen["status"], "refunded", "right as soon as the deadline passes");
    assert_eq!(app.account(accounts[0]).await["available"], "30.00");
    app.post(&format!("/api/v1/pools/{pool}/pledges"), &token, json!({"amount": "1.00"}))
        .await
        .problem(409, "pool-closed");
    let (first, second) =
        tokio::join!(union_ledger::jobs::sweep(&app.state.store, 6), union_ledger::jobs::sweep(&app.state.store, 6));
    assert!(first.unwrap() + second.unwrap() >= 1);
    assert_eq!(union_ledger::jobs::sweep(&app.state.store, 6).await.unwrap(), 0, "refunded exactly once");
    let seen = app.get(&format!("/api/v1/pools/{pool}"), &token).await.ok(200).clone();
    let statuses: Vec<&str> =
        seen["pledges"].as_array().unwrap().iter().map(|pledge| pledge["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["refunded", "refunded", "withdrawn"]);
    for account in &accounts {
        let account = app.account(*account).await;
        assert_eq!(
            (account["balance"].as_str().unwrap(), account["debits_pending"].as_str().unwrap()),
            ("30.00", "0.00")
        );
    }
    app.assert_verified().await;
}

#[tokio::test]
async fn points_expire_oldest_first_into_breakage_once() {
    let mut app = spawn_app().await;
    let setup = setup(&app).await;
    expire_after(&app, setup.city, 1).await;
    let rider = app.rider("13800000001", setup.community_a).await;
    let account = rider.account_id.unwrap();
    give(&app, setup.city, &[account], "5.00").await;
    app.advance_clock(TimeDelta::days(20)).await;
    give(&app, setup.city, &[account], "7.00").await;
    let shown = app.account(account).await;
    assert_eq!(expiring_amounts(&shown), ["5.00", "7.00"], "what expires next, soonest first");
    // Spending takes the oldest points first: all of the 5.00 and 1.00 of the 7.00.
    let budget = app.budget_account(setup.city).await;
    app.transfer(account, budget, "6.00").await.ok(201);

    app.advance_clock(TimeDelta::days(12)).await;
    assert_eq!(
        union_ledger::jobs::sweep(&app.state.store, 6).await.unwrap(),
        0,
        "the spent lot leaves nothing to expire"
    );
    assert_eq!(app.balance(account).await, "6.00");
    app.advance_clock(TimeDelta::days(20)).await;
    assert_eq!(union_ledger::jobs::sweep(&app.state.store, 6).await.unwrap(), 1);
    assert_eq!(union_ledger::jobs::sweep(&app.state.store, 6).await.unwrap(), 0, "idempotent");
    assert_eq!(app.balance(account).await, "0.00");
    let token = app.login("13800000001", PASSWORD).await["access_token"].as_str().unwrap().to_owned();
    let statement = app.get("/api/v1/me/statement", &token).await.ok(200).clone();
    assert_eq!(statement["lines"][0]["kind"], "expiry");
    assert_eq!(statement["lines"][0]["amount"], "-6.00");
    let breakage = app
        .get(&format!("/api/v1/entries/{}", statement["lines"][0]["entry_id"]), &app.admin_token)
        .await
        .ok(200)["postings"][1]["account_id"]
        .as_i64()
        .unwrap();
    assert_eq!(app.account(breakage).await["kind"], "breakage");
    assert_eq!(app.balance(breakage).await, "6.00");
    app.assert_verified().await;
}

#[tokio::test]
async fn the_nearest_level_that_sets_an_expiry_decides_when_new_points_expire() {
    let app = spawn_app().await;
    let setup = setup(&app).await;
    expire_after(&app, setup.city, 12).await;
    expire_after(&app, setup.community_a, 1).await;
    let near = app.rider("13800000001", setup.community_a).await.account_id.unwrap();
    let far = app.rider("13800000002", setup.community_b).await.account_id.unwrap();
    let outside = app.budget_account(setup.district_b).await;
    give(&app, setup.city, &[near, far], "3.00").await;
    let now = app.now();
    let expires = |account: Value| -> chrono::DateTime<chrono::Utc> {
        account["expiring"][0]["expires_at"].as_str().unwrap().parse().unwrap()
    };
    let near_expiry = expires(app.account(near).await);
    let far_expiry = expires(app.account(far).await);
    assert!(near_expiry > now + TimeDelta::days(27) && near_expiry < now + TimeDelta::days(32), "{near_expiry}");
    assert!(far_expiry > now + TimeDelta::days(364) && far_expiry < now + TimeDelta::days(367), "{far_expiry}");
    // A budget's credits open no lots: nothing of it expires.
    app.post(
        "/api/v1/entries",
        &app.admin_token,
        json!({"reason": "to a budget", "transfers": [{"from": app.budget_account(setup.city).await, "to": outside, "amount": "1.00"}]}),
    )
    .await
    .ok(201);
    assert_eq!(app.account(outside).await["expiring"], json!([]));
    app.assert_verified().await;
}

#[tokio::test]
async fn several_debits_of_one_rider_in_one_entry_take_lots_in_order() {
    let mut app = spawn_app().await;
    let setup = setup(&app).await;
    expire_after(&app, setup.city, 6).await;
    let rider = app.rider("13800000001", setup.community_a).await.account_id.unwrap();
    let fresh = app.rider("13800000002", setup.community_a).await.account_id.unwrap();
    let budget = app.budget_account(setup.city).await;
    give(&app, setup.city, &[rider], "5.00").await;
    app.advance_clock(TimeDelta::days(1)).await;
    give(&app, setup.city, &[rider], "7.00").await;
    // Two debits in one entry: 3.00 from the first lot, then its last 2.00 and 1.00 of the second.
    let twice = json!({"reason": "twice", "transfers": [
        {"from": rider, "to": budget, "amount": "3.00"}, {"from": rider, "to": budget, "amount": "3.00"}]});
    app.post("/api/v1/entries", &app.admin_token, twice).await.ok(201);
    assert_eq!(expiring_amounts(&app.account(rider).await), ["6.00"]);
    // A credit and a debit of a rider with no lots yet: the debit spends the lot the credit opened.
    let through = json!({"reason": "through", "transfers": [
        {"from": budget, "to": fresh, "amount": "4.00"}, {"from": fresh, "to": budget, "amount": "1.00"}]});
    app.post("/api/v1/entries", &app.admin_token, through).await.ok(201);
    assert_eq!(expiring_amounts(&app.account(fresh).await), ["3.00"]);
    app.assert_verified().await;
}
