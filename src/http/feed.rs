//! `GET /v1/events` (CONTRACT "Event export (v3)"): the event feed for reporting, as
//! CloudEvents 1.0, pulled with a cursor that covers every shard.

use actix_web::web;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Admin;
use super::error::{ApiError, Problem};
use super::resource;
use crate::app::feed::{self, MAX_PAGE};
use crate::app::App;
use crate::domain::feed::{CloudEvent, Cursor, MAX_CURSOR_CHARS};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/events").route(web::get().to(events)));
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// The `next` of the page before (opaque): events after it; none, from the oldest kept.
    #[param(max_length = 8192, pattern = r"^[A-Za-z0-9_-]*$")]
    pub after: Option<String>,
    /// Events per page, 1-1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// A page of the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedPage {
    /// CloudEvents 1.0 (structured JSON): `specversion`, `id` (stable: dedupe by it),
    /// `source`, `type`, `subject`, `time`, `datacontenttype`, `dataschema`, `data`.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<CloudEvent>,
    /// Where the next page starts (`after`); keep it to resume, across restarts.
    pub next: String,
}

/// The event feed, oldest first across every shard, each shard in order; at least once:
/// a consumer dedupes by `id`. `data` carries ids and figures, never message text.
#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "ops",
    params(FeedQuery),
    security(("admin_token" = [])),
    responses(
        (status = 200, body = FeedPage),
        (status = 400, description = "A cursor this service did not make, or a bad `limit`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn events(
    _: Admin,
    state: web::Data<App>,
    query: web::Query<FeedQuery>,
) -> Result<web::Json<FeedPage>, ApiError> {
    let cursor = match query.after.as_deref() {
        None | Some("") => Cursor::default(),
        Some(raw) if raw.len() <= MAX_CURSOR_CHARS => Cursor::decode(raw)
            .ok_or_else(|| ApiError::BadRequest("`after` is not a cursor of this feed".into()))?,
        Some(_) => return Err(ApiError::BadRequest("`after` is too long".into())),
    };
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "`limit` must be 1-{MAX_PAGE}"
        )));
    }
    let (events, next) = feed::page(&state, &cursor, limit).await?;
    Ok(web::Json(FeedPage {
        events,
        next: next.encode(),
    }))
}
