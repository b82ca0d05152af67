use sea_orm::entity::prelude::*;

/// One version of a category's point rule. Versions are never changed; a new rule is a new version.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "category_rules")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub category_code: String,
    pub version: i32,
    pub points_per_hour: i64,
    pub points_per_report: Option<i64>,
    pub bonus_completed: i64,
    pub bonus_commended: i64,
    pub bonus_outstanding: i64,
    /// Multiplier in basis points (10000 = ×1) for service starting inside the window.
    pub multiplier_bp: i64,
    pub multiplier_from: Option<DateTimeUtc>,
    pub multiplier_until: Option<DateTimeUtc>,
    pub multiplier_label: Option<String>,
    pub daily_cap_minutes: i64,
    pub created_at: DateTimeUtc,
    pub created_by: Option<i64>,
}

impl ActiveModelBehavior for ActiveModel {}
