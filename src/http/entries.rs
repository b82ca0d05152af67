//! Journal entries: budgets funded and allocated, manual entries, reversals, verification.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{AdminOnly, AdminOrAuditor, AnyPerson, Caller, Json, Path, Staff, WriteRequest};
use super::views::EntryView;
use crate::domain::ledger::{AccountKind, Discrepancy, EntryKind, REASON_CHARS_MAX, Transfer, validate_transfers};
use crate::domain::people::within;
use crate::domain::points::Points;
use crate::domain::{Invalid, Validator, required_text};
use crate::store::AuditNote;
use crate::store::ledger::{self, EntryDraft, Reference};
use crate::store::levels as level_store;

#[derive(Serialize, Deserialize, ToSchema)]
pub struct FundBudget {
    pub amount: Points,
    pub reason: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AllocateBudget {
    /// A level below this one.
    pub to_level_id: i64,
    pub amount: Points,
    pub reason: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct TransferRequest {
    /// Account debited.
    pub from: i64,
    /// Account credited.
    pub to: i64,
    pub amount: Points,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ManualEntry {
    pub reason: String,
    /// 1–100 transfers, posted together or not at all.
    pub transfers: Vec<TransferRequest>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReversalRequest {
    pub reason: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct VerifyView {
    /// True when the hash chain is intact and every balance equals the sum of its postings.
    pub ok: bool,
    pub entries_checked: u64,
    pub accounts_checked: u64,
    /// The first problem found.
    pub discrepancy: Option<DiscrepancyView>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct DiscrepancyView {
    pub entry_id: Option<i64>,
    pub account_id: Option<i64>,
    pub problem: String,
}

fn amount_and_reason(amount: Points, reason: &str) -> Result<String, Invalid> {
    let mut validator = Validator::new();
    validator.check(amount.is_positive(), "amount", "must be greater than zero");
    let reason = validator.take(required_text("reason", reason, REASON_CHARS_MAX));
    validator.finish()?;
    Ok(reason.unwrap_or_default())
}

const PROBLEMS: &str = "application/problem+json";

/// Fund a level's budget from the issuance account of its city.
#[utoipa::path(post, path = "/api/v1/levels/{id}/budget/fund", tag = "ledger",
    security(("bearer" = [])),
    params(("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key replay the first answer")),
    request_body = FundBudget,
    responses((status = 201, body = EntryView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS),
              (status = 409, description = "Idempotency-Key reused", body = Problem, content_type = PROBLEMS),
              (status = 422, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin"]))))]
pub async fn fund_budget(
    State(state): State<AppState>,
    caller: Caller<AdminOnly>,
    write: WriteRequest,
    Path(level_id): Path<i64>,
    Json(body): Json<FundBudget>,
) -> ApiResult<(StatusCode, Json<EntryView>)> {
    let reason = amount_and_reason(body.amount, &body.reason)?;
    let level = level_store::find(state.store.reader(), level_id).await?;
    let reader = state.store.reader();
    let issuance = ledger::account_id_of(reader, AccountKind::Issuance, Some(level.root_id()), None).await?;
    let budget = level.budget_account_id.ok_or(ApiError::NotFound("the level has no budget account".into()))?;
    let transfer = Transfer { from: issuance, to: budget, amount: body.amount };
    let draft = EntryDraft::of_transfers(EntryKind::Fund, reason, Reference::to("level", level_id), &[transfer]);
    let audit = AuditNote {
        action: "budget.fund",
        target_type: "level",
        target_id: Some(level_id.to_string()),
        summary: json!({ "amount": body.amount }),
    };
    let entry = state.post(caller.user_id, &write, &body, draft, audit).await?;
    Ok((StatusCode::CREATED, Json(EntryView::from(entry))))
}

/// Pass budget down from a level to a level below it.
#[utoipa::path(post, path = "/api/v1/levels/{id}/budget/allocate", tag = "ledger",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The level giving budget"),
           ("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key replay the first answer")),
    request_body = AllocateBudget,
    responses((status = 201, body = EntryView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS),
              (status = 409, body = Problem, content_type = PROBLEMS),
              (status = 422, description = "Invalid input or insufficient budget", body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer"]))))]
pub async fn allocate_budget(
    State(state): State<AppState>,
    caller: Caller<Staff>,
    write: WriteRequest,
    Path(level_id): Path<i64>,
    Json(body): Json<AllocateBudget>,
) -> ApiResult<(StatusCode, Json<EntryView>)> {
    let reason = amount_and_reason(body.amount, &body.reason)?;
    let from_path = state.require_level(&caller, level_id).await?;
    let to_path = state.level_path(body.to_level_id).await?;
    if !to_path.as_deref().is_some_and(|to_path| within(&from_path, to_path) && to_path != from_path) {
        return Err(ApiError::invalid("to_level_id", "must be a level below this one"));
    }
    let reader = state.store.reader();
    let from = ledger::account_id_of(reader, AccountKind::Budget, Some(level_id), None).await?;
    let to = ledger::account_id_of(reader, AccountKind::Budget, Some(body.to_level_id), None).await?;
    let transfer = Transfer { from, to, amount: body.amount };
    let reference = Reference::to("level", body.to_level_id);
    let draft = EntryDraft::of_transfers(EntryKind::Allocate, reason, reference, &[transfer]);
    let audit = AuditNote {
        action: "budget.allocate",
        target_type: "level",
        target_id: Some(level_id.to_string()),
        summary: json!({ "to_level_id": body.to_level_id, "amount": body.amount }),
    };
    let entry = state.post(caller.user_id, &write, &body, draft, audit).await?;
    Ok((StatusCode::CREATED, Json(EntryView::from(entry))))
}

/// A manual entry between accounts: all its transfers post together, or none does.
#[utoipa::path(post, path = "/api/v1/entries", tag = "ledger",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key replay the first answer")),
    request_body = ManualEntry,
    responses((status = 201, body = EntryView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS),
              (status = 409, body = Problem, content_type = PROBLEMS),
              (status = 422, description = "Invalid input, unknown account or insufficient points", body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin"]))))]
pub async fn post_entry(
    State(state): State<AppState>,
    caller: Caller<AdminOnly>,
    write: WriteRequest,
    Json(body): Json<ManualEntry>,
) -> ApiResult<(StatusCode, Json<EntryView>)> {
    let transfers: Vec<Transfer> = body
        .transfers
        .iter()
        .map(|transfer| Transfer { from: transfer.from, to: transfer.to, amount: transfer.amount })
        .collect();
    let reason = validate_transfers(&body.reason, &transfers)?;
    let draft = EntryDraft::of_transfers(EntryKind::Adjustment, reason, Reference::default(), &transfers);
    let audit = AuditNote {
        action: "entry.post",
        target_type: "entry",
        target_id: None,
        summary: json!({ "transfers": transfers.len() }),
    };
    let entry = state.post(caller.user_id, &write, &body, draft, audit).await?;
    Ok((StatusCode::CREATED, Json(EntryView::from(entry))))
}

/// One entry with its postings. Organizers and riders may read entries touching an account they can read.
#[utoipa::path(get, path = "/api/v1/entries/{id}", tag = "ledger",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = EntryView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor", "rider"]))))]
pub async fn get_entry(
    State(state): State<AppState>,
    caller: Caller<AnyPerson>,
    Path(entry_id): Path<i64>,
) -> ApiResult<Json<EntryView>> {
    let found = ledger::entry(state.store.reader(), entry_id).await;
    if caller.sees_everything() {
        return Ok(Json(found?.into()));
    }
    let Ok(entry) = found else { return Err(ApiError::forbidden()) };
    for posting in &entry.postings {
        let account = ledger::account(state.store.reader(), posting.account_id, state.store.now()).await?;
        if state.may_read_account(&caller, &account).await? {
            return Ok(Json(entry.into()));
        }
    }
    Err(ApiError::forbidden())
}

/// Reverse an entry: post its exact opposite, linked both ways. An entry can be reversed once.
#[utoipa::path(post, path = "/api/v1/entries/{id}/reversal", tag = "ledger",
    security(("bearer" = [])),
    params(("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key replay the first answer")),
    request_body = ReversalRequest,
    responses((status = 201, body = EntryView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 404, body = Problem, content_type = PROBLEMS),
              (status = 409, description = "Already reversed", body = Problem, content_type = PROBLEMS),
              (status = 422, description = "Invalid input or insufficient points to take back", body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin"]))))]
pub async fn reverse_entry(
    State(state): State<AppState>,
    caller: Caller<AdminOnly>,
    write: WriteRequest,
    Path(entry_id): Path<i64>,
    Json(body): Json<ReversalRequest>,
) -> ApiResult<(StatusCode, Json<EntryView>)> {
    let reason = required_text("reason", &body.reason, REASON_CHARS_MAX)?;
    let work = state.begin(caller.user_id, &write, &body).await?;
    let entry = ledger::reverse_entry(&work, entry_id, reason).await?;
    work.audit("entry.reverse", "entry", entry_id, json!({ "reversal_entry_id": entry.id })).await?;
    let view = EntryView::from(entry);
    work.commit(201, &view).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Walk the hash chain and recompute every balance from its postings and holds.
#[utoipa::path(get, path = "/api/v1/ledger/verify", tag = "ledger",
    security(("bearer" = [])),
    responses((status = 200, body = VerifyView), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "auditor"]))))]
pub async fn verify(State(state): State<AppState>, _caller: Caller<AdminOrAuditor>) -> ApiResult<Json<VerifyView>> {
    let report = ledger::verify(state.store.reader()).await?;
    Ok(Json(verify_view(report)))
}

pub fn verify_view(report: ledger::VerifyReport) -> VerifyView {
    let discrepancy = report.discrepancy.map(|discrepancy| match discrepancy {
        Discrepancy::Entry { entry_id, problem } => {
            DiscrepancyView { entry_id: Some(entry_id), account_id: None, problem }
        }
        Discrepancy::Account { account_id, problem } => {
            DiscrepancyView { entry_id: None, account_id: Some(account_id), problem }
        }
    });
    VerifyView {
        ok: discrepancy.is_none(),
        entries_checked: report.entries_checked,
        accounts_checked: report.accounts_checked,
        discrepancy,
    }
}
