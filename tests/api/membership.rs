use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use reqwest::Method;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, spawn_app};

/// The time of a rider's `swap`th swap (from 0) on the local (UTC+8) day `day` days before today:
/// 09:00, 12:00, 15:00, ... Signals count by local day, so a day's swaps must not spill into the
/// next one whatever the time of day the test runs at (from `now` plus hours, they did after 18:00
/// in China).
fn swap_at(app: &TestApp, day: i64, swap: i64) -> DateTime<Utc> {
    let china = FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
    let date = app.now().with_timezone(&china).date_naive() - TimeDelta::days(day);
    let morning = date.and_hms_opt(9, 0, 0).expect("09:00 is a time").and_local_timezone(china).unwrap();
    morning.with_timezone(&Utc) + TimeDelta::hours(swap * 3)
}

/// `per_day` battery swaps a day for `days` days ending yesterday, for one phone number.
fn swaps(app: &TestApp, prefix: &str, phone: &str, days: i64, per_day: i64, area: &str) -> Vec<Value> {
    // Event ids are the partner's own: nothing in them may be the phone number.
    let batch = uuid::Uuid::new_v4().simple().to_string();
    let mut events = Vec::new();
    for day in 1..=days {
        for swap in 0..per_day {
            let at = swap_at(app, day, swap);
            events.push(json!({"event_id": format!("{prefix}-{batch}-{day}-{swap}"), "subject": {"phone": phone},
                               "kind": "battery_swap", "occurred_at": at.to_rfc3339(), "area": area}));
        }
    }
    events
}

async fn push(app: &TestApp, token: &str, events: Vec<Value>) -> Value {
    app.post("/api/v1/signals", token, json!({"events": events})).await.ok(200).clone()
}

fn rule() -> Value {
    json!({"name": "活跃换电骑手", "kind": "battery_swap", "window_days": 30, "min_count": 20, "min_active_days": 7})
}

#[tokio::test]
async fn partners_sign_in_with_client_credentials_in_every_form() {
    let mut app = spawn_app().await;
    let (_, [district, _], _) = app.small_tree().await;
    let (partner_id, client_id, secret) = app.partner("铁塔换电", district).await;
    let listed = app.get("/api/v1/partners", &app.admin_token).await.ok(200).clone();
    assert_eq!(listed["partners"][0]["client_id"], client_id);
    assert!(!listed.to_string().contains(&secret), "the secret is shown once, never listed");

    let json_token = app.client_token(&client_id, &secret).await;
    assert_eq!(json_token.ok(200)["token_type"], "Bearer");
    let form = app
        .client
        .post(format!("{}/api/v1/auth/token", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=client_credentials&client_id={client_id}&client_secret={secret}"))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    let basic = app
        .client
        .post(format!("{}/api/v1/auth/token", app.address))
        .basic_auth(&client_id, Some(&secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 200);
    let token = json_token.body["access_token"].as_str().unwrap().to_owned();
    app.get("/api/v1/signals", &token).await.ok(200);
    app.get("/api/v1/me", &token).await.problem(403, "forbidden");
    app.get("/api/v1/membership/candidates", &token).await.problem(403, "forbidden");

    app.client_token(&client_id, "wrong-secret").await.problem(401, "invalid_client");
    app.client_token("ptn_nobody", &secret).await.problem(401, "invalid_client");
    let password_grant = app
        .request(
            Method::POST,
            "/api/v1/auth/token",
            None,
            Some(json!({"grant_type": "password", "client_id": client_id, "client_secret": secret})),
        )
        .await;
    password_grant.problem(400, "unsupported_grant_type");

    // Rotation: the new secret works at once, the old one for the grace period only.
    let rotated = app
        .post(&format!("/api/v1/partners/{partner_id}/secret"), &app.admin_token, json!({"grace_hours": 1}))
        .await
        .ok(200)
        .clone();
    let new_secret = rotated["client_secret"].as_str().unwrap().to_owned();
    app.client_token(&client_id, &new_secret).await.ok(200);
    app.client_token(&client_id, &secret).await.ok(200);
    app.advance_clock(TimeDelta::hours(2)).await;
    app.client_token(&client_id, &secret).await.problem(401, "invalid_client");
    app.client_token(&client_id, &new_secret).await.ok(200);
}

#[tokio::test]
async fn a_batch_sent_twice_counts_once_and_bad_rows_are_named_while_good_rows_stand() {
    let app = spawn_app().await;
    let (_, [district, _], _) = app.small_tree().await;
    let token = app.partner_token(district).await;
    let events = swaps(&app, "a", "13812345678", 2, 3, "蓬江区");
    let first = push(&app, &token, events.clone()).await;
    assert_eq!((first["accepted"].as_u64(), first["duplicates"].as_u64()), (Some(6), Some(0)));
    let again = push(&app, &token, events.clone()).await;
    assert_eq!((again["accepted"].as_u64(), again["duplicates"].as_u64()), (Some(0), Some(6)));

    let at = app.now().to_rfc3339();
    let mixed = vec![
        json!({"event_id": "ok-1", "subject": {"phone": "13812345678"}, "kind": "battery_swap", "occurred_at": at}),
        json!({"event_id": "bad-kind", "subject": {"phone": "13812345678"}, "kind": "teleport", "occurred_at": at}),
        json!({"event_id": "future", "subject": {"phone": "13812345678"}, "kind": "battery_swap", "occurred_at": (app.now() + TimeDelta::days(1)).to_rfc3339()}),
        json!({"event_id": "old", "subject": {"phone": "13812345678"}, "kind": "battery_swap", "occurred_at": (app.now() - TimeDelta::days(120)).to_rfc3339()}),
        json!({"event_id": "bad-phone", "subject": {"phone": "12345"}, "kind": "battery_swap", "occurred_at": at}),
        json!({"event_id": "bad-time", "subject": {"phone": "13812345678"}, "kind": "battery_swap", "occurred_at": "yesterday"}),
        json!({"event_id": "both", "subject": {"phone": "13812345678", "partner_ref": "r1"}, "kind": "battery_swap", "occurred_at": at}),
        json!({"event_id": "ok-2", "subject": {"partner_ref": "rider-007"}, "kind": "order_completed", "occurred_at": at, "quantity": 4}),
        json!({"event_id": "ok-1", "subject": {"phone": "13812345678"}, "kind": "battery_swap", "occurred_at": at}),
    ];
    let result = push(&app, &token, mixed).await;
    assert_eq!(result["accepted"], 2);
    assert_eq!(result["duplicates"], 1, "sent twice within one batch");
    let refused: Vec<(u64, &str)> = result["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row["index"].as_u64().unwrap(), row["event_id"].as_str().unwrap()))
        .collect();
    assert_eq!(refused, [(1, "bad-kind"), (2, "future"), (3, "old"), (4, "bad-phone"), (5, "bad-time"), (6, "both")]);
    assert!(result["rejected"][0]["reason"].as_str().unwrap().contains("unknown kind"));

    // A malformed batch changes nothing.
    let listed_before = app.get("/api/v1/signals?limit=500", &token).await.ok(200)["events"].as_array().unwrap().len();
    let malformed =
        app.post("/api/v1/signals", &token, json!({"events": [{"event_id": "x", "kind": "battery_swap"}]})).await;
    malformed.problem(422, "validation-error");
    app.post("/api/v1/signals", &token, json!({"events": []})).await.problem(422, "validation-error");
    let listed_after = app.get("/api/v1/signals?limit=500", &token).await.ok(200)["events"].as_array().unwrap().len();
    assert_eq!(listed_before, listed_after);
    assert_eq!(listed_after, 8);
}

#[tokio::test]
async fn no_phone_number_is_stored_in_clear_with_signals_and_partners_see_only_their_own() {
    let app = spawn_app().await;
    let (_, [district, _], _) = app.small_tree().await;
    let token_a = app.partner_token(district).await;
    let token_b = app.partner_token(district).await;
    push(&app, &token_a, swaps(&app, "a", "13812345678", 3, 2, "蓬江区")).await;
    push(&app, &token_b, swaps(&app, "b", "13999998888", 1, 1, "蓬江区")).await;

    let events = entity::signal_event::Entity::find().all(app.state.store.reader()).await.unwrap();
    let daily = entity::signal_daily::Entity::find().all(app.state.store.reader()).await.unwrap();
    assert_eq!(events.len(), 7);
    let stored = format!("{events:?}{daily:?}");
    for phone in ["13812345678", "13999998888", "1381234", "5678"] {
        assert!(!stored.contains(phone), "{phone} found in the signal tables");
    }
    let a_sees = app.get("/api/v1/signals", &token_a).await.ok(200).clone();
    assert_eq!(a_sees["events"].as_array().unwrap().len(), 6);
    assert!(
        a_sees["events"].as_array().unwrap().iter().all(|event| event["event_id"].as_str().unwrap().starts_with("a-"))
    );
    assert!(!a_sees.to_string().contains("13812345678"));
    let b_sees = app.get("/api/v1/signals", &token_b).await.ok(200).clone();
    assert_eq!(b_sees["events"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn swap_history_makes_a_candidate_and_one_just_below_the_threshold_does_not() {
    let app = spawn_app().await;
    let (_, [district, _], [community, _]) = app.small_tree().await;
    let token = app.partner_token(district).await;
    // Active: 3 swaps a day for 10 days. Just below: 3 a day for 6 days (18 swaps, 6 days).
    push(&app, &token, swaps(&app, "a", "13811110000", 10, 3, "篁庄社区")).await;
    push(&app, &token, swaps(&app, "a", "13822220000", 6, 3, "篁庄社区")).await;

    let preview = app.post("/api/v1/membership/rules/preview", &app.admin_token, rule()).await.ok(200).clone();
    assert_eq!(preview["candidates"], 1);
    assert_eq!(preview["sample"][0]["signal_count"], 30);
    assert_eq!(preview["sample"][0]["active_days"], 10);
    let looser = app
        .post(
            "/api/v1/membership/rules/preview",
            &app.admin_token,
            json!({"name": "宽松", "kind": "battery_swap", "window_days": 30, "min_count": 18, "min_active_days": 6}),
        )
        .await;
    assert_eq!(looser.ok(200)["candidates"], 2);
    let listed = app.get("/api/v1/membership/candidates", &app.admin_token).await.ok(200).clone();
    assert_eq!(listed["candidates"].as_array().unwrap().len(), 0, "a preview writes nothing");
    let bad = app
        .post(
            "/api/v1/membership/rules/preview",
            &app.admin_token,
            json!({"name": "", "kind": "battery_swap", "window_days": 0, "min_count": 0, "min_active_days": 5}),
        )
        .await;
    assert_eq!(bad.fields(), ["name", "window_days", "min_count", "min_active_days"]);

    let created = app.post("/api/v1/membership/rules", &app.admin_token, rule()).await.ok(201).clone();
    assert_eq!(created["candidates_created"], 1);
    let listed = app.get("/api/v1/membership/candidates", &app.admin_token).await.ok(200).clone();
    let candidates = listed["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 1);
    assert_eq!(candidates[0]["level_id"], community, "assigned to the level named by the area");
    assert_eq!(candidates[0]["rule_version"], 1);
    assert_eq!(candidates[0]["evidence"]["signal_count"], 30);
    let exported = app.csv("/api/v1/membership/candidates", &app.admin_token).await;
    assert!(exported[0].starts_with("id,level_id,status,registered_rider_id,signal_count,active_days,first_seen"));
    assert_eq!(exported.len(), 2);
    assert!(exported[1].contains(",30,") && exported[1].contains("活跃换电骑手"), "{exported:?}");
    assert!(!exported.concat().contains("1382222"), "no phone number in the export");

    // Swaps on a seventh day lift the second rider over the line as the batch arrives.
    let more: Vec<Value> = (0..3)
        .map(|swap| {
            json!({"event_id": format!("late-{swap}"), "subject": {"phone": "13822220000"}, "kind": "battery_swap",
                          "occurred_at": swap_at(&app, 7, swap).to_rfc3339(), "area": "篁庄社区"})
        })
        .collect();
    push(&app, &token, more).await;
    let listed = app.get("/api/v1/membership/candidates", &app.admin_token).await.ok(200).clone();
    assert_eq!(listed["candidates"].as_array().unwrap().len(), 2);

    // An organizer of the other district sees none of them.
    let other_district =
        app.get("/api/v1/levels", &app.admin_token).await.ok(200)["levels"][0]["children"][1]["id"].as_i64().unwrap();
    let outsider = app.staff("organizer", "org.b", Some(other_district)).await;
    assert_eq!(
        app.get("/api/v1/membership/candidates", &outsider.token).await.ok(200)["candidates"].as_array().unwrap().len(),
        0
    );
}

#[tokio::test]
async fn invite_apply_verify_approve_with_welcome_points() {
    let app = spawn_app().await;
    let (city, [district, _], [community, _]) = app.small_tree().await;
    app.fund(city, "1000.00").await;
    app.post(
        &format!("/api/v1/levels/{city}/budget/allocate"),
        &app.admin_token,
        json!({"to_level_id": community, "amount": "100.00", "reason": "welcome"}),
    )
    .await
    .ok(201);
    app.request(
        Method::PATCH,
        &format!("/api/v1/levels/{community}"),
        Some(&app.admin_token),
        Some(json!({"welcome_points": "20.00"})),
    )
    .await
    .ok(200);
    let organizer = app.staff("organizer", "org.a", Some(district)).await;
    let token = app.partner_token(district).await;
    push(&app, &token, swaps(&app, "a", "13811110000", 10, 3, "篁庄社区")).await;
    app.post("/api/v1/membership/rules", &app.admin_token, rule()).await.ok(201);
    let candidate = app.get("/api/v1/membership/candidates", &organizer.token).await.ok(200)["candidates"][0].clone();
    assert!(candidate["registered_rider_id"].is_null());
    let invited = app
        .post(&format!("/api/v1/membership/candidates/{}/invite", candidate["id"]), &organizer.token, json!({}))
        .await;
    assert_eq!(invited.ok(200)["status"], "invited");
    app.post(&format!("/api/v1/membership/candidates/{}/invite", candidate["id"]), &organizer.token, json!({}))
        .await
        .problem(409, "invalid-transition");

    // The rider registers with the same number (another notation) and sees the invitation with its evidence.
    let rider = app.rider("+86 138-1111-0000", community).await;
    let mine = app.get("/api/v1/me/membership", &rider.token).await.ok(200).clone();
    assert!(mine["membership"].is_null());
    assert_eq!(mine["invitation"]["status"], "invited");
    assert_eq!(mine["invitation"]["evidence"]["active_days"], 10);

    let applied =
        app.post("/api/v1/membership/applications", &rider.token, json!({"note": "想加入工会"})).await.ok(201).clone();
    assert_eq!(applied["status"], "applied");
    assert_eq!(applied["candidate_id"], candidate["id"]);
    assert_eq!(applied["level_id"], community);
    let id = applied["id"].as_i64().unwrap();
    app.post("/api/v1/membership/applications", &rider.token, json!({})).await.problem(409, "already-applied");
    app.post(&format!("/api/v1/membership/applications/{id}/approve"), &organizer.token, json!({}))
        .await
        .problem(409, "invalid-transition");
    app.post(
        &format!("/api/v1/membership/applications/{id}/verify"),
        &organizer.token,
        json!({"checks": {"real_name": false}}),
    )
    .await
    .problem(422, "validation-error");
    let verified = app
        .post(
            &format!("/api/v1/membership/applications/{id}/verify"),
            &organizer.token,
            json!({"checks": {"real_name": true, "documents": "骑手证"}, "note": "已实名核验"}),
        )
        .await
        .ok(200)
        .clone();
    assert_eq!(verified["status"], "verified");
    assert_eq!(verified["verification"]["real_name"], true);
    assert_eq!(verified["verification"]["verified_by"], organizer.id);
    let approved = app
        .post(&format!("/api/v1/membership/applications/{id}/approve"), &organizer.token, json!({"reason": "欢迎"}))
        .await
        .ok(200)
        .clone();
    assert_eq!(approved["membership"]["status"], "approved");
    assert!(approved["membership"]["member_number"].as_str().unwrap().starts_with("GH"));
    assert_eq!(approved["welcome_entry"]["kind"], "welcome");
    assert_eq!(app.balance(rider.account_id.unwrap()).await, "20.00");
    let steps: Vec<(Value, String)> = approved["membership"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| (event["actor_id"].clone(), event["to_status"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        steps,
        [
            (json!(rider.id), "applied".into()),
            (json!(organizer.id), "verified".into()),
            (json!(organizer.id), "approved".into())
        ]
    );
    let candidates = app.get("/api/v1/membership/candidates", &organizer.token).await.ok(200).clone();
    assert_eq!(candidates["candidates"][0]["status"], "applied");
    // A member is not made a candidate again by later signals.
    assert_eq!(
        app.post("/api/v1/membership/inference", &app.admin_token, json!({})).await.ok(200)["candidates_created"],
        0
    );
    app.assert_verified().await;
}

#[tokio::test]
async fn rejection_is_final_and_other_riders_cannot_see_it() {
    let app = spawn_app().await;
    let (_, [district, other_district], [community, _]) = app.small_tree().await;
    let organizer = app.staff("organizer", "org.a", Some(district)).await;
    let rider = app.rider("13800000001", community).await;
    let other = app.rider("13800000002", community).await;
    let id = app.post("/api/v1/membership/applications", &rider.token, json!({})).await.ok(201)["id"].as_i64().unwrap();
    app.get(&format!("/api/v1/membership/applications/{id}"), &other.token).await.problem(403, "forbidden");
    let outsider = app.staff("organizer", "org.b", Some(other_district)).await;
    app.post(&format!("/api/v1/membership/applications/{id}/reject"), &outsider.token, json!({"reason": "x"}))
        .await
        .problem(403, "forbidden");
    app.post(&format!("/api/v1/membership/applications/{id}/reject"), &organizer.token, json!({}))
        .await
        .problem(422, "validation-error");
    let rejected = app
        .post(
            &format!("/api/v1/membership/applications/{id}/reject"),
            &organizer.token,
            json!({"reason": "不在本区工作"}),
        )
        .await
        .ok(200)
        .clone();
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["events"][1]["reason"], "不在本区工作");
    let approve = app.post(&format!("/api/v1/membership/applications/{id}/approve"), &organizer.token, json!({})).await;
    assert!(approve.problem(409, "invalid-transition")["detail"].as_str().unwrap().contains("rejected"));
    // A rejected rider may apply again later.
    app.post("/api/v1/membership/applications", &rider.token, json!({})).await.ok(201);
    let level_outside =
        app.post("/api/v1/membership/applications", &other.token, json!({"level_id": other_district})).await;
    assert_eq!(level_outside.problem(422, "validation-error")["errors"][0]["field"], "level_id");
}

#[tokio::test]
async fn riders_applying_already_are_not_made_candidates_but_rejected_ones_are() {
    let app = spawn_app().await;
    let (_, [district, _], [community, _]) = app.small_tree().await;
    let organizer = app.staff("organizer", "org.a", Some(district)).await;
    let applying = app.rider("13800000011", community).await;
    let rejected = app.rider("13800000012", community).await;
    app.post("/api/v1/membership/applications", &applying.token, json!({})).await.ok(201);
    let id =
        app.post("/api/v1/membership/applications", &rejected.token, json!({})).await.ok(201)["id"].as_i64().unwrap();
    app.post(&format!("/api/v1/membership/applications/{id}/reject"), &organizer.token, json!({"reason": "证件不符"}))
        .await
        .ok(200);
    let token = app.partner_token(district).await;
    for phone in ["13800000011", "13800000012", "13800000013"] {
        push(&app, &token, swaps(&app, "s", phone, 10, 3, "篁庄社区")).await;
    }

    let preview = app.post("/api/v1/membership/rules/preview", &app.admin_token, rule()).await.ok(200).clone();
    assert_eq!(preview["candidates"], 3, "a preview counts everyone whose swaps pass the rule");
    let created = app.post("/api/v1/membership/rules", &app.admin_token, rule()).await.ok(201).clone();
    assert_eq!(created["candidates_created"], 2, "the rider applying already is no candidate");
    let listed = app.get("/api/v1/membership/candidates", &app.admin_token).await.ok(200).clone();
    let mut riders: Vec<Value> = listed["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|candidate| candidate["registered_rider_id"].clone())
        .collect();
    riders.sort_by_key(|rider| rider.as_i64());
    assert_eq!(riders, [Value::Null, json!(rejected.id)]);
    // Nobody is made a candidate twice.
    assert_eq!(
        app.post("/api/v1/membership/inference", &app.admin_token, json!({})).await.ok(200)["candidates_created"],
        0
    );
    app.assert_verified().await;
}

#[tokio::test]
async fn inactive_members_lapse_once_and_can_renew() {
    let mut app = spawn_app().await;
    let (_, [district, _], [community, _]) = app.small_tree().await;
    let organizer = app.staff("organizer", "org.a", Some(district)).await;
    let active = app.rider("13800000001", community).await;
    let idle = app.rider("13800000002", community).await;
    let mut ids = Vec::new();
    for rider in [&active, &idle] {
        let id =
            app.post("/api/v1/membership/applications", &rider.token, json!({})).await.ok(201)["id"].as_i64().unwrap();
        app.post(
            &format!("/api/v1/membership/applications/{id}/verify"),
            &organizer.token,
            json!({"checks": {"real_name": true}}),
        )
        .await
        .ok(200);
        app.post(&format!("/api/v1/membership/applications/{id}/approve"), &organizer.token, json!({})).await.ok(200);
        ids.push(id);
    }
    app.advance_clock(TimeDelta::days(200)).await;
    // The active rider swapped batteries last week.
    let token = app.partner_token(district).await;
    push(&app, &token, swaps(&app, "a", "13800000001", 3, 1, "蓬江区")).await;
    let (first, second) =
        tokio::join!(union_ledger::jobs::sweep(&app.state.store, 6), union_ledger::jobs::sweep(&app.state.store, 6));
    assert_eq!(first.unwrap() + second.unwrap(), 1, "exactly one lapse, even with two sweeps at once");
    assert_eq!(union_ledger::jobs::sweep(&app.state.store, 6).await.unwrap(), 0);
    let idle_token = app.login("13800000002", PASSWORD).await["access_token"].as_str().unwrap().to_owned();
    let mine = app.get("/api/v1/me/membership", &idle_token).await.ok(200).clone();
    assert_eq!(mine["membership"]["status"], "lapsed");
    assert!(mine["membership"]["events"][3]["reason"].as_str().unwrap().contains("6 months"));
    let active_token = app.login("13800000001", PASSWORD).await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/api/v1/me/membership", &active_token).await.ok(200)["membership"]["status"], "approved");

    let renewed = app
        .request(Method::POST, &format!("/api/v1/membership/applications/{}/renew", ids[1]), Some(&idle_token), None)
        .await;
    assert_eq!(renewed.ok(200)["status"], "approved");
    app.request(Method::POST, &format!("/api/v1/membership/applications/{}/renew", ids[1]), Some(&idle_token), None)
        .await
        .problem(409, "invalid-transition");
    app.request(Method::POST, &format!("/api/v1/membership/applications/{}/renew", ids[0]), Some(&idle_token), None)
        .await
        .problem(403, "forbidden");
}

#[tokio::test]
async fn riders_whose_swaps_arrive_in_batches_at_once_become_candidates_once() {
    let app = spawn_app().await;
    let (_, [district, _], _) = app.small_tree().await;
    app.post("/api/v1/membership/rules", &app.admin_token, rule()).await.ok(201);
    let (_, client_a, secret_a) = app.partner("铁塔换电", district).await;
    let (_, client_b, secret_b) = app.partner("美团", district).await;
    let token_a = app.client_token(&client_a, &secret_a).await.ok(200)["access_token"].as_str().unwrap().to_owned();
    let token_b = app.client_token(&client_b, &secret_b).await.ok(200)["access_token"].as_str().unwrap().to_owned();
    // Twelve riders, each seen by both partners for 5 days at 2 swaps a day: 10 swaps on 5 days from
    // either alone (below 20 on 7 days), 20 swaps on 10 days together. The batches of both
    // partners, 4 each, go at once; whichever order they are stored in, every rider is found once.
    let phones: Vec<String> = (0..12).map(|index| format!("1381111{index:04}")).collect();
    let mut requests = Vec::new();
    for (token, prefix, first_day) in [(&token_a, "a", 1), (&token_b, "b", 6)] {
        for chunk in phones.chunks(3) {
            let mut events = Vec::new();
            for phone in chunk {
                for day in first_day..first_day + 5 {
                    for swap in 0..2 {
                        let at = swap_at(&app, day, swap);
                        events.push(
                            json!({"event_id": format!("{prefix}-{phone}-{day}-{swap}"), "subject": {"phone": phone},
                                           "kind": "battery_swap", "occurred_at": at.to_rfc3339(), "area": "蓬江区"}),
                        );
                    }
                }
            }
            requests.push(push(&app, token, events));
        }
    }
    let answers = futures::future::join_all(requests).await;
    assert!(answers.iter().all(|answer| answer["accepted"] == 30), "{answers:?}");
    let listed = app.get("/api/v1/membership/candidates?limit=100", &app.admin_token).await.ok(200).clone();
    let candidates = listed["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 12, "{listed}");
    assert!(candidates.iter().all(|candidate| candidate["evidence"]["signal_count"] == 20));
    // Later swaps of a candidate make no second candidate.
    let again = push(&app, &token_a, swaps(&app, "again", &phones[0], 1, 1, "蓬江区")).await;
    assert_eq!(again["accepted"], 1);
    let listed = app.get("/api/v1/membership/candidates?limit=100", &app.admin_token).await.ok(200).clone();
    assert_eq!(listed["candidates"].as_array().unwrap().len(), 12);
}

#[tokio::test]
async fn one_partners_batches_sent_at_once_each_get_their_own_answer_and_count_every_event_once() {
    let app = spawn_app().await;
    let (_, [district, _], _) = app.small_tree().await;
    let (partner_id, client_id, secret) = app.partner("铁塔换电", district).await;
    let token = app.client_token(&client_id, &secret).await.ok(200)["access_token"].as_str().unwrap().to_owned();
    // Eight batches of 30 at once: one rider's month sent four times over, three other riders' once,
    // and a batch half of the first rider's events again and half a fifth rider's (15 swaps on 5 days).
    let resent = swaps(&app, "r", "13810000000", 10, 3, "蓬江区");
    let mut batches = Vec::new();
    for index in 0..7 {
        batches.push(if index % 2 == 0 {
            resent.clone()
        } else {
            swaps(&app, "o", &format!("1381000000{index}"), 10, 3, "蓬江区")
        });
    }
    let mut mixed = resent[..15].to_vec();
    mixed.extend(swaps(&app, "m", "13810000009", 5, 3, "蓬江区"));
    batches.push(mixed);
    // A batch of 10,000 other riders goes first, so that the eight are likely to queue behind it and
    // be stored together, the copies of one event in one set.
    let yesterday = (app.now() - TimeDelta::days(1)).to_rfc3339();
    let bulk: Vec<Value> = (0..10_000)
        .map(|index| {
            json!({"event_id": format!("bulk-{index}"), "subject": {"partner_ref": format!("bulk-{index}")},
                   "kind": "battery_swap", "occurred_at": yesterday, "area": "蓬江区"})
        })
        .collect();
    let first = app.post("/api/v1/signals", &token, json!({"events": bulk}));
    let rest = async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        futures::future::join_all(
            batches.iter().map(|events| app.post("/api/v1/signals", &token, json!({"events": events}))),
        )
        .await
    };
    let (first, answers) = tokio::join!(first, rest);
    assert_eq!(first.ok(200)["accepted"], 10_000);
    let mut accepted = 0;
    for answer in &answers {
        let body = answer.ok(200);
        assert_eq!(body["accepted"].as_u64().unwrap() + body["duplicates"].as_u64().unwrap(), 30, "{body}");
        accepted += body["accepted"].as_u64().unwrap();
    }
    assert_eq!(accepted, 30 + 3 * 30 + 15, "every event counted once, whichever batch came first");

    // Each batch has its own audit record, with its own request id and its own figures.
    let trail = app
        .get(&format!("/api/v1/audit?action=signals.push&target=partner:{partner_id}&limit=100"), &app.admin_token)
        .await
        .ok(200)
        .clone();
    let records = trail["events"].as_array().unwrap();
    let mut recorded: Vec<(String, u64)> = records
        .iter()
        .filter(|record| record["request_id"] != first.headers["x-request-id"].to_str().unwrap())
        .map(|record| {
            (record["request_id"].as_str().unwrap().to_owned(), record["summary"]["accepted"].as_u64().unwrap())
        })
        .collect();
    let mut answered: Vec<(String, u64)> = answers
        .iter()
        .map(|answer| {
            (answer.headers["x-request-id"].to_str().unwrap().to_owned(), answer.body["accepted"].as_u64().unwrap())
        })
        .collect();
    recorded.sort();
    answered.sort();
    assert_eq!(recorded, answered);

    // The daily counts hold each swap once: four riders with 30 swaps, the fifth below the rule.
    let preview = app.post("/api/v1/membership/rules/preview", &app.admin_token, rule()).await.ok(200).clone();
    assert_eq!(preview["candidates"], 4, "{preview}");
    let sample = preview["sample"].as_array().unwrap();
    assert!(sample.iter().all(|evidence| evidence["signal_count"] == 30 && evidence["active_days"] == 10), "{preview}");
    assert!(sample.iter().all(|evidence| evidence["partner_ids"] == json!([partner_id])), "{preview}");
}

#[tokio::test]
async fn sets_of_one_partner_stored_side_by_side_neither_deadlock_nor_count_twice() {
    let app = spawn_app().await;
    let (_, [district, _], _) = app.small_tree().await;
    let token = app.partner_token(district).await;
    // Sixteen batches at once, all for the same 20 riders on the same 10 days, each sharing half
    // its events with the next: sets stored at once add to the same daily counts.
    let event = |index: usize| {
        let (rider, day) = (index % 20, 1 + (index / 20) % 10);
        let at = swap_at(&app, day as i64, 0) + TimeDelta::minutes((index / 200) as i64);
        json!({"event_id": format!("e{index}"), "subject": {"phone": format!("1390000{rider:04}")},
               "kind": "battery_swap", "occurred_at": at.to_rfc3339(), "area": "蓬江区"})
    };
    let batches: Vec<Vec<Value>> = (0..16).map(|batch| (batch * 100..batch * 100 + 200).map(event).collect()).collect();
    let answers = futures::future::join_all(
        batches.iter().map(|events| app.post("/api/v1/signals", &token, json!({"events": events}))),
    )
    .await;
    let accepted: u64 = answers.iter().map(|answer| answer.ok(200)["accepted"].as_u64().unwrap()).sum();
    assert_eq!(accepted, 1_700, "events e0 to e1699, each once");
    // Each rider: 85 swaps over 10 days.
    let preview = app.post("/api/v1/membership/rules/preview", &app.admin_token, rule()).await.ok(200).clone();
    assert_eq!(preview["candidates"], 20, "{preview}");
    let sample = preview["sample"].as_array().unwrap();
    assert!(sample.iter().all(|evidence| evidence["signal_count"] == 85 && evidence["active_days"] == 10), "{preview}");
}
