//! Categories and their point rules, squads and activities.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use rand::Rng;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{AdminOnly, AnyPerson, Caller, Json, Path, Query, Staff, StaffOrAuditor, WriteRequest};
use super::views::page_limit;
use crate::domain::people::{Language, Phone, Role, within};
use crate::domain::points::Points;
use crate::domain::volunteering::{
    self, ActivityStatus, MULTIPLIER_ONE_BP, Rule, SQUAD_MEMBERS_PER_REQUEST_MAX, TITLE_CHARS_MAX, hours_to_minutes,
    minutes_to_hours,
};
use crate::domain::{FieldError, Validator, required_text};
use crate::store::volunteering::{self as store, ActivityRecord, CategoryRecord, NewActivity, SquadRecord};

const PROBLEMS: &str = "application/problem+json";

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Bonuses {
    pub completed: Points,
    pub commended: Points,
    pub outstanding: Points,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Multiplier {
    /// The factor, a decimal such as "1.5" (0.1–10, at most four places).
    #[schema(value_type = String, example = "1.5")]
    pub factor: Decimal,
    /// Service starting at or after this instant…
    pub from: DateTime<Utc>,
    /// …and before this one is multiplied.
    pub until: DateTime<Utc>,
    /// Why, e.g. "Typhoon Saola duty".
    pub label: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct CategoryRuleView {
    /// Each change is a new version; awards record the version they used.
    pub version: i32,
    pub points_per_hour: Points,
    /// A fixed amount per report (hazard reports).
    pub points_per_report: Option<Points>,
    /// Added to an award by the outcome of the service.
    pub bonus: Bonuses,
    pub multiplier: Option<Multiplier>,
    /// Most hours of this service one rider may log a day (local time, UTC+8).
    #[schema(value_type = String, example = "12.00")]
    pub daily_cap_hours: Decimal,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct CategoryView {
    pub code: String,
    /// The name in the answer's language (`Accept-Language`, else the caller's level's default).
    pub name: String,
    pub name_zh: String,
    pub name_en: String,
    pub rule: CategoryRuleView,
}

impl CategoryView {
    pub fn new(category: CategoryRecord, language: Language) -> Self {
        let rule = category.rule;
        CategoryView {
            code: category.code,
            name: language.pick(&category.name_zh, &category.name_en).to_owned(),
            name_zh: category.name_zh,
            name_en: category.name_en,
            rule: CategoryRuleView {
                version: rule.version,
                points_per_hour: rule.points_per_hour,
                points_per_report: rule.points_per_report,
                bonus: Bonuses {
                    completed: rule.bonus_completed,
                    commended: rule.bonus_commended,
                    outstanding: rule.bonus_outstanding,
                },
                multiplier: rule.multiplier_window.map(|(from, until)| Multiplier {
                    factor: Decimal::new(rule.multiplier_bp, 4).normalize(),
                    from,
                    until,
                    label: rule.multiplier_label.clone(),
                }),
                daily_cap_hours: minutes_to_hours(rule.daily_cap_minutes).to_decimal(),
                created_at: category.rule_created_at,
            },
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct CategoryList {
    pub categories: Vec<CategoryView>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct PutRule {
    pub points_per_hour: Points,
    pub points_per_report: Option<Points>,
    /// Default: no bonus.
    pub bonus: Option<Bonuses>,
    pub multiplier: Option<Multiplier>,
    /// Hours, e.g. "12" or "7.5".
    #[schema(value_type = String, example = "12")]
    pub daily_cap_hours: Decimal,
}

/// Every category of volunteer service with its current point rule.
#[utoipa::path(get, path = "/api/v1/categories", tag = "volunteering",
    security(("bearer" = [])),
    responses((status = 200, body = CategoryList), (status = 401, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor", "rider"]))))]
pub async fn list_categories(
    State(state): State<AppState>,
    caller: Caller<AnyPerson>,
) -> ApiResult<Json<CategoryList>> {
    let categories = store::categories(state.store.reader()).await?;
    Ok(Json(CategoryList {
        categories: categories.into_iter().map(|category| CategoryView::new(category, caller.language)).collect(),
    }))
}

/// Change a category's rule: this writes a new version; past awards keep theirs.
#[utoipa::path(put, path = "/api/v1/categories/{code}/rule", tag = "volunteering",
    security(("bearer" = [])),
    params(("code" = String, Path)),
    request_body = PutRule,
    responses((status = 200, body = CategoryView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS),
              (status = 422, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin"]))))]
pub async fn put_rule(
    State(state): State<AppState>,
    caller: Caller<AdminOnly>,
    write: WriteRequest,
    Path(code): Path<String>,
    Json(body): Json<PutRule>,
) -> ApiResult<Json<CategoryView>> {
    let mut validator = Validator::new();
    let multiplier_bp = match &body.multiplier {
        None => Some(MULTIPLIER_ONE_BP),
        Some(multiplier) => {
            let scaled = multiplier.factor * Decimal::from(MULTIPLIER_ONE_BP);
            if scaled.fract().is_zero() {
                i64::try_from(scaled).ok()
            } else {
                validator.push(FieldError::new("multiplier.factor", "must have at most four decimal places"));
                None
            }
        }
    };
    let daily_cap_minutes = Points::from_decimal(body.daily_cap_hours).ok().and_then(hours_to_minutes);
    validator.check(daily_cap_minutes.is_some(), "daily_cap_hours", "must be positive whole minutes, e.g. 8 or 7.5");
    validator.finish()?;
    let bonus = body.bonus.as_ref();
    let rule = Rule {
        version: 0,
        points_per_hour: body.points_per_hour,
        points_per_report: body.points_per_report,
        bonus_completed: bonus.map_or(Points::ZERO, |bonus| bonus.completed),
        bonus_commended: bonus.map_or(Points::ZERO, |bonus| bonus.commended),
        bonus_outstanding: bonus.map_or(Points::ZERO, |bonus| bonus.outstanding),
        multiplier_bp: multiplier_bp.unwrap_or(MULTIPLIER_ONE_BP),
        multiplier_window: body.multiplier.as_ref().map(|multiplier| (multiplier.from, multiplier.until)),
        multiplier_label: body.multiplier.as_ref().and_then(|multiplier| multiplier.label.clone()),
        daily_cap_minutes: daily_cap_minutes.unwrap_or_default(),
    };
    rule.validate()?;
    store::category(state.store.reader(), &code).await?;
    let work = state.begin(caller.user_id, &write, &body).await?;
    let category = store::put_rule(&work, &code, rule).await?;
    work.audit("rule.update", "category", &code, json!({ "version": category.rule.version })).await?;
    let view = CategoryView::new(category, caller.language);
    work.commit(200, &view).await?;
    Ok(Json(view))
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct CreateSquad {
    pub level_id: i64,
    pub name: String,
    /// A category code, e.g. `emergency_response`.
    pub category: String,
    /// A rider of the level's subtree who leads the squad.
    pub leader_id: Option<i64>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct SquadView {
    pub id: i64,
    pub level_id: i64,
    pub name: String,
    pub category: String,
    pub leader_id: Option<i64>,
    pub member_count: usize,
    /// Rider ids, in the order they joined.
    pub member_ids: Vec<i64>,
    pub created_at: DateTime<Utc>,
}

impl From<SquadRecord> for SquadView {
    fn from(squad: SquadRecord) -> Self {
        SquadView {
            id: squad.id,
            level_id: squad.level_id,
            name: squad.name,
            category: squad.category_code,
            leader_id: squad.leader_user_id,
            member_count: squad.member_ids.len(),
            member_ids: squad.member_ids,
            created_at: squad.created_at,
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct SquadList {
    pub squads: Vec<SquadSummary>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct SquadSummary {
    pub id: i64,
    pub level_id: i64,
    pub name: String,
    pub category: String,
    pub leader_id: Option<i64>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AddMembers {
    /// Riders by id…
    #[serde(default)]
    pub rider_ids: Vec<i64>,
    /// …and/or by phone number (any common notation).
    #[serde(default)]
    pub phones: Vec<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct MemberFailure {
    /// The id or phone number as sent.
    pub input: String,
    pub reason: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AddMembersResult {
    /// Riders added by this request.
    pub added: Vec<i64>,
    /// Riders who were members already.
    pub already_members: Vec<i64>,
    /// Rows that could not be added, and why.
    pub failed: Vec<MemberFailure>,
    pub squad: SquadView,
}

async fn category_exists(state: &AppState, code: &str) -> ApiResult<()> {
    store::category(state.store.reader(), code)
        .await
        .map(|_| ())
        .map_err(|_| ApiError::invalid("category", "there is no such category"))
}

/// Create a squad at a level (organizers: in their subtree).
#[utoipa::path(post, path = "/api/v1/squads", tag = "volunteering",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key replay the first answer")),
    request_body = CreateSquad,
    responses((status = 201, body = SquadView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 422, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer"]))))]
pub async fn create_squad(
    State(state): State<AppState>,
    caller: Caller<Staff>,
    write: WriteRequest,
    Json(body): Json<CreateSquad>,
) -> ApiResult<(StatusCode, Json<SquadView>)> {
    let name = required_text("name", &body.name, TITLE_CHARS_MAX)?;
    let path = state.require_level(&caller, body.level_id).await?;
    category_exists(&state, &body.category).await?;
    if let Some(leader_id) = body.leader_id
        && store::riders_within(state.store.reader(), &[leader_id], &path).await?.is_empty()
    {
        return Err(ApiError::invalid("leader_id", "must be a rider of this level's subtree"));
    }
    let work = state.begin(caller.user_id, &write, &body).await?;
    let squad = store::create_squad(&work, body.level_id, name, &body.category, body.leader_id).await?;
    if let Some(leader_id) = body.leader_id {
        store::add_squad_members(&work, squad.id, &[leader_id]).await?;
    }
    let squad = store::squad_by_id(work.txn(), squad.id).await?;
    work.audit("squad.create", "squad", squad.id, json!({ "level_id": squad.level_id, "name": squad.name })).await?;
    let view = SquadView::from(squad);
    work.commit(201, &view).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Squads in the caller's scope.
#[utoipa::path(get, path = "/api/v1/squads", tag = "volunteering",
    security(("bearer" = [])),
    responses((status = 200, body = SquadList), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor"]))))]
pub async fn list_squads(State(state): State<AppState>, caller: Caller<StaffOrAuditor>) -> ApiResult<Json<SquadList>> {
    let root = state.scope_root(&caller).await?;
    let squads = store::squads(state.store.reader(), root.as_deref()).await?;
    Ok(Json(SquadList {
        squads: squads
            .into_iter()
            .map(|squad| SquadSummary {
                id: squad.id,
                level_id: squad.level_id,
                name: squad.name,
                category: squad.category_code,
                leader_id: squad.leader_user_id,
            })
            .collect(),
    }))
}

async fn squad_in_scope<R: super::extract::Allowed>(
    state: &AppState,
    caller: &Caller<R>,
    squad_id: i64,
) -> ApiResult<(SquadRecord, String)> {
    let squad = super::found(caller, store::squad_by_id(state.store.reader(), squad_id).await)?;
    let path = state.require_level(caller, squad.level_id).await?;
    Ok((squad, path))
}

/// One squad with its members.
#[utoipa::path(get, path = "/api/v1/squads/{id}", tag = "volunteering",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = SquadView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor"]))))]
pub async fn get_squad(
    State(state): State<AppState>,
    caller: Caller<StaffOrAuditor>,
    Path(squad_id): Path<i64>,
) -> ApiResult<Json<SquadView>> {
    let (squad, _) = squad_in_scope(&state, &caller, squad_id).await?;
    Ok(Json(squad.into()))
}

/// Add riders to a squad in one request (by id or phone number, up to 1,000): riders of the
/// squad's subtree are added; every row that could not be is named with the reason.
#[utoipa::path(post, path = "/api/v1/squads/{id}/members", tag = "volunteering",
    security(("bearer" = [])),
    params(("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key replay the first answer")),
    request_body = AddMembers,
    responses((status = 200, description = "Per-row results", body = AddMembersResult), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS),
              (status = 422, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer"]))))]
pub async fn add_members(
    State(state): State<AppState>,
    caller: Caller<Staff>,
    write: WriteRequest,
    Path(squad_id): Path<i64>,
    Json(body): Json<AddMembers>,
) -> ApiResult<Json<AddMembersResult>> {
    let rows = body.rider_ids.len() + body.phones.len();
    if rows == 0 || rows > SQUAD_MEMBERS_PER_REQUEST_MAX {
        return Err(ApiError::invalid("rider_ids", format!("send 1–{SQUAD_MEMBERS_PER_REQUEST_MAX} riders")));
    }
    let (squad, path) = squad_in_scope(&state, &caller, squad_id).await?;
    let reader = state.store.reader();
    let mut failed = Vec::new();
    let mut wanted: Vec<(String, i64)> = body.rider_ids.iter().map(|id| (id.to_string(), *id)).collect();
    let mut parsed_phones = Vec::new();
    for phone in &body.phones {
        match Phone::parse(phone) {
            Ok(parsed) => parsed_phones.push((phone.clone(), parsed.as_str().to_owned())),
            Err(_) => {
                failed.push(MemberFailure { input: phone.clone(), reason: "not a mainland mobile number".into() })
            }
        }
    }
    let by_phone =
        store::riders_by_phone(reader, &parsed_phones.iter().map(|(_, phone)| phone.clone()).collect::<Vec<_>>())
            .await?;
    for (input, phone) in parsed_phones {
        match by_phone.get(&phone) {
            Some(id) => wanted.push((input, *id)),
            None => {
                failed.push(MemberFailure { input, reason: "no rider is registered with this phone number".into() })
            }
        }
    }
    let ids: Vec<i64> = wanted.iter().map(|(_, id)| *id).collect();
    let eligible = store::riders_within(reader, &ids, &path).await?;
    let mut accepted = Vec::new();
    for (input, id) in wanted {
        if !eligible.contains_key(&id) {
            failed.push(MemberFailure { input, reason: "not a rider of this squad's level or below".into() });
        } else if !accepted.contains(&id) {
            accepted.push(id);
        }
    }
    let work = state.begin(caller.user_id, &write, &body).await?;
    let added = store::add_squad_members(&work, squad.id, &accepted).await?;
    let already_members = accepted.iter().copied().filter(|id| !added.contains(id)).collect();
    let squad = store::squad_by_id(work.txn(), squad.id).await?;
    work.audit("squad.members.add", "squad", squad.id, json!({ "added": added.len(), "failed": failed.len() })).await?;
    let view = AddMembersResult { added, already_members, failed, squad: squad.into() };
    work.commit(200, &view).await?;
    Ok(Json(view))
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct CreateActivity {
    pub level_id: i64,
    pub squad_id: Option<i64>,
    pub title: String,
    pub category: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub place: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ActivityView {
    pub id: i64,
    pub level_id: i64,
    pub squad_id: Option<i64>,
    pub title: String,
    pub category: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub place: String,
    pub status: ActivityStatus,
    /// Six digits riders enter to check in; shown to staff only, set when the activity opens.
    pub checkin_code: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ActivityView {
    pub fn for_role(activity: ActivityRecord, role: Role) -> Self {
        ActivityView {
            id: activity.id,
            level_id: activity.level_id,
            squad_id: activity.squad_id,
            title: activity.title,
            category: activity.category_code,
            starts_at: activity.starts_at,
            ends_at: activity.ends_at,
            place: activity.place,
            status: activity.status,
            checkin_code: if matches!(role, Role::Admin | Role::Organizer) { activity.checkin_code } else { None },
            created_at: activity.created_at,
            updated_at: activity.updated_at,
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ActivityStatusRequest {
    pub status: ActivityStatus,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ActivityPage {
    pub activities: Vec<ActivityView>,
    pub next_cursor: Option<i64>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivityQuery {
    pub status: Option<ActivityStatus>,
    pub limit: Option<u64>,
    pub cursor: Option<i64>,
}

/// Create an activity (planned) at a level, optionally for a squad.
#[utoipa::path(post, path = "/api/v1/activities", tag = "volunteering",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key replay the first answer")),
    request_body = CreateActivity,
    responses((status = 201, body = ActivityView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 422, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer"]))))]
pub async fn create_activity(
    State(state): State<AppState>,
    caller: Caller<Staff>,
    write: WriteRequest,
    Json(body): Json<CreateActivity>,
) -> ApiResult<(StatusCode, Json<ActivityView>)> {
    let mut validator = Validator::new();
    let title = validator.take(required_text("title", &body.title, TITLE_CHARS_MAX));
    let place = validator.take(required_text("place", &body.place, TITLE_CHARS_MAX));
    validator.take(volunteering::activity_times(body.starts_at, body.ends_at));
    validator.finish()?;
    state.require_level(&caller, body.level_id).await?;
    category_exists(&state, &body.category).await?;
    if let Some(squad_id) = body.squad_id {
        let squad = store::squad_by_id(state.store.reader(), squad_id)
            .await
            .map_err(|_| ApiError::invalid("squad_id", "there is no such squad"))?;
        let level_path = state.level_path(body.level_id).await?.unwrap_or_default();
        let squad_path = state.level_path(squad.level_id).await?.unwrap_or_default();
        if !within(&level_path, &squad_path) {
            return Err(ApiError::invalid("squad_id", "the squad must belong to this level or one below it"));
        }
    }
    let work = state.begin(caller.user_id, &write, &body).await?;
    let activity = store::create_activity(
        &work,
        NewActivity {
            level_id: body.level_id,
            squad_id: body.squad_id,
            title: title.unwrap_or_default(),
            category_code: body.category.clone(),
            starts_at: body.starts_at,
            ends_at: body.ends_at,
            place: place.unwrap_or_default(),
        },
    )
    .await?;
    work.audit(
        "activity.create",
        "activity",
        activity.id,
        json!({ "level_id": activity.level_id, "title": activity.title }),
    )
    .await?;
    let view = ActivityView::for_role(activity, caller.role);
    work.commit(201, &view).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// An activity a caller may see: staff and auditors within their scope; riders those of their own
/// level and the levels above it (the ones they can join).
pub async fn visible_activity<R: super::extract::Allowed>(
    state: &AppState,
    caller: &Caller<R>,
    activity_id: i64,
) -> ApiResult<ActivityRecord> {
    let activity = super::found(caller, store::activity_by_id(state.store.reader(), activity_id).await)?;
    state.require_offered(caller, activity.level_id).await?;
    Ok(activity)
}

/// One activity. Riders may read the activities of their level and the levels above it.
#[utoipa::path(get, path = "/api/v1/activities/{id}", tag = "volunteering",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = ActivityView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor", "rider"]))))]
pub async fn get_activity(
    State(state): State<AppState>,
    caller: Caller<AnyPerson>,
    Path(activity_id): Path<i64>,
) -> ApiResult<Json<ActivityView>> {
    let activity = visible_activity(&state, &caller, activity_id).await?;
    Ok(Json(ActivityView::for_role(activity, caller.role)))
}

/// Activities in the caller's scope, newest first.
#[utoipa::path(get, path = "/api/v1/activities", tag = "volunteering",
    security(("bearer" = [])),
    params(ActivityQuery),
    responses((status = 200, body = ActivityPage), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 422, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor"]))))]
pub async fn list_activities(
    State(state): State<AppState>,
    caller: Caller<StaffOrAuditor>,
    Query(query): Query<ActivityQuery>,
) -> ApiResult<Json<ActivityPage>> {
    let limit = page_limit(query.limit)?;
    let root = state.scope_root(&caller).await?;
    let page = store::activities(state.store.reader(), root.as_deref(), query.status, limit, query.cursor).await?;
    Ok(Json(ActivityPage {
        activities: page.items.into_iter().map(|activity| ActivityView::for_role(activity, caller.role)).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Move an activity along planned → open → closed (or cancel it). Opening sets a new six-digit
/// check-in code.
#[utoipa::path(post, path = "/api/v1/activities/{id}/status", tag = "volunteering",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    request_body = ActivityStatusRequest,
    responses((status = 200, body = ActivityView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS),
              (status = 409, description = "Not a possible transition", body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer"]))))]
pub async fn set_activity_status(
    State(state): State<AppState>,
    caller: Caller<Staff>,
    write: WriteRequest,
    Path(activity_id): Path<i64>,
    Json(body): Json<ActivityStatusRequest>,
) -> ApiResult<Json<ActivityView>> {
    let activity = visible_activity(&state, &caller, activity_id).await?;
    if !activity.status.can_become(body.status) {
        return Err(ApiError::Conflict {
            slug: "invalid-transition",
            title: "Not a possible transition",
            detail: format!("an activity that is {} cannot become {}", activity.status, body.status),
        });
    }
    let code = (body.status == ActivityStatus::Open).then(|| volunteering::checkin_code(rand::rng().random()));
    let work = state.begin(caller.user_id, &write, &body).await?;
    let activity = store::set_activity_status(&work, activity_id, activity.status, body.status, code).await?;
    work.audit("activity.status", "activity", activity_id, json!({ "status": activity.status })).await?;
    let view = ActivityView::for_role(activity, caller.role);
    work.commit(200, &view).await?;
    Ok(Json(view))
}
