//! `rediss://`: the service talks TLS to a real `redis-server --tls-port`, verifying the
//! server against a CA made in the test (and refusing a server it cannot verify).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{free_port, message, spawn_app, test_settings};

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success(), "openssl {args:?}");
}

/// A throwaway CA and a server certificate for 127.0.0.1 signed by it.
fn certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-nodes",
            "-newkey",
            "rsa:2048",
            "-days",
            "1",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=switchboard test CA",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-nodes",
            "-newkey",
            "rsa:2048",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .expect("extension file");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "1",
            "-extfile",
            "san.ext",
        ],
    );
}

struct TlsRedis {
    child: Child,
    port: u16,
}

impl TlsRedis {
    fn start(dir: &Path) -> Self {
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--tls-port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .args([
                "--tls-cert-file",
                "server.crt",
                "--tls-key-file",
                "server.key",
            ])
            .args(["--tls-ca-cert-file", "ca.pem", "--tls-auth-clients", "no"])
            .args(["--save", "", "--appendonly", "no"])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the TLS redis-server never listened"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port }
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn rediss_urls_talk_tls_to_a_verified_server_and_refuse_an_unverified_one() {
    let dir = std::env::temp_dir().join(format!("switchboard-tls-{}", free_port()));
    std::fs::create_dir_all(&dir).expect("dir");
    certificates(&dir);
    let redis = TlsRedis::start(&dir);
    let url = format!("rediss://127.0.0.1:{}", redis.port);
    let ca = dir.join("ca.pem").to_string_lossy().into_owned();

    let app = spawn_app(test_settings(
        Some(&url),
        &[("SWITCHBOARD_REDIS__TLS_CA_FILE", ca.as_str())],
    ))
    .await;
    let receipt = app
        .ingest(&message("chat", None, "v-tls", "over TLS"))
        .await;
    let conv = receipt["conversation_id"].as_str().unwrap_or_default();
    let view = app.admin_json(&format!("/v1/conversations/{conv}")).await;
    assert_eq!(view["messages"][0]["text"], "over TLS");

    // Without the CA the server's certificate cannot be verified: not ready, and an
    // ingest answers 503 rather than talking to a server it cannot trust.
    let untrusting = spawn_app(test_settings(Some(&url), &[])).await;
    let ready = untrusting
        .client
        .get(format!("{}/readyz", untrusting.ops_address))
        .send()
        .await
        .expect("sent");
    assert_eq!(ready.status(), 503);
    let refused = untrusting
        .post_message(&message("chat", None, "v-tls-2", "hi"))
        .await;
    assert_eq!(refused.status(), 503);
    let _ = std::fs::remove_dir_all(&dir);
}
