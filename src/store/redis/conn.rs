//! One connection type for both deployments: a single server (`ConnectionManager`,
//! reconnecting, multiplexed) or a Redis Cluster (`cluster_async::ClusterConnection`,
//! which routes each command and script by its keys' slot). Everything the store sends
//! keeps a script's or a pipeline's keys in one slot, so both run the same code.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClientBuilder, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisError, RedisFuture, Value};

/// How to talk to Redis: TLS trust, how long to wait and how often to retry (the
/// cluster client's own defaults leave requests unbounded and sleep at least 1.28 s per
/// retry; a request that must answer 503 quickly cannot wait like that), and how many
/// replicas must hold a message before its 2xx.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// Replicas that must acknowledge an ingested message (`WAIT`) before it is answered
    /// 2xx; 0 trusts the primary alone (asynchronous replication may lose its last writes).
    pub replicas_to_ack: u32,
    /// PEM of the CA that signs the servers' certificates, for `rediss://` with a private
    /// CA (managed services' certificates are trusted through the system's roots).
    pub tls_ca: Option<Vec<u8>>,
    pub connect: Duration,
    pub response: Duration,
    pub retries: u32,
    pub min_retry_wait: Duration,
    pub max_retry_wait: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            replicas_to_ack: 0,
            tls_ca: None,
            connect: Duration::from_secs(2),
            response: Duration::from_secs(2),
            retries: 2,
            min_retry_wait: Duration::from_millis(50),
            max_retry_wait: Duration::from_millis(500),
        }
    }
}

#[derive(Clone)]
pub enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Conn {
    /// `url` is one `redis://` (or `rediss://`) URL, or a comma-separated list of a
    /// cluster's nodes. Connects lazily: the service starts (not ready) while Redis is down.
    pub fn open(url: &str, timeouts: &RedisOptions) -> Result<Self, RedisError> {
        // rustls is built with ring only; make it the process's provider (once).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let certs = || redis::TlsCertificates {
            client_tls: None,
            root_cert: timeouts.tls_ca.clone(),
        };
        let nodes: Vec<String> = url
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| match n.contains("://") {
                true => n.to_owned(),
                false => format!("redis://{n}"),
            })
            .collect();
        if nodes.len() > 1 {
            let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
            let mut builder = ClusterClientBuilder::new(nodes);
            if timeouts.tls_ca.is_some() {
                builder = builder.certs(certs());
            }
            let client = builder
                .connection_timeout(timeouts.connect)
                .response_timeout(timeouts.response)
                .retries(timeouts.retries)
                .min_retry_wait(millis(timeouts.min_retry_wait))
                .max_retry_wait(millis(timeouts.max_retry_wait))
                .build()?;
            let config = ClusterConfig::new()
                .set_connection_timeout(timeouts.connect)
                .set_response_timeout(timeouts.response);
            return Ok(Conn::Cluster(
                client.get_pending_async_connection_with_config(config),
            ));
        }
        let client = match &timeouts.tls_ca {
            Some(_) => redis::Client::build_with_tls(url, certs())?,
            None => redis::Client::open(url)?,
        };
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeouts.connect))
            .set_response_timeout(Some(timeouts.response))
            .set_number_of_retries(timeouts.retries as usize);
        Ok(Conn::Single(ConnectionManager::new_lazy_with_config(
            client, config,
        )?))
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}
