//! A whole-request deadline for bodies: actix-web bounds how long a client may take to
//! send a request's head, not its body, so a client announcing a megabyte and sending a
//! byte every few seconds would hold a connection and its buffer for as long as it
//! likes (on webhooks, before any signature is checked). Every body is read through a
//! stream that fails once the request is older than the deadline; the extractors turn
//! that into 408 problem+json.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use actix_web::HttpMessage;
use futures_util::Stream;

use super::HttpLimits;

/// What the body stream says when time is up; extractors recognise it by kind.
const TIMED_OUT: &str = "the request body was not received in time";

/// The middleware (`actix_web::middleware::from_fn`).
pub async fn body_deadline<B: MessageBody>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    let timeout = req
        .app_data::<web::Data<HttpLimits>>()
        .map(|l| l.body_timeout);
    if let Some(timeout) = timeout {
        let inner = req.take_payload();
        let timed = Deadline {
            inner,
            expired: Box::pin(tokio::time::sleep(timeout)),
        };
        req.set_payload(Payload::Stream {
            payload: Box::pin(timed),
        });
    }
    next.call(req).await
}

/// Whether a body error is this deadline's.
pub fn timed_out(e: &PayloadError) -> bool {
    matches!(e, PayloadError::Io(io) if io.kind() == io::ErrorKind::TimedOut)
}

struct Deadline {
    inner: Payload,
    expired: Pin<Box<tokio::time::Sleep>>,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Poll::Ready(chunk) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(chunk);
        }
        match self.expired.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(PayloadError::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                TIMED_OUT,
            ))))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The default deadline for a whole body (seconds).
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
