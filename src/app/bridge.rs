//! A caller waiting in the provider's phone queue reaches the agent routing later gives
//! their conversation. The call waits under its conversation (`Store::set_waiting_call`);
//! whoever sees the assignment takes it (one step, so one replica does) and puts the
//! provider request that connects it in the durable outbox, where the sender delivers it
//! with retries like a reply. The provider's side (Twilio's REST API: redirect the live
//! call to TwiML that dials the agent) is a `CallBridge` the phone adapter supplies.

use async_trait::async_trait;
use chrono::Utc;

use super::{App, AppError};
use crate::domain::{AgentId, CallDecision, CallState, Channel, ConversationId, Decision};
use crate::store::{Assignment, Delivery};

/// Outbox ids of provider requests that connect a waiting call start with this (the
/// rest are replies to adapters): `call:<call id>:<agent>`, so one assignment is one
/// request however often it is enqueued.
pub use crate::store::CALL_DELIVERY_PREFIX;

/// Why a provider request did not land.
#[derive(Debug)]
pub enum SendError {
    /// Worth retrying (network, 5xx, 429).
    Retry(String),
    /// Never will (the call ended, the request was refused): not retried.
    Permanent(String),
}

/// The phone provider's side of connecting a waiting caller.
#[async_trait]
pub trait CallBridge: Send + Sync {
    /// The request (URL and form body) that connects call `call` to `agent`, or `None`
    /// when this provider cannot address that call.
    fn connect_request(
        &self,
        call: &str,
        agent: &AgentId,
        dial: Option<&str>,
    ) -> Option<(String, String)>;

    /// Sends a stored request, adding the provider's credentials (never stored).
    async fn send(&self, delivery: &Delivery) -> Result<(), SendError>;
}

/// What every use case does with the assignments routing made: count them (waits,
/// requirement outcomes) and connect any caller who was waiting for one.
pub async fn assigned(app: &App, made: &[Assignment]) {
    app.metrics.assignments(made);
    for a in made.iter().filter(|a| a.channel == Channel::Phone) {
        if let Err(e) = connect_waiting_call(app, &a.conversation_id, &a.agent_id).await {
            tracing::warn!(conversation_id = %a.conversation_id, error = %e,
                "a waiting caller's connection was not queued");
        }
    }
}

/// A call was queued for `conv`: it waits there. If routing gave the conversation to
/// someone meanwhile (between the decision and now), it is connected at once.
pub async fn wait_for_agent(app: &App, conv: &ConversationId, call: &str) -> Result<(), AppError> {
    app.store.set_waiting_call(conv, call).await?;
    let now = app.store.conversation(conv).await?;
    let holder = now
        .and_then(|c| c.route)
        .filter(|r| r.decision == Decision::Assigned)
        .and_then(|r| r.agent_id);
    if let Some(agent) = holder {
        connect_waiting_call(app, conv, &agent).await?;
    }
    Ok(())
}

/// Takes the call waiting for `conv`, if any, records it as connected to `agent` and
/// queues the provider request that connects it.
async fn connect_waiting_call(
    app: &App,
    conv: &ConversationId,
    agent: &AgentId,
) -> Result<(), AppError> {
    let Some(bridge) = app.call_bridge.as_ref() else {
        return Ok(());
    };
    let Some(sid) = app.store.take_waiting_call(conv).await? else {
        return Ok(());
    };
    let Some(mut call) = app.store.call(&sid).await? else {
        return Ok(());
    };
    if call.state != CallState::Queued {
        return Ok(());
    }
    let dial = app.store.agent(agent).await?.and_then(|a| a.dial);
    let Some((url, body)) = bridge.connect_request(&sid, agent, dial.as_deref()) else {
        tracing::warn!(call = %sid, "the phone provider cannot address this call");
        return Ok(());
    };
    call.decision = CallDecision::Connect;
    call.state = CallState::Connected;
    call.agent_id = Some(agent.clone());
    app.store.save_call(&call).await?;
    let id = format!("{CALL_DELIVERY_PREFIX}{sid}:{agent}");
    app.store
        .enqueue_delivery(&id, &url, &body, Utc::now())
        .await?;
    Ok(())
}
