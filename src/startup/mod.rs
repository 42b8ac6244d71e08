//! Builds the application: the store, the API listener and the ops listener. Listeners
//! are bound in `build` (port 0 works: tests read `port()`), served by
//! `run_until_stopped`, which drains on the shutdown future and returns.

mod state;

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle, Service};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{web, HttpMessage, HttpServer};
use tokio_util::sync::CancellationToken;
use tracing_actix_web::{RequestId, TracingLogger};

use crate::adapters::meta::MetaConfig;
use crate::adapters::telegram::TelegramConfig;
use crate::adapters::twilio::TwilioConfig;
use crate::app::App;
use crate::configuration::Settings;
use crate::http::access::SignIn;
use crate::http::auth::oidc::OidcVerifier;
use crate::http::auth::{TokenLifetime, Tokens};
use crate::http::{self, events::SseTiming, ops::Draining, HttpLimits};
use crate::store::format;
use crate::store::Store;
use crate::telemetry::RequestSpan;
use crate::workers;
use crate::workers::event_hub::EventHub;

use self::state::{announce_at_start, migrate_archive_at_start};
pub use self::state::{app_state, open_store};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("invalid setting: {0}")]
    Setting(String),
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// The deployment writes a storage format this release cannot read (roll forward).
    #[error("the deployment writes storage format {write}; release {version} reads up to {reads}: roll forward to a newer release")]
    Format {
        write: u32,
        reads: u32,
        version: &'static str,
    },
}

/// How long a client may take to send its request head.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Application {
    api: Server,
    ops: Server,
    port: u16,
    ops_port: u16,
    draining: Draining,
    state: Arc<App>,
    timer_interval: Duration,
    outbound_interval: Duration,
    outbound_retries: workers::outbound::Retries,
    /// The one shared poll of every open agent event stream, and its interval.
    event_hub: Arc<EventHub>,
    event_poll: Duration,
    /// The task keeping the identity provider's keys fresh, if sign-in is on.
    provider_keys: Option<tokio::task::AbortHandle>,
}

impl Application {
    pub async fn build(settings: &Settings) -> Result<Self, StartupError> {
        let store = open_store(settings)?;
        if settings.redis_url.is_none() {
            // Nobody else ever reads the embedded store: it writes the newest format.
            store
                .finalize_format(format::NEWEST, chrono::Utc::now())
                .await?;
        }
        Self::build_with_store(settings, store).await
    }

    /// Like `build`, with the store supplied (tests share one store between apps).
    pub async fn build_with_store(
        settings: &Settings,
        store: Arc<dyn Store>,
    ) -> Result<Self, StartupError> {
        let state = app_state(settings, store)?;
        announce_at_start(&state).await?;
        migrate_archive_at_start(&state).await;
        let webhooks = Webhooks::from(settings);
        let limits = web::Data::new(HttpLimits {
            max_body_bytes: settings.ingest.max_body_bytes,
            body_timeout: Duration::from_secs(settings.http.body_timeout_secs.max(1)),
            rate_limits: settings.rate_limit.clone(),
            leases: Default::default(),
        });
        // The identity provider's keys are fetched in the background from now on: a
        // provider that is down delays sign-in, not the start.
        let oidc = settings.auth.oidc.provider().and_then(OidcVerifier::new);
        let provider_keys = oidc
            .clone()
            .map(|o| tokio::spawn(o.keep_fresh()).abort_handle());
        let sign_in = web::Data::new(SignIn(oidc.clone()));
        let tokens = web::Data::new(
            Tokens::new(
                settings.admin_token.clone(),
                settings.adapter_tokens(),
                settings.agent_jwt_secret.as_deref(),
                TokenLifetime {
                    max_secs: settings.auth.max_token_lifetime_secs,
                    leeway_secs: settings.auth.leeway_secs,
                },
            )
            .with_oidc(oidc),
        );
        if settings.adapter_tokens().is_empty() {
            tracing::warn!("SWITCHBOARD_ADAPTER_TOKENS is empty: every ingest will be refused");
        }
        let draining = Draining::default();
        let api_draining = web::Data::new(draining.clone());
        let sse = web::Data::new(SseTiming {
            heartbeat: Duration::from_secs(settings.sse.heartbeat_secs.max(1)),
        });
        let event_hub = Arc::new(EventHub::new(settings.sse.max_streams_per_agent));
        let hub = web::Data::new(event_hub.clone());
        let (api_listener, port) = bind(&settings.listen)?;
        let (ops_listener, ops_port) = bind(&settings.ops_listen)?;
        let grace = settings.http.shutdown_timeout_secs;
        let workers = match settings.http.workers {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        };
        let max_body = settings.ingest.max_body_bytes;

        let api_state = web::Data::from(state.clone());
        let api = HttpServer::new(move || {
            actix_web::App::new()
                .wrap(actix_web::middleware::from_fn(http::rate_limit::limit))
                .wrap(actix_web::middleware::from_fn(
                    http::deadline::body_deadline,
                ))
                .wrap_fn(|req, srv| {
                    // Count and time every request by route *pattern*, never the raw path.
                    // One `Arc` clone of the state (not of every metric handle), and no
                    // label formatted per request: the method's and status's names are
                    // borrowed; only the route pattern is a `String`.
                    let started = std::time::Instant::now();
                    let state = req.app_data::<web::Data<App>>().cloned();
                    let method = http::method_label(req.method());
                    let fut = srv.call(req);
                    async move {
                        let res = fut.await?;
                        if let Some(state) = state {
                            let m = &state.metrics;
                            let route = res.request().match_pattern();
                            let route = route.as_deref().unwrap_or("unmatched");
                            let status = res.status();
                            let labels = [method, route, status.as_str()];
                            m.http_requests.with_label_values(&labels).inc();
                            m.http_seconds
                                .with_label_values(&labels[..2])
                                .observe(started.elapsed().as_secs_f64());
                        }
                        Ok(res)
                    }
                })
                .wrap_fn(|req, srv| {
                    // Echo the request id that every log line of this request carries.
                    let id = req.extensions().get::<RequestId>().copied();
                    let fut = srv.call(req);
                    async move {
                        let mut res = fut.await?;
                        let headers = res.headers_mut();
                        if let Some(value) =
                            id.and_then(|id| HeaderValue::from_str(&id.to_string()).ok())
                        {
                            headers.insert(HeaderName::from_static("x-request-id"), value);
                        }
                        http::harden_headers(headers);
                        Ok(res)
                    }
                })
                .wrap(TracingLogger::<RequestSpan>::new())
                .app_data(api_state.clone())
                .app_data(tokens.clone())
                .app_data(sign_in.clone())
                .app_data(limits.clone())
                .app_data(api_draining.clone())
                .app_data(sse.clone())
                .app_data(hub.clone())
                .configure(|cfg| webhooks.register(cfg))
                .configure(http::configure(max_body))
        })
        .disable_signals()
        .shutdown_timeout(grace)
        .client_request_timeout(CLIENT_TIMEOUT)
        .workers(workers)
        .listen(api_listener)
        .map_err(|source| StartupError::Bind {
            addr: settings.listen.clone(),
            source,
        })?
        .run();

        let ops_draining = web::Data::new(draining.clone());
        let ops_state = web::Data::from(state.clone());
        let ops = HttpServer::new(move || {
            actix_web::App::new()
                .app_data(ops_state.clone())
                .app_data(ops_draining.clone())
                .configure(http::ops::configure)
        })
        .disable_signals()
        .shutdown_timeout(grace)
        .client_request_timeout(CLIENT_TIMEOUT)
        .workers(1)
        .listen(ops_listener)
        .map_err(|source| StartupError::Bind {
            addr: settings.ops_listen.clone(),
            source,
        })?
        .run();

        Ok(Self {
            api,
            ops,
            port,
            ops_port,
            draining,
            state,
            timer_interval: Duration::from_millis(settings.routing.timer_interval_ms.max(10)),
            outbound_interval: Duration::from_millis(settings.outbound.poll_interval_ms.max(10)),
            outbound_retries: workers::outbound::Retries {
                max_attempts: settings.outbound.max_attempts.max(1),
                first_backoff: Duration::from_millis(settings.outbound.first_backoff_ms.max(1)),
            },
            event_hub,
            event_poll: Duration::from_millis(settings.sse.poll_interval_ms.max(10)),
            provider_keys,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn ops_port(&self) -> u16 {
        self.ops_port
    }

    /// Serves until `shutdown` resolves, then: readiness turns 503, new connections are
    /// refused, in-flight requests finish (up to the grace period), and it returns.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let api_handle = self.api.handle();
        let ops_handle = self.ops.handle();
        let api = tokio::spawn(self.api);
        let ops = tokio::spawn(self.ops);
        // One token stops every background task; each finishes the round it is in.
        let stop_workers = CancellationToken::new();
        let mut background = vec![
            tokio::spawn(workers::sweeps::run_sweeps(
                self.state.clone(),
                self.timer_interval,
                stop_workers.clone(),
            )),
            tokio::spawn(workers::event_hub::run_event_hub(
                self.event_hub.clone(),
                self.state.store.clone(),
                self.event_poll,
                stop_workers.clone(),
            )),
        ];
        if self.state.outbound.is_some()
            || self.state.call_bridge.is_some()
            || self.state.export_webhook.is_some()
        {
            background.push(tokio::spawn(workers::outbound::run_sender(
                self.state.clone(),
                self.outbound_retries,
                self.outbound_interval,
                stop_workers.clone(),
            )));
        }
        shutdown.await;
        tracing::info!("shutting down: draining in-flight requests");
        self.draining.start();
        self.event_hub.close();
        stop(api_handle, ops_handle).await;
        stop_workers.cancel();
        if let Some(task) = &self.provider_keys {
            task.abort();
        }
        for task in background {
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "a background task ended badly");
            }
        }
        for task in [api, ops] {
            task.await.map_err(std::io::Error::other)??;
        }
        tracing::info!("stopped");
        Ok(())
    }
}

async fn stop(api: ServerHandle, ops: ServerHandle) {
    // The API drains first; the ops port keeps answering (readiness 503) meanwhile.
    api.stop(true).await;
    ops.stop(true).await;
}

fn bind(addr: &str) -> Result<(TcpListener, u16), StartupError> {
    let listener = TcpListener::bind(addr).map_err(|source| StartupError::Bind {
        addr: addr.to_owned(),
        source,
    })?;
    let port = listener
        .local_addr()
        .map_err(|source| StartupError::Bind {
            addr: addr.to_owned(),
            source,
        })?
        .port();
    Ok((listener, port))
}

/// The provider webhooks' own configurations, each registered only when set.
#[derive(Clone)]
struct Webhooks {
    twilio: Option<web::Data<TwilioConfig>>,
    meta: Option<web::Data<MetaConfig>>,
    telegram: Option<web::Data<TelegramConfig>>,
}

impl Webhooks {
    fn from(settings: &Settings) -> Self {
        let twilio = match (&settings.twilio_auth_token, &settings.public_url) {
            (Some(token), Some(url)) => Some(TwilioConfig {
                auth_token: token.clone(),
                public_url: url.trim_end_matches('/').to_owned(),
            }),
            _ => None,
        };
        let meta = (settings.meta_app_secret.is_some() || settings.meta_verify_token.is_some())
            .then(|| MetaConfig {
                app_secret: settings.meta_app_secret.clone(),
                verify_token: settings.meta_verify_token.clone(),
            });
        let telegram = settings
            .telegram_secret_token
            .clone()
            .map(|secret_token| TelegramConfig { secret_token });
        Self {
            twilio: twilio.map(web::Data::new),
            meta: meta.map(web::Data::new),
            telegram: telegram.map(web::Data::new),
        }
    }

    fn register(&self, cfg: &mut web::ServiceConfig) {
        if let Some(twilio) = &self.twilio {
            cfg.app_data(twilio.clone());
        }
        if let Some(meta) = &self.meta {
            cfg.app_data(meta.clone());
        }
        if let Some(telegram) = &self.telegram {
            cfg.app_data(telegram.clone());
        }
    }
}
