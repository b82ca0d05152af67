//! Response bodies: what the API shows, apart from how the store keeps it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, ToSchema};

use crate::domain::ledger::{AccountKind, EntryKind, HoldStatus};
use crate::domain::people::{Language, LevelKind, Role, mask_phone};
use crate::domain::points::Points;
use crate::store::ledger::{AccountRecord, EntryRecord, HoldRecord, Reference, StatementLine, StatementWindow};
use crate::store::levels::LevelRecord;
use crate::store::users::UserRecord;

impl utoipa::PartialSchema for Points {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(r"^-?[0-9]+(\.[0-9]{1,2})?$"))
            .description(Some("Points: an exact decimal string with at most two places, e.g. \"10.00\"."))
            .examples(["10.00"])
            .into()
    }
}

impl ToSchema for Points {}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct LevelView {
    pub id: i64,
    pub name: String,
    pub kind: LevelKind,
    pub parent_id: Option<i64>,
    /// The account that holds this level's budget.
    pub budget_account_id: Option<i64>,
    /// Whether hours logged at this level must be approved by someone other than who logged them.
    pub approver_must_differ: bool,
    /// Points riders earn here expire this many months later (unless a level below sets its own); null: never.
    pub points_expire_months: Option<i32>,
    /// Points posted from this level's budget to each rider approved as a member here.
    pub welcome_points: Option<Points>,
    /// The default language of texts (problems, names) for the people here and below, when their
    /// client does not ask for one; null: the level above's (English at a city without one).
    pub language: Option<Language>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<LevelRecord> for LevelView {
    fn from(level: LevelRecord) -> Self {
        LevelView {
            id: level.id,
            name: level.name,
            kind: level.kind,
            parent_id: level.parent_id,
            budget_account_id: level.budget_account_id,
            approver_must_differ: level.approver_must_differ,
            points_expire_months: level.points_expire_months,
            welcome_points: level.welcome_points,
            language: level.language,
            created_at: level.created_at,
            updated_at: level.updated_at,
        }
    }
}

/// A level with the levels below it.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct LevelNode {
    pub id: i64,
    pub name: String,
    pub kind: LevelKind,
    pub parent_id: Option<i64>,
    pub budget_account_id: Option<i64>,
    #[schema(no_recursion)]
    pub children: Vec<LevelNode>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub level_id: Option<i64>,
    pub display_name: String,
    /// Riders' phone numbers: in full for the rider and admins, masked (138****1234) for others.
    pub phone: Option<String>,
    /// A rider's points account.
    pub account_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

impl UserView {
    /// The view of a person for a viewer: phone numbers in full only for themselves and admins.
    pub fn for_viewer(user: UserRecord, viewer_id: i64, viewer_role: Role) -> Self {
        let full_phone = viewer_id == user.id || viewer_role == Role::Admin;
        UserView {
            id: user.id,
            username: if user.role == Role::Rider && !full_phone { mask_phone(&user.username) } else { user.username },
            role: user.role,
            level_id: user.level_id,
            display_name: user.display_name,
            phone: user.phone.map(|phone| if full_phone { phone } else { mask_phone(&phone) }),
            account_id: user.account_id,
            created_at: user.created_at,
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AccountView {
    pub id: i64,
    pub kind: AccountKind,
    /// The level the account belongs to (a rider's level for a rider's account).
    pub level_id: i64,
    /// The rider who owns the account, for rider accounts.
    pub owner_user_id: Option<i64>,
    /// Whether debits (posted and pending) may never exceed posted credits.
    pub no_overdraft: bool,
    /// Posted credits minus posted debits.
    pub balance: Points,
    /// The balance less what pending holds keep back: what can be spent now.
    pub available: Points,
    pub debits_posted: Points,
    pub credits_posted: Points,
    pub debits_pending: Points,
    pub credits_pending: Points,
    /// For a rider's account: what expires next and when, soonest first (empty when nothing expires).
    pub expiring: Vec<ExpiringView>,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ExpiringView {
    pub amount: Points,
    pub expires_at: DateTime<Utc>,
}

impl From<AccountRecord> for AccountView {
    fn from(account: AccountRecord) -> Self {
        let balances = account.balances;
        AccountView {
            id: account.id,
            kind: account.kind,
            level_id: account.level_id,
            owner_user_id: account.user_id,
            no_overdraft: account.no_overdraft,
            balance: balances.posted(),
            available: balances.available(),
            debits_posted: balances.debits_posted,
            credits_posted: balances.credits_posted,
            debits_pending: balances.debits_pending,
            credits_pending: balances.credits_pending,
            expiring: account
                .expiring
                .into_iter()
                .map(|expiring| ExpiringView { amount: expiring.amount, expires_at: expiring.expires_at })
                .collect(),
            created_at: account.created_at,
        }
    }
}

/// What an entry or hold belongs to, e.g. `{"type": "level", "id": "4"}`.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReferenceView {
    #[serde(rename = "type")]
    pub reference_type: String,
    pub id: Option<String>,
}

impl ReferenceView {
    pub fn from_reference(reference: Reference) -> Option<Self> {
        reference.reference_type.map(|reference_type| ReferenceView { reference_type, id: reference.reference_id })
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct PostingView {
    pub account_id: i64,
    /// Positive for a credit, negative for a debit.
    pub amount: Points,
    /// The account's posted balance right after this posting.
    pub balance_after: Points,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct EntryView {
    pub id: i64,
    pub kind: EntryKind,
    pub reason: String,
    pub reference: Option<ReferenceView>,
    /// Who posted it.
    pub actor_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    /// For a reversal: the entry it reverses.
    pub reverses_entry_id: Option<i64>,
    /// For a reversed entry: the reversal.
    pub reversed_by_entry_id: Option<i64>,
    /// SHA-256 over this entry and `prev_hash`, hex.
    pub hash: String,
    pub prev_hash: String,
    pub postings: Vec<PostingView>,
}

impl From<EntryRecord> for EntryView {
    fn from(entry: EntryRecord) -> Self {
        EntryView {
            id: entry.id,
            kind: entry.kind,
            reason: entry.reason,
            reference: ReferenceView::from_reference(Reference {
                reference_type: entry.reference_type,
                reference_id: entry.reference_id,
            }),
            actor_id: entry.actor_id,
            created_at: entry.created_at,
            reverses_entry_id: entry.reverses_entry_id,
            reversed_by_entry_id: entry.reversed_by_entry_id,
            hash: entry.hash,
            prev_hash: entry.prev_hash,
            postings: entry
                .postings
                .into_iter()
                .map(|posting| PostingView {
                    account_id: posting.account_id,
                    amount: posting.amount,
                    balance_after: posting.balance_after,
                })
                .collect(),
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct HoldView {
    pub id: i64,
    pub from: i64,
    pub to: i64,
    pub amount: Points,
    /// The kind of entry that posting the hold makes.
    pub kind: EntryKind,
    /// A pending hold past `expires_at` reads as `expired`.
    pub status: HoldStatus,
    pub reason: String,
    pub reference: Option<ReferenceView>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub posted_entry_id: Option<i64>,
    pub posted_amount: Option<Points>,
}

impl From<HoldRecord> for HoldView {
    fn from(hold: HoldRecord) -> Self {
        HoldView {
            id: hold.id,
            from: hold.from_account_id,
            to: hold.to_account_id,
            amount: hold.amount,
            kind: hold.kind,
            status: hold.status,
            reason: hold.reason,
            reference: ReferenceView::from_reference(hold.reference),
            created_at: hold.created_at,
            expires_at: hold.expires_at,
            resolved_at: hold.resolved_at,
            posted_entry_id: hold.posted_entry_id,
            posted_amount: hold.posted_amount,
        }
    }
}

/// One line of a statement: one posting on the account, with the entry that explains it.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct StatementLineView {
    pub entry_id: i64,
    pub created_at: DateTime<Utc>,
    pub kind: EntryKind,
    pub reason: String,
    pub reference: Option<ReferenceView>,
    /// Positive when points came in, negative when they went out.
    pub amount: Points,
    pub balance_after: Points,
}

impl From<StatementLine> for StatementLineView {
    fn from(line: StatementLine) -> Self {
        StatementLineView {
            entry_id: line.entry_id,
            created_at: line.created_at,
            kind: line.kind,
            reason: line.reason,
            reference: ReferenceView::from_reference(line.reference),
            amount: line.amount,
            balance_after: line.balance_after,
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct StatementView {
    pub account_id: i64,
    /// The balance now (not at the end of the page).
    pub balance: Points,
    pub available: Points,
    /// Newest first.
    pub lines: Vec<StatementLineView>,
    /// Pass as `cursor` to get the next (older) page; absent on the last page.
    pub next_cursor: Option<i64>,
}

/// Pagination and time window of a statement.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatementQuery {
    /// Lines per page, 1–500 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<i64>,
    /// Only lines at or after this instant (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Only lines before this instant (RFC 3339).
    pub to: Option<DateTime<Utc>>,
}

impl StatementQuery {
    /// The lines asked for, checked: a page limit and a time window that ends after it starts.
    pub fn window(&self) -> Result<StatementWindow, crate::domain::Invalid> {
        let limit = page_limit(self.limit)?;
        time_window(self.from, self.to)?;
        Ok(StatementWindow { limit, cursor: self.cursor, from: self.from, to: self.to })
    }
}

/// Checks a time window: `to`, when given with `from`, comes after it.
pub fn time_window(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Result<(), crate::domain::Invalid> {
    match (from, to) {
        (Some(from), Some(to)) if from >= to => Err(crate::domain::Invalid::one("to", "must be after `from`")),
        _ => Ok(()),
    }
}

/// Checks a page size: 1..=PAGE_LIMIT_MAX, default PAGE_LIMIT_DEFAULT.
pub fn page_limit(limit: Option<u64>) -> Result<u64, crate::domain::Invalid> {
    match limit {
        None => Ok(super::PAGE_LIMIT_DEFAULT),
        Some(limit) if (1..=super::PAGE_LIMIT_MAX).contains(&limit) => Ok(limit),
        Some(_) => {
            Err(crate::domain::Invalid::one("limit", format!("must be between 1 and {}", super::PAGE_LIMIT_MAX)))
        }
    }
}
