//! Spending points: the reward catalog, redemptions, collective pledges (pools) and expiry.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone, Utc};

use super::ledger::string_enum;
use super::points::Points;
use super::{Invalid, Validator, required_text};

/// Most items one redemption may take.
pub const REDEMPTION_QUANTITY_MAX: i64 = 100;
/// Longest a level may keep points before they expire, in months.
pub const EXPIRY_MONTHS_MAX: i32 = 120;
pub const DESCRIPTION_CHARS_MAX: usize = 2_000;
pub const NAME_CHARS_MAX: usize = 100;

string_enum! {
    RewardKind {
        Goods => "goods",
        CashBonus => "cash_bonus",
        Donation => "donation",
    }
}

string_enum! {
    /// The calendar period a per-rider limit counts in (local time, UTC+8).
    LimitPeriod {
        Day => "day",
        Week => "week",
        Month => "month",
        Year => "year",
    }
}

impl LimitPeriod {
    /// When the period containing `now` began.
    pub fn start(self, now: DateTime<Utc>) -> DateTime<Utc> {
        let local = FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
        let today = now.with_timezone(&local).date_naive();
        let first: NaiveDate = match self {
            LimitPeriod::Day => today,
            LimitPeriod::Week => today - Duration::days(i64::from(today.weekday().num_days_from_monday())),
            LimitPeriod::Month => today.with_day(1).unwrap_or(today),
            LimitPeriod::Year => today.with_ordinal(1).unwrap_or(today),
        };
        local
            .from_local_datetime(&first.and_hms_opt(0, 0, 0).expect("midnight exists"))
            .single()
            .map(|at| at.with_timezone(&Utc))
            .unwrap_or(now)
    }
}

string_enum! {
    RedemptionStatus {
        Pending => "pending",
        Fulfilled => "fulfilled",
        Cancelled => "cancelled",
        Expired => "expired",
    }
}

string_enum! {
    PoolStatus {
        Open => "open",
        Fulfilled => "fulfilled",
        Refunded => "refunded",
    }
}

string_enum! {
    PledgeStatus {
        Pending => "pending",
        Fulfilled => "fulfilled",
        Withdrawn => "withdrawn",
        Refunded => "refunded",
    }
}

/// A reward as an organizer describes it.
#[derive(Clone, Debug)]
pub struct RewardDraft {
    pub name_zh: String,
    pub name_en: String,
    pub description: String,
    pub cost: Points,
    pub kind: RewardKind,
    pub cash_value_fen: Option<i64>,
    pub stock: Option<i64>,
    pub limit: Option<(i32, LimitPeriod)>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
}

impl RewardDraft {
    pub fn validate(mut self) -> Result<RewardDraft, Invalid> {
        let mut validator = Validator::new();
        self.name_zh = validator.take(required_text("name_zh", &self.name_zh, NAME_CHARS_MAX)).unwrap_or_default();
        self.name_en = validator.take(required_text("name_en", &self.name_en, NAME_CHARS_MAX)).unwrap_or_default();
        if self.description.chars().count() > DESCRIPTION_CHARS_MAX {
            validator.check(false, "description", "must be at most 2000 characters");
        }
        self.description = self.description.trim().to_owned();
        validator.check(self.cost.is_positive(), "cost", "must be greater than zero");
        match (self.kind, self.cash_value_fen) {
            (RewardKind::CashBonus, None) => validator.check(false, "cash_value_yuan", "is required for a cash bonus"),
            (RewardKind::CashBonus, Some(fen)) => {
                validator.check(fen > 0, "cash_value_yuan", "must be greater than zero")
            }
            (_, Some(_)) => validator.check(false, "cash_value_yuan", "applies to cash bonuses only"),
            (_, None) => {}
        }
        if let Some(stock) = self.stock {
            validator.check(stock >= 0, "stock", "must not be negative");
        }
        if let Some((count, _)) = self.limit {
            validator.check(count > 0, "limit.count", "must be at least 1");
        }
        if let (Some(from), Some(until)) = (self.valid_from, self.valid_until) {
            validator.check(from < until, "valid_until", "must be after valid_from");
        }
        validator.finish()?;
        Ok(self)
    }
}

/// Why a rider cannot redeem a reward right now (besides points and stock, which the ledger and
/// the stock counter decide under their locks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unavailable {
    Inactive,
    NotYetValid(DateTime<Utc>),
    NoLongerValid(DateTime<Utc>),
}

pub fn availability(
    active: bool,
    valid_from: Option<DateTime<Utc>>,
    valid_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), Unavailable> {
    if !active {
        return Err(Unavailable::Inactive);
    }
    if let Some(from) = valid_from
        && now < from
    {
        return Err(Unavailable::NotYetValid(from));
    }
    if let Some(until) = valid_until
        && now >= until
    {
        return Err(Unavailable::NoLongerValid(until));
    }
    Ok(())
}

/// A six-digit code the rider shows when collecting.
pub fn pickup_code(random: u32) -> String {
    format!("{:06}", random % 1_000_000)
}

/// The points a redemption holds: cost × quantity.
pub fn redemption_cost(cost: Points, quantity: i64) -> Result<Points, Invalid> {
    if !(1..=REDEMPTION_QUANTITY_MAX).contains(&quantity) {
        return Err(Invalid::one("quantity", format!("must be between 1 and {REDEMPTION_QUANTITY_MAX}")));
    }
    cost.checked_mul(quantity).ok_or_else(|| Invalid::one("quantity", "is too large"))
}

/// Most items one pool may buy.
pub const POOL_QUANTITY_MAX: i64 = 100_000;

/// The points a pool must gather to buy `quantity` of a reward.
pub fn pool_goal(cost: Points, quantity: i64) -> Result<Points, Invalid> {
    if !(1..=POOL_QUANTITY_MAX).contains(&quantity) {
        return Err(Invalid::one("quantity", format!("must be between 1 and {POOL_QUANTITY_MAX}")));
    }
    cost.checked_mul(quantity).ok_or_else(|| Invalid::one("quantity", "is too large"))
}

/// Checks a pledge against what the pool still needs: a pledge may complete the goal, not pass it.
pub fn check_pledge(amount: Points, goal: Points, pledged: Points) -> Result<(), Invalid> {
    if !amount.is_positive() {
        return Err(Invalid::one("amount", "must be greater than zero"));
    }
    let remaining = goal.checked_sub(pledged).unwrap_or(Points::ZERO);
    if amount > remaining {
        return Err(Invalid::one("amount", format!("the pool needs only {remaining} more points")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_start_at_local_midnight() {
        // 2026-11-22 is a Sunday; 01:00 in Beijing is 17:00 UTC the day before.
        let now: DateTime<Utc> = "2026-11-21T17:00:00Z".parse().unwrap();
        assert_eq!(LimitPeriod::Day.start(now), "2026-11-21T16:00:00Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(LimitPeriod::Week.start(now), "2026-11-15T16:00:00Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(LimitPeriod::Month.start(now), "2026-10-31T16:00:00Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(LimitPeriod::Year.start(now), "2025-12-31T16:00:00Z".parse::<DateTime<Utc>>().unwrap());
    }

    #[test]
    fn pledges_may_complete_but_not_pass_the_goal() {
        let points = Points::from_minor;
        assert!(check_pledge(points(500), points(1000), points(500)).is_ok());
        assert!(check_pledge(points(501), points(1000), points(500)).is_err());
        assert!(check_pledge(points(0), points(1000), points(0)).is_err());
    }

    #[test]
    fn rewards_are_validated() {
        let draft = RewardDraft {
            name_zh: "奶茶".into(),
            name_en: " ".into(),
            description: String::new(),
            cost: Points::ZERO,
            kind: RewardKind::CashBonus,
            cash_value_fen: None,
            stock: Some(-1),
            limit: Some((0, LimitPeriod::Month)),
            valid_from: None,
            valid_until: None,
        };
        let Invalid(errors) = draft.validate().unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|error| error.field.as_str()).collect();
        assert_eq!(fields, ["name_en", "cost", "cash_value_yuan", "stock", "limit.count"]);
        assert_eq!(redemption_cost(Points::from_minor(150), 3).unwrap(), Points::from_minor(450));
        assert!(redemption_cost(Points::from_minor(150), 0).is_err());
    }
}
