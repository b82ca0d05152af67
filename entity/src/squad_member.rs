use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "squad_members")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub squad_id: i64,
    pub user_id: i64,
    pub added_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
