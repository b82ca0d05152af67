//! The audit trail: who changed what, when, in which request.

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait};

use super::{Context, Page, StoreResult};
use entity::{audit_event, user};

/// An audit record of the unit of work with this context.
pub fn event(
    context: &Context,
    action: &str,
    target_type: &str,
    target_id: Option<String>,
    summary: serde_json::Value,
) -> audit_event::ActiveModel {
    audit_event::ActiveModel {
        at: Set(context.now),
        actor_id: Set(context.actor_id),
        action: Set(action.to_owned()),
        target_type: Set(target_type.to_owned()),
        target_id: Set(target_id),
        request_id: Set(context.request_id.clone()),
        summary: Set(summary.to_string()),
        ..Default::default()
    }
}

/// What to look for in the audit trail.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub actor_id: Option<i64>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Only changes made by people at these levels (an organizer's subtree).
    pub actor_levels: Option<Vec<i64>>,
}

/// The trail, newest first, a page at a time (`cursor`: the last id of the page before).
pub async fn list(
    connection: &impl ConnectionTrait,
    filter: &AuditFilter,
    limit: u64,
    cursor: Option<i64>,
) -> StoreResult<Page<audit_event::Model>> {
    let mut query = audit_event::Entity::find();
    if let Some(actor_id) = filter.actor_id {
        query = query.filter(audit_event::Column::ActorId.eq(actor_id));
    }
    if let Some(target_type) = &filter.target_type {
        query = query.filter(audit_event::Column::TargetType.eq(target_type.as_str()));
    }
    if let Some(target_id) = &filter.target_id {
        query = query.filter(audit_event::Column::TargetId.eq(target_id.as_str()));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_event::Column::Action.eq(action.as_str()));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_event::Column::At.gte(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit_event::Column::At.lt(to));
    }
    if let Some(levels) = &filter.actor_levels {
        let actors = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .filter(user::Column::LevelId.is_in(levels.iter().copied()))
            .into_query();
        query = query.filter(audit_event::Column::ActorId.in_subquery(actors));
    }
    if let Some(cursor) = cursor {
        query = query.filter(audit_event::Column::Id.lt(cursor));
    }
    let rows = query.order_by_desc(audit_event::Column::Id).limit(limit + 1).all(connection).await?;
    Ok(Page::from_rows(rows, limit, |event| event.id))
}
