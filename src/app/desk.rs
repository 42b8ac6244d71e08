//! What the agent desk and the supervisor's wall show, read in one call each: an agent's
//! conversations (newest activity first, with what the customer said since the last
//! answer), and the floor (queues, agents, who waits longest, open complaints).

use chrono::{DateTime, Utc};
use futures_util::future::try_join_all;
use serde::Serialize;
use utoipa::ToSchema;

use super::{App, AppError};
use crate::domain::{
    AgentId, AgentView, Channel, ConversationId, ConversationView, Direction, EntryKind, Queue,
    QUEUES,
};
use crate::routing::COMPLAINT_PRIORITY;
use crate::store::QueuedConversation;

/// Characters of the last message shown in a list row.
const PREVIEW_CHARS: usize = 140;
/// Conversations listed in "waiting longest" on the wall.
const LONGEST_WAITING: usize = 10;
/// Conversations read per queue to find who waits longest.
const QUEUE_SCAN: usize = 200;

/// One conversation in an agent's list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeskItem {
    #[schema(value_type = String)]
    pub conversation_id: ConversationId,
    #[schema(value_type = String)]
    pub customer_id: String,
    pub customer_name: Option<String>,
    pub tier: String,
    /// Every channel the customer used in it.
    pub channels: Vec<Channel>,
    /// Where the customer wrote last (where a reply goes by default).
    pub last_channel: Option<Channel>,
    /// When anything was last added to its timeline.
    pub last_activity_at: DateTime<Utc>,
    /// The start of the latest timeline entry.
    pub preview: String,
    /// The customer's messages since staff last answered.
    pub unread: u32,
    #[schema(value_type = Option<String>)]
    pub personal_agent_id: Option<AgentId>,
    /// Someone else is this customer's personal agent: this agent is covering.
    pub covering: bool,
}

impl DeskItem {
    fn of(conv: &ConversationView, agent: &AgentId) -> Self {
        let last = conv.messages.last();
        let personal = conv.customer.personal_agent_id.clone();
        Self {
            conversation_id: conv.id.clone(),
            customer_id: conv.customer.id.to_string(),
            customer_name: conv.customer.display_name.clone(),
            tier: conv.customer.tier.clone(),
            channels: conv.channels.clone(),
            last_channel: conv.last_inbound().map(|m| m.channel),
            last_activity_at: last.map_or(conv.created_at, |m| m.at),
            preview: last.map(|m| preview(&m.text)).unwrap_or_default(),
            unread: unanswered(conv),
            covering: personal.as_ref().is_some_and(|p| p != agent),
            personal_agent_id: personal,
        }
    }
}

fn preview(text: &str) -> String {
    let mut cut: String = text.chars().take(PREVIEW_CHARS).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

/// The customer's messages after staff's last reply: what still waits for an answer.
fn unanswered(conv: &ConversationView) -> u32 {
    let waiting = conv
        .messages
        .iter()
        .rev()
        .take_while(|m| !(m.direction == Direction::Out && m.kind == EntryKind::Message))
        .filter(|m| m.direction == Direction::In)
        .count();
    u32::try_from(waiting).unwrap_or(u32::MAX)
}

/// The conversations `agent` holds, most recent activity first (read concurrently).
pub async fn held(app: &App, agent: &AgentId) -> Result<Vec<DeskItem>, AppError> {
    let ids = app.store.held(agent).await?;
    let reads = ids.iter().map(|id| app.store.conversation(id));
    let mut items: Vec<DeskItem> = try_join_all(reads)
        .await?
        .into_iter()
        .flatten()
        // Resolved or moved between the two reads: no longer theirs to list.
        .filter(|conv| conv.agent_id.as_ref() == Some(agent))
        .map(|conv| DeskItem::of(&conv, agent))
        .collect();
    items.sort_by_key(|item| std::cmp::Reverse(item.last_activity_at));
    Ok(items)
}

/// A queue on the wall.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FloorQueue {
    /// `phone`, `email`, `chat`, `social` or `supervisor`.
    pub queue: String,
    pub depth: u64,
    pub oldest_since: Option<DateTime<Utc>>,
}

/// A conversation waiting, as the wall lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Waiting {
    pub queue: String,
    #[serde(flatten)]
    pub conversation: QueuedConversation,
}

/// The whole floor, for the supervisor's wall.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Floor {
    pub queues: Vec<FloorQueue>,
    pub agents: Vec<AgentView>,
    /// Every queue's conversations waiting longest, longest first.
    pub waiting_longest: Vec<Waiting>,
    /// Conversations raised as complaints that wait in the supervisor queue.
    pub open_complaints: Vec<Waiting>,
    pub at: DateTime<Utc>,
}

/// Reads the floor: queue depths (from the routing snapshot), agents, and the queues'
/// heads.
pub async fn floor(app: &App) -> Result<Floor, AppError> {
    let snapshot = app.store.snapshot().await?;
    let queues = snapshot
        .queues
        .iter()
        .map(|q| FloorQueue {
            queue: q.queue.as_str().to_owned(),
            depth: q.depth,
            oldest_since: q.oldest_since,
        })
        .collect();
    let mut waiting = Vec::new();
    for queue in QUEUES {
        let queued = app.store.queued(&queue, QUEUE_SCAN).await?;
        waiting.extend(queued.into_iter().map(|conversation| Waiting {
            queue: queue.as_str().to_owned(),
            conversation,
        }));
    }
    let open_complaints = waiting
        .iter()
        .filter(|w| {
            w.queue == Queue::Supervisor.as_str() && w.conversation.priority >= COMPLAINT_PRIORITY
        })
        .cloned()
        .collect();
    waiting.sort_by_key(|w| w.conversation.waiting_since);
    waiting.truncate(LONGEST_WAITING);
    Ok(Floor {
        queues,
        agents: app.store.agents().await?,
        waiting_longest: waiting,
        open_complaints,
        at: Utc::now(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_are_cut_on_characters_not_bytes() {
        let long = "ё".repeat(PREVIEW_CHARS + 5);
        let cut = preview(&long);
        assert_eq!(cut.chars().count(), PREVIEW_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(preview("short"), "short");
    }
}
