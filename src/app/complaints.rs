//! "Complain to a manager" (the practice: a button in the customer's account, and every
//! complaint read): the complaint joins the customer's conversation timeline (opening one
//! if needed), marks an open complaint — the IVR's `open_complaint` rule and the highest
//! queue priority — and goes to the supervisor queue, ahead of routine work. A rating of
//! 1–2 raises one; resolving the conversation closes it.

use uuid::Uuid;

use super::entries;
use super::{App, AppError};
use crate::domain::{Channel, ConversationId, CustomerId};
use crate::routing::COMPLAINT_PRIORITY;
use crate::store::{Queue, TransferTarget};

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

/// Raises a complaint; answers the conversation that holds it. `external_id` makes a
/// retried request join the first (the widget's own id for the click).
pub async fn raise(
    app: &App,
    customer: &CustomerId,
    text: &str,
    channel: Channel,
    source: Source,
    external_id: Option<&str>,
) -> Result<ConversationId, AppError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_COMPLAINT_CHARS {
        return Err(AppError::Invalid(format!(
            "`text` must be 1-{MAX_COMPLAINT_CHARS} characters"
        )));
    }
    let not_found = || AppError::NotFound(format!("no customer `{customer}`"));
    let view = app.store.customer(customer).await?.ok_or_else(not_found)?;
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
    app.store.set_open_complaint(&view.id, Some(&conv)).await?;
    if !receipt.duplicate {
        app.store.raise_priority(&conv, COMPLAINT_PRIORITY).await?;
        let supervisor = TransferTarget::Queue(Queue::Supervisor);
        let outcome = app
            .store
            .transfer(&conv, &supervisor, chrono::Utc::now())
            .await?;
        if let crate::store::TransferOutcome::Transferred { assignments, .. } = outcome {
            super::bridge::assigned(app, &assignments).await;
        }
        app.metrics
            .complaints
            .with_label_values(&[channel.as_str(), source.as_str()])
            .inc();
    }
    Ok(conv)
}
