use reqwest::Method;

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
            Some(serde_json::json!({"name": "", "kind": "city"})),
            &headers,
        )
        .await;
    invalid.problem(422, "validation-error");
    assert_eq!(invalid.body["title"], "输入无效");
    assert_eq!(invalid.fields(), ["name"], "fields and types stay the same in every language");
    assert_eq!(invalid.body["detail"], "有 1 项输入无效，详见 errors（每项写明字段和原因）");
    // English otherwise.
    let english = app.get("/api/v1/levels/999999", &app.admin_token).await;
    assert_eq!(english.body["title"], "Not found");
    assert_eq!(english.headers["content-language"], "en");
}
