//! "Complain to a manager" (the practice: a button in the customer's account, and every
//! complaint read): the complaint joins the customer's conversation timeline (opening one
//! if needed), marks an open complaint — the IVR's `open_complaint` rule and the highest
//! queue priority — and goes to the supervisor queue, ahead of routine work. A rating of
//! 1–2 raises one; resolving the conversation closes it.

use uuid::Uuid;

use super::{conversations, entries};
use super::{Actor, App, AppError};
use crate::domain::feed::FeedType;
use crate::domain::{Channel, ConversationId, CustomerId, EntryKind, Queue};
use crate::routing::COMPLAINT_PRIORITY;
use crate::store::feed_relay::{FeedNote, NoteEffect};
use crate::store::{ReplyOutcome, TransferOutcome, TransferTarget};

/// Longest complaint text, in characters.
const MAX_COMPLAINT_CHARS: usize = 4000;

/// Who raised a complaint (`switchboard_complaints_total{source}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The site's or the chat widget's button (an adapter).
    Button,
    /// A rating of 1 or 2.
    Rating,
    Agent,
    Admin,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Button => "button",
            Source::Rating => "rating",
            Source::Agent => "agent",
            Source::Admin => "admin",
        }
    }
}

/// Raises a complaint on the customer's behalf (the site's button, a low rating);
/// answers the conversation that holds it. `external_id` makes a retried request join
/// the first (the widget's own id for the click).
pub async fn raise(
    app: &App,
    customer: &CustomerId,
    text: &str,
    channel: Channel,
    source: Source,
    external_id: Option<&str>,
) -> Result<ConversationId, AppError> {
    let text = complaint_text(text)?;
    let view = app
        .store
        .customer(customer)
        .await?
        .ok_or_else(|| no_customer(customer))?;
    let id = external_id.map_or_else(|| Uuid::new_v4().to_string(), str::to_owned);
    let raw = entries::from_customer(
        &view,
        Some(channel),
        &format!("complaint:{id}"),
        "Complaint",
        &format!("[complaint] {text}"),
    )?;
    let receipt = super::ingest::ingest(app, raw).await?;
    let conv = receipt.conversation_id;
    if receipt.duplicate {
        app.store.set_open_complaint(&view.id, Some(&conv)).await?;
    } else {
        open_complaint(app, &view.id, &conv, channel, source).await?;
    }
    if !receipt.duplicate {
        escalate(app, &conv, channel, source).await?;
    }
    Ok(conv)
}

/// Marks the customer's open complaint and records `complaint.raised`, in one step
/// where the conversation is the customer's own (a merge may have moved it: then the
/// mark and the event are two).
async fn open_complaint(
    app: &App,
    customer: &CustomerId,
    conv: &ConversationId,
    channel: Channel,
    source: Source,
) -> Result<(), AppError> {
    let own = conv.customer() == customer;
    let note = FeedNote {
        kind: FeedType::ComplaintRaised,
        subject: conv.to_string(),
        at: chrono::Utc::now(),
        data: serde_json::json!({
            "conversation_id": conv.to_string(), "customer_id": customer.as_str(),
            "channel": channel.as_str(), "source": source.as_str(),
        }),
        effect: match own {
            true => NoteEffect::OpenComplaint(conv.clone()),
            false => NoteEffect::None,
        },
    };
    if !own {
        app.store.set_open_complaint(customer, Some(conv)).await?;
    }
    app.store.note_feed(customer, &note).await?;
    Ok(())
}

/// Raises a complaint staff heard (an agent on the phone, a supervisor, an admin): a
/// staff note on the customer's open conversation, never an entry in the customer's
/// name. Only staff who may act for the customer may (their personal agent, the holder
/// of their conversation, supervisors, admins); a customer with nothing open is a
/// conflict, since staff hear complaints in a conversation.
pub async fn raise_as_staff(
    app: &App,
    actor: &Actor,
    customer: &CustomerId,
    text: &str,
) -> Result<ConversationId, AppError> {
    let text = complaint_text(text)?;
    let view = conversations::customer_for(app, actor, customer).await?;
    let open = view.open_conversation_id.as_ref().ok_or_else(|| {
        AppError::Conflict(format!(
            "customer `{customer}` has no open conversation to raise a complaint on"
        ))
    })?;
    let conv = app
        .store
        .conversation(open)
        .await?
        .ok_or_else(|| no_customer(customer))?;
    let medium = conversations::last_medium(&conv)?;
    let now = chrono::Utc::now();
    let note = conversations::staff_entry(
        app,
        actor,
        medium,
        format!("[complaint] {text}"),
        EntryKind::Note,
        now,
    );
    let ReplyOutcome::Stored { .. } = app.store.add_reply(open, &note, now).await? else {
        return Err(AppError::Conflict(format!(
            "conversation `{open}` is resolved"
        )));
    };
    let source = match actor {
        Actor::Admin => Source::Admin,
        Actor::Agent(_) | Actor::Supervisor(_) => Source::Agent,
    };
    open_complaint(app, &view.id, open, medium.channel(), source).await?;
    escalate(app, open, medium.channel(), source).await?;
    Ok(open.clone())
}

/// Puts a conversation with a new complaint first in the supervisor queue, and counts it.
async fn escalate(
    app: &App,
    conv: &ConversationId,
    channel: Channel,
    source: Source,
) -> Result<(), AppError> {
    app.store.raise_priority(conv, COMPLAINT_PRIORITY).await?;
    let supervisor = TransferTarget::Queue(Queue::Supervisor);
    let outcome = app
        .store
        .transfer(conv, &supervisor, None, chrono::Utc::now())
        .await?;
    if let TransferOutcome::Transferred { assignments, .. } = outcome {
        super::bridge::assigned(app, &assignments).await;
    }
    app.metrics
        .complaints
        .with_label_values(&[channel.as_str(), source.as_str()])
        .inc();
    Ok(())
}

fn complaint_text(text: &str) -> Result<&str, AppError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_COMPLAINT_CHARS {
        return Err(AppError::Invalid(format!(
            "`text` must be 1-{MAX_COMPLAINT_CHARS} characters"
        )));
    }
    Ok(text)
}

fn no_customer(id: &CustomerId) -> AppError {
    AppError::NotFound(format!("no customer `{id}`"))
}
