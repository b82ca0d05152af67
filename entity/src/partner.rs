use sea_orm::entity::prelude::*;

/// A battery-swap operator or delivery platform that signs in as a machine client.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "partners")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// battery_swap, delivery_platform or other.
    pub kind: String,
    #[sea_orm(unique)]
    pub client_id: String,
    /// argon2id hash of the client secret.
    pub secret_hash: String,
    /// The secret before the last rotation, valid until `previous_valid_until`.
    pub previous_secret_hash: Option<String>,
    pub previous_valid_until: Option<DateTimeUtc>,
    pub active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
