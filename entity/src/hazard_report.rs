use sea_orm::entity::prelude::*;

/// A hazard a rider saw on their route (随手拍).
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "hazard_reports")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub rider_id: i64,
    /// The rider's level: its organizers (and those above) handle the report.
    pub level_id: i64,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub place: String,
    /// JSON array of URLs.
    #[sea_orm(column_type = "Text")]
    pub photo_urls: String,
    /// filed, acknowledged, assigned, resolved, confirmed or dismissed.
    pub status: String,
    pub award_entry_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
