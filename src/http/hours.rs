//! Volunteer hours: bulk logging, check-in and check-out, approval, rejection and reversal.

use std::collections::HashSet;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{AnyPerson, Caller, Json, Path, Query, RiderOnly, Staff, WriteRequest};
use super::views::{EntryView, page_limit};
use super::volunteering::visible_activity;
use crate::domain::people::{Role, within};
use crate::domain::points::Points;
use crate::domain::volunteering::{
    self, CheckedHours, HOUR_ROWS_MAX, HourCheck, HourRow, HourSource, HourStatus, NOTE_CHARS_MAX, Outcome, guard,
    minutes_to_hours,
};
use crate::domain::{Invalid, required_text};
use crate::store::levels as level_store;
use crate::store::volunteering::{self as store, HourLogRecord, LogFilter, LogOrigin};

const PROBLEMS: &str = "application/problem+json";

#[derive(Serialize, Deserialize, ToSchema)]
pub struct HourRowRequest {
    pub rider_id: i64,
    /// Hours as a decimal (whole minutes: "1.5", "2.25"); or give started_at and ended_at.
    pub hours: Option<Points>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Default: completed.
    pub outcome: Option<Outcome>,
    /// Photos or documents: required, since logged hours are honor hours.
    #[serde(default)]
    pub evidence_urls: Vec<String>,
    pub note: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct LogHoursRequest {
    /// 1–1,000 rows, all checked before anything is written.
    pub rows: Vec<HourRowRequest>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct HourLogView {
    pub id: i64,
    pub activity_id: i64,
    pub rider_id: i64,
    pub category: String,
    /// When the service happened (check-in, given start, or the activity's start).
    pub served_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Hours, exact to the minute.
    pub hours: Points,
    pub source: HourSource,
    /// Checked in and out by the rider with the activity's code.
    pub verified: bool,
    pub outcome: Outcome,
    pub evidence_urls: Vec<String>,
    pub note: Option<String>,
    pub status: HourStatus,
    pub logged_by: Option<i64>,
    pub decided_by: Option<i64>,
    pub decided_at: Option<DateTime<Utc>>,
    pub rejection_reason: Option<String>,
    /// The rule version the award used.
    pub rule_version: Option<i32>,
    pub points: Option<Points>,
    pub award_entry_id: Option<i64>,
    pub reversal_entry_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

impl From<HourLogRecord> for HourLogView {
    fn from(log: HourLogRecord) -> Self {
        let source = HourSource::parse(&log.source).unwrap_or(HourSource::Organizer);
        HourLogView {
            id: log.id,
            activity_id: log.activity_id,
            rider_id: log.rider_id,
            category: log.category_code,
            served_at: log.served_at,
            started_at: log.started_at,
            ended_at: log.ended_at,
            hours: minutes_to_hours(log.minutes),
            source,
            verified: source == HourSource::CheckIn,
            outcome: Outcome::parse(&log.outcome).unwrap_or(Outcome::Completed),
            evidence_urls: serde_json::from_str(&log.evidence_urls).unwrap_or_default(),
            note: log.note,
            status: HourStatus::parse(&log.status).unwrap_or(HourStatus::Pending),
            logged_by: log.logged_by,
            decided_by: log.decided_by,
            decided_at: log.decided_at,
            rejection_reason: log.rejection_reason,
            rule_version: log.rule_version,
            points: log.points.map(Points::from_minor),
            award_entry_id: log.award_entry_id,
            reversal_entry_id: log.reversal_entry_id,
            created_at: log.created_at,
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct HourLogList {
    pub logs: Vec<HourLogView>,
    pub next_cursor: Option<i64>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct CheckInRequest {
    /// The activity's six-digit code.
    pub code: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ApproveRequest {
    /// 1–1,000 pending logs, approved together or not at all.
    pub ids: Vec<i64>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ApprovedLog {
    pub log_id: i64,
    pub rider_id: i64,
    pub points: Points,
    pub rule_version: Option<i32>,
    /// The award entry (none when the rule gives no points).
    pub entry_id: Option<i64>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ApproveResult {
    pub approved: Vec<ApprovedLog>,
    pub total_points: Points,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReasonRequest {
    pub reason: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReversedLog {
    pub log: HourLogView,
    pub reversal: Option<EntryView>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HourQuery {
    pub activity_id: Option<i64>,
    /// Riders always see only their own.
    pub rider_id: Option<i64>,
    pub status: Option<HourStatus>,
    pub limit: Option<u64>,
    pub cursor: Option<i64>,
}

/// Log hours for many riders at once (honor hours: evidence required, within the activity). Every
/// row is checked first; if any is bad, the answer names every bad row and nothing is written.
#[utoipa::path(post, path = "/api/v1/activities/{id}/hours", tag = "volunteering",
    security(("bearer" = [])),
    params(("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key replay the first answer")),
    request_body = LogHoursRequest,
    responses((status = 201, body = HourLogList), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS),
              (status = 409, description = "The activity is not open", body = Problem, content_type = PROBLEMS),
              (status = 422, description = "Bad rows, each named with a code: overlapping-hours, daily-cap-exceeded, outside-activity, evidence-required, unknown-rider, invalid-hours", body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer"]))))]
pub async fn log_hours(
    State(state): State<AppState>,
    caller: Caller<Staff>,
    write: WriteRequest,
    Path(activity_id): Path<i64>,
    Json(body): Json<LogHoursRequest>,
) -> ApiResult<(StatusCode, Json<HourLogList>)> {
    if body.rows.is_empty() || body.rows.len() > HOUR_ROWS_MAX {
        return Err(ApiError::invalid("rows", format!("must hold 1–{HOUR_ROWS_MAX} rows")));
    }
    let activity = visible_activity(&state, &caller, activity_id).await?;
    let reader = state.store.reader();
    let category = store::category(reader, &activity.category_code).await?;
    let activity_path = state.level_path(activity.level_id).await?.unwrap_or_default();
    let rider_ids: Vec<i64> = body.rows.iter().map(|row| row.rider_id).collect();
    let eligible = store::riders_within(reader, &rider_ids, &activity_path).await?;
    let rows: Vec<HourRow> = body
        .rows
        .iter()
        .map(|row| HourRow {
            rider_id: row.rider_id,
            hours: row.hours,
            started_at: row.started_at,
            ended_at: row.ended_at,
            evidence_urls: row.evidence_urls.clone(),
            note: row.note.clone(),
        })
        .collect();
    let work = state.begin(caller.user_id, &write, &body).await?;
    // Existing hours are read inside the transaction, so a concurrent batch cannot slip past the checks.
    let existing =
        store::counting_logs(work.txn(), &rider_ids, activity.id, activity.starts_at, activity.ends_at).await?;
    let in_scope = |rider_id: i64| eligible.contains_key(&rider_id);
    let window = activity.window();
    let check = HourCheck {
        activity_id: activity.id,
        category_code: &activity.category_code,
        activity: &window,
        rule: &category.rule,
        rider_in_scope: &in_scope,
        existing: &existing,
    };
    let checked = volunteering::check_hour_rows(&check, &rows)?;
    let with_origin: Vec<(CheckedHours, LogOrigin)> = checked
        .into_iter()
        .zip(&body.rows)
        .map(|(hours, row)| {
            let origin = LogOrigin {
                source: HourSource::Organizer,
                status: HourStatus::Pending,
                outcome: row.outcome.unwrap_or(Outcome::Completed),
            };
            (hours, origin)
        })
        .collect();
    let logs = store::insert_logs(&work, &activity, &with_origin).await?;
    work.audit("hours.log", "activity", activity.id, json!({ "rows": logs.len() })).await?;
    let view = HourLogList { logs: logs.into_iter().map(Into::into).collect(), next_cursor: None };
    work.commit(201, &view).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// A rider checks in to an open activity of their level (or a level above) with its code.
#[utoipa::path(post, path = "/api/v1/activities/{id}/check-in", tag = "volunteering",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    request_body = CheckInRequest,
    responses((status = 201, body = HourLogView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS),
              (status = 409, description = "Not open, or already checked in", body = Problem, content_type = PROBLEMS),
              (status = 422, description = "Wrong code", body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["rider"]))))]
pub async fn check_in(
    State(state): State<AppState>,
    caller: Caller<RiderOnly>,
    write: WriteRequest,
    Path(activity_id): Path<i64>,
    Json(body): Json<CheckInRequest>,
) -> ApiResult<(StatusCode, Json<HourLogView>)> {
    let activity = visible_activity(&state, &caller, activity_id).await?;
    let now = state.store.now();
    if activity.status != volunteering::ActivityStatus::Open || now >= activity.ends_at {
        return Err(ApiError::Conflict {
            slug: guard::ACTIVITY_NOT_OPEN,
            title: "Activity not open",
            detail: "check-in is possible only while the activity is open and has not ended".into(),
        });
    }
    if activity.checkin_code.as_deref() != Some(body.code.trim()) {
        return Err(ApiError::invalid("code", "is not this activity's check-in code"));
    }
    let work = state.begin(caller.user_id, &write, &body).await?;
    let existing = store::counting_logs(work.txn(), &[caller.user_id], activity.id, now, now).await?;
    if existing.iter().any(|log| log.activity_id == activity.id) {
        return Err(ApiError::Conflict {
            slug: guard::OVERLAPPING_HOURS,
            title: "Already checked in",
            detail: "you already have hours at this activity".into(),
        });
    }
    let started_at = now.max(activity.starts_at);
    let hours = CheckedHours {
        rider_id: caller.user_id,
        served_at: started_at,
        started_at: Some(started_at),
        ended_at: None,
        minutes: 0,
        evidence_urls: Vec::new(),
        note: None,
    };
    let origin = LogOrigin { source: HourSource::CheckIn, status: HourStatus::CheckedIn, outcome: Outcome::Completed };
    let mut logs = store::insert_logs(&work, &activity, &[(hours, origin)]).await?;
    let log = logs.remove(0);
    work.audit("hours.check_in", "hour_log", log.id, json!({ "activity_id": activity.id })).await?;
    let view = HourLogView::from(log);
    work.commit(201, &view).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// A rider checks out: the time since check-in (within the activity) becomes verified, pending hours.
#[utoipa::path(post, path = "/api/v1/activities/{id}/check-out", tag = "volunteering",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = HourLogView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS),
              (status = 409, description = "Not checked in", body = Problem, content_type = PROBLEMS),
              (status = 422, description = "Over the daily cap or overlapping other hours", body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["rider"]))))]
pub async fn check_out(
    State(state): State<AppState>,
    caller: Caller<RiderOnly>,
    write: WriteRequest,
    Path(activity_id): Path<i64>,
) -> ApiResult<Json<HourLogView>> {
    let activity = visible_activity(&state, &caller, activity_id).await?;
    let category = store::category(state.store.reader(), &activity.category_code).await?;
    let work = state.begin(caller.user_id, &write, &activity_id).await?;
    let Some(open) = store::open_check_in(work.txn(), activity.id, caller.user_id).await? else {
        return Err(ApiError::Conflict {
            slug: "not-checked-in",
            title: "Not checked in",
            detail: "check in first".into(),
        });
    };
    let started_at = open.started_at.unwrap_or(activity.starts_at);
    let now = work.now();
    let minutes = volunteering::checked_out_minutes(&activity.window(), started_at, now);
    let ended_at = std::cmp::min(now, activity.ends_at);
    // The same guards as logged hours: other hours must not overlap, and the daily cap holds.
    let existing: Vec<_> = store::counting_logs(work.txn(), &[caller.user_id], activity.id, started_at, ended_at)
        .await?
        .into_iter()
        .filter(|log| log.activity_id != activity.id)
        .collect();
    let in_scope = |_: i64| true;
    let window = activity.window();
    let check = HourCheck {
        activity_id: activity.id,
        category_code: &activity.category_code,
        activity: &window,
        rule: &category.rule,
        rider_in_scope: &in_scope,
        existing: &existing,
    };
    let candidate = CheckedHours {
        rider_id: caller.user_id,
        served_at: started_at,
        started_at: Some(started_at),
        ended_at: Some(ended_at),
        minutes,
        evidence_urls: Vec::new(),
        note: None,
    };
    if let Some(error) = volunteering::conflict(&check, &[], &candidate, "check_out") {
        return Err(Invalid(vec![error]).into());
    }
    let log = store::check_out(&work, open.id, ended_at, minutes).await?;
    work.audit("hours.check_out", "hour_log", log.id, json!({ "minutes": minutes })).await?;
    let view = HourLogView::from(log);
    work.commit(200, &view).await?;
    Ok(Json(view))
}

/// Hour logs: riders see their own; staff and auditors those in their scope.
#[utoipa::path(get, path = "/api/v1/hours", tag = "volunteering",
    security(("bearer" = [])),
    params(HourQuery),
    responses((status = 200, body = HourLogList), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 422, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor", "rider"]))))]
pub async fn list_hours(
    State(state): State<AppState>,
    caller: Caller<AnyPerson>,
    Query(query): Query<HourQuery>,
) -> ApiResult<Json<HourLogList>> {
    let limit = page_limit(query.limit)?;
    let filter = if caller.role == Role::Rider {
        LogFilter {
            root_path: None,
            activity_id: query.activity_id,
            rider_id: Some(caller.user_id),
            status: query.status,
        }
    } else {
        LogFilter {
            root_path: state.scope_root(&caller).await?,
            activity_id: query.activity_id,
            rider_id: query.rider_id,
            status: query.status,
        }
    };
    let page = store::logs(state.store.reader(), &filter, limit, query.cursor).await?;
    Ok(Json(HourLogList { logs: page.items.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor }))
}

/// Refuses unless every log exists and lies in the caller's subtree; with `approving`, also
/// refuses logs the caller logged where the level asks for a second person to approve.
async fn logs_in_scope(
    state: &AppState,
    caller: &Caller<Staff>,
    log_ids: &[i64],
    approving: bool,
) -> ApiResult<Vec<HourLogRecord>> {
    let logs = store::logs_by_ids(state.store.reader(), log_ids).await?;
    let found: HashSet<i64> = logs.iter().map(|log| log.id).collect();
    if let Some(missing) = log_ids.iter().find(|id| !found.contains(id)) {
        return Err(if caller.sees_everything() {
            ApiError::NotFound(format!("no hour log {missing}"))
        } else {
            ApiError::forbidden()
        });
    }
    let root = state.scope_root(caller).await?;
    for log in &logs {
        if let Some(root) = &root {
            let path = state.level_path(log.level_id).await?.unwrap_or_default();
            if !within(root, &path) {
                return Err(ApiError::forbidden());
            }
        }
        if approving && log.logged_by == Some(caller.user_id) {
            let level = level_store::find(state.store.reader(), log.level_id).await?;
            if level.approver_must_differ {
                return Err(ApiError::Forbidden(format!(
                    "hour log {}: at this level, hours must be approved by someone other than who logged them",
                    log.id
                )));
            }
        }
    }
    Ok(logs)
}

/// Approve pending hours (one or up to 1,000): each posts an award from the budget of its
/// activity's level to the rider, by the category's rule. All or nothing: if the budget cannot
/// cover them, nothing posts.
#[utoipa::path(post, path = "/api/v1/hours/approve", tag = "volunteering",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key replay the first answer")),
    request_body = ApproveRequest,
    responses((status = 200, body = ApproveResult), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS),
              (status = 409, description = "A log is not pending", body = Problem, content_type = PROBLEMS),
              (status = 422, description = "Invalid input, or the budget cannot cover the awards (insufficient-points)", body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer"]))))]
pub async fn approve_hours(
    State(state): State<AppState>,
    caller: Caller<Staff>,
    write: WriteRequest,
    Json(body): Json<ApproveRequest>,
) -> ApiResult<Json<ApproveResult>> {
    let unique: HashSet<i64> = body.ids.iter().copied().collect();
    if body.ids.is_empty() || body.ids.len() > HOUR_ROWS_MAX || unique.len() != body.ids.len() {
        return Err(ApiError::invalid("ids", format!("must hold 1–{HOUR_ROWS_MAX} distinct log ids")));
    }
    logs_in_scope(&state, &caller, &body.ids, true).await?;
    let work = state.begin(caller.user_id, &write, &body).await?;
    let approvals = store::approve(&work, &body.ids).await?;
    let mut total = Points::ZERO;
    let approved: Vec<ApprovedLog> = approvals
        .into_iter()
        .map(|approval| {
            let points = approval.log.points.map(Points::from_minor).unwrap_or(Points::ZERO);
            total = total.checked_add(points).unwrap_or(total);
            ApprovedLog {
                log_id: approval.log.id,
                rider_id: approval.log.rider_id,
                points,
                rule_version: approval.log.rule_version,
                entry_id: Some(approval.entry.id),
            }
        })
        .collect();
    work.audit("hours.approve", "hour_logs", body.ids.len(), json!({ "ids": body.ids, "total_points": total })).await?;
    let view = ApproveResult { approved, total_points: total };
    work.commit(200, &view).await?;
    Ok(Json(view))
}

/// Reject pending hours, with a reason the rider sees.
#[utoipa::path(post, path = "/api/v1/hours/{id}/reject", tag = "volunteering",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    request_body = ReasonRequest,
    responses((status = 200, body = HourLogView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS),
              (status = 409, description = "Not pending", body = Problem, content_type = PROBLEMS),
              (status = 422, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer"]))))]
pub async fn reject_hours(
    State(state): State<AppState>,
    caller: Caller<Staff>,
    write: WriteRequest,
    Path(log_id): Path<i64>,
    Json(body): Json<ReasonRequest>,
) -> ApiResult<Json<HourLogView>> {
    let reason = required_text("reason", &body.reason, NOTE_CHARS_MAX)?;
    logs_in_scope(&state, &caller, &[log_id], false).await?;
    let work = state.begin(caller.user_id, &write, &body).await?;
    let log = store::reject(&work, log_id, reason.clone()).await?;
    work.audit("hours.reject", "hour_log", log_id, json!({ "reason": reason })).await?;
    let view = HourLogView::from(log);
    work.commit(200, &view).await?;
    Ok(Json(view))
}

/// Reverse approved hours: their award is reversed and the log is marked reversed.
#[utoipa::path(post, path = "/api/v1/hours/{id}/reversal", tag = "volunteering",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    request_body = ReasonRequest,
    responses((status = 200, body = ReversedLog), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS),
              (status = 409, description = "Not approved", body = Problem, content_type = PROBLEMS),
              (status = 422, description = "Invalid input, or the rider has already spent the points", body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer"]))))]
pub async fn reverse_hours(
    State(state): State<AppState>,
    caller: Caller<Staff>,
    write: WriteRequest,
    Path(log_id): Path<i64>,
    Json(body): Json<ReasonRequest>,
) -> ApiResult<Json<ReversedLog>> {
    let reason = required_text("reason", &body.reason, NOTE_CHARS_MAX)?;
    logs_in_scope(&state, &caller, &[log_id], false).await?;
    let work = state.begin(caller.user_id, &write, &body).await?;
    let (log, reversal) = store::reverse(&work, log_id, reason).await?;
    work.audit(
        "hours.reverse",
        "hour_log",
        log_id,
        json!({ "reversal_entry_id": reversal.as_ref().map(|entry| entry.id) }),
    )
    .await?;
    let view = ReversedLog { log: log.into(), reversal: reversal.map(Into::into) };
    work.commit(200, &view).await?;
    Ok(Json(view))
}
