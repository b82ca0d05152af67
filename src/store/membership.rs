//! Partners, signals, inference rules, candidates and memberships.

use std::collections::HashMap;

use chrono::{DateTime, Months, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::bound::{Bound, Columns};
use super::ledger::{self, EntryRecord, Reference};
use super::signals::{self, Activity};
use super::{Page, StoreError, StoreResult, UnitOfWork};
use crate::domain::ledger::{AccountKind, EntryKind, Transfer};
use crate::domain::membership::{
    CandidateStatus, Evidence, MembershipStatus, PartnerKind, RuleCriteria, SignalKind, member_number,
};
use crate::domain::volunteering::{HourStatus, local_day};
use entity::{
    candidate, hour_log, level, membership, membership_event, membership_rule, partner, partner_level, signal_daily,
    signal_event, signal_subject, user,
};

/// Candidates per multi-row insert.
const CANDIDATES_PER_INSERT: usize = 1_000;
/// Candidates shown in a rule preview.
const PREVIEW_SAMPLE: usize = 20;

#[derive(Clone, Debug)]
pub struct PartnerRecord {
    pub partner: partner::Model,
    pub level_ids: Vec<i64>,
}

pub type RuleRecord = membership_rule::Model;
pub type CandidateRecord = candidate::Model;

#[derive(Clone, Debug)]
pub struct MembershipRecord {
    pub membership: membership::Model,
    pub events: Vec<membership_event::Model>,
}

pub async fn create_partner(
    work: &UnitOfWork,
    name: String,
    kind: PartnerKind,
    level_ids: &[i64],
    client_id: String,
    secret_hash: String,
) -> StoreResult<PartnerRecord> {
    let inserted = partner::Entity::insert(partner::ActiveModel {
        name: Set(name),
        kind: Set(kind.as_str().to_owned()),
        client_id: Set(client_id),
        secret_hash: Set(secret_hash),
        previous_secret_hash: Set(None),
        previous_valid_until: Set(None),
        active: Set(true),
        created_at: Set(work.now()),
        updated_at: Set(work.now()),
        ..Default::default()
    })
    .exec(work.txn())
    .await?;
    let partner_id = inserted.last_insert_id;
    for level_id in level_ids {
        partner_level::Entity::insert(partner_level::ActiveModel {
            partner_id: Set(partner_id),
            level_id: Set(*level_id),
            ..Default::default()
        })
        .exec_without_returning(work.txn())
        .await?;
    }
    partner_by_id(work.txn(), partner_id).await
}

pub async fn partner_by_id(connection: &impl ConnectionTrait, partner_id: i64) -> StoreResult<PartnerRecord> {
    let model =
        partner::Entity::find_by_id(partner_id).one(connection).await?.ok_or(StoreError::NotFound("partner"))?;
    with_levels(connection, model).await
}

pub async fn partner_by_client_id(
    connection: &impl ConnectionTrait,
    client_id: &str,
) -> StoreResult<Option<PartnerRecord>> {
    match partner::Entity::find().filter(partner::Column::ClientId.eq(client_id)).one(connection).await? {
        Some(model) => Ok(Some(with_levels(connection, model).await?)),
        None => Ok(None),
    }
}

async fn with_levels(connection: &impl ConnectionTrait, model: partner::Model) -> StoreResult<PartnerRecord> {
    let level_ids = partner_level::Entity::find()
        .select_only()
        .column(partner_level::Column::LevelId)
        .filter(partner_level::Column::PartnerId.eq(model.id))
        .order_by_asc(partner_level::Column::Id)
        .into_tuple()
        .all(connection)
        .await?;
    Ok(PartnerRecord { partner: model, level_ids })
}

pub async fn partners(connection: &impl ConnectionTrait) -> StoreResult<Vec<PartnerRecord>> {
    let models = partner::Entity::find().order_by_asc(partner::Column::Id).all(connection).await?;
    let mut records = Vec::with_capacity(models.len());
    for model in models {
        records.push(with_levels(connection, model).await?);
    }
    Ok(records)
}

/// Replaces a partner's secret; the old one keeps working until `previous_valid_until`.
pub async fn rotate_secret(
    work: &UnitOfWork,
    partner_id: i64,
    new_hash: String,
    previous_valid_until: DateTime<Utc>,
) -> StoreResult<PartnerRecord> {
    let current = partner_by_id(work.txn(), partner_id).await?;
    partner::Entity::update_many()
        .col_expr(partner::Column::PreviousSecretHash, Expr::value(current.partner.secret_hash))
        .col_expr(partner::Column::PreviousValidUntil, Expr::value(previous_valid_until))
        .col_expr(partner::Column::SecretHash, Expr::value(new_hash))
        .col_expr(partner::Column::UpdatedAt, Expr::value(work.now()))
        .filter(partner::Column::Id.eq(partner_id))
        .exec(work.txn())
        .await?;
    partner_by_id(work.txn(), partner_id).await
}

/// Makes candidates, by every active rule, of those of `subjects` who satisfy it now.
pub async fn candidates_among(work: &UnitOfWork, subjects: &[String]) -> StoreResult<u64> {
    let mut created = 0;
    if !subjects.is_empty() {
        for rule in active_rules(work.txn()).await? {
            created += make_candidates(work, &rule, Some(subjects)).await?;
        }
    }
    Ok(created)
}

/// What a partner sent, newest first (without subjects).
pub async fn partner_events(
    connection: &impl ConnectionTrait,
    partner_id: i64,
    limit: u64,
    cursor: Option<i64>,
) -> StoreResult<Page<signal_event::Model>> {
    let mut query = signal_event::Entity::find().filter(signal_event::Column::PartnerId.eq(partner_id));
    if let Some(cursor) = cursor {
        query = query.filter(signal_event::Column::Id.lt(cursor));
    }
    let rows = query.order_by_desc(signal_event::Column::Id).limit(limit + 1).all(connection).await?;
    Ok(Page::from_rows(rows, limit, |event: &signal_event::Model| event.id))
}

fn criteria_of(rule: &RuleRecord) -> RuleCriteria {
    RuleCriteria {
        name: rule.name.clone(),
        kind: SignalKind::parse(&rule.kind).unwrap_or(SignalKind::Other),
        window_days: rule.window_days,
        min_count: rule.min_count,
        min_active_days: rule.min_active_days,
        partner_ids: rule.partner_ids.as_deref().and_then(|ids| serde_json::from_str(ids).ok()),
        areas: rule.areas.as_deref().and_then(|areas| serde_json::from_str(areas).ok()),
    }
}

pub async fn create_rule(work: &UnitOfWork, criteria: &RuleCriteria) -> StoreResult<RuleRecord> {
    let inserted = membership_rule::Entity::insert(membership_rule::ActiveModel {
        name: Set(criteria.name.clone()),
        version: Set(1),
        kind: Set(criteria.kind.as_str().to_owned()),
        window_days: Set(criteria.window_days),
        min_count: Set(criteria.min_count),
        min_active_days: Set(criteria.min_active_days),
        partner_ids: Set(criteria.partner_ids.as_ref().map(|ids| serde_json::to_string(ids).unwrap_or_default())),
        areas: Set(criteria.areas.as_ref().map(|areas| serde_json::to_string(areas).unwrap_or_default())),
        active: Set(true),
        created_by: Set(work.context.actor_id),
        created_at: Set(work.now()),
        updated_at: Set(work.now()),
        ..Default::default()
    })
    .exec(work.txn())
    .await?;
    rule_by_id(work.txn(), inserted.last_insert_id).await
}

/// Changes a rule's criteria (a new version) or turns it on or off.
pub async fn update_rule(
    work: &UnitOfWork,
    rule_id: i64,
    criteria: &RuleCriteria,
    active: bool,
) -> StoreResult<RuleRecord> {
    let current = rule_by_id(work.txn(), rule_id).await?;
    membership_rule::Entity::update_many()
        .col_expr(membership_rule::Column::Name, Expr::value(criteria.name.clone()))
        .col_expr(membership_rule::Column::Version, Expr::value(current.version + 1))
        .col_expr(membership_rule::Column::Kind, Expr::value(criteria.kind.as_str()))
        .col_expr(membership_rule::Column::WindowDays, Expr::value(criteria.window_days))
        .col_expr(membership_rule::Column::MinCount, Expr::value(criteria.min_count))
        .col_expr(membership_rule::Column::MinActiveDays, Expr::value(criteria.min_active_days))
        .col_expr(
            membership_rule::Column::PartnerIds,
            Expr::value(criteria.partner_ids.as_ref().map(|ids| serde_json::to_string(ids).unwrap_or_default())),
        )
        .col_expr(
            membership_rule::Column::Areas,
            Expr::value(criteria.areas.as_ref().map(|areas| serde_json::to_string(areas).unwrap_or_default())),
        )
        .col_expr(membership_rule::Column::Active, Expr::value(active))
        .col_expr(membership_rule::Column::UpdatedAt, Expr::value(work.now()))
        .filter(membership_rule::Column::Id.eq(rule_id))
        .exec(work.txn())
        .await?;
    rule_by_id(work.txn(), rule_id).await
}

pub async fn rule_by_id(connection: &impl ConnectionTrait, rule_id: i64) -> StoreResult<RuleRecord> {
    membership_rule::Entity::find_by_id(rule_id).one(connection).await?.ok_or(StoreError::NotFound("membership rule"))
}

pub async fn rules(connection: &impl ConnectionTrait) -> StoreResult<Vec<RuleRecord>> {
    Ok(membership_rule::Entity::find().order_by_asc(membership_rule::Column::Id).all(connection).await?)
}

async fn active_rules(connection: &impl ConnectionTrait) -> StoreResult<Vec<RuleRecord>> {
    Ok(membership_rule::Entity::find().filter(membership_rule::Column::Active.eq(true)).all(connection).await?)
}

/// The level serving an area: a level named like the area under a level the partners serve, else
/// the first level the first partner serves.
async fn level_for(connection: &impl ConnectionTrait, partner_ids: &[i64], area: &str) -> StoreResult<Option<i64>> {
    let served: Vec<i64> = partner_level::Entity::find()
        .select_only()
        .column(partner_level::Column::LevelId)
        .filter(partner_level::Column::PartnerId.is_in(partner_ids.iter().copied()))
        .order_by_asc(partner_level::Column::Id)
        .into_tuple()
        .all(connection)
        .await?;
    if !area.is_empty() {
        for level_id in &served {
            let Some(path) = super::levels::path_of(connection, *level_id).await? else { continue };
            let named: Option<i64> = level::Entity::find()
                .select_only()
                .column(level::Column::Id)
                .filter(level::Column::Path.starts_with(path.as_str()))
                .filter(level::Column::Name.eq(area))
                .into_tuple()
                .one(connection)
                .await?;
            if named.is_some() {
                return Ok(named);
            }
        }
    }
    Ok(served.first().copied())
}

/// The evidence a subject's activity gives for a rule.
fn evidence(criteria: &RuleCriteria, activity: &Activity) -> Evidence {
    Evidence {
        signal_count: activity.signal_count,
        active_days: activity.active_days,
        first_seen: activity.first_seen.clone(),
        last_seen: activity.last_seen.clone(),
        partner_ids: activity.partner_ids.clone(),
        rule_name: criteria.name.clone(),
        kind: criteria.kind.as_str().to_owned(),
        window_days: criteria.window_days,
        min_count: criteria.min_count,
        min_active_days: criteria.min_active_days,
    }
}

/// Makes candidates of the subjects that satisfy a rule and are neither candidates nor members yet.
pub async fn make_candidates(work: &UnitOfWork, rule: &RuleRecord, subjects: Option<&[String]>) -> StoreResult<u64> {
    let criteria = criteria_of(rule);
    if work.txn().get_database_backend() == DbBackend::Postgres {
        // The window's aggregate is costly enough for PostgreSQL to compile it (JIT), which takes
        // longer than the query it would speed up: a tenth to a third of a rule's evaluation.
        work.txn().execute_unprepared("SET LOCAL jit = off").await?;
    }
    let matched = signals::matching(work.txn(), &criteria, subjects, signals::Subjects::New, work.now()).await?;
    let mut levels: HashMap<(Vec<i64>, String), Option<i64>> = HashMap::new();
    let mut created = 0;
    // Written a thousand at a time as they are made, so memory holds one chunk of rows.
    let mut rows = Vec::with_capacity(CANDIDATES_PER_INSERT);
    let mut new = matched.into_iter().peekable();
    while let Some((subject, activity)) = new.next() {
        let cache_key = (activity.partner_ids.clone(), activity.busiest_area.clone());
        let level_id = match levels.get(&cache_key) {
            Some(level_id) => *level_id,
            None => {
                let level_id = level_for(work.txn(), &activity.partner_ids, &activity.busiest_area).await?;
                levels.insert(cache_key, level_id);
                level_id
            }
        };
        if let Some(level_id) = level_id {
            rows.push((subject, level_id, serde_json::to_string(&evidence(&criteria, &activity)).unwrap_or_default()));
        }
        if rows.len() == CANDIDATES_PER_INSERT || (new.peek().is_none() && !rows.is_empty()) {
            created += insert_candidates(work, rule, std::mem::take(&mut rows)).await?;
        }
    }
    Ok(created)
}

/// Inserts candidates (subject key, level, evidence) found by a rule, but for subjects that are
/// candidates already; how many were inserted.
async fn insert_candidates(work: &UnitOfWork, rule: &RuleRecord, rows: Vec<(String, i64, String)>) -> StoreResult<u64> {
    let mut bound = Bound::new(work.txn().get_database_backend());
    let status = bound.value(CandidateStatus::Candidate.as_str());
    let (rule_id, rule_version) = (bound.value(rule.id), bound.value(rule.version));
    let (created_at, updated_at) = (bound.value(work.now()), bound.value(work.now()));
    let (mut subjects, mut level_ids, mut evidence) = (Vec::new(), Vec::new(), Vec::new());
    for (subject, level_id, found) in rows {
        subjects.push(subject);
        level_ids.push(level_id);
        evidence.push(found);
    }
    let table = bound.rows(
        Columns::default().text("subject_key", subjects).integer("level_id", level_ids).text("evidence", evidence),
    );
    let sql = format!(
        "INSERT INTO candidates (subject_key, level_id, status, rule_id, rule_version, evidence, created_at, updated_at) \
         SELECT u.subject_key, u.level_id, {status}, {rule_id}, {rule_version}, u.evidence, {created_at}, {updated_at} \
         FROM {table} WHERE true ON CONFLICT (subject_key) DO NOTHING"
    );
    Ok(work.txn().execute_raw(bound.statement(&sql)).await?.rows_affected())
}

/// Runs every active rule over every subject; returns the candidates created.
pub async fn infer_all(work: &UnitOfWork) -> StoreResult<u64> {
    let mut created = 0;
    for rule in active_rules(work.txn()).await? {
        created += make_candidates(work, &rule, None).await?;
    }
    Ok(created)
}

/// How many subjects a draft rule would make candidates now, with a sample; writes nothing.
pub async fn preview(
    connection: &(impl ConnectionTrait + sea_orm::StreamTrait),
    criteria: &RuleCriteria,
    now: DateTime<Utc>,
) -> StoreResult<(u64, Vec<Evidence>)> {
    let matched = signals::matching(connection, criteria, None, signals::Subjects::All, now).await?;
    let sample = matched.values().take(PREVIEW_SAMPLE).map(|activity| evidence(criteria, activity)).collect();
    Ok((matched.len() as u64, sample))
}

pub async fn candidates(
    connection: &impl ConnectionTrait,
    level_ids: Option<Vec<i64>>,
    status: Option<CandidateStatus>,
    limit: u64,
    cursor: Option<i64>,
) -> StoreResult<Page<CandidateRecord>> {
    let mut query = candidate::Entity::find();
    if let Some(level_ids) = level_ids {
        query = query.filter(candidate::Column::LevelId.is_in(level_ids));
    }
    if let Some(status) = status {
        query = query.filter(candidate::Column::Status.eq(status.as_str()));
    }
    if let Some(cursor) = cursor {
        query = query.filter(candidate::Column::Id.gt(cursor));
    }
    let rows = query.order_by_asc(candidate::Column::Id).limit(limit + 1).all(connection).await?;
    Ok(Page::from_rows(rows, limit, |candidate: &CandidateRecord| candidate.id))
}

pub async fn candidate_by_id(connection: &impl ConnectionTrait, candidate_id: i64) -> StoreResult<CandidateRecord> {
    candidate::Entity::find_by_id(candidate_id).one(connection).await?.ok_or(StoreError::NotFound("candidate"))
}

pub async fn candidate_by_subject(
    connection: &impl ConnectionTrait,
    subject_key: &str,
) -> StoreResult<Option<CandidateRecord>> {
    Ok(candidate::Entity::find().filter(candidate::Column::SubjectKey.eq(subject_key)).one(connection).await?)
}

/// Invites a candidate; refuses one already invited or applied.
pub async fn invite(work: &UnitOfWork, candidate_id: i64) -> StoreResult<CandidateRecord> {
    let claimed = candidate::Entity::update_many()
        .col_expr(candidate::Column::Status, Expr::value(CandidateStatus::Invited.as_str()))
        .col_expr(candidate::Column::InvitedAt, Expr::value(work.now()))
        .col_expr(candidate::Column::InvitedBy, Expr::value(work.context.actor_id))
        .col_expr(candidate::Column::UpdatedAt, Expr::value(work.now()))
        .filter(candidate::Column::Id.eq(candidate_id))
        .filter(candidate::Column::Status.eq(CandidateStatus::Candidate.as_str()))
        .exec(work.txn())
        .await?;
    if claimed.rows_affected != 1 {
        return Err(StoreError::Refused {
            code: "invalid-transition",
            detail: "only a candidate not yet invited can be invited".into(),
        });
    }
    candidate_by_id(work.txn(), candidate_id).await
}

async fn record_event(
    work: &UnitOfWork,
    membership_id: i64,
    from: Option<MembershipStatus>,
    to: MembershipStatus,
    reason: Option<String>,
) -> StoreResult<()> {
    membership_event::Entity::insert(membership_event::ActiveModel {
        membership_id: Set(membership_id),
        from_status: Set(from.map(|status| status.as_str().to_owned())),
        to_status: Set(to.as_str().to_owned()),
        actor_id: Set(work.context.actor_id),
        reason: Set(reason),
        at: Set(work.now()),
        ..Default::default()
    })
    .exec_without_returning(work.txn())
    .await?;
    Ok(())
}

pub async fn membership_by_id(connection: &impl ConnectionTrait, membership_id: i64) -> StoreResult<MembershipRecord> {
    let model = membership::Entity::find_by_id(membership_id)
        .one(connection)
        .await?
        .ok_or(StoreError::NotFound("membership"))?;
    let events = membership_event::Entity::find()
        .filter(membership_event::Column::MembershipId.eq(membership_id))
        .order_by_asc(membership_event::Column::Id)
        .all(connection)
        .await?;
    Ok(MembershipRecord { membership: model, events })
}

/// The rider's most recent membership or application.
pub async fn latest_membership(
    connection: &impl ConnectionTrait,
    user_id: i64,
) -> StoreResult<Option<MembershipRecord>> {
    let latest: Option<i64> = membership::Entity::find()
        .select_only()
        .column(membership::Column::Id)
        .filter(membership::Column::UserId.eq(user_id))
        .order_by_desc(membership::Column::Id)
        .into_tuple()
        .one(connection)
        .await?;
    match latest {
        Some(id) => Ok(Some(membership_by_id(connection, id).await?)),
        None => Ok(None),
    }
}

/// A rider applies to be a member of a level; a matching candidate is linked and marked applied.
pub async fn apply(
    work: &UnitOfWork,
    user_id: i64,
    level_id: i64,
    candidate: Option<&CandidateRecord>,
    reason: Option<String>,
) -> StoreResult<MembershipRecord> {
    if let Some(current) = latest_membership(work.txn(), user_id).await?
        && !MembershipStatus::parse(&current.membership.status).is_some_and(MembershipStatus::is_closed)
    {
        return Err(StoreError::Refused {
            code: "already-applied",
            detail: format!("you already have a membership that is {}", current.membership.status),
        });
    }
    let inserted = membership::Entity::insert(membership::ActiveModel {
        user_id: Set(user_id),
        level_id: Set(level_id),
        candidate_id: Set(candidate.map(|candidate| candidate.id)),
        status: Set(MembershipStatus::Applied.as_str().to_owned()),
        member_number: Set(None),
        verification: Set("{}".into()),
        welcome_entry_id: Set(None),
        approved_at: Set(None),
        created_at: Set(work.now()),
        updated_at: Set(work.now()),
        ..Default::default()
    })
    .exec(work.txn())
    .await?;
    let membership_id = inserted.last_insert_id;
    if let Some(candidate) = candidate {
        candidate::Entity::update_many()
            .col_expr(candidate::Column::Status, Expr::value(CandidateStatus::Applied.as_str()))
            .col_expr(candidate::Column::UpdatedAt, Expr::value(work.now()))
            .filter(candidate::Column::Id.eq(candidate.id))
            .exec(work.txn())
            .await?;
    }
    record_event(work, membership_id, None, MembershipStatus::Applied, reason).await?;
    membership_by_id(work.txn(), membership_id).await
}

/// Moves a membership from `from` to `to` (checked by the caller against the domain's rules),
/// recording who, when and why; a concurrent change makes this a conflict.
pub async fn transition(
    work: &UnitOfWork,
    membership_id: i64,
    from: MembershipStatus,
    to: MembershipStatus,
    reason: Option<String>,
    verification: Option<serde_json::Value>,
) -> StoreResult<MembershipRecord> {
    let mut update = membership::Entity::update_many()
        .col_expr(membership::Column::Status, Expr::value(to.as_str()))
        .col_expr(membership::Column::UpdatedAt, Expr::value(work.now()));
    if let Some(verification) = verification {
        update = update.col_expr(membership::Column::Verification, Expr::value(verification.to_string()));
    }
    if to == MembershipStatus::Approved {
        update = update.col_expr(membership::Column::ApprovedAt, Expr::value(work.now()));
    }
    let claimed = update
        .filter(membership::Column::Id.eq(membership_id))
        .filter(membership::Column::Status.eq(from.as_str()))
        .exec(work.txn())
        .await?;
    if claimed.rows_affected != 1 {
        return Err(StoreError::Refused {
            code: "invalid-transition",
            detail: "the membership changed meanwhile; read it again".into(),
        });
    }
    record_event(work, membership_id, Some(from), to, reason).await?;
    membership_by_id(work.txn(), membership_id).await
}

/// Approves a verified application: a member number, and the level's welcome points if it has any.
pub async fn approve(
    work: &UnitOfWork,
    membership_id: i64,
    reason: Option<String>,
) -> StoreResult<(MembershipRecord, Option<EntryRecord>)> {
    let record =
        transition(work, membership_id, MembershipStatus::Verified, MembershipStatus::Approved, reason, None).await?;
    let level = super::levels::find(work.txn(), record.membership.level_id).await?;
    membership::Entity::update_many()
        .col_expr(membership::Column::MemberNumber, Expr::value(member_number(level.root_id(), membership_id)))
        .filter(membership::Column::Id.eq(membership_id))
        .exec(work.txn())
        .await?;
    let welcome = match level.welcome_points.filter(|points| points.is_positive()) {
        Some(points) => {
            let budget = level.budget_account_id.ok_or(StoreError::NotFound("budget account"))?;
            let rider_account =
                ledger::account_id_of(work.txn(), AccountKind::Rider, None, Some(record.membership.user_id)).await?;
            let entry = ledger::post_transfers(
                work,
                EntryKind::Welcome,
                format!("欢迎入会 Welcome to {}", level.name),
                Reference::to("membership", membership_id),
                &[Transfer { from: budget, to: rider_account, amount: points }],
            )
            .await?;
            membership::Entity::update_many()
                .col_expr(membership::Column::WelcomeEntryId, Expr::value(entry.id))
                .filter(membership::Column::Id.eq(membership_id))
                .exec(work.txn())
                .await?;
            Some(entry)
        }
        None => None,
    };
    Ok((membership_by_id(work.txn(), membership_id).await?, welcome))
}

pub async fn memberships(
    connection: &impl ConnectionTrait,
    level_ids: Option<Vec<i64>>,
    status: Option<MembershipStatus>,
    limit: u64,
    cursor: Option<i64>,
) -> StoreResult<Page<membership::Model>> {
    let mut query = membership::Entity::find();
    if let Some(level_ids) = level_ids {
        query = query.filter(membership::Column::LevelId.is_in(level_ids));
    }
    if let Some(status) = status {
        query = query.filter(membership::Column::Status.eq(status.as_str()));
    }
    if let Some(cursor) = cursor {
        query = query.filter(membership::Column::Id.gt(cursor));
    }
    let rows = query.order_by_asc(membership::Column::Id).limit(limit + 1).all(connection).await?;
    Ok(Page::from_rows(rows, limit, |row: &membership::Model| row.id))
}

/// Lapses members with no signals and no volunteering for `months`; returns how many lapsed.
/// Each is decided under a conditional update, so two servers never lapse one member twice.
/// Looks at up to `limit` members after `after_id` (in id order); returns how many lapsed and the
/// last id looked at (`None` when there were no more).
pub async fn lapse_inactive(
    work: &UnitOfWork,
    months: u32,
    after_id: i64,
    limit: u64,
) -> StoreResult<(u64, Option<i64>)> {
    let Some(cutoff) = work.now().checked_sub_months(Months::new(months)) else { return Ok((0, None)) };
    let approved = membership::Entity::find()
        .filter(membership::Column::Status.eq(MembershipStatus::Approved.as_str()))
        .filter(membership::Column::ApprovedAt.lt(cutoff))
        .filter(membership::Column::Id.gt(after_id))
        .order_by_asc(membership::Column::Id)
        .limit(limit)
        .all(work.txn())
        .await?;
    let last_id = approved.last().map(|member| member.id);
    let cutoff_day = local_day(cutoff).format("%Y-%m-%d").to_string();
    let mut lapsed = 0;
    for member in approved {
        let phone_key: Option<String> = user::Entity::find_by_id(member.user_id)
            .select_only()
            .column(user::Column::PhoneKey)
            .into_tuple()
            .one(work.txn())
            .await?
            .flatten();
        let signalled = match &phone_key {
            Some(key) => signal_daily::Entity::find()
                .filter(
                    signal_daily::Column::SubjectId.in_subquery(
                        sea_orm::sea_query::Query::select()
                            .column(signal_subject::Column::Id)
                            .from(signal_subject::Entity)
                            .and_where(signal_subject::Column::SubjectKey.eq(key.as_str()))
                            .to_owned(),
                    ),
                )
                .filter(signal_daily::Column::Day.gte(cutoff_day.clone()))
                .one(work.txn())
                .await?
                .is_some(),
            None => false,
        };
        let volunteered = hour_log::Entity::find()
            .filter(hour_log::Column::RiderId.eq(member.user_id))
            .filter(hour_log::Column::Status.eq(HourStatus::Approved.as_str()))
            .filter(hour_log::Column::ServedAt.gte(cutoff))
            .one(work.txn())
            .await?
            .is_some();
        let renewed_since = membership_event::Entity::find()
            .filter(membership_event::Column::MembershipId.eq(member.id))
            .filter(membership_event::Column::ToStatus.eq(MembershipStatus::Approved.as_str()))
            .filter(membership_event::Column::At.gte(cutoff))
            .one(work.txn())
            .await?
            .is_some();
        if signalled || volunteered || renewed_since {
            continue;
        }
        let reason = format!("no signals and no volunteering for {months} months");
        match transition(work, member.id, MembershipStatus::Approved, MembershipStatus::Lapsed, Some(reason), None)
            .await
        {
            Ok(_) => lapsed += 1,
            Err(StoreError::Refused { .. }) => {}
            Err(error) => return Err(error),
        }
    }
    Ok((lapsed, last_id))
}
