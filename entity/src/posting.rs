use sea_orm::entity::prelude::*;

/// One side of a journal entry: a signed amount on one account (credit positive, debit negative)
/// and that account's posted balance right after it.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "postings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub entry_id: i64,
    pub account_id: i64,
    pub amount: i64,
    pub balance_after: i64,
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
