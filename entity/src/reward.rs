use sea_orm::entity::prelude::*;

/// Something riders can redeem points for, offered by a level to its subtree.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rewards")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub level_id: i64,
    pub name_zh: String,
    pub name_en: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    /// Points per item, in hundredths.
    pub cost: i64,
    /// goods, cash_bonus or donation.
    pub kind: String,
    /// For a cash bonus: its value in fen (hundredths of a yuan).
    pub cash_value_fen: Option<i64>,
    /// Items left to redeem; `None`: unlimited. Redemptions reserve from it; cancellations return.
    pub stock_remaining: Option<i64>,
    pub limit_count: Option<i32>,
    /// day, week, month or year (local time).
    pub limit_period: Option<String>,
    pub valid_from: Option<DateTimeUtc>,
    pub valid_until: Option<DateTimeUtc>,
    pub active: bool,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
