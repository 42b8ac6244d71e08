//! The real binary: SIGTERM drains and exits 0, and a restart on the same Redis shows
//! the whole timeline.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{free_port, message, ApiClient, RedisServer, ADAPTER_TOKEN, ADMIN_TOKEN};

/// The real binary on a free port, killed when dropped.
pub struct Binary {
    child: Child,
    pub api: String,
    ops: String,
}

impl Binary {
    pub fn start(redis_url: &str) -> Self {
        Self::start_with(redis_url, &[])
    }

    /// With further environment (e.g. `SWITCHBOARD_CRASH_AT`).
    pub fn start_with(redis_url: &str, env: &[(&str, &str)]) -> Self {
        Self::spawn(redis_url, env, Stdio::null(), Stdio::null())
    }

    /// With further environment, its log lines (stdout and stderr) written to `log`.
    pub fn start_logged(redis_url: &str, env: &[(&str, &str)], log: &std::path::Path) -> Self {
        let file = std::fs::File::create(log).expect("log file");
        let copy = file.try_clone().expect("log file");
        Self::spawn(redis_url, env, Stdio::from(file), Stdio::from(copy))
    }

    fn spawn(redis_url: &str, env: &[(&str, &str)], stdout: Stdio, stderr: Stdio) -> Self {
        let (api_port, ops_port) = (free_port(), free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .envs(env.iter().copied())
            .env("SWITCHBOARD_REDIS_URL", redis_url)
            .env("SWITCHBOARD_LISTEN", format!("127.0.0.1:{api_port}"))
            .env("SWITCHBOARD_OPS_LISTEN", format!("127.0.0.1:{ops_port}"))
            .env("SWITCHBOARD_ADAPTER_TOKENS", ADAPTER_TOKEN)
            .env("SWITCHBOARD_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("SWITCHBOARD_LOG__FORMAT", "json")
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("binary starts");
        Self {
            child,
            api: format!("http://127.0.0.1:{api_port}"),
            ops: format!("http://127.0.0.1:{ops_port}"),
        }
    }

    /// Requests to it, as the in-process tests make them.
    pub fn client(&self) -> ApiClient {
        ApiClient::new(self.api.clone(), self.ops.clone())
    }

    pub async fn wait_ready(&self) {
        let client = self.client();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(r) = client
                .client
                .get(format!("{}/readyz", self.ops))
                .send()
                .await
            {
                if r.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("switchboard never became ready");
    }

    fn signal_term(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    fn terminate(mut self) -> i32 {
        self.signal_term();
        self.wait_exit()
    }

    pub fn wait_exit(&mut self) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn sigterm_exits_zero_and_a_restart_shows_the_whole_timeline() {
    let redis = RedisServer::start();
    let first = Binary::start(&redis.url());
    first.wait_ready().await;
    let mut conversation = String::new();
    for (i, (channel, network, from)) in [
        ("phone", Some("sms"), "4155550100"),
        ("email", None, "x@y.io"),
        ("social", Some("whatsapp"), "14155550100"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = message(channel, network, from, &format!("step {i}"));
        if channel == "email" {
            body["identities"] = serde_json::json!([{ "kind": "phone", "value": "+14155550100" }]);
        }
        let r = first.client().ingest(&body).await;
        conversation = r["conversation_id"]
            .as_str()
            .expect("conversation id")
            .to_owned();
    }
    assert_eq!(first.terminate(), 0, "SIGTERM exits 0");

    let second = Binary::start(&redis.url());
    second.wait_ready().await;
    let path = format!("/v1/conversations/{conversation}");
    let conv = second.client().admin_json(&path).await;
    let texts: Vec<&str> = conv["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert_eq!(texts, ["step 0", "step 1", "step 2"]);
    assert_eq!(second.terminate(), 0);
}

#[tokio::test]
async fn after_sigterm_readiness_fails_while_a_slow_request_in_flight_still_completes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let redis = RedisServer::start();
    let mut binary = Binary::start(&redis.url());
    binary.wait_ready().await;
    let client = binary.client().client;
    let body = message("chat", None, "slow-sender", "sent slowly").to_string();
    let (head, tail) = body.split_at(body.len() / 2);
    let addr = binary.api.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let request_head = format!(
        "POST /v1/messages HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {ADAPTER_TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
        body.len()
    );
    slow.write_all(request_head.as_bytes()).await.expect("head");
    tokio::time::sleep(Duration::from_millis(200)).await;

    binary.signal_term();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let ready = client.get(format!("{}/readyz", binary.ops)).send().await;
        if ready.is_ok_and(|r| r.status() == 503) {
            break;
        }
        assert!(Instant::now() < deadline, "readiness never turned 503");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    slow.write_all(tail.as_bytes())
        .await
        .expect("the rest of the body");
    let mut answer = String::new();
    slow.read_to_string(&mut answer).await.expect("answer");
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    assert_eq!(binary.wait_exit(), 0, "then it exits 0");
}
