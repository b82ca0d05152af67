//! Membership: partners' identity signals, inference rules, candidates and the membership lifecycle.

use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::ledger::string_enum;
use super::people::Phone;
use super::{FieldError, Invalid, Validator, required_text};

/// Most events one signal batch may carry.
pub const SIGNALS_PER_BATCH_MAX: usize = 10_000;
/// Events older than this are refused: inference looks at recent behaviour only.
pub const SIGNAL_AGE_DAYS_MAX: i64 = 90;
/// Clock skew tolerated for events "from the future".
pub const SIGNAL_FUTURE_SKEW_MINUTES: i64 = 5;
pub const QUANTITY_MAX: i64 = 1_000;
const IDENTIFIER_CHARS_MAX: usize = 100;

string_enum! {
    PartnerKind {
        BatterySwap => "battery_swap",
        DeliveryPlatform => "delivery_platform",
        Other => "other",
    }
}

string_enum! {
    SignalKind {
        BatterySwap => "battery_swap",
        OrderCompleted => "order_completed",
        Other => "other",
    }
}

string_enum! {
    CandidateStatus {
        Candidate => "candidate",
        Invited => "invited",
        Applied => "applied",
    }
}

string_enum! {
    MembershipStatus {
        Applied => "applied",
        Verified => "verified",
        Approved => "approved",
        Rejected => "rejected",
        Lapsed => "lapsed",
    }
}

impl MembershipStatus {
    /// applied → verified → approved (a member), either → rejected; approved → lapsed → approved (renewed).
    pub fn can_become(self, next: MembershipStatus) -> bool {
        use MembershipStatus::*;
        matches!(
            (self, next),
            (Applied, Verified)
                | (Applied, Rejected)
                | (Verified, Approved)
                | (Verified, Rejected)
                | (Approved, Lapsed)
                | (Lapsed, Approved)
        )
    }

    /// Whether a rider with a membership in this status may apply again.
    pub fn is_closed(self) -> bool {
        self == MembershipStatus::Rejected
    }
}

/// Pseudonymises identifiers with a server secret: the same phone gives the same key at every
/// partner and at registration, and the number itself is never stored with the signals.
#[derive(Clone)]
pub struct SubjectKeys {
    secret: Vec<u8>,
}

impl SubjectKeys {
    pub fn new(secret: &[u8]) -> Self {
        Self { secret: secret.to_vec() }
    }

    fn hash(&self, context: &str, value: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes a key of any length");
        mac.update(context.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    pub fn phone(&self, phone: &Phone) -> String {
        self.hash("phone", phone.as_str())
    }

    /// A partner's own reference for a rider: meaningful only with that partner.
    pub fn partner_ref(&self, partner_id: i64, reference: &str) -> String {
        self.hash(&format!("partner-ref:{partner_id}"), reference)
    }
}

/// The subject of an event as a partner sent it.
#[derive(Clone, Debug)]
pub enum Subject {
    Phone(String),
    PartnerRef(String),
}

/// One event as sent.
#[derive(Clone, Debug)]
pub struct SignalInput {
    pub event_id: String,
    pub subject: Option<Subject>,
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    pub quantity: Option<i64>,
    pub area: Option<String>,
}

/// One event checked and pseudonymised, ready to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedSignal {
    pub event_id: String,
    pub subject_key: String,
    pub kind: SignalKind,
    pub occurred_at: DateTime<Utc>,
    pub quantity: i64,
    pub area: Option<String>,
}

/// Checks one event; the error says why the row is refused.
pub fn check_signal(
    keys: &SubjectKeys,
    partner_id: i64,
    input: &SignalInput,
    now: DateTime<Utc>,
) -> Result<CheckedSignal, String> {
    let event_id = input.event_id.trim();
    if event_id.is_empty() || event_id.chars().count() > IDENTIFIER_CHARS_MAX {
        return Err(format!("event_id must be 1–{IDENTIFIER_CHARS_MAX} characters"));
    }
    let kind = SignalKind::parse(&input.kind)
        .ok_or_else(|| format!("unknown kind {:?}; use battery_swap, order_completed or other", input.kind))?;
    if input.occurred_at > now + TimeDelta::minutes(SIGNAL_FUTURE_SKEW_MINUTES) {
        return Err("occurred_at is in the future".into());
    }
    if input.occurred_at < now - TimeDelta::days(SIGNAL_AGE_DAYS_MAX) {
        return Err(format!("occurred_at is more than {SIGNAL_AGE_DAYS_MAX} days ago"));
    }
    let quantity = input.quantity.unwrap_or(1);
    if !(1..=QUANTITY_MAX).contains(&quantity) {
        return Err(format!("quantity must be 1–{QUANTITY_MAX}"));
    }
    let subject_key = match &input.subject {
        Some(Subject::Phone(phone)) => {
            keys.phone(&Phone::parse(phone).map_err(|_| "subject.phone is not a mainland mobile number".to_owned())?)
        }
        Some(Subject::PartnerRef(reference)) => {
            let reference = reference.trim();
            if reference.is_empty() || reference.chars().count() > IDENTIFIER_CHARS_MAX {
                return Err(format!("subject.partner_ref must be 1–{IDENTIFIER_CHARS_MAX} characters"));
            }
            keys.partner_ref(partner_id, reference)
        }
        None => return Err("subject must have exactly one of phone or partner_ref".into()),
    };
    let area = input.area.as_deref().map(str::trim).filter(|area| !area.is_empty()).map(str::to_owned);
    if area.as_ref().is_some_and(|area| area.chars().count() > IDENTIFIER_CHARS_MAX) {
        return Err(format!("area must be at most {IDENTIFIER_CHARS_MAX} characters"));
    }
    Ok(CheckedSignal {
        event_id: event_id.to_owned(),
        subject_key,
        kind,
        occurred_at: input.occurred_at,
        quantity,
        area,
    })
}

/// What a rule asks of a subject's signals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleCriteria {
    pub name: String,
    pub kind: SignalKind,
    pub window_days: i32,
    pub min_count: i64,
    pub min_active_days: i32,
    pub partner_ids: Option<Vec<i64>>,
    pub areas: Option<Vec<String>>,
}

impl RuleCriteria {
    pub fn validate(mut self) -> Result<RuleCriteria, Invalid> {
        let mut validator = Validator::new();
        self.name = validator.take(required_text("name", &self.name, 100)).unwrap_or_default();
        validator.check(
            (1..=SIGNAL_AGE_DAYS_MAX as i32).contains(&self.window_days),
            "window_days",
            "must be 1–90 days",
        );
        validator.check(self.min_count >= 1, "min_count", "must be at least 1");
        validator.check(
            self.min_active_days >= 1 && self.min_active_days <= self.window_days,
            "min_active_days",
            "must be at least 1 and at most window_days",
        );
        if let Some(partners) = &self.partner_ids {
            validator.check(!partners.is_empty(), "partner_ids", "leave it out for all partners, or name at least one");
        }
        if let Some(areas) = &self.areas {
            validator.check(!areas.is_empty(), "areas", "leave it out for all areas, or name at least one");
        }
        validator.finish()?;
        Ok(self)
    }

    /// The first local day inside the window ending today.
    pub fn first_day(&self, now: DateTime<Utc>) -> String {
        let today = super::volunteering::local_day(now);
        (today - TimeDelta::days(i64::from(self.window_days) - 1)).format("%Y-%m-%d").to_string()
    }
}

/// A subject's activity in a rule's window: the evidence a person can check.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Evidence {
    pub signal_count: i64,
    pub active_days: i64,
    pub first_seen: String,
    pub last_seen: String,
    pub partner_ids: Vec<i64>,
    pub rule_name: String,
    pub kind: String,
    pub window_days: i32,
    pub min_count: i64,
    pub min_active_days: i32,
}

/// A membership number: the city, then the membership's sequence.
pub fn member_number(city_id: i64, membership_id: i64) -> String {
    format!("GH{city_id:03}-{membership_id:07}")
}

/// Validates what a verification recorded: at least the real-name check.
pub fn check_verification(real_name_checked: bool, note: Option<&str>) -> Result<(), Invalid> {
    let mut errors = Vec::new();
    if !real_name_checked {
        errors.push(FieldError::new("checks.real_name", "the real-name check must be done before verifying"));
    }
    if note.is_some_and(|note| note.chars().count() > 500) {
        errors.push(FieldError::new("note", "must be at most 500 characters"));
    }
    if errors.is_empty() { Ok(()) } else { Err(Invalid(errors)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Signal times: up to 90 days back and a few minutes ahead (clock skew) are taken; the
        /// rest is refused with the reason, whatever the instant.
        #[test]
        fn signal_times_are_taken_only_inside_the_window(offset_minutes in -200_000i64..200_000) {
            let keys = SubjectKeys::new(b"proptest-subject-key-proptest-subject-key");
            let now = DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z").unwrap().with_timezone(&Utc);
            let at = now + TimeDelta::minutes(offset_minutes);
            let checked = check_signal(&keys, 1, &input("battery_swap", Some(Subject::PartnerRef("r1".into())), at), now);
            let inside = (-SIGNAL_AGE_DAYS_MAX * 24 * 60..=SIGNAL_FUTURE_SKEW_MINUTES).contains(&offset_minutes);
            prop_assert_eq!(checked.is_ok(), inside, "{:?}", checked);
        }
    }

    fn input(kind: &str, subject: Option<Subject>, occurred_at: DateTime<Utc>) -> SignalInput {
        SignalInput { event_id: "e1".into(), subject, kind: kind.into(), occurred_at, quantity: None, area: None }
    }

    #[test]
    fn subjects_are_keyed_hashes_shared_across_partners_for_phones_only() {
        let keys = SubjectKeys::new(b"secret");
        let now = Utc::now();
        let a = check_signal(&keys, 1, &input("battery_swap", Some(Subject::Phone("138 1234 5678".into())), now), now)
            .unwrap();
        let b = check_signal(&keys, 2, &input("battery_swap", Some(Subject::Phone("+8613812345678".into())), now), now)
            .unwrap();
        assert_eq!(a.subject_key, b.subject_key, "the same rider at two partners");
        assert!(!a.subject_key.contains("13812345678"));
        assert_eq!(a.subject_key, keys.phone(&Phone::parse("13812345678").unwrap()), "and at registration");
        let ref_a =
            check_signal(&keys, 1, &input("battery_swap", Some(Subject::PartnerRef("u-1".into())), now), now).unwrap();
        let ref_b =
            check_signal(&keys, 2, &input("battery_swap", Some(Subject::PartnerRef("u-1".into())), now), now).unwrap();
        assert_ne!(ref_a.subject_key, ref_b.subject_key, "partner references are scoped to their partner");
        assert_ne!(SubjectKeys::new(b"other").phone(&Phone::parse("13812345678").unwrap()), a.subject_key);
    }

    #[test]
    fn bad_rows_say_why() {
        let keys = SubjectKeys::new(b"secret");
        let now = Utc::now();
        let phone = || Some(Subject::Phone("13812345678".into()));
        assert!(check_signal(&keys, 1, &input("teleport", phone(), now), now).unwrap_err().contains("unknown kind"));
        assert!(
            check_signal(&keys, 1, &input("battery_swap", phone(), now + TimeDelta::hours(1)), now)
                .unwrap_err()
                .contains("future")
        );
        assert!(
            check_signal(&keys, 1, &input("battery_swap", phone(), now - TimeDelta::days(91)), now)
                .unwrap_err()
                .contains("90 days")
        );
        assert!(
            check_signal(&keys, 1, &input("battery_swap", Some(Subject::Phone("123".into())), now), now)
                .unwrap_err()
                .contains("phone")
        );
        assert!(check_signal(&keys, 1, &input("battery_swap", None, now), now).is_err());
    }

    #[test]
    fn membership_moves_forward_only_along_its_path() {
        use MembershipStatus::*;
        assert!(Applied.can_become(Verified));
        assert!(Verified.can_become(Approved));
        assert!(!Applied.can_become(Approved), "verification comes first");
        assert!(!Rejected.can_become(Approved));
        assert!(Approved.can_become(Lapsed));
        assert!(Lapsed.can_become(Approved));
        assert_eq!(member_number(1, 42), "GH001-0000042");
    }
}
