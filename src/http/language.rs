//! Chinese or English texts, following `Accept-Language`, else the caller's level.
//!
//! The language of an answer is the client's preference when `Accept-Language` names Chinese or
//! English (`zh`, `zh-CN`, `en-US`, …, by weight); otherwise the default language of the caller's
//! level (a level's `language`, inherited downwards, carried in the access token as `lang`);
//! otherwise English. Handlers read it from `Caller::language` to pick names kept in both
//! languages (categories, rewards). Problems are rewritten here: a problem's `type` and fields stay
//! the same in every language (clients branch on them), while its `title`, `detail` and each
//! field's `message` are given in Chinese when the answer's language is Chinese, with
//! `Content-Language` saying which.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use super::error::PROBLEM_JSON;
use super::extract::verified_claims;
use super::translate;
pub use crate::domain::people::Language;

/// The client's preference: the highest-weighted of Chinese and English in `Accept-Language`, or
/// `None` when it names neither (or is absent).
pub fn preferred(accept_language: Option<&str>) -> Option<Language> {
    let mut best: Option<(Language, u16)> = None;
    for item in accept_language?.split(',') {
        let mut parts = item.trim().split(';');
        let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let weight =
            parts.find_map(|parameter| parameter.trim().strip_prefix("q=")).map_or(1000, |q| parse_weight(q.trim()));
        let language = if tag == "zh" || tag.starts_with("zh-") {
            Language::Chinese
        } else if tag == "en" || tag.starts_with("en-") {
            Language::English
        } else {
            continue;
        };
        if weight > 0 && best.is_none_or(|(_, best_weight)| weight > best_weight) {
            best = Some((language, weight));
        }
    }
    best.map(|(language, _)| language)
}

/// The language of the answer to a request: see the module's documentation.
/// The token is verified here whenever there is one, and the handler's `Caller` reuses the result.
fn language_of(state: &AppState, parts: &mut Parts) -> Language {
    let accept_language = parts.headers.get(header::ACCEPT_LANGUAGE).and_then(|value| value.to_str().ok());
    let chosen = preferred(accept_language);
    let claims = verified_claims(state, parts);
    chosen.or_else(|| claims?.ok()?.lang).unwrap_or_default()
}

/// A q-value in thousandths ("0.8" → 800), without floating point.
fn parse_weight(q: &str) -> u16 {
    let (whole, fraction) = q.split_once('.').unwrap_or((q, ""));
    let whole: u16 = whole.parse().unwrap_or(0).min(1);
    let digits: String = fraction.chars().take(3).collect();
    let fraction: u16 = format!("{digits:0<3}").parse().unwrap_or(0);
    (whole * 1000 + fraction).min(1000)
}

/// The Chinese title of a problem type, or of its HTTP status.
pub fn chinese_title(slug: &str, status: StatusCode) -> &'static str {
    match slug {
        "validation-error" => "输入无效",
        "insufficient-points" => "积分不足",
        "unbalanced-entry" => "分录借贷不平",
        "unknown-account" => "账户不存在",
        "amount-overflow" => "金额过大",
        "hold-amount-exceeded" => "超过冻结金额",
        "hold-not-pending" => "冻结已处理",
        "entry-already-reversed" => "分录已冲正",
        "idempotency-key-reused" => "幂等键已用于其他请求",
        "invalid-transition" => "状态无法这样变更",
        "already-registered" => "已经注册",
        "too-many-attempts" => "尝试次数过多，请稍后再试",
        "malformed-json" | "malformed-body" => "请求体格式错误",
        "invalid-path" => "路径参数无效",
        "unsupported-media-type" => "不支持的媒体类型",
        "payload-too-large" => "请求体过大",
        "reward-unavailable" => "奖品暂不可兑换",
        "out-of-stock" => "奖品已兑完",
        "redemption-limit-reached" => "已达兑换上限",
        "redemption-not-pending" => "兑换已处理",
        "pool-closed" => "众筹已关闭",
        "pledge-not-pending" => "认捐已处理",
        "already-applied" => "已有入会申请",
        "activity-not-open" => "活动未在进行",
        "not-checked-in" => "尚未签到",
        "overlapping-hours" => "工时重叠",
        "daily-cap-exceeded" => "超过每日工时上限",
        "outside-activity" => "不在活动时间内",
        "evidence-required" => "需要证明材料",
        "unknown-rider" => "没有这名骑手",
        "invalid-hours" => "工时无效",
        "conflict" => "与当前状态冲突",
        "unauthorized" => "需要登录",
        "forbidden" => "无权访问",
        "not-found" => "未找到",
        "method-not-allowed" => "不支持该请求方法",
        "unavailable" => "服务暂时不可用",
        "internal-error" => "内部错误",
        _ => match status.as_u16() {
            400 => "请求有误",
            401 => "需要登录",
            403 => "无权访问",
            404 => "未找到",
            409 => "与当前状态冲突",
            413 => "请求体过大",
            415 => "不支持的媒体类型",
            422 => "输入无效",
            429 => "请求过多",
            503 => "服务暂时不可用",
            _ => "错误",
        },
    }
}

/// The Chinese `detail` of a problem: from its own fields where it has them, else the wording of
/// its English detail, else a sentence for its kind; `None` keeps the English.
pub fn chinese_detail(slug: &str, problem: &serde_json::Value) -> Option<String> {
    let text = |field: &str| problem[field].as_str().map(str::to_owned);
    let english = problem["detail"].as_str().unwrap_or("");
    let errors = problem["errors"].as_array().map_or(&[][..], Vec::as_slice);
    match slug {
        "insufficient-points" => {
            return Some(format!("积分不足：可用 {}，需要 {}", text("available")?, text("requested")?));
        }
        _ if errors.len() > 1 => {
            return Some(format!("有 {} 项输入无效，详见 errors（每项写明字段和原因）", errors.len()));
        }
        _ if errors.len() == 1 => {
            let field = errors[0]["field"].as_str()?;
            let message = errors[0]["message"].as_str()?;
            return translate::chinese(message).map(|message| format!("{field}：{message}"));
        }
        _ => {}
    }
    translate::chinese(english).or_else(|| {
        Some(
            match slug {
                "too-many-attempts" => "尝试次数过多，请按 Retry-After 所示的秒数之后再试",
                "unauthorized" => "请先登录，或登录已过期，请重新登录",
                "forbidden" => "您的角色或所属层级无权进行此操作",
                "not-found" => "没有找到所请求的内容",
                "unavailable" => "服务暂时无法及时答复，请稍后再试",
                "internal-error" => "服务未能完成请求，没有做任何更改，请稍后再试",
                _ => return None,
            }
            .to_owned(),
        )
    })
}

/// Largest problem body rewritten (problems are small; anything else passes untouched).
const PROBLEM_BYTES_MAX: usize = 256 * 1024;

/// Finds the answer's language for the handlers (a request extension, read by `Caller`), and gives
/// problems that language, saying which (`Content-Language`, `Vary`).
pub async fn localize(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let language = language_of(&state, &mut parts);
    parts.extensions.insert(language);
    let response = next.run(Request::from_parts(parts, body)).await;
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if !is_problem {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    parts.headers.insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(language.tag()));
    parts.headers.append(header::VARY, HeaderValue::from_static("accept-language"));
    if language == Language::English {
        return Response::from_parts(parts, body);
    }
    let Ok(bytes) = to_bytes(body, PROBLEM_BYTES_MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let body = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(mut problem) => {
            let slug = problem["type"].as_str().and_then(|kind| kind.strip_prefix("/problems/")).unwrap_or("");
            let slug = slug.to_owned();
            problem["title"] = chinese_title(&slug, parts.status).into();
            if let Some(detail) = chinese_detail(&slug, &problem) {
                problem["detail"] = detail.into();
            }
            if let Some(errors) = problem.get_mut("errors").and_then(serde_json::Value::as_array_mut) {
                for error in errors {
                    if let Some(message) = error["message"].as_str().and_then(translate::chinese) {
                        error["message"] = message.into();
                    }
                }
            }
            parts.headers.remove(header::CONTENT_LENGTH);
            Body::from(problem.to_string())
        }
        Err(_) => Body::from(bytes),
    };
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preferred_language_follows_the_weights() {
        assert_eq!(preferred(None), None);
        assert_eq!(preferred(Some("zh-CN")), Some(Language::Chinese));
        assert_eq!(preferred(Some("zh-CN,zh;q=0.9,en;q=0.8")), Some(Language::Chinese));
        assert_eq!(preferred(Some("en-US,en;q=0.9,zh-CN;q=0.8")), Some(Language::English));
        assert_eq!(preferred(Some("fr, zh;q=0.5")), Some(Language::Chinese));
        assert_eq!(preferred(Some("de")), None, "neither: the level's default decides");
        assert_eq!(preferred(Some("*")), None);
        assert_eq!(preferred(Some("zh;q=0, en;q=0.1")), Some(Language::English), "q=0 means not acceptable");
        assert_eq!(parse_weight("0.85"), 850);
        assert_eq!(parse_weight("1"), 1000);
    }

    #[test]
    fn details_riders_meet_most_are_told_in_chinese_from_the_problems_own_fields() {
        let problem = serde_json::json!({"available": "5.00", "requested": "15.00"});
        assert_eq!(chinese_detail("insufficient-points", &problem).unwrap(), "积分不足：可用 5.00，需要 15.00");
        assert_eq!(chinese_detail("insufficient-points", &serde_json::json!({})), None, "fields missing: English");
        assert_eq!(chinese_detail("pool-closed", &problem), None, "no detail the table knows: English");
        let closed = serde_json::json!({"detail": "the pool is closed: it was fulfilled or its deadline has passed"});
        assert_eq!(chinese_detail("pool-closed", &closed).unwrap(), "众筹已关闭：已经达成或已过截止时间");
        let one = serde_json::json!({"errors": [{"field": "name", "message": "must not be empty"}]});
        assert_eq!(chinese_detail("validation-error", &one).unwrap(), "name：不能为空");
        assert_eq!(chinese_title("pool-closed", StatusCode::CONFLICT), "众筹已关闭");
        assert_eq!(chinese_title("something-new", StatusCode::CONFLICT), "与当前状态冲突");
    }
}
