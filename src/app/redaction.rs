//! Redacting one entry on request (CONTRACT "Redact one entry"): an admin removes a text
//! a customer should never have sent (a password, a health detail) from wherever it is
//! stored, and the audit trail says who did.

use super::audit::{self, Auditor};
use super::{App, AppError};
use crate::domain::{AuditAction, ConversationId, Message, MessageId};
use crate::store::redaction::redacted;

/// Redacts the entry `message` of conversation `conv` and answers it as it reads now.
/// Recorded in the audit trail before it happens.
pub async fn redact(
    app: &App,
    by: &Auditor,
    conv: &ConversationId,
    message: &MessageId,
) -> Result<Message, AppError> {
    let not_found = || {
        AppError::NotFound(format!(
            "no entry `{}` in conversation `{conv}`",
            message.as_str()
        ))
    };
    let before = entry(app, conv, message).await?.ok_or_else(not_found)?;
    audit::record(app, by, AuditAction::MessageRedact, message.as_str()).await?;
    if !app.store.redact_message(conv, message).await? {
        return Err(not_found());
    }
    if before != redacted(before.clone()) {
        app.metrics.retention.entry_redacted();
    }
    entry(app, conv, message).await?.ok_or_else(not_found)
}

/// The entry as the conversation's timeline reads now.
async fn entry(
    app: &App,
    conv: &ConversationId,
    message: &MessageId,
) -> Result<Option<Message>, AppError> {
    let Some(view) = app.store.conversation(conv).await? else {
        return Ok(None);
    };
    Ok(view.messages.into_iter().find(|m| m.id == *message))
}
