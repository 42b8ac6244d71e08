//! Agents' events pushed from outside a routing script (a customer wrote into a held
//! conversation: `message.created`), written in batches. One writer per store takes
//! every event waiting when it is free and sends them as one pipeline per routing group
//! (`XADD` each, then one `INCR` of the group's event counter, atomically: a group's
//! streams and counter share its slot), so under load Redis parses one `MULTI`/`EXEC`
//! and one `INCR` per batch instead of per message. Nothing waits for a timer: an event
//! that finds the writer idle goes out at once, alone.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use tokio::sync::{mpsc, oneshot};

use super::codec::from_redis;
use super::conn::Conn;
use crate::store::{StoreError, EVENTS_KEPT};

/// Events queued for the writer at most; a push beyond waits for room.
const QUEUED: usize = 4096;
/// Events in one batch at most (bounds one pipeline's size).
const BATCH: usize = 256;

/// One event to append: its stream, its group's counter, its fields.
pub(super) struct Pending {
    pub stream: String,
    pub counter: String,
    pub fields: [(&'static str, String); 4],
    pub done: oneshot::Sender<Result<(), StoreError>>,
}

/// The handle pushes go through; the writer task lives as long as a handle does, or
/// as long as the runtime that started it.
pub(super) struct EventBatcher {
    queue: mpsc::Sender<Pending>,
    conn: Conn,
}

impl EventBatcher {
    /// Starts the writer on the current Tokio runtime.
    pub fn start(conn: Conn) -> Self {
        let (queue, pending) = mpsc::channel(QUEUED);
        tokio::spawn(write_batches(conn.clone(), pending));
        Self { queue, conn }
    }

    /// Appends one event; answers once Redis holds it (or its batch failed). Should the
    /// writer be gone (its runtime ended before the store did), the event is written
    /// alone, as one batch of its own.
    pub async fn push(
        &self,
        stream: String,
        counter: String,
        fields: [(&'static str, String); 4],
    ) -> Result<(), StoreError> {
        let (done, answer) = oneshot::channel();
        let pending = Pending {
            stream,
            counter,
            fields,
            done,
        };
        let pending = match self.queue.send(pending).await {
            Ok(()) => match answer.await {
                Ok(result) => return result,
                // The writer took the event and ended before answering: whether Redis
                // holds it is unknown, as for any request cut off mid-way.
                Err(_) => return Err(StoreError::Unavailable("the event writer stopped".into())),
            },
            Err(mpsc::error::SendError(pending)) => pending,
        };
        pipeline(&pending.counter, std::slice::from_ref(&pending))
            .query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(from_redis)
    }
}

async fn write_batches(conn: Conn, mut pending: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(BATCH);
    while pending.recv_many(&mut batch, BATCH).await > 0 {
        write(&conn, std::mem::take(&mut batch)).await;
    }
}

/// One atomic pipeline per group, all sent together; each event hears its group's fate.
async fn write(conn: &Conn, batch: Vec<Pending>) {
    let mut by_counter: BTreeMap<String, Vec<Pending>> = BTreeMap::new();
    for event in batch {
        by_counter
            .entry(event.counter.clone())
            .or_default()
            .push(event);
    }
    let writes = by_counter.into_iter().map(|(counter, events)| async move {
        let result = pipeline(&counter, &events)
            .query_async::<()>(&mut conn.clone())
            .await;
        for event in events {
            let answer = result.as_ref().map_err(|e| from_redis(e.clone()));
            let _ = event.done.send(answer.copied());
        }
    });
    join_all(writes).await;
}

/// The `XADD`s of one group's events (stream order kept), then its counter's `INCR`,
/// so the shared poll that sees the counter move also finds the entries.
fn pipeline(counter: &str, events: &[Pending]) -> redis::Pipeline {
    let mut pipe = redis::pipe();
    pipe.atomic();
    for event in events {
        let cmd = pipe
            .cmd("XADD")
            .arg(&event.stream)
            .arg(&["MAXLEN", "~"])
            .arg(EVENTS_KEPT)
            .arg("*");
        for (name, value) in &event.fields {
            cmd.arg(*name).arg(value);
        }
        cmd.ignore();
    }
    pipe.cmd("INCR").arg(counter).ignore();
    pipe
}
