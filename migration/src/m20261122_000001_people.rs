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
                    .table("levels")
                    .col(big_pk_auto("id"))
                    .col(string("name"))
                    .col(string("kind"))
                    .col(big_integer_null("parent_id"))
                    .col(string("path"))
                    .col(boolean("approver_must_differ").default(false))
                    .col(integer_null("points_expire_months"))
                    .col(big_integer_null("welcome_points"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(ForeignKey::create().from("levels", "parent_id").to("levels", "id"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("levels", &["path"], true)).await?;
        manager.create_index(index("levels", &["parent_id"], false)).await?;

        manager
            .create_table(
                Table::create()
                    .table("users")
                    .col(big_pk_auto("id"))
                    .col(string_uniq("username"))
                    .col(string("role"))
                    .col(big_integer_null("level_id"))
                    .col(string("display_name"))
                    .col(string_null("phone"))
                    .col(string_null("phone_key"))
                    .col(string("password_hash"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(ForeignKey::create().from("users", "level_id").to("levels", "id"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("users", &["level_id", "id"], false)).await?;
        manager.create_index(index("users", &["phone_key"], false)).await?;

        manager
            .create_table(
                Table::create()
                    .table("refresh_tokens")
                    .col(big_pk_auto("id"))
                    .col(string("family_id"))
                    .col(big_integer("user_id"))
                    .col(string_uniq("token_hash"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("replaced_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .foreign_key(ForeignKey::create().from("refresh_tokens", "user_id").to("users", "id"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("refresh_tokens", &["family_id"], false)).await?;

        manager
            .create_table(
                Table::create()
                    .table("idempotency_keys")
                    .col(big_pk_auto("id"))
                    .col(big_integer("caller_id"))
                    .col(string("key"))
                    .col(string("request_hash"))
                    .col(integer("status_code"))
                    .col(text("response_body"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("idempotency_keys", &["caller_id", "key"], true)).await?;

        manager
            .create_table(
                Table::create()
                    .table("audit_events")
                    .col(big_pk_auto("id"))
                    .col(timestamp_with_time_zone("at"))
                    .col(big_integer_null("actor_id"))
                    .col(string("action"))
                    .col(string("target_type"))
                    .col(string_null("target_id"))
                    .col(string_null("request_id"))
                    .col(text("summary"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("audit_events", &["actor_id", "id"], false)).await?;
        manager.create_index(index("audit_events", &["target_type", "target_id"], false)).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["audit_events", "idempotency_keys", "refresh_tokens", "users", "levels"] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
