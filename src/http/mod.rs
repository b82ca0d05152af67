//! The HTTP API: router, shared state, middleware and the OpenAPI description.
//!
//! Every handler carries `#[utoipa::path]` and is registered through `routes!`, so the committed
//! openapi.yaml cannot drift from the code (a test compares them). Each operation states the roles
//! that may call it in `x-roles`; the `Caller<R>` extractor enforces the same set.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod csv;
pub mod entries;
pub mod error;
pub mod extract;
pub mod hazards;
pub mod health;
pub mod holds;
pub mod hours;
pub mod language;
pub mod levels;
pub mod membership;
pub mod metrics;
pub mod partners;
pub mod pools;
pub mod redemptions;
pub mod reports;
pub mod rewards;
pub mod throttle;
pub mod translate;
pub mod users;
pub mod views;
pub mod volunteering;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::{Request, StatusCode};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::TokenKeys;
use crate::domain::people::{Role, within};
use crate::store::ledger::{EntryDraft, EntryRecord};
use crate::store::{
    AuditNote, Begun, IdempotencyKey, PostRequest, Posted, Store, StoreError, UnitOfWork, levels as level_store,
};
use error::{ApiError, ApiResult};
use extract::{Allowed, Caller, WriteRequest};

/// Largest request body accepted: enough for 1,000 hour rows or 10,000 signals, not for abuse.
pub const BODY_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Default and largest page sizes of every list.
pub const PAGE_LIMIT_DEFAULT: u64 = 50;
pub const PAGE_LIMIT_MAX: u64 = 500;

/// Rules of the deployment that handlers apply.
#[derive(Clone, Debug)]
pub struct Policy {
    /// How long a redemption waits for pickup.
    pub redemption_expiry: chrono::TimeDelta,
    /// Months without activity after which a member lapses.
    pub membership_lapse_months: u32,
    /// Requests a second each partner may send to the signal endpoint.
    pub partner_requests_per_second: u32,
}

/// What every handler shares, behind one pointer: a request clones the state several times (router,
/// middleware, extractors), once a reference count each.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub store: Store,
    pub tokens: TokenKeys,
    /// Its own pointer too: the metrics layer holds it without the rest.
    pub metrics: Arc<metrics::Metrics>,
    pub policy: Policy,
    /// Pseudonymises phone numbers and partner references.
    pub subjects: crate::domain::membership::SubjectKeys,
    /// Level paths by id. A level never moves, so an entry never goes stale.
    level_paths: RwLock<HashMap<i64, String>>,
    pub login_throttle: throttle::LoginThrottle,
    pub partner_limiter: throttle::PartnerLimiter,
}

impl AppState {
    pub fn new(
        store: Store,
        tokens: TokenKeys,
        policy: Policy,
        subjects: crate::domain::membership::SubjectKeys,
    ) -> Self {
        Self(Arc::new(Shared {
            store,
            tokens,
            metrics: Arc::new(metrics::Metrics::default()),
            login_throttle: throttle::LoginThrottle::default(),
            partner_limiter: throttle::PartnerLimiter::new(policy.partner_requests_per_second),
            policy,
            subjects,
            level_paths: RwLock::default(),
        }))
    }

    /// Starts the unit of work of a write, or short-circuits with the stored answer of a retry.
    pub async fn begin(&self, caller_id: i64, write: &WriteRequest, body: &impl Serialize) -> ApiResult<UnitOfWork> {
        let key = idempotency_key(caller_id, write, body);
        match self.store.begin(Some(caller_id), write.request_id.clone(), key).await? {
            Begun::Fresh(work) => Ok(work),
            Begun::Replayed(replay) => Err(ApiError::Replayed(replay)),
        }
    }

    /// Posts one entry as part of the next set of postings (see `store::combine`): for writes that
    /// post an entry and nothing else. The answer is the entry, as `EntryView`.
    pub async fn post(
        &self,
        caller_id: i64,
        write: &WriteRequest,
        body: &impl Serialize,
        draft: EntryDraft,
        audit: AuditNote,
    ) -> ApiResult<EntryRecord> {
        let request = PostRequest {
            draft,
            actor_id: Some(caller_id),
            request_id: write.request_id.clone(),
            key: idempotency_key(caller_id, write, body),
            audit,
            answer: |entry| serde_json::json!(views::EntryView::from(entry.clone())),
        };
        match self.store.post(request).await? {
            Posted::Fresh(entry) => Ok(entry),
            Posted::Replayed(replay) => Err(ApiError::Replayed(replay)),
        }
    }

    /// Starts the unit of work of a write that takes no `Idempotency-Key` (sign-in, sign-out).
    pub async fn begin_plain(&self, actor_id: Option<i64>, request_id: Option<String>) -> ApiResult<UnitOfWork> {
        match self.store.begin(actor_id, request_id, None).await? {
            Begun::Fresh(work) => Ok(work),
            Begun::Replayed(replay) => Err(ApiError::Replayed(replay)),
        }
    }

    /// The path of a level, or `None` when there is no such level.
    pub async fn level_path(&self, level_id: i64) -> ApiResult<Option<String>> {
        if let Some(path) = self.level_paths.read().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&level_id) {
            return Ok(Some(path.clone()));
        }
        let path = level_store::path_of(self.store.reader(), level_id).await?;
        if let Some(path) = &path {
            self.level_paths.write().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(level_id, path.clone());
        }
        Ok(path)
    }

    /// The subtree a caller may act on: `None` for the whole tree (admins, auditors), the path of
    /// their level for organizers. Riders have no subtree.
    pub async fn scope_root<R: Allowed>(&self, caller: &Caller<R>) -> ApiResult<Option<String>> {
        match caller.role {
            Role::Admin | Role::Auditor => Ok(None),
            Role::Organizer => {
                let level_id = caller.level_id.ok_or_else(ApiError::forbidden)?;
                Ok(Some(self.level_path(level_id).await?.ok_or_else(ApiError::forbidden)?))
            }
            Role::Rider | Role::Partner => Err(ApiError::forbidden()),
        }
    }

    /// Refuses unless the level exists and lies in the caller's subtree. Callers limited to a
    /// subtree get the same 403 for a level elsewhere and for no level at all, so a refusal does
    /// not reveal what exists outside their part of the tree.
    pub async fn require_level<R: Allowed>(&self, caller: &Caller<R>, level_id: i64) -> ApiResult<String> {
        let root = self.scope_root(caller).await?;
        let path = self.level_path(level_id).await?;
        match (root, path) {
            (None, Some(path)) => Ok(path),
            (None, None) => Err(ApiError::NotFound(format!("no level {level_id}"))),
            (Some(root), Some(path)) if within(&root, &path) => Ok(path),
            (Some(_), _) => Err(ApiError::forbidden()),
        }
    }
}

/// The object a lookup found, for this caller: a missing object is a 404 for those who see
/// everything, and for everyone else the same 403 as an object outside their scope, so that a
/// refusal never reveals what exists.
pub fn found<T, R: Allowed>(caller: &Caller<R>, lookup: Result<T, StoreError>) -> ApiResult<T> {
    match lookup {
        Ok(value) => Ok(value),
        Err(StoreError::NotFound(what)) if caller.sees_everything() => {
            Err(ApiError::NotFound(format!("no such {what}")))
        }
        Err(StoreError::NotFound(_)) => Err(ApiError::forbidden()),
        Err(error) => Err(error.into()),
    }
}

impl AppState {
    /// Refuses unless what a level offers reaches the caller: a rider is offered the activities,
    /// rewards and pools of their own level and of the levels above it; staff and auditors those of
    /// the levels in their scope.
    pub async fn require_offered<R: Allowed>(&self, caller: &Caller<R>, level_id: i64) -> ApiResult<()> {
        if caller.role != Role::Rider {
            return self.require_level(caller, level_id).await.map(|_| ());
        }
        let rider_path = self.level_path(caller.level_id.unwrap_or_default()).await?;
        let offering_path = self.level_path(level_id).await?;
        match (rider_path, offering_path) {
            (Some(rider_path), Some(offering_path)) if within(&offering_path, &rider_path) => Ok(()),
            _ => Err(ApiError::forbidden()),
        }
    }
}

/// The caller's `Idempotency-Key`, if the request carries one, with the request's fingerprint.
fn idempotency_key(caller_id: i64, write: &WriteRequest, body: &impl Serialize) -> Option<IdempotencyKey> {
    write.idempotency_key.as_ref().map(|key| IdempotencyKey {
        caller_id,
        key: key.clone(),
        request_hash: request_fingerprint(&write.path, body),
    })
}

/// A fingerprint of a request: its path and its canonical JSON body.
fn request_fingerprint(path: &str, body: &impl Serialize) -> String {
    let body = serde_json::to_vec(body).unwrap_or_default();
    hex::encode(Sha256::new().chain_update(path.as_bytes()).chain_update([0]).chain_update(body).finalize())
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Union points and membership ledger",
        description = "A double-entry points ledger for gig-worker unions: levels, people, budgets, \
                       points accounts, holds and statements. Amounts are decimal strings with two places; \
                       times are RFC 3339 UTC. Errors are RFC 9457 problem+json. Each operation lists the \
                       roles that may call it in `x-roles`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    modifiers(&BearerSecurity),
    components(schemas(error::Problem, error::ProblemField)),
    tags(
        (name = "health", description = "Liveness, readiness and metrics"),
        (name = "auth", description = "Sign-in, token refresh and rider registration"),
        (name = "levels", description = "The union's tree: city → district → street → community"),
        (name = "users", description = "Staff and riders"),
        (name = "ledger", description = "Accounts, entries, budgets, holds, statements and verification"),
        (name = "volunteering", description = "Categories and point rules, squads, activities, hours, hazard reports"),
        (name = "reports", description = "Totals for organizers, CSV exports, leaderboards"),
        (name = "spending", description = "Reward catalog, redemptions, collective pools"),
        (name = "partners", description = "Partner platforms: machine clients and their identity signals"),
        (name = "membership", description = "Inference rules, candidates, applications and members"),
        (name = "audit", description = "The audit trail of every change"),
    )
)]
struct ApiDoc;

struct BearerSecurity;

impl Modify for BearerSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::register))
        .routes(routes!(levels::create_level, levels::list_levels))
        .routes(routes!(levels::get_level, levels::rename_level))
        .routes(routes!(users::create_user, users::list_users))
        .routes(routes!(users::get_user))
        .routes(routes!(users::me))
        .routes(routes!(accounts::my_statement))
        .routes(routes!(accounts::get_account))
        .routes(routes!(accounts::balance_at))
        .routes(routes!(accounts::statement))
        .routes(routes!(entries::fund_budget))
        .routes(routes!(entries::allocate_budget))
        .routes(routes!(entries::post_entry))
        .routes(routes!(entries::get_entry))
        .routes(routes!(entries::reverse_entry))
        .routes(routes!(audit::list_audit))
        .routes(routes!(entries::verify))
        .routes(routes!(holds::create_hold))
        .routes(routes!(holds::get_hold))
        .routes(routes!(holds::post_hold))
        .routes(routes!(holds::void_hold))
        .routes(routes!(volunteering::list_categories))
        .routes(routes!(volunteering::put_rule))
        .routes(routes!(volunteering::create_squad, volunteering::list_squads))
        .routes(routes!(volunteering::get_squad))
        .routes(routes!(volunteering::add_members))
        .routes(routes!(volunteering::create_activity, volunteering::list_activities))
        .routes(routes!(volunteering::get_activity))
        .routes(routes!(volunteering::set_activity_status))
        .routes(routes!(hours::log_hours))
        .routes(routes!(hours::check_in))
        .routes(routes!(hours::check_out))
        .routes(routes!(hours::list_hours))
        .routes(routes!(hours::approve_hours))
        .routes(routes!(hours::reject_hours))
        .routes(routes!(hours::reverse_hours))
        .routes(routes!(hazards::create_hazard_report, hazards::list_hazard_reports))
        .routes(routes!(hazards::get_hazard_report))
        .routes(routes!(hazards::set_hazard_status))
        .routes(routes!(reports::volunteering_report))
        .routes(routes!(reports::award_list))
        .routes(routes!(reports::leaderboard))
        .routes(routes!(rewards::create_reward, rewards::list_rewards))
        .routes(routes!(rewards::get_reward, rewards::update_reward))
        .routes(routes!(redemptions::redeem, redemptions::list_redemptions))
        .routes(routes!(redemptions::get_redemption))
        .routes(routes!(redemptions::fulfil))
        .routes(routes!(redemptions::cancel))
        .routes(routes!(pools::create_pool, pools::list_pools))
        .routes(routes!(pools::get_pool))
        .routes(routes!(pools::pledge))
        .routes(routes!(pools::withdraw_pledge))
        .routes(routes!(partners::create_partner, partners::list_partners))
        .routes(routes!(partners::rotate_secret))
        .routes(routes!(partners::token))
        .routes(routes!(partners::push_signals, partners::list_signals))
        .routes(routes!(membership::create_rule, membership::list_rules))
        .routes(routes!(membership::update_rule))
        .routes(routes!(membership::preview_rule))
        .routes(routes!(membership::run_inference))
        .routes(routes!(membership::list_candidates))
        .routes(routes!(membership::invite))
        .routes(routes!(membership::apply, membership::list_applications))
        .routes(routes!(membership::get_application))
        .routes(routes!(membership::verify))
        .routes(routes!(membership::approve))
        .routes(routes!(membership::reject))
        .routes(routes!(membership::renew))
        .routes(routes!(membership::my_membership))
}

/// The OpenAPI description, as committed in openapi.yaml.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut openapi = api_router().into_openapi();
    document_common_answers(&mut openapi);
    openapi
}

/// Answers any operation may give that its own description leaves out: a malformed request (a
/// parameter of the wrong type, a body that is not JSON) and, for operations with a body, one too
/// large, of the wrong media type, invalid or naming an object that does not exist; for those with
/// query or header parameters, invalid ones; for those naming an object in their path, one that
/// does not exist.
fn document_common_answers(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let problem = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
                )
                .build(),
        )
    };
    for (path, item) in openapi.paths.paths.iter_mut() {
        let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for operation in operations.into_iter().flatten() {
            let has = |place: ParameterIn| {
                operation
                    .parameters
                    .iter()
                    .flatten()
                    .any(|parameter| matches!(parameter, RefOr::T(parameter) if parameter.parameter_in == place))
            };
            let (has_query, has_header) = (has(ParameterIn::Query), has(ParameterIn::Header));
            let mut common =
                vec![("400", "Malformed request: a parameter of the wrong type or a body that is not JSON")];
            if operation.request_body.is_some() {
                common.push(("413", "The body is larger than the service accepts"));
                common.push(("415", "The body is not of a media type this operation takes"));
                common.push(("422", "Invalid input: the problem names each field and why"));
                common.push(("404", "An object named in the body does not exist"));
            }
            if has_header {
                common.push(("422", "Invalid header, such as an Idempotency-Key that is empty or too long"));
                common.push(("409", "The Idempotency-Key was used before with a different request"));
            }
            if has_query {
                common.push(("404", "An object named in the query does not exist"));
                common.push(("422", "Invalid query: the problem names each parameter and why"));
            }
            if path.contains('{') {
                common.push(("404", "No such object"));
            }
            for (status, description) in common {
                operation.responses.responses.entry(status.to_owned()).or_insert_with(|| problem(description));
            }
        }
    }
}

pub fn router(state: AppState, request_timeout: Duration) -> Router {
    let (api, mut openapi) = api_router().split_for_parts();
    document_common_answers(&mut openapi);
    let metrics_state = state.metrics.clone();
    let language_state = state.clone();
    api.route("/metrics", axum::routing::get(health::metrics))
        // The docs show each operation's `x-roles`: who may call it.
        .merge(
            SwaggerUi::new("/docs")
                .url("/openapi.json", openapi)
                .config(utoipa_swagger_ui::Config::new(["/openapi.json"]).show_extensions(true)),
        )
        .fallback(|| async { StatusCode::NOT_FOUND })
        .with_state(state)
        // Inside the problem layer, so that a request cut off by the time limit is a problem too.
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, request_timeout))
        .layer(axum::middleware::map_response(error::problemify))
        .layer(axum::middleware::from_fn_with_state(language_state, language::localize))
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .layer(axum::middleware::from_fn_with_state(metrics_state, metrics::track))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let request_id = request.headers().get("x-request-id").and_then(|value| value.to_str().ok()).unwrap_or("-");
            let route = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str).unwrap_or("-");
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), route, request_id)
        }))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}
