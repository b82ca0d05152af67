use sea_orm::entity::prelude::*;

/// A rider's application and, once approved, membership of one level.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "memberships")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    pub level_id: i64,
    pub candidate_id: Option<i64>,
    /// applied, verified, approved, rejected or lapsed.
    pub status: String,
    #[sea_orm(unique)]
    pub member_number: Option<String>,
    /// JSON: what was checked at verification.
    #[sea_orm(column_type = "Text")]
    pub verification: String,
    pub welcome_entry_id: Option<i64>,
    pub approved_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
