//! The double-entry rules: balances, postings, holds, reversals and the hash chain.
//!
//! Conventions (one signed view for every account): a posting's amount is positive for a credit and
//! negative for a debit, and an account's posted balance is its credits minus its debits. Every entry
//! sums to zero, so the sum of all balances is always zero: the issuance account goes negative by
//! exactly what has been issued. Accounts flagged `no_overdraft` (members, budgets) may never have
//! debits, posted plus pending, above their posted credits.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::points::Points;
use super::{FieldError, Invalid, Validator, required_text};

pub type AccountId = i64;
pub type EntryId = i64;

/// Most transfers one manual entry may carry.
pub const TRANSFERS_PER_ENTRY_MAX: usize = 100;
/// Longest reason, in characters.
pub const REASON_CHARS_MAX: usize = 500;
/// The hash that precedes the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use string_enum;

string_enum! {
    /// What an account is for.
    AccountKind {
        Rider => "rider",
        Budget => "budget",
        Issuance => "issuance",
        Redemption => "redemption",
        Breakage => "breakage",
    }
}

impl AccountKind {
    /// Only the issuance account, the source of all points, may go below zero.
    pub fn no_overdraft(self) -> bool {
        self != AccountKind::Issuance
    }
}

string_enum! {
    /// Why an entry was posted.
    EntryKind {
        Fund => "fund",
        Allocate => "allocate",
        Adjustment => "adjustment",
        Reversal => "reversal",
        Award => "award",
        Redemption => "redemption",
        Pledge => "pledge",
        Refund => "refund",
        Expiry => "expiry",
        Welcome => "welcome",
    }
}

string_enum! {
    /// The life of a pending transfer.
    HoldStatus {
        Pending => "pending",
        Posted => "posted",
        Voided => "voided",
        Expired => "expired",
    }
}

/// Posted and pending totals of one account, TigerBeetle-style.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Balances {
    pub debits_posted: Points,
    pub credits_posted: Points,
    pub debits_pending: Points,
    pub credits_pending: Points,
}

impl Balances {
    /// Credits minus debits, posted only.
    pub fn posted(&self) -> Points {
        Points::from_minor(self.credits_posted.minor() - self.debits_posted.minor())
    }

    /// What can still be spent: the posted balance less what holds keep back.
    pub fn available(&self) -> Points {
        Points::from_minor(self.posted().minor() - self.debits_pending.minor())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountState {
    pub id: AccountId,
    pub kind: AccountKind,
    pub no_overdraft: bool,
    pub balances: Balances,
    /// After how many months points credited to it expire (a rider's level, or the nearest level
    /// above that sets it); `None`: never.
    pub points_expire_months: Option<u32>,
    /// The lot a debit of a rider's account takes from first, as it was when the account was read.
    pub first_lot: Option<FirstLot>,
}

/// A lot's id and what is left of it (minor units).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FirstLot {
    pub id: i64,
    pub remaining: i64,
}

/// Points moving from one account to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transfer {
    pub from: AccountId,
    pub to: AccountId,
    pub amount: Points,
}

/// One side of an entry before it is applied: credit positive, debit negative.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PostingDraft {
    pub account_id: AccountId,
    pub amount: Points,
}

/// One side of an applied entry, with the account's posted balance right after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlannedPosting {
    pub account_id: AccountId,
    pub amount: Points,
    pub balance_after: Points,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("account {account_id} has {available} points available; {requested} requested")]
    InsufficientPoints { account_id: AccountId, available: Points, requested: Points },
    #[error("the postings do not balance: they sum to {total}")]
    Unbalanced { total: Points },
    #[error("an entry needs at least two postings")]
    TooFewPostings,
    #[error("account {0} does not exist")]
    UnknownAccount(AccountId),
    #[error("the hold keeps back {held} points; {requested} cannot be posted")]
    HoldExceeded { held: Points, requested: Points },
    #[error("amounts overflow")]
    Overflow,
}

/// Debits each transfer's source and credits its destination, in order.
pub fn transfers_to_postings(transfers: &[Transfer]) -> Vec<PostingDraft> {
    transfers
        .iter()
        .flat_map(|transfer| {
            [
                PostingDraft { account_id: transfer.from, amount: -transfer.amount },
                PostingDraft { account_id: transfer.to, amount: transfer.amount },
            ]
        })
        .collect()
}

/// The exact opposite of an entry's postings.
pub fn reversal_postings(original: &[PostingDraft]) -> Vec<PostingDraft> {
    original.iter().map(|posting| PostingDraft { account_id: posting.account_id, amount: -posting.amount }).collect()
}

/// Checks the shape of a manual entry: a reason, 1..=100 transfers, positive amounts, distinct ends.
pub fn validate_transfers(reason: &str, transfers: &[Transfer]) -> Result<String, Invalid> {
    let mut validator = Validator::new();
    let reason = validator.take(required_text("reason", reason, REASON_CHARS_MAX));
    validator.check(!transfers.is_empty(), "transfers", "must hold at least one transfer");
    validator.check(
        transfers.len() <= TRANSFERS_PER_ENTRY_MAX,
        "transfers",
        &format!("must hold at most {TRANSFERS_PER_ENTRY_MAX} transfers"),
    );
    for (index, transfer) in transfers.iter().enumerate() {
        if !transfer.amount.is_positive() {
            validator.push(FieldError::new(format!("transfers[{index}].amount"), "must be greater than zero"));
        }
        if transfer.from == transfer.to {
            validator.push(FieldError::new(format!("transfers[{index}].to"), "must differ from `from`"));
        }
    }
    validator.finish()?;
    Ok(reason.unwrap_or_default())
}

/// The accounts one write has locked, and the rules applied to them in memory.
///
/// Each operation is all-or-nothing: on error the book is unchanged. The store loads the states
/// (under lock), applies operations here, then writes back `changed()` states and the postings.
#[derive(Clone, Debug, Default)]
pub struct Book {
    accounts: BTreeMap<AccountId, AccountState>,
    changed: BTreeMap<AccountId, bool>,
}

impl Book {
    pub fn new(states: impl IntoIterator<Item = AccountState>) -> Self {
        Self { accounts: states.into_iter().map(|state| (state.id, state)).collect(), changed: BTreeMap::new() }
    }

    pub fn get(&self, account_id: AccountId) -> Option<&AccountState> {
        self.accounts.get(&account_id)
    }

    pub fn accounts(&self) -> impl Iterator<Item = &AccountState> {
        self.accounts.values()
    }

    /// The states this book has modified, in id order.
    pub fn changed(&self) -> impl Iterator<Item = &AccountState> {
        self.changed.keys().filter_map(|id| self.accounts.get(id))
    }

    /// Applies a balanced set of postings in order, checking the overdraft rule after each debit.
    pub fn post(&mut self, postings: &[PostingDraft]) -> Result<Vec<PlannedPosting>, LedgerError> {
        if postings.len() < 2 {
            return Err(LedgerError::TooFewPostings);
        }
        let total = postings
            .iter()
            .try_fold(Points::ZERO, |sum, posting| sum.checked_add(posting.amount))
            .ok_or(LedgerError::Overflow)?;
        if total != Points::ZERO {
            return Err(LedgerError::Unbalanced { total });
        }
        let mut working: HashMap<AccountId, AccountState> = HashMap::with_capacity(postings.len());
        let mut planned = Vec::with_capacity(postings.len());
        for posting in postings {
            let state = match working.get_mut(&posting.account_id) {
                Some(state) => state,
                None => {
                    let state = *self
                        .accounts
                        .get(&posting.account_id)
                        .ok_or(LedgerError::UnknownAccount(posting.account_id))?;
                    working.entry(posting.account_id).or_insert(state)
                }
            };
            let balances = &mut state.balances;
            if posting.amount.is_negative() {
                let requested = posting.amount.abs();
                let available = balances.available();
                if state.no_overdraft && available < requested {
                    return Err(LedgerError::InsufficientPoints { account_id: state.id, available, requested });
                }
                balances.debits_posted = balances.debits_posted.checked_add(requested).ok_or(LedgerError::Overflow)?;
            } else {
                balances.credits_posted =
                    balances.credits_posted.checked_add(posting.amount).ok_or(LedgerError::Overflow)?;
            }
            planned.push(PlannedPosting {
                account_id: posting.account_id,
                amount: posting.amount,
                balance_after: balances.posted(),
            });
        }
        self.commit(working);
        Ok(planned)
    }

    /// Keeps `amount` back on `from` (and announces it on `to`) without spending it.
    pub fn hold(&mut self, from: AccountId, to: AccountId, amount: Points) -> Result<(), LedgerError> {
        let mut source = *self.accounts.get(&from).ok_or(LedgerError::UnknownAccount(from))?;
        let mut destination = *self.accounts.get(&to).ok_or(LedgerError::UnknownAccount(to))?;
        let available = source.balances.available();
        if source.no_overdraft && available < amount {
            return Err(LedgerError::InsufficientPoints { account_id: from, available, requested: amount });
        }
        source.balances.debits_pending =
            source.balances.debits_pending.checked_add(amount).ok_or(LedgerError::Overflow)?;
        destination.balances.credits_pending =
            destination.balances.credits_pending.checked_add(amount).ok_or(LedgerError::Overflow)?;
        self.commit([(from, source), (to, destination)].into_iter().collect());
        Ok(())
    }

    /// Gives back what a hold kept (void or expiry).
    pub fn release(&mut self, from: AccountId, to: AccountId, amount: Points) -> Result<(), LedgerError> {
        let mut source = *self.accounts.get(&from).ok_or(LedgerError::UnknownAccount(from))?;
        let mut destination = *self.accounts.get(&to).ok_or(LedgerError::UnknownAccount(to))?;
        source.balances.debits_pending =
            source.balances.debits_pending.checked_sub(amount).ok_or(LedgerError::Overflow)?;
        destination.balances.credits_pending =
            destination.balances.credits_pending.checked_sub(amount).ok_or(LedgerError::Overflow)?;
        assert!(
            !source.balances.debits_pending.is_negative() && !destination.balances.credits_pending.is_negative(),
            "released more than was held"
        );
        self.commit([(from, source), (to, destination)].into_iter().collect());
        Ok(())
    }

    /// Posts `amount` (at most what was held) of a hold and releases the rest.
    pub fn post_hold(
        &mut self,
        from: AccountId,
        to: AccountId,
        held: Points,
        amount: Points,
    ) -> Result<Vec<PlannedPosting>, LedgerError> {
        if amount > held || !amount.is_positive() {
            return Err(LedgerError::HoldExceeded { held, requested: amount });
        }
        let before = self.clone();
        self.release(from, to, held)?;
        match self.post(&transfers_to_postings(&[Transfer { from, to, amount }])) {
            Ok(planned) => Ok(planned),
            Err(error) => {
                *self = before;
                Err(error)
            }
        }
    }

    fn commit(&mut self, states: HashMap<AccountId, AccountState>) {
        for (id, state) in states {
            self.accounts.insert(id, state);
            self.changed.insert(id, true);
        }
    }
}

/// What the hash of an entry covers: everything that states what happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryContent<'a> {
    pub id: EntryId,
    pub kind: &'a str,
    pub reason: &'a str,
    pub reference_type: Option<&'a str>,
    pub reference_id: Option<&'a str>,
    pub actor_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub reverses_entry_id: Option<EntryId>,
    /// (account, signed amount in minor units), in posting order.
    pub postings: &'a [(AccountId, i64)],
}

/// SHA-256 over the previous entry's hash and an unambiguous (length-prefixed) encoding of the entry.
pub fn entry_hash(prev_hash: &str, content: &EntryContent<'_>) -> String {
    fn text(hasher: &mut Sha256, value: Option<&str>) {
        match value {
            None => hasher.update([0u8]),
            Some(value) => {
                hasher.update([1u8]);
                hasher.update((value.len() as u64).to_be_bytes());
                hasher.update(value.as_bytes());
            }
        }
    }
    fn number(hasher: &mut Sha256, value: Option<i64>) {
        match value {
            None => hasher.update([0u8]),
            Some(value) => {
                hasher.update([1u8]);
                hasher.update(value.to_be_bytes());
            }
        }
    }
    let mut hasher = Sha256::new();
    hasher.update(b"union-ledger/entry/v1");
    text(&mut hasher, Some(prev_hash));
    number(&mut hasher, Some(content.id));
    text(&mut hasher, Some(content.kind));
    text(&mut hasher, Some(content.reason));
    text(&mut hasher, content.reference_type);
    text(&mut hasher, content.reference_id);
    number(&mut hasher, content.actor_id);
    number(&mut hasher, Some(content.created_at.timestamp_micros()));
    number(&mut hasher, content.reverses_entry_id);
    hasher.update((content.postings.len() as u64).to_be_bytes());
    for (account_id, amount) in content.postings {
        hasher.update(account_id.to_be_bytes());
        hasher.update(amount.to_be_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Times are kept to the microsecond, the precision both databases store.
pub fn ledger_time(now: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(now.timestamp_micros()).expect("a clock reading is in range")
}

/// The first discrepancy `verify` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Discrepancy {
    /// An entry's stored hash, chain link or balance does not match what it should be.
    Entry { entry_id: EntryId, problem: String },
    /// An account's stored totals differ from the sum of its postings or holds.
    Account { account_id: AccountId, problem: String },
}

/// Replays the journal in order to check the hash chain and recompute every balance.
#[derive(Debug)]
pub struct Verifier {
    expected_id: EntryId,
    prev_hash: String,
    posted: HashMap<AccountId, (i64, i64)>,
    pub entries_checked: u64,
}

impl Default for Verifier {
    fn default() -> Self {
        Self { expected_id: 1, prev_hash: GENESIS_HASH.to_owned(), posted: HashMap::new(), entries_checked: 0 }
    }
}

/// A stored posting as the verifier reads it.
#[derive(Clone, Copy, Debug)]
pub struct StoredPosting {
    pub account_id: AccountId,
    pub amount: i64,
    pub balance_after: i64,
}

impl Verifier {
    /// Checks one entry (in id order) against the chain and the running balances.
    pub fn entry(
        &mut self,
        content: &EntryContent<'_>,
        stored_prev_hash: &str,
        stored_hash: &str,
        postings: &[StoredPosting],
    ) -> Result<(), Discrepancy> {
        let fail = |problem: String| Discrepancy::Entry { entry_id: content.id, problem };
        if content.id != self.expected_id {
            return Err(fail(format!("expected entry {} next in the chain", self.expected_id)));
        }
        if stored_prev_hash != self.prev_hash {
            return Err(fail("its previous-hash link does not match the entry before it".into()));
        }
        if entry_hash(&self.prev_hash, content) != stored_hash {
            return Err(fail("its content does not match its hash".into()));
        }
        if postings.len() < 2 {
            return Err(fail("it has fewer than two postings".into()));
        }
        if postings.iter().map(|posting| i128::from(posting.amount)).sum::<i128>() != 0 {
            return Err(fail("its postings do not sum to zero".into()));
        }
        for posting in postings {
            let (debits, credits) = self.posted.entry(posting.account_id).or_default();
            if posting.amount < 0 {
                *debits -= posting.amount;
            } else {
                *credits += posting.amount;
            }
            if *credits - *debits != posting.balance_after {
                return Err(fail(format!(
                    "the running balance of account {} after it should be {}",
                    posting.account_id,
                    Points::from_minor(*credits - *debits)
                )));
            }
        }
        self.prev_hash = stored_hash.to_owned();
        self.expected_id += 1;
        self.entries_checked += 1;
        Ok(())
    }

    /// Checks the chain ends where the head says it does.
    pub fn head(&self, last_entry_id: EntryId, last_hash: &str) -> Result<(), Discrepancy> {
        if last_entry_id != self.expected_id - 1 || last_hash != self.prev_hash {
            return Err(Discrepancy::Entry {
                entry_id: self.expected_id,
                problem: format!(
                    "the chain head names entry {last_entry_id}, but the journal ends at {}",
                    self.expected_id - 1
                ),
            });
        }
        Ok(())
    }

    /// Checks an account's stored totals against the replayed postings and its pending holds.
    pub fn account(&self, account_id: AccountId, stored: &Balances, pending: (i64, i64)) -> Result<(), Discrepancy> {
        let (debits, credits) = self.posted.get(&account_id).copied().unwrap_or_default();
        let fail = |problem: String| Discrepancy::Account { account_id, problem };
        if stored.debits_posted.minor() != debits || stored.credits_posted.minor() != credits {
            return Err(fail(format!(
                "stored posted debits/credits {}/{} differ from its postings {}/{}",
                stored.debits_posted,
                stored.credits_posted,
                Points::from_minor(debits),
                Points::from_minor(credits)
            )));
        }
        if stored.debits_pending.minor() != pending.0 || stored.credits_pending.minor() != pending.1 {
            return Err(fail(format!(
                "stored pending debits/credits {}/{} differ from its pending holds {}/{}",
                stored.debits_pending,
                stored.credits_pending,
                Points::from_minor(pending.0),
                Points::from_minor(pending.1)
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn points(minor: i64) -> Points {
        Points::from_minor(minor)
    }

    fn book(funded: i64) -> Book {
        let mut book = Book::new([
            AccountState {
                id: 1,
                kind: AccountKind::Issuance,
                no_overdraft: false,
                balances: Balances::default(),
                points_expire_months: None,
                first_lot: None,
            },
            AccountState {
                id: 2,
                kind: AccountKind::Rider,
                no_overdraft: true,
                balances: Balances::default(),
                points_expire_months: None,
                first_lot: None,
            },
            AccountState {
                id: 3,
                kind: AccountKind::Rider,
                no_overdraft: true,
                balances: Balances::default(),
                points_expire_months: None,
                first_lot: None,
            },
        ]);
        book.post(&transfers_to_postings(&[Transfer { from: 1, to: 2, amount: points(funded) }])).unwrap();
        book
    }

    #[test]
    fn a_member_cannot_go_below_zero() {
        let mut book = book(1000);
        let error =
            book.post(&transfers_to_postings(&[Transfer { from: 2, to: 3, amount: points(1001) }])).unwrap_err();
        assert_eq!(
            error,
            LedgerError::InsufficientPoints { account_id: 2, available: points(1000), requested: points(1001) }
        );
        assert_eq!(book.get(2).unwrap().balances.posted(), points(1000), "a refused entry changes nothing");
        book.post(&transfers_to_postings(&[Transfer { from: 2, to: 3, amount: points(1000) }])).unwrap();
        assert_eq!(book.get(2).unwrap().balances.posted(), Points::ZERO);
    }

    #[test]
    fn entries_must_balance_and_have_two_sides() {
        let mut book = book(1000);
        let one_sided =
            [PostingDraft { account_id: 2, amount: points(-5) }, PostingDraft { account_id: 3, amount: points(4) }];
        assert_eq!(book.post(&one_sided), Err(LedgerError::Unbalanced { total: points(-1) }));
        assert_eq!(book.post(&one_sided[..1]), Err(LedgerError::TooFewPostings));
    }

    #[test]
    fn holds_reduce_available_until_posted_or_released() {
        let mut book = book(1000);
        book.hold(2, 3, points(600)).unwrap();
        assert_eq!(book.get(2).unwrap().balances.available(), points(400));
        assert!(matches!(book.hold(2, 3, points(500)), Err(LedgerError::InsufficientPoints { .. })));
        let planned = book.post_hold(2, 3, points(600), points(250)).unwrap();
        assert_eq!(planned[0].balance_after, points(750));
        assert_eq!(book.get(2).unwrap().balances.available(), points(750));
        assert_eq!(book.get(3).unwrap().balances.credits_pending, Points::ZERO);
        assert_eq!(
            book.post_hold(2, 3, points(10), points(11)),
            Err(LedgerError::HoldExceeded { held: points(10), requested: points(11) })
        );
    }

    #[test]
    fn the_hash_covers_every_field_and_the_previous_hash() {
        let postings = [(1, -100), (2, 100)];
        let content = EntryContent {
            id: 1,
            kind: "fund",
            reason: "seed",
            reference_type: None,
            reference_id: None,
            actor_id: Some(1),
            created_at: DateTime::from_timestamp_micros(1_700_000_000_000_000).unwrap(),
            reverses_entry_id: None,
            postings: &postings,
        };
        let hash = entry_hash(GENESIS_HASH, &content);
        assert_eq!(hash.len(), 64);
        assert_ne!(hash, entry_hash(&hash, &content));
        let tampered = [(1, -101), (2, 101)];
        assert_ne!(hash, entry_hash(GENESIS_HASH, &EntryContent { postings: &tampered, ..content.clone() }));
        assert_ne!(hash, entry_hash(GENESIS_HASH, &EntryContent { reason: "seed ", ..content.clone() }));
        assert_ne!(hash, entry_hash(GENESIS_HASH, &EntryContent { reference_type: Some(""), ..content.clone() }));
    }

    #[test]
    fn transfers_are_validated_together() {
        let Invalid(errors) = validate_transfers(
            " ",
            &[Transfer { from: 1, to: 1, amount: points(0) }, Transfer { from: 1, to: 2, amount: points(5) }],
        )
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|error| error.field.as_str()).collect();
        assert_eq!(fields, ["reason", "transfers[0].amount", "transfers[0].to"]);
    }

    /// Operations a property test throws at a book.
    #[derive(Clone, Debug)]
    enum Operation {
        Transfers(Vec<(usize, usize, i64)>),
        Hold(usize, usize, i64),
        PostHold(usize, i64),
        ReleaseHold(usize),
        Reverse(usize),
    }

    const ACCOUNTS: usize = 5;

    fn operation() -> impl Strategy<Value = Operation> {
        let account = 0..ACCOUNTS;
        prop_oneof![
            4 => prop::collection::vec((account.clone(), account.clone(), 1i64..5_000), 1..4).prop_map(Operation::Transfers),
            2 => (account.clone(), account.clone(), 1i64..5_000).prop_map(|(from, to, amount)| Operation::Hold(from, to, amount)),
            1 => (0usize..50, 1i64..5_000).prop_map(|(hold, amount)| Operation::PostHold(hold, amount)),
            1 => (0usize..50).prop_map(Operation::ReleaseHold),
            1 => (0usize..50).prop_map(Operation::Reverse),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever is attempted, the ledger's invariants hold after every step.
        #[test]
        fn invariants_hold_under_any_sequence(operations in prop::collection::vec(operation(), 1..60)) {
            // Account 0 is the issuance account: the only one allowed below zero.
            let ids: Vec<AccountId> = (1..=ACCOUNTS as i64).collect();
            let mut book = Book::new(ids.iter().map(|&id| AccountState { id, kind: if id == 1 { AccountKind::Issuance } else { AccountKind::Rider }, no_overdraft: id != 1, balances: Balances::default(), points_expire_months: None, first_lot: None }));
            let mut journal: Vec<Vec<PlannedPosting>> = Vec::new();
            let mut reversed = vec![false; 0];
            let mut holds: Vec<(AccountId, AccountId, Points, bool)> = Vec::new();

            for operation in operations {
                match operation {
                    Operation::Transfers(transfers) => {
                        let transfers: Vec<Transfer> = transfers
                            .into_iter()
                            .filter(|(from, to, _)| from != to)
                            .map(|(from, to, amount)| Transfer { from: ids[from], to: ids[to], amount: points(amount) })
                            .collect();
                        if transfers.is_empty() { continue; }
                        let before = book.clone();
                        match book.post(&transfers_to_postings(&transfers)) {
                            Ok(planned) => { journal.push(planned); reversed.push(false); }
                            Err(LedgerError::InsufficientPoints { .. }) => {
                                prop_assert_eq!(format!("{:?}", before.accounts), format!("{:?}", book.accounts));
                            }
                            Err(other) => prop_assert!(false, "unexpected {other:?}"),
                        }
                    }
                    Operation::Hold(from, to, amount) => {
                        if from == to { continue; }
                        if book.hold(ids[from], ids[to], points(amount)).is_ok() {
                            holds.push((ids[from], ids[to], points(amount), true));
                        }
                    }
                    Operation::PostHold(index, amount) => {
                        if let Some(hold) = holds.get_mut(index).filter(|hold| hold.3) {
                            match book.post_hold(hold.0, hold.1, hold.2, points(amount)) {
                                Ok(planned) => { hold.3 = false; journal.push(planned); reversed.push(false); }
                                Err(LedgerError::HoldExceeded { .. }) => prop_assert!(points(amount) > hold.2),
                                Err(other) => prop_assert!(false, "unexpected {other:?}"),
                            }
                        }
                    }
                    Operation::ReleaseHold(index) => {
                        if let Some(hold) = holds.get_mut(index).filter(|hold| hold.3) {
                            book.release(hold.0, hold.1, hold.2).unwrap();
                            hold.3 = false;
                        }
                    }
                    Operation::Reverse(index) => {
                        if journal.is_empty() { continue; }
                        let index = index % journal.len();
                        if reversed[index] { continue; }
                        let original: Vec<PostingDraft> = journal[index]
                            .iter()
                            .map(|posting| PostingDraft { account_id: posting.account_id, amount: posting.amount })
                            .collect();
                        let before: HashMap<AccountId, Points> =
                            book.accounts().map(|state| (state.id, state.balances.posted())).collect();
                        if let Ok(planned) = book.post(&reversal_postings(&original)) {
                            // A reversal moves every balance it touches back by exactly the original's amounts.
                            for account in book.accounts() {
                                let delta: i64 = original.iter().filter(|p| p.account_id == account.id).map(|p| p.amount.minor()).sum();
                                prop_assert_eq!(account.balances.posted().minor(), before[&account.id].minor() - delta);
                            }
                            reversed[index] = true;
                            journal.push(planned);
                            reversed.push(true);
                        }
                    }
                }

                // The sum of all balances is zero.
                let total: i64 = book.accounts().map(|state| state.balances.posted().minor()).sum();
                prop_assert_eq!(total, 0);
                for state in book.accounts() {
                    // Every balance equals the sum of its postings, and the last running balance.
                    let postings: Vec<&PlannedPosting> = journal.iter().flatten().filter(|p| p.account_id == state.id).collect();
                    let sum: i64 = postings.iter().map(|p| p.amount.minor()).sum();
                    prop_assert_eq!(state.balances.posted().minor(), sum);
                    if let Some(last) = postings.last() {
                        prop_assert_eq!(last.balance_after, state.balances.posted());
                    }
                    // Pending totals equal the open holds.
                    let held: i64 = holds.iter().filter(|h| h.3 && h.0 == state.id).map(|h| h.2.minor()).sum();
                    prop_assert_eq!(state.balances.debits_pending.minor(), held);
                    // No constrained account is ever below zero, counting what is held.
                    if state.no_overdraft {
                        prop_assert!(!state.balances.available().is_negative());
                        prop_assert!(postings.iter().all(|p| !p.balance_after.is_negative()));
                    }
                }
            }
        }
    }
}
