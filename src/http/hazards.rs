//! Hazard reports (随手拍): a rider reports, the union acknowledges, assigns, resolves, and
//! confirms (paying the report's points once) or dismisses — every step visible to the rider.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{AnyPerson, Caller, Json, Path, Query, RiderOnly, Staff, WriteRequest};
use super::views::page_limit;
use crate::domain::people::Role;
use crate::domain::volunteering::{self, HazardStatus, NOTE_CHARS_MAX, TITLE_CHARS_MAX};
use crate::domain::{Validator, required_text};
use crate::store::volunteering::{self as store, HazardReportRecord};
use entity::hazard_report;

const PROBLEMS: &str = "application/problem+json";
const DESCRIPTION_CHARS_MAX: usize = 2_000;

#[derive(Serialize, Deserialize, ToSchema)]
pub struct CreateHazardReport {
    pub description: String,
    pub place: String,
    #[serde(default)]
    pub photo_urls: Vec<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct HazardStatusRequest {
    pub status: HazardStatus,
    /// What was done, e.g. "交管已修复指示牌".
    pub note: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct HazardEventView {
    pub status: HazardStatus,
    pub note: Option<String>,
    pub actor_id: Option<i64>,
    pub at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct HazardReportView {
    pub id: i64,
    pub rider_id: i64,
    pub level_id: i64,
    pub description: String,
    pub place: String,
    pub photo_urls: Vec<String>,
    pub status: HazardStatus,
    /// The award paid when the report was confirmed.
    pub award_entry_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Every step so far, oldest first.
    pub events: Vec<HazardEventView>,
}

fn summary(report: hazard_report::Model, events: Vec<HazardEventView>) -> HazardReportView {
    HazardReportView {
        id: report.id,
        rider_id: report.rider_id,
        level_id: report.level_id,
        description: report.description,
        place: report.place,
        photo_urls: serde_json::from_str(&report.photo_urls).unwrap_or_default(),
        status: HazardStatus::parse(&report.status).unwrap_or(HazardStatus::Filed),
        award_entry_id: report.award_entry_id,
        created_at: report.created_at,
        updated_at: report.updated_at,
        events,
    }
}

impl From<HazardReportRecord> for HazardReportView {
    fn from(record: HazardReportRecord) -> Self {
        let events = record
            .events
            .into_iter()
            .map(|event| HazardEventView {
                status: HazardStatus::parse(&event.status).unwrap_or(HazardStatus::Filed),
                note: event.note,
                actor_id: event.actor_id,
                at: event.at,
            })
            .collect();
        summary(record.report, events)
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct HazardReportList {
    /// Newest first (without their steps; read one report for those).
    pub reports: Vec<HazardReportView>,
    pub next_cursor: Option<i64>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HazardQuery {
    pub status: Option<HazardStatus>,
    pub limit: Option<u64>,
    pub cursor: Option<i64>,
}

/// A rider reports a hazard on their route.
#[utoipa::path(post, path = "/api/v1/hazard-reports", tag = "volunteering",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key replay the first answer")),
    request_body = CreateHazardReport,
    responses((status = 201, body = HazardReportView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 422, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["rider"]))))]
pub async fn create_hazard_report(
    State(state): State<AppState>,
    caller: Caller<RiderOnly>,
    write: WriteRequest,
    Json(body): Json<CreateHazardReport>,
) -> ApiResult<(StatusCode, Json<HazardReportView>)> {
    let mut validator = Validator::new();
    let description = validator.take(required_text("description", &body.description, DESCRIPTION_CHARS_MAX));
    let place = validator.take(required_text("place", &body.place, TITLE_CHARS_MAX));
    let photo_urls = validator.take(volunteering::urls("photo_urls", &body.photo_urls));
    validator.finish()?;
    let level_id = caller.level_id.ok_or_else(ApiError::forbidden)?;
    let work = state.begin(caller.user_id, &write, &body).await?;
    let report = store::create_hazard_report(
        &work,
        caller.user_id,
        level_id,
        description.unwrap_or_default(),
        place.unwrap_or_default(),
        photo_urls.unwrap_or_default(),
    )
    .await?;
    work.audit("hazard.report", "hazard_report", report.report.id, json!({ "level_id": level_id })).await?;
    let view = HazardReportView::from(report);
    work.commit(201, &view).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn visible_report<R: super::extract::Allowed>(
    state: &AppState,
    caller: &Caller<R>,
    report_id: i64,
) -> ApiResult<HazardReportRecord> {
    let report = super::found(caller, store::hazard_report_by_id(state.store.reader(), report_id).await)?;
    match caller.role {
        Role::Rider if report.report.rider_id != caller.user_id => return Err(ApiError::forbidden()),
        Role::Rider => {}
        _ => {
            state.require_level(caller, report.report.level_id).await?;
        }
    }
    Ok(report)
}

/// One report with every step. Riders read their own; staff those in their subtree.
#[utoipa::path(get, path = "/api/v1/hazard-reports/{id}", tag = "volunteering",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = HazardReportView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor", "rider"]))))]
pub async fn get_hazard_report(
    State(state): State<AppState>,
    caller: Caller<AnyPerson>,
    Path(report_id): Path<i64>,
) -> ApiResult<Json<HazardReportView>> {
    Ok(Json(visible_report(&state, &caller, report_id).await?.into()))
}

/// Hazard reports: riders see their own; staff and auditors those in their scope.
#[utoipa::path(get, path = "/api/v1/hazard-reports", tag = "volunteering",
    security(("bearer" = [])),
    params(HazardQuery),
    responses((status = 200, body = HazardReportList), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 422, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor", "rider"]))))]
pub async fn list_hazard_reports(
    State(state): State<AppState>,
    caller: Caller<AnyPerson>,
    Query(query): Query<HazardQuery>,
) -> ApiResult<Json<HazardReportList>> {
    let limit = page_limit(query.limit)?;
    let (rider, root) = if caller.role == Role::Rider {
        (Some(caller.user_id), None)
    } else {
        (None, state.scope_root(&caller).await?)
    };
    let page =
        store::hazard_reports(state.store.reader(), rider, root.as_deref(), query.status, limit, query.cursor).await?;
    Ok(Json(HazardReportList {
        reports: page.items.into_iter().map(|report| summary(report, Vec::new())).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Move a report on: acknowledged, assigned, resolved, then confirmed (the rider is paid the
/// hazard-report points, once) or dismissed.
#[utoipa::path(post, path = "/api/v1/hazard-reports/{id}/status", tag = "volunteering",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    request_body = HazardStatusRequest,
    responses((status = 200, body = HazardReportView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS),
              (status = 409, description = "Not a possible transition (e.g. confirming twice)", body = Problem, content_type = PROBLEMS),
              (status = 422, description = "Invalid input, or the level's budget cannot pay", body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer"]))))]
pub async fn set_hazard_status(
    State(state): State<AppState>,
    caller: Caller<Staff>,
    write: WriteRequest,
    Path(report_id): Path<i64>,
    Json(body): Json<HazardStatusRequest>,
) -> ApiResult<Json<HazardReportView>> {
    let note = match &body.note {
        Some(note) => Some(required_text("note", note, NOTE_CHARS_MAX)?),
        None => None,
    };
    let report = visible_report(&state, &caller, report_id).await?;
    let current = HazardStatus::parse(&report.report.status).unwrap_or(HazardStatus::Filed);
    if !current.can_become(body.status) {
        return Err(ApiError::Conflict {
            slug: "invalid-transition",
            title: "Not a possible transition",
            detail: format!("a report that is {current} cannot become {}", body.status),
        });
    }
    let work = state.begin(caller.user_id, &write, &body).await?;
    let report = store::advance_hazard_report(&work, report_id, current, body.status, note).await?;
    work.audit(
        "hazard.status",
        "hazard_report",
        report_id,
        json!({ "status": body.status, "award_entry_id": report.report.award_entry_id }),
    )
    .await?;
    let view = HazardReportView::from(report);
    work.commit(200, &view).await?;
    Ok(Json(view))
}
