//! What staff do with a conversation: read it, reply (stored, delivered through the
//! outbox, the first one timed), transfer it (with a note), resolve it (with a rating).
//! An agent acts only on what it holds; anything else is answered like a missing
//! conversation, so one agent cannot learn another's conversations exist.

use chrono::{DateTime, Utc};

use super::{Actor, App, AppError};
use crate::domain::{
    Channel, ConversationId, ConversationView, CustomerId, CustomerView, DeadlineKind, Direction,
    EntryKind, Medium, Message, MessageId, Network, Queue, Requirements, Route, SUPERVISOR_QUEUE,
};
use crate::store::{DeliveryStatus, ReplyOutcome, ResolveOutcome, TransferOutcome, TransferTarget};

/// Longest reply or note accepted (characters).
pub const MAX_REPLY_CHARS: usize = 64 * 1024;

/// The conversation, if the actor may read it: admins and supervisors always; an agent
/// while it holds it or owns its customer.
pub async fn read(
    app: &App,
    actor: &Actor,
    id: &ConversationId,
) -> Result<ConversationView, AppError> {
    let conv = app.store.conversation(id).await?;
    let mut conv = conv
        .filter(|c| may_read(actor, c))
        .ok_or_else(|| AppError::NotFound(format!("no conversation `{id}`")))?;
    conv.deadlines = app.deadlines.of(&conv);
    Ok(conv)
}

/// Whether `actor` may read `conv` as it stands: admins and supervisors always; an agent
/// while it holds it or owns its customer. Every way to show a conversation (the direct
/// route, replayed and live events) asks this, so none shows more than the other.
pub fn may_read(actor: &Actor, conv: &ConversationView) -> bool {
    match actor {
        Actor::Admin | Actor::Supervisor(_) => true,
        Actor::Agent(me) => {
            conv.agent_id.as_ref() == Some(me)
                || conv.customer.personal_agent_id.as_ref() == Some(me)
        }
    }
}

/// The customer, if `actor` may act for them (`may_reach_customer`); anyone else is told
/// it does not exist.
pub async fn customer_for(
    app: &App,
    actor: &Actor,
    id: &CustomerId,
) -> Result<CustomerView, AppError> {
    let not_found = || AppError::NotFound(format!("no customer `{id}`"));
    let customer = app.store.customer(id).await?.ok_or_else(not_found)?;
    if !may_reach_customer(app, actor, &customer).await? {
        return Err(not_found());
    }
    Ok(customer)
}

/// Whether `actor` may act for `customer` (raise a complaint, set a follow-up): admins
/// and supervisors always; an agent who is the customer's personal agent or holds their
/// open conversation.
pub async fn may_reach_customer(
    app: &App,
    actor: &Actor,
    customer: &CustomerView,
) -> Result<bool, AppError> {
    let Actor::Agent(me) = actor else {
        return Ok(true);
    };
    if customer.personal_agent_id.as_ref() == Some(me) {
        return Ok(true);
    }
    let Some(open) = &customer.open_conversation_id else {
        return Ok(false);
    };
    let conv = app.store.conversation(open).await?;
    Ok(conv.is_some_and(|c| c.agent_id.as_ref() == Some(me)))
}

/// The conversation, if the actor may act on it: admins always, an agent while it holds
/// it, a supervisor also while it waits in the supervisor queue.
async fn held_by(
    app: &App,
    actor: &Actor,
    id: &ConversationId,
) -> Result<ConversationView, AppError> {
    let conv = app.store.conversation(id).await?;
    conv.filter(|c| match actor {
        Actor::Admin => true,
        Actor::Agent(me) => c.agent_id.as_ref() == Some(me),
        Actor::Supervisor(me) => {
            c.agent_id.as_ref() == Some(me)
                || (c.agent_id.is_none() && c.queue == Some(Queue::Supervisor))
        }
    })
    .ok_or_else(|| AppError::NotFound(format!("no conversation `{id}` of yours")))
}

/// The channel and network of the customer's last message: where replies go by default.
pub(super) fn last_medium(conv: &ConversationView) -> Result<Medium, AppError> {
    Ok(conv
        .last_inbound()
        .map_or(Medium::new(Channel::Chat, None), |m| {
            Medium::new(m.channel, m.network)
        })?)
}

/// A timeline entry written by staff: a reply or a note, its card numbers masked.
pub(super) fn staff_entry(
    app: &App,
    actor: &Actor,
    medium: Medium,
    text: String,
    kind: EntryKind,
    now: DateTime<Utc>,
) -> Message {
    Message {
        id: MessageId::generate(),
        direction: Direction::Out,
        channel: medium.channel(),
        network: medium.network(),
        from: match actor {
            Actor::Agent(me) | Actor::Supervisor(me) => me.to_string(),
            Actor::Admin => "admin".to_owned(),
        },
        text: app.masked(text),
        subject: None,
        external_id: None,
        at: now,
        received_at: now,
        kind,
        delivery: None,
    }
}

/// A reply as staff wrote it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub text: String,
    /// Defaults to the channel (and network) of the customer's last message.
    pub channel: Option<Channel>,
    pub network: Option<Network>,
}

/// What a stored reply became: the timeline entry, and its delivery (`pending`) when an
/// adapter URL serves its channel.
pub struct Replied {
    pub message: Message,
    pub delivery: Option<DeliveryStatus>,
}

/// Stores a reply as an outbound message on the customer's last channel (unless another
/// is named) and puts it in the outbox; the first one counts as the first response.
pub async fn reply(
    app: &App,
    actor: &Actor,
    id: &ConversationId,
    reply: Reply,
) -> Result<Replied, AppError> {
    let text = bounded_text("text", &reply.text)?.ok_or_else(|| {
        AppError::Invalid(format!("`text` must be 1-{MAX_REPLY_CHARS} characters"))
    })?;
    let conv = held_by(app, actor, id).await?;
    let medium = match reply.channel {
        Some(channel) => Medium::new(channel, reply.network)?,
        None => last_medium(&conv)?,
    };
    let channel = medium.channel();
    let now = Utc::now();
    super::windows::check(&conv, medium, now)?;
    let message = staff_entry(app, actor, medium, text, EntryKind::Message, now);
    let first = match app.store.add_reply(id, &message, now).await? {
        ReplyOutcome::Stored { first } => first,
        ReplyOutcome::NotFound => {
            return Err(AppError::NotFound(format!("no conversation `{id}`")))
        }
        ReplyOutcome::Archived => {
            return Err(AppError::Conflict(format!(
                "conversation `{id}` is archived: its timeline is final"
            )))
        }
    };
    if first {
        app.store
            .clear_deadlines(id, &[DeadlineKind::FirstResponse])
            .await?;
    }
    // Its own id finds it when the adapter reports on it (`delivery_status`).
    app.store
        .record_provider_id(id, &message.id, message.id.as_str())
        .await?;
    let email_id = format!("{}@switchboard", message.id.as_str());
    if channel == Channel::Email {
        // The Message-ID the outbound e-mail carries: a reply to it finds this thread.
        app.store.record_thread(&email_id, id).await?;
    }
    let delivery = enqueue_delivery(app, &conv, &message, &email_id, now).await?;
    app.metrics.message(channel, Direction::Out);
    if first {
        let waited = (now - conv.created_at).num_milliseconds().max(0) as f64 / 1000.0;
        app.metrics
            .first_response_seconds
            .with_label_values(&[channel.as_str()])
            .observe(waited);
    }
    Ok(Replied { message, delivery })
}

/// Trimmed text within the reply limit; `None` when blank.
fn bounded_text(field: &str, raw: &str) -> Result<Option<String>, AppError> {
    let text = raw.trim();
    if text.chars().count() > MAX_REPLY_CHARS {
        return Err(AppError::Invalid(format!(
            "`{field}` must be at most {MAX_REPLY_CHARS} characters"
        )));
    }
    Ok(Some(text.to_owned()).filter(|t| !t.is_empty()))
}

/// Puts the reply in the durable outbox for the channel's adapter, addressed to the
/// customer's address on that channel; `None` when no adapter URL serves the channel.
async fn enqueue_delivery(
    app: &App,
    conv: &ConversationView,
    message: &Message,
    email_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<DeliveryStatus>, AppError> {
    let Some(url) = app
        .outbound
        .as_ref()
        .and_then(|o| o.url_for(message.channel))
    else {
        return Ok(None);
    };
    let inbound = conv
        .messages
        .iter()
        .rev()
        .filter(|m| m.direction == Direction::In);
    let recipient = inbound
        .clone()
        .find(|m| m.channel == message.channel && m.network == message.network)
        .or_else(|| inbound.clone().find(|m| m.channel == message.channel))
        .map(|m| m.from.clone());
    let mut body = serde_json::json!({
        "conversation_id": conv.id,
        "message_id": message.id,
        "channel": message.channel,
        "network": message.network,
        "recipient": recipient,
        "text": message.text,
        "email_message_id": (message.channel == Channel::Email).then(|| format!("<{email_id}>")),
        "sent_at": message.at,
    });
    if message.channel == Channel::Email {
        let thread = super::threading::thread(conv, email_id);
        body["subject"] = serde_json::json!(thread.subject);
        body["in_reply_to"] = serde_json::json!(thread.in_reply_to);
        body["references"] = serde_json::json!(thread.references);
    }
    app.store
        .enqueue_delivery(message.id.as_str(), url, &body.to_string(), now)
        .await?;
    Ok(Some(DeliveryStatus::Pending))
}

/// Where a transfer goes, as staff named it.
#[derive(Debug, Clone)]
pub enum Destination {
    Agent(String),
    Queue(String),
}

/// Moves the conversation (its whole timeline travels with it) and records the note. A
/// conversation transferred more than twice goes to the supervisor queue instead.
pub async fn transfer(
    app: &App,
    actor: &Actor,
    id: &ConversationId,
    to: Destination,
    note: Option<String>,
) -> Result<(Route, u32), AppError> {
    let conv = held_by(app, actor, id).await?;
    let medium = last_medium(&conv)?;
    let target = match to {
        Destination::Agent(agent) => TransferTarget::Agent(agent.parse()?),
        Destination::Queue(queue) => TransferTarget::Queue(queue.parse().map_err(|_| {
            AppError::Invalid(format!(
                "`to_queue` must be a channel (the conversation's own queue) or `{SUPERVISOR_QUEUE}`, not `{queue}`"
            ))
        })?),
    };
    let note = match note {
        Some(n) => bounded_text("note", &n)?,
        None => None,
    };
    let now = Utc::now();
    let note = note.map(|text| staff_entry(app, actor, medium, text, EntryKind::Note, now));
    match app.store.transfer(id, &target, note.as_ref(), now).await? {
        TransferOutcome::NotRouted => Err(AppError::Conflict(format!(
            "conversation `{id}` is not waiting for or held by anyone"
        ))),
        TransferOutcome::AgentUnavailable => Err(AppError::Conflict(
            "the target agent is unknown, not online, or full".into(),
        )),
        TransferOutcome::Transferred {
            route,
            transfers,
            assignments,
        } => {
            super::bridge::assigned(app, &assignments).await;
            let to = match (&route.agent_id, route.queue) {
                (_, Some(Queue::Supervisor)) => "supervisor",
                (Some(_), _) => "agent",
                _ => "queue",
            };
            app.metrics.transfers.with_label_values(&[to]).inc();
            Ok((route, transfers))
        }
    }
}

/// Resolves the conversation (a rating, if any, must be 1–5); the freed unit serves
/// whoever waits at once, and those assignments are counted.
pub async fn resolve(
    app: &App,
    actor: &Actor,
    id: &ConversationId,
    csat: Option<u8>,
) -> Result<(), AppError> {
    if !matches!(actor, Actor::Admin) {
        held_by(app, actor, id).await?;
    }
    if csat.is_some_and(|c| !(1..=5).contains(&c)) {
        return Err(AppError::Invalid("`csat` must be between 1 and 5".into()));
    }
    match app.store.resolve(id, Utc::now()).await? {
        ResolveOutcome::Resolved(drained) => {
            super::bridge::assigned(app, &drained).await;
            app.store.clear_deadlines(id, &DeadlineKind::ALL).await?;
            super::follow_ups::after_resolution(app, id, Utc::now()).await?;
            if let Some(csat) = csat {
                super::ratings::rate(app, id, csat, "resolve").await?;
            }
            Ok(())
        }
        ResolveOutcome::AlreadyResolved => Err(AppError::Conflict(format!(
            "conversation `{id}` is already resolved"
        ))),
        ResolveOutcome::NotFound => Err(AppError::NotFound(format!("no conversation `{id}`"))),
    }
}

/// Sets what the conversation needs from its agent (the agent finds it needs billing
/// ≥ 3, or Spanish); it relaxes again from now. Queued, it goes at once to an agent who
/// fits; waiting for a personal agent who does not, it falls back; a holder keeps it.
/// Answers where it stands now.
pub async fn set_requirements(
    app: &App,
    actor: &Actor,
    id: &ConversationId,
    requirements: Requirements,
) -> Result<ConversationView, AppError> {
    held_by(app, actor, id).await?;
    let made = app
        .store
        .set_requirements(id, &requirements, Utc::now())
        .await?
        .ok_or_else(|| {
            AppError::Conflict(format!(
                "conversation `{id}` is not waiting for or held by anyone"
            ))
        })?;
    super::bridge::assigned(app, &made).await;
    held_by(app, &Actor::Admin, id).await
}
