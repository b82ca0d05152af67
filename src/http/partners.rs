//! Partners as machine clients: registration, secret rotation, the OAuth2 client-credentials
//! token endpoint, and the signal batches they push.

use std::net::SocketAddr;
use std::time::Instant;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{AdminOnly, AdminOrAuditor, Caller, Json, PartnerOnly, Path, Query, WriteRequest, parse_json};
use super::views::page_limit;
use crate::auth::{hash_password, new_opaque_token, verify_password};
use crate::domain::membership::{PartnerKind, SIGNALS_PER_BATCH_MAX, SignalInput, Subject, check_signal};
use crate::domain::people::Role;
use crate::domain::{Validator, required_text};
use crate::store::CheckedBatch;
use crate::store::membership::{self as store, PartnerRecord};

const PROBLEMS: &str = "application/problem+json";
/// How long the previous secret keeps working after a rotation, unless told otherwise.
const ROTATION_GRACE_HOURS_DEFAULT: i64 = 24;

#[derive(Serialize, Deserialize, ToSchema)]
pub struct CreatePartner {
    pub name: String,
    pub kind: PartnerKind,
    /// The levels it serves: its candidates are assigned there.
    pub level_ids: Vec<i64>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct PartnerView {
    pub id: i64,
    pub name: String,
    pub kind: PartnerKind,
    pub client_id: String,
    pub level_ids: Vec<i64>,
    pub active: bool,
    /// Until when the secret before the last rotation still works.
    pub previous_secret_valid_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<PartnerRecord> for PartnerView {
    fn from(record: PartnerRecord) -> Self {
        let partner = record.partner;
        PartnerView {
            id: partner.id,
            name: partner.name,
            kind: PartnerKind::parse(&partner.kind).unwrap_or(PartnerKind::Other),
            client_id: partner.client_id,
            level_ids: record.level_ids,
            active: partner.active,
            previous_secret_valid_until: partner.previous_valid_until,
            created_at: partner.created_at,
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct PartnerCredentials {
    pub partner: PartnerView,
    /// Shown once: only a hash is kept.
    pub client_secret: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct PartnerList {
    pub partners: Vec<PartnerView>,
}

#[derive(Serialize, Deserialize, ToSchema, Default)]
pub struct RotateSecret {
    /// Hours the old secret keeps working (default 24; 0 ends it now).
    pub grace_hours: Option<i64>,
}

/// Register a partner; its client secret is shown once.
#[utoipa::path(post, path = "/api/v1/partners", tag = "partners",
    security(("bearer" = [])),
    request_body = CreatePartner,
    responses((status = 201, body = PartnerCredentials), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 422, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin"]))))]
pub async fn create_partner(
    State(state): State<AppState>,
    caller: Caller<AdminOnly>,
    write: WriteRequest,
    Json(body): Json<CreatePartner>,
) -> ApiResult<(StatusCode, Json<PartnerCredentials>)> {
    let mut validator = Validator::new();
    let name = validator.take(required_text("name", &body.name, 100));
    validator.check(!body.level_ids.is_empty(), "level_ids", "name at least one level the partner serves");
    validator.finish()?;
    for level_id in &body.level_ids {
        if state.level_path(*level_id).await?.is_none() {
            return Err(ApiError::invalid("level_ids", format!("there is no level {level_id}")));
        }
    }
    let (secret, _) = new_opaque_token();
    let secret_hash = hash_password(secret.clone()).await.map_err(ApiError::internal)?;
    let client_id = format!("ptn_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
    // A new secret each time: a replayed answer would show a secret that no longer works, so this
    // endpoint takes no Idempotency-Key.
    let work = state.begin_plain(Some(caller.user_id), write.request_id).await?;
    let partner =
        store::create_partner(&work, name.unwrap_or_default(), body.kind, &body.level_ids, client_id, secret_hash)
            .await?;
    work.audit(
        "partner.create",
        "partner",
        partner.partner.id,
        json!({ "name": partner.partner.name, "kind": body.kind }),
    )
    .await?;
    work.commit_plain().await?;
    Ok((StatusCode::CREATED, Json(PartnerCredentials { partner: partner.into(), client_secret: secret })))
}

/// Partners, with their client ids (never their secrets).
#[utoipa::path(get, path = "/api/v1/partners", tag = "partners",
    security(("bearer" = [])),
    responses((status = 200, body = PartnerList), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "auditor"]))))]
pub async fn list_partners(
    State(state): State<AppState>,
    _caller: Caller<AdminOrAuditor>,
) -> ApiResult<Json<PartnerList>> {
    let partners = store::partners(state.store.reader()).await?;
    Ok(Json(PartnerList { partners: partners.into_iter().map(Into::into).collect() }))
}

/// Rotate a partner's secret: the new one is shown once; the old one works for a grace period.
#[utoipa::path(post, path = "/api/v1/partners/{id}/secret", tag = "partners",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    request_body = RotateSecret,
    responses((status = 200, body = PartnerCredentials), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS),
              (status = 422, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin"]))))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    caller: Caller<AdminOnly>,
    write: WriteRequest,
    Path(partner_id): Path<i64>,
    Json(body): Json<RotateSecret>,
) -> ApiResult<Json<PartnerCredentials>> {
    let grace_hours = body.grace_hours.unwrap_or(ROTATION_GRACE_HOURS_DEFAULT);
    if !(0..=24 * 30).contains(&grace_hours) {
        return Err(ApiError::invalid("grace_hours", "must be 0–720 hours"));
    }
    store::partner_by_id(state.store.reader(), partner_id).await?;
    let (secret, _) = new_opaque_token();
    let secret_hash = hash_password(secret.clone()).await.map_err(ApiError::internal)?;
    let work = state.begin_plain(Some(caller.user_id), write.request_id).await?;
    let until = work.now() + TimeDelta::hours(grace_hours);
    let partner = store::rotate_secret(&work, partner_id, secret_hash, until).await?;
    work.audit("partner.rotate_secret", "partner", partner_id, json!({ "previous_valid_until": until })).await?;
    work.commit_plain().await?;
    Ok(Json(PartnerCredentials { partner: partner.into(), client_secret: secret }))
}

#[derive(Serialize, Deserialize, ToSchema, Default)]
pub struct TokenRequest {
    /// Must be `client_credentials`.
    pub grant_type: String,
    /// Or use HTTP Basic authentication.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ClientToken {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    pub expires_in: i64,
}

fn oauth_error(status: StatusCode, error: &'static str, detail: &str) -> ApiError {
    ApiError::Status { status, slug: error, title: "Token request refused", detail: detail.to_owned() }
}

/// OAuth2 client credentials (RFC 6749 §4.4) for partners: the client id and secret in the body
/// (form or JSON) or in HTTP Basic authentication; answers a short-lived token with role `partner`.
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "auth",
    request_body(content((TokenRequest = "application/x-www-form-urlencoded"), (TokenRequest = "application/json"))),
    responses((status = 200, body = ClientToken),
              (status = 400, description = "unsupported_grant_type or invalid_request", body = Problem, content_type = PROBLEMS),
              (status = 401, description = "invalid_client", body = Problem, content_type = PROBLEMS),
              (status = 429, description = "Too many failed attempts for this client or address: wait `Retry-After` seconds",
               body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["public"]))))]
pub async fn token(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<ClientToken>> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or("");
    let request: TokenRequest = if content_type.starts_with("application/x-www-form-urlencoded") {
        serde_urlencoded::from_bytes(&body)
            .map_err(|error| oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &error.to_string()))?
    } else if content_type.starts_with("application/json") {
        parse_json(&body)?
    } else {
        return Err(oauth_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_request", "send a form or JSON body"));
    };
    if request.grant_type != "client_credentials" {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only grant_type=client_credentials is supported",
        ));
    }
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok())
        .and_then(|decoded| String::from_utf8(decoded).ok())
        .and_then(|pair| pair.split_once(':').map(|(id, secret)| (id.to_owned(), secret.to_owned())));
    let (client_id, client_secret) = match (basic, request.client_id, request.client_secret) {
        (Some(pair), _, _) => pair,
        (None, Some(id), Some(secret)) => (id, secret),
        _ => return Err(oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "send client_id and client_secret")),
    };
    // Client secrets are guessed like passwords: the same throttle, keyed by client id.
    let address = peer.map(|Extension(ConnectInfo(address))| address.ip());
    let throttle_key = format!("client:{}", client_id.trim());
    let delay = state.login_throttle.check(&throttle_key, address, Instant::now())?;
    let partner = store::partner_by_client_id(state.store.reader(), client_id.trim())
        .await?
        .filter(|partner| partner.partner.active);
    let now = state.store.now();
    let current = partner.as_ref().map(|partner| partner.partner.secret_hash.clone());
    let mut valid = verify_password(current, client_secret.clone()).await;
    if !valid
        && let Some(partner) = &partner
        && let (Some(previous), Some(until)) =
            (&partner.partner.previous_secret_hash, partner.partner.previous_valid_until)
        && until > now
    {
        valid = verify_password(Some(previous.clone()), client_secret).await;
    }
    let Some(partner) = partner.filter(|_| valid) else {
        let refusal = state.login_throttle.failed(&throttle_key, address, Instant::now());
        tokio::time::sleep(delay).await;
        return Err(match refusal {
            Some(refusal) => refusal.into(),
            None => oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "the client id or secret is wrong"),
        });
    };
    state.login_throttle.succeeded(&throttle_key);
    let session = format!("client:{}", partner.partner.client_id);
    Ok(Json(ClientToken {
        access_token: state.tokens.issue(partner.partner.id, Role::Partner, None, None, &session, now),
        token_type: "Bearer".into(),
        expires_in: state.tokens.access_ttl_seconds,
    }))
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct SubjectInput {
    /// The rider's mobile number…
    pub phone: Option<String>,
    /// …or the partner's own reference for them.
    pub partner_ref: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct SignalEventInput {
    /// The partner's id for the event: an event is counted once per partner and id.
    pub event_id: String,
    pub subject: SubjectInput,
    /// battery_swap, order_completed or other.
    pub kind: String,
    /// RFC 3339; not in the future, at most 90 days ago.
    pub occurred_at: String,
    /// Default 1.
    pub quantity: Option<i64>,
    /// Where, e.g. a district's name: used to assign candidates to the level serving it.
    pub area: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct SignalBatch {
    /// 1–10,000 events.
    pub events: Vec<SignalEventInput>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct RefusedEvent {
    /// Position in the batch.
    pub index: usize,
    pub event_id: String,
    pub reason: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct SignalBatchResult {
    /// Events counted now.
    pub accepted: u64,
    /// Events this partner had sent before (or twice in this batch): counted once, already.
    pub duplicates: u64,
    /// Events refused, each with the reason; the rest of the batch stands.
    pub rejected: Vec<RefusedEvent>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct SignalView {
    pub event_id: String,
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    pub quantity: i64,
    pub area: Option<String>,
    pub received_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct SignalList {
    /// Newest first. Subjects are not returned: only keyed hashes are kept.
    pub events: Vec<SignalView>,
    pub next_cursor: Option<i64>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignalQuery {
    pub limit: Option<u64>,
    pub cursor: Option<i64>,
}

/// Push a batch of identity signals. Answers per row: accepted, duplicates, and every refused row
/// with its reason; good rows stand. A malformed batch (not this shape) changes nothing.
#[utoipa::path(post, path = "/api/v1/signals", tag = "partners",
    security(("bearer" = [])),
    request_body = SignalBatch,
    responses((status = 200, description = "Per-row results", body = SignalBatchResult), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS),
              (status = 422, description = "Malformed batch: nothing was stored", body = Problem, content_type = PROBLEMS),
              (status = 429, description = "Over the partner's rate limit: wait `Retry-After` seconds", body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["partner"]))))]
pub async fn push_signals(
    State(state): State<AppState>,
    caller: Caller<PartnerOnly>,
    write: WriteRequest,
    Json(body): Json<SignalBatch>,
) -> ApiResult<Json<SignalBatchResult>> {
    state.partner_limiter.take(caller.user_id, Instant::now())?;
    if body.events.is_empty() || body.events.len() > SIGNALS_PER_BATCH_MAX {
        return Err(ApiError::invalid("events", format!("must hold 1–{SIGNALS_PER_BATCH_MAX} events")));
    }
    let partner_id = caller.user_id;
    let now = state.store.now();
    let mut rejected = Vec::new();
    let mut checked = Vec::with_capacity(body.events.len());
    for (index, event) in body.events.iter().enumerate() {
        let subject = match (&event.subject.phone, &event.subject.partner_ref) {
            (Some(phone), None) => Some(Subject::Phone(phone.clone())),
            (None, Some(reference)) => Some(Subject::PartnerRef(reference.clone())),
            _ => None,
        };
        let occurred_at = match DateTime::parse_from_rfc3339(&event.occurred_at) {
            Ok(at) => at.with_timezone(&Utc),
            Err(_) => {
                rejected.push(RefusedEvent {
                    index,
                    event_id: event.event_id.clone(),
                    reason: "occurred_at is not an RFC 3339 time".into(),
                });
                continue;
            }
        };
        let input = SignalInput {
            event_id: event.event_id.clone(),
            subject,
            kind: event.kind.clone(),
            occurred_at,
            quantity: event.quantity,
            area: event.area.clone(),
        };
        match check_signal(&state.subjects, partner_id, &input, now) {
            Ok(signal) => checked.push(signal),
            Err(reason) => rejected.push(RefusedEvent { index, event_id: event.event_id.clone(), reason }),
        }
    }
    // Stored with whatever else this partner sent meanwhile, as one set (see `store::signals`).
    let batch = CheckedBatch { partner_id, events: checked, request_id: write.request_id, rejected: rejected.len() };
    let stored = state.store.push_signals(batch).await?;
    Ok(Json(SignalBatchResult { accepted: stored.accepted, duplicates: stored.duplicates, rejected }))
}

/// What this partner has sent, newest first: partners read only their own submissions.
#[utoipa::path(get, path = "/api/v1/signals", tag = "partners",
    security(("bearer" = [])),
    params(SignalQuery),
    responses((status = 200, body = SignalList), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS),
              (status = 429, description = "Over the partner's rate limit: wait `Retry-After` seconds", body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["partner"]))))]
pub async fn list_signals(
    State(state): State<AppState>,
    caller: Caller<PartnerOnly>,
    Query(query): Query<SignalQuery>,
) -> ApiResult<Json<SignalList>> {
    state.partner_limiter.take(caller.user_id, Instant::now())?;
    let limit = page_limit(query.limit)?;
    let page = store::partner_events(state.store.reader(), caller.user_id, limit, query.cursor).await?;
    Ok(Json(SignalList {
        events: page
            .items
            .into_iter()
            .map(|event| SignalView {
                event_id: event.event_id,
                kind: event.kind,
                occurred_at: event.occurred_at,
                quantity: event.quantity,
                area: event.area,
                received_at: event.received_at,
            })
            .collect(),
        next_cursor: page.next_cursor,
    }))
}
