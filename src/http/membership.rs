//! Membership: inference rules and their preview, candidates with evidence, invitations, and the
//! application lifecycle: applied → verified → approved (member) or rejected; lapsed and renewed.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::csv::{self, Csv};
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{
    AdminOnly, Allowed, AnyPerson, Caller, Json, Path, Query, RiderOnly, Staff, StaffOrAuditor, StaffOrRider,
    WriteRequest,
};
use super::views::{EntryView, page_limit};
use crate::domain::membership::{
    CandidateStatus, Evidence, MembershipStatus, RuleCriteria, SignalKind, check_verification,
};
use crate::domain::people::{Role, within};
use crate::store::levels as level_store;
use crate::store::membership::{self as store, CandidateRecord, MembershipRecord, RuleRecord};
use crate::store::users;

const PROBLEMS: &str = "application/problem+json";

#[derive(Serialize, Deserialize, ToSchema)]
pub struct RuleRequest {
    pub name: String,
    /// The signal kind counted.
    pub kind: SignalKind,
    /// Days back from today (local time) that count, 1–90.
    pub window_days: i32,
    /// Signals needed in the window.
    pub min_count: i64,
    /// Distinct days with signals needed in the window.
    pub min_active_days: i32,
    /// Only these partners' signals (default: all).
    pub partner_ids: Option<Vec<i64>>,
    /// Only these areas (default: all).
    pub areas: Option<Vec<String>>,
    /// Default: true.
    pub active: Option<bool>,
}

impl RuleRequest {
    fn criteria(&self) -> Result<RuleCriteria, crate::domain::Invalid> {
        RuleCriteria {
            name: self.name.clone(),
            kind: self.kind,
            window_days: self.window_days,
            min_count: self.min_count,
            min_active_days: self.min_active_days,
            partner_ids: self.partner_ids.clone(),
            areas: self.areas.clone(),
        }
        .validate()
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct MembershipRuleView {
    pub id: i64,
    pub name: String,
    pub version: i32,
    pub kind: String,
    pub window_days: i32,
    pub min_count: i64,
    pub min_active_days: i32,
    pub partner_ids: Option<Vec<i64>>,
    pub areas: Option<Vec<String>>,
    pub active: bool,
    pub updated_at: DateTime<Utc>,
}

impl From<RuleRecord> for MembershipRuleView {
    fn from(rule: RuleRecord) -> Self {
        MembershipRuleView {
            id: rule.id,
            name: rule.name,
            version: rule.version,
            kind: rule.kind,
            window_days: rule.window_days,
            min_count: rule.min_count,
            min_active_days: rule.min_active_days,
            partner_ids: rule.partner_ids.as_deref().and_then(|ids| serde_json::from_str(ids).ok()),
            areas: rule.areas.as_deref().and_then(|areas| serde_json::from_str(areas).ok()),
            active: rule.active,
            updated_at: rule.updated_at,
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct RuleResult {
    pub rule: MembershipRuleView,
    /// Candidates this rule made at once, from the signals already received.
    pub candidates_created: u64,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct RuleList {
    pub rules: Vec<MembershipRuleView>,
}

/// The evidence that made a subject a candidate: what a person can check.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct EvidenceView {
    pub signal_count: i64,
    pub active_days: i64,
    /// Local days (YYYY-MM-DD).
    pub first_seen: String,
    pub last_seen: String,
    pub partner_ids: Vec<i64>,
    pub rule_name: String,
    pub kind: String,
    pub window_days: i32,
    pub min_count: i64,
    pub min_active_days: i32,
}

impl From<Evidence> for EvidenceView {
    fn from(evidence: Evidence) -> Self {
        EvidenceView {
            signal_count: evidence.signal_count,
            active_days: evidence.active_days,
            first_seen: evidence.first_seen,
            last_seen: evidence.last_seen,
            partner_ids: evidence.partner_ids,
            rule_name: evidence.rule_name,
            kind: evidence.kind,
            window_days: evidence.window_days,
            min_count: evidence.min_count,
            min_active_days: evidence.min_active_days,
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct PreviewResult {
    /// Subjects the draft rule would make candidates now.
    pub candidates: u64,
    pub sample: Vec<EvidenceView>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct InferenceResult {
    pub candidates_created: u64,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct CandidateView {
    pub id: i64,
    pub level_id: i64,
    pub status: CandidateStatus,
    pub rule_id: i64,
    pub rule_version: i32,
    pub evidence: EvidenceView,
    /// A rider who registered with the matching phone number, if any.
    pub registered_rider_id: Option<i64>,
    pub invited_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

fn candidate_view(candidate: CandidateRecord, registered_rider_id: Option<i64>) -> CandidateView {
    let evidence: Evidence = serde_json::from_str(&candidate.evidence).unwrap_or(Evidence {
        signal_count: 0,
        active_days: 0,
        first_seen: String::new(),
        last_seen: String::new(),
        partner_ids: Vec::new(),
        rule_name: String::new(),
        kind: String::new(),
        window_days: 0,
        min_count: 0,
        min_active_days: 0,
    });
    CandidateView {
        id: candidate.id,
        level_id: candidate.level_id,
        status: CandidateStatus::parse(&candidate.status).unwrap_or(CandidateStatus::Candidate),
        rule_id: candidate.rule_id,
        rule_version: candidate.rule_version,
        evidence: evidence.into(),
        registered_rider_id,
        invited_at: candidate.invited_at,
        created_at: candidate.created_at,
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct CandidateList {
    pub candidates: Vec<CandidateView>,
    pub next_cursor: Option<i64>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CandidateQuery {
    pub status: Option<CandidateStatus>,
    pub limit: Option<u64>,
    pub cursor: Option<i64>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct MembershipEventView {
    pub from_status: Option<MembershipStatus>,
    pub to_status: MembershipStatus,
    pub actor_id: Option<i64>,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct MembershipView {
    pub id: i64,
    pub user_id: i64,
    pub level_id: i64,
    pub candidate_id: Option<i64>,
    pub status: MembershipStatus,
    pub member_number: Option<String>,
    /// What was checked at verification.
    #[schema(value_type = Object)]
    pub verification: serde_json::Value,
    pub welcome_entry_id: Option<i64>,
    pub approved_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Every step: who, when and why.
    pub events: Vec<MembershipEventView>,
}

impl From<MembershipRecord> for MembershipView {
    fn from(record: MembershipRecord) -> Self {
        let membership = record.membership;
        MembershipView {
            id: membership.id,
            user_id: membership.user_id,
            level_id: membership.level_id,
            candidate_id: membership.candidate_id,
            status: MembershipStatus::parse(&membership.status).unwrap_or(MembershipStatus::Applied),
            member_number: membership.member_number,
            verification: serde_json::from_str(&membership.verification).unwrap_or_default(),
            welcome_entry_id: membership.welcome_entry_id,
            approved_at: membership.approved_at,
            created_at: membership.created_at,
            events: record
                .events
                .into_iter()
                .map(|event| MembershipEventView {
                    from_status: event.from_status.as_deref().and_then(MembershipStatus::parse),
                    to_status: MembershipStatus::parse(&event.to_status).unwrap_or(MembershipStatus::Applied),
                    actor_id: event.actor_id,
                    reason: event.reason,
                    at: event.at,
                })
                .collect(),
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct MembershipList {
    /// Without their steps; read one for those.
    pub memberships: Vec<MembershipView>,
    pub next_cursor: Option<i64>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MembershipQuery {
    pub status: Option<MembershipStatus>,
    pub limit: Option<u64>,
    pub cursor: Option<i64>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ApplyRequest {
    /// The level to join: the rider's own or one above it (default: a matching invitation's level,
    /// else the rider's own).
    pub level_id: Option<i64>,
    pub note: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Checks {
    /// The rider's real name was checked against their ID (实名认证).
    pub real_name: bool,
    /// What else was looked at, e.g. "骑手证、健康证".
    pub documents: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct VerifyRequest {
    pub checks: Checks,
    pub note: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Default)]
pub struct DecisionRequest {
    /// Required to reject; optional otherwise.
    pub reason: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ApprovalResult {
    pub membership: MembershipView,
    /// The welcome points posted, if the level gives any.
    pub welcome_entry: Option<EntryView>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Invitation {
    pub candidate_id: i64,
    pub status: CandidateStatus,
    pub level_id: i64,
    /// Why the union thinks the rider is active: the evidence that made them a candidate.
    pub evidence: EvidenceView,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct MyMembership {
    pub membership: Option<MembershipView>,
    /// Present when partner signals made the rider a candidate.
    pub invitation: Option<Invitation>,
}

async fn level_ids_in_scope<R: Allowed>(state: &AppState, caller: &Caller<R>) -> ApiResult<Option<Vec<i64>>> {
    match state.scope_root(caller).await? {
        Some(root) => Ok(Some(level_store::ids_under(state.store.reader(), &root).await?)),
        None => Ok(None),
    }
}

/// Define a rule that makes candidates of subjects whose signals pass it; it runs at once on the
/// signals already received, and on every batch after.
#[utoipa::path(post, path = "/api/v1/membership/rules", tag = "membership",
    security(("bearer" = [])),
    request_body = RuleRequest,
    responses((status = 201, body = RuleResult), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 422, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin"]))))]
pub async fn create_rule(
    State(state): State<AppState>,
    caller: Caller<AdminOnly>,
    write: WriteRequest,
    Json(body): Json<RuleRequest>,
) -> ApiResult<(StatusCode, Json<RuleResult>)> {
    let criteria = body.criteria()?;
    let work = state.begin(caller.user_id, &write, &body).await?;
    let mut rule = store::create_rule(&work, &criteria).await?;
    if body.active == Some(false) {
        rule = store::update_rule(&work, rule.id, &criteria, false).await?;
    }
    let candidates_created = if rule.active { store::make_candidates(&work, &rule, None).await? } else { 0 };
    work.audit(
        "membership.rule.create",
        "membership_rule",
        rule.id,
        json!({ "name": rule.name, "candidates_created": candidates_created }),
    )
    .await?;
    let view = RuleResult { rule: rule.into(), candidates_created };
    work.commit(201, &view).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// The rules.
#[utoipa::path(get, path = "/api/v1/membership/rules", tag = "membership",
    security(("bearer" = [])),
    responses((status = 200, body = RuleList), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor"]))))]
pub async fn list_rules(State(state): State<AppState>, _caller: Caller<StaffOrAuditor>) -> ApiResult<Json<RuleList>> {
    Ok(Json(RuleList { rules: store::rules(state.store.reader()).await?.into_iter().map(Into::into).collect() }))
}

/// Change a rule (a new version; candidates keep the version that matched them) or turn it off.
#[utoipa::path(put, path = "/api/v1/membership/rules/{id}", tag = "membership",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    request_body = RuleRequest,
    responses((status = 200, body = RuleResult), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS),
              (status = 422, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin"]))))]
pub async fn update_rule(
    State(state): State<AppState>,
    caller: Caller<AdminOnly>,
    write: WriteRequest,
    Path(rule_id): Path<i64>,
    Json(body): Json<RuleRequest>,
) -> ApiResult<Json<RuleResult>> {
    let criteria = body.criteria()?;
    store::rule_by_id(state.store.reader(), rule_id).await?;
    let work = state.begin(caller.user_id, &write, &body).await?;
    let rule = store::update_rule(&work, rule_id, &criteria, body.active.unwrap_or(true)).await?;
    let candidates_created = if rule.active { store::make_candidates(&work, &rule, None).await? } else { 0 };
    work.audit("membership.rule.update", "membership_rule", rule_id, json!({ "version": rule.version })).await?;
    let view = RuleResult { rule: rule.into(), candidates_created };
    work.commit(200, &view).await?;
    Ok(Json(view))
}

/// How many subjects a draft rule would make candidates now, with a sample. Writes nothing.
#[utoipa::path(post, path = "/api/v1/membership/rules/preview", tag = "membership",
    security(("bearer" = [])),
    request_body = RuleRequest,
    responses((status = 200, body = PreviewResult), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 422, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin"]))))]
pub async fn preview_rule(
    State(state): State<AppState>,
    _caller: Caller<AdminOnly>,
    Json(body): Json<RuleRequest>,
) -> ApiResult<Json<PreviewResult>> {
    let criteria = body.criteria()?;
    let (candidates, sample) = store::preview(state.store.reader(), &criteria, state.store.now()).await?;
    Ok(Json(PreviewResult { candidates, sample: sample.into_iter().map(Into::into).collect() }))
}

/// Run every active rule over all signals now.
#[utoipa::path(post, path = "/api/v1/membership/inference", tag = "membership",
    security(("bearer" = [])),
    responses((status = 200, body = InferenceResult), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin"]))))]
pub async fn run_inference(
    State(state): State<AppState>,
    caller: Caller<AdminOnly>,
    write: WriteRequest,
) -> ApiResult<Json<InferenceResult>> {
    let work = state.begin_plain(Some(caller.user_id), write.request_id).await?;
    let candidates_created = store::infer_all(&work).await?;
    work.audit("membership.inference", "membership_rules", "all", json!({ "candidates_created": candidates_created }))
        .await?;
    work.commit_plain().await?;
    Ok(Json(InferenceResult { candidates_created }))
}

/// Candidates in the caller's subtree, with the evidence that made them candidates
/// (`Accept: text/csv` for a spreadsheet).
#[utoipa::path(get, path = "/api/v1/membership/candidates", tag = "membership",
    security(("bearer" = [])),
    params(CandidateQuery),
    responses((status = 200, content((CandidateList = "application/json"), (String = "text/csv"))),
              (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 422, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor"]))))]
pub async fn list_candidates(
    State(state): State<AppState>,
    caller: Caller<StaffOrAuditor>,
    headers: HeaderMap,
    Query(query): Query<CandidateQuery>,
) -> ApiResult<Response> {
    let limit = page_limit(query.limit)?;
    let levels = level_ids_in_scope(&state, &caller).await?;
    let reader = state.store.reader();
    let page = store::candidates(reader, levels, query.status, limit, query.cursor).await?;
    let keys: Vec<String> = page.items.iter().map(|candidate| candidate.subject_key.clone()).collect();
    let registered = users::ids_by_phone_key(reader, &keys).await?;
    let list = CandidateList {
        candidates: page
            .items
            .into_iter()
            .map(|candidate| {
                let rider = registered.get(&candidate.subject_key).copied();
                candidate_view(candidate, rider)
            })
            .collect(),
        next_cursor: page.next_cursor,
    };
    if !csv::wanted(&headers) {
        return Ok(Json(list).into_response());
    }
    let mut table = Csv::new(&[
        "id",
        "level_id",
        "status",
        "registered_rider_id",
        "signal_count",
        "active_days",
        "first_seen",
        "last_seen",
        "partner_ids",
        "rule",
        "rule_version",
        "kind",
        "window_days",
        "min_count",
        "min_active_days",
    ]);
    for candidate in &list.candidates {
        let evidence = &candidate.evidence;
        let partners: Vec<String> = evidence.partner_ids.iter().map(ToString::to_string).collect();
        table.row([
            candidate.id.to_string(),
            candidate.level_id.to_string(),
            csv::text(&candidate.status),
            candidate.registered_rider_id.map(|id| id.to_string()).unwrap_or_default(),
            evidence.signal_count.to_string(),
            evidence.active_days.to_string(),
            evidence.first_seen.clone(),
            evidence.last_seen.clone(),
            partners.join(" "),
            evidence.rule_name.clone(),
            candidate.rule_version.to_string(),
            evidence.kind.clone(),
            evidence.window_days.to_string(),
            evidence.min_count.to_string(),
            evidence.min_active_days.to_string(),
        ]);
    }
    Ok(table.into_response("candidates.csv"))
}

/// Invite a candidate: a rider who registers (or has registered) with the matching phone number sees
/// the invitation and can apply.
#[utoipa::path(post, path = "/api/v1/membership/candidates/{id}/invite", tag = "membership",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = CandidateView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS),
              (status = 409, description = "Already invited or applied", body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer"]))))]
pub async fn invite(
    State(state): State<AppState>,
    caller: Caller<Staff>,
    write: WriteRequest,
    Path(candidate_id): Path<i64>,
) -> ApiResult<Json<CandidateView>> {
    let candidate = super::found(&caller, store::candidate_by_id(state.store.reader(), candidate_id).await)?;
    state.require_level(&caller, candidate.level_id).await?;
    let work = state.begin(caller.user_id, &write, &candidate_id).await?;
    let candidate = store::invite(&work, candidate_id).await?;
    work.audit("membership.invite", "candidate", candidate_id, json!({ "level_id": candidate.level_id })).await?;
    let view = candidate_view(candidate, None);
    work.commit(200, &view).await?;
    Ok(Json(view))
}

/// A rider applies to join; with a matching invitation (or candidacy) the application is linked to
/// its evidence. Riders can apply without one too.
#[utoipa::path(post, path = "/api/v1/membership/applications", tag = "membership",
    security(("bearer" = [])),
    request_body = ApplyRequest,
    responses((status = 201, body = MembershipView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS),
              (status = 409, description = "already-applied", body = Problem, content_type = PROBLEMS),
              (status = 422, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["rider"]))))]
pub async fn apply(
    State(state): State<AppState>,
    caller: Caller<RiderOnly>,
    write: WriteRequest,
    Json(body): Json<ApplyRequest>,
) -> ApiResult<(StatusCode, Json<MembershipView>)> {
    let reader = state.store.reader();
    let rider = users::find(reader, caller.user_id).await?;
    let candidate = match &rider.phone_key {
        Some(key) => store::candidate_by_subject(reader, key)
            .await?
            .filter(|candidate| candidate.status != CandidateStatus::Applied.as_str()),
        None => None,
    };
    let rider_path = state.level_path(rider.level_id.unwrap_or_default()).await?.unwrap_or_default();
    let level_id =
        body.level_id.or(candidate.as_ref().map(|candidate| candidate.level_id)).or(rider.level_id).unwrap_or_default();
    let level_path = state.level_path(level_id).await?;
    let allowed = level_path.as_deref().is_some_and(|path| within(path, &rider_path))
        || candidate.as_ref().is_some_and(|candidate| candidate.level_id == level_id);
    if !allowed {
        return Err(ApiError::invalid("level_id", "must be your own level or one above it"));
    }
    let note = body.note.as_deref().map(|note| crate::domain::required_text("note", note, 500)).transpose()?;
    let work = state.begin(caller.user_id, &write, &body).await?;
    let record = store::apply(&work, caller.user_id, level_id, candidate.as_ref(), note).await?;
    work.audit(
        "membership.apply",
        "membership",
        record.membership.id,
        json!({ "level_id": level_id, "candidate_id": record.membership.candidate_id }),
    )
    .await?;
    let view = MembershipView::from(record);
    work.commit(201, &view).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Applications and memberships in the caller's subtree.
#[utoipa::path(get, path = "/api/v1/membership/applications", tag = "membership",
    security(("bearer" = [])),
    params(MembershipQuery),
    responses((status = 200, body = MembershipList), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 422, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor"]))))]
pub async fn list_applications(
    State(state): State<AppState>,
    caller: Caller<StaffOrAuditor>,
    Query(query): Query<MembershipQuery>,
) -> ApiResult<Json<MembershipList>> {
    let limit = page_limit(query.limit)?;
    let levels = level_ids_in_scope(&state, &caller).await?;
    let page = store::memberships(state.store.reader(), levels, query.status, limit, query.cursor).await?;
    Ok(Json(MembershipList {
        memberships: page
            .items
            .into_iter()
            .map(|membership| MembershipRecord { membership, events: Vec::new() }.into())
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

async fn visible_membership<R: Allowed>(
    state: &AppState,
    caller: &Caller<R>,
    membership_id: i64,
) -> ApiResult<MembershipRecord> {
    let record = super::found(caller, store::membership_by_id(state.store.reader(), membership_id).await)?;
    if caller.role == Role::Rider {
        if record.membership.user_id != caller.user_id {
            return Err(ApiError::forbidden());
        }
    } else {
        state.require_level(caller, record.membership.level_id).await?;
    }
    Ok(record)
}

/// One application or membership with every step. Riders read their own.
#[utoipa::path(get, path = "/api/v1/membership/applications/{id}", tag = "membership",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = MembershipView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor", "rider"]))))]
pub async fn get_application(
    State(state): State<AppState>,
    caller: Caller<AnyPerson>,
    Path(membership_id): Path<i64>,
) -> ApiResult<Json<MembershipView>> {
    Ok(Json(visible_membership(&state, &caller, membership_id).await?.into()))
}

fn wrong_transition(from: MembershipStatus, to: MembershipStatus) -> ApiError {
    ApiError::Conflict {
        slug: "invalid-transition",
        title: "Not a possible transition",
        detail: format!("a membership that is {from} cannot become {to}"),
    }
}

/// A step of a membership: where to, why, and (for verification) what was checked.
struct Step {
    to: MembershipStatus,
    reason: Option<String>,
    verification: Option<serde_json::Value>,
}

async fn move_membership(
    state: &AppState,
    work_caller: i64,
    write: &WriteRequest,
    record: &MembershipRecord,
    step: Step,
    body: &impl Serialize,
) -> ApiResult<MembershipView> {
    let Step { to, reason, verification } = step;
    let from = MembershipStatus::parse(&record.membership.status).unwrap_or(MembershipStatus::Applied);
    if !from.can_become(to) {
        return Err(wrong_transition(from, to));
    }
    let work = state.begin(work_caller, write, body).await?;
    let updated = store::transition(&work, record.membership.id, from, to, reason.clone(), verification).await?;
    work.audit(
        &format!("membership.{to}"),
        "membership",
        record.membership.id,
        json!({ "from": from, "reason": reason }),
    )
    .await?;
    let view = MembershipView::from(updated);
    work.commit(200, &view).await?;
    Ok(view)
}

/// Record the verification (the real-name check, by whom, with a note): applied → verified.
#[utoipa::path(post, path = "/api/v1/membership/applications/{id}/verify", tag = "membership",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    request_body = VerifyRequest,
    responses((status = 200, body = MembershipView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS),
              (status = 409, description = "invalid-transition", body = Problem, content_type = PROBLEMS),
              (status = 422, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer"]))))]
pub async fn verify(
    State(state): State<AppState>,
    caller: Caller<Staff>,
    write: WriteRequest,
    Path(membership_id): Path<i64>,
    Json(body): Json<VerifyRequest>,
) -> ApiResult<Json<MembershipView>> {
    check_verification(body.checks.real_name, body.note.as_deref())?;
    let record = visible_membership(&state, &caller, membership_id).await?;
    let verification = json!({
        "real_name": body.checks.real_name,
        "documents": body.checks.documents,
        "note": body.note,
        "verified_by": caller.user_id,
        "verified_at": state.store.now(),
    });
    let step = Step { to: MembershipStatus::Verified, reason: body.note.clone(), verification: Some(verification) };
    let view = move_membership(&state, caller.user_id, &write, &record, step, &body).await?;
    Ok(Json(view))
}

/// Approve a verified application: the rider becomes a member with a member number, and the level's
/// welcome points (if any) are posted from its budget.
#[utoipa::path(post, path = "/api/v1/membership/applications/{id}/approve", tag = "membership",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    request_body = DecisionRequest,
    responses((status = 200, body = ApprovalResult), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS),
              (status = 409, description = "invalid-transition", body = Problem, content_type = PROBLEMS),
              (status = 422, description = "The level's budget cannot pay the welcome points", body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer"]))))]
pub async fn approve(
    State(state): State<AppState>,
    caller: Caller<Staff>,
    write: WriteRequest,
    Path(membership_id): Path<i64>,
    Json(body): Json<DecisionRequest>,
) -> ApiResult<Json<ApprovalResult>> {
    let record = visible_membership(&state, &caller, membership_id).await?;
    let from = MembershipStatus::parse(&record.membership.status).unwrap_or(MembershipStatus::Applied);
    if from != MembershipStatus::Verified {
        return Err(wrong_transition(from, MembershipStatus::Approved));
    }
    let work = state.begin(caller.user_id, &write, &body).await?;
    let (updated, welcome) = store::approve(&work, membership_id, body.reason.clone()).await?;
    work.audit(
        "membership.approved",
        "membership",
        membership_id,
        json!({ "member_number": updated.membership.member_number, "welcome_entry_id": welcome.as_ref().map(|entry| entry.id) }),
    )
    .await?;
    let view = ApprovalResult { membership: updated.into(), welcome_entry: welcome.map(Into::into) };
    work.commit(200, &view).await?;
    Ok(Json(view))
}

/// Reject an application, with a reason the rider sees.
#[utoipa::path(post, path = "/api/v1/membership/applications/{id}/reject", tag = "membership",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    request_body = DecisionRequest,
    responses((status = 200, body = MembershipView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS),
              (status = 409, description = "invalid-transition", body = Problem, content_type = PROBLEMS),
              (status = 422, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer"]))))]
pub async fn reject(
    State(state): State<AppState>,
    caller: Caller<Staff>,
    write: WriteRequest,
    Path(membership_id): Path<i64>,
    Json(body): Json<DecisionRequest>,
) -> ApiResult<Json<MembershipView>> {
    let reason = crate::domain::required_text("reason", body.reason.as_deref().unwrap_or(""), 500)?;
    let record = visible_membership(&state, &caller, membership_id).await?;
    let step = Step { to: MembershipStatus::Rejected, reason: Some(reason), verification: None };
    Ok(Json(move_membership(&state, caller.user_id, &write, &record, step, &body).await?))
}

/// Renew a lapsed membership (the member, or staff in scope): lapsed → approved.
#[utoipa::path(post, path = "/api/v1/membership/applications/{id}/renew", tag = "membership",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = MembershipView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS),
              (status = 409, description = "invalid-transition", body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer", "rider"]))))]
pub async fn renew(
    State(state): State<AppState>,
    caller: Caller<StaffOrRider>,
    write: WriteRequest,
    Path(membership_id): Path<i64>,
) -> ApiResult<Json<MembershipView>> {
    let record = visible_membership(&state, &caller, membership_id).await?;
    let reason = Some(if caller.role == Role::Rider {
        "renewed by the member".to_owned()
    } else {
        "renewed by the union".to_owned()
    });
    let step = Step { to: MembershipStatus::Approved, reason, verification: None };
    Ok(Json(move_membership(&state, caller.user_id, &write, &record, step, &membership_id).await?))
}

/// The rider's own membership, and the invitation with the evidence that made them a candidate.
#[utoipa::path(get, path = "/api/v1/me/membership", tag = "membership",
    security(("bearer" = [])),
    responses((status = 200, body = MyMembership), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["rider"]))))]
pub async fn my_membership(State(state): State<AppState>, caller: Caller<RiderOnly>) -> ApiResult<Json<MyMembership>> {
    let reader = state.store.reader();
    let rider = users::find(reader, caller.user_id).await?;
    let membership = store::latest_membership(reader, caller.user_id).await?;
    let invitation = match &rider.phone_key {
        Some(key) => store::candidate_by_subject(reader, key).await?.map(|candidate| {
            let view = candidate_view(candidate, Some(caller.user_id));
            Invitation { candidate_id: view.id, status: view.status, level_id: view.level_id, evidence: view.evidence }
        }),
        None => None,
    };
    Ok(Json(MyMembership { membership: membership.map(Into::into), invitation }))
}
