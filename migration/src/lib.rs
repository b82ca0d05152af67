//! Schema migrations. They run on every start of the service and in every test, on SQLite and
//! PostgreSQL alike, so the schema the tests see is the schema production gets.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_people;
mod m20261122_000002_ledger;
mod m20261122_000003_volunteering;
mod m20261122_000004_spending;
mod m20261122_000005_membership;
mod m20261123_000006_level_language;
mod m20261123_000007_lot_spending_order;
mod m20261202_000008_signal_subjects;
mod m20261203_000009_journal_references;

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_people::Migration),
            Box::new(m20261122_000002_ledger::Migration),
            Box::new(m20261122_000003_volunteering::Migration),
            Box::new(m20261122_000004_spending::Migration),
            Box::new(m20261122_000005_membership::Migration),
            Box::new(m20261123_000006_level_language::Migration),
            Box::new(m20261123_000007_lot_spending_order::Migration),
            Box::new(m20261202_000008_signal_subjects::Migration),
            Box::new(m20261203_000009_journal_references::Migration),
        ]
    }
}

/// Creates an index; names are prefixed with the table so they are unique per database.
pub(crate) fn index(table: &'static str, columns: &[&'static str], unique: bool) -> IndexCreateStatement {
    let mut statement = Index::create();
    statement.name(format!("ix_{table}_{}", columns.join("_"))).table(table);
    for column in columns {
        statement.col(*column);
    }
    if unique {
        statement.unique();
    }
    statement
}
