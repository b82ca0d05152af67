//! The benchmark's baseline: single-row durable inserts into a scratch table, each its own
//! transaction, to measure what the database's commit rate allows.

use sea_orm::{ConnectionTrait, DbBackend};

use super::{StoreResult, UnitOfWork};

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

pub async fn insert(work: &UnitOfWork, client: i64, sequence: i64) -> StoreResult<()> {
    work.txn()
        .execute_unprepared(&format!("INSERT INTO bench_baseline (client, n) VALUES ({client}, {sequence})"))
        .await?;
    Ok(())
}

pub async fn drop_table(connection: &impl ConnectionTrait) -> StoreResult<()> {
    connection.execute_unprepared("DROP TABLE IF EXISTS bench_baseline").await?;
    Ok(())
}
