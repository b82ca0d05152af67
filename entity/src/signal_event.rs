use sea_orm::entity::prelude::*;

/// One event a partner sent, counted once per partner and event id. The subject is a keyed hash.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signal_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub partner_id: i64,
    pub event_id: String,
    pub subject_key: String,
    pub kind: String,
    pub occurred_at: DateTimeUtc,
    pub quantity: i64,
    pub area: Option<String>,
    pub received_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
