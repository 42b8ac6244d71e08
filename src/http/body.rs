//! `RawBody`: a request body read up to the configured limit, for the webhooks that must
//! see the exact bytes (signatures, MIME). Over the limit it is a problem+json 413, like
//! every other error, rather than the framework's plain one.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::StreamExt;

use super::error::ApiError;
use super::HttpLimits;

pub struct RawBody(pub Bytes);

impl FromRequest for RawBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let max = req
            .app_data::<web::Data<HttpLimits>>()
            .map_or(1024 * 1024, |l| l.max_body_bytes);
        let mut payload = payload.take();
        Box::pin(async move {
            let mut body = BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| match super::deadline::timed_out(&e) {
                    true => ApiError::RequestTimeout,
                    false => ApiError::BadRequest(format!("unreadable body: {e}")),
                })?;
                if body.len() + chunk.len() > max {
                    return Err(ApiError::PayloadTooLarge(max));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(RawBody(body.freeze()))
        })
    }
}
