//! People: staff and riders.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::{Page, StoreError, StoreResult, UnitOfWork, ledger};
use crate::domain::ledger::{AccountId, AccountKind};
use crate::domain::people::Role;
use entity::{account, user};

#[derive(Clone, Debug)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub level_id: Option<i64>,
    pub display_name: String,
    pub phone: Option<String>,
    pub phone_key: Option<String>,
    pub password_hash: String,
    pub account_id: Option<AccountId>,
    pub created_at: DateTime<Utc>,
}

pub struct NewUser {
    pub username: String,
    pub role: Role,
    pub level_id: Option<i64>,
    pub display_name: String,
    pub phone: Option<String>,
    /// Keyed hash of the phone number, to match partner signals.
    pub phone_key: Option<String>,
    pub password_hash: String,
}

fn record(model: user::Model, account_id: Option<AccountId>) -> UserRecord {
    UserRecord {
        id: model.id,
        username: model.username,
        role: Role::parse(&model.role).unwrap_or(Role::Rider),
        level_id: model.level_id,
        display_name: model.display_name,
        phone: model.phone,
        phone_key: model.phone_key,
        password_hash: model.password_hash,
        account_id,
        created_at: model.created_at,
    }
}

async fn with_account(connection: &impl ConnectionTrait, model: user::Model) -> StoreResult<UserRecord> {
    let account_id = if model.role == Role::Rider.as_str() {
        account::Entity::find()
            .select_only()
            .column(account::Column::Id)
            .filter(account::Column::UserId.eq(model.id))
            .into_tuple::<i64>()
            .one(connection)
            .await?
    } else {
        None
    };
    Ok(record(model, account_id))
}

/// Creates a person; a rider also gets a points account.
pub async fn create(work: &UnitOfWork, new_user: NewUser) -> StoreResult<UserRecord> {
    let now = work.now();
    let role = new_user.role;
    let inserted = user::Entity::insert(user::ActiveModel {
        username: Set(new_user.username),
        role: Set(role.as_str().to_owned()),
        level_id: Set(new_user.level_id),
        display_name: Set(new_user.display_name),
        phone: Set(new_user.phone),
        phone_key: Set(new_user.phone_key),
        password_hash: Set(new_user.password_hash),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(work.txn())
    .await
    .map_err(|error| {
        if StoreError::is_unique_violation(&error) {
            StoreError::Conflict("that username is already taken".into())
        } else {
            error.into()
        }
    })?;
    let id = inserted.last_insert_id;
    if role == Role::Rider {
        let level_id = new_user.level_id.ok_or(StoreError::NotFound("level"))?;
        ledger::create_account(work.txn(), &work.context, AccountKind::Rider, level_id, Some(id)).await?;
    }
    find(work.txn(), id).await
}

pub async fn find(connection: &impl ConnectionTrait, user_id: i64) -> StoreResult<UserRecord> {
    let model = user::Entity::find_by_id(user_id).one(connection).await?.ok_or(StoreError::NotFound("user"))?;
    with_account(connection, model).await
}

pub async fn find_by_username(connection: &impl ConnectionTrait, username: &str) -> StoreResult<Option<UserRecord>> {
    match user::Entity::find().filter(user::Column::Username.eq(username)).one(connection).await? {
        Some(model) => Ok(Some(with_account(connection, model).await?)),
        None => Ok(None),
    }
}

pub async fn count(connection: &impl ConnectionTrait) -> StoreResult<u64> {
    Ok(user::Entity::find().count(connection).await?)
}

/// People, optionally only those at levels under `root_path` and of one role, by id.
pub async fn list(
    connection: &impl ConnectionTrait,
    root_path: Option<&str>,
    role: Option<Role>,
    limit: u64,
    cursor: Option<i64>,
) -> StoreResult<Page<UserRecord>> {
    let mut query = user::Entity::find();
    if let Some(root_path) = root_path {
        query = query.filter(user::Column::LevelId.is_in(super::levels::ids_under(connection, root_path).await?));
    }
    if let Some(role) = role {
        query = query.filter(user::Column::Role.eq(role.as_str()));
    }
    if let Some(cursor) = cursor {
        query = query.filter(user::Column::Id.gt(cursor));
    }
    let models = query.order_by_asc(user::Column::Id).limit(limit + 1).all(connection).await?;
    let user_ids: Vec<i64> = models.iter().map(|model| model.id).collect();
    let accounts: std::collections::HashMap<i64, i64> = account::Entity::find()
        .select_only()
        .column(account::Column::UserId)
        .column(account::Column::Id)
        .filter(account::Column::UserId.is_in(user_ids))
        .into_tuple::<(i64, i64)>()
        .all(connection)
        .await?
        .into_iter()
        .collect();
    let records = models.into_iter().map(|model| {
        let account_id = accounts.get(&model.id).copied();
        record(model, account_id)
    });
    Ok(Page::from_rows(records.collect(), limit, |record: &UserRecord| record.id))
}

/// Riders by the keyed hash of their phone number.
pub async fn ids_by_phone_key(
    connection: &impl ConnectionTrait,
    keys: &[String],
) -> StoreResult<std::collections::HashMap<String, i64>> {
    let mut found = std::collections::HashMap::new();
    for chunk in keys.chunks(500) {
        let rows: Vec<(Option<String>, i64)> = user::Entity::find()
            .select_only()
            .column(user::Column::PhoneKey)
            .column(user::Column::Id)
            .filter(user::Column::PhoneKey.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(connection)
            .await?;
        found.extend(rows.into_iter().filter_map(|(key, id)| key.map(|key| (key, id))));
    }
    Ok(found)
}
