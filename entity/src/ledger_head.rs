use sea_orm::entity::prelude::*;

/// The single row that heads the journal's hash chain; appending an entry locks it.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ledger_head")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub last_entry_id: i64,
    pub last_hash: String,
    pub last_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
