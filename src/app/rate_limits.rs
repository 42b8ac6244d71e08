//! Rate limits per caller, shared by every replica: requests are counted in the store in
//! a one-second window per bucket; past the configured limit a request is refused with
//! the time its window has left (HTTP answers 429 with `Retry-After`). A replica does
//! not pay a round trip per request: it takes a lease of a slice of the window's budget
//! (a twentieth of the limit) with one `INCRBY` and spends it locally, so every replica
//! together never admits more than the limit; a refused window is refused locally until
//! it ends. A store that cannot count lets the request through: the request itself then
//! meets the same store and fails if it needs it, and a limiter must never be the outage.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::App;

const WINDOW: Duration = Duration::from_secs(1);

/// A refusal this close to the end of a window waits for the next one instead.
const WINDOW_EDGE: Duration = Duration::from_millis(50);

/// Requests per second allowed to one caller, counted in the store so every replica
/// shares the budget; 0 turns a limit off. Beyond it: 429 with `Retry-After`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RateLimits {
    /// Per adapter token (`POST /v1/messages`, `/v1/calls`, the e-mail adapter, ...).
    pub adapter_per_sec: u64,
    /// Per agent (by the JWT's `sub`).
    pub agent_per_sec: u64,
    /// For the admin token.
    pub admin_per_sec: u64,
    /// Per provider webhook (`twilio`, `meta`, `telegram`), counting signed requests.
    pub provider_per_sec: u64,
    /// Requests without valid credentials and forged webhooks, together: their own
    /// budget, so they never spend an authenticated caller's.
    pub unauthenticated_per_sec: u64,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            adapter_per_sec: 2000,
            agent_per_sec: 50,
            admin_per_sec: 200,
            provider_per_sec: 1000,
            unauthenticated_per_sec: 200,
        }
    }
}

/// Who a request is counted against, and its limit per window.
#[derive(Debug, PartialEq, Eq)]
pub struct Bucket {
    /// The `switchboard_rate_limited_total` label: adapter, agent, admin, provider or
    /// unauthenticated.
    pub caller: &'static str,
    pub key: String,
    pub limit: u64,
}

/// How much of a window's budget one lease takes.
fn lease_size(limit: u64) -> u64 {
    (limit / 20).max(1)
}

/// What this replica may still admit in a bucket's current window.
#[derive(Debug, Clone, Copy)]
struct Lease {
    left: u64,
    until: Instant,
    /// The window's budget is spent: refuse without asking the store again.
    refused: bool,
}

/// This replica's leases, per bucket, and the gate that lets one request at a time take
/// a new lease (a burst would otherwise reserve the window many times over at once).
#[derive(Debug, Default)]
pub struct Leases(
    Mutex<HashMap<String, Lease>>,
    Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
);

impl Leases {
    fn gate(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut gates = self.1.lock().unwrap_or_else(|p| p.into_inner());
        if gates.len() > 10_000 {
            gates.retain(|_, g| Arc::strong_count(g) > 1);
        }
        gates.entry(key.to_owned()).or_default().clone()
    }

    /// How long until the window of `key` ends, if this replica knows it is spent.
    pub fn refused(&self, key: &str) -> Option<Duration> {
        let now = Instant::now();
        let leases = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let lease = leases.get(key).filter(|l| l.until > now && l.refused)?;
        Some(lease.until - now)
    }

    /// Spends one request of a live lease: `Some(true)` admitted, `Some(false)` refused
    /// (with the window's remaining time), `None` when a new lease must be taken.
    fn spend(&self, key: &str, now: Instant) -> Option<Result<(), Duration>> {
        let mut leases = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let lease = leases.get_mut(key).filter(|l| l.until > now)?;
        if lease.refused {
            return Some(Err(lease.until - now));
        }
        if lease.left == 0 {
            return None;
        }
        lease.left -= 1;
        Some(Ok(()))
    }

    /// Adds what the store granted to the bucket's lease for the window ending `until`
    /// and spends one request of it. Concurrent requests of one replica may each take a
    /// lease at once; what they got adds up, so none is refused while another holds room.
    fn grant(&self, key: &str, granted: u64, until: Instant, now: Instant) -> bool {
        let mut leases = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if leases.len() > 10_000 {
            leases.retain(|_, l| l.until > now);
        }
        let lease = leases.entry(key.to_owned()).or_insert(Lease {
            left: 0,
            until,
            refused: false,
        });
        if lease.until <= now {
            *lease = Lease {
                left: 0,
                until,
                refused: false,
            };
        }
        lease.left += granted;
        if lease.left == 0 {
            lease.refused = true;
            return false;
        }
        lease.left -= 1;
        true
    }
}

/// Admits one request of `bucket`, or answers how long until its window ends (and counts
/// the refusal in `switchboard_rate_limited_total`).
pub async fn admit(app: &App, leases: &Leases, bucket: &Bucket) -> Result<(), Duration> {
    let answer = admitted(app, leases, bucket).await;
    if answer.is_err() {
        app.metrics
            .rate_limited
            .with_label_values(&[bucket.caller])
            .inc();
    }
    answer
}

async fn admitted(state: &App, leases: &Leases, bucket: &Bucket) -> Result<(), Duration> {
    let now = Instant::now();
    if let Some(answer) = leases.spend(&bucket.key, now) {
        return answer;
    }
    // One lease taken at a time per bucket: whoever waited here finds it refilled.
    let gate = leases.gate(&bucket.key);
    let _taking = gate.lock().await;
    if let Some(answer) = leases.spend(&bucket.key, Instant::now()) {
        return answer;
    }
    let n = lease_size(bucket.limit);
    for attempt in 0..2 {
        let (count, left) = match state.store.count_request(&bucket.key, n, WINDOW).await {
            Ok(answer) => answer,
            Err(e) => {
                tracing::debug!(error = %e, "rate limit not counted");
                return Ok(());
            }
        };
        let before = count.saturating_sub(n);
        let granted = bucket.limit.saturating_sub(before).min(n);
        let now = Instant::now();
        if leases.grant(&bucket.key, granted, now + left, now) {
            return Ok(());
        }
        // The budget was reserved to the end of a window that ends in moments (this
        // replica's lease ran out a little before Redis's window did): count in the next.
        if attempt == 0 && left < WINDOW_EDGE {
            tokio::time::sleep(left + Duration::from_millis(1)).await;
            continue;
        }
        return Err(left);
    }
    Err(WINDOW)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_leases_of_one_replica_add_up_instead_of_refusing() {
        let leases = Leases::default();
        let now = Instant::now();
        let until = now + Duration::from_secs(1);
        assert_eq!(leases.spend("k", now), None, "no lease yet");
        assert!(leases.grant("k", 3, until, now), "a lease of 3, one spent");
        // A request that raced for a lease and got nothing still spends the one held.
        assert!(leases.grant("k", 0, until, now));
        assert_eq!(leases.spend("k", now), Some(Ok(())));
        assert_eq!(leases.spend("k", now), None, "spent: ask the store again");
        assert!(
            !leases.grant("k", 0, until, now),
            "nothing left anywhere: refused"
        );
        assert!(
            matches!(leases.spend("k", now), Some(Err(_))),
            "refused locally"
        );
        let later = until + Duration::from_millis(1);
        assert_eq!(leases.spend("k", later), None, "a new window");
    }
}
