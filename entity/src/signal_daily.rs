use sea_orm::entity::prelude::*;

/// Events per subject, partner, kind, local day and area, summed as they arrive, so that inference
/// never rescans raw events.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signal_daily")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The subject (`signal_subjects`): an integer, so a rule's window groups fast.
    pub subject_id: i64,
    pub partner_id: i64,
    pub kind: String,
    /// Local (UTC+8) day, YYYY-MM-DD.
    pub day: String,
    /// The area, or "" when none was given.
    pub area: String,
    pub count: i64,
}

impl ActiveModelBehavior for ActiveModel {}
