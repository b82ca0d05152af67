use sea_orm::entity::prelude::*;

/// Volunteer time of one rider at one activity, from check-in or logged by an organizer.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "hour_logs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub activity_id: i64,
    pub rider_id: i64,
    /// The activity's level, kept here so scope checks need no join.
    pub level_id: i64,
    pub category_code: String,
    /// When the service started: the check-in or given time, else the activity's start.
    pub served_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub ended_at: Option<DateTimeUtc>,
    pub minutes: i64,
    /// check_in (verified hours) or organizer (honor hours).
    pub source: String,
    pub outcome: String,
    /// JSON array of URLs.
    #[sea_orm(column_type = "Text")]
    pub evidence_urls: String,
    pub note: Option<String>,
    /// checked_in, pending, approved, rejected or reversed.
    pub status: String,
    pub logged_by: Option<i64>,
    pub decided_by: Option<i64>,
    pub decided_at: Option<DateTimeUtc>,
    pub rejection_reason: Option<String>,
    pub rule_version: Option<i32>,
    pub points: Option<i64>,
    pub award_entry_id: Option<i64>,
    pub reversal_entry_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
