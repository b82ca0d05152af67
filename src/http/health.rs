//! Liveness, readiness and metrics: open to anyone (no personal data).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::Json;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` when the check passed.
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, body = Health)),
    extensions(("x-roles" = json!(["public"]))))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// The database answers.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = super::error::Problem, content_type = "application/problem+json")),
    extensions(("x-roles" = json!(["public"]))))]
pub async fn readyz(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    state.store.ping().await.map_err(|error| {
        tracing::warn!(%error, "readiness check failed");
        ApiError::Status {
            status: StatusCode::SERVICE_UNAVAILABLE,
            slug: "unavailable",
            title: "Database unreachable",
            detail: "the database does not answer".into(),
        }
    })?;
    Ok(Json(Health { status: "ok" }))
}

/// Prometheus metrics (not in the OpenAPI description: it is not JSON).
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render(state.store.commit_stats()))
}
