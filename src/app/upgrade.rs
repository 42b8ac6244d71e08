//! Rolling upgrades (`store::format`): this replica announces the newest storage format
//! it reads and follows the deployment's write format; an operator finalizes the newer
//! format once every live replica reads it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{App, AppError};
use crate::store::format::{FinalizeOutcome, FormatStatus, ReplicaFormat, StorageFormat, NEWEST};

/// This release's version (the Cargo package's, tagged `v<version>` when released).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Who this process is to the other replicas, and whether it can serve the deployment's
/// storage format.
#[derive(Debug)]
pub struct Replica {
    /// The pod's name (`HOSTNAME`) and a random suffix: a restarted pod is a new replica.
    pub id: String,
    /// How long an announcement counts after it was made; renewed every sweep.
    pub announcement_ttl: Duration,
    /// False while the deployment writes a format this release cannot read: readiness
    /// fails, so the replica takes no traffic.
    readable: AtomicBool,
}

impl Replica {
    /// Announcing every `sweep` (the routing timer's interval); an announcement counts
    /// for ten sweeps, and at least 30 seconds.
    pub fn new(sweep: Duration) -> Self {
        let announcement_ttl = sweep.saturating_mul(10).max(Duration::from_secs(30));
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "replica".to_owned());
        // A UUIDv7's last 8 hex digits are random.
        let suffix = uuid::Uuid::now_v7().simple().to_string();
        Self {
            id: format!("{host}-{}", &suffix[24..]),
            announcement_ttl,
            readable: AtomicBool::new(true),
        }
    }

    /// Whether the deployment's write format, as last announced, is one this release reads.
    pub fn reads_deployment(&self) -> bool {
        self.readable.load(Ordering::Relaxed)
    }

    fn announcement(&self, now: DateTime<Utc>) -> ReplicaFormat {
        let ttl = chrono::Duration::from_std(self.announcement_ttl)
            .unwrap_or_else(|_| chrono::Duration::seconds(30));
        ReplicaFormat {
            replica: self.id.clone(),
            reads: NEWEST,
            version: VERSION.to_owned(),
            alive_until: now + ttl,
        }
    }
}

/// Announces this replica and follows the deployment's write format; a format newer
/// than this release reads takes the replica out of service (roll forward).
pub async fn announce(app: &App, now: DateTime<Utc>) -> Result<StorageFormat, AppError> {
    let write = app
        .store
        .announce_format(&app.replica.announcement(now))
        .await?;
    app.metrics.upgrade.formats(NEWEST, write);
    let readable = write <= NEWEST;
    if !readable {
        tracing::error!(
            write,
            reads = NEWEST,
            version = VERSION,
            "the deployment writes a storage format this release cannot read: not serving; roll forward"
        );
    }
    app.replica.readable.store(readable, Ordering::Relaxed);
    Ok(write)
}

/// The deployment's formats: what it writes, and what each live replica reads.
pub async fn status(app: &App, now: DateTime<Utc>) -> Result<FormatStatus, AppError> {
    Ok(app.store.format_status(now).await?)
}

/// Finalizes this release's newest format: refused (409) while a live replica cannot
/// read it.
pub async fn finalize(app: &App, now: DateTime<Utc>) -> Result<StorageFormat, AppError> {
    match app.store.finalize_format(NEWEST, now).await? {
        FinalizeOutcome::Finalized { write } => {
            app.metrics.upgrade.formats(NEWEST, write);
            tracing::info!(write, version = VERSION, "storage format finalized");
            Ok(write)
        }
        FinalizeOutcome::Refused { replicas } => {
            let named: Vec<String> = replicas
                .iter()
                .map(|r| format!("{} ({} reads format {})", r.replica, r.version, r.reads))
                .collect();
            Err(AppError::Conflict(format!(
                "not finalized: live replicas cannot read storage format {NEWEST}: {}",
                named.join(", ")
            )))
        }
    }
}
