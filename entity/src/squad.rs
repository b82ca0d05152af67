use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "squads")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub level_id: i64,
    pub name: String,
    pub category_code: String,
    pub leader_user_id: Option<i64>,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
