use sea_orm::entity::prelude::*;

/// A level a partner serves: its candidates are assigned there.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "partner_levels")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub partner_id: i64,
    pub level_id: i64,
}

impl ActiveModelBehavior for ActiveModel {}
