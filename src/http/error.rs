//! One error type for the whole API, answered as RFC 9457 `application/problem+json`.
//!
//! Every problem has a stable `type` (a URI reference under `/problems/`), a `title` that names the
//! kind of problem, a `detail` that says what to do, and for invalid input the offending fields.
//! 5xx answers say nothing about the cause; it is logged once, here.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::ledger::LedgerError;
use crate::domain::points::Points;
use crate::domain::{FieldError, Invalid};
use crate::store::{Replay, StoreError};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Stable identifier of the kind of problem, e.g. `/problems/insufficient-points`.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// For invalid input: each offending field and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
    /// Extra members for some problem types (e.g. `available` and `requested` points).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemField {
    /// The field, as a path into the request: `transfers[0].amount`, or a query parameter name.
    pub field: String,
    pub message: String,
    /// A stable code for errors callers may act on, e.g. `overlapping-hours` or `daily-cap-exceeded`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

impl From<FieldError> for ProblemField {
    fn from(error: FieldError) -> Self {
        ProblemField { field: error.field, message: error.message, code: error.code.map(str::to_owned) }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid input")]
    Invalid(Invalid),
    #[error("{detail}")]
    BadRequest { slug: &'static str, title: &'static str, detail: String },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{detail}")]
    Conflict { slug: &'static str, title: &'static str, detail: String },
    #[error("{detail}")]
    Status { status: StatusCode, slug: &'static str, title: &'static str, detail: String },
    #[error(transparent)]
    Ledger(LedgerError),
    /// Not an error: the stored first answer of an idempotent retry. Carried as an error so that
    /// handlers can return it early with `?`.
    #[error("replayed")]
    Replayed(Replay),
    /// Brute force or a partner's rate limit: refused for a while.
    #[error("{detail}")]
    TooManyAttempts { retry_after_seconds: u64, detail: String },
    #[error("internal error: {0}")]
    Internal(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn forbidden() -> Self {
        ApiError::Forbidden("your role or level does not allow this".into())
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ApiError::Invalid(Invalid::one(field, message))
    }

    pub fn internal(error: impl std::fmt::Display) -> Self {
        ApiError::Internal(error.to_string())
    }
}

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        ApiError::Invalid(invalid)
    }
}

impl From<LedgerError> for ApiError {
    fn from(error: LedgerError) -> Self {
        ApiError::Ledger(error)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Invalid(invalid) => ApiError::Invalid(invalid),
            StoreError::Ledger(error) => ApiError::Ledger(error),
            StoreError::NotFound(what) => ApiError::NotFound(format!("no such {what}")),
            StoreError::Conflict(detail) => ApiError::Conflict { slug: "conflict", title: "Conflict", detail },
            StoreError::HoldNotPending { hold_id, status } => ApiError::Conflict {
                slug: "hold-not-pending",
                title: "Hold is no longer pending",
                detail: format!("hold {hold_id} is already {status}; only a pending hold can be posted or voided"),
            },
            StoreError::AlreadyReversed { entry_id, reversal_entry_id } => ApiError::Conflict {
                slug: "entry-already-reversed",
                title: "Entry already reversed",
                detail: format!(
                    "entry {entry_id} was already reversed by entry {reversal_entry_id}; an entry can be reversed once"
                ),
            },
            StoreError::IdempotencyMismatch => ApiError::Conflict {
                slug: "idempotency-key-reused",
                title: "Idempotency-Key reused with a different request",
                detail: "this Idempotency-Key was first used with a different request; use a new key for a new request"
                    .into(),
            },
            StoreError::Refused { code, detail } => {
                ApiError::Conflict { slug: code, title: refusal_title(code), detail }
            }
            StoreError::Database(error) => ApiError::Internal(error.to_string()),
        }
    }
}

/// The title of a refusal by a business rule.
fn refusal_title(code: &str) -> &'static str {
    match code {
        "out-of-stock" => "Out of stock",
        "redemption-limit-reached" => "Redemption limit reached",
        "reward-unavailable" => "Reward not available",
        "redemption-not-pending" => "Redemption no longer pending",
        "pool-closed" => "Pool closed",
        "pledge-not-pending" => "Pledge no longer pending",
        _ => "Refused",
    }
}

/// Builds a problem response for a status, with the standard title.
pub fn problem_response(status: StatusCode, slug: &str, title: &str, detail: String) -> Response {
    render(Problem {
        problem_type: format!("/problems/{slug}"),
        title: title.to_owned(),
        status: status.as_u16(),
        detail,
        errors: Vec::new(),
        extensions: serde_json::Map::new(),
    })
}

fn render(problem: Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, slug, title, detail, errors, extensions) = match self {
            ApiError::Invalid(Invalid(errors)) => {
                let detail = match errors.as_slice() {
                    [only] => format!("{}: {}", only.field, only.message),
                    _ => format!("{} fields are invalid; see `errors`", errors.len()),
                };
                // When every error is of one coded kind (overlapping hours, say), that kind is the
                // problem's type; otherwise it is a validation error listing them all.
                let shared_code = errors
                    .first()
                    .and_then(|first| first.code)
                    .filter(|code| errors.iter().all(|error| error.code == Some(*code)));
                let (status, slug) = match shared_code {
                    Some(code) if code == crate::domain::volunteering::guard::ACTIVITY_NOT_OPEN => {
                        (StatusCode::CONFLICT, code)
                    }
                    Some(code) => (StatusCode::UNPROCESSABLE_ENTITY, code),
                    None => (StatusCode::UNPROCESSABLE_ENTITY, "validation-error"),
                };
                (status, slug, "Invalid input", detail, errors, serde_json::Map::new())
            }
            ApiError::BadRequest { slug, title, detail } => {
                (StatusCode::BAD_REQUEST, slug, title, detail, vec![], Default::default())
            }
            ApiError::Unauthorized(detail) => {
                let mut response =
                    problem_response(StatusCode::UNAUTHORIZED, "unauthorized", "Authentication required", detail);
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return response;
            }
            ApiError::Forbidden(detail) => {
                (StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail, vec![], Default::default())
            }
            ApiError::NotFound(detail) => {
                (StatusCode::NOT_FOUND, "not-found", "Not found", detail, vec![], Default::default())
            }
            ApiError::Conflict { slug, title, detail } => {
                (StatusCode::CONFLICT, slug, title, detail, vec![], Default::default())
            }
            ApiError::Status { status, slug, title, detail } => {
                (status, slug, title, detail, vec![], Default::default())
            }
            ApiError::Ledger(error) => ledger_problem(error),
            ApiError::Replayed(replay) => {
                let status = StatusCode::from_u16(replay.status_code).unwrap_or(StatusCode::OK);
                let mut response = (status, axum::Json(replay.body)).into_response();
                response.headers_mut().insert("idempotency-replayed", HeaderValue::from_static("true"));
                return response;
            }
            ApiError::TooManyAttempts { retry_after_seconds, detail } => {
                let mut response =
                    problem_response(StatusCode::TOO_MANY_REQUESTS, "too-many-attempts", "Too many attempts", detail);
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
                return response;
            }
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal-error",
                    "Internal error",
                    "the service could not complete the request; nothing was changed. Try again later".into(),
                    vec![],
                    Default::default(),
                )
            }
        };
        render(Problem {
            problem_type: format!("/problems/{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            errors: errors.into_iter().map(ProblemField::from).collect(),
            extensions,
        })
    }
}

type ProblemParts =
    (StatusCode, &'static str, &'static str, String, Vec<FieldError>, serde_json::Map<String, serde_json::Value>);

fn ledger_problem(error: LedgerError) -> ProblemParts {
    let detail = error.to_string();
    let mut extensions = serde_json::Map::new();
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    let (slug, title) = match error {
        LedgerError::InsufficientPoints { account_id, available, requested } => {
            extensions.insert("account_id".into(), account_id.into());
            extensions.insert("available".into(), points_json(available));
            extensions.insert("requested".into(), points_json(requested));
            ("insufficient-points", "Insufficient points")
        }
        LedgerError::Unbalanced { total } => {
            extensions.insert("total".into(), points_json(total));
            ("unbalanced-entry", "Unbalanced entry")
        }
        LedgerError::TooFewPostings => ("unbalanced-entry", "Unbalanced entry"),
        LedgerError::UnknownAccount(account_id) => {
            extensions.insert("account_id".into(), account_id.into());
            ("unknown-account", "Unknown account")
        }
        LedgerError::HoldExceeded { held, requested } => {
            extensions.insert("held".into(), points_json(held));
            extensions.insert("requested".into(), points_json(requested));
            ("hold-amount-exceeded", "More than the hold keeps back")
        }
        LedgerError::Overflow => ("amount-overflow", "Amount too large"),
    };
    (status, slug, title, detail, vec![], extensions)
}

fn points_json(points: Points) -> serde_json::Value {
    serde_json::Value::String(points.to_string())
}

/// Turns any error answer that is not already a problem (404 from the router, 405, 413 from the
/// body limit, 503 from the timeout) into one, keeping its status and headers.
pub async fn problemify(response: Response) -> Response {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let (slug, detail) = match status {
        StatusCode::NOT_FOUND => ("not-found", "there is no such resource; see /docs for the API".to_owned()),
        // The router adds the `Allow` header after this layer has run.
        StatusCode::METHOD_NOT_ALLOWED => (
            "method-not-allowed",
            "this resource does not accept that method; the Allow header lists those it does".to_owned(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload-too-large", "the request body is too large".to_owned()),
        StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => {
            ("unavailable", "the service could not answer in time; try again later (a write sent again with the same Idempotency-Key is done once)".to_owned())
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("unsupported-media-type", "send the body as application/json".to_owned())
        }
        _ => ("http-error", status.canonical_reason().unwrap_or("error").to_owned()),
    };
    let title = status.canonical_reason().unwrap_or("Error");
    let (parts, _) = response.into_parts();
    let mut problem = problem_response(status, slug, title, detail);
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            problem.headers_mut().insert(name.clone(), value.clone());
        }
    }
    problem
}
