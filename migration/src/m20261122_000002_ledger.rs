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
                    .table("accounts")
                    .col(big_pk_auto("id"))
                    .col(string("kind"))
                    .col(big_integer("level_id"))
                    .col(big_integer_null("user_id").unique_key())
                    .col(boolean("no_overdraft"))
                    .col(big_integer("debits_posted").default(0))
                    .col(big_integer("credits_posted").default(0))
                    .col(big_integer("debits_pending").default(0))
                    .col(big_integer("credits_pending").default(0))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(ForeignKey::create().from("accounts", "level_id").to("levels", "id"))
                    .foreign_key(ForeignKey::create().from("accounts", "user_id").to("users", "id"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("accounts", &["level_id", "kind"], false)).await?;

        manager
            .create_table(
                Table::create()
                    .table("journal_entries")
                    .col(big_integer("id").primary_key())
                    .col(string("kind"))
                    .col(text("reason"))
                    .col(string_null("reference_type"))
                    .col(string_null("reference_id"))
                    .col(big_integer_null("actor_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(big_integer_null("reverses_entry_id").unique_key())
                    .col(string("prev_hash"))
                    .col(string("hash"))
                    .foreign_key(
                        ForeignKey::create().from("journal_entries", "reverses_entry_id").to("journal_entries", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("journal_entries", &["reference_type", "reference_id"], false)).await?;

        manager
            .create_table(
                Table::create()
                    .table("postings")
                    .col(big_pk_auto("id"))
                    .col(big_integer("entry_id"))
                    .col(big_integer("account_id"))
                    .col(big_integer("amount"))
                    .col(big_integer("balance_after"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(ForeignKey::create().from("postings", "entry_id").to("journal_entries", "id"))
                    .foreign_key(ForeignKey::create().from("postings", "account_id").to("accounts", "id"))
                    .to_owned(),
            )
            .await?;
        // Statements page by (account, id); point-in-time balances look up (account, time).
        manager.create_index(index("postings", &["account_id", "id"], false)).await?;
        manager.create_index(index("postings", &["account_id", "created_at", "id"], false)).await?;
        manager.create_index(index("postings", &["entry_id"], false)).await?;

        manager
            .create_table(
                Table::create()
                    .table("holds")
                    .col(big_pk_auto("id"))
                    .col(big_integer("from_account_id"))
                    .col(big_integer("to_account_id"))
                    .col(big_integer("amount"))
                    .col(string("kind"))
                    .col(string("status"))
                    .col(text("reason"))
                    .col(string_null("reference_type"))
                    .col(string_null("reference_id"))
                    .col(big_integer_null("actor_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("expires_at"))
                    .col(timestamp_with_time_zone_null("resolved_at"))
                    .col(big_integer_null("posted_entry_id"))
                    .col(big_integer_null("posted_amount"))
                    .foreign_key(ForeignKey::create().from("holds", "from_account_id").to("accounts", "id"))
                    .foreign_key(ForeignKey::create().from("holds", "to_account_id").to("accounts", "id"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("holds", &["from_account_id", "status"], false)).await?;
        manager.create_index(index("holds", &["status", "expires_at"], false)).await?;

        manager
            .create_table(
                Table::create()
                    .table("ledger_head")
                    .col(integer("id").primary_key())
                    .col(big_integer("last_entry_id"))
                    .col(string("last_hash"))
                    .col(timestamp_with_time_zone("last_at"))
                    .to_owned(),
            )
            .await?;
        // The genesis row (entry 0, all-zero hash) is written by the service at start, with a typed time.
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["ledger_head", "holds", "postings", "journal_entries", "accounts"] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
