use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub username: String,
    /// admin, organizer, auditor or rider.
    pub role: String,
    pub level_id: Option<i64>,
    pub display_name: String,
    /// Normalised mainland mobile number (riders only).
    pub phone: Option<String>,
    /// Keyed hash of the phone number: how partner signals find the rider without storing numbers twice.
    pub phone_key: Option<String>,
    pub password_hash: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
