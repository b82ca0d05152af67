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
