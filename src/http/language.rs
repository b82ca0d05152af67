//! Chinese or English problem titles, following `Accept-Language`.
//!
//! A problem's `type` and fields stay the same in every language (clients branch on them); its
//! `title` — and the `detail` of the problems riders meet most (insufficient points, invalid input,
//! sign-in, refusals) — is given in Chinese when the client prefers Chinese (`Accept-Language: zh`,
//! `zh-CN`, …) and in English otherwise, with `Content-Language` saying which. Other details stay
//! in English for now. Names that have both forms in
//! the data (categories, rewards) are always answered with both, `name_zh` and `name_en`.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::error::PROBLEM_JSON;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    Chinese,
    English,
}

impl Language {
    /// The client's preference: the highest-weighted of Chinese and English in `Accept-Language`.
    pub fn preferred(accept_language: Option<&str>) -> Language {
        let Some(header) = accept_language else { return Language::English };
        let mut best = (Language::English, 0u16);
        for item in header.split(',') {
            let mut parts = item.trim().split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let weight = parts
                .find_map(|parameter| parameter.trim().strip_prefix("q="))
                .map_or(1000, |q| parse_weight(q.trim()));
            let language = if tag == "zh" || tag.starts_with("zh-") {
                Language::Chinese
            } else if tag == "en" || tag.starts_with("en-") || tag == "*" {
                Language::English
            } else {
                continue;
            };
            if weight > best.1 {
                best = (language, weight);
            }
        }
        best.0
    }

    fn tag(self) -> &'static str {
        match self {
            Language::Chinese => "zh-CN",
            Language::English => "en",
        }
    }
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

/// A Chinese `detail` for the problems riders meet most, built from the problem's own fields;
/// `None` keeps the English detail.
pub fn chinese_detail(slug: &str, problem: &serde_json::Value) -> Option<String> {
    let text = |field: &str| problem[field].as_str().map(str::to_owned);
    Some(match slug {
        "insufficient-points" => {
            format!("积分不足：可用 {}，需要 {}", text("available")?, text("requested")?)
        }
        "validation-error" => {
            let count = problem["errors"].as_array().map_or(0, Vec::len);
            format!("有 {count} 项输入无效，详见 errors（每项写明字段和原因）")
        }
        "too-many-attempts" => "尝试次数过多，请按 Retry-After 所示的秒数之后再试".to_owned(),
        "unauthorized" => "请先登录，或登录已过期，请重新登录".to_owned(),
        "forbidden" => "您的角色或所属层级无权进行此操作".to_owned(),
        "not-found" => "没有找到所请求的内容".to_owned(),
        "idempotency-key-reused" => "这个 Idempotency-Key 已用于另一个请求".to_owned(),
        "payload-too-large" => "请求体过大".to_owned(),
        "unavailable" => "服务暂时无法及时答复，请稍后再试".to_owned(),
        "internal-error" => "服务未能完成请求，没有做任何更改，请稍后再试".to_owned(),
        _ => return None,
    })
}

/// Largest problem body rewritten (problems are small; anything else passes untouched).
const PROBLEM_BYTES_MAX: usize = 256 * 1024;

/// Gives problems the client's language and says which (`Content-Language`, `Vary`).
pub async fn localize(request: Request, next: Next) -> Response {
    let language =
        Language::preferred(request.headers().get(header::ACCEPT_LANGUAGE).and_then(|value| value.to_str().ok()));
    let response = next.run(request).await;
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
        assert_eq!(Language::preferred(None), Language::English);
        assert_eq!(Language::preferred(Some("zh-CN")), Language::Chinese);
        assert_eq!(Language::preferred(Some("zh-CN,zh;q=0.9,en;q=0.8")), Language::Chinese);
        assert_eq!(Language::preferred(Some("en-US,en;q=0.9,zh-CN;q=0.8")), Language::English);
        assert_eq!(Language::preferred(Some("fr, zh;q=0.5")), Language::Chinese);
        assert_eq!(Language::preferred(Some("de")), Language::English);
        assert_eq!(parse_weight("0.85"), 850);
        assert_eq!(parse_weight("1"), 1000);
    }

    #[test]
    fn details_riders_meet_most_are_told_in_chinese_from_the_problems_own_fields() {
        let problem = serde_json::json!({"available": "5.00", "requested": "15.00"});
        assert_eq!(chinese_detail("insufficient-points", &problem).unwrap(), "积分不足：可用 5.00，需要 15.00");
        assert_eq!(chinese_detail("insufficient-points", &serde_json::json!({})), None, "fields missing: English");
        assert_eq!(chinese_detail("pool-closed", &problem), None);
        assert_eq!(chinese_title("pool-closed", StatusCode::CONFLICT), "与当前状态冲突");
    }
}
