//! The routing specification in Rust: who gets a conversation (placement), in which order
//! queues drain (priority), and the whole engine — assign, wait, fall back, hand back,
//! transfer, drain — that the embedded store runs under its lock. The Redis store runs
//! the same steps as Lua scripts (`store/redis/lua/routing/`) on one hash slot; the
//! constants both need live here.

mod engine;
mod groups;
mod needs;
mod outcomes;
mod placement;
mod policy;
mod priority;
mod states;

pub use engine::{Handoff, Request, Routing};
pub use groups::{routing_group, Groups, BUSY_AGENT};
pub use needs::{Fit, Needs};
pub use outcomes::{
    AgentEvent, Assignment, EventKind, QueueStat, QueuedConversation, RoutingSnapshot,
    TransferOutcome, TransferTarget, CANDIDATES, EVENTS_KEPT, MAX_TRANSFERS, QUEUE_SCAN,
};
pub use placement::{place, queue_score, PersonalAgent, Placement};
pub use policy::{Relax, StorePolicy};
pub use priority::{priority, COMPLAINT_PRIORITY, ESCALATED_PRIORITY};
pub use states::{RouteState, TRANSFER_CAUSE};
