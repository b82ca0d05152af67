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
        let hex = hexadecimal(value);
        match self.backend {
            DbBackend::Postgres => format!("convert_from(decode('{hex}', 'hex'), 'UTF8')"),
            _ => format!("CAST(X'{hex}' AS TEXT)"),
        }
    }

    /// A timestamp written as the driver would bind it (on SQLite timestamps are text and compared
    /// as text, so the format must be exactly the one every other write uses).
    pub(super) fn time(&self, value: DateTime<Utc>) -> String {
        let text = driver_time(value);
        match self.backend {
            DbBackend::Postgres => format!("'{text}'::timestamptz"),
            _ => format!("'{text}'"),
        }
    }

    /// Sends every statement at once; the first that fails stops the rest and is the error.
    pub(super) async fn run(self, connection: &impl ConnectionTrait) -> Result<(), DbErr> {
        if !self.sql.is_empty() {
            connection.execute_unprepared(&self.sql).await?;
        }
        Ok(())
    }
}

/// A timestamp as text, exactly as the driver binds one on SQLite (where timestamps are text).
pub(super) fn driver_time(value: DateTime<Utc>) -> String {
    value.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// A value of a row of `Rows`. Text goes in as hexadecimal digits, never quoted, so nothing a
/// caller sends can change a statement.
#[derive(Clone, Debug)]
pub(super) enum Value {
    Integer(i64),
    Time(DateTime<Utc>),
    Text(String),
    Null,
}

impl Value {
    pub(super) fn optional_integer(value: Option<i64>) -> Value {
        value.map_or(Value::Null, Value::Integer)
    }

    pub(super) fn optional_text(value: Option<&str>) -> Value {
        value.map_or(Value::Null, |text| Value::Text(text.to_owned()))
    }
}

/// The type of a column of `Rows`.
#[derive(Clone, Copy, Debug)]
pub(super) enum Kind {
    Integer,
    Time,
    Text,
}

/// Rows to insert into one table with one statement.
pub(super) struct Rows {
    table: &'static str,
    columns: &'static [(&'static str, Kind)],
    values: Vec<Value>,
}

/// Rows per `VALUES` insert on SQLite: well under its limit of a statement's terms.
const ROWS_PER_VALUES: usize = 1_000;

impl Rows {
    pub(super) fn new(table: &'static str, columns: &'static [(&'static str, Kind)]) -> Rows {
        Rows { table, columns, values: Vec::new() }
    }

    /// Adds a row: one value per column, in order.
    pub(super) fn push(&mut self, row: impl IntoIterator<Item = Value>) {
        let before = self.values.len();
        self.values.extend(row);
        debug_assert_eq!(self.values.len() - before, self.columns.len(), "a value per column of {}", self.table);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

fn hexadecimal(text: &str) -> String {
    text.bytes().map(|byte| format!("{byte:02x}")).collect()
}

impl Script {
    /// Inserts the rows and empties them. On PostgreSQL with one array per column (`unnest`; text
    /// as arrays of hexadecimal digits, decoded in the select): a literal per column parses and
    /// plans in a fraction of the time of a thousand-row `VALUES`. On SQLite, `VALUES`.
    pub(super) fn insert(&mut self, rows: &mut Rows) {
        if rows.is_empty() {
            return;
        }
        let names: Vec<&str> = rows.columns.iter().map(|(name, _)| *name).collect();
        let width = rows.columns.len();
        let statements = match self.backend {
            DbBackend::Postgres => {
                let mut arrays = Vec::with_capacity(width);
                let mut selected = Vec::with_capacity(width);
                for (column, (_, kind)) in rows.columns.iter().enumerate() {
                    let items: Vec<String> = rows
                        .values
                        .iter()
                        .skip(column)
                        .step_by(width)
                        .map(|value| match value {
                            Value::Integer(integer) => integer.to_string(),
                            Value::Time(time) => format!("\"{}\"", driver_time(*time)),
                            Value::Text(text) => format!("\"{}\"", hexadecimal(text)),
                            Value::Null => "NULL".to_owned(),
                        })
                        .collect();
                    let (array, select) = match kind {
                        Kind::Integer => ("int8", format!("c{column}")),
                        Kind::Time => ("timestamptz", format!("c{column}")),
                        Kind::Text => ("text", format!("convert_from(decode(c{column}, 'hex'), 'UTF8')")),
                    };
                    arrays.push(format!("'{{{}}}'::{array}[]", items.join(",")));
                    selected.push(select);
                }
                let aliases: Vec<String> = (0..width).map(|column| format!("c{column}")).collect();
                vec![format!(
                    "INSERT INTO {} ({}) SELECT {} FROM unnest({}) AS u({})",
                    rows.table,
                    names.join(", "),
                    selected.join(", "),
                    arrays.join(", "),
                    aliases.join(", ")
                )]
            }
            _ => rows
                .values
                .chunks(width * ROWS_PER_VALUES)
                .map(|chunk| {
                    let tuples: Vec<String> = chunk
                        .chunks(width)
                        .map(|row| {
                            let literals: Vec<String> = row
                                .iter()
                                .map(|value| match value {
                                    Value::Integer(integer) => integer.to_string(),
                                    Value::Time(time) => self.time(*time),
                                    Value::Text(text) => self.text(text),
                                    Value::Null => "NULL".to_owned(),
                                })
                                .collect();
                            format!("({})", literals.join(", "))
                        })
                        .collect();
                    format!("INSERT INTO {} ({}) VALUES {}", rows.table, names.join(", "), tuples.join(", "))
                })
                .collect(),
        };
        for statement in statements {
            self.push(&statement);
        }
        rows.values.clear();
    }
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
    fn rows_are_one_array_per_column_on_postgres_and_a_values_list_on_sqlite() {
        const COLUMNS: &[(&str, Kind)] = &[("a", Kind::Integer), ("at", Kind::Time), ("b", Kind::Text)];
        let at = DateTime::parse_from_rfc3339("2026-11-23T04:05:06.5Z").unwrap().with_timezone(&Utc);
        let rows = || {
            let mut rows = Rows::new("t", COLUMNS);
            rows.push([Value::Integer(-1), Value::Time(at), Value::Text("'\"{,}".into())]);
            rows.push([Value::Integer(2), Value::Null, Value::Text(String::new())]);
            rows
        };
        let mut script = Script::new(DbBackend::Postgres);
        script.insert(&mut rows());
        assert_eq!(
            script.sql,
            "INSERT INTO t (a, at, b) SELECT c0, c1, convert_from(decode(c2, 'hex'), 'UTF8') FROM unnest('{-1,2}'::int8[], \
             '{\"2026-11-23T04:05:06.500+00:00\",NULL}'::timestamptz[], '{\"27227b2c7d\",\"\"}'::text[]) AS u(c0, c1, c2);\n"
        );
        let mut script = Script::new(DbBackend::Sqlite);
        let mut taken = rows();
        script.insert(&mut taken);
        assert_eq!(
            script.sql,
            "INSERT INTO t (a, at, b) VALUES (-1, '2026-11-23T04:05:06.500+00:00', CAST(X'27227b2c7d' AS TEXT)), \
             (2, NULL, CAST(X'' AS TEXT));\n"
        );
        assert!(taken.is_empty(), "inserted rows are taken");
        script.insert(&mut taken);
        assert_eq!(script.sql.matches("INSERT").count(), 1, "nothing to insert adds nothing");
    }

    #[test]
    fn timestamps_are_written_as_the_driver_binds_them() {
        let at = DateTime::parse_from_rfc3339("2026-11-23T04:05:06.123456Z").unwrap().with_timezone(&Utc);
        assert_eq!(Script::new(DbBackend::Sqlite).time(at), "'2026-11-23T04:05:06.123456+00:00'");
        assert_eq!(Script::new(DbBackend::Postgres).time(at), "'2026-11-23T04:05:06.123456+00:00'::timestamptz");
    }
}
