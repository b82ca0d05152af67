use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pledges")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub pool_id: i64,
    pub rider_id: i64,
    pub amount: i64,
    pub hold_id: i64,
    /// pending, fulfilled, withdrawn or refunded.
    pub status: String,
    pub created_at: DateTimeUtc,
    pub closed_at: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}
