//! The audit trail: who changed what, when, in which request.

use sea_orm::ActiveValue::Set;

use super::Context;
use entity::audit_event;

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
