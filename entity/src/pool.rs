use sea_orm::entity::prelude::*;

/// A collective redemption: riders pledge points towards a goal before a deadline.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pools")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub level_id: i64,
    pub title: String,
    pub beneficiary: String,
    pub reward_id: Option<i64>,
    pub quantity: Option<i64>,
    /// Points to reach, in hundredths.
    pub goal: i64,
    /// Points pledged and still held, in hundredths.
    pub pledged: i64,
    pub deadline: DateTimeUtc,
    /// open, fulfilled, refunded or cancelled.
    pub status: String,
    pub entry_id: Option<i64>,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub closed_at: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}
