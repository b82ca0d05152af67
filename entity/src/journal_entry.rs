use sea_orm::entity::prelude::*;

/// An immutable journal entry. `id` is the position in the hash chain, assigned under the chain head.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "journal_entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    pub kind: String,
    pub reason: String,
    pub reference_type: Option<String>,
    pub reference_id: Option<String>,
    pub actor_id: Option<i64>,
    pub created_at: DateTimeUtc,
    #[sea_orm(unique)]
    pub reverses_entry_id: Option<i64>,
    pub prev_hash: String,
    pub hash: String,
}

impl ActiveModelBehavior for ActiveModel {}
