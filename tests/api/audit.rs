use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_change_is_in_the_audit_trail_with_actor_target_time_and_request() {
    let app = spawn_app().await;
    let (city, [district, _], [community, _]) = app.small_tree().await;
    let budget = app.budget_account(city).await;
    let rider = app.rider("13800000001", community).await.account_id.unwrap();
    app.fund(city, "100.00").await;
    let posted = app.transfer(budget, rider, "5.00").await;
    let entry_id = posted.ok(201)["id"].as_i64().unwrap();
    let request_id = posted.headers["x-request-id"].to_str().unwrap().to_owned();

    let trail = app.get(&format!("/api/v1/audit?target=entry:{entry_id}"), &app.admin_token).await.ok(200).clone();
    let events = trail["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{trail}");
    assert_eq!(events[0]["action"], "entry.post");
    assert_eq!(events[0]["target_type"], "entry");
    assert_eq!(events[0]["target_id"], entry_id.to_string());
    assert_eq!(events[0]["request_id"], request_id);
    assert_eq!(events[0]["summary"]["transfers"], 1);
    let admin_id = app.get("/api/v1/me", &app.admin_token).await.ok(200)["id"].as_i64().unwrap();
    assert_eq!(events[0]["actor_id"], admin_id);

    // Newest first, filtered by actor and by type, and paged with a cursor.
    let levels = app.get("/api/v1/audit?target=level&limit=2", &app.admin_token).await.ok(200).clone();
    assert_eq!(levels["events"].as_array().unwrap().len(), 2);
    let first_ids: Vec<i64> = levels["events"].as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(first_ids[0] > first_ids[1], "newest first: {first_ids:?}");
    let cursor = levels["next_cursor"].as_i64().expect("more pages");
    let next = app.get(&format!("/api/v1/audit?target=level&limit=2&cursor={cursor}"), &app.admin_token).await;
    assert!(next.ok(200)["events"].as_array().unwrap().iter().all(|e| e["id"].as_i64().unwrap() < first_ids[1]));
    let by_admin =
        app.get(&format!("/api/v1/audit?actor={admin_id}&limit=500"), &app.admin_token).await.ok(200).clone();
    assert!(by_admin["events"].as_array().unwrap().iter().all(|e| e["actor_id"] == admin_id));
    assert!(by_admin["events"].as_array().unwrap().iter().any(|e| e["action"] == "budget.fund"));

    // A time window before anything happened holds nothing.
    let empty = app.get("/api/v1/audit?from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z", &app.admin_token).await;
    assert!(empty.ok(200)["events"].as_array().unwrap().is_empty());

    // The auditor reads it too; bad filters are named.
    let auditor = app.staff("auditor", "auditor1", None).await;
    app.get("/api/v1/audit", &auditor.token).await.ok(200);
    let bad = app.get("/api/v1/audit?target=entry:", &app.admin_token).await;
    bad.problem(422, "validation-error");
    assert_eq!(bad.fields(), ["target"]);
    let backwards = app.get("/api/v1/audit?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", &app.admin_token).await;
    assert_eq!(backwards.fields(), ["to"]);
    let _ = district;
}

#[tokio::test]
async fn organizers_see_the_changes_made_in_their_subtree_only() {
    let app = spawn_app().await;
    let (city, [district_a, district_b], [community_a, _]) = app.small_tree().await;
    app.fund(city, "100.00").await;
    app.post(
        &format!("/api/v1/levels/{city}/budget/allocate"),
        &app.admin_token,
        json!({"to_level_id": district_a, "amount": "50.00", "reason": "季度预算"}),
    )
    .await
    .ok(201);
    let organizer_a = app.staff("organizer", "organizer_a", Some(district_a)).await;
    let organizer_b = app.staff("organizer", "organizer_b", Some(district_b)).await;
    app.post(
        &format!("/api/v1/levels/{district_a}/budget/allocate"),
        &organizer_a.token,
        json!({"to_level_id": community_a, "amount": "10.00", "reason": "社区"}),
    )
    .await
    .ok(201);

    let seen_by_a = app.get("/api/v1/audit?limit=500", &organizer_a.token).await.ok(200).clone();
    let events = seen_by_a["events"].as_array().unwrap();
    assert!(!events.is_empty());
    assert!(events.iter().all(|event| event["actor_id"] == organizer_a.id), "{seen_by_a}");
    assert!(events.iter().any(|event| event["action"] == "budget.allocate"));
    // The other district's organizer sees their own sign-in, nothing of district A's.
    let seen_by_b = app.get("/api/v1/audit?limit=500", &organizer_b.token).await.ok(200).clone();
    let events = seen_by_b["events"].as_array().unwrap();
    assert!(events.iter().all(|event| event["actor_id"] == organizer_b.id), "{seen_by_b}");
    assert!(events.iter().all(|event| event["action"] != "budget.allocate"), "{seen_by_b}");
}
