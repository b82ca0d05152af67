use reqwest::Method;
use serde_json::json;

use crate::helpers::{PASSWORD, spawn_app};

#[tokio::test]
async fn admins_create_staff_and_riders() {
    let app = spawn_app().await;
    let (_, [district, _], [community, _]) = app.small_tree().await;
    let organizer = app.staff("organizer", "Org.Li", Some(district)).await;
    let me = app.get("/api/v1/me", &organizer.token).await.ok(200).clone();
    assert_eq!(me["username"], "org.li", "usernames are kept in lower case");
    assert_eq!(me["level_id"], district);
    assert_eq!(me["level_name"], "蓬江区");
    assert_eq!(me["account_id"], serde_json::Value::Null, "staff hold no points account");
    let auditor = app.staff("auditor", "auditor", None).await;
    assert_eq!(app.get("/api/v1/me", &auditor.token).await.ok(200)["role"], "auditor");

    let rider = app
        .post("/api/v1/users", &app.admin_token, json!({"phone": "13700001111", "password": PASSWORD, "display_name": "王", "role": "rider", "level_id": community}))
        .await;
    let rider = rider.ok(201);
    assert_eq!(rider["username"], "13700001111");
    assert!(rider["account_id"].as_i64().is_some());
}

#[tokio::test]
async fn new_people_are_validated_field_by_field() {
    let app = spawn_app().await;
    let (_, [district, _], _) = app.small_tree().await;
    let answer = app
        .post(
            "/api/v1/users",
            &app.admin_token,
            json!({"username": "x", "password": "short", "display_name": "", "role": "organizer"}),
        )
        .await;
    answer.problem(422, "validation-error");
    assert_eq!(answer.fields(), ["password", "display_name", "username", "level_id"]);
    let auditor_with_level = app
        .post("/api/v1/users", &app.admin_token, json!({"username": "aud", "password": PASSWORD, "display_name": "A", "role": "auditor", "level_id": district}))
        .await;
    assert_eq!(auditor_with_level.fields(), ["level_id"]);
    let rider_without_phone = app
        .post(
            "/api/v1/users",
            &app.admin_token,
            json!({"password": PASSWORD, "display_name": "R", "role": "rider", "level_id": district}),
        )
        .await;
    assert_eq!(rider_without_phone.fields(), ["phone"]);
    let unknown_role = app
        .post(
            "/api/v1/users",
            &app.admin_token,
            json!({"username": "x1", "password": PASSWORD, "display_name": "X", "role": "superuser"}),
        )
        .await;
    assert_eq!(unknown_role.problem(422, "validation-error")["errors"][0]["field"], "role");
    app.staff("organizer", "taken", Some(district)).await;
    let taken = app
        .post("/api/v1/users", &app.admin_token, json!({"username": "TAKEN", "password": PASSWORD, "display_name": "T", "role": "organizer", "level_id": district}))
        .await;
    taken.problem(409, "conflict");
}

#[tokio::test]
async fn organizers_create_riders_only_in_their_subtree() {
    let app = spawn_app().await;
    let (_, [district_a, _], [community_a, community_b]) = app.small_tree().await;
    let organizer = app.staff("organizer", "org.a", Some(district_a)).await;
    let rider = |level: i64, phone: &str| json!({"phone": phone, "password": PASSWORD, "display_name": "骑手", "role": "rider", "level_id": level});
    app.post("/api/v1/users", &organizer.token, rider(community_a, "13600000001")).await.ok(201);
    app.post("/api/v1/users", &organizer.token, rider(community_b, "13600000002")).await.problem(403, "forbidden");
    app.post("/api/v1/users", &organizer.token, rider(9999, "13600000003")).await.problem(403, "forbidden");
    let staff = json!({"username": "org2", "password": PASSWORD, "display_name": "O", "role": "organizer", "level_id": community_a});
    app.post("/api/v1/users", &organizer.token, staff).await.problem(403, "forbidden");

    let listed = app.get("/api/v1/users", &organizer.token).await.ok(200).clone();
    let names: Vec<&str> =
        listed["users"].as_array().unwrap().iter().map(|user| user["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["org.a", "136****0001"], "their subtree only, phone numbers masked");
}

#[tokio::test]
async fn phone_numbers_are_masked_for_everyone_but_the_rider_and_admins() {
    let app = spawn_app().await;
    let (_, [district, _], [community, _]) = app.small_tree().await;
    let rider = app.rider("13812341234", community).await;
    let organizer = app.staff("organizer", "org", Some(district)).await;
    let auditor = app.staff("auditor", "aud", None).await;
    let path = format!("/api/v1/users/{}", rider.id);
    assert_eq!(app.get(&path, &app.admin_token).await.ok(200)["phone"], "13812341234");
    assert_eq!(app.get(&path, &rider.token).await.ok(200)["phone"], "13812341234");
    assert_eq!(app.get("/api/v1/me", &rider.token).await.ok(200)["phone"], "13812341234");
    assert_eq!(app.get(&path, &organizer.token).await.ok(200)["phone"], "138****1234");
    assert_eq!(app.get(&path, &auditor.token).await.ok(200)["phone"], "138****1234");
    assert_eq!(app.get(&path, &auditor.token).await.ok(200)["username"], "138****1234");
}

#[tokio::test]
async fn riders_read_only_themselves() {
    let app = spawn_app().await;
    let (_, _, [community, _]) = app.small_tree().await;
    let rider = app.rider("13812341234", community).await;
    let other = app.rider("13812341235", community).await;
    app.get(&format!("/api/v1/users/{}", other.id), &rider.token).await.problem(403, "forbidden");
    app.get("/api/v1/users/9999", &rider.token).await.problem(403, "forbidden");
    app.request(Method::GET, "/api/v1/users", Some(&rider.token), None).await.problem(403, "forbidden");
    let me = app.get("/api/v1/me", &rider.token).await.ok(200).clone();
    assert_eq!(me["balance"], "0.00");
    assert_eq!(me["available"], "0.00");
    assert_eq!(me["account_id"], rider.account_id.unwrap());
}

#[tokio::test]
async fn user_lists_page_by_cursor() {
    let app = spawn_app().await;
    let (_, _, [community, _]) = app.small_tree().await;
    for index in 0..5 {
        app.rider(&format!("1380000000{index}"), community).await;
    }
    let first = app.get("/api/v1/users?role=rider&limit=2", &app.admin_token).await.ok(200).clone();
    assert_eq!(first["users"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_i64().unwrap();
    let second =
        app.get(&format!("/api/v1/users?role=rider&limit=2&cursor={cursor}"), &app.admin_token).await.ok(200).clone();
    let third_cursor = second["next_cursor"].as_i64().unwrap();
    let third = app
        .get(&format!("/api/v1/users?role=rider&limit=2&cursor={third_cursor}"), &app.admin_token)
        .await
        .ok(200)
        .clone();
    assert_eq!(third["users"].as_array().unwrap().len(), 1);
    assert!(third["next_cursor"].is_null());
    app.get("/api/v1/users?limit=0", &app.admin_token).await.problem(422, "validation-error");
    app.get("/api/v1/users?limit=abc", &app.admin_token).await.problem(422, "validation-error");
}
