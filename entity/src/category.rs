use sea_orm::entity::prelude::*;

/// A kind of volunteer service, such as emergency response (应急抢险).
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "categories")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub sort_order: i32,
}

impl ActiveModelBehavior for ActiveModel {}
