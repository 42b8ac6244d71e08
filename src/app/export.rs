//! A customer's data on request (GDPR articles 15 and 20; CONTRACT "Export"): one JSON
//! document with the customer, their identities, ratings, every conversation wherever
//! it is (Redis or the archive) with its whole timeline (and, with an archive, its row
//! of `conversation_facts`), and their complaints.
//!
//! The document is written as it is read, a conversation at a time, so a customer with
//! years of history never sits whole in memory. A read that fails midway ends the stream
//! with an error: the document never closes, so a cut export cannot pass for a whole one.

use std::sync::Arc;

use chrono::Utc;
use futures_util::stream::{self, Stream, StreamExt};
use serde_json::{json, Value};

use super::{App, AppError};
use crate::domain::{
    ConversationId, ConversationView, CustomerId, CustomerView, Message, Satisfaction,
};

/// The document's own version, so that readers can tell later shapes apart.
pub const EXPORT_FORMAT: &str = "switchboard.customer-export/1";

/// What an export found about the customer before any conversation is read.
pub struct CustomerExport {
    customer: CustomerView,
    ratings: Vec<u8>,
}

/// The customer and their ratings, or `None` when no such customer exists.
pub async fn begin(app: &App, id: &CustomerId) -> Result<Option<CustomerExport>, AppError> {
    let Some(mut customer) = app.store.customer(id).await? else {
        return Ok(None);
    };
    let of = crate::store::RatingsOf::Customer(customer.id.clone());
    let ratings = app.store.recent_ratings(&of).await?;
    customer.satisfaction = Satisfaction::of(&ratings);
    customer.follow_up_due = app.store.follow_up(&customer.id).await?;
    Ok(Some(CustomerExport { customer, ratings }))
}

/// Where the writer is: the conversations still to read, and the complaints met so far
/// (written last, once every timeline was read).
struct Cursor {
    app: Arc<App>,
    pending: std::vec::IntoIter<ConversationId>,
    first: bool,
    complaints: Vec<Value>,
    done: bool,
}

impl CustomerExport {
    /// The document, in chunks: the head, each conversation as it is read, the tail.
    pub fn chunks(self, app: Arc<App>) -> impl Stream<Item = Result<String, AppError>> {
        let head = self.head();
        let cursor = Cursor {
            app,
            pending: self.customer.conversation_ids.clone().into_iter(),
            first: true,
            complaints: Vec::new(),
            done: false,
        };
        let body = stream::unfold(cursor, |mut cursor| async move {
            let chunk = cursor.next_chunk().await.transpose()?;
            Some((chunk, cursor))
        });
        stream::once(async move { Ok(head) }).chain(body)
    }

    /// Everything before the conversations, up to the opening of their array.
    fn head(&self) -> String {
        let c = &self.customer;
        let head = json!({
            "format": EXPORT_FORMAT,
            "exported_at": Utc::now(),
            "customer": {
                "id": c.id,
                "display_name": c.display_name,
                "tier": c.tier,
                "created_at": c.created_at,
                "personal_agent_id": c.personal_agent_id,
                "open_conversation_id": c.open_conversation_id,
                "open_complaint_conversation_id": c.open_complaint_conversation_id,
                "follow_up_due": c.follow_up_due,
                "satisfaction": c.satisfaction,
            },
            "identities": c.identities,
            "ratings": self.ratings,
        });
        let mut text = head.to_string();
        text.pop(); // the closing brace: the conversations follow
        text.push_str(",\"conversations\":[");
        text
    }
}

impl Cursor {
    /// The next conversation (with its separator), then the tail; `None` once written.
    async fn next_chunk(&mut self) -> Result<Option<String>, AppError> {
        if self.done {
            return Ok(None);
        }
        for id in self.pending.by_ref() {
            // A conversation deleted since the customer was read is simply not there.
            let Some(view) = self.app.store.conversation(&id).await? else {
                continue;
            };
            self.complaints.extend(complaints_in(&view));
            let ratings = self.app.store.conversation_ratings(&id).await?;
            let mut value = conversation_json(view, ratings);
            // Its reporting row (the event feed's archive sink), where the archive has one.
            if let (Some(archive), Some(object)) = (&self.app.archive, value.as_object_mut()) {
                let facts = archive
                    .conversation_facts(&id)
                    .await
                    .map_err(AppError::Unavailable)?;
                object.insert("facts".into(), facts.unwrap_or(Value::Null));
            }
            let mut text = String::from(if self.first { "" } else { "," });
            self.first = false;
            text.push_str(&value.to_string());
            return Ok(Some(text));
        }
        self.done = true;
        let tail = format!(
            "],\"complaints\":{}}}",
            Value::from(self.complaints.clone())
        );
        Ok(Some(tail))
    }
}

/// A conversation as the export shows it: the API's view with its whole timeline,
/// without the customer it repeats, and the customer's ratings of it by source.
fn conversation_json(view: ConversationView, ratings: Vec<(String, u8)>) -> Value {
    let mut value = serde_json::to_value(view).unwrap_or(Value::Null);
    if let Some(object) = value.as_object_mut() {
        object.remove("customer");
        object.remove("earlier");
        let ratings: serde_json::Map<String, Value> = ratings
            .into_iter()
            .map(|(s, r)| (s, Value::from(r)))
            .collect();
        object.insert("ratings".into(), Value::Object(ratings));
    }
    value
}

/// The complaints a timeline holds: the customer's own and those staff wrote down.
fn complaints_in(view: &ConversationView) -> Vec<Value> {
    let complaint = |m: &&Message| m.text.starts_with("[complaint]");
    view.messages
        .iter()
        .filter(complaint)
        .map(|m| {
            json!({
                "conversation_id": view.id,
                "message_id": m.id,
                "at": m.at,
                "direction": m.direction,
                "kind": m.kind,
                "text": m.text,
            })
        })
        .collect()
}
