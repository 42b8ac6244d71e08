//! The one-round-trip ceiling for `scripts/bench.sh`: a bare actix-web handler that
//! parses a message like `POST /v1/messages` does and makes exactly one Redis `SET`.
//! Nothing the service does per message can be cheaper; ingest is reported as a share
//! of this, measured by the same load generator in the same run.
//!
//! `CEILING_LISTEN=127.0.0.1:8099 CEILING_REDIS=redis://127.0.0.1:6379 target/release/deps/ceiling-*`

use actix_web::{web, App, HttpResponse, HttpServer};
use redis::aio::ConnectionManager;
use serde::Deserialize;

#[derive(Deserialize)]
struct Message {
    external_id: String,
    from: String,
    text: String,
}

async fn store(conn: web::Data<ConnectionManager>, msg: web::Json<Message>) -> HttpResponse {
    let key = format!("ceiling:{}:{}", msg.from, msg.external_id);
    let stored: redis::RedisResult<()> = redis::cmd("SET")
        .arg(key)
        .arg(&msg.text)
        .query_async(&mut conn.get_ref().clone())
        .await;
    match stored {
        Ok(()) => HttpResponse::Accepted().finish(),
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    // `cargo bench` runs every bench target: without a listen address, do nothing.
    let Ok(listen) = std::env::var("CEILING_LISTEN") else {
        return Ok(());
    };
    let url = std::env::var("CEILING_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let client = redis::Client::open(url).map_err(std::io::Error::other)?;
    let conn = ConnectionManager::new(client)
        .await
        .map_err(std::io::Error::other)?;
    let conn = web::Data::new(conn);
    HttpServer::new(move || {
        App::new()
            .app_data(conn.clone())
            .route("/v1/messages", web::post().to(store))
    })
    .bind(listen)?
    .run()
    .await
}
