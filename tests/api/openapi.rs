/// openapi.yaml is generated from the code; this fails when the committed file drifts.
/// To update it: `cargo run -- openapi > openapi.yaml` (or run this test with UPDATE_OPENAPI=1).
#[test]
fn the_committed_openapi_yaml_matches_the_code() {
    let generated = union_ledger::http::openapi().to_yaml().expect("the spec serialises");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml");
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write(path, &generated).expect("openapi.yaml is writable");
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(committed == generated, "openapi.yaml is out of date: run `cargo run -- openapi > openapi.yaml`");
}

#[test]
fn every_operation_states_its_roles() {
    let spec = serde_json::to_value(union_ledger::http::openapi()).unwrap();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let roles = operation["x-roles"].as_array();
            assert!(roles.is_some_and(|roles| !roles.is_empty()), "{method} {path} states no x-roles");
            let public = roles.unwrap().iter().any(|role| role == "public");
            assert_eq!(operation.get("security").is_some(), !public, "{method} {path}: security matches x-roles");
        }
    }
}

/// The README's table of every endpoint with its roles and the part of the story it serves, built
/// from the spec; this fails when the README drifts (UPDATE_README=1 rewrites the table).
#[test]
fn the_readme_lists_every_endpoint_with_its_roles_and_story() {
    let spec = serde_json::to_value(union_ledger::http::openapi()).unwrap();
    let story = |tag: &str| match tag {
        "health" => "[running it](#run-it)",
        "auth" => "[walk-through](#walk-through)",
        "levels" | "users" | "ledger" => "[walk-through](#walk-through)",
        "volunteering" | "reports" => "[volunteering](#volunteering-earns-points)",
        "spending" => "[spending](#spending-points-a-redemption-a-fulfilled-pool-a-refunded-pool)",
        "partners" | "membership" => "[membership](#from-battery-swaps-to-an-approved-member)",
        "audit" => "[security](#security-and-reliability)",
        _ => "",
    };
    let mut rows = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let roles: Vec<&str> =
                operation["x-roles"].as_array().unwrap().iter().map(|role| role.as_str().unwrap()).collect();
            let summary = operation["summary"].as_str().unwrap_or("").split_whitespace().collect::<Vec<_>>().join(" ");
            let summary = summary.replace('|', "\\|");
            let tag = operation["tags"][0].as_str().unwrap_or("");
            rows.push(format!(
                "| `{} {path}` | {} | {summary} | {} |",
                method.to_uppercase(),
                roles.join(", "),
                story(tag)
            ));
        }
    }
    let table = format!(
        "<!-- endpoints: generated from the code by tests/api/openapi.rs -->\n| endpoint | roles | what it does | story |\n|---|---|---|---|\n{}\n<!-- /endpoints -->",
        rows.join("\n")
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let start = readme.find("<!-- endpoints").expect("the README has an endpoint table");
    let end = readme.find("<!-- /endpoints -->").expect("the table ends") + "<!-- /endpoints -->".len();
    if std::env::var("UPDATE_README").is_ok() {
        std::fs::write(path, format!("{}{table}{}", &readme[..start], &readme[end..])).unwrap();
        return;
    }
    assert!(
        readme[start..end] == table,
        "the README's endpoint table is out of date: run this test with UPDATE_README=1"
    );
}
