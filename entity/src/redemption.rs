use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "redemptions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub reward_id: i64,
    /// The reward's level, kept here for scope checks.
    pub level_id: i64,
    pub rider_id: i64,
    pub quantity: i64,
    /// Points held, in hundredths.
    pub cost: i64,
    /// pending, fulfilled, cancelled or expired.
    pub status: String,
    pub pickup_code: String,
    pub hold_id: i64,
    pub entry_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub closed_at: Option<DateTimeUtc>,
    pub closed_by: Option<i64>,
}

impl ActiveModelBehavior for ActiveModel {}
