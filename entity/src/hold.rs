use sea_orm::entity::prelude::*;

/// A pending (two-phase) transfer: it reduces the available balance of `from_account_id` until it
/// is posted, voided or expires.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "holds")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub from_account_id: i64,
    pub to_account_id: i64,
    pub amount: i64,
    /// The kind of the entry that posting the hold makes (adjustment, redemption, pledge...).
    pub kind: String,
    /// pending, posted, voided or expired.
    pub status: String,
    pub reason: String,
    pub reference_type: Option<String>,
    pub reference_id: Option<String>,
    pub actor_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub resolved_at: Option<DateTimeUtc>,
    pub posted_entry_id: Option<i64>,
    pub posted_amount: Option<i64>,
}

impl ActiveModelBehavior for ActiveModel {}
