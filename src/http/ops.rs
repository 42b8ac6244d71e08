//! The ops listener: `/healthz` (the process lives), `/readyz` (the store answers and we
//! are not draining) and `/metrics`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::app::App;

/// Flipped once at shutdown so load balancers stop sending before the drain.
#[derive(Debug, Default, Clone)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    pub fn start(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

const READY_TIMEOUT: Duration = Duration::from_secs(1);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics));
}

/// Liveness: the process serves requests.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "Alive (ops port)")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok", "version": crate::app::upgrade::VERSION }))
}

/// Readiness: 200 only while the store answers and the service is not draining.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses(
    (status = 200, description = "Ready (ops port)"),
    (status = 503, description = "Store unreachable or draining"),
))]
pub async fn readyz(state: web::Data<App>, draining: web::Data<Draining>) -> HttpResponse {
    if draining.is_draining() {
        return unready("draining");
    }
    if !state.replica.reads_deployment() {
        return unready("the deployment writes a storage format this release cannot read");
    }
    match tokio::time::timeout(READY_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => HttpResponse::Ok().json(json!({ "status": "ready" })),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "store not ready");
            unready("store unreachable")
        }
        Err(_) => unready("store timed out"),
    }
}

fn unready(why: &str) -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .insert_header(("Retry-After", "1"))
        .json(json!({ "status": "unready", "reason": why }))
}

/// Prometheus text exposition. Counters and histograms are this replica's; the queue,
/// oldest-wait and agent gauges are the whole deployment's, read from the store (at most
/// once a second) so every replica reports the same values.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, description = "Prometheus metrics (ops port)", content_type = "text/plain")))]
pub async fn metrics(state: web::Data<App>) -> HttpResponse {
    state
        .metrics
        .placement_mismatches_seen(state.store.placement_mismatches());
    if state.metrics.deployment_stale() {
        match tokio::time::timeout(READY_TIMEOUT, state.store.snapshot()).await {
            Ok(Ok(snapshot)) => state.metrics.deployment(&snapshot, chrono::Utc::now()),
            _ => state.metrics.deployment_unknown(),
        }
    }
    match state.metrics.render() {
        Ok(text) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4")
            .body(text),
        Err(e) => {
            tracing::error!(error = %e, "metrics rendering failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}
