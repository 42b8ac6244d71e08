use std::process::ExitCode;

use mimalloc::MiMalloc;

use switchboard::commands::{self, CommandError};
use switchboard::configuration::Settings;
use switchboard::domain::AgentId;
use switchboard::http::auth::{self, SUPERVISOR_ROLE};
use switchboard::startup::Application;
use switchboard::telemetry;

/// mimalloc instead of glibc's malloc: a profile of ingest spent ~16 % of the service's
/// CPU in glibc's malloc/free; `scripts/bench.sh` measures the difference.
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// `switchboard` serves; `switchboard check-config` only validates the layered settings
/// (deployments run it against their rendered config file); `switchboard agent-token
/// <agent-id> [--ttl 8h] [--role supervisor]` prints a token for the agent desk;
/// `switchboard upgrade status|finalize` shows or finalizes the storage format.
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
        Some("agent-token") => {
            let args: Vec<String> = std::env::args().skip(2).collect();
            return match agent_token(&settings, &args) {
                Ok(token) => {
                    println!("{token}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("switchboard agent-token: {e}\n{AGENT_TOKEN_USAGE}");
                    ExitCode::from(2)
                }
            };
        }
        Some("upgrade") => {
            let action = std::env::args().nth(2);
            return match commands::upgrade(&settings, action.as_deref()).await {
                Ok(status) => {
                    println!("{status}");
                    ExitCode::SUCCESS
                }
                Err(CommandError::Refused(why)) => {
                    eprintln!("switchboard upgrade: {why}");
                    ExitCode::FAILURE
                }
                Err(CommandError::Usage(why)) => {
                    eprintln!("switchboard upgrade: {why}");
                    ExitCode::from(2)
                }
            };
        }
        Some(other) => {
            eprintln!("switchboard: unknown command `{other}` (expected no argument, `serve`, `check-config`, `agent-token` or `upgrade`)");
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

const AGENT_TOKEN_USAGE: &str =
    "usage: switchboard agent-token <agent-id> [--ttl 8h] [--role supervisor]";

/// A token for `agent-id`, signed with `SWITCHBOARD_AGENT_JWT_SECRET`, valid for `--ttl`
/// (humantime: `8h`, `30m`, `7d`; default 8 hours, one shift).
fn agent_token(settings: &Settings, args: &[String]) -> Result<String, String> {
    let secret = settings
        .agent_jwt_secret
        .as_deref()
        .ok_or("SWITCHBOARD_AGENT_JWT_SECRET is not set: agents cannot sign in")?;
    let (mut agent, mut ttl, mut supervisor) = (None, "8h".to_owned(), false);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--ttl" => ttl = rest.next().ok_or("--ttl needs a duration")?.clone(),
            "--role" => match rest.next().map(String::as_str) {
                Some(SUPERVISOR_ROLE) => supervisor = true,
                other => {
                    let other = other.unwrap_or("nothing");
                    return Err(format!("unknown role `{other}` (only `supervisor`)"));
                }
            },
            id if agent.is_none() && !id.starts_with("--") => agent = Some(id.to_owned()),
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    let agent: AgentId = agent
        .ok_or("name the agent")?
        .parse()
        .map_err(|e| format!("{e}"))?;
    let ttl = humantime::parse_duration(&ttl).map_err(|e| format!("--ttl {ttl}: {e}"))?;
    if ttl.is_zero() {
        return Err("--ttl must be longer than zero".into());
    }
    let max = settings.auth.max_token_lifetime_secs;
    if ttl.as_secs() > max {
        return Err(format!(
            "--ttl may be at most {max} s (auth.max_token_lifetime_secs)"
        ));
    }
    auth::agent_token(secret, &agent, supervisor, ttl).map_err(|e| e.to_string())
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
