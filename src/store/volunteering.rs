//! Categories and their rules, squads, activities, hour logs and hazard reports.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, ExprTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::ledger::{self, EntryDraft, EntryRecord, Reference};
use super::{Page, StoreError, StoreResult, UnitOfWork};
use crate::domain::ledger::{AccountKind, EntryKind, Transfer, transfers_to_postings};
use crate::domain::people::Role;
use crate::domain::points::Points;
use crate::domain::volunteering::{
    ActivityStatus, ActivityWindow, CheckedHours, ExistingLog, HazardStatus, HourSource, HourStatus, MULTIPLIER_ONE_BP,
    Outcome, Rule, minutes_to_hours,
};
use entity::{
    activity, category, category_rule, hazard_report, hazard_report_event, hour_log, squad, squad_member, user,
};

/// The categories every union starts with, and their first rules (points per hour, per report).
const DEFAULT_CATEGORIES: &[(&str, &str, &str, i64, Option<i64>)] = &[
    ("emergency_response", "应急抢险", "Emergency response", 1000, None),
    ("repair_service", "维修服务", "Repair service", 800, None),
    ("city_duty", "城市值班", "City duty", 500, None),
    ("safety_sentinel", "骑行哨兵", "Safety sentinel", 600, None),
    ("medicine_delivery", "先锋配送", "Medicine delivery", 800, None),
    ("community_service", "社区服务", "Community service", 500, None),
    ("hazard_report", "隐患随手拍", "Hazard report", 0, Some(500)),
];

#[derive(Clone, Debug)]
pub struct CategoryRecord {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub rule: Rule,
    pub rule_created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct SquadRecord {
    pub id: i64,
    pub level_id: i64,
    pub name: String,
    pub category_code: String,
    pub leader_user_id: Option<i64>,
    pub member_ids: Vec<i64>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct ActivityRecord {
    pub id: i64,
    pub level_id: i64,
    pub squad_id: Option<i64>,
    pub title: String,
    pub category_code: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub place: String,
    pub status: ActivityStatus,
    pub checkin_code: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ActivityRecord {
    pub fn window(&self) -> ActivityWindow {
        ActivityWindow { status: self.status, starts_at: self.starts_at, ends_at: self.ends_at }
    }
}

pub type HourLogRecord = hour_log::Model;

#[derive(Clone, Debug)]
pub struct HazardReportRecord {
    pub report: hazard_report::Model,
    pub events: Vec<hazard_report_event::Model>,
}

/// A new activity, as validated by the caller.
pub struct NewActivity {
    pub level_id: i64,
    pub squad_id: Option<i64>,
    pub title: String,
    pub category_code: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub place: String,
}

/// Seeds the default categories and their first rules once (concurrent starts are harmless).
pub async fn ensure_default_categories(connection: &DatabaseConnection, now: DateTime<Utc>) -> StoreResult<()> {
    for (order, (code, name_zh, name_en, per_hour, per_report)) in DEFAULT_CATEGORIES.iter().enumerate() {
        let inserted = category::Entity::insert(category::ActiveModel {
            code: Set((*code).to_owned()),
            name_zh: Set((*name_zh).to_owned()),
            name_en: Set((*name_en).to_owned()),
            sort_order: Set(order as i32),
        })
        .on_conflict_do_nothing_on([category::Column::Code])
        .exec_without_returning(connection)
        .await?;
        if !matches!(inserted, sea_orm::TryInsertResult::Inserted(count) if count > 0) {
            continue;
        }
        let rule = Rule {
            version: 1,
            points_per_hour: Points::from_minor(*per_hour),
            points_per_report: per_report.map(Points::from_minor),
            bonus_completed: Points::ZERO,
            bonus_commended: Points::from_minor(500),
            bonus_outstanding: Points::from_minor(1000),
            multiplier_bp: MULTIPLIER_ONE_BP,
            multiplier_window: None,
            multiplier_label: None,
            daily_cap_minutes: 12 * 60,
        };
        category_rule::Entity::insert(rule_model(code, &rule, now, None))
            .on_conflict_do_nothing_on([category_rule::Column::CategoryCode, category_rule::Column::Version])
            .exec_without_returning(connection)
            .await?;
    }
    Ok(())
}

fn rule_model(code: &str, rule: &Rule, now: DateTime<Utc>, created_by: Option<i64>) -> category_rule::ActiveModel {
    category_rule::ActiveModel {
        category_code: Set(code.to_owned()),
        version: Set(rule.version),
        points_per_hour: Set(rule.points_per_hour.minor()),
        points_per_report: Set(rule.points_per_report.map(Points::minor)),
        bonus_completed: Set(rule.bonus_completed.minor()),
        bonus_commended: Set(rule.bonus_commended.minor()),
        bonus_outstanding: Set(rule.bonus_outstanding.minor()),
        multiplier_bp: Set(rule.multiplier_bp),
        multiplier_from: Set(rule.multiplier_window.map(|window| window.0)),
        multiplier_until: Set(rule.multiplier_window.map(|window| window.1)),
        multiplier_label: Set(rule.multiplier_label.clone()),
        daily_cap_minutes: Set(rule.daily_cap_minutes),
        created_at: Set(now),
        created_by: Set(created_by),
        ..Default::default()
    }
}

fn rule_record(model: &category_rule::Model) -> Rule {
    Rule {
        version: model.version,
        points_per_hour: Points::from_minor(model.points_per_hour),
        points_per_report: model.points_per_report.map(Points::from_minor),
        bonus_completed: Points::from_minor(model.bonus_completed),
        bonus_commended: Points::from_minor(model.bonus_commended),
        bonus_outstanding: Points::from_minor(model.bonus_outstanding),
        multiplier_bp: model.multiplier_bp,
        multiplier_window: model.multiplier_from.zip(model.multiplier_until),
        multiplier_label: model.multiplier_label.clone(),
        daily_cap_minutes: model.daily_cap_minutes,
    }
}

/// Every category with its current rule, in their display order.
pub async fn categories(connection: &impl ConnectionTrait) -> StoreResult<Vec<CategoryRecord>> {
    let categories = category::Entity::find().order_by_asc(category::Column::SortOrder).all(connection).await?;
    let mut latest: HashMap<String, category_rule::Model> = HashMap::new();
    for rule in category_rule::Entity::find().all(connection).await? {
        match latest.get(&rule.category_code) {
            Some(current) if current.version >= rule.version => {}
            _ => {
                latest.insert(rule.category_code.clone(), rule);
            }
        }
    }
    Ok(categories
        .into_iter()
        .filter_map(|category| {
            let rule = latest.get(&category.code)?;
            Some(CategoryRecord {
                code: category.code,
                name_zh: category.name_zh,
                name_en: category.name_en,
                rule: rule_record(rule),
                rule_created_at: rule.created_at,
            })
        })
        .collect())
}

pub async fn category(connection: &impl ConnectionTrait, code: &str) -> StoreResult<CategoryRecord> {
    let model =
        category::Entity::find_by_id(code.to_owned()).one(connection).await?.ok_or(StoreError::NotFound("category"))?;
    let rule = category_rule::Entity::find()
        .filter(category_rule::Column::CategoryCode.eq(code))
        .order_by_desc(category_rule::Column::Version)
        .one(connection)
        .await?
        .ok_or(StoreError::NotFound("category rule"))?;
    Ok(CategoryRecord {
        code: model.code,
        name_zh: model.name_zh,
        name_en: model.name_en,
        rule: rule_record(&rule),
        rule_created_at: rule.created_at,
    })
}

/// Writes a new version of a category's rule; past awards keep the version they used.
pub async fn put_rule(work: &UnitOfWork, code: &str, mut rule: Rule) -> StoreResult<CategoryRecord> {
    let current = category(work.txn(), code).await?;
    rule.version = current.rule.version + 1;
    category_rule::Entity::insert(rule_model(code, &rule, work.now(), work.context.actor_id))
        .exec_without_returning(work.txn())
        .await
        .map_err(|error| {
            if StoreError::is_unique_violation(&error) {
                StoreError::Conflict("the rule was changed by another request at the same time; try again".into())
            } else {
                error.into()
            }
        })?;
    category(work.txn(), code).await
}

/// Of these user ids, those that are riders at a level under `root_path`, with their display names.
pub async fn riders_within(
    connection: &impl ConnectionTrait,
    user_ids: &[i64],
    root_path: &str,
) -> StoreResult<HashMap<i64, String>> {
    if user_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let level_ids = super::levels::ids_under(connection, root_path).await?;
    let mut found = HashMap::new();
    for chunk in user_ids.chunks(500) {
        let rows: Vec<(i64, String)> = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .column(user::Column::DisplayName)
            .filter(user::Column::Id.is_in(chunk.iter().copied()))
            .filter(user::Column::Role.eq(Role::Rider.as_str()))
            .filter(user::Column::LevelId.is_in(level_ids.iter().copied()))
            .into_tuple()
            .all(connection)
            .await?;
        found.extend(rows);
    }
    Ok(found)
}

/// The user ids of riders registered with these (normalised) phone numbers.
pub async fn riders_by_phone(
    connection: &impl ConnectionTrait,
    phones: &[String],
) -> StoreResult<HashMap<String, i64>> {
    let mut found = HashMap::new();
    for chunk in phones.chunks(500) {
        let rows: Vec<(String, i64)> = user::Entity::find()
            .select_only()
            .column(user::Column::Username)
            .column(user::Column::Id)
            .filter(user::Column::Username.is_in(chunk.iter().cloned()))
            .filter(user::Column::Role.eq(Role::Rider.as_str()))
            .into_tuple()
            .all(connection)
            .await?;
        found.extend(rows);
    }
    Ok(found)
}

pub async fn create_squad(
    work: &UnitOfWork,
    level_id: i64,
    name: String,
    category_code: &str,
    leader_user_id: Option<i64>,
) -> StoreResult<SquadRecord> {
    let inserted = squad::Entity::insert(squad::ActiveModel {
        level_id: Set(level_id),
        name: Set(name),
        category_code: Set(category_code.to_owned()),
        leader_user_id: Set(leader_user_id),
        created_by: Set(work.context.actor_id),
        created_at: Set(work.now()),
        ..Default::default()
    })
    .exec(work.txn())
    .await?;
    squad_by_id(work.txn(), inserted.last_insert_id).await
}

pub async fn squad_by_id(connection: &impl ConnectionTrait, squad_id: i64) -> StoreResult<SquadRecord> {
    let model = squad::Entity::find_by_id(squad_id).one(connection).await?.ok_or(StoreError::NotFound("squad"))?;
    let member_ids: Vec<i64> = squad_member::Entity::find()
        .select_only()
        .column(squad_member::Column::UserId)
        .filter(squad_member::Column::SquadId.eq(squad_id))
        .order_by_asc(squad_member::Column::Id)
        .into_tuple()
        .all(connection)
        .await?;
    Ok(SquadRecord {
        id: model.id,
        level_id: model.level_id,
        name: model.name,
        category_code: model.category_code,
        leader_user_id: model.leader_user_id,
        member_ids,
        created_at: model.created_at,
    })
}

/// Squads at levels under `root_path` (all of them when `None`).
pub async fn squads(connection: &impl ConnectionTrait, root_path: Option<&str>) -> StoreResult<Vec<squad::Model>> {
    let mut query = squad::Entity::find();
    if let Some(root_path) = root_path {
        query = query.filter(squad::Column::LevelId.is_in(super::levels::ids_under(connection, root_path).await?));
    }
    Ok(query.order_by_asc(squad::Column::Id).all(connection).await?)
}

/// Adds riders to a squad; returns those newly added (riders already in it are left alone).
pub async fn add_squad_members(work: &UnitOfWork, squad_id: i64, user_ids: &[i64]) -> StoreResult<Vec<i64>> {
    let existing: HashSet<i64> = squad_member::Entity::find()
        .select_only()
        .column(squad_member::Column::UserId)
        .filter(squad_member::Column::SquadId.eq(squad_id))
        .into_tuple::<i64>()
        .all(work.txn())
        .await?
        .into_iter()
        .collect();
    let new: Vec<i64> = user_ids.iter().copied().filter(|id| !existing.contains(id)).collect();
    for chunk in new.chunks(1_000) {
        squad_member::Entity::insert_many(chunk.iter().map(|user_id| squad_member::ActiveModel {
            squad_id: Set(squad_id),
            user_id: Set(*user_id),
            added_at: Set(work.now()),
            ..Default::default()
        }))
        .exec_without_returning(work.txn())
        .await?;
    }
    Ok(new)
}

fn activity_record(model: activity::Model) -> ActivityRecord {
    ActivityRecord {
        id: model.id,
        level_id: model.level_id,
        squad_id: model.squad_id,
        title: model.title,
        category_code: model.category_code,
        starts_at: model.starts_at,
        ends_at: model.ends_at,
        place: model.place,
        status: ActivityStatus::parse(&model.status).unwrap_or(ActivityStatus::Planned),
        checkin_code: model.checkin_code,
        created_at: model.created_at,
        updated_at: model.updated_at,
    }
}

pub async fn create_activity(work: &UnitOfWork, new: NewActivity) -> StoreResult<ActivityRecord> {
    let inserted = activity::Entity::insert(activity::ActiveModel {
        level_id: Set(new.level_id),
        squad_id: Set(new.squad_id),
        title: Set(new.title),
        category_code: Set(new.category_code),
        starts_at: Set(new.starts_at),
        ends_at: Set(new.ends_at),
        place: Set(new.place),
        status: Set(ActivityStatus::Planned.as_str().to_owned()),
        checkin_code: Set(None),
        created_by: Set(work.context.actor_id),
        created_at: Set(work.now()),
        updated_at: Set(work.now()),
        ..Default::default()
    })
    .exec(work.txn())
    .await?;
    activity_by_id(work.txn(), inserted.last_insert_id).await
}

pub async fn activity_by_id(connection: &impl ConnectionTrait, activity_id: i64) -> StoreResult<ActivityRecord> {
    let model =
        activity::Entity::find_by_id(activity_id).one(connection).await?.ok_or(StoreError::NotFound("activity"))?;
    Ok(activity_record(model))
}

/// Activities at levels under `root_path`, newest first.
pub async fn activities(
    connection: &impl ConnectionTrait,
    root_path: Option<&str>,
    status: Option<ActivityStatus>,
    limit: u64,
    cursor: Option<i64>,
) -> StoreResult<Page<ActivityRecord>> {
    let mut query = activity::Entity::find();
    if let Some(root_path) = root_path {
        query = query.filter(activity::Column::LevelId.is_in(super::levels::ids_under(connection, root_path).await?));
    }
    if let Some(status) = status {
        query = query.filter(activity::Column::Status.eq(status.as_str()));
    }
    if let Some(cursor) = cursor {
        query = query.filter(activity::Column::Id.lt(cursor));
    }
    let rows = query.order_by_desc(activity::Column::Id).limit(limit + 1).all(connection).await?;
    Ok(Page::from_rows(rows.into_iter().map(activity_record).collect(), limit, |activity: &ActivityRecord| activity.id))
}

/// Moves an activity to `next`, if it is still in `from` (a concurrent change makes this a conflict).
pub async fn set_activity_status(
    work: &UnitOfWork,
    activity_id: i64,
    from: ActivityStatus,
    next: ActivityStatus,
    checkin_code: Option<String>,
) -> StoreResult<ActivityRecord> {
    let mut update = activity::Entity::update_many()
        .col_expr(activity::Column::Status, Expr::value(next.as_str()))
        .col_expr(activity::Column::UpdatedAt, Expr::value(work.now()));
    if let Some(code) = checkin_code {
        update = update.col_expr(activity::Column::CheckinCode, Expr::value(code));
    }
    let result = update
        .filter(activity::Column::Id.eq(activity_id))
        .filter(activity::Column::Status.eq(from.as_str()))
        .exec(work.txn())
        .await?;
    if result.rows_affected != 1 {
        return Err(StoreError::Conflict("the activity changed meanwhile; read it again".into()));
    }
    activity_by_id(work.txn(), activity_id).await
}

/// Logs that still count for these riders, from `around` minus two days to plus two days, and any
/// of theirs at this activity.
pub async fn counting_logs(
    connection: &impl ConnectionTrait,
    rider_ids: &[i64],
    activity_id: i64,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> StoreResult<Vec<ExistingLog>> {
    let counting: Vec<&str> =
        HourStatus::ALL.iter().filter(|status| status.counts()).map(|status| status.as_str()).collect();
    let mut logs = Vec::new();
    for chunk in rider_ids.chunks(500) {
        let rows = hour_log::Entity::find()
            .filter(hour_log::Column::RiderId.is_in(chunk.iter().copied()))
            .filter(hour_log::Column::Status.is_in(counting.clone()))
            .filter(
                hour_log::Column::ActivityId.eq(activity_id).or(hour_log::Column::ServedAt
                    .gte(from - TimeDelta::days(2))
                    .and(hour_log::Column::ServedAt.lte(until + TimeDelta::days(2)))),
            )
            .all(connection)
            .await?;
        logs.extend(rows.into_iter().map(|row| ExistingLog {
            rider_id: row.rider_id,
            activity_id: row.activity_id,
            category_code: row.category_code,
            served_at: row.served_at,
            started_at: row.started_at,
            ended_at: row.ended_at,
            minutes: row.minutes,
        }));
    }
    Ok(logs)
}

/// How a new log came to be.
pub struct LogOrigin {
    pub source: HourSource,
    pub status: HourStatus,
    pub outcome: Outcome,
}

/// Stores checked hours; returns the new logs.
pub async fn insert_logs(
    work: &UnitOfWork,
    activity: &ActivityRecord,
    rows: &[(CheckedHours, LogOrigin)],
) -> StoreResult<Vec<HourLogRecord>> {
    let now = work.now();
    let models: Vec<hour_log::ActiveModel> = rows
        .iter()
        .map(|(hours, origin)| hour_log::ActiveModel {
            activity_id: Set(activity.id),
            rider_id: Set(hours.rider_id),
            level_id: Set(activity.level_id),
            category_code: Set(activity.category_code.clone()),
            served_at: Set(hours.served_at),
            started_at: Set(hours.started_at),
            ended_at: Set(hours.ended_at),
            minutes: Set(hours.minutes),
            source: Set(origin.source.as_str().to_owned()),
            outcome: Set(origin.outcome.as_str().to_owned()),
            evidence_urls: Set(serde_json::to_string(&hours.evidence_urls).unwrap_or_else(|_| "[]".into())),
            note: Set(hours.note.clone()),
            status: Set(origin.status.as_str().to_owned()),
            logged_by: Set(work.context.actor_id),
            decided_by: Set(None),
            decided_at: Set(None),
            rejection_reason: Set(None),
            rule_version: Set(None),
            points: Set(None),
            award_entry_id: Set(None),
            reversal_entry_id: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .collect();
    for chunk in models.chunks(500) {
        hour_log::Entity::insert_many(chunk.to_vec()).exec_without_returning(work.txn()).await?;
    }
    let rider_ids: Vec<i64> = rows.iter().map(|(hours, _)| hours.rider_id).collect();
    let mut inserted = Vec::with_capacity(rider_ids.len());
    for chunk in rider_ids.chunks(500) {
        inserted.extend(
            hour_log::Entity::find()
                .filter(hour_log::Column::ActivityId.eq(activity.id))
                .filter(hour_log::Column::RiderId.is_in(chunk.iter().copied()))
                .filter(hour_log::Column::CreatedAt.eq(now))
                .order_by_asc(hour_log::Column::Id)
                .all(work.txn())
                .await?,
        );
    }
    Ok(inserted)
}

/// The open check-in of a rider at an activity, if any.
pub async fn open_check_in(
    connection: &impl ConnectionTrait,
    activity_id: i64,
    rider_id: i64,
) -> StoreResult<Option<HourLogRecord>> {
    Ok(hour_log::Entity::find()
        .filter(hour_log::Column::ActivityId.eq(activity_id))
        .filter(hour_log::Column::RiderId.eq(rider_id))
        .filter(hour_log::Column::Status.eq(HourStatus::CheckedIn.as_str()))
        .one(connection)
        .await?)
}

/// Closes a check-in: the log becomes pending with its measured minutes.
pub async fn check_out(
    work: &UnitOfWork,
    log_id: i64,
    ended_at: DateTime<Utc>,
    minutes: i64,
) -> StoreResult<HourLogRecord> {
    let result = hour_log::Entity::update_many()
        .col_expr(hour_log::Column::EndedAt, Expr::value(ended_at))
        .col_expr(hour_log::Column::Minutes, Expr::value(minutes))
        .col_expr(hour_log::Column::Status, Expr::value(HourStatus::Pending.as_str()))
        .col_expr(hour_log::Column::UpdatedAt, Expr::value(work.now()))
        .filter(hour_log::Column::Id.eq(log_id))
        .filter(hour_log::Column::Status.eq(HourStatus::CheckedIn.as_str()))
        .exec(work.txn())
        .await?;
    if result.rows_affected != 1 {
        return Err(StoreError::Conflict("you have already checked out".into()));
    }
    log_by_id(work.txn(), log_id).await
}

pub async fn log_by_id(connection: &impl ConnectionTrait, log_id: i64) -> StoreResult<HourLogRecord> {
    hour_log::Entity::find_by_id(log_id).one(connection).await?.ok_or(StoreError::NotFound("hour log"))
}

pub async fn logs_by_ids(connection: &impl ConnectionTrait, log_ids: &[i64]) -> StoreResult<Vec<HourLogRecord>> {
    let mut logs = Vec::with_capacity(log_ids.len());
    for chunk in log_ids.chunks(500) {
        logs.extend(
            hour_log::Entity::find().filter(hour_log::Column::Id.is_in(chunk.iter().copied())).all(connection).await?,
        );
    }
    Ok(logs)
}

/// Filters of the hour list.
#[derive(Default)]
pub struct LogFilter {
    pub root_path: Option<String>,
    pub activity_id: Option<i64>,
    pub rider_id: Option<i64>,
    pub status: Option<HourStatus>,
}

pub async fn logs(
    connection: &impl ConnectionTrait,
    filter: &LogFilter,
    limit: u64,
    cursor: Option<i64>,
) -> StoreResult<Page<HourLogRecord>> {
    let mut query = hour_log::Entity::find();
    if let Some(root_path) = &filter.root_path {
        query = query.filter(hour_log::Column::LevelId.is_in(super::levels::ids_under(connection, root_path).await?));
    }
    if let Some(activity_id) = filter.activity_id {
        query = query.filter(hour_log::Column::ActivityId.eq(activity_id));
    }
    if let Some(rider_id) = filter.rider_id {
        query = query.filter(hour_log::Column::RiderId.eq(rider_id));
    }
    if let Some(status) = filter.status {
        query = query.filter(hour_log::Column::Status.eq(status.as_str()));
    }
    if let Some(cursor) = cursor {
        query = query.filter(hour_log::Column::Id.gt(cursor));
    }
    let rows = query.order_by_asc(hour_log::Column::Id).limit(limit + 1).all(connection).await?;
    Ok(Page::from_rows(rows, limit, |log: &HourLogRecord| log.id))
}

/// An approved log and the award it posted.
pub struct Approval {
    pub log: HourLogRecord,
    pub entry: EntryRecord,
}

/// Approves pending logs: each posts an award from its activity level's budget to the rider, by
/// the category's current rule, all in one transaction (one refused award refuses them all).
pub async fn approve(work: &UnitOfWork, log_ids: &[i64]) -> StoreResult<Vec<Approval>> {
    let logs = logs_by_ids(work.txn(), log_ids).await?;
    let by_id: HashMap<i64, &HourLogRecord> = logs.iter().map(|log| (log.id, log)).collect();
    let mut rules: HashMap<String, CategoryRecord> = HashMap::new();
    let mut activities: HashMap<i64, ActivityRecord> = HashMap::new();
    let mut budgets: HashMap<i64, i64> = HashMap::new();
    let rider_ids: Vec<i64> = logs.iter().map(|log| log.rider_id).collect();
    let rider_accounts = ledger::rider_accounts(work.txn(), &rider_ids).await?;
    let mut drafts = Vec::with_capacity(log_ids.len());
    let mut decided = Vec::with_capacity(log_ids.len());
    for log_id in log_ids {
        let log = by_id.get(log_id).ok_or(StoreError::NotFound("hour log"))?;
        if !rules.contains_key(&log.category_code) {
            rules.insert(log.category_code.clone(), category(work.txn(), &log.category_code).await?);
        }
        let category = &rules[&log.category_code];
        if let std::collections::hash_map::Entry::Vacant(vacant) = activities.entry(log.activity_id) {
            vacant.insert(activity_by_id(work.txn(), log.activity_id).await?);
        }
        let activity = &activities[&log.activity_id];
        if let std::collections::hash_map::Entry::Vacant(vacant) = budgets.entry(log.level_id) {
            vacant.insert(ledger::account_id_of(work.txn(), AccountKind::Budget, Some(log.level_id), None).await?);
        }
        let rider_account = *rider_accounts.get(&log.rider_id).ok_or(StoreError::NotFound("rider account"))?;
        let outcome = Outcome::parse(&log.outcome).unwrap_or(Outcome::Completed);
        let points = category
            .rule
            .award_for_hours(log.minutes, outcome, log.served_at)
            .ok_or(crate::domain::ledger::LedgerError::Overflow)?;
        // Claim the log: a concurrent approval of the same log finds it no longer pending.
        let claimed = hour_log::Entity::update_many()
            .col_expr(hour_log::Column::Status, Expr::value(HourStatus::Approved.as_str()))
            .col_expr(hour_log::Column::DecidedBy, Expr::value(work.context.actor_id))
            .col_expr(hour_log::Column::DecidedAt, Expr::value(work.now()))
            .col_expr(hour_log::Column::RuleVersion, Expr::value(category.rule.version))
            .col_expr(hour_log::Column::Points, Expr::value(points.minor()))
            .col_expr(hour_log::Column::UpdatedAt, Expr::value(work.now()))
            .filter(hour_log::Column::Id.eq(log.id))
            .filter(hour_log::Column::Status.eq(HourStatus::Pending.as_str()))
            .exec(work.txn())
            .await?;
        if claimed.rows_affected != 1 {
            return Err(StoreError::Conflict(format!("hour log {} is not pending", log.id)));
        }
        decided.push(log.id);
        if !points.is_positive() {
            continue;
        }
        drafts.push((
            log.id,
            EntryDraft {
                kind: EntryKind::Award,
                reason: format!(
                    "{} {}: {}, {} h, {}",
                    category.name_zh,
                    category.name_en,
                    activity.title,
                    minutes_to_hours(log.minutes),
                    outcome
                ),
                reference: Reference::to("hour_log", log.id),
                postings: transfers_to_postings(&[Transfer {
                    from: budgets[&log.level_id],
                    to: rider_account,
                    amount: points,
                }]),
                reverses_entry_id: None,
            },
        ));
    }
    let entry_drafts: Vec<EntryDraft> = drafts.iter().map(|(_, draft)| draft.clone()).collect();
    let entries = ledger::post_entries(work, &entry_drafts).await?;
    let mut entry_by_log: HashMap<i64, EntryRecord> = HashMap::new();
    for ((log_id, _), entry) in drafts.iter().zip(entries) {
        hour_log::Entity::update_many()
            .col_expr(hour_log::Column::AwardEntryId, Expr::value(entry.id))
            .filter(hour_log::Column::Id.eq(*log_id))
            .exec(work.txn())
            .await?;
        entry_by_log.insert(*log_id, entry);
    }
    let updated: BTreeMap<i64, HourLogRecord> =
        logs_by_ids(work.txn(), &decided).await?.into_iter().map(|log| (log.id, log)).collect();
    Ok(decided
        .iter()
        .filter_map(|log_id| {
            let log = updated.get(log_id)?.clone();
            let entry = entry_by_log.remove(log_id)?;
            Some(Approval { log, entry })
        })
        .collect())
}

pub async fn reject(work: &UnitOfWork, log_id: i64, reason: String) -> StoreResult<HourLogRecord> {
    let result = hour_log::Entity::update_many()
        .col_expr(hour_log::Column::Status, Expr::value(HourStatus::Rejected.as_str()))
        .col_expr(hour_log::Column::RejectionReason, Expr::value(reason))
        .col_expr(hour_log::Column::DecidedBy, Expr::value(work.context.actor_id))
        .col_expr(hour_log::Column::DecidedAt, Expr::value(work.now()))
        .col_expr(hour_log::Column::UpdatedAt, Expr::value(work.now()))
        .filter(hour_log::Column::Id.eq(log_id))
        .filter(hour_log::Column::Status.is_in([HourStatus::Pending.as_str(), HourStatus::CheckedIn.as_str()]))
        .exec(work.txn())
        .await?;
    if result.rows_affected != 1 {
        return Err(StoreError::Conflict(format!("hour log {log_id} is not pending")));
    }
    log_by_id(work.txn(), log_id).await
}

/// Reverses an approved log's award and marks the log reversed.
pub async fn reverse(
    work: &UnitOfWork,
    log_id: i64,
    reason: String,
) -> StoreResult<(HourLogRecord, Option<EntryRecord>)> {
    let log = log_by_id(work.txn(), log_id).await?;
    let claimed = hour_log::Entity::update_many()
        .col_expr(hour_log::Column::Status, Expr::value(HourStatus::Reversed.as_str()))
        .col_expr(hour_log::Column::UpdatedAt, Expr::value(work.now()))
        .filter(hour_log::Column::Id.eq(log_id))
        .filter(hour_log::Column::Status.eq(HourStatus::Approved.as_str()))
        .exec(work.txn())
        .await?;
    if claimed.rows_affected != 1 {
        return Err(StoreError::Conflict(format!(
            "hour log {log_id} is {}; only approved hours can be reversed",
            log.status
        )));
    }
    let reversal = match log.award_entry_id {
        Some(entry_id) => {
            let reversal = ledger::reverse_entry(work, entry_id, reason).await?;
            hour_log::Entity::update_many()
                .col_expr(hour_log::Column::ReversalEntryId, Expr::value(reversal.id))
                .filter(hour_log::Column::Id.eq(log_id))
                .exec(work.txn())
                .await?;
            Some(reversal)
        }
        None => None,
    };
    Ok((log_by_id(work.txn(), log_id).await?, reversal))
}

pub async fn create_hazard_report(
    work: &UnitOfWork,
    rider_id: i64,
    level_id: i64,
    description: String,
    place: String,
    photo_urls: Vec<String>,
) -> StoreResult<HazardReportRecord> {
    let inserted = hazard_report::Entity::insert(hazard_report::ActiveModel {
        rider_id: Set(rider_id),
        level_id: Set(level_id),
        description: Set(description),
        place: Set(place),
        photo_urls: Set(serde_json::to_string(&photo_urls).unwrap_or_else(|_| "[]".into())),
        status: Set(HazardStatus::Filed.as_str().to_owned()),
        award_entry_id: Set(None),
        created_at: Set(work.now()),
        updated_at: Set(work.now()),
        ..Default::default()
    })
    .exec(work.txn())
    .await?;
    let report_id = inserted.last_insert_id;
    record_hazard_event(work, report_id, HazardStatus::Filed, None).await?;
    hazard_report_by_id(work.txn(), report_id).await
}

async fn record_hazard_event(
    work: &UnitOfWork,
    report_id: i64,
    status: HazardStatus,
    note: Option<String>,
) -> StoreResult<()> {
    hazard_report_event::Entity::insert(hazard_report_event::ActiveModel {
        report_id: Set(report_id),
        status: Set(status.as_str().to_owned()),
        note: Set(note),
        actor_id: Set(work.context.actor_id),
        at: Set(work.now()),
        ..Default::default()
    })
    .exec_without_returning(work.txn())
    .await?;
    Ok(())
}

pub async fn hazard_report_by_id(connection: &impl ConnectionTrait, report_id: i64) -> StoreResult<HazardReportRecord> {
    let report = hazard_report::Entity::find_by_id(report_id)
        .one(connection)
        .await?
        .ok_or(StoreError::NotFound("hazard report"))?;
    let events = hazard_report_event::Entity::find()
        .filter(hazard_report_event::Column::ReportId.eq(report_id))
        .order_by_asc(hazard_report_event::Column::Id)
        .all(connection)
        .await?;
    Ok(HazardReportRecord { report, events })
}

/// Moves a report one step; confirming pays the hazard-report points once, from the budget of
/// the report's level.
pub async fn advance_hazard_report(
    work: &UnitOfWork,
    report_id: i64,
    from: HazardStatus,
    next: HazardStatus,
    note: Option<String>,
) -> StoreResult<HazardReportRecord> {
    let claimed = hazard_report::Entity::update_many()
        .col_expr(hazard_report::Column::Status, Expr::value(next.as_str()))
        .col_expr(hazard_report::Column::UpdatedAt, Expr::value(work.now()))
        .filter(hazard_report::Column::Id.eq(report_id))
        .filter(hazard_report::Column::Status.eq(from.as_str()))
        .exec(work.txn())
        .await?;
    if claimed.rows_affected != 1 {
        return Err(StoreError::Conflict("the report changed meanwhile; read it again".into()));
    }
    record_hazard_event(work, report_id, next, note).await?;
    if next == HazardStatus::Confirmed {
        let report = hazard_report_by_id(work.txn(), report_id).await?.report;
        let category = category(work.txn(), "hazard_report").await?;
        if let Some(points) = category.rule.points_per_report.filter(|points| points.is_positive()) {
            let budget = ledger::account_id_of(work.txn(), AccountKind::Budget, Some(report.level_id), None).await?;
            let rider_account =
                ledger::account_id_of(work.txn(), AccountKind::Rider, None, Some(report.rider_id)).await?;
            let entry = ledger::post_transfers(
                work,
                EntryKind::Award,
                format!("{} {}: {}", category.name_zh, category.name_en, report.place),
                Reference::to("hazard_report", report_id),
                &[Transfer { from: budget, to: rider_account, amount: points }],
            )
            .await?;
            hazard_report::Entity::update_many()
                .col_expr(hazard_report::Column::AwardEntryId, Expr::value(entry.id))
                .filter(hazard_report::Column::Id.eq(report_id))
                .exec(work.txn())
                .await?;
        }
    }
    hazard_report_by_id(work.txn(), report_id).await
}

/// Hazard reports of a rider, or at levels under `root_path`, newest first.
pub async fn hazard_reports(
    connection: &impl ConnectionTrait,
    rider_id: Option<i64>,
    root_path: Option<&str>,
    status: Option<HazardStatus>,
    limit: u64,
    cursor: Option<i64>,
) -> StoreResult<Page<hazard_report::Model>> {
    let mut query = hazard_report::Entity::find();
    if let Some(rider_id) = rider_id {
        query = query.filter(hazard_report::Column::RiderId.eq(rider_id));
    }
    if let Some(root_path) = root_path {
        query =
            query.filter(hazard_report::Column::LevelId.is_in(super::levels::ids_under(connection, root_path).await?));
    }
    if let Some(status) = status {
        query = query.filter(hazard_report::Column::Status.eq(status.as_str()));
    }
    if let Some(cursor) = cursor {
        query = query.filter(hazard_report::Column::Id.lt(cursor));
    }
    let rows = query.order_by_desc(hazard_report::Column::Id).limit(limit + 1).all(connection).await?;
    Ok(Page::from_rows(rows, limit, |report: &hazard_report::Model| report.id))
}

/// An approved log as the reports see it.
pub struct ServedLog {
    pub rider_id: i64,
    pub rider_name: String,
    pub category_code: String,
    pub squad_id: Option<i64>,
    pub served_at: DateTime<Utc>,
    pub minutes: i64,
    pub points: i64,
    pub log_id: i64,
    pub activity_id: i64,
    pub award_entry_id: Option<i64>,
}

/// Approved logs at levels under `root_path`, served in [from, to).
pub async fn served_logs(
    connection: &impl ConnectionTrait,
    root_path: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> StoreResult<Vec<ServedLog>> {
    let level_ids = super::levels::ids_under(connection, root_path).await?;
    let mut query = hour_log::Entity::find()
        .filter(hour_log::Column::LevelId.is_in(level_ids))
        .filter(hour_log::Column::Status.eq(HourStatus::Approved.as_str()));
    if let Some(from) = from {
        query = query.filter(hour_log::Column::ServedAt.gte(from));
    }
    if let Some(to) = to {
        query = query.filter(hour_log::Column::ServedAt.lt(to));
    }
    let logs = query.all(connection).await?;
    let activity_ids: HashSet<i64> = logs.iter().map(|log| log.activity_id).collect();
    let squads: HashMap<i64, Option<i64>> = activity::Entity::find()
        .select_only()
        .column(activity::Column::Id)
        .column(activity::Column::SquadId)
        .filter(activity::Column::Id.is_in(activity_ids))
        .into_tuple::<(i64, Option<i64>)>()
        .all(connection)
        .await?
        .into_iter()
        .collect();
    let rider_ids: HashSet<i64> = logs.iter().map(|log| log.rider_id).collect();
    let names: HashMap<i64, String> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::DisplayName)
        .filter(user::Column::Id.is_in(rider_ids))
        .into_tuple::<(i64, String)>()
        .all(connection)
        .await?
        .into_iter()
        .collect();
    Ok(logs
        .into_iter()
        .map(|log| ServedLog {
            rider_id: log.rider_id,
            rider_name: names.get(&log.rider_id).cloned().unwrap_or_default(),
            category_code: log.category_code,
            squad_id: squads.get(&log.activity_id).copied().flatten(),
            served_at: log.served_at,
            minutes: log.minutes,
            points: log.points.unwrap_or(0),
            log_id: log.id,
            activity_id: log.activity_id,
            award_entry_id: log.award_entry_id,
        })
        .collect())
}
