//! Deny by default: every operation of the spec, called by every role it does not list, is refused
//! with 403 — and without a token, with 401 — before anything is read or written.

use reqwest::Method;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_endpoint_refuses_the_roles_it_does_not_list() {
    let app = spawn_app().await;
    let (_, [district, _], [community, _]) = app.small_tree().await;
    let tokens = [
        ("admin", app.admin_token.clone()),
        ("organizer", app.staff("organizer", "org", Some(district)).await.token),
        ("auditor", app.staff("auditor", "aud", None).await.token),
        ("rider", app.rider("13800000001", community).await.token),
        ("partner", app.partner_token(district).await),
    ];
    let spec = serde_json::to_value(union_ledger::http::openapi()).unwrap();
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        // Path parameters get a plausible id: the refusal must come before any lookup.
        let concrete =
            path.split('/').map(|part| if part.starts_with('{') { "1" } else { part }).collect::<Vec<_>>().join("/");
        for (method, operation) in item.as_object().unwrap() {
            let allowed: Vec<&str> =
                operation["x-roles"].as_array().unwrap().iter().map(|role| role.as_str().unwrap()).collect();
            if allowed.contains(&"public") {
                continue;
            }
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let anonymous = app.request(method.clone(), &concrete, None, Some(json!({}))).await;
            assert_eq!(anonymous.status.as_u16(), 401, "{method} {path} without a token");
            for (role, token) in &tokens {
                if allowed.contains(role) {
                    continue;
                }
                let answer = app.request(method.clone(), &concrete, Some(token), Some(json!({}))).await;
                assert_eq!(answer.status.as_u16(), 403, "{method} {path} as {role}: {}", answer.body);
                answer.problem(403, "forbidden");
                checked += 1;
            }
        }
    }
    assert!(checked > 30, "the matrix covered {checked} refusals");
}
