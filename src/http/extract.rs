//! Extractors whose every rejection is a problem+json answer, and the caller's identity.

use std::marker::PhantomData;

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use super::AppState;
use super::error::ApiError;
use crate::auth::{Claims, TokenError};
use crate::domain::people::{Language, Role};

/// Longest `Idempotency-Key` accepted.
const IDEMPOTENCY_KEY_CHARS_MAX: usize = 255;

/// A JSON body. Malformed JSON is a 400, a wrong field a 422 naming the field, a missing or wrong
/// content type a 415, a body over the limit a 413: all as problems.
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
            });
        if !is_json {
            return Err(ApiError::Status {
                status: axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                slug: "unsupported-media-type",
                title: "Unsupported media type",
                detail: "send the body as JSON with `Content-Type: application/json`".into(),
            });
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            let status = rejection.status();
            if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::Status {
                    status,
                    slug: "payload-too-large",
                    title: "Payload too large",
                    detail: "the request body is larger than this service accepts".into(),
                }
            } else {
                ApiError::BadRequest { slug: "malformed-body", title: "Malformed body", detail: rejection.body_text() }
            }
        })?;
        parse_json(&bytes).map(Json)
    }
}

/// Parses a JSON body, naming the path of the first field that does not fit.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
        Ok(value) => {
            deserializer.end().map_err(|error| malformed(&error))?;
            Ok(value)
        }
        Err(error) => {
            let path = error.path().to_string();
            let inner = error.into_inner();
            if inner.is_syntax() || inner.is_eof() || inner.is_io() {
                return Err(malformed(&inner));
            }
            let field = if path == "." { "body".to_owned() } else { path };
            // serde's message ends with "at line 1 column 20"; the field path says more.
            let message = inner.to_string();
            let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
            Err(ApiError::invalid(&field, message))
        }
    }
}

fn malformed(error: &serde_json::Error) -> ApiError {
    ApiError::BadRequest {
        slug: "malformed-json",
        title: "Malformed JSON",
        detail: format!("the body is not valid JSON: {error}"),
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Path parameters; a malformed one (`/levels/abc`) is a 400 problem naming it.
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state).await.map(|path| Path(path.0)).map_err(|rejection| {
            ApiError::BadRequest {
                slug: "invalid-path",
                title: "Invalid path parameter",
                detail: rejection.body_text(),
            }
        })
    }
}

/// Query parameters; a malformed one is a 422 problem naming it.
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer).map(Query).map_err(|error| {
            let field = error.path().to_string();
            let field = if field == "." { "query".to_owned() } else { field };
            ApiError::invalid(&field, error.into_inner().to_string())
        })
    }
}

/// A set of roles allowed to call an endpoint.
pub trait Allowed: Send + Sync + 'static {
    const ROLES: &'static [Role];
}

macro_rules! role_set {
    ($(#[$meta:meta])* $name:ident => [$($role:ident),+]) => {
        $(#[$meta])*
        pub struct $name;
        impl Allowed for $name {
            const ROLES: &'static [Role] = &[$(Role::$role),+];
        }
    };
}

role_set!(/// Admins only.
    AdminOnly => [Admin]);
role_set!(/// Admins and auditors: reading everything.
    AdminOrAuditor => [Admin, Auditor]);
role_set!(/// Staff who change things in their part of the tree.
    Staff => [Admin, Organizer]);
role_set!(/// Staff and auditors: reading within one's scope.
    StaffOrAuditor => [Admin, Organizer, Auditor]);
role_set!(/// Every person with an account.
    AnyPerson => [Admin, Organizer, Auditor, Rider]);
role_set!(/// Riders acting for themselves.
    RiderOnly => [Rider]);
role_set!(/// Staff, or a rider acting on what is theirs.
    StaffOrRider => [Admin, Organizer, Rider]);
role_set!(/// Partner platforms (machine clients) only.
    PartnerOnly => [Partner]);

/// The authenticated caller, whose role is one of `R`'s. Without a valid token: 401; with another
/// role: 403 — before the body is even read.
pub struct Caller<R: Allowed = AnyPerson> {
    pub user_id: i64,
    pub role: Role,
    pub level_id: Option<i64>,
    /// The session (refresh-token family) of the access token.
    pub session_id: String,
    /// The language to answer in: the client's `Accept-Language`, else the caller's level's default.
    pub language: Language,
    _allowed: PhantomData<R>,
}

impl<R: Allowed> Caller<R> {
    /// Admins and auditors see the whole tree.
    pub fn sees_everything(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Auditor)
    }
}

/// The request's access token, verified once: the language layer reads its `lang` before the
/// handler's `Caller` reads the rest, and a verification (signature, two JSON documents) is ~5 % of
/// a balance read's CPU in the server.
#[derive(Clone)]
struct Verified(Result<Claims, TokenError>);

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let header = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    header.strip_prefix("Bearer ").or_else(|| header.strip_prefix("bearer ")).map(str::trim)
}

/// The claims of the request's bearer token as verified now, or as verified earlier in this request.
pub fn verified_claims(state: &AppState, parts: &mut Parts) -> Option<Result<Claims, TokenError>> {
    if let Some(Verified(result)) = parts.extensions.get::<Verified>() {
        return Some(result.clone());
    }
    let result = state.tokens.verify(bearer_token(&parts.headers)?, state.store.now());
    parts.extensions.insert(Verified(result.clone()));
    Some(result)
}

impl<S, R> FromRequestParts<S> for Caller<R>
where
    AppState: FromRef<S>,
    S: Send + Sync,
    R: Allowed,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let claims = match verified_claims(&state, parts) {
            Some(claims) => claims.map_err(|error| match error {
                TokenError::Expired => ApiError::Unauthorized("the access token has expired; refresh it".into()),
                TokenError::Invalid => ApiError::Unauthorized(error.to_string()),
            })?,
            None if parts.headers.contains_key(header::AUTHORIZATION) => {
                return Err(ApiError::Unauthorized("the Authorization header must use the Bearer scheme".into()));
            }
            None => return Err(ApiError::Unauthorized("send an access token: `Authorization: Bearer <token>`".into())),
        };
        if !R::ROLES.contains(&claims.role) {
            return Err(ApiError::forbidden());
        }
        Ok(Caller {
            user_id: claims.user_id().unwrap_or_default(),
            role: claims.role,
            level_id: claims.level,
            session_id: claims.sid,
            language: parts.extensions.get::<Language>().copied().unwrap_or_default(),
            _allowed: PhantomData,
        })
    }
}

/// What a write needs from the request beyond its body: its id and its `Idempotency-Key`.
pub struct WriteRequest {
    pub request_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub path: String,
}

impl<S: Send + Sync> FromRequestParts<S> for WriteRequest {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let request_id = parts.headers.get("x-request-id").and_then(|value| value.to_str().ok()).map(str::to_owned);
        let idempotency_key = match parts.headers.get("idempotency-key") {
            None => None,
            Some(value) => {
                let key = value.to_str().ok().map(str::trim).unwrap_or_default();
                if key.is_empty() || key.len() > IDEMPOTENCY_KEY_CHARS_MAX {
                    return Err(ApiError::invalid(
                        "Idempotency-Key",
                        format!("must be 1–{IDEMPOTENCY_KEY_CHARS_MAX} visible ASCII characters"),
                    ));
                }
                Some(key.to_owned())
            }
        };
        Ok(WriteRequest { request_id, idempotency_key, path: parts.uri.path().to_owned() })
    }
}

/// For a field of a partial update: distinguishes absent (leave as is) from `null` (clear it).
pub fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}
