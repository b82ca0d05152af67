use sea_orm::entity::prelude::*;

/// A subject of partner signals (a keyed hash of a phone number or of a partner's own reference),
/// numbered once so that daily counts carry an integer.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signal_subjects")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub subject_key: String,
}

impl ActiveModelBehavior for ActiveModel {}
