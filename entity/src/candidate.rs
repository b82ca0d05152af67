use sea_orm::entity::prelude::*;

/// A subject that some rule found active enough to be invited, with the evidence.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "candidates")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub subject_key: String,
    pub level_id: i64,
    /// candidate, invited or applied.
    pub status: String,
    pub rule_id: i64,
    pub rule_version: i32,
    /// JSON: counts, distinct days, first and last seen, partners, the rule's criteria.
    #[sea_orm(column_type = "Text")]
    pub evidence: String,
    pub invited_at: Option<DateTimeUtc>,
    pub invited_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
