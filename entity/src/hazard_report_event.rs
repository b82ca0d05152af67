use sea_orm::entity::prelude::*;

/// One step of a hazard report, timestamped, visible to the rider.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "hazard_report_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub report_id: i64,
    pub status: String,
    pub note: Option<String>,
    pub actor_id: Option<i64>,
    pub at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
