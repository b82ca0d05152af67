//! The benchmark's baseline: single-row durable inserts into a scratch table, each its own
//! transaction, to measure what the database's commit rate allows.

use sea_orm::{ConnectionTrait, DbBackend, TransactionTrait};

use super::{Store, StoreResult};

pub async fn create(connection: &impl ConnectionTrait) -> StoreResult<()> {
    let statement = match connection.get_database_backend() {
        DbBackend::Postgres => {
            "CREATE TABLE IF NOT EXISTS bench_baseline (id BIGSERIAL PRIMARY KEY, client BIGINT, n BIGINT)"
        }
        _ => {
            "CREATE TABLE IF NOT EXISTS bench_baseline (id INTEGER PRIMARY KEY AUTOINCREMENT, client BIGINT, n BIGINT)"
        }
    };
    connection.execute_unprepared(statement).await?;
    Ok(())
}

/// One row in its own transaction, outside group commit: one durable commit per insert.
pub async fn insert(store: &Store, client: i64, sequence: i64) -> StoreResult<()> {
    let txn = store.unbatched_writer().begin().await?;
    txn.execute_unprepared(&format!("INSERT INTO bench_baseline (client, n) VALUES ({client}, {sequence})")).await?;
    txn.commit().await?;
    Ok(())
}

pub async fn drop_table(connection: &impl ConnectionTrait) -> StoreResult<()> {
    connection.execute_unprepared("DROP TABLE IF EXISTS bench_baseline").await?;
    Ok(())
}
