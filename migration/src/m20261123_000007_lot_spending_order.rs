use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The order in which debits spend an account's lots (soonest-expiring first, never-expiring last),
/// over the lots with something left: the first lot is one index seek however many lots a rider
/// has collected (a rider awarded thousands of times holds thousands). It replaces the index on
/// (account_id, remaining), which every query on an account's lots with something left used
/// instead (SQLite's planner preferred it, then sorted).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The same statement on PostgreSQL and SQLite: an expression column and a partial index.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX ix_lots_spending_order ON lots \
                 (account_id, (expires_at IS NULL), expires_at, earned_at, id) WHERE remaining > 0",
            )
            .await?;
        manager.get_connection().execute_unprepared("DROP INDEX ix_lots_account_id_remaining").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let connection = manager.get_connection();
        connection
            .execute_unprepared("CREATE INDEX ix_lots_account_id_remaining ON lots (account_id, remaining)")
            .await?;
        connection.execute_unprepared("DROP INDEX ix_lots_spending_order").await?;
        Ok(())
    }
}
