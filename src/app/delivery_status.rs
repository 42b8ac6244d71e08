//! Did the customer get the reply (CONTRACT "Delivery status of replies")? Reports come
//! from the adapter (`POST /v1/deliveries/{id}/status`), Meta's `statuses` and Messenger's
//! watermarks, Twilio's status callback, and the adapter's own 2xx (`sent`). Each is
//! matched to its reply by the provider's message id (or the reply's own), moves the
//! reply's status only forward (providers do not keep order), is counted
//! (`switchboard_outbound_status_total{channel,status}`) and told to the agent holding
//! the conversation (`message.delivery`).

use chrono::{DateTime, Utc};

use super::{App, AppError};
use crate::domain::{ConversationId, Direction, MessageId, Network, ReplyDelivery};
use crate::store::EventKind;

/// A provider's report, before it is matched to its reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderReport {
    /// The provider's id of the message (`wamid.…`, `SM…`, a Messenger `mid`), or the
    /// reply's own id.
    pub provider_id: String,
    pub delivery: ReplyDelivery,
}

/// What a report did: the reply it named, and whether it moved that reply's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    pub message: MessageId,
    pub moved: bool,
}

/// A report on a reply named by the provider's id (or the reply's own); `None` when no
/// reply is known by it (another deployment's, or older than the ids are kept).
pub async fn report(app: &App, report: &ProviderReport) -> Result<Option<Reported>, AppError> {
    let Some((conv, message)) = app.store.reply_by_provider_id(&report.provider_id).await? else {
        return Ok(None);
    };
    let moved = apply(app, &conv, &message, &report.delivery).await?;
    Ok(Some(Reported { message, moved }))
}

/// Records a report on a reply; when it moved the reply forward, counts it and tells the
/// agent holding the conversation.
pub async fn apply(
    app: &App,
    conv: &ConversationId,
    message: &MessageId,
    delivery: &ReplyDelivery,
) -> Result<bool, AppError> {
    let Some(moved) = app.store.advance_delivery(conv, message, delivery).await? else {
        return Ok(false);
    };
    let view = app.store.conversation(conv).await?;
    let channel = view
        .as_ref()
        .and_then(|v| v.messages.iter().find(|m| m.id == *message))
        .map(|m| m.channel);
    if let Some(channel) = channel {
        app.metrics.channels.outbound_status(channel, moved.status);
    }
    if let Some(agent) = view.and_then(|v| v.agent_id) {
        app.store
            .push_event(&agent, EventKind::MessageDelivery, conv)
            .await?;
    }
    Ok(true)
}

/// Messenger's and Instagram's read watermark: every reply to the customer on `network`
/// sent up to `watermark` was read. Applied to their latest conversation.
pub async fn read_up_to(
    app: &App,
    network: Network,
    customer_identity: &crate::domain::Identity,
    watermark: DateTime<Utc>,
) -> Result<usize, AppError> {
    let Some(customer) = app.store.customer_by_identity(customer_identity).await? else {
        return Ok(0);
    };
    let Some(conv) = customer.conversation_ids.last() else {
        return Ok(0);
    };
    let Some(view) = app.store.conversation(conv).await? else {
        return Ok(0);
    };
    let read = ReplyDelivery::new(crate::domain::ReplyStatus::Read, watermark, None, None);
    let mut moved = 0;
    for m in view.messages.iter().filter(|m| {
        m.direction == Direction::Out && m.network == Some(network) && m.at <= watermark
    }) {
        if apply(app, conv, &m.id, &read).await? {
            moved += 1;
        }
    }
    Ok(moved)
}

/// The adapter took a reply (2xx): it is `sent`, and the provider's id its answer names
/// (`provider_message_id`; Meta's `messages[0].id`; Twilio's `sid`) finds it later.
pub async fn adapter_took(
    app: &App,
    conv: &ConversationId,
    message: &MessageId,
    answer: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let provider_id = answer["provider_message_id"]
        .as_str()
        .or(answer["messages"][0]["id"].as_str())
        .or(answer["sid"].as_str())
        .filter(|id| !id.is_empty() && id.len() <= 256);
    if let Some(id) = provider_id {
        app.store.record_provider_id(conv, message, id).await?;
    }
    let sent = ReplyDelivery::new(crate::domain::ReplyStatus::Sent, now, None, None);
    apply(app, conv, message, &sent).await?;
    Ok(())
}
