use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// On PostgreSQL, what postings and lots name (their account, a posting's entry) is checked once per
/// statement instead of once per row.
///
/// A foreign key checks each inserted row with a query of its own that also locks the row it
/// names (`FOR KEY SHARE`): a set of a thousand transfers ran five thousand of them, a third of
/// the database's time in batched awards. Here a trigger per table looks at the statement's
/// inserted rows all at once (a transition table) and refuses the statement when any of them names
/// an account or an entry that does not exist. What a foreign key also guards, that the names stay
/// true afterwards, holds because accounts and entries are never deleted nor renumbered (triggers
/// refuse both; the ledger closes nothing by deleting it), and postings and lots never change
/// what they name. So the guarantee is a foreign key's, checked as a set. SQLite keeps its foreign
/// keys: they are index lookups in the same process.
///
/// The checks look each row named up once, by its primary key (hash and merge joins are off inside them):
/// the planner knows nothing of a transition table's size, and a hash join would read the whole
/// journal to check a handful of postings.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager.get_connection().execute_unprepared(UP).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager.get_connection().execute_unprepared(DOWN).await?;
        Ok(())
    }
}

const UP: &str = r#"
CREATE FUNCTION ledger_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'foreign_key_violation';
END $$;

CREATE FUNCTION postings_name_what_exists() RETURNS trigger LANGUAGE plpgsql
  SET enable_hashjoin = off SET enable_mergejoin = off AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM (SELECT DISTINCT account_id FROM inserted) i
             WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = i.account_id)) THEN
    RAISE EXCEPTION 'a posting names an account that does not exist' USING ERRCODE = 'foreign_key_violation';
  END IF;
  IF EXISTS (SELECT 1 FROM (SELECT DISTINCT entry_id FROM inserted) i
             WHERE NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.id = i.entry_id)) THEN
    RAISE EXCEPTION 'a posting names an entry that does not exist' USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION lots_name_what_exists() RETURNS trigger LANGUAGE plpgsql
  SET enable_hashjoin = off SET enable_mergejoin = off AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM (SELECT DISTINCT account_id FROM inserted) i
             WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = i.account_id)) THEN
    RAISE EXCEPTION 'a lot names an account that does not exist' USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;

ALTER TABLE postings DROP CONSTRAINT postings_entry_id_fkey, DROP CONSTRAINT postings_account_id_fkey;
ALTER TABLE lots DROP CONSTRAINT lots_account_id_fkey;

CREATE TRIGGER postings_name_what_exists AFTER INSERT ON postings
  REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION postings_name_what_exists();
CREATE TRIGGER lots_name_what_exists AFTER INSERT ON lots
  REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION lots_name_what_exists();

CREATE TRIGGER postings_keep_what_they_name BEFORE UPDATE OF entry_id, account_id ON postings
  FOR EACH ROW WHEN (OLD.entry_id IS DISTINCT FROM NEW.entry_id OR OLD.account_id IS DISTINCT FROM NEW.account_id)
  EXECUTE FUNCTION ledger_refuse('a posting keeps its entry and account');
CREATE TRIGGER lots_keep_what_they_name BEFORE UPDATE OF account_id ON lots
  FOR EACH ROW WHEN (OLD.account_id IS DISTINCT FROM NEW.account_id)
  EXECUTE FUNCTION ledger_refuse('a lot keeps its account');

CREATE TRIGGER accounts_are_kept BEFORE DELETE ON accounts
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse('accounts are never deleted');
CREATE TRIGGER accounts_keep_their_ids BEFORE UPDATE OF id ON accounts
  FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
  EXECUTE FUNCTION ledger_refuse('accounts keep their ids');
CREATE TRIGGER journal_entries_are_kept BEFORE DELETE ON journal_entries
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse('journal entries are never deleted');
CREATE TRIGGER journal_entries_keep_their_ids BEFORE UPDATE OF id ON journal_entries
  FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
  EXECUTE FUNCTION ledger_refuse('journal entries keep their ids');
"#;

const DOWN: &str = r#"
DROP TRIGGER journal_entries_keep_their_ids ON journal_entries;
DROP TRIGGER journal_entries_are_kept ON journal_entries;
DROP TRIGGER accounts_keep_their_ids ON accounts;
DROP TRIGGER accounts_are_kept ON accounts;
DROP TRIGGER lots_keep_what_they_name ON lots;
DROP TRIGGER postings_keep_what_they_name ON postings;
DROP TRIGGER lots_name_what_exists ON lots;
DROP TRIGGER postings_name_what_exists ON postings;
DROP FUNCTION lots_name_what_exists();
DROP FUNCTION postings_name_what_exists();
DROP FUNCTION ledger_refuse();
ALTER TABLE postings ADD CONSTRAINT postings_entry_id_fkey FOREIGN KEY (entry_id) REFERENCES journal_entries (id),
  ADD CONSTRAINT postings_account_id_fkey FOREIGN KEY (account_id) REFERENCES accounts (id);
ALTER TABLE lots ADD CONSTRAINT lots_account_id_fkey FOREIGN KEY (account_id) REFERENCES accounts (id);
"#;
