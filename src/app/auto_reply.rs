//! Out of hours (CONTRACT "Out of hours"): outside the business-hours calendar the
//! receipt carries `auto_reply` with the next opening, for the adapter to answer the
//! customer with, once per conversation and closed period.
//!
//! Which message of a period had it is kept with the conversation (`claim_auto_reply`,
//! one round trip); this replica also remembers the conversations whose answer of the
//! current period went out, so the rest of a busy night's messages cost nothing extra.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{App, AppError};
use crate::domain::{AutoReply, ConversationId, Receipt};
use crate::store::sharded_cache::ShardedCache;

/// Conversations remembered at most; past that a shard of the memory starts over (a
/// forgotten one costs one round trip, never a second answer).
const REMEMBERED: usize = 65_536;

/// How long a remembered answer counts: longer than any closed period (its end is part
/// of what is remembered, so a later period is never mistaken for it).
const REMEMBERED_FOR: Duration = Duration::from_secs(14 * 24 * 3600);

/// Conversations whose out-of-hours answer of a closed period went out, by period end:
/// sharded, so a busy night's messages on different threads rarely meet on one lock.
pub struct Answered {
    periods: ShardedCache<ConversationId, DateTime<Utc>>,
}

impl Default for Answered {
    fn default() -> Self {
        Self {
            periods: ShardedCache::new(REMEMBERED),
        }
    }
}

impl std::fmt::Debug for Answered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answered").finish_non_exhaustive()
    }
}

impl Answered {
    fn knows(&self, conv: &ConversationId, until: DateTime<Utc>) -> bool {
        self.periods.get_within(conv, REMEMBERED_FOR) == Some(until)
    }

    fn remember(&self, conv: &ConversationId, until: DateTime<Utc>) {
        self.periods.put(conv.clone(), until);
    }
}

/// The hint for this receipt at `now`: for the closed period's first message of the
/// conversation (and that message's retries) only.
pub async fn out_of_hours(
    app: &App,
    receipt: &Receipt,
    now: DateTime<Utc>,
) -> Result<Option<AutoReply>, AppError> {
    let Some(until) = app.deadlines.calendar.next_open(now) else {
        return Ok(None);
    };
    let conv = &receipt.conversation_id;
    // A retry asks the store: it may be the message that had the answer.
    if !receipt.duplicate && app.auto_replies.knows(conv, until) {
        return Ok(None);
    }
    let first = app
        .store
        .claim_auto_reply(conv, until, &receipt.message_id)
        .await?;
    app.auto_replies.remember(conv, until);
    Ok(first.then(|| AutoReply {
        kind: "out_of_hours".into(),
        next_open_at: until,
    }))
}
