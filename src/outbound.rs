//! Agents' replies, delivered to the channel adapter: JSON naming the conversation,
//! message, channel, network, recipient and text, signed
//! `X-Switchboard-Signature: sha256=<hex HMAC-SHA256 of the body>`. Replies wait in the
//! store's durable outbox; every replica's sender claims due ones, posts them, and retries
//! failures with exponential backoff until they land or `max_attempts` is spent.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::api::AppState;
use crate::domain::Channel;
use crate::store::{Delivery, DeliveryOutcome};

/// Where replies go and how hard to try.
#[derive(Clone)]
pub struct OutboundConfig {
    pub default_url: Option<String>,
    pub channel_urls: HashMap<Channel, String>,
    pub secret: String,
    pub max_attempts: u32,
    pub first_backoff: Duration,
    pub client: reqwest::Client,
}

impl OutboundConfig {
    /// The adapter URL for a channel, if any is configured.
    pub fn url_for(&self, channel: Channel) -> Option<&str> {
        self.channel_urls
            .get(&channel)
            .or(self.default_url.as_ref())
            .map(String::as_str)
    }
}

/// `sha256=<hex HMAC-SHA256 of body>`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// How long before attempt `n + 1`: the first backoff, doubling, at most five minutes.
fn backoff(first: Duration, attempts: u32) -> Duration {
    let factor = 1u32
        .checked_shl(attempts.saturating_sub(1).min(16))
        .unwrap_or(u32::MAX);
    first.saturating_mul(factor).min(Duration::from_secs(300))
}

/// Posts one delivery; `Err` says why it did not land.
async fn post(config: &OutboundConfig, d: &Delivery) -> Result<(), String> {
    let response = config
        .client
        .post(&d.url)
        .header("Content-Type", "application/json")
        .header(
            "X-Switchboard-Signature",
            sign(&config.secret, d.body.as_bytes()),
        )
        .body(d.body.clone())
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("adapter answered {}", response.status()))
    }
}

/// Every replica runs this: claim what is due, post it, record how it went.
pub async fn run_sender(
    state: actix_web::web::Data<AppState>,
    config: OutboundConfig,
    every: Duration,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
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
            let outcome = match post(&config, &d).await {
                Ok(()) => DeliveryOutcome::Delivered,
                Err(error) if d.attempts >= config.max_attempts => {
                    DeliveryOutcome::Failed { error }
                }
                Err(error) => {
                    let wait =
                        chrono::Duration::from_std(backoff(config.first_backoff, d.attempts))
                            .unwrap_or_default();
                    DeliveryOutcome::Retry {
                        at: Utc::now() + wait,
                        error,
                    }
                }
            };
            tracing::info!(message_id = %d.id, attempts = d.attempts, ?outcome, "outbound delivery");
            if let Err(e) = state.store.finish_delivery(&d.id, &outcome).await {
                tracing::warn!(message_id = %d.id, error = %e, "delivery outcome not recorded; it will be retried");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hex_hmac_sha256_of_the_body() {
        // GitHub's published X-Hub-Signature-256 vector: the same construction.
        assert_eq!(
            sign("It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        let first = Duration::from_secs(1);
        assert_eq!(backoff(first, 1), Duration::from_secs(1));
        assert_eq!(backoff(first, 2), Duration::from_secs(2));
        assert_eq!(backoff(first, 4), Duration::from_secs(8));
        assert_eq!(backoff(first, 30), Duration::from_secs(300));
    }
}
