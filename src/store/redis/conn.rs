//! One connection type for both deployments: a single server (`ConnectionManager`,
//! reconnecting, multiplexed) or a Redis Cluster (`cluster_async::ClusterConnection`,
//! which routes each command and script by its keys' slot). Everything the store sends
//! keeps a script's or a pipeline's keys in one slot, so both run the same code. Each
//! thread may have its own such connection (see [`Conn`]).

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};
use std::thread::ThreadId;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisError, RedisFuture, Value};
use thread_local::ThreadLocal;

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
    /// How long a process trusts what it learnt of an identity's customer before it
    /// asks Redis again (see `identity_cache`).
    pub identity_cache_ttl: Duration,
    /// How long finalize waits for a replica of a release before announcements to take
    /// its probe (several of their timer ticks).
    pub old_release_probe: Duration,
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
            identity_cache_ttl: Duration::from_secs(300),
            old_release_probe: Duration::from_millis(250),
        }
    }
}

/// One Redis connection (single server or cluster), multiplexed: its driver task lives
/// on the runtime that first used it.
#[derive(Clone)]
enum Link {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// How to open another [`Link`]: every one shares the client's settings.
enum Opener {
    Single(redis::Client, ConnectionManagerConfig),
    Cluster(ClusterClient, ClusterConfig),
}

impl Opener {
    fn open(&self) -> Result<Link, RedisError> {
        Ok(match self {
            Opener::Single(client, config) => Link::Single(
                ConnectionManager::new_lazy_with_config(client.clone(), config.clone())?,
            ),
            Opener::Cluster(client, config) => {
                Link::Cluster(client.get_pending_async_connection_with_config(config.clone()))
            }
        })
    }
}

/// The store's way to Redis. With `per_thread`, each thread gets its own multiplexed
/// link, opened on first use there: an actix worker's requests then reach Redis through
/// a driver on their own thread, instead of waking a driver on another thread and being
/// woken back for every reply (two cross-thread wake-ups per command, the service's
/// largest cost in a profile of ingest). Without it (`replicas_to_ack` > 0: `WAIT`
/// counts only the writes of the connection that sends it, and a task of a multi-thread
/// runtime may move between its writes and its `WAIT`), one link serves every thread.
/// Cloning is cheap and shares the links.
#[derive(Clone)]
pub struct Conn(Arc<Links>);

struct Links {
    opener: Opener,
    shared: OnceLock<Link>,
    /// Each link with the thread it was opened for: `ThreadLocal` hands a new thread the
    /// slot of an ended one, whose link's driver ended with it.
    per_thread: Option<ThreadLocal<RefCell<(ThreadId, Link)>>>,
}

impl Conn {
    /// `url` is one `redis://` (or `rediss://`) URL, or a comma-separated list of a
    /// cluster's nodes. Connects lazily, on first use (from a Tokio runtime): the service
    /// starts (not ready) while Redis is down.
    pub fn open(url: &str, timeouts: &RedisOptions, per_thread: bool) -> Result<Self, RedisError> {
        Ok(Conn(Arc::new(Links {
            opener: opener(url, timeouts)?,
            shared: OnceLock::new(),
            per_thread: per_thread.then(ThreadLocal::new),
        })))
    }

    /// This thread's link, or the shared one; opened now if it is not yet.
    fn link(&self) -> Result<Link, RedisError> {
        let links = &self.0;
        let Some(per_thread) = &links.per_thread else {
            if let Some(link) = links.shared.get() {
                return Ok(link.clone());
            }
            let link = links.opener.open()?;
            return Ok(links.shared.get_or_init(|| link).clone());
        };
        let me = std::thread::current().id();
        let slot = per_thread
            .get_or_try(|| Ok::<_, RedisError>(RefCell::new((me, links.opener.open()?))))?;
        let mut held = slot.borrow_mut();
        if held.0 != me {
            *held = (me, links.opener.open()?);
        }
        Ok(held.1.clone())
    }
}

fn opener(url: &str, timeouts: &RedisOptions) -> Result<Opener, RedisError> {
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
        return Ok(Opener::Cluster(client, config));
    }
    let client = match &timeouts.tls_ca {
        Some(_) => redis::Client::build_with_tls(url, certs())?,
        None => redis::Client::open(url)?,
    };
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeouts.connect))
        .set_response_timeout(Some(timeouts.response))
        .set_number_of_retries(timeouts.retries as usize);
    Ok(Opener::Single(client, config))
}

impl ConnectionLike for Link {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Link::Single(c) => c.req_packed_command(cmd),
            Link::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Link::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Link::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Link::Single(c) => c.get_db(),
            Link::Cluster(c) => c.get_db(),
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let link = self.link();
        Box::pin(async move { link?.req_packed_command(cmd).await })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let link = self.link();
        Box::pin(async move { link?.req_packed_commands(pipeline, offset, count).await })
    }

    fn get_db(&self) -> i64 {
        self.link().map_or(0, |link| link.get_db())
    }
}
