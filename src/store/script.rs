//! Several writes sent to the database in one round trip.
//!
//! A unit of work runs inside a batch (see `store::group`), one statement after another, so what a
//! posting costs is mostly round trips. The writes of a posting (balances, the entry, its
//! postings, its lots) depend on nothing they return, so they go together as one script: on
//! PostgreSQL one simple-protocol message, on SQLite one call into the worker thread.
//!
//! A script carries its values inline, so only values that cannot change a statement's meaning go
//! in: integers, timestamps formatted here, and text as hexadecimal bytes (never quoted), whatever
//! a caller sent.

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr};

pub(super) struct Script {
    backend: DbBackend,
    sql: String,
}

impl Script {
    pub(super) fn new(backend: DbBackend) -> Script {
        Script { backend, sql: String::new() }
    }

    /// Appends one statement.
    pub(super) fn push(&mut self, statement: &str) {
        self.sql.push_str(statement);
        self.sql.push_str(";\n");
    }

    /// Text as a literal that holds only hexadecimal digits between its quotes.
    pub(super) fn text(&self, value: &str) -> String {
        let hex: String = value.bytes().map(|byte| format!("{byte:02x}")).collect();
        match self.backend {
            DbBackend::Postgres => format!("convert_from(decode('{hex}', 'hex'), 'UTF8')"),
            _ => format!("CAST(X'{hex}' AS TEXT)"),
        }
    }

    pub(super) fn optional_text(&self, value: Option<&str>) -> String {
        value.map_or_else(|| "NULL".to_owned(), |value| self.text(value))
    }

    /// A timestamp written as the driver would bind it (on SQLite timestamps are text and compared
    /// as text, so the format must be exactly the one every other write uses).
    pub(super) fn time(&self, value: DateTime<Utc>) -> String {
        let text = value.to_rfc3339_opts(SecondsFormat::AutoSi, false);
        match self.backend {
            DbBackend::Postgres => format!("'{text}'::timestamptz"),
            _ => format!("'{text}'"),
        }
    }

    pub(super) fn optional_time(&self, value: Option<DateTime<Utc>>) -> String {
        value.map_or_else(|| "NULL".to_owned(), |value| self.time(value))
    }

    /// Sends every statement at once; the first that fails stops the rest and is the error.
    pub(super) async fn run(self, connection: &impl ConnectionTrait) -> Result<(), DbErr> {
        if !self.sql.is_empty() {
            connection.execute_unprepared(&self.sql).await?;
        }
        Ok(())
    }
}

/// An optional integer as a literal.
pub(super) fn optional_integer(value: Option<i64>) -> String {
    value.map_or_else(|| "NULL".to_owned(), |value| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_hexadecimal_whatever_it_holds() {
        let script = Script::new(DbBackend::Sqlite);
        assert_eq!(script.text("a'b"), "CAST(X'612762' AS TEXT)");
        assert_eq!(script.text(""), "CAST(X'' AS TEXT)");
        let script = Script::new(DbBackend::Postgres);
        let literal = script.text("'); DROP TABLE accounts; -- 奶茶\\");
        let inside = literal.trim_start_matches("convert_from(decode('").trim_end_matches("', 'hex'), 'UTF8')");
        assert!(inside.chars().all(|c| c.is_ascii_hexdigit()), "{literal}");
    }

    #[test]
    fn timestamps_are_written_as_the_driver_binds_them() {
        let at = DateTime::parse_from_rfc3339("2026-11-23T04:05:06.123456Z").unwrap().with_timezone(&Utc);
        assert_eq!(Script::new(DbBackend::Sqlite).time(at), "'2026-11-23T04:05:06.123456+00:00'");
        assert_eq!(Script::new(DbBackend::Postgres).time(at), "'2026-11-23T04:05:06.123456+00:00'::timestamptz");
    }
}
