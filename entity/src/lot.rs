use sea_orm::entity::prelude::*;

/// Points credited to a rider's account by one entry, spent oldest-expiring first. The remaining
/// amounts of an account's lots always sum to its posted balance.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "lots")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: i64,
    pub entry_id: i64,
    pub amount: i64,
    pub remaining: i64,
    pub earned_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}
