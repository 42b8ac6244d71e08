//! The store's operations by role: the one list both the role traits (`store::Store` is
//! their sum) and the timing decorator (`app::instrumented`) are generated from. A new
//! operation is an entry here, its implementation in each backend's file of that role
//! (`memory/<role>.rs`, `redis/<role>.rs`) and its tests.

/// Hands every role and its operations to `$callback!`, in the form
/// `Role { fn op(arg: Type, ...) -> Answer => span id; ... }`: each operation answers
/// `Result<Answer, StoreError>`; `=> expr` names the id the decorator's span records.
macro_rules! for_each_operation {
    ($callback:ident) => {
        $callback! {
            /// Customers: stitching inbound messages to them, reading them, their tier.
            CustomerStore {
                /// Stitches the message to its customer (creating or merging customers as its
                /// identities prove), appends it to their one open conversation and answers the
                /// receipt. A message with an idempotency key seen within the dedup TTL stores
                /// nothing and answers the first receipt with `duplicate: true`.
                fn ingest(
                    msg: &InboundMessage,
                    now: DateTime<Utc>,
                ) -> Receipt => msg.idempotency_key();
                /// A customer by id; the id of a customer merged into another finds the survivor.
                fn customer(id: &CustomerId) -> Option<CustomerView> => id;
                /// Sets a customer's tier (following merges); `None` if there is no such customer.
                fn set_tier(id: &CustomerId, tier: &str) -> Option<CustomerView>;
                /// The one customer holding a normalised identity.
                fn customer_by_identity(identity: &Identity) -> Option<CustomerView>;
            }
            /// Conversations: their timelines, resolving, replies, e-mail threads.
            ConversationStore {
                /// A conversation with its whole timeline (merged conversations included), in
                /// order.
                fn conversation(id: &ConversationId) -> Option<ConversationView> => id;
                /// Marks a conversation resolved, which starts its reopen window (and closes the
                /// customer's open complaint if this conversation holds it).
                fn resolve(id: &ConversationId, now: DateTime<Utc>) -> ResolveOutcome => id;
                /// Appends an agent's outbound message (or note) to the conversation's timeline.
                fn add_reply(
                    id: &ConversationId,
                    message: &Message,
                    now: DateTime<Utc>,
                ) -> ReplyOutcome;
                /// Remembers which conversation an e-mail `Message-ID` belongs to (for 180
                /// days), so a reply that names it in `In-Reply-To`/`References` finds its
                /// thread.
                fn record_thread(
                    message_id: &str,
                    conversation: &ConversationId,
                ) -> () => message_id;
                /// The conversation an e-mail `Message-ID` belongs to.
                fn thread(message_id: &str) -> Option<ConversationId> => message_id;
                /// Claims the conversation's out-of-hours answer for the closed period ending
                /// `until`: true for the period's first message (and its retries), false for
                /// the others.
                fn claim_auto_reply(
                    id: &ConversationId,
                    until: DateTime<Utc>,
                    message: &MessageId,
                ) -> bool => id;
            }
            /// Agents: profiles, presence, removal and what they hold.
            AgentStore {
                /// Creates or updates an agent's profile (new agents start offline); answers the
                /// agent and whether it was created.
                fn put_agent(profile: &AgentProfile, now: DateTime<Utc>) -> SavedAgent;
                fn agent(id: &AgentId) -> Option<AgentView>;
                fn agents() -> Vec<AgentView>;
                /// The conversations an agent holds now, longest held first (their desk's list).
                fn held(agent: &AgentId) -> Vec<ConversationId>;
                /// Sets presence: coming online fills the agent's free capacity from their waiting
                /// customers and the queues; going offline sends their waiting customers elsewhere.
                /// `None` when there is no such agent.
                fn set_presence(
                    id: &AgentId,
                    presence: Presence,
                    now: DateTime<Utc>,
                ) -> Option<Vec<Assignment>>;
                /// Removes an agent: what it holds and who waits for it go back to routing now; its
                /// customers get a new personal agent when they next need one. `None` if unknown.
                fn delete_agent(id: &AgentId, now: DateTime<Utc>) -> Option<Vec<Assignment>>;
            }
            /// Routing beyond a message's arrival: timers, transfers, requirements, queues,
            /// calls' ends.
            RoutingStore {
                /// Sticky waits that expired by `now` fall back or join the queue. Safe to call
                /// from every replica at once: each expiry is claimed by exactly one caller.
                fn fire_timers(now: DateTime<Utc>) -> Vec<Assignment>;
                /// Moves a routed conversation to another agent or a queue, freeing its
                /// holder's unit; its note (if any) is in the timeline exactly when the
                /// transfer happened.
                fn transfer(
                    id: &ConversationId,
                    to: &TransferTarget,
                    note: Option<&Message>,
                    now: DateTime<Utc>,
                ) -> TransferOutcome => id;
                /// Queue depths, oldest waits and agents by presence, deployment-wide.
                fn snapshot() -> RoutingSnapshot;
                /// Sets what a routed conversation needs from its agent, relaxing again from `now`
                /// (`routing::Routing::require`); `None` when it is not routed. Answers the
                /// assignments this made.
                fn set_requirements(
                    id: &ConversationId,
                    requirements: &Requirements,
                    now: DateTime<Utc>,
                ) -> Option<Vec<Assignment>> => id;
                /// The conversations waiting in a queue (a channel's, or the supervisor's) across
                /// every routing group, first first, at most `limit`.
                fn queued(queue: &Queue, limit: usize) -> Vec<QueuedConversation>;
                /// Raises a routed conversation's queue priority to at least `floor` (a queued one
                /// moves up at once); false when it is not routed.
                fn raise_priority(conv: &ConversationId, floor: u8) -> bool;
                /// A call hung up: frees the phone unit the conversation holds (it stays open), or
                /// takes it out of the phone queue, but only while it is routed on the phone
                /// channel; a conversation the call joined on another channel, or in the supervisor
                /// queue, keeps its holder or queue. The freed unit serves whoever waits. Until the
                /// deployment writes `format::AFTER_CALL_WORK`, the holder keeps the unit.
                fn release(id: &ConversationId, now: DateTime<Utc>) -> Vec<Assignment> => id;
            }
            /// Agents' event logs, which their streams replay.
            EventStore {
                /// Tells an agent something (e.g. `message.created`) outside a routing decision.
                fn push_event(
                    agent: &AgentId,
                    kind: EventKind,
                    conversation: &ConversationId,
                ) -> ();
                /// Up to `limit` of the agent's events after `after` (exclusive), oldest first.
                fn agent_events(agent: &AgentId, after: &str, limit: usize) -> Vec<AgentEvent>;
                /// The id of the agent's newest event (`0-0` when there is none): where a client
                /// with no `Last-Event-ID` starts.
                fn last_event_id(agent: &AgentId) -> String;
                /// For each agent with events after its cursor, the id of the newest of the next
                /// `limit`. One round trip per routing group however many agents: what lets every
                /// open event stream of a replica share one poll (`workers::event_hub`).
                fn newest_events(
                    cursors: &[(AgentId, String)],
                    limit: usize,
                ) -> Vec<(AgentId, String)>;
            }
            /// Phone calls: their records and the calls waiting in the provider's queue.
            CallStore {
                /// A call's record, by the provider's call id.
                fn call(external_id: &str) -> Option<CallRecord> => external_id;
                /// Stores (or replaces) a call's record, kept for `CALL_TTL_SECS`.
                fn save_call(call: &CallRecord) -> () => call.external_id;
                /// Remembers that call `external_id` waits in the provider's queue for whoever
                /// routing gives `conv` to (kept for `CALL_TTL_SECS`).
                fn set_waiting_call(conv: &ConversationId, external_id: &str) -> ();
                /// Takes (reads and forgets, in one step) the call waiting for `conv`: of two
                /// replicas asking at once, one gets it.
                fn take_waiting_call(conv: &ConversationId) -> Option<String>;
            }
            /// What is due later: working-day deadlines and customers' follow-ups.
            ScheduleStore {
                /// Schedules a conversation's working-day deadlines, keeping any already scheduled.
                fn schedule_deadlines(conv: &ConversationId, due: &Deadlines) -> ();
                /// Drops deadlines that no longer apply (answered, resolved).
                fn clear_deadlines(conv: &ConversationId, kinds: &[DeadlineKind]) -> ();
                /// Takes up to `limit` deadlines due by `now`, oldest first; each is handed to one
                /// caller however many replicas ask.
                fn due_deadlines(
                    now: DateTime<Utc>,
                    limit: usize,
                ) -> Vec<(ConversationId, DeadlineKind)>;
                /// Schedules a customer's follow-up (a proactive contact by their personal agent);
                /// with `replace` false a follow-up already scheduled holds.
                fn schedule_follow_up(
                    customer: &CustomerId,
                    at: DateTime<Utc>,
                    replace: bool,
                ) -> ();
                /// Cancels a customer's follow-up; whether one was scheduled.
                fn cancel_follow_up(customer: &CustomerId) -> bool;
                /// When a customer's follow-up is due, if one is scheduled.
                fn follow_up(customer: &CustomerId) -> Option<DateTime<Utc>>;
                /// Takes up to `limit` follow-ups due by `now`, each handed to one caller.
                fn due_follow_ups(now: DateTime<Utc>, limit: usize) -> Vec<CustomerId>;
            }
            /// What customers tell us: complaints and ratings.
            FeedbackStore {
                /// Marks (or, with `None`, clears) the conversation holding a customer's open
                /// complaint: it raises their queue priority and sends their calls past the menu.
                fn set_open_complaint(
                    customer: &CustomerId,
                    conv: Option<&ConversationId>,
                ) -> ();
                /// Records a customer's rating (1–5) of a conversation, once per conversation and
                /// source; `None` when there is no such conversation.
                fn rate(
                    conv: &ConversationId,
                    source: &str,
                    rating: u8,
                    now: DateTime<Utc>,
                ) -> Option<Rated>;
                /// The most recent ratings (newest first, at most `RECENT_RATINGS`) of the
                /// conversations an agent served, or of a customer's.
                fn recent_ratings(of: &RatingsOf) -> Vec<u8>;
                /// A conversation's ratings, by source (what a customer's export lists).
                fn conversation_ratings(conv: &ConversationId) -> Vec<(String, u8)> => conv;
            }
            /// Replies on their way out: the durable outbox.
            OutboxStore {
                /// Puts a reply in the durable outbox, due now.
                fn enqueue_delivery(
                    id: &str,
                    url: &str,
                    body: &str,
                    now: DateTime<Utc>,
                ) -> () => id;
                /// Claims up to `limit` due deliveries, leased until `lease_until` (see
                /// `claim.lua`).
                fn claim_deliveries(
                    now: DateTime<Utc>,
                    lease_until: DateTime<Utc>,
                    limit: usize,
                ) -> Vec<Delivery>;
                /// Records an attempt's outcome.
                fn finish_delivery(id: &str, outcome: &DeliveryOutcome) -> () => id;
                /// Where a reply's delivery stands.
                fn delivery_state(id: &str) -> Option<DeliveryState> => id;
                /// Remembers that `provider_id` (the provider's message id, or the reply's own)
                /// names reply `message` of `conv`, for 30 days.
                fn record_provider_id(
                    conv: &ConversationId,
                    message: &MessageId,
                    provider_id: &str,
                ) -> () => provider_id;
                /// The reply `provider_id` names.
                fn reply_by_provider_id(
                    provider_id: &str,
                ) -> Option<(ConversationId, MessageId)> => provider_id;
                /// Records a delivery report of a reply unless what is known ranks as high or
                /// higher; answers the report when it moved the reply's delivery forward.
                fn advance_delivery(
                    conv: &ConversationId,
                    message: &MessageId,
                    report: &ReplyDelivery,
                ) -> Option<ReplyDelivery> => conv;
            }
            /// What operating the service needs: reachability and shared rate limits.
            OpsStore {
                /// Answers while the store is reachable.
                fn ping() -> ();
                /// Counts `n` requests against `bucket` in a fixed window that starts with the
                /// bucket's first request; answers the count so far and the time left in the
                /// window. Shared by every replica (one Redis round trip).
                fn count_request(
                    bucket: &str,
                    n: u64,
                    window: std::time::Duration,
                ) -> (u64, std::time::Duration);
            }
            /// Retention (`store::retention`): conversations due to leave Redis for the
            /// archive tier, and the stubs they leave. Nothing is claimed until the deployment
            /// writes `format::ARCHIVE_STUBS`.
            ArchiveStore {
                /// Claims up to `limit` customers with a conversation resolved before
                /// `resolved_before` and not archived; each claim goes to one caller and comes
                /// back after `lease` unless released first.
                fn claim_archive_due(
                    resolved_before: DateTime<Utc>,
                    lease: chrono::Duration,
                    limit: usize,
                ) -> Vec<ArchiveClaim>;
                /// A customer's own conversations resolved before `resolved_before` and not
                /// archived, as the archive keeps them, each followed by those it absorbed.
                fn archivable(
                    customer: &CustomerId,
                    resolved_before: DateTime<Utc>,
                ) -> Archivable => customer;
                /// Leaves a stub in place of each candidate's timeline, unless it reopened or
                /// gained entries since it was read (and drops the expired idempotency records
                /// of its customer); answers the conversations stubbed.
                fn stub_archived(
                    candidates: &[ArchiveCandidate],
                    now: DateTime<Utc>,
                ) -> Vec<ConversationId>;
                /// Ends claims: each customer is due again from its `next`, or leaves the due
                /// list.
                fn release_archive_claims(
                    releases: &[(ArchiveClaim, Option<DateTime<Utc>>)],
                ) -> ();
                /// Deletes conversations resolved before `resolved_before` (or already gone),
                /// wherever their timelines are in this store, and their ids in their
                /// customers' lists (a merge's survivors' included); one that reopened since
                /// stays. Answers those deleted.
                fn delete_conversations(
                    ids: &[ConversationId],
                    resolved_before: DateTime<Utc>,
                ) -> Vec<ConversationId>;
                /// The earliest resolution still waiting in the due list (the lag gauge).
                fn oldest_unarchived() -> Option<DateTime<Utc>>;
            }
            /// A customer's data on request (CONTRACT "Data lifecycle (v3)").
            PrivacyStore {
                /// Replaces the text (and subject) of the entry `message` of the conversation's
                /// timeline, wherever it is kept (the conversation's own entries or a merged
                /// one's, in this store or the archive), and of its delivery in the outbox,
                /// with `[redacted]`; answers whether the entry exists. Doing it twice changes
                /// nothing more.
                fn redact_message(conv: &ConversationId, message: &MessageId) -> bool => conv;
            }
            /// A customer's erasure (CONTRACT "Erasure", `app::erasure`): a saga of steps, each
            /// idempotent, so that whoever resumes it after a crash repeats them safely.
            ErasureStore {
                /// Starts the erasure of the customer holding `customer`'s data (following
                /// merges), or finds the one started before: records it pending, leased to the
                /// caller until `lease_until`, makes the customer and those merged into them
                /// unreachable (reads find nothing; their identities start a new customer) and
                /// drops their identity pointers. `None` when there is no such customer and no
                /// erasure of them.
                fn begin_erasure(
                    customer: &CustomerId,
                    now: DateTime<Utc>,
                    lease_until: DateTime<Utc>,
                ) -> Option<Erasure> => customer;
                /// An erasure, by the customer it erases.
                fn erasure(customer: &CustomerId) -> Option<Erasure> => customer;
                /// Up to `limit` pending erasures whose lease ran out by `now` (whoever ran them
                /// died), each leased to one caller until `lease_until`.
                fn claim_erasures(
                    now: DateTime<Utc>,
                    lease_until: DateTime<Utc>,
                    limit: usize,
                ) -> Vec<CustomerId>;
                /// What the erasure removes: taken the first time and kept with its record.
                fn erasure_inventory(customer: &CustomerId) -> ErasureInventory => customer;
                /// Frees what the erased conversations hold in routing (whoever waits gets the
                /// freed units), and drops them from the personal agent's portfolio, the
                /// schedules, the archive's due list and agents' event logs; answers the
                /// assignments made.
                fn erase_routing(
                    inventory: &ErasureInventory,
                    now: DateTime<Utc>,
                ) -> Vec<Assignment> => inventory.customer;
                /// Removes what the erased timelines point to outside the customers' own
                /// records: e-mail threads, call records and outbox deliveries.
                fn erase_references(inventory: &ErasureInventory) -> () => inventory.customer;
                /// Removes the customers' own records (identities, customers, conversations and
                /// their timelines, idempotency records, ratings), keeping the erasure's.
                fn erase_records(inventory: &ErasureInventory) -> () => inventory.customer;
                /// Marks the erasure done at `now`; answers whether this call did.
                fn finish_erasure(
                    inventory: &ErasureInventory,
                    now: DateTime<Utc>,
                ) -> bool => inventory.customer;
            }
            /// Blocked senders (CONTRACT "Blocked senders"): one list for the deployment,
            /// which every replica keeps a copy of (`app::blocks`).
            BlockStore {
                /// Blocks (or unblocks) a normalised identity; answers whether that changed
                /// anything.
                fn set_block(identity: &Identity, blocked: bool) -> bool;
                /// The blocklist's version and its identities, unless the version is still
                /// `known` (`None`: one cheap read when nothing changed).
                fn blocks(known: u64) -> Option<(u64, Vec<Identity>)>;
            }
            /// Agents' tokens withdrawn before they expire (CONTRACT "Agent sign-in (v3)"),
            /// read on every agent request of every replica.
            CredentialStore {
                /// Refuses the agent's tokens issued at or before `at`, kept for `keep` (past
                /// which no such token is valid anyway); an earlier time never replaces a
                /// later one.
                fn revoke_tokens(
                    agent: &AgentId,
                    at: DateTime<Utc>,
                    keep: chrono::Duration,
                ) -> () => agent;
                /// The time at or before which the agent's tokens are refused, if any.
                fn tokens_revoked(agent: &AgentId) -> Option<DateTime<Utc>> => agent;
            }
            /// The event feed (CONTRACT "Event export (v3)"): shards of CloudEvents, each in
            /// order, each entry written in the same atomic step as the change it records.
            FeedStore {
                /// The shards that exist, by name.
                fn feed_shards() -> Vec<String>;
                /// Up to `limit` entries of `shard` after the position `after`, oldest first.
                fn feed_after(shard: &str, after: &str, limit: usize) -> Vec<FeedEvent> => shard;
                /// Drops every shard's entries older than `before`.
                fn trim_feed(before: DateTime<Utc>) -> ();
                /// Claims up to `limit` customers with customer-side events to relay, announced
                /// before `announced_before`; each claim holds until `until`.
                fn claim_feed_due(
                    announced_before: DateTime<Utc>,
                    until: DateTime<Utc>,
                    limit: usize,
                ) -> Vec<FeedClaim>;
                /// Up to `limit` of the customer's events not relayed yet, oldest first.
                fn pending_feed(customer: &CustomerId, limit: usize) -> Vec<PendingEvent> => customer;
                /// Appends relayed events (their own ids set) to customer-side shard `shard`,
                /// in order.
                fn append_feed(shard: u32, events: &[FeedEvent]) -> ();
                /// Drops what the relay moved of each claimed customer of customer-side shard
                /// `shard` (their pending events numbered up to `through`) and ends their
                /// claims: off the due list if none is left (unless announced again
                /// meanwhile), due again at `now` if some are.
                fn settle_feed(shard: u32, moved: &[FeedMoved], now: DateTime<Utc>) -> ();
                /// Records a customer-side event no other step writes, with what its change
                /// sets (`FeedNote::effect`), in one step.
                fn note_feed(customer: &CustomerId, note: &FeedNote) -> () => customer;
                /// Where the sink `name` is in the feed (its encoded cursor), if it has begun.
                fn export_cursor(name: &str) -> Option<String> => name;
                /// Moves the sink's cursor from `from` (`None`: not begun) to `to`; false
                /// (and nothing moved) if it is no longer at `from`.
                fn advance_export_cursor(name: &str, from: Option<&str>, to: &str) -> bool => name;
            }
            /// The audit trail (CONTRACT "Audit"): who read or changed what, kept for a
            /// bounded time, never any text.
            AuditStore {
                /// Appends an entry (its `id` is the store's, whatever the argument says) and
                /// drops those older than `keep`; answers the entry's id.
                fn record_audit(entry: &AuditEntry, keep: chrono::Duration) -> String;
                /// Up to `limit` entries after the id `after` (from the first kept when
                /// `None`), oldest first.
                fn audit_entries(after: Option<&str>, limit: usize) -> Vec<AuditEntry>;
                /// Drops the entries up to and including the id `through` (the archive holds
                /// them now).
                fn trim_audit(through: &str) -> ();
            }
            /// The storage format gate (`store::format`): which format the deployment writes,
            /// which each replica reads.
            UpgradeStore {
                /// Records that `replica` is alive and reads up to `replica.reads` until
                /// `replica.alive_until`; answers the deployment's write format, which this
                /// store follows from then on.
                fn announce_format(replica: &ReplicaFormat) -> StorageFormat => replica.replica;
                /// The write format and the live replicas' announcements.
                fn format_status(now: DateTime<Utc>) -> FormatStatus;
                /// Writes `format` from now on, unless a live replica cannot read it (checked
                /// and set in one step); a format never goes back.
                fn finalize_format(format: StorageFormat, now: DateTime<Utc>) -> FinalizeOutcome;
            }
        }
    };
}

pub(crate) use for_each_operation;

/// Defines each role as an `async_trait` whose operations answer `Result<_, StoreError>`.
macro_rules! define_roles {
    ($(
        $(#[$role_doc:meta])*
        $role:ident {
            $(
                $(#[$doc:meta])*
                fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $answer:ty $(=> $span:expr)?;
            )*
        }
    )*) => {
        $(
            $(#[$role_doc])*
            #[async_trait::async_trait]
            pub trait $role: Send + Sync + 'static {
                $(
                    $(#[$doc])*
                    async fn $name(&self, $($arg: $ty),*) -> Result<$answer, StoreError>;
                )*
            }
        )*
    };
}

pub(crate) use define_roles;
