//! Every open agent event stream of this replica shares one poll of the store: the hub
//! knows each watched agent's newest event id, asks the store once per interval for all
//! of them (`Store::newest_events`: one `XREAD` per routing group), and wakes the
//! streams of agents with something new, which then read their own events from their own
//! cursor. Idle agents cost nothing per stream; replay by `Last-Event-ID` stays exact,
//! because each stream still reads the store from its own cursor. The conversation an
//! event shows is read once per event for all of the agent's streams, and an agent may
//! hold only so many streams open.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{watch, OnceCell};
use tokio_util::sync::CancellationToken;

use crate::domain::{AgentId, ConversationId, ConversationView};
use crate::store::Store;

/// Events the poll looks ahead per agent (only the newest id is kept).
const LOOK_AHEAD: usize = 100;
/// Conversation reads kept per agent for its other streams (about two batches).
const SHARED_READS: usize = 256;
/// Open streams per agent unless configured: a desk in a few tabs, not a flood.
pub const DEFAULT_MAX_STREAMS: usize = 5;

/// A conversation as one read found it, shared by the streams that render the event.
type SharedRead = Arc<OnceCell<Option<ConversationView>>>;

struct Watched {
    newest: watch::Sender<String>,
    streams: usize,
    /// Recent events' conversation reads, oldest first.
    reads: VecDeque<(String, SharedRead)>,
}

/// See the module docs.
pub struct EventHub {
    watched: Mutex<HashMap<AgentId, Watched>>,
    /// Set when the service starts draining: every stream wakes and ends.
    closing: watch::Sender<bool>,
    max_streams: usize,
}

impl Default for EventHub {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_STREAMS)
    }
}

/// One stream's interest in an agent; it stops being watched with its last subscription.
pub struct Subscription {
    hub: Arc<EventHub>,
    agent: AgentId,
    newest: watch::Receiver<String>,
    closing: watch::Receiver<bool>,
}

impl EventHub {
    /// A hub letting each agent hold at most `max_streams` streams open (at least one).
    pub fn new(max_streams: usize) -> Self {
        Self {
            watched: Mutex::default(),
            closing: watch::channel(false).0,
            max_streams: max_streams.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<AgentId, Watched>> {
        self.watched.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Watches `agent` from `cursor` (the stream's own position) on; `None` while the
    /// agent already holds as many streams as allowed.
    pub fn subscribe(self: &Arc<Self>, agent: &AgentId, cursor: &str) -> Option<Subscription> {
        let mut watched = self.lock();
        let entry = watched.entry(agent.clone()).or_insert_with(|| Watched {
            newest: watch::channel(cursor.to_owned()).0,
            streams: 0,
            reads: VecDeque::new(),
        });
        if entry.streams >= self.max_streams {
            return None;
        }
        entry.streams += 1;
        Some(Subscription {
            hub: self.clone(),
            agent: agent.clone(),
            newest: entry.newest.subscribe(),
            closing: self.closing.subscribe(),
        })
    }

    /// The shared read of `event`'s conversation for `agent`'s streams (a fresh one
    /// when the agent is no longer watched).
    fn shared_read(&self, agent: &AgentId, event: &str) -> SharedRead {
        let mut watched = self.lock();
        let Some(w) = watched.get_mut(agent) else {
            return SharedRead::default();
        };
        if let Some((_, read)) = w.reads.iter().find(|(id, _)| id == event) {
            return read.clone();
        }
        if w.reads.len() >= SHARED_READS {
            w.reads.pop_front();
        }
        let read = SharedRead::default();
        w.reads.push_back((event.to_owned(), read.clone()));
        read
    }

    /// Wakes every stream to end it (the service is draining).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Every watched agent with the newest event id known.
    fn cursors(&self) -> Vec<(AgentId, String)> {
        self.lock()
            .iter()
            .map(|(agent, w)| (agent.clone(), w.newest.borrow().clone()))
            .collect()
    }

    /// Records a newer event of `agent` and wakes its streams.
    fn advance(&self, agent: &AgentId, newest: String) {
        if let Some(w) = self.lock().get(agent) {
            w.newest.send_if_modified(|known| {
                let newer = is_after(&newest, known);
                if newer {
                    *known = newest;
                }
                newer
            });
        }
    }

    /// Agents watched now (for tests and metrics).
    pub fn watched(&self) -> usize {
        self.lock().len()
    }
}

impl Subscription {
    /// The newest event id the hub knows of.
    pub fn newest(&self) -> String {
        self.newest.borrow().clone()
    }

    /// Waits until the hub knows of a newer event or closes, at most `wait`: an idle
    /// stream costs no work between its heartbeats.
    pub async fn changed(&mut self, wait: Duration) {
        let _ = tokio::time::timeout(wait, async {
            tokio::select! {
                _ = self.newest.changed() => {}
                _ = self.closing.changed() => {}
            }
        })
        .await;
    }

    pub fn is_closing(&self) -> bool {
        *self.closing.borrow()
    }

    /// The conversation event `event` shows, read from the store by the first of the
    /// agent's streams to render it and shared with the others; `None` when it is gone
    /// or could not be read.
    pub async fn conversation_of(
        &self,
        event: &str,
        conversation: &ConversationId,
        store: &dyn Store,
    ) -> Option<ConversationView> {
        let read = self.hub.shared_read(&self.agent, event);
        read.get_or_init(|| async {
            match store.conversation(conversation).await {
                Ok(conv) => conv,
                Err(e) => {
                    tracing::warn!(error = %e, "an event's conversation was not read");
                    None
                }
            }
        })
        .await
        .clone()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut watched = self.hub.lock();
        if let Some(w) = watched.get_mut(&self.agent) {
            w.streams -= 1;
            if w.streams == 0 {
                watched.remove(&self.agent);
            }
        }
    }
}

/// Whether stream id `a` (`<ms>-<seq>`) comes after `b`.
pub fn is_after(a: &str, b: &str) -> bool {
    fn parts(id: &str) -> (u64, u64) {
        let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
        (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
    }
    parts(a) > parts(b)
}

/// Polls the store for every watched agent every `every` until `stop`.
pub async fn run_event_hub(
    hub: Arc<EventHub>,
    store: Arc<dyn Store>,
    every: Duration,
    stop: CancellationToken,
) {
    let mut ticker = super::Ticker::new(every, stop);
    while ticker.next().await {
        let cursors = hub.cursors();
        if cursors.is_empty() {
            continue;
        }
        match store.newest_events(&cursors, LOOK_AHEAD).await {
            Ok(newest) => {
                for (agent, id) in newest {
                    hub.advance(&agent, id);
                }
            }
            Err(e) => tracing::warn!(error = %e, "agents' events not polled this round"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_compare_by_time_then_sequence() {
        assert!(is_after("2-0", "1-9"));
        assert!(is_after("1-10", "1-9"));
        assert!(!is_after("1-9", "1-9"));
        assert!(is_after("1-0", "0-0"));
    }

    #[tokio::test]
    async fn an_agent_is_watched_while_a_stream_subscribes_and_woken_on_news() {
        let hub = Arc::new(EventHub::default());
        let agent: AgentId = "ann".parse().expect("id");
        let mut one = hub.subscribe(&agent, "5-0").expect("room");
        let two = hub.subscribe(&agent, "7-0").expect("room");
        assert_eq!(hub.watched(), 1);
        hub.advance(&agent, "4-0".into());
        assert_eq!(one.newest(), "5-0", "never goes back");
        hub.advance(&agent, "9-0".into());
        one.changed(Duration::from_secs(1)).await;
        assert_eq!((one.newest(), two.newest()), ("9-0".into(), "9-0".into()));
        drop(one);
        assert_eq!(hub.watched(), 1);
        drop(two);
        assert_eq!(hub.watched(), 0);
    }

    #[test]
    fn an_agent_holds_at_most_the_configured_streams() {
        let hub = Arc::new(EventHub::new(2));
        let agent: AgentId = "ann".parse().expect("id");
        let one = hub.subscribe(&agent, "0-0").expect("first");
        let _two = hub.subscribe(&agent, "0-0").expect("second");
        assert!(hub.subscribe(&agent, "0-0").is_none(), "a third is refused");
        let other: AgentId = "bob".parse().expect("id");
        assert!(hub.subscribe(&other, "0-0").is_some(), "per agent");
        drop(one);
        assert!(hub.subscribe(&agent, "0-0").is_some(), "room again");
    }

    #[tokio::test]
    async fn closing_wakes_a_waiting_stream_at_once() {
        let hub = Arc::new(EventHub::default());
        let agent: AgentId = "ann".parse().expect("id");
        let mut sub = hub.subscribe(&agent, "0-0").expect("room");
        let waiter = tokio::spawn(async move {
            sub.changed(Duration::from_secs(30)).await;
            sub.is_closing()
        });
        tokio::task::yield_now().await;
        hub.close();
        let closed = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("woken well before its 30 s wait")
            .expect("task");
        assert!(closed);
    }
}
