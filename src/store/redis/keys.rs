//! Every Redis key, built in one place. The layout (`P` is the configured prefix):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `P:id:{kind:value}` | string | the customer id holding an identity |
//! | `P:c:{cid}` | hash | customer: `created_at`, `tier`, `display_name`, `personal_agent`, `pa_born` (the life of that agent, `Incarnation`), `group`, `lang`, `complaint`, `seq`, `open`, `last`, `merged_into`, `merged_open`, `dxt` and `dxl` (its idempotency records' expiry push and plain-key lookups, `ingest.lua`), `fseq` (its feed events' number) |
//! | `P:c:{cid}:ids` | set | the customer's identities as `kind:value` |
//! | `P:c:{cid}:convs` | list | the customer's conversation ids, oldest first |
//! | `P:c:{cid}:dx` | hash | idempotency key's digest → `<expiry ms>|<first receipt>` (`receipts.rs`); once a customer's records may number 64, `~table` → `<expiry ms>|` and 128 dots, which makes the hash a table for good (`as_table` in `ingest.lua`) |
//! | `P:c:{cid}:merged` | set | customers already absorbed (makes merges idempotent) |
//! | `P:c:{cid}:erasure` | hash | the customer's erasure, which outlives them: `state` (pending, done), `requested_at`, `done_at`, `merged` and `convs` (what it removes, by id), or `of` (the erasure of the customer this one was merged into) |
//! | `P:v:{cid}:N` | hash | conversation N (its stub once archived, marked `archived` = when): `state`, `created_at`, `resolved_at`, `queue` (0.1.0 wrote `default`; read by nobody), `repeat_contacts`, `group`, `agent` (mirrors of routing), `first_agent`, `first_assigned_at`, `transfers` and `complained` (its facts, `resolve.lua`), `ch:<channel>` per channel the customer wrote on, `ooh` (`<ms>|<message id>`: the message that got the out-of-hours answer of the closed period ending then) |
//! | `P:v:{cid}:N:m` / `:abs` | list / list | its messages (`message_record.rs`) / merged conversation ids |
//! | `P:v:{cid}:N:ch` | set | channels, as earlier versions kept them (read, no longer written) |
//! | `P:v:{cid}:N:nids` | set | ids of the transfer notes written into the timeline (a note arrives once however often it is retried) |
//!
//! | `P:v:{cid}:N:dl` | hash | replies' delivery reports (`<rank>|<JSON>`, `lua/delivery.lua`) and `p:<reply id>` → the provider's id of it |
//! | `P:pmid:{id}` | string | the reply a provider's message id (or the reply's own id) names: `<conversation>|<reply id>` (30 days) |
//! | `P:mid:{message-id}` | string | the conversation an e-mail Message-ID belongs to (180 days) |
//! | `P:ob:{ob}:due` / `:d:<id>` | zset / hash | the outbox: deliveries by next attempt / url, body, attempts, state, error |
//! | `P:call:{sid}` | string | a phone call's record (JSON), expiring after a day |
//! | `P:rl:{bucket}` | string | requests of a rate-limit bucket in its current window |
//! | `P:rt:{rt}…`, `P:rt:{rt:<group>}…` | (see `lua/routing/prelude.lua`) | a routing group's agents, load, queues, waits, timers, events, hand-offs |
//! | `P:ag:{agent}` | string | the routing group an agent works in (absent: `default`) |
//! | `P:rt:{rt…}:feed` | stream | the group's shard of the event feed: `type`, `subject`, `at` (ms), `data` (JSON), trimmed by time (`store::FeedStore`) |
//! | `P:c:{cid}:fp` | list | the customer's feed events not relayed yet (JSON: `n`, `type`, `subject`, `at`, `data`; `lua/feed/customer.lua`), numbered by the customer hash's `fseq` |
//! | `P:fd:{fd:K}:due` | zset | customers of feed shard K with events to relay → when announced (ms), or where a relay's claim put them |
//! | `P:export:{export:NAME}` | string | an export sink's cursor in the feed (`app::feed_sinks`; moved by `lua/feed/advance.lua` only from where it was) |
//! | `P:fd:{fd:K}:feed` | stream | customer-side feed shard `c:K`: `id` (`<customer>/<n>`), `type`, `subject`, `at`, `data`, trimmed by time |
//! | `P:ag:{agent}:revoked` | string | ms at or before which the agent's tokens are refused, expiring with the longest token lifetime |
//! | `P:erasures:{er}` | zset | pending erasures: customer → until when the replica running it holds it |
//! | `P:blocks:{bl}` / `:v` | set / string | blocked senders' identity keys / the list's version (moves with each change) |
//! | `P:groups` | set | the routing groups besides `default` |
//! | `P:arch:{arch:K}` | zset | shard K (`retention::due_shard`) of the archive's due list: customer → earliest resolution (ms) of a conversation not archived yet, or where a sweeper's claim put them |
//! | `P:fmt:{fmt}` | hash | the storage format gate: `write` (the format every replica writes; absent: 1), `finalized_at` (`store::format`) |
//! | `P:fmt:{fmt}:replicas` | hash | replica → `<reads>|<alive until ms>|<version>`, renewed by each live replica |
//!
//! Everything about one customer shares the hash tag `{cid}`, so each Lua script touches
//! one slot and runs unchanged on a Redis Cluster. Identity keys are tagged by the
//! identity and are only ever touched one key at a time. The scripts receive `P:c:{cid}`
//! and `P:v:{cid}` and append the suffixes above; nothing else names a key.

use crate::domain::{AgentId, ConversationId, CustomerId, Identity, RoutingGroup};

/// Builds keys under one prefix (tests use a random prefix per test).
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    pub fn identity(&self, identity: &Identity) -> String {
        format!("{}:id:{{{}}}", self.prefix, identity.key())
    }

    /// A rate-limit bucket's counter (`adapter:<hash>`, `agent:<id>`, `provider:meta`).
    pub fn rate(&self, bucket: &str) -> String {
        format!("{}:rl:{{{bucket}}}", self.prefix)
    }

    pub fn customer(&self, id: &CustomerId) -> String {
        format!("{}:c:{{{id}}}", self.prefix)
    }

    /// The customers this one absorbed (`merge_in.lua`'s guard).
    pub fn customer_absorbed(&self, id: &CustomerId) -> String {
        format!("{}:merged", self.customer(id))
    }

    /// Portfolio drops a merge into this customer still owes (merged customer → agent).
    pub fn customer_portfolio_drops(&self, id: &CustomerId) -> String {
        format!("{}:pfdrop", self.customer(id))
    }

    /// The customer's erasure record (`lua/erasure`), which outlives the customer.
    pub fn erasure(&self, id: &CustomerId) -> String {
        format!("{}:erasure", self.customer(id))
    }

    /// Pending erasures, by until when their runner holds them (erasures are rare: one key).
    pub fn erasures_pending(&self) -> String {
        format!("{}:erasures:{{er}}", self.prefix)
    }

    pub fn customer_identities(&self, id: &CustomerId) -> String {
        format!("{}:ids", self.customer(id))
    }

    /// The customer's idempotency records (`ingest.lua` appends `:dx` itself).
    pub fn customer_dedup(&self, id: &CustomerId) -> String {
        format!("{}:dx", self.customer(id))
    }

    pub fn customer_conversations(&self, id: &CustomerId) -> String {
        format!("{}:convs", self.customer(id))
    }

    /// Base of a customer's conversation keys; conversation N is `<base>:N`.
    pub fn conversations(&self, id: &CustomerId) -> String {
        format!("{}:v:{{{id}}}", self.prefix)
    }

    pub fn conversation(&self, id: &ConversationId) -> String {
        format!("{}:{}", self.conversations(id.customer()), id.seq())
    }

    /// The provider call id waiting in the phone queue for the conversation's agent.
    pub fn waiting_call(&self, id: &ConversationId) -> String {
        format!("{}:wcall", self.conversation(id))
    }

    pub fn conversation_messages(&self, id: &ConversationId) -> String {
        format!("{}:m", self.conversation(id))
    }

    pub fn conversation_channels(&self, id: &ConversationId) -> String {
        format!("{}:ch", self.conversation(id))
    }

    pub fn conversation_absorbed(&self, id: &ConversationId) -> String {
        format!("{}:abs", self.conversation(id))
    }

    /// A conversation's replies' delivery reports.
    pub fn conversation_deliveries(&self, id: &ConversationId) -> String {
        format!("{}:dl", self.conversation(id))
    }

    /// The reply a provider's message id names (its own slot; one key).
    pub fn provider_message(&self, provider_id: &str) -> String {
        format!("{}:pmid:{{{provider_id}}}", self.prefix)
    }

    /// The conversation an e-mail Message-ID belongs to (its own slot; one key).
    pub fn thread(&self, message_id: &str) -> String {
        format!("{}:mid:{{{message_id}}}", self.prefix)
    }

    /// Base of the outbox keys (`:due`, `:d:<id>`), one slot.
    /// Working-day deadlines of every conversation, by when they are due.
    pub fn deadlines(&self) -> String {
        format!("{}:dl:{{dl}}", self.prefix)
    }

    /// Customers' follow-ups, by when they are due.
    pub fn follow_ups(&self) -> String {
        format!("{}:fu:{{fu}}", self.prefix)
    }

    /// The outbox's hash tag: its deliveries by next attempt and each delivery share it.
    pub fn outbox(&self) -> String {
        format!("{}:ob:{{ob}}", self.prefix)
    }

    /// Deliveries by next attempt.
    pub fn outbox_due(&self) -> String {
        format!("{}:due", self.outbox())
    }

    /// One delivery: url, body, attempts, state, error.
    pub fn delivery(&self, id: &str) -> String {
        format!("{}:d:{id}", self.outbox())
    }

    /// A phone call's record (its own slot; one key).
    pub fn call(&self, external_id: &str) -> String {
        format!("{}:call:{{{external_id}}}", self.prefix)
    }

    /// Base of a routing group's keys: all of a group's routing state shares one slot,
    /// so capacity and assignment checks are atomic, and groups spread over a cluster's
    /// masters. The default group keeps the tag `{rt}` it had before groups existed, so
    /// a deployment's routing state stays where it was. The scripts append the suffixes.
    pub fn routing(&self, group: &RoutingGroup) -> String {
        if group.is_default() {
            format!("{}:rt:{{rt}}", self.prefix)
        } else {
            format!("{}:rt:{{rt:{group}}}", self.prefix)
        }
    }

    /// One shard of the archive's due list (`store::retention`).
    pub fn archive_due(&self, shard: u32) -> String {
        format!("{}:arch:{{arch:{shard}}}", self.prefix)
    }

    /// The customer's feed events not relayed yet (`lua/feed/customer.lua`).
    pub fn customer_feed(&self, id: &CustomerId) -> String {
        format!("{}:fp", self.customer(id))
    }

    /// Customer-side feed shard K's due list: customers with events to relay.
    pub fn feed_due(&self, shard: u32) -> String {
        format!("{}:fd:{{fd:{shard}}}:due", self.prefix)
    }

    /// Where an export sink (`webhook`) is in the feed: its encoded cursor.
    pub fn export_cursor(&self, name: &str) -> String {
        format!("{}:export:{{export:{name}}}", self.prefix)
    }

    /// Customer-side feed shard K (`c:K`), a stream the relay appends to.
    pub fn feed_shard(&self, shard: u32) -> String {
        format!("{}:fd:{{fd:{shard}}}:feed", self.prefix)
    }

    /// A routing group's shard of the event feed (a stream, written by the routing
    /// scripts' `feed` in the same script as the change).
    pub fn routing_feed(&self, group: &RoutingGroup) -> String {
        format!("{}:feed", self.routing(group))
    }

    /// A routing group's timers: sticky waits by when they expire.
    pub fn routing_timers(&self, group: &RoutingGroup) -> String {
        format!("{}:timers", self.routing(group))
    }

    /// Agents removed from a group, whose event logs stay readable.
    pub fn former_agents(&self, group: &RoutingGroup) -> String {
        format!("{}:former", self.routing(group))
    }

    pub fn agents(&self, group: &RoutingGroup) -> String {
        format!("{}:agents", self.routing(group))
    }

    pub fn agent(&self, group: &RoutingGroup, id: &AgentId) -> String {
        format!("{}:a:{id}", self.routing(group))
    }

    pub fn agent_events(&self, group: &RoutingGroup, id: &AgentId) -> String {
        format!("{}:ev:{id}", self.routing(group))
    }

    /// The conversations an agent holds, by since (kept by the routing scripts).
    pub fn held(&self, group: &RoutingGroup, id: &AgentId) -> String {
        format!("{}:held:{id}", self.routing(group))
    }

    /// Counts a group's events (see `lua/routing/prelude.lua`).
    pub fn event_sequence(&self, group: &RoutingGroup) -> String {
        format!("{}:evseq", self.routing(group))
    }

    pub fn route(&self, group: &RoutingGroup, conversation: &ConversationId) -> String {
        format!("{}:r:{conversation}", self.routing(group))
    }

    /// A queue's conversations in serving order (`queue` a channel, or `supervisor`).
    pub fn queue(&self, group: &RoutingGroup, queue: &str) -> String {
        format!("{}:q:{queue}", self.routing(group))
    }

    /// Transfers' notes not yet written into their timeline (`transfer_notes.rs`).
    pub fn transfer_notes(&self, group: &RoutingGroup) -> String {
        format!("{}:notes", self.routing(group))
    }

    /// Conversations handed off from this group to another, and where to.
    pub fn hand_offs(&self, group: &RoutingGroup) -> String {
        format!("{}:out", self.routing(group))
    }

    /// The group an agent works in (absent: the default group). One key, its own slot.
    /// The most recent ratings of the conversations an agent served (its own slot).
    pub fn agent_ratings(&self, id: &AgentId) -> String {
        format!("{}:sat:{{{id}}}", self.prefix)
    }

    /// The most recent ratings of a customer's conversations (`rate.lua` appends
    /// `:ratings` to the customer's hash itself).
    pub fn customer_ratings(&self, id: &CustomerId) -> String {
        format!("{}:ratings", self.customer(id))
    }

    pub fn agent_group(&self, id: &AgentId) -> String {
        format!("{}:ag:{{{id}}}", self.prefix)
    }

    /// When the agent's tokens were last revoked (`store::CredentialStore`).
    pub fn agent_revoked(&self, id: &AgentId) -> String {
        format!("{}:revoked", self.agent_group(id))
    }

    /// The storage format gate: the deployment's write format.
    pub fn format(&self) -> String {
        format!("{}:fmt:{{fmt}}", self.prefix)
    }

    /// Replicas' announcements of the newest format they read (same slot as `format`).
    pub fn format_replicas(&self) -> String {
        format!("{}:replicas", self.format())
    }

    /// Blocked senders' identity keys (`:v`, the list's version, shares the slot).
    pub fn blocks(&self) -> String {
        format!("{}:blocks:{{bl}}", self.prefix)
    }

    /// The blocklist's version.
    pub fn blocks_version(&self) -> String {
        format!("{}:v", self.blocks())
    }

    /// The audit trail: one stream, numbered by Redis, so its ids are the trail's order
    /// (`store::AuditStore`).
    pub fn audit(&self) -> String {
        format!("{}:audit", self.prefix)
    }

    /// Every group that ever had an agent or a conversation (the default one implied):
    /// what the timers and the gauges walk.
    pub fn groups(&self) -> String {
        format!("{}:groups", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(key: &str) -> &str {
        let start = key.find('{').expect("has a tag") + 1;
        let end = key[start..].find('}').expect("closed") + start;
        &key[start..end]
    }

    #[test]
    fn all_keys_of_a_customer_share_its_hash_tag() {
        let keys = Keys::new("sb");
        let c: CustomerId = "0193a1b2c3d4e5f60718293a4b5c6d7e".parse().expect("id");
        let conv = ConversationId::new(c.clone(), 3);
        for key in [
            keys.customer(&c),
            keys.customer_identities(&c),
            keys.customer_conversations(&c),
            keys.conversations(&c),
            keys.conversation(&conv),
            keys.conversation_messages(&conv),
            keys.conversation_channels(&conv),
            keys.conversation_absorbed(&conv),
        ] {
            assert_eq!(tag(&key), c.as_str(), "{key}");
        }
        assert_eq!(
            keys.conversation_messages(&conv),
            format!("sb:v:{{{c}}}:3:m")
        );
    }

    #[test]
    fn each_routing_group_has_its_own_tag_and_default_keeps_the_old_one() {
        let keys = Keys::new("sb");
        assert_eq!(tag(&keys.routing(&RoutingGroup::default())), "rt");
        let sales: RoutingGroup = "sales".parse().expect("group");
        let a: AgentId = "ann".parse().expect("agent");
        for key in [
            keys.agents(&sales),
            keys.agent(&sales, &a),
            keys.agent_events(&sales, &a),
        ] {
            assert_eq!(tag(&key), "rt:sales", "{key}");
        }
    }

    /// Keys are built here only (the scripts append the suffixes their layout lists): a
    /// key formatted anywhere else in the Redis store is a layout nobody wrote down.
    #[test]
    fn no_other_module_builds_a_key() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/redis");
        let mut offenders = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("redis dir") {
            let path = entry.expect("entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if !name.ends_with(".rs") || name == "keys.rs" {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("source");
            for (n, line) in text.lines().enumerate() {
                let formats = line.contains("format!(");
                if formats && (line.contains("\"{}:") || line.contains("keys.")) {
                    offenders.push(format!("{name}:{}: {}", n + 1, line.trim()));
                }
            }
        }
        assert!(offenders.is_empty(), "{offenders:#?}");
    }
}
