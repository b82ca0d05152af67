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
                    .table("categories")
                    .col(string("code").primary_key())
                    .col(string("name_zh"))
                    .col(string("name_en"))
                    .col(integer("sort_order"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("category_rules")
                    .col(big_pk_auto("id"))
                    .col(string("category_code"))
                    .col(integer("version"))
                    .col(big_integer("points_per_hour"))
                    .col(big_integer_null("points_per_report"))
                    .col(big_integer("bonus_completed"))
                    .col(big_integer("bonus_commended"))
                    .col(big_integer("bonus_outstanding"))
                    .col(big_integer("multiplier_bp"))
                    .col(timestamp_with_time_zone_null("multiplier_from"))
                    .col(timestamp_with_time_zone_null("multiplier_until"))
                    .col(string_null("multiplier_label"))
                    .col(big_integer("daily_cap_minutes"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(big_integer_null("created_by"))
                    .foreign_key(ForeignKey::create().from("category_rules", "category_code").to("categories", "code"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("category_rules", &["category_code", "version"], true)).await?;

        manager
            .create_table(
                Table::create()
                    .table("squads")
                    .col(big_pk_auto("id"))
                    .col(big_integer("level_id"))
                    .col(string("name"))
                    .col(string("category_code"))
                    .col(big_integer_null("leader_user_id"))
                    .col(big_integer_null("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(ForeignKey::create().from("squads", "level_id").to("levels", "id"))
                    .foreign_key(ForeignKey::create().from("squads", "category_code").to("categories", "code"))
                    .foreign_key(ForeignKey::create().from("squads", "leader_user_id").to("users", "id"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("squads", &["level_id"], false)).await?;

        manager
            .create_table(
                Table::create()
                    .table("squad_members")
                    .col(big_pk_auto("id"))
                    .col(big_integer("squad_id"))
                    .col(big_integer("user_id"))
                    .col(timestamp_with_time_zone("added_at"))
                    .foreign_key(ForeignKey::create().from("squad_members", "squad_id").to("squads", "id"))
                    .foreign_key(ForeignKey::create().from("squad_members", "user_id").to("users", "id"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("squad_members", &["squad_id", "user_id"], true)).await?;

        manager
            .create_table(
                Table::create()
                    .table("activities")
                    .col(big_pk_auto("id"))
                    .col(big_integer("level_id"))
                    .col(big_integer_null("squad_id"))
                    .col(string("title"))
                    .col(string("category_code"))
                    .col(timestamp_with_time_zone("starts_at"))
                    .col(timestamp_with_time_zone("ends_at"))
                    .col(string("place"))
                    .col(string("status"))
                    .col(string_null("checkin_code"))
                    .col(big_integer_null("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(ForeignKey::create().from("activities", "level_id").to("levels", "id"))
                    .foreign_key(ForeignKey::create().from("activities", "squad_id").to("squads", "id"))
                    .foreign_key(ForeignKey::create().from("activities", "category_code").to("categories", "code"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("activities", &["level_id", "starts_at"], false)).await?;

        manager
            .create_table(
                Table::create()
                    .table("hour_logs")
                    .col(big_pk_auto("id"))
                    .col(big_integer("activity_id"))
                    .col(big_integer("rider_id"))
                    .col(big_integer("level_id"))
                    .col(string("category_code"))
                    .col(timestamp_with_time_zone("served_at"))
                    .col(timestamp_with_time_zone_null("started_at"))
                    .col(timestamp_with_time_zone_null("ended_at"))
                    .col(big_integer("minutes"))
                    .col(string("source"))
                    .col(string("outcome"))
                    .col(text("evidence_urls"))
                    .col(text_null("note"))
                    .col(string("status"))
                    .col(big_integer_null("logged_by"))
                    .col(big_integer_null("decided_by"))
                    .col(timestamp_with_time_zone_null("decided_at"))
                    .col(text_null("rejection_reason"))
                    .col(integer_null("rule_version"))
                    .col(big_integer_null("points"))
                    .col(big_integer_null("award_entry_id"))
                    .col(big_integer_null("reversal_entry_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(ForeignKey::create().from("hour_logs", "activity_id").to("activities", "id"))
                    .foreign_key(ForeignKey::create().from("hour_logs", "rider_id").to("users", "id"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("hour_logs", &["activity_id", "rider_id"], false)).await?;
        manager.create_index(index("hour_logs", &["rider_id", "served_at"], false)).await?;
        manager.create_index(index("hour_logs", &["level_id", "status", "served_at"], false)).await?;

        manager
            .create_table(
                Table::create()
                    .table("hazard_reports")
                    .col(big_pk_auto("id"))
                    .col(big_integer("rider_id"))
                    .col(big_integer("level_id"))
                    .col(text("description"))
                    .col(string("place"))
                    .col(text("photo_urls"))
                    .col(string("status"))
                    .col(big_integer_null("award_entry_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(ForeignKey::create().from("hazard_reports", "rider_id").to("users", "id"))
                    .foreign_key(ForeignKey::create().from("hazard_reports", "level_id").to("levels", "id"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("hazard_reports", &["rider_id", "id"], false)).await?;
        manager.create_index(index("hazard_reports", &["level_id", "status"], false)).await?;

        manager
            .create_table(
                Table::create()
                    .table("hazard_report_events")
                    .col(big_pk_auto("id"))
                    .col(big_integer("report_id"))
                    .col(string("status"))
                    .col(text_null("note"))
                    .col(big_integer_null("actor_id"))
                    .col(timestamp_with_time_zone("at"))
                    .foreign_key(
                        ForeignKey::create().from("hazard_report_events", "report_id").to("hazard_reports", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("hazard_report_events", &["report_id", "id"], false)).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "hazard_report_events",
            "hazard_reports",
            "hour_logs",
            "activities",
            "squad_members",
            "squads",
            "category_rules",
            "categories",
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
