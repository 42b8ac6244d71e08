//! The durable outbox's sender. Agents' replies go to the channel adapter: JSON naming
//! the conversation, message, channel, network, recipient and text, signed
//! `X-Switchboard-Signature: sha256=<hex HMAC-SHA256 of the body>`; requests that connect
//! a waiting caller (`call:` ids) go to the phone provider through its `CallBridge`.
//! Every replica's sender claims due ones, sends them, and retries failures with
//! exponential backoff until they land or `max_attempts` is spent.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::app::bridge::{SendError, CALL_DELIVERY_PREFIX};
use crate::app::feed_sinks::EXPORT_DELIVERY_PREFIX;
use crate::app::outbound::sign;
use crate::app::{delivery_status, App};
use crate::domain::MessageId;
use crate::store::{Delivery, DeliveryOutcome};

/// How hard the sender tries.
#[derive(Debug, Clone, Copy)]
pub struct Retries {
    pub max_attempts: u32,
    pub first_backoff: Duration,
}

/// How long before attempt `n + 1`: the first backoff, doubling, at most five minutes.
fn backoff(first: Duration, attempts: u32) -> Duration {
    let factor = 1u32
        .checked_shl(attempts.saturating_sub(1).min(16))
        .unwrap_or(u32::MAX);
    first.saturating_mul(factor).min(Duration::from_secs(300))
}

/// Sends one delivery where its kind goes; answers what the adapter answered (JSON, or
/// null).
async fn send(state: &App, d: &Delivery) -> Result<serde_json::Value, SendError> {
    if d.id.starts_with(CALL_DELIVERY_PREFIX) {
        return match &state.call_bridge {
            Some(bridge) => bridge.send(d).await.map(|()| serde_json::Value::Null),
            None => Err(SendError::Permanent(
                "no phone provider API configured".into(),
            )),
        };
    }
    if d.id.starts_with(EXPORT_DELIVERY_PREFIX) {
        return match &state.export_webhook {
            Some(webhook) => post_signed(&webhook.client, &webhook.secret, d)
                .await
                .map(|_| serde_json::Value::Null)
                .map_err(SendError::Retry),
            None => Err(SendError::Permanent("no export webhook configured".into())),
        };
    }
    match &state.outbound {
        Some(config) => post_signed(&config.client, &config.secret, d)
            .await
            .map_err(SendError::Retry),
        None => Err(SendError::Permanent("no adapter URL configured".into())),
    }
}

/// Posts one delivery (a reply to the adapter, a page of events to the export webhook),
/// signed with `secret`; `Err` says why it did not land.
async fn post_signed(
    client: &reqwest::Client,
    secret: &str,
    d: &Delivery,
) -> Result<serde_json::Value, String> {
    let response = client
        .post(&d.url)
        .header("Content-Type", "application/json")
        .header("X-Switchboard-Signature", sign(secret, d.body.as_bytes()))
        .body(d.body.clone())
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if response.status().is_success() {
        // Its answer may name the provider's id of the message (`delivery_status`).
        let answer = response.bytes().await.unwrap_or_default();
        Ok(serde_json::from_slice(&answer).unwrap_or(serde_json::Value::Null))
    } else {
        Err(format!("the receiver answered {}", response.status()))
    }
}

/// Every replica runs this: claim what is due, post it, record how it went. Stops when
/// `stop` is cancelled, between rounds: a delivery in flight finishes and is recorded.
pub async fn run_sender(
    state: Arc<App>,
    retries: Retries,
    every: Duration,
    stop: CancellationToken,
) {
    let mut ticker = super::Ticker::new(every, stop);
    while ticker.next().await {
        let now = Utc::now();
        let lease = now + chrono::Duration::seconds(30);
        let due = match state.store.claim_deliveries(now, lease, 20).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "outbox not read this round");
                continue;
            }
        };
        for d in due {
            let outcome = match send(&state, &d).await {
                Ok(answer) => {
                    took(&state, &d, &answer).await;
                    DeliveryOutcome::Delivered
                }
                Err(SendError::Permanent(error)) => DeliveryOutcome::Failed { error },
                Err(SendError::Retry(error)) if d.attempts >= retries.max_attempts => {
                    DeliveryOutcome::Failed { error }
                }
                Err(SendError::Retry(error)) => {
                    let wait =
                        chrono::Duration::from_std(backoff(retries.first_backoff, d.attempts))
                            .unwrap_or_default();
                    DeliveryOutcome::Retry {
                        at: Utc::now() + wait,
                        error,
                    }
                }
            };
            // The outcome's kind only: an adapter's or provider's error text may quote the
            // recipient's number or address (it is kept with the delivery, for staff).
            let kind = match &outcome {
                DeliveryOutcome::Delivered => "delivered",
                DeliveryOutcome::Retry { .. } => "retry",
                DeliveryOutcome::Failed { .. } => "failed",
            };
            tracing::info!(message_id = %d.id, attempts = d.attempts, outcome = kind, "outbound delivery");
            if d.id.starts_with(EXPORT_DELIVERY_PREFIX) {
                match &outcome {
                    DeliveryOutcome::Delivered => state.metrics.export.delivered(),
                    DeliveryOutcome::Failed { .. } => state.metrics.export.dead_letter(),
                    DeliveryOutcome::Retry { .. } => {}
                }
            }
            if let Err(e) = state.store.finish_delivery(&d.id, &outcome).await {
                tracing::warn!(message_id = %d.id, error = %e, "delivery outcome not recorded; it will be retried");
            }
        }
    }
}

/// A reply the adapter took is `sent` (`delivery_status::adapter_took`); a failure to
/// record that is logged, never a reason to send the reply again.
async fn took(state: &App, d: &Delivery, answer: &serde_json::Value) {
    if d.id.starts_with(CALL_DELIVERY_PREFIX) || d.id.starts_with(EXPORT_DELIVERY_PREFIX) {
        return;
    }
    let body: serde_json::Value = serde_json::from_str(&d.body).unwrap_or_default();
    let conv = body["conversation_id"]
        .as_str()
        .and_then(|c| c.parse().ok());
    let message = body["message_id"].as_str().and_then(MessageId::parse);
    let (Some(conv), Some(message)) = (conv, message) else {
        return;
    };
    if let Err(e) = delivery_status::adapter_took(state, &conv, &message, answer, Utc::now()).await
    {
        tracing::warn!(message_id = %d.id, error = %e, "the reply's `sent` status not recorded");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        let first = Duration::from_secs(1);
        assert_eq!(backoff(first, 1), Duration::from_secs(1));
        assert_eq!(backoff(first, 2), Duration::from_secs(2));
        assert_eq!(backoff(first, 4), Duration::from_secs(8));
        assert_eq!(backoff(first, 30), Duration::from_secs(300));
    }
}
