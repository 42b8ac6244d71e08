//! The storage format gate for operators (`store::format`): what the deployment writes,
//! what each live replica reads, and finalizing the newer format once all read it. The
//! same as `switchboard upgrade status|finalize`. Admin only.

use actix_web::web;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::Admin;
use super::error::{ApiError, Problem};
use super::resource;
use crate::app::{upgrade, App};
use crate::store::format::{FormatStatus, NEWEST};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/storage-format").route(web::get().to(storage_format)))
        .service(resource("/v1/storage-format/finalize").route(web::post().to(finalize)));
}

/// The deployment's storage formats, as this replica sees them.
#[derive(Debug, Serialize, ToSchema)]
pub struct StorageFormatView {
    /// This replica's release.
    pub version: String,
    /// The newest format this replica reads (and writes once finalized).
    pub reads: u32,
    /// The format every replica writes now.
    pub write: u32,
    /// Every live replica's announcement.
    pub replicas: Vec<ReplicaView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplicaView {
    pub replica: String,
    pub version: String,
    pub reads: u32,
    /// Its announcement counts until then; it renews it while it lives.
    pub alive_until: DateTime<Utc>,
}

impl From<FormatStatus> for StorageFormatView {
    fn from(status: FormatStatus) -> Self {
        Self {
            version: upgrade::VERSION.to_owned(),
            reads: NEWEST,
            write: status.write,
            replicas: status
                .replicas
                .into_iter()
                .map(|r| ReplicaView {
                    replica: r.replica,
                    version: r.version,
                    reads: r.reads,
                    alive_until: r.alive_until,
                })
                .collect(),
        }
    }
}

/// What the deployment writes and what each live replica reads.
#[utoipa::path(
    get,
    path = "/v1/storage-format",
    tag = "ops",
    security(("admin_token" = [])),
    responses((status = 200, body = StorageFormatView))
)]
pub async fn storage_format(
    _: Admin,
    state: web::Data<App>,
) -> Result<web::Json<StorageFormatView>, ApiError> {
    let status = upgrade::status(&state, Utc::now()).await?;
    Ok(web::Json(status.into()))
}

/// Finalizes the upgrade: every replica writes this release's newest storage format
/// from now on, after which a rollback to the previous release is no longer possible.
/// Refused (409, naming them) while a live replica cannot read it. Repeating it changes
/// nothing.
#[utoipa::path(
    post,
    path = "/v1/storage-format/finalize",
    tag = "ops",
    security(("admin_token" = [])),
    responses(
        (status = 200, body = StorageFormatView),
        (status = 409, description = "A live replica cannot read the format", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn finalize(
    _: Admin,
    state: web::Data<App>,
) -> Result<web::Json<StorageFormatView>, ApiError> {
    let now = Utc::now();
    upgrade::finalize(&state, now).await?;
    let status = upgrade::status(&state, now).await?;
    Ok(web::Json(status.into()))
}
