//! Points accounts: balances, point-in-time balances and statements.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::csv::{self, Csv};
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Allowed, AnyPerson, Caller, Json, Path, Query, RiderOnly};
use super::views::{AccountView, StatementQuery, StatementView};
use crate::domain::people::{Role, within};
use crate::domain::points::Points;
use crate::store::ledger::{self, AccountRecord};
use crate::store::users;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BalanceQuery {
    /// The instant (RFC 3339).
    pub at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct BalanceAtView {
    pub account_id: i64,
    pub at: DateTime<Utc>,
    /// The posted balance at that instant.
    pub balance: Points,
}

impl AppState {
    /// An account the caller may read: their own (riders), one in their subtree (organizers), any
    /// (admins, auditors). Callers limited in scope get 403 alike for an account elsewhere and for
    /// none at all.
    pub async fn readable_account<R: Allowed>(&self, caller: &Caller<R>, account_id: i64) -> ApiResult<AccountRecord> {
        let account = super::found(caller, ledger::account(self.store.reader(), account_id, self.store.now()).await)?;
        if self.may_read_account(caller, &account).await? { Ok(account) } else { Err(ApiError::forbidden()) }
    }

    pub async fn may_read_account<R: Allowed>(&self, caller: &Caller<R>, account: &AccountRecord) -> ApiResult<bool> {
        Ok(match caller.role {
            Role::Admin | Role::Auditor => true,
            Role::Rider => account.user_id == Some(caller.user_id),
            Role::Organizer => match self.scope_root(caller).await? {
                Some(root) => self.level_path(account.level_id).await?.is_some_and(|path| within(&root, &path)),
                None => true,
            },
            Role::Partner => false,
        })
    }
}

/// A page of an account's statement, if the caller may read the account. The account and the page
/// come in one query; the page is thrown away unread when the caller may not see it.
async fn statement_of<R: Allowed>(
    state: &AppState,
    caller: &Caller<R>,
    account_id: i64,
    query: StatementQuery,
) -> ApiResult<StatementView> {
    let window = query.window()?;
    let read = ledger::statement(state.store.reader(), account_id, state.store.now(), &window).await;
    let (account, page) = super::found(caller, read)?;
    if !state.may_read_account(caller, &account).await? {
        return Err(ApiError::forbidden());
    }
    Ok(StatementView {
        account_id: account.id,
        balance: account.balances.posted(),
        available: account.balances.available(),
        lines: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    })
}

/// An account: its balance, what is available, pending totals, flags and owner.
#[utoipa::path(get, path = "/api/v1/accounts/{id}", tag = "ledger",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = AccountView), (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor", "rider"]))))]
pub async fn get_account(
    State(state): State<AppState>,
    caller: Caller<AnyPerson>,
    Path(account_id): Path<i64>,
) -> ApiResult<Json<AccountView>> {
    Ok(Json(state.readable_account(&caller, account_id).await?.into()))
}

/// The posted balance of an account at any past instant.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/balance", tag = "ledger",
    security(("bearer" = [])),
    params(("id" = i64, Path), BalanceQuery),
    responses((status = 200, body = BalanceAtView), (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor", "rider"]))))]
pub async fn balance_at(
    State(state): State<AppState>,
    caller: Caller<AnyPerson>,
    Path(account_id): Path<i64>,
    Query(query): Query<BalanceQuery>,
) -> ApiResult<Json<BalanceAtView>> {
    let account = state.readable_account(&caller, account_id).await?;
    let balance = ledger::balance_at(state.store.reader(), account.id, query.at).await?;
    Ok(Json(BalanceAtView { account_id, at: query.at, balance }))
}

/// An account's statement, newest first: every line with its entry, kind, reason, reference,
/// signed amount and the balance after it. `Accept: text/csv` answers the page as CSV.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/statement", tag = "ledger",
    security(("bearer" = [])),
    params(("id" = i64, Path), StatementQuery),
    responses((status = 200, content((StatementView = "application/json"), (String = "text/csv"))),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor", "rider"]))))]
pub async fn statement(
    State(state): State<AppState>,
    caller: Caller<AnyPerson>,
    headers: HeaderMap,
    Path(account_id): Path<i64>,
    Query(query): Query<StatementQuery>,
) -> ApiResult<Response> {
    Ok(statement_answer(&headers, statement_of(&state, &caller, account_id, query).await?))
}

/// The statement as JSON, or as CSV (`Accept: text/csv`) for a spreadsheet.
fn statement_answer(headers: &HeaderMap, statement: StatementView) -> Response {
    if !csv::wanted(headers) {
        return Json(statement).into_response();
    }
    let mut table = Csv::new(&["entry_id", "created_at", "kind", "reason", "reference", "amount", "balance_after"]);
    for line in &statement.lines {
        let reference = line
            .reference
            .as_ref()
            .map(|reference| match &reference.id {
                Some(id) => format!("{}:{id}", reference.reference_type),
                None => reference.reference_type.clone(),
            })
            .unwrap_or_default();
        table.row([
            line.entry_id.to_string(),
            line.created_at.to_rfc3339(),
            csv::text(&line.kind),
            line.reason.clone(),
            reference,
            line.amount.to_string(),
            line.balance_after.to_string(),
        ]);
    }
    table.into_response("statement.csv")
}

/// The rider's own statement (`Accept: text/csv` for a spreadsheet).
#[utoipa::path(get, path = "/api/v1/me/statement", tag = "ledger",
    security(("bearer" = [])),
    params(StatementQuery),
    responses((status = 200, content((StatementView = "application/json"), (String = "text/csv"))),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")),
    extensions(("x-roles" = json!(["rider"]))))]
pub async fn my_statement(
    State(state): State<AppState>,
    caller: Caller<RiderOnly>,
    headers: HeaderMap,
    Query(query): Query<StatementQuery>,
) -> ApiResult<Response> {
    let user = users::find(state.store.reader(), caller.user_id).await?;
    let account_id = user.account_id.ok_or(ApiError::NotFound("you have no points account".into()))?;
    Ok(statement_answer(&headers, statement_of(&state, &caller, account_id, query).await?))
}
