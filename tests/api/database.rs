//! The database underneath: migrations that move data (what was stored before them still counts
//! after, both ways), and how the service connects.

use chrono::{TimeDelta, Utc};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::json;
use union_ledger::domain::membership::SubjectKeys;
use union_ledger::domain::people::Phone;
use union_ledger::domain::volunteering::local_day;

use crate::helpers::{TestDatabase, spawn_with, test_settings};

/// The migrations before daily signal counts were keyed by subject id.
const BEFORE_SUBJECT_IDS: u32 = 7;

async fn rows(connection: &impl ConnectionTrait, sql: &str) -> Vec<(String, i64)> {
    let statement = Statement::from_string(connection.get_database_backend(), sql);
    let rows = connection.query_all_raw(statement).await.expect("a query");
    rows.iter().map(|row| (row.try_get_by_index(0).expect("text"), row.try_get_by_index(1).expect("a count"))).collect()
}

/// Foreign keys of `signal_events`.
async fn partner_keys(connection: &impl ConnectionTrait) -> usize {
    let sql = match connection.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT conname, CAST(0 AS BIGINT) FROM pg_constraint WHERE conrelid = 'signal_events'::regclass AND contype = 'f'"
        }
        _ => "SELECT \"table\", 0 FROM pragma_foreign_key_list('signal_events')",
    };
    rows(connection, sql).await.len()
}

#[tokio::test]
async fn daily_signal_counts_keyed_by_hash_are_numbered_by_subject_and_still_make_candidates() {
    let database = TestDatabase::new().await;
    let settings = test_settings(&database);
    let keys = SubjectKeys::new(&settings.subject_key().expect("a subject key"));
    let active = keys.phone(&Phone::parse("13812345678").expect("a phone"));
    let quiet = keys.phone(&Phone::parse("13987654321").expect("a phone"));
    {
        let connection = Database::connect(&database.url).await.expect("the database opens");
        Migrator::up(&connection, Some(BEFORE_SUBJECT_IDS)).await.expect("the earlier migrations");
        // Ten days of three swaps for one rider (one day in two areas), one swap for another.
        let today = local_day(Utc::now());
        let mut values = Vec::new();
        for days_ago in 1..=10 {
            let day = (today - TimeDelta::days(days_ago)).format("%Y-%m-%d");
            values.push(format!("('{active}', 1, 'battery_swap', '{day}', '蓬江区', 3)"));
        }
        let day = (today - TimeDelta::days(1)).format("%Y-%m-%d");
        values.push(format!("('{active}', 1, 'battery_swap', '{day}', '江海区', 1)"));
        values.push(format!("('{quiet}', 1, 'battery_swap', '{day}', '蓬江区', 1)"));
        let insert = format!(
            "INSERT INTO signal_daily (subject_key, partner_id, kind, day, area, count) VALUES {}",
            values.join(", ")
        );
        connection.execute_unprepared(&insert).await.expect("daily counts keyed by hash");
        let at = "'2026-12-01T00:00:00+00:00'";
        connection
            .execute_unprepared(&format!(
                "INSERT INTO partners (id, name, kind, client_id, secret_hash, active, created_at, updated_at) \
                 VALUES (1, 'swap', 'battery_swap', 'client', 'hash', true, {at}, {at})"
            ))
            .await
            .expect("a partner");
        connection
            .execute_unprepared(&format!(
                "INSERT INTO signal_events (partner_id, event_id, subject_key, kind, occurred_at, quantity, area, \
                 received_at) VALUES (1, 'e1', '{active}', 'battery_swap', {at}, 1, NULL, {at}), \
                 (1, 'e2', '{quiet}', 'battery_swap', {at}, 1, '蓬江区', {at})"
            ))
            .await
            .expect("events");

        Migrator::up(&connection, None).await.expect("the migration to subject ids");
        let per_subject = "SELECT s.subject_key, CAST(SUM(d.count) AS BIGINT) FROM signal_daily d \
                           JOIN signal_subjects s ON s.id = d.subject_id GROUP BY s.subject_key ORDER BY 2";
        assert_eq!(rows(&connection, per_subject).await, [(quiet.clone(), 1), (active.clone(), 31)]);
        let numbered =
            rows(&connection, "SELECT subject_key, COUNT(*) FROM signal_subjects GROUP BY subject_key").await;
        assert_eq!(numbered.len(), 2, "one number per subject: {numbered:?}");
        let events = "SELECT event_id, CAST(COUNT(*) AS BIGINT) FROM signal_events GROUP BY event_id ORDER BY 1";
        assert_eq!(rows(&connection, events).await, [("e1".to_owned(), 1), ("e2".to_owned(), 1)]);
        assert_eq!(partner_keys(&connection).await, 0, "events name their partner without a foreign key");

        // And back (with every migration after it): the hashes return, and forward again.
        let after = Migrator::migrations().len() as u32 - BEFORE_SUBJECT_IDS;
        Migrator::down(&connection, Some(after)).await.expect("the migrations from subject ids on undone");
        let by_key = "SELECT subject_key, CAST(SUM(count) AS BIGINT) FROM signal_daily GROUP BY subject_key ORDER BY 2";
        assert_eq!(rows(&connection, by_key).await, [(quiet.clone(), 1), (active.clone(), 31)]);
        assert_eq!(partner_keys(&connection).await, 1);
        Migrator::up(&connection, None).await.expect("the migration again");
        assert_eq!(rows(&connection, per_subject).await, [(quiet, 1), (active, 31)]);
        assert_eq!(rows(&connection, events).await, [("e1".to_owned(), 1), ("e2".to_owned(), 1)]);
        if connection.get_database_backend() == DbBackend::Postgres {
            // Partner event ids compare byte by byte.
            let collation = "SELECT CAST(collation_name AS TEXT), CAST(0 AS BIGINT) FROM information_schema.columns \
                             WHERE table_name = 'signal_events' AND column_name = 'event_id'";
            assert_eq!(rows(&connection, collation).await, [("C".to_owned(), 0)]);
        }
        connection.close().await.expect("closed");
    }

    // The service reads the migrated counts: the active rider (31 swaps on 10 days) is found.
    let app = spawn_with(database, settings).await;
    let rule = json!({"name": "活跃换电骑手", "kind": "battery_swap", "window_days": 30, "min_count": 20, "min_active_days": 7});
    let preview = app.post("/api/v1/membership/rules/preview", &app.admin_token, rule).await.ok(200).clone();
    assert_eq!(preview["candidates"], 1, "{preview}");
    assert_eq!(preview["sample"][0]["signal_count"], 31);
    assert_eq!(preview["sample"][0]["active_days"], 10, "a day seen in two areas counts once");
}

#[tokio::test]
async fn a_postgres_server_on_this_machine_is_spoken_to_without_tls_unless_the_url_asks() {
    let app = crate::helpers::spawn_app().await;
    let connection = app.state.store.reader();
    if connection.get_database_backend() != DbBackend::Postgres || app.settings.database_url().contains("sslmode") {
        return;
    }
    let sql =
        "SELECT CAST(ssl AS TEXT), CAST(COUNT(*) AS BIGINT) FROM pg_stat_ssl WHERE pid = pg_backend_pid() GROUP BY ssl";
    // TLS would only encrypt traffic that never leaves the machine (the server here has it on).
    assert_eq!(rows(connection, sql).await, [("false".to_owned(), 1)]);
}
