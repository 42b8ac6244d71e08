//! Working-day deadlines (the practice: requests are answered within one working day,
//! and customers are told so): each conversation gets a first-response deadline (its
//! channel's service-level target in working time) and a resolution deadline (working
//! days, per tier) from the business-hours calendar. A conversation still open past one
//! is escalated — its queue priority raised, its holder and its personal agent told with
//! `conversation.escalated` — and counted in `switchboard_deadline_breaches_total`.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::{App, AppError};
use crate::domain::feed::FeedType;
use crate::domain::{
    AgentId, Calendar, Channel, ConversationId, ConversationState, ConversationView, DeadlineKind,
    Deadlines, Direction, EntryKind, PerChannel, DEFAULT_TIER,
};
use crate::routing::ESCALATED_PRIORITY;
use crate::store::feed_relay::{FeedNote, NoteEffect};
use crate::store::EventKind;

/// Most deadlines one sweep handles.
const SWEEP_BATCH: usize = 100;

/// The calendar and the deadlines' lengths.
#[derive(Debug, Clone)]
pub struct DeadlinePolicy {
    pub calendar: Calendar,
    /// Working time to a first response, per channel.
    pub first_response: PerChannel<Duration>,
    /// Working days to a resolution, and per-tier overrides.
    pub resolution_days: u32,
    pub tier_resolution_days: HashMap<String, u32>,
}

impl DeadlinePolicy {
    pub fn due(&self, start: DateTime<Utc>, channel: Channel, tier: &str) -> Deadlines {
        let days = self
            .tier_resolution_days
            .get(tier)
            .copied()
            .unwrap_or(self.resolution_days);
        let cal = &self.calendar;
        Deadlines {
            first_response_due: cal.add_working(start, self.first_response[channel]),
            resolution_due: cal.add_working(start, cal.day_length() * days as i32),
        }
    }

    /// An open conversation's deadlines, from its first message.
    pub fn of(&self, conv: &ConversationView) -> Option<Deadlines> {
        if conv.state == ConversationState::Resolved {
            return None;
        }
        let first = conv.first_inbound()?;
        Some(self.due(first.at, first.channel, &conv.customer.tier))
    }
}

/// A message started (or joined) a conversation that needs an agent: its deadlines are
/// scheduled (the first schedule holds, so later messages do not move them).
pub async fn schedule(
    app: &App,
    conv: &ConversationId,
    channel: Channel,
    start: DateTime<Utc>,
) -> Result<(), AppError> {
    let tier = if app.deadlines.tier_resolution_days.is_empty() {
        DEFAULT_TIER.to_owned()
    } else {
        let customer = app.store.customer(conv.customer()).await?;
        customer.map_or_else(|| DEFAULT_TIER.to_owned(), |c| c.tier)
    };
    let due = app.deadlines.due(start, channel, &tier);
    app.store.schedule_deadlines(conv, &due).await?;
    Ok(())
}

/// Escalates the conversations whose deadlines passed by `now` (every replica calls this;
/// the store hands each deadline to one caller).
pub async fn sweep(app: &App, now: DateTime<Utc>) -> Result<usize, AppError> {
    let due = app.store.due_deadlines(now, SWEEP_BATCH).await?;
    let mut escalated = 0;
    for (conv, kind) in due {
        if escalate(app, &conv, kind).await? {
            escalated += 1;
        }
    }
    Ok(escalated)
}

/// Whether `conv` was still open (and, for a first response, unanswered) and escalated.
async fn escalate(app: &App, id: &ConversationId, kind: DeadlineKind) -> Result<bool, AppError> {
    let Some(conv) = app.store.conversation(id).await? else {
        return Ok(false);
    };
    let answered = conv
        .messages
        .iter()
        .any(|m| m.direction == Direction::Out && m.kind == EntryKind::Message);
    let over = conv.state != ConversationState::Resolved
        && !(kind == DeadlineKind::FirstResponse && answered);
    if !over {
        return Ok(false);
    }
    app.store.raise_priority(id, ESCALATED_PRIORITY).await?;
    let mut told: Vec<AgentId> = Vec::new();
    for agent in [&conv.agent_id, &conv.customer.personal_agent_id] {
        if let Some(agent) = agent.clone() {
            if !told.contains(&agent) {
                app.store
                    .push_event(&agent, EventKind::ConversationEscalated, id)
                    .await?;
                told.push(agent);
            }
        }
    }
    let channel = conv.first_inbound().map_or(Channel::Chat, |m| m.channel);
    // The deadline was handed to this sweep alone (the store's claim): its event follows
    // in a step of its own, so a crash between the two loses the event, never doubles it.
    let note = FeedNote {
        kind: FeedType::DeadlineBreached,
        subject: id.to_string(),
        at: chrono::Utc::now(),
        data: serde_json::json!({
            "conversation_id": id.to_string(), "customer_id": id.customer().as_str(),
            "kind": kind.as_str(), "channel": channel.as_str(),
            "agent_id": conv.agent_id.as_ref().map(AgentId::as_str),
        }),
        effect: NoteEffect::None,
    };
    app.store.note_feed(id.customer(), &note).await?;
    app.metrics
        .deadline_breaches
        .with_label_values(&[kind.as_str(), channel.as_str()])
        .inc();
    Ok(true)
}
