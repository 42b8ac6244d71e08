//! What routing decides and reports: assignments, agents' events, transfers, and the
//! deployment-wide snapshot; plus the constants both engines share.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::Fit;
use crate::domain::{
    AgentId, Channel, ConversationId, Language, Queue, Route, RouteReason, RoutingGroup, QUEUES,
};

/// A conversation given to an agent by routing (for events and wait metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub conversation_id: ConversationId,
    pub agent_id: AgentId,
    pub reason: RouteReason,
    pub channel: Channel,
    /// How long it waited for an agent.
    pub waited: Duration,
    /// How the agent fits what the conversation needed.
    pub fit: Fit,
    /// The language it asked for, if any (wait by language).
    pub language: Option<Language>,
}

impl Assignment {
    pub fn new(
        conversation: &ConversationId,
        agent: &AgentId,
        reason: RouteReason,
        channel: Channel,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            conversation_id: conversation.clone(),
            agent_id: agent.clone(),
            reason,
            channel,
            waited: now - since,
            fit: Fit::None,
            language: None,
        }
    }

    pub fn fitting(mut self, fit: Fit, language: Option<Language>) -> Self {
        self.fit = fit;
        self.language = language;
        self
    }
}

/// A conversation waiting in a queue, where it stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct QueuedConversation {
    #[schema(value_type = String)]
    pub conversation_id: ConversationId,
    /// 0-9: an open complaint 9, a tier 2, a caller 2, a repeat contact 1.
    pub priority: u8,
    pub waiting_since: DateTime<Utc>,
}

impl QueuedConversation {
    /// From a queue's sorted-set score (`queue_score`): `(9 - priority) * 1e13 + ms`.
    pub fn from_score(conversation_id: ConversationId, score: f64) -> Option<Self> {
        let band = (score / 1e13).floor();
        let ms = (score - band * 1e13) as i64;
        Some(Self {
            conversation_id,
            priority: 9u8.checked_sub(band as u8)?,
            waiting_since: DateTime::from_timestamp_millis(ms)?,
        })
    }
}

/// Most agents a requirement's choice looks at: the first of the index of its rarest
/// tag, in choice order (an agent with every other tag is almost always among them).
pub const CANDIDATES: usize = 64;

/// Most queued conversations a freed agent looks through for one they fit.
pub const QUEUE_SCAN: usize = 64;

/// Something an agent is told about, kept per agent so a reconnecting agent can replay it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentEvent {
    /// Increasing within one agent's events; the SSE `id`.
    pub id: String,
    pub kind: EventKind,
    pub conversation_id: ConversationId,
    pub reason: Option<String>,
    /// For `conversation.covered`: the agent covering.
    pub other_agent: Option<String>,
}

/// What an agent is told (the SSE `event:` name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A conversation is now the agent's.
    ConversationAssigned,
    /// A conversation was transferred to the agent.
    ConversationTransferred,
    /// Someone else covers one of the agent's own customers.
    ConversationCovered,
    /// A customer wrote in a conversation the agent holds.
    MessageCreated,
    /// A conversation the agent holds, or of one of their customers, is past a
    /// working-day deadline: it was escalated.
    ConversationEscalated,
    /// A reply in a conversation the agent holds moved on (sent, delivered, read,
    /// failed): its timeline entry's `delivery` says how.
    MessageDelivery,
}

impl EventKind {
    pub const ALL: [EventKind; 6] = [
        EventKind::ConversationAssigned,
        EventKind::ConversationTransferred,
        EventKind::ConversationCovered,
        EventKind::MessageCreated,
        EventKind::ConversationEscalated,
        EventKind::MessageDelivery,
    ];

    /// The name on the wire, also what the Lua scripts write into the event streams.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::ConversationAssigned => "conversation.assigned",
            EventKind::ConversationTransferred => "conversation.transferred",
            EventKind::ConversationCovered => "conversation.covered",
            EventKind::MessageCreated => "message.created",
            EventKind::ConversationEscalated => "conversation.escalated",
            EventKind::MessageDelivery => "message.delivery",
        }
    }
}

impl std::str::FromStr for EventKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown event kind `{s}`"))
    }
}

/// Most events kept per agent.
pub const EVENTS_KEPT: usize = 1000;

/// The deployment-wide state of routing, for the gauges every replica reports alike.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutingSnapshot {
    /// Every queue (`phone`, `email`, `chat`, `social`, `supervisor`), including the
    /// conversations waiting for their personal agent in their channel's queue.
    pub queues: Vec<QueueStat>,
    pub online: u64,
    pub away: u64,
    pub offline: u64,
    /// The same queues per routing group (the totals above are their sums).
    pub by_group: BTreeMap<RoutingGroup, Vec<QueueStat>>,
}

impl RoutingSnapshot {
    /// An empty picture with every queue present.
    pub fn empty() -> Self {
        Self {
            queues: QUEUES
                .iter()
                .map(|q| QueueStat {
                    queue: *q,
                    depth: 0,
                    oldest_since: None,
                })
                .collect(),
            ..Self::default()
        }
    }

    /// Adds one group's picture to the deployment's.
    pub fn add(&mut self, group: &RoutingGroup, part: RoutingSnapshot) {
        for stat in &part.queues {
            match self.queues.iter_mut().find(|q| q.queue == stat.queue) {
                Some(total) => {
                    total.depth += stat.depth;
                    total.oldest_since = match (total.oldest_since, stat.oldest_since) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                None => self.queues.push(stat.clone()),
            }
        }
        self.online += part.online;
        self.away += part.away;
        self.offline += part.offline;
        self.by_group.insert(group.clone(), part.queues);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStat {
    pub queue: Queue,
    pub depth: u64,
    pub oldest_since: Option<DateTime<Utc>>,
}

/// Where a transfer sends a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTarget {
    Agent(AgentId),
    Queue(Queue),
}

/// Conversations transferred more than this many times go to the supervisor queue.
pub const MAX_TRANSFERS: u32 = 2;

/// What a transfer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferOutcome {
    /// Moved: where it is now, how often it was transferred, and what the freed unit did.
    Transferred {
        route: Route,
        transfers: u32,
        assignments: Vec<Assignment>,
    },
    /// The conversation is not routed (resolved, or never was).
    NotRouted,
    /// The target agent is unknown, not online, or full.
    AgentUnavailable,
}
