//! The storage format gate on Redis (`store::format`): the deployment's write format in
//! `P:fmt:{fmt}`, each replica's announcement in `P:fmt:{fmt}:replicas` (one slot, so
//! finalizing checks and sets in one script, `lua/upgrade/finalize.lua`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::AsyncCommands;

use super::codec::{corrupt, from_redis};
use super::constants::PROBE_PREFIX;
use super::RedisStore;
use crate::domain::RoutingGroup;
use crate::store::format::{FinalizeOutcome, FormatStatus, ReplicaFormat, StorageFormat, PREVIOUS};
use crate::store::{StoreError, UpgradeStore};

#[async_trait]
impl UpgradeStore for RedisStore {
    async fn announce_format(&self, replica: &ReplicaFormat) -> Result<StorageFormat, StoreError> {
        let (write,): (Option<String>,) = redis::pipe()
            .hset(
                self.keys.format_replicas(),
                &replica.replica,
                replica.encode(),
            )
            .ignore()
            .hget(self.keys.format(), "write")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let write = parse_format(write)?;
        self.format_gate.follow(write);
        Ok(write)
    }

    async fn format_status(&self, now: DateTime<Utc>) -> Result<FormatStatus, StoreError> {
        let (write, announced): (Option<String>, Vec<(String, String)>) = redis::pipe()
            .hget(self.keys.format(), "write")
            .hgetall(self.keys.format_replicas())
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let announced = announced
            .iter()
            .filter_map(|(replica, value)| ReplicaFormat::decode(replica, value));
        Ok(FormatStatus::live(parse_format(write)?, announced, now))
    }

    async fn finalize_format(
        &self,
        format: StorageFormat,
        now: DateTime<Utc>,
    ) -> Result<FinalizeOutcome, StoreError> {
        if format > self.format_gate.write() && self.pre_announcement_replica_alive().await? {
            return Ok(FinalizeOutcome::Refused {
                replicas: vec![ReplicaFormat {
                    replica: "a replica that does not announce itself (a release before 0.2.0)"
                        .into(),
                    reads: PREVIOUS,
                    version: "<0.2.0".into(),
                    alive_until: now,
                }],
            });
        }
        let answer: Vec<String> = self
            .scripts
            .finalize_format
            .key(self.keys.format())
            .key(self.keys.format_replicas())
            .arg(format)
            .arg(now.timestamp_millis())
            .arg(PREVIOUS)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        match answer.split_first() {
            Some((kind, rest)) if kind == "finalized" => {
                let write = parse_format(rest.first().cloned())?;
                self.format_gate.follow(write);
                Ok(FinalizeOutcome::Finalized { write })
            }
            Some((kind, rest)) if kind == "refused" => Ok(FinalizeOutcome::Refused {
                replicas: rest
                    .chunks(2)
                    .filter_map(|pair| match pair {
                        [replica, value] => ReplicaFormat::decode(replica, value),
                        _ => None,
                    })
                    .collect(),
            }),
            _ => Err(StoreError::Corrupt(format!("finalize answered {answer:?}"))),
        }
    }
}

impl RedisStore {
    /// Whether a replica of a release before announcements (0.1.0) still runs. Those
    /// replicas announce nothing, but every one of them takes every due member of the
    /// default group's routing timers on its next tick, which this release's timers leave
    /// alone when it is a probe (`constants::PROBE_PREFIX`). A probe taken within a few
    /// ticks means such a replica is alive.
    async fn pre_announcement_replica_alive(&self) -> Result<bool, StoreError> {
        let timers = self.keys.routing_timers(&RoutingGroup::default());
        let probe = format!("{PROBE_PREFIX}{}", uuid::Uuid::now_v7().simple());
        let mut conn = self.conn.clone();
        let _: () = conn.zadd(&timers, &probe, 0).await.map_err(from_redis)?;
        let started = std::time::Instant::now();
        let mut taken = false;
        while !taken && started.elapsed() < self.old_release_probe {
            tokio::time::sleep(self.old_release_probe / 10).await;
            let score: Option<f64> = conn.zscore(&timers, &probe).await.map_err(from_redis)?;
            taken = score.is_none();
        }
        let _: () = conn.zrem(&timers, &probe).await.map_err(from_redis)?;
        Ok(taken)
    }
}

/// A stored write format; none stored means the previous one.
fn parse_format(stored: Option<String>) -> Result<StorageFormat, StoreError> {
    stored.map_or(Ok(PREVIOUS), |s| s.parse().map_err(corrupt))
}
