//! The audit trail: who changed what, when, in which request.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Caller, Json, Query, StaffOrAuditor};
use super::views::{page_limit, time_window};
use crate::store::audit::{self, AuditFilter};
use crate::store::levels as level_store;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only changes made by this user.
    pub actor: Option<i64>,
    /// `type` or `type:id`, e.g. `entry:42`, `level`, `redemption:7`.
    pub target: Option<String>,
    /// Only this action, e.g. `entry.post`.
    pub action: Option<String>,
    /// From this instant (RFC 3339), inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Before this instant (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// 1–500, default 50.
    pub limit: Option<u64>,
    /// `next_cursor` of the page before.
    pub cursor: Option<i64>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AuditEventView {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// Who acted; absent for the service's own jobs.
    pub actor_id: Option<i64>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    /// The request that made the change (also in the `x-request-id` answer header and the logs).
    pub request_id: Option<String>,
    /// What changed.
    #[schema(value_type = Object)]
    pub summary: serde_json::Value,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    /// Newest first.
    pub events: Vec<AuditEventView>,
    pub next_cursor: Option<i64>,
}

/// The audit trail, newest first. Organizers see the changes made by people in their subtree.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit",
    security(("bearer" = [])),
    params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")),
    extensions(("x-roles" = json!(["admin", "auditor", "organizer"]))))]
pub async fn list_audit(
    State(state): State<AppState>,
    caller: Caller<StaffOrAuditor>,
    Query(query): Query<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    let limit = page_limit(query.limit)?;
    time_window(query.from, query.to)?;
    let (target_type, target_id) = match query.target.as_deref().map(str::trim) {
        None => (None, None),
        Some("") => return Err(ApiError::invalid("target", "must be `type` or `type:id`")),
        Some(target) => match target.split_once(':') {
            Some((kind, id)) if !kind.is_empty() && !id.is_empty() => (Some(kind.to_owned()), Some(id.to_owned())),
            Some(_) => return Err(ApiError::invalid("target", "must be `type` or `type:id`")),
            None => (Some(target.to_owned()), None),
        },
    };
    let actor_levels = match state.scope_root(&caller).await? {
        Some(root) => Some(level_store::ids_under(state.store.reader(), &root).await?),
        None => None,
    };
    let filter = AuditFilter {
        actor_id: query.actor,
        target_type,
        target_id,
        action: query.action,
        from: query.from,
        to: query.to,
        actor_levels,
    };
    let page = audit::list(state.store.reader(), &filter, limit, query.cursor).await?;
    let events = page
        .items
        .into_iter()
        .map(|event| AuditEventView {
            id: event.id,
            at: event.at,
            actor_id: event.actor_id,
            action: event.action,
            target_type: event.target_type,
            target_id: event.target_id,
            request_id: event.request_id,
            summary: serde_json::from_str(&event.summary).unwrap_or_else(|_| json!({})),
        })
        .collect();
    Ok(Json(AuditPage { events, next_cursor: page.next_cursor }))
}
