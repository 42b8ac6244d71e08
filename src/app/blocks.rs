//! Blocked senders (CONTRACT "Blocked senders"): a message from a blocked identity is
//! answered (`202 { "blocked": true }`) and nothing else happens: nothing stored, routed
//! or claimed, no key left behind.
//!
//! Screening costs no round trip: each replica keeps a copy of the deployment's list,
//! which the `blocks` sweep refreshes once a second (`FOLLOW_EVERY`), reading the list's
//! version (one `GET`) and the list itself only when the version moved. A block made on
//! another replica applies here within a second; on the replica that made it, at once.

use std::collections::HashSet;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use super::{App, AppError};
use crate::domain::{Identity, InboundMessage};

/// This replica's copy of the blocklist: identity keys, and the version they are of.
#[derive(Debug, Default)]
pub struct Blocklist {
    copy: RwLock<(u64, HashSet<String>)>,
    /// When the sweep last read the list's version.
    followed: Mutex<Option<Instant>>,
}

/// How often the sweep reads the list's version: a second's delay for a block made on
/// another replica, one `GET` a second per replica.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

impl Blocklist {
    /// Whether any of the message's identities is blocked.
    fn blocks(&self, msg: &InboundMessage) -> bool {
        let copy = self.copy.read().unwrap_or_else(|p| p.into_inner());
        !copy.1.is_empty() && msg.identities().iter().any(|i| copy.1.contains(&i.key()))
    }

    fn version(&self) -> u64 {
        self.copy.read().unwrap_or_else(|p| p.into_inner()).0
    }

    fn replace(&self, version: u64, identities: &[Identity]) {
        let mut copy = self.copy.write().unwrap_or_else(|p| p.into_inner());
        *copy = (version, identities.iter().map(Identity::key).collect());
    }
}

/// Refuses (as `AppError::Blocked`) a message from a blocked sender, counted.
pub fn screen(app: &App, msg: &InboundMessage) -> Result<(), AppError> {
    if !app.blocks.blocks(msg) {
        return Ok(());
    }
    app.metrics.channels.blocked(msg.medium().channel());
    Err(AppError::Blocked)
}

/// Blocks or unblocks every identity `identities` normalised to; answers whether it
/// changed anything. This replica's copy follows at once.
pub async fn set(app: &App, identities: &[Identity], blocked: bool) -> Result<bool, AppError> {
    let mut changed = false;
    for identity in identities {
        changed |= app.store.set_block(identity, blocked).await?;
    }
    refresh(app).await?;
    Ok(changed)
}

/// The sweep: once a second, follows the deployment's list when its version moved.
pub async fn follow(app: &App) -> Result<(), AppError> {
    {
        let mut followed = app
            .blocks
            .followed
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if followed.is_some_and(|at| at.elapsed() < FOLLOW_EVERY) {
            return Ok(());
        }
        *followed = Some(Instant::now());
    }
    refresh(app).await
}

/// Follows the deployment's list when its version moved.
pub async fn refresh(app: &App) -> Result<(), AppError> {
    if let Some((version, identities)) = app.store.blocks(app.blocks.version()).await? {
        app.blocks.replace(version, &identities);
    }
    Ok(())
}
