use chrono::{DateTime, TimeDelta, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Person, TestApp, spawn_app};

/// A city with two districts; district A's budget funded with `budget` points; an organizer of A.
struct Setup {
    district_a: i64,
    district_b: i64,
    community_a: i64,
    community_b: i64,
    organizer: Person,
}

async fn setup(app: &TestApp, budget: &str) -> Setup {
    let (city, [district_a, district_b], [community_a, community_b]) = app.small_tree().await;
    app.fund(city, "1000000.00").await;
    if budget != "0.00" {
        app.post(
            &format!("/api/v1/levels/{city}/budget/allocate"),
            &app.admin_token,
            json!({"to_level_id": district_a, "amount": budget, "reason": "volunteering budget"}),
        )
        .await
        .ok(201);
    }
    let organizer = app.staff("organizer", "org.a", Some(district_a)).await;
    Setup { district_a, district_b, community_a, community_b, organizer }
}

async fn open_activity(
    app: &TestApp,
    token: &str,
    level_id: i64,
    category: &str,
    starts_at: DateTime<Utc>,
    hours: i64,
) -> Value {
    let created = app
        .post(
            "/api/v1/activities",
            token,
            json!({"level_id": level_id, "title": "台风“苏拉”抢险", "category": category, "starts_at": starts_at,
                   "ends_at": starts_at + TimeDelta::hours(hours), "place": "蓬江区江边"}),
        )
        .await
        .ok(201)
        .clone();
    assert_eq!(created["status"], "planned");
    assert!(created["checkin_code"].is_null());
    let id = created["id"].as_i64().unwrap();
    let opened =
        app.post(&format!("/api/v1/activities/{id}/status"), token, json!({"status": "open"})).await.ok(200).clone();
    let code = opened["checkin_code"].as_str().unwrap();
    assert!(code.len() == 6 && code.bytes().all(|byte| byte.is_ascii_digit()), "a six-digit code: {code}");
    opened
}

fn row(rider_id: i64, hours: &str, outcome: &str) -> Value {
    json!({"rider_id": rider_id, "hours": hours, "outcome": outcome, "evidence_urls": ["https://photos.example/flood/1.jpg"]})
}

#[tokio::test]
async fn categories_are_seeded_in_chinese_and_english_and_rules_are_versioned() {
    let app = spawn_app().await;
    let (_, _, [community, _]) = app.small_tree().await;
    let rider = app.rider("13800000001", community).await;
    let list = app.get("/api/v1/categories", &rider.token).await.ok(200).clone();
    let names: Vec<(&str, &str)> = list["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|category| (category["code"].as_str().unwrap(), category["name_zh"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("emergency_response", "应急抢险"),
            ("repair_service", "维修服务"),
            ("city_duty", "城市值班"),
            ("safety_sentinel", "骑行哨兵"),
            ("medicine_delivery", "先锋配送"),
            ("community_service", "社区服务"),
            ("hazard_report", "隐患随手拍"),
        ]
    );
    let emergency = &list["categories"][0]["rule"];
    assert_eq!(emergency["version"], 1);
    assert_eq!(emergency["points_per_hour"], "10.00");

    let typhoon = json!({
        "points_per_hour": "12.00",
        "bonus": {"completed": "0.00", "commended": "5.00", "outstanding": "10.00"},
        "multiplier": {"factor": "1.5", "from": "2026-09-14T00:00:00Z", "until": "2026-09-16T00:00:00Z", "label": "台风苏拉"},
        "daily_cap_hours": "10"
    });
    let changed = app
        .request(Method::PUT, "/api/v1/categories/emergency_response/rule", Some(&app.admin_token), Some(typhoon))
        .await;
    let changed = changed.ok(200);
    assert_eq!(changed["rule"]["version"], 2);
    assert_eq!(changed["rule"]["multiplier"]["factor"], "1.5");
    assert_eq!(changed["rule"]["daily_cap_hours"], "10.00");
    let bad = json!({"points_per_hour": "-1.00", "daily_cap_hours": "0.3", "multiplier": {"factor": "20", "from": "2026-09-16T00:00:00Z", "until": "2026-09-14T00:00:00Z"}});
    let refused =
        app.request(Method::PUT, "/api/v1/categories/emergency_response/rule", Some(&app.admin_token), Some(bad)).await;
    refused.problem(422, "validation-error");
    let unknown = app
        .request(
            Method::PUT,
            "/api/v1/categories/nothing/rule",
            Some(&app.admin_token),
            Some(json!({"points_per_hour": "1.00", "daily_cap_hours": "8"})),
        )
        .await;
    unknown.problem(404, "not-found");
}

#[tokio::test]
async fn a_squad_of_179_riders_in_one_request_with_a_per_row_answer() {
    let app = spawn_app().await;
    let setup = setup(&app, "0.00").await;
    let riders = app.bulk_riders(setup.community_a, "1390000", 179).await;
    let outsider = app.rider("13711112222", setup.community_b).await;
    let squad = app
        .post("/api/v1/squads", &setup.organizer.token, json!({"level_id": setup.district_a, "name": "蓬江应急突击队", "category": "emergency_response", "leader_id": riders[0]}))
        .await
        .ok(201)
        .clone();
    assert_eq!(squad["member_ids"], json!([riders[0]]), "the leader is a member");
    let squad_id = squad["id"].as_i64().unwrap();
    let mut rider_ids: Vec<Value> = riders[..100].iter().map(|id| json!(id)).collect();
    rider_ids.push(json!(outsider.id));
    rider_ids.push(json!(999_999));
    let phones: Vec<String> = (100..179)
        .map(|index| format!("+86 139 0000 {index:04}"))
        .chain(["12345".to_owned(), "13600000000".to_owned()])
        .collect();
    let answer = app
        .post(
            &format!("/api/v1/squads/{squad_id}/members"),
            &setup.organizer.token,
            json!({"rider_ids": rider_ids, "phones": phones}),
        )
        .await;
    let result = answer.ok(200).clone();
    assert_eq!(result["added"].as_array().unwrap().len(), 178);
    assert_eq!(result["already_members"], json!([riders[0]]));
    assert_eq!(result["squad"]["member_count"], 179);
    let failed: Vec<&str> =
        result["failed"].as_array().unwrap().iter().map(|failure| failure["input"].as_str().unwrap()).collect();
    assert_eq!(failed, ["12345", "13600000000", &outsider.id.to_string(), "999999"]);
    assert!(result["failed"][0]["reason"].as_str().unwrap().contains("mobile"));

    // Another district's organizer cannot touch it.
    let other = app.staff("organizer", "org.b", Some(setup.district_b)).await;
    app.post(&format!("/api/v1/squads/{squad_id}/members"), &other.token, json!({"rider_ids": [outsider.id]}))
        .await
        .problem(403, "forbidden");
    app.get(&format!("/api/v1/squads/{squad_id}"), &other.token).await.problem(403, "forbidden");
}

#[tokio::test]
async fn one_hundred_seventy_nine_logged_rows_approved_in_one_request() {
    let app = spawn_app().await;
    let setup = setup(&app, "20000.00").await;
    let riders = app.bulk_riders(setup.community_a, "1390000", 179).await;
    let activity = open_activity(
        &app,
        &setup.organizer.token,
        setup.district_a,
        "emergency_response",
        app.now() - TimeDelta::hours(6),
        12,
    )
    .await;
    let activity_id = activity["id"].as_i64().unwrap();
    let outcomes = ["completed", "commended", "outstanding"];
    let rows: Vec<Value> =
        riders.iter().enumerate().map(|(index, rider)| row(*rider, "3.5", outcomes[index % 3])).collect();
    let logged = app
        .post(&format!("/api/v1/activities/{activity_id}/hours"), &setup.organizer.token, json!({"rows": rows}))
        .await;
    let logs = logged.ok(201)["logs"].as_array().unwrap().clone();
    assert_eq!(logs.len(), 179);
    assert!(logs.iter().all(|log| log["status"] == "pending" && log["verified"] == false && log["hours"] == "3.50"));
    let ids: Vec<i64> = logs.iter().map(|log| log["id"].as_i64().unwrap()).collect();

    let budget = app.budget_account(setup.district_a).await;
    let approved = app.post("/api/v1/hours/approve", &setup.organizer.token, json!({"ids": ids})).await.ok(200).clone();
    assert_eq!(approved["approved"].as_array().unwrap().len(), 179);
    // 3.5 h × 10.00 = 35.00, plus 0, 5 or 10 by outcome: 60 × (35 + 40 + 45) − 45 for the 179th.
    assert_eq!(approved["total_points"], "7155.00");
    assert_eq!(app.balance(budget).await, "12845.00");
    for (index, rider) in riders.iter().enumerate().step_by(17) {
        let expected = ["35.00", "40.00", "45.00"][index % 3];
        assert_eq!(app.balance(app.account_of(*rider).await).await, expected, "rider {index}");
    }
    let rider_token = app.login("13900000001", PASSWORD).await["access_token"].as_str().unwrap().to_owned();
    let statement = app.get("/api/v1/me/statement", &rider_token).await.ok(200).clone();
    let line = &statement["lines"][0];
    assert_eq!(line["kind"], "award");
    assert_eq!(line["amount"], "40.00");
    assert_eq!(line["reference"]["type"], "hour_log");
    assert!(line["reason"].as_str().unwrap().contains("应急抢险"), "{line}");
    let mine = app.get("/api/v1/hours", &rider_token).await.ok(200).clone();
    assert_eq!(mine["logs"].as_array().unwrap().len(), 1, "riders see only their own logs");
    assert_eq!(mine["logs"][0]["rule_version"], 1);
    app.post("/api/v1/hours/approve", &setup.organizer.token, json!({"ids": [ids[0]]})).await.problem(409, "conflict");
    app.assert_verified().await;
}

#[tokio::test]
async fn riders_check_in_and_out_for_verified_hours() {
    let mut app = spawn_app().await;
    let setup = setup(&app, "1000.00").await;
    let rider = app.rider("13800000001", setup.community_a).await;
    let activity = open_activity(
        &app,
        &setup.organizer.token,
        setup.district_a,
        "city_duty",
        app.now() - TimeDelta::minutes(30),
        8,
    )
    .await;
    let activity_id = activity["id"].as_i64().unwrap();
    let code = activity["checkin_code"].as_str().unwrap().to_owned();
    let seen_by_rider = app.get(&format!("/api/v1/activities/{activity_id}"), &rider.token).await.ok(200).clone();
    assert!(seen_by_rider["checkin_code"].is_null(), "riders get the code on site, not from the API");

    let wrong = if code == "000000" { "111111" } else { "000000" };
    app.post(&format!("/api/v1/activities/{activity_id}/check-in"), &rider.token, json!({"code": wrong}))
        .await
        .problem(422, "validation-error");
    let checked_in =
        app.post(&format!("/api/v1/activities/{activity_id}/check-in"), &rider.token, json!({"code": code})).await;
    assert_eq!(checked_in.ok(201)["status"], "checked_in");
    app.post(&format!("/api/v1/activities/{activity_id}/check-in"), &rider.token, json!({"code": code}))
        .await
        .problem(409, "overlapping-hours");

    app.advance_clock(TimeDelta::minutes(90)).await;
    let rider_token = app.login("13800000001", PASSWORD).await["access_token"].as_str().unwrap().to_owned();
    let organizer_token = app.login("org.a", PASSWORD).await["access_token"].as_str().unwrap().to_owned();
    let out = app
        .request(Method::POST, &format!("/api/v1/activities/{activity_id}/check-out"), Some(&rider_token), None)
        .await;
    let log = out.ok(200).clone();
    assert_eq!(log["status"], "pending");
    assert_eq!(log["verified"], true);
    assert_eq!(log["source"], "check_in");
    assert_eq!(log["hours"], "1.50");
    app.request(Method::POST, &format!("/api/v1/activities/{activity_id}/check-out"), Some(&rider_token), None)
        .await
        .problem(409, "not-checked-in");
    let approved =
        app.post("/api/v1/hours/approve", &organizer_token, json!({"ids": [log["id"]]})).await.ok(200).clone();
    assert_eq!(approved["total_points"], "7.50", "1.5 h of city duty at 5.00");

    // A planned activity takes no check-ins.
    let planned = app
        .post(
            "/api/v1/activities",
            &organizer_token,
            json!({"level_id": setup.district_a, "title": "明日值班", "category": "city_duty",
            "starts_at": app.now(), "ends_at": app.now() + TimeDelta::hours(2), "place": "x"}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    app.post(&format!("/api/v1/activities/{planned}/check-in"), &rider_token, json!({"code": "123456"}))
        .await
        .problem(409, "activity-not-open");
}

#[tokio::test]
async fn each_guard_on_logged_hours_is_its_own_problem() {
    let app = spawn_app().await;
    let setup = setup(&app, "1000.00").await;
    let rider = app.rider("13800000001", setup.community_a).await;
    let starts_at = app.now() - TimeDelta::hours(20);
    let activity = open_activity(&app, &setup.organizer.token, setup.district_a, "repair_service", starts_at, 16).await;
    let path = format!("/api/v1/activities/{}/hours", activity["id"]);
    let token = &setup.organizer.token;

    let mut no_evidence = row(rider.id, "1", "completed");
    no_evidence["evidence_urls"] = json!([]);
    let answer = app.post(&path, token, json!({"rows": [no_evidence]})).await;
    assert_eq!(answer.problem(422, "evidence-required")["errors"][0]["field"], "rows[0].evidence_urls");

    let answer = app.post(&path, token, json!({"rows": [row(rider.id, "13", "completed")]})).await;
    assert_eq!(answer.problem(422, "daily-cap-exceeded")["errors"][0]["code"], "daily-cap-exceeded");

    let answer = app.post(&path, token, json!({"rows": [row(rider.id, "17", "completed")]})).await;
    assert!(answer.problem(422, "outside-activity")["detail"].as_str().unwrap().contains("activity's length"));

    let timed = |from: i64, to: i64| {
        json!({"rider_id": rider.id, "started_at": starts_at + TimeDelta::hours(from), "ended_at": starts_at + TimeDelta::hours(to),
               "evidence_urls": ["https://photos.example/repair.jpg"]})
    };
    let answer = app.post(&path, token, json!({"rows": [timed(-1, 2)]})).await;
    answer.problem(422, "outside-activity");

    app.post(&path, token, json!({"rows": [timed(1, 3)]})).await.ok(201);
    let answer = app.post(&path, token, json!({"rows": [timed(2, 4)]})).await;
    answer.problem(422, "overlapping-hours");

    // Another activity that overlaps in time: refused too; one after it: fine.
    let other = open_activity(&app, token, setup.district_a, "community_service", starts_at, 16).await;
    let other_path = format!("/api/v1/activities/{}/hours", other["id"]);
    app.post(&other_path, token, json!({"rows": [timed(2, 4)]})).await.problem(422, "overlapping-hours");
    app.post(&other_path, token, json!({"rows": [timed(3, 5)]})).await.ok(201);

    // Mixed problems in one batch: every bad row is named, nothing is written.
    let second = app.rider("13800000002", setup.community_a).await;
    let mut bad = row(second.id, "1.33", "completed");
    bad["outcome"] = json!("completed");
    let answer = app
        .post(&other_path, token, json!({"rows": [row(second.id, "1", "completed"), bad, row(999, "1", "completed")]}))
        .await;
    answer.problem(422, "validation-error");
    assert_eq!(answer.fields(), ["rows[1].hours", "rows[2].rider_id"]);
    let listed = app.get(&format!("/api/v1/hours?rider_id={}", second.id), token).await.ok(200).clone();
    assert_eq!(listed["logs"].as_array().unwrap().len(), 0, "nothing was written");

    let closed =
        app.post(&format!("/api/v1/activities/{}/status", other["id"]), token, json!({"status": "closed"})).await;
    assert_eq!(closed.ok(200)["status"], "closed");
    app.post(&other_path, token, json!({"rows": [row(second.id, "1", "completed")]}))
        .await
        .problem(409, "activity-not-open");
    app.post(&format!("/api/v1/activities/{}/status", other["id"]), token, json!({"status": "open"}))
        .await
        .problem(409, "invalid-transition");
}

#[tokio::test]
async fn approvals_outside_the_subtree_or_beyond_the_budget_are_refused_and_post_nothing() {
    let app = spawn_app().await;
    let setup = setup(&app, "50.00").await;
    let riders = app.bulk_riders(setup.community_a, "1390000", 3).await;
    let activity = open_activity(
        &app,
        &setup.organizer.token,
        setup.district_a,
        "emergency_response",
        app.now() - TimeDelta::hours(4),
        8,
    )
    .await;
    let rows: Vec<Value> = riders.iter().map(|rider| row(*rider, "2", "completed")).collect();
    let logs = app
        .post(&format!("/api/v1/activities/{}/hours", activity["id"]), &setup.organizer.token, json!({"rows": rows}))
        .await;
    let ids: Vec<i64> =
        logs.ok(201)["logs"].as_array().unwrap().iter().map(|log| log["id"].as_i64().unwrap()).collect();

    let other = app.staff("organizer", "org.b", Some(setup.district_b)).await;
    app.post("/api/v1/hours/approve", &other.token, json!({"ids": ids})).await.problem(403, "forbidden");
    app.post(&format!("/api/v1/hours/{}/reject", ids[0]), &other.token, json!({"reason": "x"}))
        .await
        .problem(403, "forbidden");

    // Three awards of 20.00 against a budget of 50.00: none posts.
    let budget = app.budget_account(setup.district_a).await;
    let refused = app.post("/api/v1/hours/approve", &setup.organizer.token, json!({"ids": ids})).await;
    assert_eq!(refused.problem(422, "insufficient-points")["available"], "10.00");
    assert_eq!(app.balance(budget).await, "50.00");
    for rider in &riders {
        assert_eq!(app.balance(app.account_of(*rider).await).await, "0.00");
    }
    let still =
        app.get(&format!("/api/v1/hours?activity_id={}&status=pending", activity["id"]), &setup.organizer.token).await;
    assert_eq!(still.ok(200)["logs"].as_array().unwrap().len(), 3, "the logs are still pending");

    app.post("/api/v1/hours/approve", &setup.organizer.token, json!({"ids": &ids[..2]})).await.ok(200);
    let rejected = app
        .post(&format!("/api/v1/hours/{}/reject", ids[2]), &setup.organizer.token, json!({"reason": "没有现场照片"}))
        .await;
    assert_eq!(rejected.ok(200)["rejection_reason"], "没有现场照片");
    app.assert_verified().await;
}

#[tokio::test]
async fn reversing_approved_hours_restores_every_balance() {
    let app = spawn_app().await;
    let setup = setup(&app, "100.00").await;
    let rider = app.rider("13800000001", setup.community_a).await;
    let activity = open_activity(
        &app,
        &setup.organizer.token,
        setup.district_a,
        "medicine_delivery",
        app.now() - TimeDelta::hours(3),
        6,
    )
    .await;
    let logged = app
        .post(
            &format!("/api/v1/activities/{}/hours", activity["id"]),
            &setup.organizer.token,
            json!({"rows": [row(rider.id, "2.5", "outstanding")]}),
        )
        .await;
    let log_id = logged.ok(201)["logs"][0]["id"].as_i64().unwrap();
    app.post("/api/v1/hours/approve", &setup.organizer.token, json!({"ids": [log_id]})).await.ok(200);
    let budget = app.budget_account(setup.district_a).await;
    assert_eq!(app.balance(rider.account_id.unwrap()).await, "30.00");
    assert_eq!(app.balance(budget).await, "70.00");

    let reversed = app
        .post(
            &format!("/api/v1/hours/{log_id}/reversal"),
            &setup.organizer.token,
            json!({"reason": "logged at the wrong activity"}),
        )
        .await;
    let reversed = reversed.ok(200).clone();
    assert_eq!(reversed["log"]["status"], "reversed");
    assert_eq!(reversed["reversal"]["kind"], "reversal");
    assert_eq!(app.balance(rider.account_id.unwrap()).await, "0.00");
    assert_eq!(app.balance(budget).await, "100.00");
    app.post(&format!("/api/v1/hours/{log_id}/reversal"), &setup.organizer.token, json!({"reason": "again"}))
        .await
        .problem(409, "conflict");
    app.assert_verified().await;
}

#[tokio::test]
async fn a_level_can_ask_for_a_second_person_to_approve() {
    let app = spawn_app().await;
    let setup = setup(&app, "100.00").await;
    app.request(
        Method::PATCH,
        &format!("/api/v1/levels/{}", setup.district_a),
        Some(&app.admin_token),
        Some(json!({"approver_must_differ": true})),
    )
    .await
    .ok(200);
    let rider = app.rider("13800000001", setup.community_a).await;
    let activity = open_activity(
        &app,
        &setup.organizer.token,
        setup.district_a,
        "community_service",
        app.now() - TimeDelta::hours(2),
        4,
    )
    .await;
    let logged = app
        .post(
            &format!("/api/v1/activities/{}/hours", activity["id"]),
            &setup.organizer.token,
            json!({"rows": [row(rider.id, "1", "completed")]}),
        )
        .await;
    let log_id = logged.ok(201)["logs"][0]["id"].as_i64().unwrap();
    app.post("/api/v1/hours/approve", &setup.organizer.token, json!({"ids": [log_id]})).await.problem(403, "forbidden");
    let second = app.staff("organizer", "org.a2", Some(setup.district_a)).await;
    app.post("/api/v1/hours/approve", &second.token, json!({"ids": [log_id]})).await.ok(200);
}

#[tokio::test]
async fn a_confirmed_hazard_report_is_paid_once() {
    let app = spawn_app().await;
    let setup = setup(&app, "0.00").await;
    // The report belongs to the rider's community: its budget pays.
    app.post(
        &format!("/api/v1/levels/{}/budget/allocate", setup.district_a),
        &app.admin_token,
        json!({"to_level_id": setup.community_a, "amount": "0.01", "reason": "x"}),
    )
    .await
    .problem(422, "insufficient-points");
    let rider = app.rider("13800000001", setup.community_a).await;
    let filed = app
        .post("/api/v1/hazard-reports", &rider.token, json!({"description": "路边指示牌倒了", "place": "大水坑社区菜市场路口", "photo_urls": ["https://photos.example/sign.jpg"]}))
        .await;
    let report = filed.ok(201).clone();
    assert_eq!(report["status"], "filed");
    let id = report["id"].as_i64().unwrap();
    let status = |status: &str| json!({"status": status, "note": format!("step {status}")});
    let path = format!("/api/v1/hazard-reports/{id}/status");
    app.post(&path, &setup.organizer.token, status("confirmed")).await.problem(409, "invalid-transition");
    for step in ["acknowledged", "assigned", "resolved"] {
        app.post(&path, &setup.organizer.token, status(step)).await.ok(200);
    }
    // The community's budget is empty: confirming cannot pay, so it does not happen.
    app.post(&path, &setup.organizer.token, status("confirmed")).await.problem(422, "insufficient-points");
    let city = app.get(&format!("/api/v1/levels/{}", setup.district_a), &app.admin_token).await.ok(200)["parent_id"]
        .as_i64()
        .unwrap();
    app.post(
        &format!("/api/v1/levels/{city}/budget/allocate"),
        &app.admin_token,
        json!({"to_level_id": setup.community_a, "amount": "100.00", "reason": "hazard reports"}),
    )
    .await
    .ok(201);
    let confirmed = app.post(&path, &setup.organizer.token, status("confirmed")).await.ok(200).clone();
    assert!(confirmed["award_entry_id"].as_i64().is_some());
    app.post(&path, &setup.organizer.token, status("confirmed")).await.problem(409, "invalid-transition");
    assert_eq!(app.balance(rider.account_id.unwrap()).await, "5.00", "paid once");

    let seen = app.get(&format!("/api/v1/hazard-reports/{id}"), &rider.token).await.ok(200).clone();
    let steps: Vec<&str> =
        seen["events"].as_array().unwrap().iter().map(|event| event["status"].as_str().unwrap()).collect();
    assert_eq!(steps, ["filed", "acknowledged", "assigned", "resolved", "confirmed"]);
    assert!(seen["events"][3]["at"].as_str().is_some());
    let other_rider = app.rider("13800000002", setup.community_a).await;
    app.get(&format!("/api/v1/hazard-reports/{id}"), &other_rider.token).await.problem(403, "forbidden");
    let outsider = app.staff("organizer", "org.b", Some(setup.district_b)).await;
    app.post(&path, &outsider.token, status("dismissed")).await.problem(403, "forbidden");
    app.assert_verified().await;
}

#[tokio::test]
async fn reports_total_hours_and_points_and_export_csv() {
    let app = spawn_app().await;
    let setup = setup(&app, "10000.00").await;
    let riders = app.bulk_riders(setup.community_a, "1390000", 4).await;
    let squad = app
        .post(
            "/api/v1/squads",
            &setup.organizer.token,
            json!({"level_id": setup.district_a, "name": "维修小分队", "category": "repair_service"}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let repair = app
        .post(
            "/api/v1/activities",
            &setup.organizer.token,
            json!({"level_id": setup.district_a, "squad_id": squad, "title": "免费修车", "category": "repair_service",
            "starts_at": app.now() - TimeDelta::hours(5), "ends_at": app.now() + TimeDelta::hours(1), "place": "V站"}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    app.post(&format!("/api/v1/activities/{repair}/status"), &setup.organizer.token, json!({"status": "open"}))
        .await
        .ok(200);
    let duty =
        open_activity(&app, &setup.organizer.token, setup.district_a, "city_duty", app.now() - TimeDelta::hours(5), 6)
            .await["id"]
            .as_i64()
            .unwrap();
    let repair_logs = app
        .post(
            &format!("/api/v1/activities/{repair}/hours"),
            &setup.organizer.token,
            json!({"rows": [row(riders[0], "2", "completed"), row(riders[1], "1", "commended")]}),
        )
        .await
        .ok(201)
        .clone();
    let duty_logs = app
        .post(
            &format!("/api/v1/activities/{duty}/hours"),
            &setup.organizer.token,
            json!({"rows": [row(riders[2], "4", "completed"), row(riders[3], "3", "completed")]}),
        )
        .await
        .ok(201)
        .clone();
    let ids: Vec<Value> = repair_logs["logs"]
        .as_array()
        .unwrap()
        .iter()
        .chain(duty_logs["logs"].as_array().unwrap())
        .map(|log| log["id"].clone())
        .collect();
    app.post("/api/v1/hours/approve", &setup.organizer.token, json!({"ids": ids})).await.ok(200);

    let report = app
        .get(
            &format!("/api/v1/reports/volunteering?level_id={}&group_by=category", setup.district_a),
            &setup.organizer.token,
        )
        .await;
    let report = report.ok(200).clone();
    let rows: Vec<(&str, &str, &str)> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row["key"].as_str().unwrap(), row["hours"].as_str().unwrap(), row["points"].as_str().unwrap()))
        .collect();
    // repair: 2 h × 8 + 1 h × 8 + 5 bonus = 29.00; city duty: 7 h × 5 = 35.00.
    assert_eq!(rows, [("city_duty", "7.00", "35.00"), ("repair_service", "3.00", "29.00")]);
    assert_eq!(report["total"]["points"], "64.00");
    let by_squad = app
        .get(
            &format!("/api/v1/reports/volunteering?level_id={}&group_by=squad", setup.district_a),
            &setup.organizer.token,
        )
        .await;
    let squads: Vec<&str> =
        by_squad.ok(200)["rows"].as_array().unwrap().iter().map(|row| row["label"].as_str().unwrap()).collect();
    assert_eq!(squads, ["维修小分队", "no squad"]);

    let csv = app
        .client
        .get(format!("{}/api/v1/reports/volunteering?level_id={}&group_by=rider", app.address, setup.district_a))
        .bearer_auth(&setup.organizer.token)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    assert!(text.starts_with('\u{feff}'), "a byte-order mark for spreadsheet programs");
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines[0], "key,label,hours,points,logs");
    assert_eq!(lines.len(), 6);
    assert!(lines.contains(&format!("{},骑手2,4.00,20.00,1", riders[2]).as_str()), "{lines:?}");
    assert_eq!(lines[5], "total,total,10.00,64.00,4");

    // The award list of the period, as JSON and as CSV for the union's paperwork.
    let period = format!(
        "from={}&to={}",
        (app.now() - TimeDelta::days(1)).to_rfc3339(),
        (app.now() + TimeDelta::days(1)).to_rfc3339()
    )
    .replace('+', "%2B");
    let awards = app
        .get(&format!("/api/v1/reports/awards?level_id={}&{period}", setup.district_a), &setup.organizer.token)
        .await
        .ok(200)
        .clone();
    assert_eq!(awards["awards"].as_array().unwrap().len(), 4);
    assert_eq!((awards["total_hours"].as_str(), awards["total_points"].as_str()), (Some("10.00"), Some("64.00")));
    assert!(awards["awards"].as_array().unwrap().iter().all(|award| award["entry_id"].is_i64()));
    let award_lines = app.csv("/api/v1/reports/awards", &setup.organizer.token).await;
    assert_eq!(award_lines[0], "log_id,rider_id,rider_name,category,activity_id,served_at,hours,points,entry_id");
    assert_eq!(award_lines.len(), 6);
    assert!(
        award_lines.iter().any(|line| line.contains(&format!(",{},骑手2,city_duty,", riders[2]))),
        "{award_lines:?}"
    );
    assert!(award_lines[5].starts_with("total,") && award_lines[5].ends_with(",10.00,64.00,"), "{award_lines:?}");
    let empty = app
        .get(
            &format!(
                "/api/v1/reports/awards?level_id={}&from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z",
                setup.district_a
            ),
            &setup.organizer.token,
        )
        .await;
    assert!(empty.ok(200)["awards"].as_array().unwrap().is_empty());

    let board = app
        .get(
            &format!("/api/v1/reports/leaderboard?level_id={}", setup.district_a),
            app.login("13900000002", PASSWORD).await["access_token"].as_str().unwrap(),
        )
        .await;
    let board = board.ok(200).clone();
    assert_eq!(board["riders"][0]["rider_id"], riders[2]);
    assert_eq!(board["riders"][0]["rank"], 1);
    let outsider = app.staff("organizer", "org.b", Some(setup.district_b)).await;
    app.get(&format!("/api/v1/reports/volunteering?level_id={}", setup.district_a), &outsider.token)
        .await
        .problem(403, "forbidden");
}
