use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};
use union_ledger::app::bootstrap_admin;
use union_ledger::auth::TokenKeys;
use union_ledger::clock::SystemClock;
use union_ledger::domain::people::Role;
use union_ledger::store::Store;

use crate::helpers::{JWT_SECRET, PASSWORD, TestApp, TestDatabase, spawn_app, spawn_with, test_settings};

#[tokio::test]
async fn first_start_creates_the_admin_once() {
    let app = spawn_app().await;
    let me = app.get("/api/v1/me", &app.admin_token).await;
    assert_eq!(me.ok(200)["role"], "admin");
    assert_eq!(me.body["username"], "admin");
    // Another start on the same database creates nobody.
    assert_eq!(bootstrap_admin(&app.state.store, &app.settings).await.unwrap(), None);
    let users = app.get("/api/v1/users", &app.admin_token).await;
    assert_eq!(users.ok(200)["users"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn without_a_configured_password_one_is_generated_and_works() {
    let database = TestDatabase::new().await;
    let mut settings = test_settings(&database);
    settings.admin_password = None;
    settings.admin_username = "chief".into();
    let store = Store::connect(&database.url, Arc::new(SystemClock)).await.unwrap();
    let generated = bootstrap_admin(&store, &settings).await.unwrap().expect("a generated password");
    assert!(generated.len() >= 20, "a strong password: {generated}");
    store.close().await;
    let app = spawn_with(database, settings).await;
    let tokens = app.login("chief", &generated).await;
    let me = app.get("/api/v1/me", tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(me.ok(200)["role"], "admin");
}

async fn sign_in(app: &TestApp, username: &str, password: &str) -> crate::helpers::Answer {
    app.request(Method::POST, "/api/v1/auth/login", None, Some(json!({"username": username, "password": password})))
        .await
}

#[tokio::test]
async fn login_answers_tokens_and_refuses_wrong_credentials_alike() {
    let app = spawn_app().await;
    let tokens = app.login("admin", crate::helpers::ADMIN_PASSWORD).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert!(tokens["refresh_token"].as_str().unwrap().len() >= 40);
    let wrong_password = sign_in(&app, "admin", "not-the-password").await;
    let unknown_user = sign_in(&app, "nobody", "not-the-password").await;
    wrong_password.problem(401, "unauthorized");
    unknown_user.problem(401, "unauthorized");
    assert_eq!(
        wrong_password.body["detail"], unknown_user.body["detail"],
        "the answer does not reveal which usernames exist"
    );
    assert!(wrong_password.headers.get("www-authenticate").is_some());
}

#[tokio::test]
async fn riders_sign_in_with_their_phone_number_in_any_notation() {
    let app = spawn_app().await;
    let (_, _, [community, _]) = app.small_tree().await;
    app.rider("13812341234", community).await;
    for notation in ["13812341234", "+86 138 1234 1234", "138-1234-1234"] {
        let answer = sign_in(&app, notation, PASSWORD).await;
        answer.ok(200);
    }
}

async fn refresh(app: &TestApp, refresh_token: &str) -> crate::helpers::Answer {
    app.request(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": refresh_token}))).await
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_session() {
    let app = spawn_app().await;
    let first = app.login("admin", crate::helpers::ADMIN_PASSWORD).await;
    let first_refresh = first["refresh_token"].as_str().unwrap();
    let second = refresh(&app, first_refresh).await.ok(200).clone();
    let second_refresh = second["refresh_token"].as_str().unwrap();
    assert_ne!(first_refresh, second_refresh, "each use rotates the refresh token");
    app.get("/api/v1/me", second["access_token"].as_str().unwrap()).await.ok(200);

    // The spent token is presented again (stolen?): refused, and the whole family is revoked.
    refresh(&app, first_refresh).await.problem(401, "unauthorized");
    refresh(&app, second_refresh).await.problem(401, "unauthorized");

    // Another session of the same person is not affected.
    let other = app.login("admin", crate::helpers::ADMIN_PASSWORD).await;
    refresh(&app, other["refresh_token"].as_str().unwrap()).await.ok(200);
    refresh(&app, "made-up-token").await.problem(401, "unauthorized");
}

#[tokio::test]
async fn logout_revokes_the_session() {
    let app = spawn_app().await;
    let tokens = app.login("admin", crate::helpers::ADMIN_PASSWORD).await;
    let answer =
        app.request(Method::POST, "/api/v1/auth/logout", Some(tokens["access_token"].as_str().unwrap()), None).await;
    assert_eq!(answer.status.as_u16(), 204);
    refresh(&app, tokens["refresh_token"].as_str().unwrap()).await.problem(401, "unauthorized");
}

fn claims(app: &TestApp, overrides: Value) -> Value {
    let now = app.now().timestamp();
    let mut claims = json!({
        "iss": app.settings.jwt_issuer, "aud": app.settings.jwt_audience, "sub": "1",
        "iat": now, "exp": now + 600, "role": "admin", "level": null, "sid": "forged",
    });
    for (key, value) in overrides.as_object().unwrap() {
        claims[key] = value.clone();
    }
    claims
}

fn kid() -> String {
    // The kid the service derives from its key; any other kid is refused outright.
    let keys_settings = union_ledger::config::Settings::for_database("sqlite::memory:", std::path::Path::new("."));
    let token =
        TokenKeys::new(&keys_settings, JWT_SECRET.as_bytes(), None).issue(1, Role::Admin, None, None, "x", Utc::now());
    jsonwebtoken::decode_header(&token).unwrap().kid.unwrap()
}

fn sign(claims: &Value, secret: &str) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

#[tokio::test]
async fn forged_tampered_expired_and_misaddressed_tokens_are_refused() {
    let app = spawn_app().await;
    let valid = sign(&claims(&app, json!({})), JWT_SECRET);
    app.get("/api/v1/me", &valid).await.ok(200);

    let base64 = |value: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
    };
    let [header, _, signature]: [&str; 3] = valid.split('.').collect::<Vec<_>>().try_into().unwrap();
    let promoted = format!("{header}.{}.{signature}", base64(&claims(&app, json!({"sub": "2", "role": "admin"}))));
    let alg_none = format!(
        "{}.{}.",
        base64(&json!({"alg": "none", "typ": "JWT", "kid": kid()})),
        base64(&claims(&app, json!({})))
    );
    let refused = [
        ("tampered payload", promoted),
        ("alg none", alg_none),
        ("another key", sign(&claims(&app, json!({})), "another-signing-key-another-signing-key-0000")),
        ("expired", sign(&claims(&app, json!({"exp": app.now().timestamp() - 1})), JWT_SECRET)),
        ("wrong audience", sign(&claims(&app, json!({"aud": "another-service"})), JWT_SECRET)),
        ("wrong issuer", sign(&claims(&app, json!({"iss": "someone-else"})), JWT_SECRET)),
        (
            "no expiry",
            sign(
                &{
                    let mut c = claims(&app, json!({}));
                    c.as_object_mut().unwrap().remove("exp");
                    c
                },
                JWT_SECRET,
            ),
        ),
        ("garbage", "not.a.token".to_owned()),
    ];
    for (what, token) in refused {
        let answer = app.get("/api/v1/me", &token).await;
        assert_eq!(answer.status.as_u16(), 401, "{what}: {}", answer.body);
        answer.problem(401, "unauthorized");
    }
    app.request(Method::GET, "/api/v1/me", None, None).await.problem(401, "unauthorized");
}

#[tokio::test]
async fn tokens_of_the_previous_key_stay_valid_after_rotation() {
    let database = TestDatabase::new().await;
    let mut settings = test_settings(&database);
    let old = TokenKeys::new(&settings, JWT_SECRET.as_bytes(), None).issue(1, Role::Admin, None, None, "s", Utc::now());
    settings.jwt_previous_secret = settings.jwt_secret.take();
    settings.jwt_secret = Some(union_ledger::config::Secret::new("the-new-signing-key-the-new-signing-key-1234"));
    let app = spawn_with(database, settings).await;
    app.get("/api/v1/me", &old).await.ok(200);
    app.get("/api/v1/me", &app.admin_token).await.ok(200);
}

#[tokio::test]
async fn access_tokens_expire_by_the_service_clock() {
    let app = spawn_app().await;
    app.get("/api/v1/me", &app.admin_token).await.ok(200);
    app.clock.advance(TimeDelta::minutes(16));
    let answer = app.get("/api/v1/me", &app.admin_token).await;
    answer.problem(401, "unauthorized");
    assert!(answer.body["detail"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn registration_validates_every_field_and_refuses_duplicates() {
    let app = spawn_app().await;
    let (_, _, [community, _]) = app.small_tree().await;
    let bad = app
        .request(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"phone": "12345", "password": "short", "display_name": " ", "level_id": community})),
        )
        .await;
    bad.problem(422, "validation-error");
    assert_eq!(bad.fields(), ["phone", "password", "display_name"]);
    let no_level = app
        .request(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"phone": "13912345678", "password": PASSWORD, "display_name": "李", "level_id": 9999})),
        )
        .await;
    assert_eq!(no_level.problem(422, "validation-error")["errors"][0]["field"], "level_id");
    let rider = app.rider("13912345678", community).await;
    assert!(rider.account_id.is_some(), "a rider gets a points account");
    let again = app
        .request(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"phone": "139 1234 5678", "password": PASSWORD, "display_name": "李", "level_id": community})),
        )
        .await;
    again.problem(409, "already-registered");
}
