//! Reports for organizers: hours and points by category, squad, month or rider; CSV for spreadsheets;
//! a monthly leaderboard per level.

use std::collections::{BTreeMap, HashMap};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::csv::{self, Csv};
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{AnyPerson, Caller, Json, Query, StaffOrAuditor};
use super::views::time_window;
use crate::domain::people::{Role, within};
use crate::domain::points::Points;
use crate::domain::volunteering::{local_day, minutes_to_hours};
use crate::store::volunteering::{self as store, ServedLog};

const PROBLEMS: &str = "application/problem+json";
/// Riders on a leaderboard.
const LEADERBOARD_SIZE: usize = 20;

#[derive(Clone, Copy, Debug, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Category,
    Squad,
    Month,
    Rider,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VolunteeringQuery {
    /// The level whose subtree is counted (default: the caller's scope; admins and auditors must name one).
    pub level_id: Option<i64>,
    /// Service at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Service before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Default: category.
    pub group_by: Option<GroupBy>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReportRow {
    /// Category code, squad id (or "none"), month (YYYY-MM, local time) or rider id.
    pub key: String,
    /// The category's name in the answer's language, the squad's or rider's name, or the month.
    pub label: String,
    pub hours: Points,
    pub points: Points,
    /// Approved logs counted.
    pub logs: u64,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct VolunteeringReport {
    pub level_id: i64,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub group_by: GroupBy,
    pub rows: Vec<ReportRow>,
    pub total: ReportRow,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LeaderboardQuery {
    pub level_id: i64,
    /// YYYY-MM, in local time (UTC+8). Default: the current month.
    pub month: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct LeaderboardRow {
    pub rank: u32,
    pub rider_id: i64,
    pub display_name: String,
    pub points: Points,
    pub hours: Points,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Leaderboard {
    pub level_id: i64,
    pub month: String,
    /// The top riders by points awarded for service in the month.
    pub riders: Vec<LeaderboardRow>,
}

#[derive(Default)]
struct Totals {
    minutes: i64,
    points: i64,
    logs: u64,
}

impl Totals {
    fn add(&mut self, log: &ServedLog) {
        self.minutes += log.minutes;
        self.points += log.points;
        self.logs += 1;
    }

    fn row(&self, key: String, label: String) -> ReportRow {
        ReportRow {
            key,
            label,
            hours: minutes_to_hours(self.minutes),
            points: Points::from_minor(self.points),
            logs: self.logs,
        }
    }
}

fn month_of(at: DateTime<Utc>) -> String {
    local_day(at).format("%Y-%m").to_string()
}

/// Hours and points of approved volunteering in a level's subtree, grouped. `Accept: text/csv`
/// answers the same as CSV (UTF-8 with a byte-order mark, for spreadsheet programs).
#[utoipa::path(get, path = "/api/v1/reports/volunteering", tag = "reports",
    security(("bearer" = [])),
    params(VolunteeringQuery),
    responses((status = 200, content((VolunteeringReport = "application/json"), (String = "text/csv"))),
              (status = 401, body = Problem, content_type = PROBLEMS), (status = 403, body = Problem, content_type = PROBLEMS),
              (status = 422, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor"]))))]
pub async fn volunteering_report(
    State(state): State<AppState>,
    caller: Caller<StaffOrAuditor>,
    headers: HeaderMap,
    Query(query): Query<VolunteeringQuery>,
) -> ApiResult<Response> {
    let level_id = report_level(&caller, query.level_id)?;
    let path = state.require_level(&caller, level_id).await?;
    let group_by = query.group_by.unwrap_or(GroupBy::Category);
    let reader = state.store.reader();
    let logs = store::served_logs(reader, &path, query.from, query.to).await?;
    let mut groups: BTreeMap<String, Totals> = BTreeMap::new();
    let mut total = Totals::default();
    for log in &logs {
        let key = match group_by {
            GroupBy::Category => log.category_code.clone(),
            GroupBy::Squad => log.squad_id.map_or_else(|| "none".to_owned(), |id| id.to_string()),
            GroupBy::Month => month_of(log.served_at),
            GroupBy::Rider => log.rider_id.to_string(),
        };
        groups.entry(key).or_default().add(log);
        total.add(log);
    }
    let labels: HashMap<String, String> = match group_by {
        GroupBy::Category => store::categories(reader)
            .await?
            .into_iter()
            .map(|category| {
                let name = caller.language.pick(&category.name_zh, &category.name_en).to_owned();
                (category.code, name)
            })
            .collect(),
        GroupBy::Squad => store::squads(reader, Some(&path))
            .await?
            .into_iter()
            .map(|squad| (squad.id.to_string(), squad.name))
            .collect(),
        GroupBy::Rider => logs.iter().map(|log| (log.rider_id.to_string(), log.rider_name.clone())).collect(),
        GroupBy::Month => HashMap::new(),
    };
    let rows: Vec<ReportRow> = groups
        .iter()
        .map(|(key, totals)| {
            let label = labels
                .get(key)
                .cloned()
                .unwrap_or_else(|| if key == "none" { "no squad".to_owned() } else { key.clone() });
            totals.row(key.clone(), label)
        })
        .collect();
    let report = VolunteeringReport {
        level_id,
        from: query.from,
        to: query.to,
        group_by,
        rows,
        total: total.row("total".into(), "total".into()),
    };
    if csv::wanted(&headers) {
        return Ok(csv_response(&report));
    }
    Ok(Json(report).into_response())
}

/// The level a report covers: the one named, or an organizer's own; admins and auditors name one.
fn report_level(caller: &Caller<StaffOrAuditor>, level_id: Option<i64>) -> ApiResult<i64> {
    match (level_id, caller.role) {
        (Some(level_id), _) => Ok(level_id),
        (None, Role::Organizer) => caller.level_id.ok_or_else(ApiError::forbidden),
        (None, _) => Err(ApiError::invalid("level_id", "name the level to report on")),
    }
}

fn csv_response(report: &VolunteeringReport) -> Response {
    let mut csv = Csv::new(&["key", "label", "hours", "points", "logs"]);
    for row in report.rows.iter().chain([&report.total]) {
        csv.row([
            row.key.clone(),
            row.label.clone(),
            row.hours.to_string(),
            row.points.to_string(),
            row.logs.to_string(),
        ]);
    }
    csv.into_response("volunteering-report.csv")
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AwardQuery {
    /// The level whose subtree is listed (default: the organizer's level; admins and auditors must name one).
    pub level_id: Option<i64>,
    /// Service at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Service before this instant.
    pub to: Option<DateTime<Utc>>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AwardLine {
    pub log_id: i64,
    pub rider_id: i64,
    pub rider_name: String,
    pub category: String,
    pub activity_id: i64,
    pub served_at: DateTime<Utc>,
    pub hours: Points,
    pub points: Points,
    /// The award's journal entry.
    pub entry_id: Option<i64>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AwardList {
    pub level_id: i64,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// In the order served.
    pub awards: Vec<AwardLine>,
    pub total_hours: Points,
    pub total_points: Points,
}

/// Every approved award of a level's subtree for a period, one line per rider and activity: the
/// list a union pays out or files. `Accept: text/csv` answers it as CSV.
#[utoipa::path(get, path = "/api/v1/reports/awards", tag = "reports",
    security(("bearer" = [])),
    params(AwardQuery),
    responses((status = 200, content((AwardList = "application/json"), (String = "text/csv"))),
              (status = 401, body = Problem, content_type = PROBLEMS), (status = 403, body = Problem, content_type = PROBLEMS),
              (status = 422, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor"]))))]
pub async fn award_list(
    State(state): State<AppState>,
    caller: Caller<StaffOrAuditor>,
    headers: HeaderMap,
    Query(query): Query<AwardQuery>,
) -> ApiResult<Response> {
    let level_id = report_level(&caller, query.level_id)?;
    time_window(query.from, query.to)?;
    let path = state.require_level(&caller, level_id).await?;
    let mut logs = store::served_logs(state.store.reader(), &path, query.from, query.to).await?;
    logs.sort_by_key(|log| (log.served_at, log.log_id));
    let minutes = logs.iter().map(|log| log.minutes).sum();
    let awards: Vec<AwardLine> = logs
        .into_iter()
        .map(|log| AwardLine {
            log_id: log.log_id,
            rider_id: log.rider_id,
            rider_name: log.rider_name,
            category: log.category_code,
            activity_id: log.activity_id,
            served_at: log.served_at,
            hours: minutes_to_hours(log.minutes),
            points: Points::from_minor(log.points),
            entry_id: log.award_entry_id,
        })
        .collect();
    let total_points = Points::from_minor(awards.iter().map(|award| award.points.minor()).sum());
    let total_hours = minutes_to_hours(minutes);
    if csv::wanted(&headers) {
        let mut table = Csv::new(&[
            "log_id",
            "rider_id",
            "rider_name",
            "category",
            "activity_id",
            "served_at",
            "hours",
            "points",
            "entry_id",
        ]);
        for award in &awards {
            table.row([
                award.log_id.to_string(),
                award.rider_id.to_string(),
                award.rider_name.clone(),
                award.category.clone(),
                award.activity_id.to_string(),
                award.served_at.to_rfc3339(),
                award.hours.to_string(),
                award.points.to_string(),
                award.entry_id.map(|id| id.to_string()).unwrap_or_default(),
            ]);
        }
        table.row([
            "total".into(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            total_hours.to_string(),
            total_points.to_string(),
            String::new(),
        ]);
        return Ok(table.into_response("awards.csv"));
    }
    Ok(Json(AwardList { level_id, from: query.from, to: query.to, awards, total_hours, total_points }).into_response())
}

/// The month's top riders of a level's subtree by points. Riders may read the boards of their own
/// level and the levels above it.
#[utoipa::path(get, path = "/api/v1/reports/leaderboard", tag = "reports",
    security(("bearer" = [])),
    params(LeaderboardQuery),
    responses((status = 200, body = Leaderboard), (status = 401, body = Problem, content_type = PROBLEMS),
              (status = 403, body = Problem, content_type = PROBLEMS), (status = 422, body = Problem, content_type = PROBLEMS)),
    extensions(("x-roles" = json!(["admin", "organizer", "auditor", "rider"]))))]
pub async fn leaderboard(
    State(state): State<AppState>,
    caller: Caller<AnyPerson>,
    Query(query): Query<LeaderboardQuery>,
) -> ApiResult<Json<Leaderboard>> {
    let path = if caller.role == Role::Rider {
        let rider_path = state.level_path(caller.level_id.unwrap_or_default()).await?.unwrap_or_default();
        match state.level_path(query.level_id).await? {
            Some(path) if within(&path, &rider_path) => path,
            _ => return Err(ApiError::forbidden()),
        }
    } else {
        state.require_level(&caller, query.level_id).await?
    };
    let month = query.month.clone().unwrap_or_else(|| month_of(state.store.now()));
    let first_day = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .map_err(|_| ApiError::invalid("month", "must be a month such as 2026-11"))?;
    let next_month = first_day
        .checked_add_months(chrono::Months::new(1))
        .ok_or_else(|| ApiError::invalid("month", "is out of range"))?;
    let local = chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
    let start = |day: NaiveDate| {
        local
            .from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight exists"))
            .single()
            .map(|at| at.with_timezone(&Utc))
    };
    let logs = store::served_logs(state.store.reader(), &path, start(first_day), start(next_month)).await?;
    let mut per_rider: HashMap<i64, (String, Totals)> = HashMap::new();
    for log in &logs {
        per_rider.entry(log.rider_id).or_insert_with(|| (log.rider_name.clone(), Totals::default())).1.add(log);
    }
    let mut ranked: Vec<(i64, String, Totals)> =
        per_rider.into_iter().map(|(id, (name, totals))| (id, name, totals)).collect();
    ranked.sort_by(|a, b| b.2.points.cmp(&a.2.points).then(b.2.minutes.cmp(&a.2.minutes)).then(a.0.cmp(&b.0)));
    let riders = ranked
        .into_iter()
        .take(LEADERBOARD_SIZE)
        .enumerate()
        .map(|(index, (rider_id, display_name, totals))| LeaderboardRow {
            rank: index as u32 + 1,
            rider_id,
            display_name,
            points: Points::from_minor(totals.points),
            hours: minutes_to_hours(totals.minutes),
        })
        .collect();
    Ok(Json(Leaderboard { level_id: query.level_id, month, riders }))
}
