use sea_orm_migration::{prelude::*, schema::*};

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("rewards")
                    .col(big_pk_auto("id"))
                    .col(big_integer("level_id"))
                    .col(string("name_zh"))
                    .col(string("name_en"))
                    .col(text("description"))
                    .col(big_integer("cost"))
                    .col(string("kind"))
                    .col(big_integer_null("cash_value_fen"))
                    .col(big_integer_null("stock_remaining"))
                    .col(integer_null("limit_count"))
                    .col(string_null("limit_period"))
                    .col(timestamp_with_time_zone_null("valid_from"))
                    .col(timestamp_with_time_zone_null("valid_until"))
                    .col(boolean("active"))
                    .col(big_integer_null("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(ForeignKey::create().from("rewards", "level_id").to("levels", "id"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("rewards", &["level_id"], false)).await?;

        manager
            .create_table(
                Table::create()
                    .table("redemptions")
                    .col(big_pk_auto("id"))
                    .col(big_integer("reward_id"))
                    .col(big_integer("level_id"))
                    .col(big_integer("rider_id"))
                    .col(big_integer("quantity"))
                    .col(big_integer("cost"))
                    .col(string("status"))
                    .col(string("pickup_code"))
                    .col(big_integer("hold_id"))
                    .col(big_integer_null("entry_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("closed_at"))
                    .col(big_integer_null("closed_by"))
                    .foreign_key(ForeignKey::create().from("redemptions", "reward_id").to("rewards", "id"))
                    .foreign_key(ForeignKey::create().from("redemptions", "rider_id").to("users", "id"))
                    .foreign_key(ForeignKey::create().from("redemptions", "hold_id").to("holds", "id"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("redemptions", &["rider_id", "reward_id", "created_at"], false)).await?;
        manager.create_index(index("redemptions", &["status", "expires_at"], false)).await?;
        manager.create_index(index("redemptions", &["level_id", "status"], false)).await?;

        manager
            .create_table(
                Table::create()
                    .table("pools")
                    .col(big_pk_auto("id"))
                    .col(big_integer("level_id"))
                    .col(string("title"))
                    .col(string("beneficiary"))
                    .col(big_integer_null("reward_id"))
                    .col(big_integer_null("quantity"))
                    .col(big_integer("goal"))
                    .col(big_integer("pledged"))
                    .col(timestamp_with_time_zone("deadline"))
                    .col(string("status"))
                    .col(big_integer_null("entry_id"))
                    .col(big_integer_null("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("closed_at"))
                    .foreign_key(ForeignKey::create().from("pools", "level_id").to("levels", "id"))
                    .foreign_key(ForeignKey::create().from("pools", "reward_id").to("rewards", "id"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("pools", &["status", "deadline"], false)).await?;

        manager
            .create_table(
                Table::create()
                    .table("pledges")
                    .col(big_pk_auto("id"))
                    .col(big_integer("pool_id"))
                    .col(big_integer("rider_id"))
                    .col(big_integer("amount"))
                    .col(big_integer("hold_id"))
                    .col(string("status"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("closed_at"))
                    .foreign_key(ForeignKey::create().from("pledges", "pool_id").to("pools", "id"))
                    .foreign_key(ForeignKey::create().from("pledges", "rider_id").to("users", "id"))
                    .foreign_key(ForeignKey::create().from("pledges", "hold_id").to("holds", "id"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("pledges", &["pool_id", "status"], false)).await?;
        manager.create_index(index("pledges", &["rider_id"], false)).await?;

        manager
            .create_table(
                Table::create()
                    .table("lots")
                    .col(big_pk_auto("id"))
                    .col(big_integer("account_id"))
                    .col(big_integer("entry_id"))
                    .col(big_integer("amount"))
                    .col(big_integer("remaining"))
                    .col(timestamp_with_time_zone("earned_at"))
                    .col(timestamp_with_time_zone_null("expires_at"))
                    .foreign_key(ForeignKey::create().from("lots", "account_id").to("accounts", "id"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("lots", &["account_id", "remaining"], false)).await?;
        manager.create_index(index("lots", &["expires_at", "remaining"], false)).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["lots", "pledges", "pools", "redemptions", "rewards"] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
