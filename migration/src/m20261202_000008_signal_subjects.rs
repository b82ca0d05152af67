use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Daily signal counts keyed by an integer subject id instead of the subject's keyed hash.
///
/// A rule is evaluated by grouping a window of daily counts by subject (1.2 million rows for a
/// city of 40,000 riders over 30 days); grouping and sorting 64-character text keys took several
/// times as long as grouping integers. `signal_subjects` gives each keyed hash an id once, and
/// `signal_daily` keeps the id. On PostgreSQL the text columns that are only ever compared for
/// equality or in index order (hashes, event ids, kinds, days, areas) use the "C" collation: byte
/// order, the same answers, without the locale's comparison on every index probe.
///
/// A partner's events no longer carry a foreign key to the partner: every event is stored for the
/// partner whose token pushed it, and partners are never deleted, so the key only checked, once per
/// event, what is true by construction; on PostgreSQL that check (a query per row, run by a
/// trigger) was a quarter of the database's time storing a batch.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let connection = manager.get_connection();
        let postgres = manager.get_database_backend() == DbBackend::Postgres;
        manager
            .create_table(
                Table::create().table("signal_subjects").col(big_pk_auto("id")).col(string("subject_key")).to_owned(),
            )
            .await?;
        if postgres {
            connection
                .execute_unprepared("ALTER TABLE signal_subjects ALTER COLUMN subject_key TYPE varchar COLLATE \"C\"")
                .await?;
        }
        manager.create_index(index("signal_subjects", &["subject_key"], true)).await?;
        connection
            .execute_unprepared(
                "INSERT INTO signal_subjects (subject_key) SELECT DISTINCT subject_key FROM signal_daily ORDER BY 1",
            )
            .await?;

        // Every insert names the subject; the default only fills the rows already there.
        connection
            .execute_unprepared("ALTER TABLE signal_daily ADD COLUMN subject_id bigint NOT NULL DEFAULT 0")
            .await?;
        connection
            .execute_unprepared(
                "UPDATE signal_daily SET subject_id = \
                 (SELECT s.id FROM signal_subjects s WHERE s.subject_key = signal_daily.subject_key)",
            )
            .await?;
        manager
            .drop_index(Index::drop().name("ix_signal_daily_subject_key_partner_id_kind_day_area").to_owned())
            .await?;
        connection.execute_unprepared("ALTER TABLE signal_daily DROP COLUMN subject_key").await?;
        if postgres {
            connection
                .execute_unprepared("ALTER TABLE signal_events DROP CONSTRAINT signal_events_partner_id_fkey")
                .await?;
        } else {
            rebuild_signal_events(manager, false).await?;
        }
        if postgres {
            connection
                .execute_unprepared(
                    "ALTER TABLE signal_daily ALTER COLUMN subject_id DROP DEFAULT, \
                     ALTER COLUMN kind TYPE varchar COLLATE \"C\", ALTER COLUMN day TYPE varchar COLLATE \"C\", \
                     ALTER COLUMN area TYPE varchar COLLATE \"C\"",
                )
                .await?;
            connection
                .execute_unprepared("ALTER TABLE signal_events ALTER COLUMN event_id TYPE varchar COLLATE \"C\"")
                .await?;
        }
        manager.create_index(index("signal_daily", &["subject_id", "partner_id", "kind", "day", "area"], true)).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let connection = manager.get_connection();
        let postgres = manager.get_database_backend() == DbBackend::Postgres;
        connection
            .execute_unprepared("ALTER TABLE signal_daily ADD COLUMN subject_key varchar NOT NULL DEFAULT ''")
            .await?;
        connection
            .execute_unprepared(
                "UPDATE signal_daily SET subject_key = \
                 (SELECT s.subject_key FROM signal_subjects s WHERE s.id = signal_daily.subject_id)",
            )
            .await?;
        manager
            .drop_index(Index::drop().name("ix_signal_daily_subject_id_partner_id_kind_day_area").to_owned())
            .await?;
        connection.execute_unprepared("ALTER TABLE signal_daily DROP COLUMN subject_id").await?;
        if postgres {
            connection
                .execute_unprepared(
                    "ALTER TABLE signal_daily ALTER COLUMN subject_key DROP DEFAULT, \
                     ALTER COLUMN kind TYPE varchar COLLATE \"default\", \
                     ALTER COLUMN day TYPE varchar COLLATE \"default\", \
                     ALTER COLUMN area TYPE varchar COLLATE \"default\"",
                )
                .await?;
            connection
                .execute_unprepared("ALTER TABLE signal_events ALTER COLUMN event_id TYPE varchar COLLATE \"default\"")
                .await?;
        }
        manager
            .create_index(index("signal_daily", &["subject_key", "partner_id", "kind", "day", "area"], true))
            .await?;
        manager.drop_table(Table::drop().table("signal_subjects").to_owned()).await?;
        if postgres {
            connection
                .execute_unprepared(
                    "ALTER TABLE signal_events ADD CONSTRAINT signal_events_partner_id_fkey \
                     FOREIGN KEY (partner_id) REFERENCES partners (id)",
                )
                .await?;
        } else {
            rebuild_signal_events(manager, true).await?;
        }
        Ok(())
    }
}

/// SQLite cannot drop or add a table's foreign key: the table is made again, with or without it.
async fn rebuild_signal_events(manager: &SchemaManager<'_>, partner_key: bool) -> Result<(), DbErr> {
    let mut table = Table::create();
    table
        .table("signal_events_rebuilt")
        .col(big_pk_auto("id"))
        .col(big_integer("partner_id"))
        .col(string("event_id"))
        .col(string("subject_key"))
        .col(string("kind"))
        .col(timestamp_with_time_zone("occurred_at"))
        .col(big_integer("quantity"))
        .col(string_null("area"))
        .col(timestamp_with_time_zone("received_at"));
    if partner_key {
        table.foreign_key(ForeignKey::create().from("signal_events_rebuilt", "partner_id").to("partners", "id"));
    }
    manager.create_table(table.to_owned()).await?;
    let connection = manager.get_connection();
    connection
        .execute_unprepared(
            "INSERT INTO signal_events_rebuilt (id, partner_id, event_id, subject_key, kind, occurred_at, quantity, \
             area, received_at) SELECT id, partner_id, event_id, subject_key, kind, occurred_at, quantity, area, \
             received_at FROM signal_events",
        )
        .await?;
    connection.execute_unprepared("DROP TABLE signal_events").await?;
    connection.execute_unprepared("ALTER TABLE signal_events_rebuilt RENAME TO signal_events").await?;
    manager.create_index(index("signal_events", &["partner_id", "event_id"], true)).await
}
