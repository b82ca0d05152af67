//! Volunteering: categories' point rules, activities, hour logs and hazard reports.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta, Utc};

use super::ledger::string_enum;
use super::points::Points;
use super::{FieldError, Invalid, Validator};

/// Most rows one hour-logging request may carry.
pub const HOUR_ROWS_MAX: usize = 1_000;
/// Most riders one squad request may add.
pub const SQUAD_MEMBERS_PER_REQUEST_MAX: usize = 1_000;
/// Most evidence or photo URLs on one log or report.
pub const URLS_MAX: usize = 10;
pub const URL_CHARS_MAX: usize = 500;
pub const NOTE_CHARS_MAX: usize = 500;
pub const TITLE_CHARS_MAX: usize = 200;
/// The longest activity: a flood response may run for days, not weeks.
pub const ACTIVITY_DAYS_MAX: i64 = 31;
/// Basis points of a multiplier of ×1.
pub const MULTIPLIER_ONE_BP: i64 = 10_000;

/// Days for daily caps are the union's local days (China Standard Time, UTC+8).
pub fn local_day(at: DateTime<Utc>) -> NaiveDate {
    let offset = FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
    at.with_timezone(&offset).date_naive()
}

string_enum! {
    /// How a piece of service went: decides the bonus.
    Outcome {
        Completed => "completed",
        Commended => "commended",
        Outstanding => "outstanding",
    }
}

string_enum! {
    ActivityStatus {
        Planned => "planned",
        Open => "open",
        Closed => "closed",
        Cancelled => "cancelled",
    }
}

impl ActivityStatus {
    /// planned → open → closed; planned or open → cancelled. Nothing leaves closed or cancelled.
    pub fn can_become(self, next: ActivityStatus) -> bool {
        use ActivityStatus::*;
        matches!((self, next), (Planned, Open) | (Planned, Cancelled) | (Open, Closed) | (Open, Cancelled))
    }
}

string_enum! {
    HourStatus {
        CheckedIn => "checked_in",
        Pending => "pending",
        Approved => "approved",
        Rejected => "rejected",
        Reversed => "reversed",
    }
}

impl HourStatus {
    /// Whether the log still counts towards overlaps and daily caps.
    pub fn counts(self) -> bool {
        !matches!(self, HourStatus::Rejected | HourStatus::Reversed)
    }
}

string_enum! {
    /// Verified hours come from check-in and check-out; honor hours are logged by an organizer.
    HourSource {
        CheckIn => "check_in",
        Organizer => "organizer",
    }
}

string_enum! {
    /// A hazard report's way through the union: 派单 → 接单 → resolved → confirmed or dismissed.
    HazardStatus {
        Filed => "filed",
        Acknowledged => "acknowledged",
        Assigned => "assigned",
        Resolved => "resolved",
        Confirmed => "confirmed",
        Dismissed => "dismissed",
    }
}

impl HazardStatus {
    /// Forward one step at a time (or skipping ahead), confirmed only once resolved; dismissed
    /// from anything not yet final.
    pub fn can_become(self, next: HazardStatus) -> bool {
        use HazardStatus::*;
        let rank = |status: HazardStatus| match status {
            Filed => 0,
            Acknowledged => 1,
            Assigned => 2,
            Resolved => 3,
            Confirmed | Dismissed => 4,
        };
        match (self, next) {
            (Confirmed | Dismissed, _) => false,
            (_, Dismissed) => true,
            (Resolved, Confirmed) => true,
            (_, Confirmed) => false,
            (current, next) => rank(next) > rank(current),
        }
    }
}

/// A version of a category's point rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub version: i32,
    pub points_per_hour: Points,
    /// A fixed amount per report (hazard reports).
    pub points_per_report: Option<Points>,
    pub bonus_completed: Points,
    pub bonus_commended: Points,
    pub bonus_outstanding: Points,
    /// ×(bp / 10000) for service that starts inside the window, e.g. typhoon duty ×1.5.
    pub multiplier_bp: i64,
    pub multiplier_window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub multiplier_label: Option<String>,
    pub daily_cap_minutes: i64,
}

impl Rule {
    pub fn bonus(&self, outcome: Outcome) -> Points {
        match outcome {
            Outcome::Completed => self.bonus_completed,
            Outcome::Commended => self.bonus_commended,
            Outcome::Outstanding => self.bonus_outstanding,
        }
    }

    pub fn multiplier_bp_at(&self, served_at: DateTime<Utc>) -> i64 {
        match self.multiplier_window {
            Some((from, until)) if served_at >= from && served_at < until => self.multiplier_bp,
            _ => MULTIPLIER_ONE_BP,
        }
    }

    /// Points for `minutes` of service: hourly rate × hours × multiplier, rounded half to even to
    /// the hundredth, plus the outcome's bonus (the bonus is not multiplied).
    pub fn award_for_hours(&self, minutes: i64, outcome: Outcome, served_at: DateTime<Utc>) -> Option<Points> {
        let numerator = i128::from(self.points_per_hour.minor())
            * i128::from(minutes)
            * i128::from(self.multiplier_bp_at(served_at));
        let denominator = 60 * i128::from(MULTIPLIER_ONE_BP);
        let hourly = i64::try_from(divide_half_even(numerator, denominator)).ok()?;
        Points::from_minor(hourly).checked_add(self.bonus(outcome))
    }

    /// Checks a rule as an admin wrote it.
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut validator = Validator::new();
        validator.check(!self.points_per_hour.is_negative(), "points_per_hour", "must not be negative");
        if let Some(per_report) = self.points_per_report {
            validator.check(per_report.is_positive(), "points_per_report", "must be greater than zero");
        }
        for (field, bonus) in [
            ("bonus.completed", self.bonus_completed),
            ("bonus.commended", self.bonus_commended),
            ("bonus.outstanding", self.bonus_outstanding),
        ] {
            validator.check(!bonus.is_negative(), field, "must not be negative");
        }
        validator.check(
            (MULTIPLIER_ONE_BP / 10..=MULTIPLIER_ONE_BP * 10).contains(&self.multiplier_bp),
            "multiplier.factor",
            "must be between 0.1 and 10",
        );
        if let Some((from, until)) = self.multiplier_window {
            validator.check(from < until, "multiplier.until", "must be after `from`");
        }
        validator.check(
            (15..=24 * 60).contains(&self.daily_cap_minutes),
            "daily_cap_hours",
            "must be between 0.25 and 24",
        );
        validator.finish()
    }
}

/// Integer division rounding half to even (banker's rounding), for non-negative denominators.
fn divide_half_even(numerator: i128, denominator: i128) -> i128 {
    let quotient = numerator.div_euclid(denominator);
    let remainder = numerator.rem_euclid(denominator);
    match (2 * remainder).cmp(&denominator) {
        std::cmp::Ordering::Less => quotient,
        std::cmp::Ordering::Greater => quotient + 1,
        std::cmp::Ordering::Equal => quotient + (quotient & 1),
    }
}

/// Converts a number of hours with at most two decimals to whole minutes; refuses fractions of a minute.
pub fn hours_to_minutes(hours: Points) -> Option<i64> {
    let hundredths = hours.minor();
    if hundredths <= 0 || (hundredths * 60) % 100 != 0 {
        return None;
    }
    Some(hundredths * 60 / 100)
}

/// Minutes as hours, exact to the hundredth when it is exact (e.g. 90 → 1.50).
pub fn minutes_to_hours(minutes: i64) -> Points {
    Points::from_minor(i64::try_from(divide_half_even(i128::from(minutes) * 100, 60)).unwrap_or(i64::MAX))
}

/// Whole minutes between two instants (seconds are dropped).
pub fn minutes_between(started_at: DateTime<Utc>, ended_at: DateTime<Utc>) -> i64 {
    (ended_at - started_at).num_minutes()
}

/// A URL of evidence or a photo: http(s), of sensible length.
pub fn urls(field: &str, urls: &[String]) -> Result<Vec<String>, Invalid> {
    let mut validator = Validator::new();
    validator.check(urls.len() <= URLS_MAX, field, &format!("must hold at most {URLS_MAX} URLs"));
    for (index, url) in urls.iter().enumerate() {
        let url = url.trim();
        let valid = (url.starts_with("https://") || url.starts_with("http://"))
            && url.len() > "https://".len()
            && url.len() <= URL_CHARS_MAX
            && !url.chars().any(char::is_whitespace);
        if !valid {
            validator
                .push(FieldError::new(format!("{field}[{index}]"), "must be an http(s) URL of at most 500 characters"));
        }
    }
    validator.finish()?;
    Ok(urls.iter().map(|url| url.trim().to_owned()).collect())
}

/// The activity a batch of hours is logged into.
#[derive(Clone, Debug)]
pub struct ActivityWindow {
    pub status: ActivityStatus,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl ActivityWindow {
    pub fn length_minutes(&self) -> i64 {
        minutes_between(self.starts_at, self.ends_at)
    }
}

/// One row of hours as an organizer sent it.
#[derive(Clone, Debug)]
pub struct HourRow {
    pub rider_id: i64,
    pub hours: Option<Points>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub evidence_urls: Vec<String>,
    pub note: Option<String>,
}

/// A log that already counts for a rider (for overlaps and caps).
#[derive(Clone, Debug)]
pub struct ExistingLog {
    pub rider_id: i64,
    pub activity_id: i64,
    pub category_code: String,
    pub served_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub minutes: i64,
}

/// A checked row, ready to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedHours {
    pub rider_id: i64,
    pub served_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub minutes: i64,
    pub evidence_urls: Vec<String>,
    pub note: Option<String>,
}

/// The codes of the guards on hours, also the problem types when they stand alone.
pub mod guard {
    pub const ACTIVITY_NOT_OPEN: &str = "activity-not-open";
    pub const OVERLAPPING_HOURS: &str = "overlapping-hours";
    pub const DAILY_CAP_EXCEEDED: &str = "daily-cap-exceeded";
    pub const OUTSIDE_ACTIVITY: &str = "outside-activity";
    pub const EVIDENCE_REQUIRED: &str = "evidence-required";
    pub const UNKNOWN_RIDER: &str = "unknown-rider";
    pub const INVALID_HOURS: &str = "invalid-hours";
}

/// Everything a batch check needs to know besides the rows.
pub struct HourCheck<'a> {
    pub activity_id: i64,
    pub category_code: &'a str,
    pub activity: &'a ActivityWindow,
    pub rule: &'a Rule,
    /// Whether each rider may be logged here (exists, is a rider, belongs to the activity's subtree).
    pub rider_in_scope: &'a (dyn Fn(i64) -> bool + Sync),
    /// Logs that already count for these riders around these days.
    pub existing: &'a [ExistingLog],
}

/// Checks a whole batch of organizer-logged (honor) hours: every row, and the rows against each
/// other and against what is already logged. Either every row passes, or the error names every
/// bad row.
pub fn check_hour_rows(check: &HourCheck<'_>, rows: &[HourRow]) -> Result<Vec<CheckedHours>, Invalid> {
    let mut errors = Vec::new();
    if rows.is_empty() || rows.len() > HOUR_ROWS_MAX {
        return Err(Invalid::one("rows", format!("must hold 1–{HOUR_ROWS_MAX} rows")));
    }
    if check.activity.status != ActivityStatus::Open {
        return Err(Invalid(vec![FieldError::coded(
            "activity",
            guard::ACTIVITY_NOT_OPEN,
            format!("the activity is {}; hours can be logged only while it is open", check.activity.status),
        )]));
    }
    let mut accepted: Vec<CheckedHours> = Vec::with_capacity(rows.len());
    for (index, row) in rows.iter().enumerate() {
        let field = |name: &str| format!("rows[{index}].{name}");
        let before = errors.len();
        if !(check.rider_in_scope)(row.rider_id) {
            errors.push(FieldError::coded(
                field("rider_id"),
                guard::UNKNOWN_RIDER,
                "is not a rider of this activity's level",
            ));
        }
        let (started_at, ended_at, minutes) = match (row.hours, row.started_at, row.ended_at) {
            (Some(hours), None, None) => match hours_to_minutes(hours) {
                Some(minutes) => (None, None, minutes),
                None => {
                    errors.push(FieldError::coded(
                        field("hours"),
                        guard::INVALID_HOURS,
                        "must be positive whole minutes, e.g. 1.5 or 2.25",
                    ));
                    continue;
                }
            },
            (None, Some(started_at), Some(ended_at)) if ended_at > started_at => {
                (Some(started_at), Some(ended_at), minutes_between(started_at, ended_at))
            }
            (None, Some(_), Some(_)) => {
                errors.push(FieldError::coded(field("ended_at"), guard::INVALID_HOURS, "must be after started_at"));
                continue;
            }
            _ => {
                errors.push(FieldError::coded(
                    field("hours"),
                    guard::INVALID_HOURS,
                    "give either hours, or started_at and ended_at",
                ));
                continue;
            }
        };
        if minutes <= 0 {
            errors.push(FieldError::coded(
                field("ended_at"),
                guard::INVALID_HOURS,
                "must be at least a minute after started_at",
            ));
            continue;
        }
        if row.evidence_urls.is_empty() {
            errors.push(FieldError::coded(
                field("evidence_urls"),
                guard::EVIDENCE_REQUIRED,
                "hours logged without check-in are honor hours and need evidence",
            ));
        }
        match urls(&field("evidence_urls"), &row.evidence_urls) {
            Ok(_) => {}
            Err(Invalid(url_errors)) => errors.extend(url_errors),
        }
        if row.note.as_ref().is_some_and(|note| note.chars().count() > NOTE_CHARS_MAX) {
            errors.push(FieldError::new(field("note"), format!("must be at most {NOTE_CHARS_MAX} characters")));
        }
        if let (Some(started_at), Some(ended_at)) = (started_at, ended_at)
            && (started_at < check.activity.starts_at || ended_at > check.activity.ends_at)
        {
            errors.push(FieldError::coded(
                field("started_at"),
                guard::OUTSIDE_ACTIVITY,
                "must lie within the activity's start and end",
            ));
        }
        if minutes > check.activity.length_minutes() {
            errors.push(FieldError::coded(
                field("hours"),
                guard::OUTSIDE_ACTIVITY,
                format!(
                    "honor hours cannot exceed the activity's length ({} h)",
                    minutes_to_hours(check.activity.length_minutes())
                ),
            ));
        }
        if errors.len() > before {
            continue;
        }
        let served_at = started_at.unwrap_or(check.activity.starts_at);
        let candidate = CheckedHours {
            rider_id: row.rider_id,
            served_at,
            started_at,
            ended_at,
            minutes,
            evidence_urls: row.evidence_urls.iter().map(|url| url.trim().to_owned()).collect(),
            note: row.note.as_ref().map(|note| note.trim().to_owned()).filter(|note| !note.is_empty()),
        };
        if let Some(error) = conflict(check, &accepted, &candidate, &field("rider_id")) {
            errors.push(error);
            continue;
        }
        accepted.push(candidate);
    }
    if errors.is_empty() { Ok(accepted) } else { Err(Invalid(errors)) }
}

/// Checks one more log of a rider against the batch so far and what is already logged: one log per
/// rider per activity, no overlapping times, no more than the daily cap.
pub fn conflict(
    check: &HourCheck<'_>,
    batch: &[CheckedHours],
    candidate: &CheckedHours,
    field: &str,
) -> Option<FieldError> {
    let same_rider_existing = check.existing.iter().filter(|log| log.rider_id == candidate.rider_id);
    let same_rider_batch = batch.iter().filter(|log| log.rider_id == candidate.rider_id);
    if check.existing.iter().any(|log| log.rider_id == candidate.rider_id && log.activity_id == check.activity_id)
        || batch.iter().any(|log| log.rider_id == candidate.rider_id)
    {
        return Some(FieldError::coded(
            field,
            guard::OVERLAPPING_HOURS,
            "this rider already has hours at this activity",
        ));
    }
    let interval = candidate.started_at.zip(candidate.ended_at);
    let overlaps =
        |started_at: Option<DateTime<Utc>>, ended_at: Option<DateTime<Utc>>| match (interval, started_at.zip(ended_at))
        {
            (Some((start, end)), Some((other_start, other_end))) => start < other_end && other_start < end,
            _ => false,
        };
    if same_rider_existing.clone().any(|log| overlaps(log.started_at, log.ended_at))
        || same_rider_batch.clone().any(|log| overlaps(log.started_at, log.ended_at))
    {
        return Some(FieldError::coded(field, guard::OVERLAPPING_HOURS, "overlaps other hours of this rider"));
    }
    let day = local_day(candidate.served_at);
    let logged_that_day: i64 = same_rider_existing
        .filter(|log| log.category_code == check.category_code && local_day(log.served_at) == day)
        .map(|log| log.minutes)
        .sum::<i64>()
        + same_rider_batch.filter(|log| local_day(log.served_at) == day).map(|log| log.minutes).sum::<i64>();
    if logged_that_day + candidate.minutes > check.rule.daily_cap_minutes {
        return Some(FieldError::coded(
            field,
            guard::DAILY_CAP_EXCEEDED,
            format!(
                "would bring this rider to {} h of this service on {day}; the cap is {} h a day",
                minutes_to_hours(logged_that_day + candidate.minutes),
                minutes_to_hours(check.rule.daily_cap_minutes)
            ),
        ));
    }
    None
}

/// The minutes a check-out counts: from check-in to check-out, clipped to the activity.
pub fn checked_out_minutes(activity: &ActivityWindow, checked_in_at: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    let start = checked_in_at.max(activity.starts_at);
    let end = now.min(activity.ends_at);
    if end <= start { 0 } else { minutes_between(start, end) }
}

/// The six-digit check-in code of an activity, from a random number.
pub fn checkin_code(random: u32) -> String {
    format!("{:06}", random % 1_000_000)
}

/// Validates an activity's times.
pub fn activity_times(starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> Result<(), Invalid> {
    if ends_at <= starts_at {
        return Err(Invalid::one("ends_at", "must be after starts_at"));
    }
    if ends_at - starts_at > TimeDelta::days(ACTIVITY_DAYS_MAX) {
        return Err(Invalid::one("ends_at", format!("an activity lasts at most {ACTIVITY_DAYS_MAX} days")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn rule() -> Rule {
        Rule {
            version: 1,
            points_per_hour: Points::from_minor(1000),
            points_per_report: None,
            bonus_completed: Points::ZERO,
            bonus_commended: Points::from_minor(500),
            bonus_outstanding: Points::from_minor(1000),
            multiplier_bp: 15_000,
            multiplier_window: Some((at("2026-09-14T00:00:00Z"), at("2026-09-16T00:00:00Z"))),
            multiplier_label: Some("typhoon".into()),
            daily_cap_minutes: 8 * 60,
        }
    }

    #[test]
    fn awards_follow_the_rule() {
        let rule = rule();
        let normal_day = at("2026-09-01T02:00:00Z");
        assert_eq!(rule.award_for_hours(90, Outcome::Completed, normal_day), Some(Points::from_minor(1500)));
        assert_eq!(rule.award_for_hours(90, Outcome::Commended, normal_day), Some(Points::from_minor(2000)));
        let typhoon = at("2026-09-14T10:00:00Z");
        assert_eq!(rule.award_for_hours(120, Outcome::Outstanding, typhoon), Some(Points::from_minor(3000 + 1000)));
        // 7 minutes at 10.00/h = 1.1666… → 1.17.
        assert_eq!(rule.award_for_hours(7, Outcome::Completed, normal_day), Some(Points::from_minor(117)));
    }

    #[test]
    fn half_even_rounding() {
        assert_eq!(divide_half_even(5, 10), 0);
        assert_eq!(divide_half_even(15, 10), 2);
        assert_eq!(divide_half_even(25, 10), 2);
        assert_eq!(divide_half_even(26, 10), 3);
    }

    #[test]
    fn hours_are_whole_minutes() {
        assert_eq!(hours_to_minutes(Points::from_minor(150)), Some(90));
        assert_eq!(hours_to_minutes(Points::from_minor(225)), Some(135));
        assert_eq!(hours_to_minutes(Points::from_minor(133)), None);
        assert_eq!(hours_to_minutes(Points::ZERO), None);
        assert_eq!(minutes_to_hours(90), Points::from_minor(150));
    }

    #[test]
    fn transitions() {
        assert!(ActivityStatus::Planned.can_become(ActivityStatus::Open));
        assert!(!ActivityStatus::Closed.can_become(ActivityStatus::Open));
        assert!(!ActivityStatus::Cancelled.can_become(ActivityStatus::Open));
        assert!(HazardStatus::Filed.can_become(HazardStatus::Acknowledged));
        assert!(HazardStatus::Resolved.can_become(HazardStatus::Confirmed));
        assert!(!HazardStatus::Filed.can_become(HazardStatus::Confirmed));
        assert!(!HazardStatus::Confirmed.can_become(HazardStatus::Confirmed));
        assert!(HazardStatus::Assigned.can_become(HazardStatus::Dismissed));
        assert!(!HazardStatus::Assigned.can_become(HazardStatus::Acknowledged));
    }

    fn activity() -> ActivityWindow {
        ActivityWindow {
            status: ActivityStatus::Open,
            starts_at: at("2026-09-14T00:00:00Z"),
            ends_at: at("2026-09-14T12:00:00Z"),
        }
    }

    fn row(rider_id: i64, hours: i64) -> HourRow {
        HourRow {
            rider_id,
            hours: Some(Points::from_minor(hours * 100)),
            started_at: None,
            ended_at: None,
            evidence_urls: vec!["https://photos.example/1.jpg".into()],
            note: None,
        }
    }

    #[test]
    fn a_batch_names_every_bad_row() {
        let rule = rule();
        let activity = activity();
        let existing = [ExistingLog {
            rider_id: 4,
            activity_id: 99,
            category_code: "emergency_response".into(),
            served_at: at("2026-09-14T00:00:00Z"),
            started_at: Some(at("2026-09-14T00:00:00Z")),
            ended_at: Some(at("2026-09-14T05:00:00Z")),
            minutes: 300,
        }];
        let in_scope = |rider: i64| rider != 3;
        let check = HourCheck {
            activity_id: 1,
            category_code: "emergency_response",
            activity: &activity,
            rule: &rule,
            rider_in_scope: &in_scope,
            existing: &existing,
        };
        let mut no_evidence = row(2, 1);
        no_evidence.evidence_urls.clear();
        let mut overlapping = row(4, 1);
        overlapping.hours = None;
        overlapping.started_at = Some(at("2026-09-14T04:00:00Z"));
        overlapping.ended_at = Some(at("2026-09-14T06:00:00Z"));
        let rows = [row(1, 4), no_evidence, row(3, 1), overlapping, row(5, 13), row(1, 1), row(6, 9)];
        let Invalid(errors) = check_hour_rows(&check, &rows).unwrap_err();
        let found: Vec<(&str, Option<&str>)> = errors.iter().map(|error| (error.field.as_str(), error.code)).collect();
        assert_eq!(
            found,
            [
                ("rows[1].evidence_urls", Some(guard::EVIDENCE_REQUIRED)),
                ("rows[2].rider_id", Some(guard::UNKNOWN_RIDER)),
                ("rows[3].rider_id", Some(guard::OVERLAPPING_HOURS)),
                ("rows[4].hours", Some(guard::OUTSIDE_ACTIVITY)),
                ("rows[5].rider_id", Some(guard::OVERLAPPING_HOURS)),
                ("rows[6].rider_id", Some(guard::DAILY_CAP_EXCEEDED)),
            ]
        );
        let good = check_hour_rows(&check, &[row(1, 4), row(2, 8)]).unwrap();
        assert_eq!(good.iter().map(|hours| hours.minutes).collect::<Vec<_>>(), [240, 480]);
    }

    #[test]
    fn a_closed_activity_takes_no_hours() {
        let rule = rule();
        let mut activity = activity();
        activity.status = ActivityStatus::Closed;
        let in_scope = |_: i64| true;
        let check = HourCheck {
            activity_id: 1,
            category_code: "x",
            activity: &activity,
            rule: &rule,
            rider_in_scope: &in_scope,
            existing: &[],
        };
        let Invalid(errors) = check_hour_rows(&check, &[row(1, 1)]).unwrap_err();
        assert_eq!(errors[0].code, Some(guard::ACTIVITY_NOT_OPEN));
    }

    proptest! {
        #[test]
        fn awards_grow_with_time_and_never_go_negative(minutes in 1i64..1440, more in 0i64..600, rate in 0i64..100_000) {
            let mut rule = rule();
            rule.points_per_hour = Points::from_minor(rate);
            let day = at("2026-10-01T00:00:00Z");
            let less = rule.award_for_hours(minutes, Outcome::Completed, day).unwrap();
            let greater = rule.award_for_hours(minutes + more, Outcome::Completed, day).unwrap();
            prop_assert!(!less.is_negative());
            prop_assert!(greater >= less);
        }
    }
}
