//! The audit trail's entries (CONTRACT "Audit"): who did what to whom, never any text a
//! customer or an agent wrote.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// What an audited actor did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    CustomerRead,
    ConversationRead,
    CustomerExport,
    CustomerErase,
    MessageRedact,
    AgentUpdate,
    AgentDelete,
    /// Every token of the agent issued so far refused from now on.
    AgentRevoke,
    /// A supervisor or an admin replying, transferring or resolving for someone else.
    ConversationReply,
    ConversationTransfer,
    ConversationResolve,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::CustomerRead => "customer.read",
            AuditAction::ConversationRead => "conversation.read",
            AuditAction::CustomerExport => "customer.export",
            AuditAction::CustomerErase => "customer.erase",
            AuditAction::MessageRedact => "message.redact",
            AuditAction::AgentUpdate => "agent.update",
            AuditAction::AgentDelete => "agent.delete",
            AuditAction::AgentRevoke => "agent.revoke",
            AuditAction::ConversationReply => "conversation.reply",
            AuditAction::ConversationTransfer => "conversation.transfer",
            AuditAction::ConversationResolve => "conversation.resolve",
        }
    }
}

/// One audited act. `id` orders the trail (the cursor `after` takes); `actor` is
/// `admin`, `agent:<id>` or `adapter:<first 8 hex of the token's SHA-256>`; `target` is
/// the customer, conversation, message or agent id acted on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: String,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub request_id: Option<String>,
}

/// An id of the trail: milliseconds and a sequence within them, as Redis streams number
/// their entries (`<ms>-<seq>`), so that both stores page alike.
pub fn audit_id_parts(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}
