//! The union's tree of levels and their accounts.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{StoreError, StoreResult, UnitOfWork, ledger};
use crate::domain::ledger::{AccountId, AccountKind};
use crate::domain::people::{Language, LevelKind, level_path};
use entity::{account, level};

#[derive(Clone, Debug)]
pub struct LevelRecord {
    pub id: i64,
    pub name: String,
    pub kind: LevelKind,
    pub parent_id: Option<i64>,
    pub path: String,
    /// When set, whoever logged hours at this level cannot approve them.
    pub approver_must_differ: bool,
    /// Points earned by riders here expire after this many months (unless a level below sets its own).
    pub points_expire_months: Option<i32>,
    /// Points posted from the level's budget to each rider approved as a member here.
    pub welcome_points: Option<crate::domain::points::Points>,
    /// The default language of texts for the people here and below (unless a level below sets its own).
    pub language: Option<Language>,
    pub budget_account_id: Option<AccountId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl LevelRecord {
    /// The id of the city at the root of this level's tree.
    pub fn root_id(&self) -> i64 {
        self.path.split('/').find(|part| !part.is_empty()).and_then(|part| part.parse().ok()).unwrap_or(self.id)
    }
}

fn record(model: level::Model, budget_account_id: Option<AccountId>) -> LevelRecord {
    LevelRecord {
        id: model.id,
        name: model.name,
        kind: LevelKind::parse(&model.kind).unwrap_or(LevelKind::Community),
        parent_id: model.parent_id,
        path: model.path,
        approver_must_differ: model.approver_must_differ,
        points_expire_months: model.points_expire_months,
        welcome_points: model.welcome_points.map(crate::domain::points::Points::from_minor),
        language: model.language.as_deref().and_then(Language::parse),
        budget_account_id,
        created_at: model.created_at,
        updated_at: model.updated_at,
    }
}

async fn budget_accounts(
    connection: &impl ConnectionTrait,
    level_ids: Option<&[i64]>,
) -> StoreResult<HashMap<i64, AccountId>> {
    let mut query = account::Entity::find()
        .select_only()
        .column(account::Column::LevelId)
        .column(account::Column::Id)
        .filter(account::Column::Kind.eq(AccountKind::Budget.as_str()));
    if let Some(level_ids) = level_ids {
        query = query.filter(account::Column::LevelId.is_in(level_ids.iter().copied()));
    }
    let rows: Vec<(i64, i64)> = query.into_tuple().all(connection).await?;
    Ok(rows.into_iter().collect())
}

pub async fn find(connection: &impl ConnectionTrait, level_id: i64) -> StoreResult<LevelRecord> {
    let model = level::Entity::find_by_id(level_id).one(connection).await?.ok_or(StoreError::NotFound("level"))?;
    let budgets = budget_accounts(connection, Some(&[level_id])).await?;
    Ok(record(model, budgets.get(&level_id).copied()))
}

/// The path of a level, or `None` if it does not exist. Paths never change, so callers may keep them.
pub async fn path_of(connection: &impl ConnectionTrait, level_id: i64) -> StoreResult<Option<String>> {
    Ok(level::Entity::find_by_id(level_id)
        .select_only()
        .column(level::Column::Path)
        .into_tuple::<String>()
        .one(connection)
        .await?)
}

/// The default language for the people at a level: its own setting, else the nearest level
/// above's; `None` when no level on the way to the city sets one.
pub async fn language_of(connection: &impl ConnectionTrait, level_id: i64) -> StoreResult<Option<Language>> {
    let Some(path) = path_of(connection, level_id).await? else { return Ok(None) };
    let ancestors: Vec<i64> = path.split('/').filter_map(|id| id.parse().ok()).collect();
    let settings: Vec<(String, String)> = level::Entity::find()
        .select_only()
        .column(level::Column::Path)
        .column(level::Column::Language)
        .filter(level::Column::Id.is_in(ancestors))
        .filter(level::Column::Language.is_not_null())
        .into_tuple()
        .all(connection)
        .await?;
    // The deepest level that sets one has the longest path.
    Ok(settings.into_iter().max_by_key(|(path, _)| path.len()).and_then(|(_, tag)| Language::parse(&tag)))
}

/// The ids of the levels at and under `root_path`.
pub async fn ids_under(connection: &impl ConnectionTrait, root_path: &str) -> StoreResult<Vec<i64>> {
    Ok(level::Entity::find()
        .select_only()
        .column(level::Column::Id)
        .filter(level::Column::Path.starts_with(root_path))
        .into_tuple()
        .all(connection)
        .await?)
}

/// Every level, or every level under `root_path`, ordered so that parents come before children.
pub async fn list(connection: &impl ConnectionTrait, root_path: Option<&str>) -> StoreResult<Vec<LevelRecord>> {
    let mut query = level::Entity::find();
    if let Some(root_path) = root_path {
        query = query.filter(level::Column::Path.starts_with(root_path));
    }
    let models = query.order_by_asc(level::Column::Id).all(connection).await?;
    let budgets = budget_accounts(connection, None).await?;
    Ok(models
        .into_iter()
        .map(|model| {
            let budget = budgets.get(&model.id).copied();
            record(model, budget)
        })
        .collect())
}

/// Creates a level with its budget account; a city also gets its issuance, redemption and breakage accounts.
pub async fn create(
    work: &UnitOfWork,
    name: String,
    kind: LevelKind,
    parent: Option<&LevelRecord>,
) -> StoreResult<LevelRecord> {
    let now = work.now();
    // The path needs the new id, so the row is written with a unique placeholder first.
    let placeholder = format!("pending:{}", uuid::Uuid::new_v4());
    let inserted = level::Entity::insert(level::ActiveModel {
        name: Set(name),
        kind: Set(kind.as_str().to_owned()),
        parent_id: Set(parent.map(|parent| parent.id)),
        path: Set(placeholder),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(work.txn())
    .await?;
    let id = inserted.last_insert_id;
    let path = level_path(parent.map(|parent| parent.path.as_str()), id);
    level::Entity::update_many()
        .col_expr(level::Column::Path, Expr::value(path))
        .filter(level::Column::Id.eq(id))
        .exec(work.txn())
        .await?;
    ledger::create_account(work.txn(), &work.context, AccountKind::Budget, id, None).await?;
    if kind == LevelKind::City {
        for account_kind in [AccountKind::Issuance, AccountKind::Redemption, AccountKind::Breakage] {
            ledger::create_account(work.txn(), &work.context, account_kind, id, None).await?;
        }
    }
    find(work.txn(), id).await
}

/// Changes to a level; absent fields stay as they are.
#[derive(Default)]
pub struct LevelChanges {
    pub name: Option<String>,
    pub approver_must_differ: Option<bool>,
    /// `Some(None)` turns expiry off.
    pub points_expire_months: Option<Option<i32>>,
    /// `Some(None)` turns welcome points off.
    pub welcome_points: Option<Option<crate::domain::points::Points>>,
    /// `Some(None)` makes the level follow the level above.
    pub language: Option<Option<Language>>,
}

/// Renames a level and/or changes its settings.
pub async fn update(work: &UnitOfWork, level_id: i64, changes: LevelChanges) -> StoreResult<LevelRecord> {
    let LevelChanges { name, approver_must_differ, points_expire_months, welcome_points, language } = changes;
    let mut update = level::Entity::update_many().col_expr(level::Column::UpdatedAt, Expr::value(work.now()));
    if let Some(name) = name {
        update = update.col_expr(level::Column::Name, Expr::value(name));
    }
    if let Some(approver_must_differ) = approver_must_differ {
        update = update.col_expr(level::Column::ApproverMustDiffer, Expr::value(approver_must_differ));
    }
    if let Some(months) = points_expire_months {
        update = update.col_expr(level::Column::PointsExpireMonths, Expr::value(months));
    }
    if let Some(points) = welcome_points {
        update = update.col_expr(level::Column::WelcomePoints, Expr::value(points.map(|points| points.minor())));
    }
    if let Some(language) = language {
        update = update.col_expr(level::Column::Language, Expr::value(language.map(Language::tag)));
    }
    let result = update.filter(level::Column::Id.eq(level_id)).exec(work.txn()).await?;
    if result.rows_affected == 0 {
        return Err(StoreError::NotFound("level"));
    }
    find(work.txn(), level_id).await
}
