use sea_orm::entity::prelude::*;

/// A points account with its running totals (TigerBeetle-style posted and pending debits and credits).
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// rider, budget, issuance, redemption, breakage.
    pub kind: String,
    /// The level the account belongs to (the rider's level for a rider account); decides who may see it.
    pub level_id: i64,
    /// The rider who owns a rider account.
    #[sea_orm(unique)]
    pub user_id: Option<i64>,
    /// Debits (posted and pending) may never exceed posted credits.
    pub no_overdraft: bool,
    pub debits_posted: i64,
    pub credits_posted: i64,
    pub debits_pending: i64,
    pub credits_pending: i64,
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
