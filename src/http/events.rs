//! `GET /v1/agents/{id}/events`: server-sent events for one agent. Events are kept per
//! agent in the store, so `Last-Event-ID` replays whatever a reconnecting agent missed.
//! A stream reads the store from its own cursor when it starts and whenever the
//! replica's one shared poll (`workers::event_hub`, every `sse.poll_interval_ms`) saw
//! something newer for its agent; it sends a comment as a heartbeat when idle, and ends
//! when the service starts draining, or with a last `reauth` event when its token
//! expires or stops standing (revoked, the agent removed: checked at each heartbeat).

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::stream;
use serde_json::{json, Value};

use super::auth::{credential_of, Credential, Staff, Tokens};
use super::error::ApiError;
use super::ops::Draining;
use super::resource;
use crate::app::{conversations, Actor, App};
use crate::domain::AgentId;
use crate::store::{AgentEvent, EventKind};
use crate::workers::event_hub::{is_after, EventHub, Subscription};

/// Events sent per poll at most.
const BATCH: usize = 100;
/// Messages of the timeline sent with an assignment, so nobody asks the customer again.
const RECENT_MESSAGES: usize = 20;

/// When an agent holding too many streams may try again (seconds).
const STREAM_RETRY_SECS: u64 = 5;

/// How the event stream paces itself (the shared poll's interval is the hub's).
#[derive(Debug, Clone, Copy)]
pub struct SseTiming {
    pub heartbeat: Duration,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/agents/{id}/events").route(web::get().to(events)));
}

/// The agent's events as `text/event-stream`: `conversation.assigned` and
/// `conversation.transferred` (with the customer and recent timeline),
/// `conversation.covered` (someone else took one of the agent's customers) and
/// `message.created`. Send `Last-Event-ID` (or `?last_event_id=`) to replay what was
/// missed; without it the stream starts with the next event.
#[utoipa::path(
    get,
    path = "/v1/agents/{id}/events",
    tag = "agents",
    params(
        ("id" = String, Path, description = "Agent id"),
        ("Last-Event-ID" = Option<String>, Header, description = "Replay events after this one"),
    ),
    security(("admin_token" = []), ("agent_jwt" = [])),
    responses(
        (status = 200, description = "An event stream", content_type = "text/event-stream"),
    )
)]
pub async fn events(
    staff: Staff,
    state: web::Data<App>,
    timing: web::Data<SseTiming>,
    draining: web::Data<Draining>,
    hub: web::Data<Arc<EventHub>>,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let agent: AgentId = id
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no agent `{id}`")))?;
    if !staff.may_act_as(&agent) {
        return Err(ApiError::Forbidden);
    }
    if state.store.agent(&agent).await?.is_none() {
        return Err(ApiError::NotFound(format!("no agent `{agent}`")));
    }
    let cursor = match last_event_id(&req) {
        Some(id) => id,
        None => state.store.last_event_id(&agent).await?,
    };
    // Each open stream holds a connection and a task: an agent gets a few (a desk in
    // some tabs), not as many as a leaked token can open.
    let subscription = hub
        .subscribe(&agent, &cursor)
        .ok_or(ApiError::TooManyRequests {
            retry_after_secs: STREAM_RETRY_SECS,
        })?;
    let feed = Feed {
        subscription,
        actor: staff.actor(),
        state,
        agent,
        cursor,
        timing: **timing,
        draining: (**draining).clone(),
        idle: Duration::ZERO,
        checked: None,
        credential: credential_of(&req),
        tokens: req.app_data::<web::Data<Tokens>>().cloned(),
        ended: false,
    };
    let body = stream::unfold(feed, |mut feed| async move {
        let chunk = feed.next_chunk().await?;
        Some((Ok::<_, actix_web::Error>(chunk), feed))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

fn last_event_id(req: &HttpRequest) -> Option<String> {
    let header = req
        .headers()
        .get("Last-Event-ID")
        .and_then(|v| v.to_str().ok());
    let query = req
        .query_string()
        .split('&')
        .find_map(|p| p.strip_prefix("last_event_id="));
    header
        .or(query)
        .map(str::trim)
        .filter(|s| valid_event_id(s))
        .map(str::to_owned)
}

/// Event ids look like `1700000000000-0`.
fn valid_event_id(id: &str) -> bool {
    let mut parts = id.splitn(2, '-');
    let digits = |s: Option<&str>| {
        s.is_some_and(|s| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()))
    };
    digits(parts.next()) && digits(parts.next())
}

struct Feed {
    state: web::Data<App>,
    /// Who opened the stream: each event shows only what they may read now.
    actor: Actor,
    agent: AgentId,
    cursor: String,
    timing: SseTiming,
    draining: Draining,
    idle: Duration,
    subscription: Subscription,
    /// The hub's newest id when this stream last read and found itself caught up;
    /// `None` until the first read (the replay from the stream's own cursor).
    checked: Option<String>,
    /// The token the stream was opened with: it ends when that expires or stops standing.
    credential: Option<Credential>,
    tokens: Option<web::Data<Tokens>>,
    /// The last event (`reauth`) was sent.
    ended: bool,
}

impl Feed {
    /// The next chunk to send: a batch of events, a heartbeat, or `None` to end.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            if self.ended || self.draining.is_draining() || self.subscription.is_closing() {
                return None;
            }
            if self.until_expiry().is_some_and(|left| left.is_zero()) {
                return Some(self.reauth("expired"));
            }
            if self.has_news() {
                if let Some(chunk) = self.read().await {
                    self.idle = Duration::ZERO;
                    return Some(chunk);
                }
            }
            // No store call and no wake-up while waiting: the hub polls for every stream
            // at once and wakes this one on news for its agent, or on draining.
            let started = Instant::now();
            let until_heartbeat = self.timing.heartbeat.saturating_sub(self.idle);
            let wait = self
                .until_expiry()
                .map_or(until_heartbeat, |e| e.min(until_heartbeat));
            self.subscription.changed(wait).await;
            self.idle += started.elapsed();
            if self.idle >= self.timing.heartbeat {
                self.idle = Duration::ZERO;
                if !self.still_stands().await {
                    return Some(self.reauth("revoked"));
                }
                return Some(Bytes::from_static(b": heartbeat\n\n"));
            }
        }
    }

    /// How long until the stream's token expires (`None`: it does not).
    fn until_expiry(&self) -> Option<Duration> {
        let exp = self.credential.as_ref()?.expires_at?;
        let left_ms = exp.saturating_mul(1000) - chrono::Utc::now().timestamp_millis();
        Some(Duration::from_millis(u64::try_from(left_ms).unwrap_or(0)))
    }

    /// Whether the stream's token still stands (its agent exists and it was not revoked).
    async fn still_stands(&self) -> bool {
        match (&self.credential, &self.tokens) {
            (Some(credential), Some(tokens)) => tokens.still_stands(&self.state, credential).await,
            _ => true,
        }
    }

    /// The last event: the desk signs in again and resumes with `Last-Event-ID`.
    fn reauth(&mut self, reason: &str) -> Bytes {
        self.ended = true;
        Bytes::from(format!(
            "event: reauth\ndata: {}\n\n",
            json!({ "reason": reason })
        ))
    }

    /// Whether to read the store: never read yet, or the hub saw an event past the
    /// cursor that this stream has not looked for yet.
    fn has_news(&self) -> bool {
        let newest = self.subscription.newest();
        match &self.checked {
            None => true,
            Some(checked) => *checked != newest && is_after(&newest, &self.cursor),
        }
    }

    /// Reads the next batch from the stream's cursor; `None` if there was none.
    async fn read(&mut self) -> Option<Bytes> {
        let newest = self.subscription.newest();
        let events = match self
            .state
            .store
            .agent_events(&self.agent, &self.cursor, BATCH)
            .await
        {
            Ok(events) => events,
            Err(e) => {
                tracing::warn!(agent = %self.agent, error = %e, "events not read this round");
                return None;
            }
        };
        // A full batch may have more behind it: read again before waiting.
        if events.len() < BATCH {
            self.checked = Some(newest);
        }
        let last = events.last()?.id.clone();
        let mut out = String::new();
        for event in &events {
            out.push_str(&self.render(event).await);
        }
        self.cursor = last;
        Some(Bytes::from(out))
    }

    /// An event as text: its ids, and for an event about a conversation the stream's
    /// reader may still read (what `GET /v1/conversations/{id}` would answer them now),
    /// the customer, channels, recent messages and deadlines.
    async fn render(&self, event: &AgentEvent) -> String {
        let mut data = json!({
            "id": event.id,
            "conversation_id": event.conversation_id,
            "reason": event.reason,
            "other_agent_id": event.other_agent,
        });
        if event.kind != EventKind::ConversationCovered {
            let conv = self
                .subscription
                .conversation_of(&event.id, &event.conversation_id, &*self.state.store)
                .await;
            if let Some(conv) = conv.filter(|c| conversations::may_read(&self.actor, c)) {
                let recent = conv.messages.len().saturating_sub(RECENT_MESSAGES);
                data["customer"] = serde_json::to_value(&conv.customer).unwrap_or(Value::Null);
                data["channels"] = serde_json::to_value(&conv.channels).unwrap_or(Value::Null);
                data["recent_messages"] =
                    serde_json::to_value(&conv.messages[recent..]).unwrap_or(Value::Null);
                data["deadlines"] =
                    serde_json::to_value(self.state.deadlines.of(&conv)).unwrap_or(Value::Null);
            }
        }
        format!(
            "id: {}\nevent: {}\ndata: {}\n\n",
            event.id,
            event.kind.as_str(),
            data
        )
    }
}

#[cfg(test)]
mod tests {
    use super::valid_event_id;

    #[test]
    fn only_stream_ids_are_accepted_as_cursors() {
        assert!(valid_event_id("1700000000000-0"));
        assert!(valid_event_id("0-0"));
        for bad in ["", "-", "12", "a-1", "1-", "1-2-3", "+", "(1-0"] {
            assert!(!valid_event_id(bad), "{bad}");
        }
    }
}
