//! Phone calls and the IVR bypass (CONTRACT rule 5): a known caller never meets the menu;
//! an unknown one does, with a human one key away, and the time spent there is measured.
//! Plain functions over the store, shared by `POST /v1/calls` and the Twilio webhooks.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use super::ingest::ingest_unscreened;
use super::{Actor, App, AppError};
use crate::domain::{
    CallDecision, CallState, Channel, CustomerView, Decision, IdentityKind, Language, Network,
    Presence, Queue, RawInbound, Route, RouteReason, RoutingGroup, Skills, DEFAULT_TIER,
};
use crate::store::{CallRecord, StoreError, TransferOutcome, TransferTarget};

/// Which callers count as known (and so skip the menu).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KnownRule {
    /// The caller has an open conversation.
    OpenConversation,
    /// The caller wrote or called within `recent_contact_hours`.
    RecentContact,
    /// The caller has a tier other than `standard`.
    Tier,
    /// The caller has an open complaint (no complaint data exists yet: never true).
    OpenComplaint,
    /// Any customer we know.
    KnownCustomer,
}

impl KnownRule {
    /// The `switchboard_ivr_bypass_total` reason.
    pub fn as_str(self) -> &'static str {
        match self {
            KnownRule::OpenConversation => "open_conversation",
            KnownRule::RecentContact => "recent_contact",
            KnownRule::Tier => "tier",
            KnownRule::OpenComplaint => "open_complaint",
            KnownRule::KnownCustomer => "known_customer",
        }
    }
}

#[derive(Debug, Clone)]
pub struct IvrPolicy {
    pub known_if: Vec<KnownRule>,
    pub recent_contact: Duration,
}

/// What the phone adapter reports about a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallEvent {
    /// The caller heard the menu (again).
    MenuEntered,
    /// The caller pressed 0 or asked for a person: route to a human now.
    AgentRequested,
    /// The caller left the menu served by it.
    SelfServed,
    /// An agent picked up.
    Answered,
    /// The call ended.
    HungUp,
}

/// The first rule (in the configured order) that makes this caller known.
async fn known_because(
    state: &App,
    customer: &CustomerView,
    now: DateTime<Utc>,
) -> Result<Option<KnownRule>, AppError> {
    for rule in &state.ivr.known_if {
        let hit = match rule {
            KnownRule::KnownCustomer => true,
            KnownRule::OpenConversation => customer.open_conversation_id.is_some(),
            KnownRule::Tier => customer.tier != DEFAULT_TIER,
            KnownRule::OpenComplaint => customer.open_complaint_conversation_id.is_some(),
            KnownRule::RecentContact => match customer.conversation_ids.last() {
                Some(last) => recently_in_touch(state, last, now).await?,
                None => false,
            },
        };
        if hit {
            return Ok(Some(*rule));
        }
    }
    Ok(None)
}

/// Whether the customer's last conversation had an entry within the recent-contact
/// window. One moved to the archive tier is older than that window can reach back, so an
/// archive that cannot answer (PostgreSQL down) makes it "not recent", not a failed call.
async fn recently_in_touch(
    state: &App,
    last: &crate::domain::ConversationId,
    now: DateTime<Utc>,
) -> Result<bool, AppError> {
    let conv = match state.store.conversation(last).await {
        Ok(conv) => conv,
        Err(e) if state.archive.is_some() && matches!(e, StoreError::Unavailable(_)) => {
            tracing::warn!(error = %e, "recent-contact rule: last conversation unreadable; not recent");
            return Ok(false);
        }
        Err(e) => return Err(e.into()),
    };
    let last_at = conv.and_then(|c| c.messages.last().map(|m| m.at));
    Ok(last_at.is_some_and(|at| now - at <= state.ivr.recent_contact))
}

/// What the phone adapter knows of a call beyond its numbers: the line's routing group,
/// the caller's language, the skills the call needs.
#[derive(Debug, Clone, Default)]
pub struct CallHints {
    pub group: Option<String>,
    pub language: Option<String>,
    pub skills: Option<Skills>,
}

/// A call arrives. Idempotent on the provider's call id.
pub async fn incoming(
    state: &App,
    external_id: &str,
    from: &str,
    to: &str,
    line: &CallHints,
    now: DateTime<Utc>,
) -> Result<CallRecord, AppError> {
    if external_id.trim().is_empty() || external_id.len() > 128 {
        return Err(AppError::Invalid(
            "`external_id` must be 1-128 characters".into(),
        ));
    }
    let group = line
        .group
        .as_deref()
        .map(str::parse::<RoutingGroup>)
        .transpose()?;
    if let Some(language) = &line.language {
        language.parse::<Language>()?;
    }
    if let Some(call) = state.store.call(external_id).await? {
        return Ok(call);
    }
    // Withheld, SIP and client callers are customers too (never a 400 that makes the
    // provider hang up on them); a withheld caller is a stranger to every other call.
    let caller = state
        .normaliser
        .phone_sender(from, external_id)
        .map_err(|e| AppError::Invalid(format!("`from`: {e}")))?;
    let customer = state.store.customer_by_identity(&caller[0]).await?;
    let known = match &customer {
        Some(c) => known_because(state, c, now).await?,
        None => None,
    };
    let mut call = CallRecord {
        external_id: external_id.to_owned(),
        // Re-read by the ingest of this call, so it stays in a form `phone_sender` reads.
        from: match caller[0].kind() {
            IdentityKind::Phone => caller[0].value().to_owned(),
            _ => from.trim().to_owned(),
        },
        to: to.to_owned(),
        customer_id: customer.map(|c| c.id.clone()),
        conversation_id: None,
        decision: CallDecision::Ivr,
        agent_id: None,
        reason: "unknown_caller".into(),
        state: CallState::InMenu,
        menu_entered_at: Some(now),
        menu_left_at: None,
        answered_at: None,
        ended_at: None,
        group: group.map(|g| g.to_string()),
        language: line.language.clone(),
        skills: line.skills.clone(),
    };
    if let Some(rule) = known {
        state
            .metrics
            .ivr_bypass
            .with_label_values(&[rule.as_str()])
            .inc();
        route_to_human(state, &mut call).await?;
        call.menu_entered_at = None;
    }
    save(state, &call).await?;
    Ok(call)
}

/// Joins the caller's conversation (the call is a timeline entry) and routes it: to
/// their personal agent, the first free human, or the queue with raised priority.
async fn route_to_human(state: &App, call: &mut CallRecord) -> Result<(), AppError> {
    let raw = RawInbound {
        // The line called (`domain::inbox`): what the adapter did not say comes from it.
        inboxes: vec![format!("twilio:{}", call.to)],
        group: call.group.clone(),
        language: call.language.clone(),
        skills: call.skills.clone(),
        channel: Channel::Phone,
        network: Some(Network::Voice),
        external_id: call.external_id.clone(),
        from: call.from.clone(),
        identities: vec![],
        display_name: None,
        subject: None,
        text: Some(format!("Phone call to {}", call.to)),
        sent_at: None,
    };
    // The same path as every other inbound message: stored, counted, the holder told.
    let receipt = ingest_unscreened(state, raw, chrono::Utc::now()).await?;
    call.customer_id = Some(receipt.customer_id.clone());
    call.conversation_id = Some(receipt.conversation_id.clone());
    place(call, &receipt.route, receipt.route.reason.as_str());
    Ok(())
}

/// Stores the call; one left in the phone queue waits there for whoever routing gives
/// its conversation (`bridge::wait_for_agent`).
async fn save(state: &App, call: &CallRecord) -> Result<(), AppError> {
    state.store.save_call(call).await?;
    if let (CallState::Queued, Some(conv)) = (call.state, &call.conversation_id) {
        super::bridge::wait_for_agent(state, conv, &call.external_id).await?;
    }
    Ok(())
}

/// Records where routing put the call: `connect` to its agent, or `queue`.
pub fn place(call: &mut CallRecord, route: &Route, reason: &str) {
    let assigned = route.decision == Decision::Assigned;
    (call.decision, call.state) = if assigned {
        (CallDecision::Connect, CallState::Connected)
    } else {
        (CallDecision::Queue, CallState::Queued)
    };
    call.agent_id = route.agent_id.clone();
    call.reason = reason.into();
}

/// Applies an event from the phone adapter; `None` for an unknown call.
pub async fn event(
    state: &App,
    external_id: &str,
    event: CallEvent,
    now: DateTime<Utc>,
) -> Result<Option<CallRecord>, AppError> {
    let Some(mut call) = state.store.call(external_id).await? else {
        return Ok(None);
    };
    let in_menu = call.state == CallState::InMenu;
    let menu_time = |call: &CallRecord| {
        call.menu_entered_at
            .map(|t| (now - t).num_milliseconds().max(0) as f64 / 1000.0)
    };
    match event {
        CallEvent::MenuEntered if call.state != CallState::Ended => {
            call.state = CallState::InMenu;
            call.menu_entered_at.get_or_insert(now);
        }
        CallEvent::AgentRequested if in_menu => {
            call.menu_left_at = Some(now);
            if let Some(secs) = menu_time(&call) {
                state
                    .metrics
                    .ivr_seconds
                    .with_label_values(&["agent_requested"])
                    .observe(secs);
            }
            route_to_human(state, &mut call).await?;
        }
        CallEvent::SelfServed if in_menu => {
            call.menu_left_at = Some(now);
            call.ended_at = Some(now);
            if let Some(secs) = menu_time(&call) {
                state
                    .metrics
                    .ivr_seconds
                    .with_label_values(&["self_served"])
                    .observe(secs);
            }
            call.state = CallState::Ended;
        }
        CallEvent::Answered if call.state == CallState::Connected => {
            call.state = CallState::Answered;
            call.answered_at = Some(now);
        }
        CallEvent::HungUp if call.state != CallState::Ended => {
            call.ended_at = Some(now);
            if in_menu {
                call.menu_left_at = Some(now);
                if let Some(secs) = menu_time(&call) {
                    state
                        .metrics
                        .ivr_seconds
                        .with_label_values(&["hung_up"])
                        .observe(secs);
                }
            }
            // The phone unit goes back at once (or the caller leaves the queue, and is
            // no longer waited for); the conversation itself stays open.
            if let Some(conv) = call.conversation_id.clone() {
                if call.state == CallState::Queued {
                    state.store.take_waiting_call(&conv).await?;
                }
                let made = state.store.release(&conv, now).await?;
                super::bridge::assigned(state, &made).await;
            }
            call.state = CallState::Ended;
        }
        // Anything else repeats or contradicts what is known already: no change.
        _ => return Ok(Some(call)),
    }
    save(state, &call).await?;
    Ok(Some(call))
}

/// The call, if the actor may read the conversation it joined (admins: any call).
pub async fn read(app: &App, actor: &Actor, external_id: &str) -> Result<CallRecord, AppError> {
    let missing = || AppError::NotFound(format!("no call `{external_id}`"));
    let call = app.store.call(external_id).await?.ok_or_else(missing)?;
    if !matches!(actor, Actor::Admin) {
        let conv = call.conversation_id.as_ref().ok_or_else(missing)?;
        super::conversations::read(app, actor, conv)
            .await
            .map_err(|_| missing())?;
    }
    Ok(call)
}

/// The agent a call was sent to did not answer while the caller waited: redirection on
/// no answer. The agent is set away (no new work until they come back) and the call
/// goes to whoever has room, or the phone queue. Answers the call as it stands now;
/// `None` for an unknown call. Once per dial: a call that has ended, or that was since
/// sent to another agent than `dialled` (the callback is a replay or came late), is
/// left as it is; so is one whose callback names no agent (a `<Dial>` of an earlier
/// version, which a replay could not be told apart from: that caller is dialled to the
/// same agent again instead of redirected).
pub async fn unanswered(
    state: &App,
    external_id: &str,
    dialled: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<CallRecord>, AppError> {
    let Some(mut call) = state.store.call(external_id).await? else {
        return Ok(None);
    };
    let stale = dialled.is_none_or(|d| call.agent_id.as_ref().map(|a| a.as_str()) != Some(d));
    if call.state == CallState::Ended || stale || call.decision != CallDecision::Connect {
        return Ok(Some(call));
    }
    let Some(conv) = call.conversation_id.clone() else {
        return Ok(Some(call));
    };
    if let Some(agent) = call.agent_id.clone() {
        if let Some(made) = state
            .store
            .set_presence(&agent, Presence::Away, now)
            .await?
        {
            super::bridge::assigned(state, &made).await;
        }
    }
    let phone = TransferTarget::Queue(Queue::Channel(Channel::Phone));
    if let TransferOutcome::Transferred {
        route, assignments, ..
    } = state.store.transfer(&conv, &phone, None, now).await?
    {
        super::bridge::assigned(state, &assignments).await;
        place(&mut call, &route, RouteReason::Fallback.as_str());
        save(state, &call).await?;
    }
    Ok(Some(call))
}
