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
                    .table("partners")
                    .col(big_pk_auto("id"))
                    .col(string("name"))
                    .col(string("kind"))
                    .col(string_uniq("client_id"))
                    .col(string("secret_hash"))
                    .col(string_null("previous_secret_hash"))
                    .col(timestamp_with_time_zone_null("previous_valid_until"))
                    .col(boolean("active"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("partner_levels")
                    .col(big_pk_auto("id"))
                    .col(big_integer("partner_id"))
                    .col(big_integer("level_id"))
                    .foreign_key(ForeignKey::create().from("partner_levels", "partner_id").to("partners", "id"))
                    .foreign_key(ForeignKey::create().from("partner_levels", "level_id").to("levels", "id"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("partner_levels", &["partner_id", "level_id"], true)).await?;

        manager
            .create_table(
                Table::create()
                    .table("signal_events")
                    .col(big_pk_auto("id"))
                    .col(big_integer("partner_id"))
                    .col(string("event_id"))
                    .col(string("subject_key"))
                    .col(string("kind"))
                    .col(timestamp_with_time_zone("occurred_at"))
                    .col(big_integer("quantity"))
                    .col(string_null("area"))
                    .col(timestamp_with_time_zone("received_at"))
                    .foreign_key(ForeignKey::create().from("signal_events", "partner_id").to("partners", "id"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("signal_events", &["partner_id", "event_id"], true)).await?;

        manager
            .create_table(
                Table::create()
                    .table("signal_daily")
                    .col(big_pk_auto("id"))
                    .col(string("subject_key"))
                    .col(big_integer("partner_id"))
                    .col(string("kind"))
                    .col(string("day"))
                    .col(string("area"))
                    .col(big_integer("count"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("signal_daily", &["subject_key", "partner_id", "kind", "day", "area"], true))
            .await?;
        manager.create_index(index("signal_daily", &["kind", "day"], false)).await?;

        manager
            .create_table(
                Table::create()
                    .table("membership_rules")
                    .col(big_pk_auto("id"))
                    .col(string("name"))
                    .col(integer("version"))
                    .col(string("kind"))
                    .col(integer("window_days"))
                    .col(big_integer("min_count"))
                    .col(integer("min_active_days"))
                    .col(text_null("partner_ids"))
                    .col(text_null("areas"))
                    .col(boolean("active"))
                    .col(big_integer_null("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("candidates")
                    .col(big_pk_auto("id"))
                    .col(string_uniq("subject_key"))
                    .col(big_integer("level_id"))
                    .col(string("status"))
                    .col(big_integer("rule_id"))
                    .col(integer("rule_version"))
                    .col(text("evidence"))
                    .col(timestamp_with_time_zone_null("invited_at"))
                    .col(big_integer_null("invited_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(ForeignKey::create().from("candidates", "level_id").to("levels", "id"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("candidates", &["level_id", "status"], false)).await?;

        manager
            .create_table(
                Table::create()
                    .table("memberships")
                    .col(big_pk_auto("id"))
                    .col(big_integer("user_id"))
                    .col(big_integer("level_id"))
                    .col(big_integer_null("candidate_id"))
                    .col(string("status"))
                    .col(string_null("member_number").unique_key())
                    .col(text("verification"))
                    .col(big_integer_null("welcome_entry_id"))
                    .col(timestamp_with_time_zone_null("approved_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(ForeignKey::create().from("memberships", "user_id").to("users", "id"))
                    .foreign_key(ForeignKey::create().from("memberships", "level_id").to("levels", "id"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("memberships", &["user_id"], false)).await?;
        manager.create_index(index("memberships", &["level_id", "status"], false)).await?;

        manager
            .create_table(
                Table::create()
                    .table("membership_events")
                    .col(big_pk_auto("id"))
                    .col(big_integer("membership_id"))
                    .col(string_null("from_status"))
                    .col(string("to_status"))
                    .col(big_integer_null("actor_id"))
                    .col(text_null("reason"))
                    .col(timestamp_with_time_zone("at"))
                    .foreign_key(
                        ForeignKey::create().from("membership_events", "membership_id").to("memberships", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("membership_events", &["membership_id", "id"], false)).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "membership_events",
            "memberships",
            "candidates",
            "membership_rules",
            "signal_daily",
            "signal_events",
            "partner_levels",
            "partners",
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
