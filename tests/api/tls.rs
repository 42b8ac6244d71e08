//! TLS both ways out: `rediss://` to a real `redis-server --tls-port`, verified against a
//! CA made in the test (and refusing a server it cannot verify), and replies delivered to
//! an `https://` adapter endpoint.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::helpers::{free_port, message, spawn_app, spawn_app_unfinalized, test_settings};

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
    let untrusting = spawn_app_unfinalized(test_settings(Some(&url), &[])).await;
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

/// An adapter's outbound endpoint over `https://` with the test CA's certificate; it
/// counts the deliveries whose signature checks out.
fn https_receiver(dir: &Path) -> (String, Arc<AtomicUsize>) {
    use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};

    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.crt"))
        .expect("certificate file")
        .collect::<Result<_, _>>()
        .expect("certificate");
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).expect("key");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tls = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    let delivered = Arc::new(AtomicUsize::new(0));
    let seen = delivered.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "https://localhost:{}/send",
        listener.local_addr().expect("addr").port()
    );
    let server = HttpServer::new(move || {
        let seen = seen.clone();
        App::new().route(
            "/send",
            web::post().to(move |req: HttpRequest, body: web::Bytes| {
                let seen = seen.clone();
                async move {
                    let sig = req
                        .headers()
                        .get("X-Switchboard-Signature")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    if sig == switchboard::app::outbound::sign(OUTBOUND_SECRET, &body) {
                        seen.fetch_add(1, Ordering::SeqCst);
                        HttpResponse::Ok().finish()
                    } else {
                        HttpResponse::Unauthorized().finish()
                    }
                }
            }),
        )
    })
    .workers(1)
    .listen_rustls_0_23(listener, tls)
    .expect("listen")
    .run();
    tokio::spawn(server);
    (url, delivered)
}

const OUTBOUND_SECRET: &str = "tls-outbound-secret";

#[tokio::test]
async fn replies_reach_an_https_adapter_verified_by_its_ca() {
    let dir = std::env::temp_dir().join(format!("switchboard-https-{}", free_port()));
    std::fs::create_dir_all(&dir).expect("dir");
    certificates(&dir);
    let (url, delivered) = https_receiver(&dir);
    let ca = dir.join("ca.pem").to_string_lossy().into_owned();
    let env = [
        ("SWITCHBOARD_OUTBOUND_URL", url.as_str()),
        ("SWITCHBOARD_OUTBOUND_SECRET", OUTBOUND_SECRET),
        ("SWITCHBOARD_OUTBOUND__CA_FILE", ca.as_str()),
        ("SWITCHBOARD_OUTBOUND__POLL_INTERVAL_MS", "50"),
    ];
    let app = spawn_app(test_settings(None, &env)).await;
    let receipt = app
        .ingest(&message("chat", None, "v-https", "hello?"))
        .await;
    let conv = receipt["conversation_id"].as_str().unwrap_or_default();
    let reply: serde_json::Value = app
        .admin_post(
            &format!("/v1/conversations/{conv}/messages"),
            &serde_json::json!({ "text": "over https" }),
        )
        .await
        .json()
        .await
        .expect("json");
    let id = reply["id"].as_str().unwrap_or_default().to_owned();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let state = app.admin_json(&format!("/v1/deliveries/{id}")).await;
        if state["state"] == "delivered" {
            break;
        }
        assert!(Instant::now() < deadline, "not delivered: {state}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        delivered.load(Ordering::SeqCst),
        1,
        "one signed delivery over TLS"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
