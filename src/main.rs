use std::process::ExitCode;

use mimalloc::MiMalloc;

use switchboard::configuration::Settings;
use switchboard::startup::Application;
use switchboard::telemetry;

/// mimalloc instead of glibc's malloc: a profile of ingest spent ~16 % of the service's
/// CPU in glibc's malloc/free; `scripts/bench.sh` measures the difference.
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// `switchboard` serves; `switchboard check-config` only validates the layered settings
/// (deployments run it against their rendered config file).
#[tokio::main]
async fn main() -> ExitCode {
    let settings = match Settings::load().and_then(|s| s.validate().map(|()| s)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("switchboard: bad settings: {e}");
            return ExitCode::from(2);
        }
    };
    match std::env::args().nth(1).as_deref() {
        None | Some("serve") => {}
        Some("check-config") => {
            println!("switchboard: settings are valid: {settings:?}");
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("switchboard: unknown command `{other}` (expected no argument, `serve` or `check-config`)");
            return ExitCode::from(2);
        }
    }
    telemetry::init(&settings.log);
    tracing::info!(?settings, "starting");
    let app = match Application::build(&settings).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(api = app.port(), ops = app.ops_port(), "listening");
    match app.run_until_stopped(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}

/// SIGTERM (how orchestrators stop us) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
