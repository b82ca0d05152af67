//! Statements written by hand, with every value bound: placeholders as each database spells them,
//! and many rows bound as one value, so that a statement's text is the same whatever it carries
//! and is prepared once per connection (a thousand-row `VALUES` list is a new statement each time,
//! parsed and planned again, and SQLite keeps each one in the server's memory).

use chrono::{DateTime, Utc};
use sea_orm::{DbBackend, Statement, Value};

use super::script::driver_time;

pub(super) struct Bound {
    backend: DbBackend,
    values: Vec<Value>,
}

impl Bound {
    pub(super) fn new(backend: DbBackend) -> Bound {
        Bound { backend, values: Vec::new() }
    }

    /// Binds a value; its placeholder, to be written once (SQLite's are positional).
    pub(super) fn value(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".to_owned(),
        }
    }

    /// Binds every value of a list; their placeholders, comma-separated.
    pub(super) fn list<T: Clone + Into<Value>>(&mut self, values: &[T]) -> String {
        values.iter().map(|value| self.value(value.clone())).collect::<Vec<_>>().join(", ")
    }

    /// Binds rows; a table `u` of them, with the columns' names, to select from. On PostgreSQL one
    /// array per column (`unnest`); on SQLite one JSON array of rows (`json_each`).
    pub(super) fn rows(&mut self, rows: Columns) -> String {
        let names: Vec<&str> = rows.columns.iter().map(|(name, _)| *name).collect();
        match self.backend {
            DbBackend::Postgres => {
                let arrays: Vec<String> = rows
                    .columns
                    .into_iter()
                    .map(|(_, column)| {
                        let (value, array): (Value, _) = match column {
                            Column::Text(values) => (values.into(), "varchar[]"),
                            Column::Integer(values) => (values.into(), "int8[]"),
                            Column::Time(values) => (values.into(), "timestamptz[]"),
                        };
                        format!("{}::{array}", self.value(value))
                    })
                    .collect();
                format!("unnest({}) AS u({})", arrays.join(", "), names.join(", "))
            }
            _ => {
                let selected: Vec<String> =
                    names.iter().enumerate().map(|(index, name)| format!("e.value ->> {index} AS {name}")).collect();
                let table = rows.into_json().to_string();
                format!("(SELECT {} FROM json_each({}) AS e) AS u", selected.join(", "), self.value(table))
            }
        }
    }

    pub(super) fn statement(self, sql: &str) -> Statement {
        Statement::from_sql_and_values(self.backend, sql, self.values)
    }
}

/// Rows to bind, column by column: every column holds one value per row.
#[derive(Default)]
pub(super) struct Columns {
    columns: Vec<(&'static str, Column)>,
}

enum Column {
    Text(Vec<String>),
    Integer(Vec<i64>),
    Time(Vec<DateTime<Utc>>),
}

impl Columns {
    pub(super) fn text(mut self, name: &'static str, values: impl IntoIterator<Item = String>) -> Columns {
        self.columns.push((name, Column::Text(values.into_iter().collect())));
        self
    }

    pub(super) fn integer(mut self, name: &'static str, values: impl IntoIterator<Item = i64>) -> Columns {
        self.columns.push((name, Column::Integer(values.into_iter().collect())));
        self
    }

    pub(super) fn time(mut self, name: &'static str, values: impl IntoIterator<Item = DateTime<Utc>>) -> Columns {
        self.columns.push((name, Column::Time(values.into_iter().collect())));
        self
    }

    fn len(&self) -> usize {
        self.columns.first().map_or(0, |(_, column)| match column {
            Column::Text(values) => values.len(),
            Column::Integer(values) => values.len(),
            Column::Time(values) => values.len(),
        })
    }

    /// Row by row, each row an array of its columns' values (timestamps as SQLite keeps them).
    fn into_json(self) -> serde_json::Value {
        let mut rows = vec![Vec::with_capacity(self.columns.len()); self.len()];
        for (name, column) in self.columns {
            let values: Vec<serde_json::Value> = match column {
                Column::Text(values) => values.into_iter().map(serde_json::Value::from).collect(),
                Column::Integer(values) => values.into_iter().map(serde_json::Value::from).collect(),
                Column::Time(values) => values.into_iter().map(|at| driver_time(at).into()).collect(),
            };
            debug_assert_eq!(values.len(), rows.len(), "a value per row in column {name}");
            for (row, value) in rows.iter_mut().zip(values) {
                row.push(value);
            }
        }
        rows.into_iter().map(serde_json::Value::from).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Columns {
        let at = DateTime::parse_from_rfc3339("2026-12-02T04:05:06.5Z").unwrap().with_timezone(&Utc);
        Columns::default()
            .text("name", ["a'b\"c".to_owned(), "奶茶".to_owned()])
            .integer("count", [1, -2])
            .time("at", [at, at])
    }

    #[test]
    fn rows_are_one_array_per_column_on_postgres() {
        let mut bound = Bound::new(DbBackend::Postgres);
        let first = bound.value(7i64);
        let table = bound.rows(columns());
        assert_eq!(first, "$1");
        assert_eq!(table, "unnest($2::varchar[], $3::int8[], $4::timestamptz[]) AS u(name, count, at)");
        let statement = bound.statement(&format!("SELECT * FROM {table}"));
        assert_eq!(statement.values.map(|values| values.0.len()), Some(4));
    }

    #[test]
    fn rows_are_one_json_array_of_rows_on_sqlite() {
        let mut bound = Bound::new(DbBackend::Sqlite);
        let table = bound.rows(columns());
        assert_eq!(
            table,
            "(SELECT e.value ->> 0 AS name, e.value ->> 1 AS count, e.value ->> 2 AS at FROM json_each(?) AS e) AS u"
        );
        let statement = bound.statement(&table);
        let values = statement.values.expect("bound values").0;
        assert_eq!(
            values,
            [Value::from(
                r#"[["a'b\"c",1,"2026-12-02T04:05:06.500+00:00"],["奶茶",-2,"2026-12-02T04:05:06.500+00:00"]]"#
            )]
        );
    }
}
