//! The audit trail: who changed what, when, in which request.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait};

use super::{Context, StoreResult};
use entity::audit_event;

pub async fn record(
    connection: &impl ConnectionTrait,
    context: &Context,
    action: &str,
    target_type: &str,
    target_id: Option<String>,
    summary: serde_json::Value,
) -> StoreResult<()> {
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
    .insert(connection)
    .await?;
    Ok(())
}
