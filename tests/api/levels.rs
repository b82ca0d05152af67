use reqwest::Method;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn levels_form_a_tree_with_budget_accounts() {
    let app = spawn_app().await;
    let (city, [district_a, district_b], [community_a, _]) = app.small_tree().await;
    let tree = app.get("/api/v1/levels", &app.admin_token).await.ok(200).clone();
    let roots = tree["levels"].as_array().unwrap();
    assert_eq!(roots.len(), 1);
    assert_eq!(roots[0]["id"], city);
    let districts: Vec<i64> =
        roots[0]["children"].as_array().unwrap().iter().map(|node| node["id"].as_i64().unwrap()).collect();
    assert_eq!(districts, [district_a, district_b]);
    assert_eq!(roots[0]["children"][0]["children"][0]["children"][0]["id"], community_a);

    let level = app.get(&format!("/api/v1/levels/{community_a}"), &app.admin_token).await.ok(200).clone();
    assert_eq!(level["kind"], "community");
    let budget = level["budget_account_id"].as_i64().expect("every level has a budget account");
    let account = app.account(budget).await;
    assert_eq!(account["kind"], "budget");
    assert_eq!(account["no_overdraft"], true);
    assert_eq!(account["balance"], "0.00");
}

#[tokio::test]
async fn levels_nest_only_downwards() {
    let app = spawn_app().await;
    let (city, [district, _], [community, _]) = app.small_tree().await;
    for (kind, parent, why) in [
        ("district", None, "a district needs a parent"),
        ("city", Some(city), "a city is a root"),
        ("district", Some(community), "a district cannot sit under a community"),
        ("street", Some(9999), "the parent must exist"),
    ] {
        let answer = app
            .post("/api/v1/levels", &app.admin_token, json!({"name": "新", "kind": kind, "parent_id": parent}))
            .await;
        assert_eq!(answer.problem(422, "validation-error")["errors"][0]["field"], "parent_id", "{why}");
    }
    let bad_kind = app
        .post("/api/v1/levels", &app.admin_token, json!({"name": "新", "kind": "province", "parent_id": district}))
        .await;
    assert_eq!(bad_kind.problem(422, "validation-error")["errors"][0]["field"], "kind");
    let empty_name = app
        .post("/api/v1/levels", &app.admin_token, json!({"name": "  ", "kind": "street", "parent_id": district}))
        .await;
    assert_eq!(empty_name.problem(422, "validation-error")["errors"][0]["field"], "name");
}

#[tokio::test]
async fn admins_rename_levels() {
    let app = spawn_app().await;
    let (city, _, _) = app.small_tree().await;
    let renamed = app
        .request(
            Method::PATCH,
            &format!("/api/v1/levels/{city}"),
            Some(&app.admin_token),
            Some(json!({"name": "江门市总工会"})),
        )
        .await;
    assert_eq!(renamed.ok(200)["name"], "江门市总工会");
    let missing =
        app.request(Method::PATCH, "/api/v1/levels/9999", Some(&app.admin_token), Some(json!({"name": "x"}))).await;
    missing.problem(404, "not-found");
}

#[tokio::test]
async fn organizers_see_and_touch_only_their_subtree() {
    let app = spawn_app().await;
    let (city, [district_a, district_b], [community_a, community_b]) = app.small_tree().await;
    let organizer = app.staff("organizer", "org.a", Some(district_a)).await;

    let tree = app.get("/api/v1/levels", &organizer.token).await.ok(200).clone();
    assert_eq!(tree["levels"].as_array().unwrap().len(), 1);
    assert_eq!(tree["levels"][0]["id"], district_a, "an organizer's tree starts at their level");

    app.get(&format!("/api/v1/levels/{community_a}"), &organizer.token).await.ok(200);
    for outside in [city, district_b, community_b, 9999] {
        // Elsewhere and nowhere look the same.
        app.get(&format!("/api/v1/levels/{outside}"), &organizer.token).await.problem(403, "forbidden");
    }
    // Organizers do not create or rename levels.
    app.post("/api/v1/levels", &organizer.token, json!({"name": "x", "kind": "street", "parent_id": district_a}))
        .await
        .problem(403, "forbidden");
    app.request(
        Method::PATCH,
        &format!("/api/v1/levels/{district_a}"),
        Some(&organizer.token),
        Some(json!({"name": "x"})),
    )
    .await
    .problem(403, "forbidden");
}
