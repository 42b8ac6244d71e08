//! Agents: profiles, presence and removal. Each change may hand waiting work to
//! someone (more capacity, coming online, a removed agent's conversations re-routed);
//! those assignments are counted here like any other. And the card a customer sees of
//! their personal agent.

use chrono::{DateTime, Utc};

use super::{App, AppError};
use crate::domain::{AgentId, AgentProfile, AgentView, CustomerId, ManagerCard, Presence};
use crate::store::SavedAgent;

/// Creates or updates an agent; a new agent starts offline.
pub async fn save(app: &App, profile: &AgentProfile) -> Result<SavedAgent, AppError> {
    let saved = app.store.put_agent(profile, Utc::now()).await?;
    // More capacity takes waiting work at once: those are assignments like any other.
    app.metrics.assignments(&saved.assignments);
    Ok(saved)
}

/// Sets presence and answers the agent as it is now; `NotFound` for an unknown agent.
pub async fn set_presence(
    app: &App,
    id: &AgentId,
    presence: Presence,
) -> Result<AgentView, AppError> {
    let not_found = || AppError::NotFound(format!("no agent `{id}`"));
    let made = app
        .store
        .set_presence(id, presence, Utc::now())
        .await?
        .ok_or_else(not_found)?;
    super::bridge::assigned(app, &made).await;
    app.store.agent(id).await?.ok_or_else(not_found)
}

/// Removes an agent; its work goes back to routing at once.
pub async fn remove(app: &App, id: &AgentId) -> Result<(), AppError> {
    let made = app
        .store
        .delete_agent(id, Utc::now())
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no agent `{id}`")))?;
    super::bridge::assigned(app, &made).await;
    Ok(())
}

/// Fires expired sticky waits and offline graces (every replica calls this; the store
/// hands each expiry to one caller) and counts the assignments they made.
pub async fn fire_timers(app: &App, now: DateTime<Utc>) -> Result<(), AppError> {
    let made = app.store.fire_timers(now).await?;
    super::bridge::assigned(app, &made).await;
    Ok(())
}

/// The customer's personal agent's public card; `None` for an unknown customer, or one
/// who has no personal agent yet.
pub async fn manager_card(app: &App, id: &CustomerId) -> Result<Option<ManagerCard>, AppError> {
    let Some(customer) = app.store.customer(id).await? else {
        return Ok(None);
    };
    let Some(agent) = customer.personal_agent_id else {
        return Ok(None);
    };
    Ok(app.store.agent(&agent).await?.map(ManagerCard::from))
}
