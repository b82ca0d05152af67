//! The Chinese wording of the service's English problem texts.
//!
//! Problems are written in English where they arise. For a client that prefers Chinese, each
//! `detail` and each field's `message` is rewritten from the one table below. A phrase is an
//! English template whose `{}` stand for the variable parts (ids, amounts, names, statuses, limits);
//! its Chinese form names them `{0}`, `{1}`, … in the order Chinese wants them. Variable parts that
//! are words of the API (a status such as `pending`, a kind of thing such as `hour log`) are put
//! into Chinese too. A text the table does not know stays English.

/// (English template, Chinese template).
const PHRASES: &[(&str, &str)] = &[
    // Input: shapes and limits.
    ("must not be empty", "不能为空"),
    ("must be at most {} characters", "最多 {0} 个字符"),
    ("must be at least {} characters", "至少 {0} 个字符"),
    ("must not contain control characters", "不能包含控制字符"),
    ("must be greater than zero", "必须大于零"),
    ("must not be negative", "不能为负数"),
    ("must be at least 1", "至少为 1"),
    ("must be in the future", "必须是将来的时间"),
    ("must be after `{}`", "必须晚于 {0}"),
    ("must be after {}", "必须晚于 {0}"),
    ("must differ from `from`", "不能与 from 相同"),
    ("must be between {} and {}", "必须在 {0} 到 {1} 之间"),
    ("must hold at least one transfer", "至少包含一笔转账"),
    ("must hold at most {} transfers", "最多包含 {0} 笔转账"),
    ("must hold at most {} URLs", "最多包含 {0} 个链接"),
    ("must hold 1–{} rows", "须包含 1 到 {0} 行"),
    ("must hold 1–{} distinct log ids", "须包含 1 到 {0} 个不重复的工时记录编号"),
    ("must hold 1–{} events", "须包含 1 到 {0} 个事件"),
    ("must have at most 2 decimal places", "最多两位小数"),
    ("must have at most four decimal places", "最多四位小数"),
    ("must be a decimal number such as {}", "须为十进制数，例如 {0}"),
    ("must be at most 100000000000.00", "不能超过 100000000000.00"),
    ("must be positive whole minutes, e.g. {}", "须为正的整分钟数，例如 {0}"),
    ("must be between 0.25 and 24", "须在 0.25 到 24 之间"),
    ("must be between 0.1 and 10", "须在 0.1 到 10 之间"),
    ("must be at least a minute after started_at", "须比 started_at 至少晚一分钟"),
    ("must be an http(s) URL of at most 500 characters", "须为不超过 500 个字符的 http(s) 链接"),
    ("must be 1–{} visible ASCII characters", "须为 1 到 {0} 个可见 ASCII 字符"),
    ("must be 3–50 letters, digits, '.', '_' or '-'", "须为 3 到 50 个字母、数字、“.”、“_”或“-”"),
    ("must be a mainland mobile number such as 13812341234", "须为中国大陆手机号，例如 13812341234"),
    ("must be a month such as 2026-11", "须为月份，例如 2026-11"),
    ("must be `type` or `type:id`", "须为 type 或 type:id"),
    ("must be 0 (never) or 1–120 months", "须为 0（永不过期）或 1 到 120 个月"),
    ("must be 0–720 hours", "须为 0 到 720 小时"),
    ("must be 1–90 days", "须为 1 到 90 天"),
    ("must be at least 1 and at most window_days", "须至少为 1 且不超过 window_days"),
    ("is out of range", "超出范围"),
    ("is too large", "过大"),
    ("is required", "必填"),
    ("is required for a rider", "骑手必填"),
    ("is required for organizers and riders", "组织者和骑手必填"),
    ("is required for a cash bonus", "现金奖励必填"),
    ("applies to cash bonuses only", "只适用于现金奖励"),
    ("give either reward_id and quantity, or goal_points", "请给出 reward_id 和 quantity，或者给出 goal_points"),
    ("give either hours, or started_at and ended_at", "请给出 hours，或者给出 started_at 和 ended_at"),
    ("leave it out for all partners, or name at least one", "不填表示所有合作方，否则至少写一个"),
    ("leave it out for all areas, or name at least one", "不填表示所有区域，否则至少写一个"),
    ("name at least one level the partner serves", "至少写一个该合作方服务的层级"),
    ("name the level to report on", "请写明要统计的层级"),
    ("send 1–{} riders", "请发送 1 到 {0} 名骑手"),
    ("send client_id and client_secret", "请发送 client_id 和 client_secret"),
    ("send a form or JSON body", "请以表单或 JSON 发送请求体"),
    ("only grant_type=client_credentials is supported", "只支持 grant_type=client_credentials"),
    ("the body is not valid JSON: {}", "请求体不是有效的 JSON：{0}"),
    // What the JSON and path parsers say about a value that does not fit.
    ("missing field `{}`", "缺少字段 {0}"),
    ("unknown variant `{}`, expected {}", "无法识别的取值 {0}，应为 {1}"),
    ("invalid type: {}, expected {}", "类型不对：收到 {0}，应为 {1}"),
    ("invalid value: {}, expected {}", "取值无效：{0}，应为 {1}"),
    ("premature end of input", "输入不完整"),
    ("input contains invalid characters", "含有无效字符"),
    ("input is out of range", "超出范围"),
    ("Invalid URL: Cannot parse `{}` to a `{}`", "路径参数无效：无法把 {0} 解析为 {1}"),
    (
        "send the body as JSON with `Content-Type: application/json`",
        "请以 JSON 发送请求体，并带上 `Content-Type: application/json`",
    ),
    ("send the body as application/json", "请以 application/json 发送请求体"),
    ("the request body is larger than this service accepts", "请求体超过本服务接受的大小"),
    ("the request body is too large", "请求体过大"),
    ("quantity must be 1–{}", "quantity 须为 1 到 {0}"),
    ("event_id must be 1–{} characters", "event_id 须为 1 到 {0} 个字符"),
    ("area must be at most {} characters", "area 最多 {0} 个字符"),
    ("subject must have exactly one of phone or partner_ref", "subject 须且只能有 phone 或 partner_ref 之一"),
    ("occurred_at is in the future", "occurred_at 是将来的时间"),
    ("occurred_at is more than {} days ago", "occurred_at 早于 {0} 天前"),
    ("occurred_at is not an RFC 3339 time", "occurred_at 不是 RFC 3339 时间"),
    // The union's tree and people.
    ("there is no such level", "没有这个层级"),
    ("there is no level {}", "没有层级 {0}"),
    ("no level {}", "没有层级 {0}"),
    ("a city is the root of a tree and has no parent", "市是树的根，没有上级"),
    ("only a city may be created without a parent", "只有市可以没有上级"),
    ("a {} cannot be placed under a {}", "{0}不能放在{1}之下"),
    ("must be a level below this one", "须为本层级之下的层级"),
    ("must be your own level or one above it", "须为您自己的层级或其上级"),
    ("admins and auditors belong to no level", "管理员和审计员不属于任何层级"),
    (
        "partners are machine clients: register them at /api/v1/partners",
        "合作方是机器客户端，请在 /api/v1/partners 登记",
    ),
    ("a rider's username is their phone number; leave it out", "骑手的用户名就是手机号，请不要填写"),
    ("organizers may create riders only", "组织者只能创建骑手"),
    ("that username is already taken", "这个用户名已被使用"),
    ("this phone number is already registered; sign in instead", "这个手机号已经注册，请直接登录"),
    ("no rider is registered with this phone number", "没有用这个手机号注册的骑手"),
    ("must be a rider of this level's subtree", "须为本层级及其下级的骑手"),
    ("is not a rider of this activity's level", "不是本活动所属层级的骑手"),
    // Signing in.
    ("the username or password is wrong", "用户名或密码错误"),
    ("the client id or secret is wrong", "客户端编号或密钥错误"),
    ("send an access token: `Authorization: Bearer <token>`", "请发送访问令牌：`Authorization: Bearer <token>`"),
    ("the Authorization header must use the Bearer scheme", "Authorization 请求头须使用 Bearer 方式"),
    ("the access token has expired; refresh it", "访问令牌已过期，请刷新"),
    ("the access token has expired", "访问令牌已过期"),
    ("the access token is malformed or its signature is not valid", "访问令牌格式错误或签名无效"),
    ("the refresh token is unknown or expired; sign in again", "刷新令牌无效或已过期，请重新登录"),
    (
        "this refresh token was already used; the session has been revoked. Sign in again",
        "这个刷新令牌已被使用过，会话已被撤销，请重新登录",
    ),
    ("too many failed sign-ins for {}; try again later", "{0}登录失败次数过多，请稍后再试"),
    ("too many failed sign-ins; try again later", "登录失败次数过多，请稍后再试"),
    ("this partner may send {} requests a second; slow down", "这个合作方每秒最多发送 {0} 个请求，请放慢"),
    ("your role or level does not allow this", "您的角色或所属层级无权进行此操作"),
    // Points.
    ("account {} has {} points available; {} requested", "账户 {0} 可用积分 {1}，需要 {2}"),
    ("account {} does not exist", "账户 {0} 不存在"),
    ("the postings do not balance: they sum to {}", "分录借贷不平：合计为 {0}"),
    ("an entry needs at least two postings", "一笔分录至少需要两条记账"),
    ("the hold keeps back {} points; {} cannot be posted", "冻结金额为 {0}，不能入账 {1}"),
    ("amounts overflow", "金额溢出"),
    ("the level has no budget account", "这个层级没有预算账户"),
    ("you have no points account", "您没有积分账户"),
    (
        "hold {} is already {}; only a pending hold can be posted or voided",
        "冻结 {0} 已{1}，只有待处理的冻结可以入账或作废",
    ),
    (
        "entry {} was already reversed by entry {}; an entry can be reversed once",
        "分录 {0} 已被分录 {1} 冲正，一笔分录只能冲正一次",
    ),
    ("entry {} was reversed by another request", "分录 {0} 已被另一个请求冲正"),
    ("entry {} is itself a reversal; post a new entry to correct it", "分录 {0} 本身就是冲正分录，请另记一笔来更正"),
    (
        "this Idempotency-Key was first used with a different request; use a new key for a new request",
        "这个 Idempotency-Key 已用于另一个请求，新的请求请用新的键",
    ),
    ("a request with this Idempotency-Key is still in progress", "使用这个 Idempotency-Key 的请求仍在处理中"),
    // Volunteering.
    ("there is no such category", "没有这个类别"),
    ("there is no such squad", "没有这个队伍"),
    ("the squad must belong to this level or one below it", "队伍须属于本层级或其下级"),
    ("an activity lasts at most {} days", "一个活动最长 {0} 天"),
    ("an activity that is {} cannot become {}", "{0}的活动不能变为{1}"),
    ("the activity is {}; hours can be logged only while it is open", "活动{0}，只有进行中的活动才能登记工时"),
    ("the activity changed meanwhile; read it again", "活动已被修改，请重新读取"),
    ("check-in is possible only while the activity is open and has not ended", "只有活动进行中且未结束时才能签到"),
    ("is not this activity's check-in code", "不是本活动的签到码"),
    ("check in first", "请先签到"),
    ("you have already checked out", "您已经签退"),
    ("you already have hours at this activity", "您在这个活动已有工时"),
    ("this rider already has hours at this activity", "这名骑手在这个活动已有工时"),
    ("overlaps other hours of this rider", "与这名骑手的其他工时重叠"),
    ("must lie within the activity's start and end", "须在活动的开始和结束时间之内"),
    ("hours logged without check-in are honor hours and need evidence", "未签到登记的工时须附证明"),
    ("hour log {} is not pending", "工时记录 {0} 不是待审批状态"),
    ("hour log {} is {}; only approved hours can be reversed", "工时记录 {0} {1}，只有已批准的工时可以冲正"),
    (
        "hour log {}: at this level, hours must be approved by someone other than who logged them",
        "工时记录 {0}：在这个层级，工时须由登记人以外的人审批",
    ),
    ("no hour log {}", "没有工时记录 {0}"),
    ("a report that is {} cannot become {}", "{0}的报告不能变为{1}"),
    ("the report changed meanwhile; read it again", "报告已被修改，请重新读取"),
    ("the rule was changed by another request at the same time; try again", "规则同时被另一个请求修改，请重试"),
    // Spending.
    ("{} is out of stock", "奖品已兑完：{0}"),
    ("this reward is not offered at the moment", "这个奖品目前不提供兑换"),
    ("this reward can be redeemed from {}", "这个奖品从 {0} 起可以兑换"),
    ("this reward could be redeemed until {}", "这个奖品的兑换已于 {0} 截止"),
    (
        "this reward is limited to {} per rider per {}; you have {} this {}",
        "这个奖品每名骑手每{1}限兑 {0} 件，您本{3}已兑 {2} 件",
    ),
    ("does not match this redemption's code", "与这次兑换的领取码不符"),
    ("the redemption is already {}", "这次兑换已{0}"),
    ("the redemption was closed by another request", "这次兑换已被另一个请求关闭"),
    ("the pool is closed: it was fulfilled or its deadline has passed", "众筹已关闭：已经达成或已过截止时间"),
    ("the pool needs only {} more points", "众筹只差 {0} 积分"),
    ("the pledge is already {}", "这笔认捐已{0}"),
    // Membership.
    ("you already have a membership that is {}", "您已有一份{0}的入会申请"),
    ("a membership that is {} cannot become {}", "{0}的入会申请不能变为{1}"),
    ("the membership changed meanwhile; read it again", "入会申请已被修改，请重新读取"),
    ("only a candidate not yet invited can be invited", "只能邀请尚未被邀请的候选人"),
    ("the real-name check must be done before verifying", "核实之前须完成实名检查"),
    // Whatever the resource.
    ("no such {}", "没有这个{0}"),
    ("there is no such resource; see /docs for the API", "没有这个资源，API 说明见 /docs"),
    (
        "this resource does not accept that method; the Allow header lists those it does",
        "这个资源不接受该请求方法，可用的方法见 Allow 响应头",
    ),
    (
        "the service could not answer in time; try again later (a write sent again with the same Idempotency-Key is done once)",
        "服务未能及时答复，请稍后再试（带同一 Idempotency-Key 再次发送的写请求只会执行一次）",
    ),
    (
        "the service could not complete the request; nothing was changed. Try again later",
        "服务未能完成请求，没有做任何更改，请稍后再试",
    ),
    ("the database does not answer", "数据库没有响应"),
];

/// Words of the API that appear inside texts: statuses, periods, kinds of things and of levels.
const WORDS: &[(&str, &str)] = &[
    ("pending", "待处理"),
    ("posted", "入账"),
    ("voided", "作废"),
    ("expired", "过期"),
    ("fulfilled", "兑现"),
    ("cancelled", "取消"),
    ("withdrawn", "撤回"),
    ("refunded", "退回"),
    ("approved", "批准"),
    ("rejected", "驳回"),
    ("reversed", "冲正"),
    ("planned", "计划中"),
    ("open", "进行中"),
    ("closed", "已结束"),
    ("applied", "已申请"),
    ("verified", "已核实"),
    ("lapsed", "已失效"),
    ("filed", "已提交"),
    ("acknowledged", "已受理"),
    ("assigned", "已分派"),
    ("confirmed", "已确认"),
    ("resolved", "已解决"),
    ("dismissed", "已驳回"),
    ("day", "天"),
    ("week", "周"),
    ("month", "月"),
    ("year", "年"),
    ("city", "市"),
    ("district", "区"),
    ("street", "街道"),
    ("community", "社区"),
    ("this account", "这个账号"),
    ("this address", "这个地址"),
    ("account", "账户"),
    ("budget account", "预算账户"),
    ("rider account", "骑手账户"),
    ("activity", "活动"),
    ("candidate", "候选人"),
    ("category", "类别"),
    ("category rule", "类别规则"),
    ("entry", "分录"),
    ("hazard report", "隐患报告"),
    ("hold", "冻结"),
    ("hour log", "工时记录"),
    ("level", "层级"),
    ("membership", "入会申请"),
    ("membership rule", "入会规则"),
    ("partner", "合作方"),
    ("pledge", "认捐"),
    ("pool", "众筹"),
    ("redemption", "兑换"),
    ("reward", "奖品"),
    ("squad", "队伍"),
    ("user", "用户"),
];

/// The Chinese form of an English problem text, or `None` when the table does not know it.
pub fn chinese(text: &str) -> Option<String> {
    PHRASES.iter().find_map(|(english, chinese)| {
        let parts = captures(english, text)?;
        let mut out = (*chinese).to_owned();
        for (index, part) in parts.iter().enumerate() {
            out = out.replace(&format!("{{{index}}}"), word(part));
        }
        Some(out)
    })
}

fn word(text: &str) -> &str {
    WORDS.iter().find(|(english, _)| *english == text).map_or(text, |(_, chinese)| chinese)
}

/// The variable parts of `text` if it has the shape of `template` (`{}` matches one or more
/// characters; each takes the shortest run that lets the next fixed part follow, the last runs
/// to the template's fixed end).
fn captures<'a>(template: &str, text: &'a str) -> Option<Vec<&'a str>> {
    let mut pieces = template.split("{}");
    let mut rest = text.strip_prefix(pieces.next()?)?;
    let pieces: Vec<&str> = pieces.collect();
    let mut parts = Vec::with_capacity(pieces.len());
    for (index, piece) in pieces.iter().enumerate() {
        let end =
            if index + 1 == pieces.len() { rest.strip_suffix(piece)?.len() } else { rest.get(1..)?.find(piece)? + 1 };
        if end == 0 {
            return None;
        }
        parts.push(&rest[..end]);
        rest = &rest[end + piece.len()..];
    }
    rest.is_empty().then_some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_texts_and_templates_come_out_in_chinese() {
        assert_eq!(chinese("must not be empty").unwrap(), "不能为空");
        assert_eq!(chinese("must be at most 200 characters").unwrap(), "最多 200 个字符");
        assert_eq!(
            chinese("account 7 has 5.00 points available; 15.00 requested").unwrap(),
            "账户 7 可用积分 5.00，需要 15.00"
        );
        assert_eq!(chinese("no such hour log").unwrap(), "没有这个工时记录");
        assert_eq!(chinese("a community cannot be placed under a city").unwrap(), "社区不能放在市之下");
        assert_eq!(
            chinese("this reward is limited to 2 per rider per week; you have 2 this week").unwrap(),
            "这个奖品每名骑手每周限兑 2 件，您本周已兑 2 件"
        );
        assert_eq!(chinese("the redemption is already fulfilled").unwrap(), "这次兑换已兑现");
        assert_eq!(chinese("something nobody wrote down"), None);
        assert_eq!(chinese("must not be empty, really"), None, "a phrase must match the whole text");
    }

    #[test]
    fn every_chinese_template_uses_each_variable_part_once() {
        for (english, chinese) in PHRASES {
            let count = english.matches("{}").count();
            for index in 0..count {
                assert_eq!(chinese.matches(&format!("{{{index}}}")).count(), 1, "{english} → {chinese}");
            }
            assert!(!chinese.contains(&format!("{{{count}}}")), "{english} → {chinese}");
            assert!(!english.contains("{}{}"), "two variable parts need a fixed part between them: {english}");
        }
    }
}
