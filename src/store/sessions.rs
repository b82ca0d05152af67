//! Sessions: families of rotating refresh tokens. Only SHA-256 hashes of tokens are stored.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::StoreResult;
use entity::refresh_token;

/// What presenting a refresh token found.
pub enum RefreshOutcome {
    /// The token was current; it is now spent and the caller may issue its successor.
    Rotated { user_id: i64, family_id: String },
    /// The token was already spent or revoked: the whole family is revoked now.
    ReuseDetected,
    /// Unknown or expired.
    Invalid,
}

pub async fn start(
    connection: &impl ConnectionTrait,
    user_id: i64,
    family_id: &str,
    token_hash: String,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> StoreResult<()> {
    refresh_token::Entity::insert(refresh_token::ActiveModel {
        family_id: Set(family_id.to_owned()),
        user_id: Set(user_id),
        token_hash: Set(token_hash),
        created_at: Set(now),
        expires_at: Set(expires_at),
        replaced_at: Set(None),
        revoked_at: Set(None),
        ..Default::default()
    })
    .exec_without_returning(connection)
    .await?;
    Ok(())
}

/// Spends a refresh token. The conditional update makes two concurrent uses of one token end
/// with exactly one success: the other counts as reuse.
pub async fn spend(
    connection: &impl ConnectionTrait,
    token_hash: &str,
    now: DateTime<Utc>,
) -> StoreResult<RefreshOutcome> {
    let Some(token) =
        refresh_token::Entity::find().filter(refresh_token::Column::TokenHash.eq(token_hash)).one(connection).await?
    else {
        return Ok(RefreshOutcome::Invalid);
    };
    if token.replaced_at.is_some() || token.revoked_at.is_some() {
        revoke_family(connection, &token.family_id, now).await?;
        return Ok(RefreshOutcome::ReuseDetected);
    }
    if token.expires_at <= now {
        return Ok(RefreshOutcome::Invalid);
    }
    let spent = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::ReplacedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(token.id))
        .filter(refresh_token::Column::ReplacedAt.is_null())
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(connection)
        .await?;
    if spent.rows_affected != 1 {
        revoke_family(connection, &token.family_id, now).await?;
        return Ok(RefreshOutcome::ReuseDetected);
    }
    Ok(RefreshOutcome::Rotated { user_id: token.user_id, family_id: token.family_id })
}

pub async fn revoke_family(connection: &impl ConnectionTrait, family_id: &str, now: DateTime<Utc>) -> StoreResult<u64> {
    let result = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::FamilyId.eq(family_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(connection)
        .await?;
    Ok(result.rows_affected)
}
