//! Logging through `tracing`: human-readable or JSON lines by setting. Each request runs
//! in a span carrying its `request_id` (see `startup`), so every line of it names it.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::field::Empty;
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};
use tracing_subscriber::{fmt, EnvFilter};

use crate::configuration::{LogFormat, LogSettings};

/// Installs the global subscriber; `RUST_LOG` overrides the configured level.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_target(true);
    // A second init (tests) keeps the first subscriber; that is fine.
    let _ = match settings.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Human => builder.try_init(),
    };
}

/// The span each request runs in: what ties its log lines together (method, route,
/// request id, and the status once answered). tracing-actix-web's default span also
/// works out the client's address, host, user agent and OpenTelemetry names for every
/// request, even when no span is recorded; this service exports none of them.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        // Fields are worked out only when the span is enabled (`info`).
        tracing::info_span!(
            "HTTP request",
            http.method = crate::http::method_label(request.method()),
            http.route = %request.match_pattern().as_deref().unwrap_or("unmatched"),
            request_id = request.extensions().get::<RequestId>().copied().map(tracing::field::display),
            http.status_code = Empty,
            otel.status_code = Empty,
            exception.message = Empty,
            exception.details = Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use actix_web::{test, web, App};
    use tracing_actix_web::TracingLogger;

    use super::*;

    /// Log lines written to a shared buffer.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_or(Ok(0), |mut v| v.write(buf))
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[actix_web::test]
    async fn a_line_logged_inside_a_request_names_its_request_id_and_route() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = fmt()
            .with_env_filter(EnvFilter::new("info"))
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let app = test::init_service(App::new().wrap(TracingLogger::<RequestSpan>::new()).route(
            "/things/{id}",
            web::get().to(|| async {
                tracing::info!("inside the handler");
                "ok"
            }),
        ))
        .await;
        let res =
            test::call_service(&app, test::TestRequest::get().uri("/things/7").to_request()).await;
        assert!(res.status().is_success());
        let log = String::from_utf8(lines.0.lock().map(|v| v.clone()).unwrap_or_default())
            .unwrap_or_default();
        let line = log.lines().find(|l| l.contains("inside the handler"));
        let line = line.unwrap_or_else(|| panic!("no line in {log:?}"));
        assert!(line.contains("http.route=/things/{id}"), "{line}");
        let id = line.split("request_id=").nth(1).map(|rest| &rest[..36]);
        assert!(
            id.is_some_and(|id| id.chars().filter(|c| *c == '-').count() == 4),
            "{line}"
        );
    }
}
