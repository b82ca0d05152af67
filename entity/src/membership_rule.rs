use sea_orm::entity::prelude::*;

/// A rule that turns signals into membership candidates. Each change bumps its version.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "membership_rules")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub version: i32,
    pub kind: String,
    pub window_days: i32,
    pub min_count: i64,
    pub min_active_days: i32,
    /// JSON array of partner ids, or null for all partners.
    pub partner_ids: Option<String>,
    /// JSON array of areas, or null for all areas.
    pub areas: Option<String>,
    pub active: bool,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
