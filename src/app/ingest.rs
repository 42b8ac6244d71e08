//! Ingest: the one way an inbound message enters, whatever door it came through — parse,
//! store, count, tell the holding agent. Providers' messages are cut to the field limits
//! rather than refused, and their batches store every valid message.

use chrono::Utc;

use super::{App, AppError};
use crate::domain::{Decision, Direction, InboundMessage, RawInbound, Receipt, RouteReason};
use crate::routing::Fit;
use crate::store::EventKind;

/// Parses, stores, counts and notifies. A retry of the same `(channel, network,
/// external_id)` stores nothing and answers the first receipt with `duplicate: true`.
pub async fn ingest(app: &App, raw: RawInbound) -> Result<Receipt, AppError> {
    ingest_at(app, raw, Utc::now()).await
}

/// `ingest` at `now` (tests drive their own clock).
pub async fn ingest_at(
    app: &App,
    mut raw: RawInbound,
    now: chrono::DateTime<Utc>,
) -> Result<Receipt, AppError> {
    app.inboxes.apply(&mut raw);
    let msg = InboundMessage::parse(raw, &app.normaliser, &app.limits)?;
    super::blocks::screen(app, &msg)?;
    let mut receipt = store(app, msg, now).await?;
    receipt.auto_reply = super::auto_reply::out_of_hours(app, &receipt, now).await?;
    Ok(receipt)
}

/// Ingests what Switchboard itself records for a customer, blocked or not: a call's
/// entry (the phone's own rules decide what a caller reaches) and a follow-up.
pub(super) async fn ingest_unscreened(
    app: &App,
    mut raw: RawInbound,
    now: chrono::DateTime<Utc>,
) -> Result<Receipt, AppError> {
    app.inboxes.apply(&mut raw);
    let msg = InboundMessage::parse(raw, &app.normaliser, &app.limits)?;
    store(app, msg, now).await
}

async fn store(
    app: &App,
    mut msg: InboundMessage,
    now: chrono::DateTime<Utc>,
) -> Result<Receipt, AppError> {
    let masked = msg.mask_card_numbers(app.card_numbers);
    let receipt = app.store.ingest(&msg, now).await?;
    if !receipt.duplicate {
        app.metrics.retention.cards_masked(masked);
        count(app, &msg, &receipt);
        notify_holder(app, &receipt);
    }
    // After the atomic step, so a retry repeats it: a first delivery whose scheduling
    // failed was answered 503, and its retry (a duplicate, whose route is where the
    // conversation stands now) schedules the deadlines instead. The first schedule holds
    // (`ZADD NX`), and the sweep skips a deadline that no longer applies.
    let r = &receipt.route;
    let joined_held = r.decision == Decision::Assigned && r.reason == RouteReason::AlreadyAssigned;
    if receipt.duplicate || !joined_held {
        let channel = msg.medium().channel();
        super::deadlines::schedule(app, &receipt.conversation_id, channel, msg.at(now)).await?;
    }
    tracing::debug!(
        customer_id = %receipt.customer_id,
        conversation_id = %receipt.conversation_id,
        duplicate = receipt.duplicate,
        "message ingested"
    );
    Ok(receipt)
}

fn count(app: &App, msg: &InboundMessage, receipt: &Receipt) {
    let channel = msg.medium().channel();
    app.metrics.message(channel, Direction::In);
    app.metrics
        .routed(receipt.route.decision, receipt.route.reason);
    if receipt.repeat_contact {
        app.metrics
            .repeat_contacts
            .with_label_values(&[channel.as_str()])
            .inc();
    }
    let r = &receipt.route;
    if r.decision == Decision::Assigned && r.reason != RouteReason::AlreadyAssigned {
        app.metrics.assigned_now(channel, r.reason);
        // At once is at the first step: whoever took it had what the message asked for.
        let asked = msg.requirements();
        if !asked.is_empty() {
            app.metrics.fitted(Fit::Met, asked.language.as_ref(), 0.0);
        }
    }
}

/// Tells the agent holding the conversation that the customer wrote. Off the request's
/// path: the message is stored either way, and the timeline shows it if this is lost.
fn notify_holder(app: &App, receipt: &Receipt) {
    let held = receipt.route.reason == RouteReason::AlreadyAssigned;
    let Some(agent) = receipt.route.agent_id.clone().filter(|_| held) else {
        return;
    };
    let (store, conv) = (app.store.clone(), receipt.conversation_id.clone());
    tokio::spawn(async move {
        if let Err(e) = store
            .push_event(&agent, EventKind::MessageCreated, &conv)
            .await
        {
            tracing::warn!(%agent, error = %e, "message.created not recorded");
        }
    });
}

/// Ingests one provider message, cut to the field limits rather than refused (see
/// `Limits::fit`): every provider adapter's way in.
pub async fn ingest_provider(app: &App, raw: RawInbound) -> Result<Receipt, AppError> {
    ingest(app, app.limits.fit(raw)).await
}

/// What became of a batch of provider messages.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BatchReport {
    pub stored: usize,
    pub skipped: usize,
}

/// Ingests every message of a provider's batch. One the provider sent malformed, or
/// that breaks a field rule, is skipped, logged and counted: refusing the batch would
/// make the provider retry it forever and lose every message after it. A store failure
/// fails the whole batch (nothing unstored is acknowledged); the retry dedupes the rest.
pub async fn ingest_batch(
    app: &App,
    adapter: &'static str,
    items: Vec<Result<RawInbound, String>>,
) -> Result<BatchReport, AppError> {
    let mut report = BatchReport::default();
    for item in items {
        let why = match item {
            Ok(raw) => match ingest_provider(app, raw).await {
                Ok(_) => {
                    report.stored += 1;
                    continue;
                }
                Err(AppError::Blocked) => continue,
                Err(AppError::Invalid(why)) => why,
                Err(e) => return Err(e),
            },
            Err(why) => why,
        };
        tracing::warn!(adapter, reason = %why, "skipped an invalid message of a batch");
        app.metrics.skipped.with_label_values(&[adapter]).inc();
        report.skipped += 1;
    }
    Ok(report)
}
