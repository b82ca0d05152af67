use union_ledger::demo;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_demo_city_seeds_through_the_api_adds_up_and_refuses_a_second_time() {
    let app = spawn_app().await;
    let password = app.settings.admin_password.as_ref().unwrap().expose().to_owned();
    let summary = demo::seed(&app.address, &app.settings.admin_username, &password).await.expect("the demo seeds");
    assert!(summary.lines.iter().any(|line| line.starts_with("organizer (蓬江区) organizer1")), "{:?}", summary.lines);

    let levels = app.get("/api/v1/levels", &app.admin_token).await.ok(200).clone();
    assert_eq!(levels["levels"][0]["name"], "江门市");
    assert_eq!(levels["levels"][0]["children"].as_array().unwrap().len(), 3);
    let riders = app.get("/api/v1/users?role=rider&limit=500", &app.admin_token).await.ok(200).clone();
    assert_eq!(riders["users"].as_array().unwrap().len(), 300);
    let candidates = app.get("/api/v1/membership/candidates?limit=500", &app.admin_token).await.ok(200).clone();
    assert_eq!(candidates["candidates"].as_array().unwrap().len(), 60);
    let pools = app.get("/api/v1/pools", &app.admin_token).await.ok(200).clone();
    assert_eq!(
        (pools["pools"][0]["pledged"].as_str(), pools["pools"][0]["status"].as_str()),
        (Some("200.00"), Some("open"))
    );

    // The printed demo accounts sign in; a rider of the emergency squad sees their award.
    let organizer = app.login("organizer1", demo::ORGANIZER_PASSWORD).await;
    assert!(organizer["access_token"].is_string());
    let rider =
        app.login(&demo::rider_phone(0), demo::RIDER_PASSWORD).await["access_token"].as_str().unwrap().to_owned();
    let statement = app.get("/api/v1/me/statement", &rider).await.ok(200).clone();
    let kinds: Vec<&str> =
        statement["lines"].as_array().unwrap().iter().map(|line| line["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["award"]);
    // Their pledge to the pool holds 10.00 of it until the pool is fulfilled or refunded.
    let (posted, available) = (statement["balance"].as_str().unwrap(), statement["available"].as_str().unwrap());
    let minor = |text: &str| text.replace('.', "").parse::<i64>().unwrap();
    assert_eq!(minor(posted) - minor(available), 1000, "{posted} vs {available}");
    app.assert_verified().await;

    let again = demo::seed(&app.address, &app.settings.admin_username, &password).await;
    assert!(again.is_err_and(|error| error.to_string().contains("refusing")));
}
