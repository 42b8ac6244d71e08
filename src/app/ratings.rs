//! Customers' ratings and the satisfaction index (the practice: every conversation is
//! rated, and an index below 4.5 out of 5 is an alarm). A rating comes with resolve's
//! `csat` or later from a survey (`POST /v1/conversations/{id}/rating`), once per
//! conversation and source; it counts in `switchboard_csat_responses_total` and in the
//! index of the agent who served the conversation and of the customer.

use chrono::Utc;

use super::complaints::Source;
use super::{App, AppError};
use crate::domain::{
    rating, rating_source, AgentId, AgentView, Channel, ConversationId, CustomerId, CustomerView,
    Satisfaction,
};
use crate::store::{Rated, RatingsOf};

/// Records a rating; answers what the store found (a repeat changes nothing).
pub async fn rate(
    app: &App,
    id: &ConversationId,
    value: u8,
    source: &str,
) -> Result<Rated, AppError> {
    let value = rating(value)?;
    let source = rating_source(source)?;
    let not_found = || AppError::NotFound(format!("no conversation `{id}`"));
    let conv = app.store.conversation(id).await?.ok_or_else(not_found)?;
    let rated = app
        .store
        .rate(id, &source, value, Utc::now())
        .await?
        .ok_or_else(not_found)?;
    if !rated.duplicate {
        let channel = conv.last_inbound().map_or(Channel::Chat, |m| m.channel);
        app.metrics
            .csat_responses
            .with_label_values(&[channel.as_str(), &value.to_string()])
            .inc();
        // A bad rating is a complaint: it reaches a supervisor, not just a dashboard.
        if value <= 2 {
            let text = format!("Rated the conversation {value} out of 5 ({source}).");
            let click = format!("rating:{id}:{source}");
            super::complaints::raise(
                app,
                id.customer(),
                &text,
                channel,
                Source::Rating,
                Some(&click),
            )
            .await?;
        }
    }
    Ok(rated)
}

/// An agent with the index over the conversations they served.
pub async fn agent(app: &App, id: &AgentId) -> Result<Option<AgentView>, AppError> {
    let Some(mut view) = app.store.agent(id).await? else {
        return Ok(None);
    };
    view.satisfaction = index(app, RatingsOf::Agent(id.clone())).await?;
    Ok(Some(view))
}

/// A customer with the index over their ratings, and when their follow-up is due.
pub async fn customer(app: &App, id: &CustomerId) -> Result<Option<CustomerView>, AppError> {
    let Some(mut view) = app.store.customer(id).await? else {
        return Ok(None);
    };
    view.satisfaction = index(app, RatingsOf::Customer(view.id.clone())).await?;
    view.follow_up_due = app.store.follow_up(&view.id).await?;
    Ok(Some(view))
}

async fn index(app: &App, of: RatingsOf) -> Result<Option<Satisfaction>, AppError> {
    Ok(Satisfaction::of(&app.store.recent_ratings(&of).await?))
}
