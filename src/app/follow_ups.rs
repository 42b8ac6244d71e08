//! Follow-ups (the practice: each customer is called a month after they start, to ask
//! what works): after a customer's first conversation resolves, a follow-up is scheduled
//! (a setting, default 30 days; an agent or admin may set or cancel it). When it comes
//! due it joins the customer's timeline and is routed to their personal agent like any
//! conversation (capacity counted, `conversation.assigned`), so the manager calls the
//! customer instead of waiting for a complaint.

use chrono::{DateTime, Utc};

use super::{entries, Actor, App, AppError};
use crate::domain::{ConversationId, CustomerId};

/// Most follow-ups one sweep opens.
const SWEEP_BATCH: usize = 100;

/// A conversation was resolved: if it was the customer's first (their conversation 1),
/// their follow-up is scheduled (one already scheduled holds). No read: resolving stays
/// as cheap as it was.
pub async fn after_resolution(
    app: &App,
    conv: &ConversationId,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    if let (Some(after), 1) = (app.follow_up_after, conv.seq()) {
        app.store
            .schedule_follow_up(conv.customer(), now + after, false)
            .await?;
    }
    Ok(())
}

/// Schedules (or moves) a customer's follow-up: their personal agent, the holder of
/// their conversation, a supervisor or an admin decides when.
pub async fn set(
    app: &App,
    actor: &Actor,
    id: &CustomerId,
    at: DateTime<Utc>,
) -> Result<(), AppError> {
    let customer = super::conversations::customer_for(app, actor, id).await?;
    app.store.schedule_follow_up(&customer.id, at, true).await?;
    Ok(())
}

/// Cancels a customer's follow-up; `NotFound` when none was scheduled.
pub async fn cancel(app: &App, actor: &Actor, id: &CustomerId) -> Result<(), AppError> {
    super::conversations::customer_for(app, actor, id).await?;
    if app.store.cancel_follow_up(id).await? {
        Ok(())
    } else {
        Err(AppError::NotFound(format!(
            "no follow-up for customer `{id}`"
        )))
    }
}

/// Opens the follow-ups due by `now` (every replica calls this; each is taken once).
pub async fn sweep(app: &App, now: DateTime<Utc>) -> Result<usize, AppError> {
    let due = app.store.due_follow_ups(now, SWEEP_BATCH).await?;
    let mut opened = 0;
    for customer in due {
        if open(app, &customer, now).await? {
            opened += 1;
        }
    }
    Ok(opened)
}

async fn open(app: &App, id: &CustomerId, now: DateTime<Utc>) -> Result<bool, AppError> {
    let Some(customer) = app.store.customer(id).await? else {
        return Ok(false);
    };
    let name = customer
        .display_name
        .clone()
        .unwrap_or_else(|| "the customer".into());
    let text = format!("[follow-up] Time to contact {name} and ask how things are going.");
    let key = format!("follow-up:{id}:{}", now.timestamp_millis());
    let raw = entries::from_customer(&customer, None, &key, "Follow-up", &text)?;
    super::ingest::ingest_unscreened(app, raw, now).await?;
    app.metrics.follow_ups.inc();
    Ok(true)
}
