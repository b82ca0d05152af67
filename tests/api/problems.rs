use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn unknown_routes_wrong_methods_and_bad_bodies_are_problems() {
    let app = spawn_app().await;
    app.request(Method::GET, "/api/v1/nowhere", Some(&app.admin_token), None).await.problem(404, "not-found");
    app.request(Method::GET, "/nowhere", None, None).await.problem(404, "not-found");
    let wrong_method = app.request(Method::DELETE, "/api/v1/levels", Some(&app.admin_token), None).await;
    wrong_method.problem(405, "method-not-allowed");
    assert!(wrong_method.headers.get("allow").is_some());

    let url = format!("{}/api/v1/levels", app.address);
    let send = |body: &'static str, content_type: &'static str| {
        app.client.post(&url).bearer_auth(&app.admin_token).header("content-type", content_type).body(body).send()
    };
    let malformed = send("{\"name\": ", "application/json").await.unwrap();
    assert_eq!(malformed.status(), 400);
    assert_eq!(malformed.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = malformed.json().await.unwrap();
    assert_eq!(body["type"], "/problems/malformed-json");

    let wrong_type = send("name=x", "application/x-www-form-urlencoded").await.unwrap();
    assert_eq!(wrong_type.status(), 415);
    let body: serde_json::Value = wrong_type.json().await.unwrap();
    assert_eq!(body["type"], "/problems/unsupported-media-type");

    let not_an_object = send("[1, 2]", "application/json").await.unwrap();
    assert_eq!(not_an_object.status(), 422);

    let huge = "x".repeat(5 * 1024 * 1024);
    let oversized = app
        .client
        .post(&url)
        .bearer_auth(&app.admin_token)
        .header("content-type", "application/json")
        .body(format!("{{\"name\": \"{huge}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(oversized.status(), 413);
    assert_eq!(oversized.headers()["content-type"], "application/problem+json");

    app.request(Method::GET, "/api/v1/levels/abc", Some(&app.admin_token), None).await.problem(400, "invalid-path");
}

#[tokio::test]
async fn health_readiness_metrics_and_request_ids() {
    let app = spawn_app().await;
    let health = app.request(Method::GET, "/healthz", None, None).await;
    assert_eq!(health.ok(200)["status"], "ok");
    assert!(health.headers.get("x-request-id").is_some(), "every answer carries a request id");
    app.request(Method::GET, "/readyz", None, None).await.ok(200);
    app.get("/api/v1/me", &app.admin_token).await.ok(200);
    let metrics = app.client.get(format!("{}/metrics", app.address)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"http_requests_total{method="GET",route="/api/v1/me",status="200"}"#), "{metrics}");
    assert!(metrics.contains("http_request_duration_seconds_bucket"));
    let docs = app.client.get(format!("{}/docs/", app.address)).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    let spec: serde_json::Value =
        app.client.get(format!("{}/openapi.json", app.address)).send().await.unwrap().json().await.unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
}

#[tokio::test]
async fn problems_speak_chinese_when_the_client_prefers_it() {
    let app = spawn_app().await;
    let headers = [("accept-language", "zh-CN,zh;q=0.9,en;q=0.8")];
    let missing =
        app.request_with(reqwest::Method::GET, "/api/v1/levels/999999", Some(&app.admin_token), None, &headers).await;
    missing.problem(404, "not-found");
    assert_eq!(missing.body["title"], "未找到");
    assert_eq!(missing.headers["content-language"], "zh-CN");
    let invalid = app
        .request_with(
            reqwest::Method::POST,
            "/api/v1/levels",
            Some(&app.admin_token),
            Some(json!({"name": "", "kind": "city"})),
            &headers,
        )
        .await;
    invalid.problem(422, "validation-error");
    assert_eq!(invalid.body["title"], "输入无效");
    assert_eq!(invalid.fields(), ["name"], "fields and types stay the same in every language");
    assert_eq!(invalid.body["detail"], "name：不能为空");
    assert_eq!(invalid.body["errors"][0]["message"], "不能为空");
    // English otherwise.
    let english = app.get("/api/v1/levels/999999", &app.admin_token).await;
    assert_eq!(english.body["title"], "Not found");
    assert_eq!(english.headers["content-language"], "en");
}

fn is_chinese(text: &str) -> bool {
    text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// Asserts a problem is told in Chinese: title, detail and every field's message.
fn assert_chinese(answer: &crate::helpers::Answer) {
    let problem = &answer.body;
    assert_eq!(answer.headers["content-language"], "zh-CN", "{problem}");
    assert!(is_chinese(problem["title"].as_str().unwrap()), "title: {problem}");
    assert!(is_chinese(problem["detail"].as_str().unwrap()), "detail: {problem}");
    for error in problem["errors"].as_array().into_iter().flatten() {
        assert!(is_chinese(error["message"].as_str().unwrap()), "message: {problem}");
    }
}

#[tokio::test]
async fn every_kind_of_problem_a_chinese_client_meets_is_told_in_chinese() {
    let app = spawn_app().await;
    let (_, [district, _], [community, _]) = app.small_tree().await;
    let rider = app.rider("13800000001", community).await;
    let zh = [("accept-language", "zh-CN,zh;q=0.9")];
    let ask = |method: Method, path: String, token: Option<String>, body: Option<serde_json::Value>| {
        let app = &app;
        async move { app.request_with(method, &path, token.as_deref(), body, &zh).await }
    };
    let admin = Some(app.admin_token.clone());
    let mut seen = Vec::new();
    // Several invalid fields at once, one invalid field, and a field message with a limit in it.
    let many = ask(
        Method::POST,
        "/api/v1/users".into(),
        admin.clone(),
        Some(json!({"username": "x", "password": "short", "display_name": "", "role": "rider"})),
    )
    .await;
    many.problem(422, "validation-error");
    seen.push(many);
    let long = ask(
        Method::POST,
        "/api/v1/levels".into(),
        admin.clone(),
        Some(json!({"name": "长".repeat(101), "kind": "city"})),
    )
    .await;
    long.problem(422, "validation-error");
    assert_eq!(long.body["errors"][0]["message"], "最多 100 个字符");
    assert_eq!(long.body["detail"], "name：最多 100 个字符");
    seen.push(long);
    // What the JSON parser finds: a missing field, a value of no known kind; and a malformed path.
    let missing = ask(Method::POST, "/api/v1/levels".into(), admin.clone(), Some(json!({"name": "新"}))).await;
    assert_eq!(missing.body["errors"][0]["message"], "缺少字段 kind");
    seen.push(missing);
    seen.push(
        ask(Method::POST, "/api/v1/levels".into(), admin.clone(), Some(json!({"name": "新", "kind": "province"})))
            .await,
    );
    seen.push(ask(Method::GET, "/api/v1/levels/abc".into(), admin.clone(), None).await);
    // Not enough points, naming what is available.
    let organizer = app.staff("organizer", "organizer-a", Some(district)).await;
    let tea = app
        .post(
            "/api/v1/rewards",
            &organizer.token,
            json!({"level_id": district, "name_zh": "奶茶", "name_en": "Milk tea", "cost": "5.00", "kind": "goods"}),
        )
        .await;
    let redeem = ask(
        Method::POST,
        "/api/v1/redemptions".into(),
        Some(rider.token.clone()),
        Some(json!({"reward_id": tea.ok(201)["id"]})),
    )
    .await;
    redeem.problem(422, "insufficient-points");
    assert_eq!(redeem.body["detail"], "积分不足：可用 0.00，需要 5.00");
    seen.push(redeem);
    // Signing in: a wrong password, no token, a broken token.
    seen.push(
        ask(
            Method::POST,
            "/api/v1/auth/login".into(),
            None,
            Some(json!({"username": "13800000001", "password": "wrong-password"})),
        )
        .await,
    );
    seen.push(ask(Method::GET, "/api/v1/me".into(), None, None).await);
    seen.push(ask(Method::GET, "/api/v1/me".into(), Some("not.a.token".into()), None).await);
    // Refused by role, missing, wrong method, wrong media type, malformed JSON, a state conflict.
    seen.push(ask(Method::GET, "/api/v1/levels".into(), Some(rider.token.clone()), None).await);
    seen.push(ask(Method::GET, "/api/v1/levels/999999".into(), admin.clone(), None).await);
    seen.push(ask(Method::DELETE, "/api/v1/levels".into(), admin.clone(), None).await);
    let url = format!("{}/api/v1/levels", app.address);
    for (body, content_type) in [("name=x", "text/plain"), ("{\"name\": ", "application/json")] {
        let response = app
            .client
            .post(&url)
            .bearer_auth(&app.admin_token)
            .header("content-type", content_type)
            .header("accept-language", "zh-CN")
            .body(body)
            .send()
            .await
            .unwrap();
        let headers = response.headers().clone();
        let status = response.status();
        seen.push(crate::helpers::Answer { status, headers, body: response.json().await.unwrap() });
    }
    let registered = ask(
        Method::POST,
        "/api/v1/auth/register".into(),
        None,
        Some(json!({"phone": "13800000001", "password": "long-enough-password", "display_name": "李",
            "level_id": community})),
    )
    .await;
    registered.problem(409, "already-registered");
    seen.push(registered);
    assert!(seen.len() >= 12);
    for answer in &seen {
        assert!(answer.status.is_client_error(), "{:?}", answer.body);
        assert_chinese(answer);
    }
}

#[tokio::test]
async fn a_level_can_make_chinese_the_default_for_the_people_under_it() {
    let app = spawn_app().await;
    let (city, [district_a, _], [community_a, community_b]) = app.small_tree().await;
    app.fund(city, "100.00").await;
    let organizer = app.staff("organizer", "organizer-a", Some(district_a)).await;
    app.post(
        "/api/v1/rewards",
        &organizer.token,
        json!({"level_id": district_a, "name_zh": "奶茶", "name_en": "Milk tea", "cost": "5.00", "kind": "goods"}),
    )
    .await
    .ok(201);
    // No level sets a language: English, and the level says so.
    let before = app.rider("13800000011", community_a).await;
    assert_eq!(app.get("/api/v1/rewards", &before.token).await.ok(200)["rewards"][0]["name"], "Milk tea");
    assert_eq!(app.get(&format!("/api/v1/levels/{city}"), &app.admin_token).await.ok(200)["language"], Value::Null);

    // The city makes Chinese the default; the other district's community keeps English for itself.
    let city_view = app
        .request(
            Method::PATCH,
            &format!("/api/v1/levels/{city}"),
            Some(&app.admin_token),
            Some(json!({"language": "zh-CN"})),
        )
        .await;
    assert_eq!(city_view.ok(200)["language"], "zh-CN");
    app.request(
        Method::PATCH,
        &format!("/api/v1/levels/{community_b}"),
        Some(&app.admin_token),
        Some(json!({"language": "en"})),
    )
    .await
    .ok(200);
    let invalid = app
        .request(
            Method::PATCH,
            &format!("/api/v1/levels/{city}"),
            Some(&app.admin_token),
            Some(json!({"language": "fr"})),
        )
        .await;
    invalid.problem(422, "validation-error");

    // From their next sign-in, riders under the city read Chinese unless their client asks otherwise.
    let rider = app.rider("13800000012", community_a).await;
    let rewards = app.get("/api/v1/rewards", &rider.token).await;
    assert_eq!(rewards.ok(200)["rewards"][0]["name"], "奶茶");
    assert_eq!(rewards.body["rewards"][0]["name_en"], "Milk tea", "both forms stay for those who edit them");
    let refused =
        app.post("/api/v1/redemptions", &rider.token, json!({"reward_id": rewards.body["rewards"][0]["id"]})).await;
    refused.problem(422, "insufficient-points");
    assert_eq!(refused.headers["content-language"], "zh-CN");
    assert_eq!(refused.body["title"], "积分不足");
    let english = app
        .request_with(
            Method::GET,
            "/api/v1/rewards",
            Some(&rider.token),
            None,
            &[("accept-language", "en-US,en;q=0.9")],
        )
        .await;
    assert_eq!(english.ok(200)["rewards"][0]["name"], "Milk tea", "the client's own choice comes first");
    let categories = app.get("/api/v1/categories", &rider.token).await;
    assert!(
        categories.ok(200)["categories"]
            .as_array()
            .unwrap()
            .iter()
            .all(|category| { category["name"] == category["name_zh"] })
    );

    // Under the community that chose English: English.
    let rider_b = app.rider("13800000013", community_b).await;
    let refused_b = app.post("/api/v1/redemptions", &rider_b.token, json!({"reward_id": 999999})).await;
    assert_eq!(refused_b.headers["content-language"], "en");

    // Back to following the level above: null.
    let cleared = app
        .request(
            Method::PATCH,
            &format!("/api/v1/levels/{community_b}"),
            Some(&app.admin_token),
            Some(json!({"language": null})),
        )
        .await;
    assert_eq!(cleared.ok(200)["language"], Value::Null);
    let rider_b = app.login("13800000013", crate::helpers::PASSWORD).await;
    let token = rider_b["access_token"].as_str().unwrap();
    let refused_b = app.post("/api/v1/redemptions", token, json!({"reward_id": 999999})).await;
    assert_eq!(refused_b.headers["content-language"], "zh-CN", "now the city's default");
}

#[tokio::test]
async fn a_write_cut_off_by_the_time_limit_is_a_503_problem_and_a_retry_does_it_once() {
    let app = spawn_app().await;
    // A second server on the same database whose requests may take a second, and a write held back
    // longer than that by another client's lock.
    let mut hurried = app.settings.clone();
    hurried.request_timeout_seconds = 1;
    hurried.admin_password = None;
    let cut = app.spawn_beside(hurried).await;
    let body = json!({"name": "江门市", "kind": "city"});
    let key = [("Idempotency-Key", "city-jiangmen")];
    let lock = app.hold_inserts_into("levels").await;
    let answer =
        cut.request_with(Method::POST, "/api/v1/levels", Some(&app.admin_token), Some(body.clone()), &key).await;
    lock.rollback().await.expect("the lock is released");
    answer.problem(503, "unavailable");
    assert_eq!(
        answer.body["detail"],
        "the service could not answer in time; try again later (a write sent again with the same Idempotency-Key is done once)"
    );
    // The cut-off unit may have been dropped before it wrote, or after its batch took it (then the
    // batch commits it): either way the retry with the same key answers one level, and there is one.
    let retried =
        app.request_with(Method::POST, "/api/v1/levels", Some(&app.admin_token), Some(body.clone()), &key).await;
    let level = retried.ok(201).clone();
    let again = app.request_with(Method::POST, "/api/v1/levels", Some(&app.admin_token), Some(body), &key).await;
    assert_eq!(again.ok(201), &level);
    assert_eq!(again.headers["idempotency-replayed"], "true");
    let levels = union_ledger::store::levels::list(app.state.store.reader(), None).await.unwrap();
    assert_eq!(levels.len(), 1, "the level exists once");
    assert_eq!(levels[0].id, level["id"].as_i64().unwrap());
}
