//! Local OpenID Connect providers the tests start on free loopback ports, from npm
//! (`tests/support/idp/`, installed with `npm ci` on first use): `ApiIdp` is
//! oauth2-mock-server with controls to mint tokens of any shape with its keys and to
//! rotate them; the desk's browser test starts `login-idp.mjs` (npm oidc-provider, a real
//! login page). Stopped when dropped.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Once;

use serde_json::{json, Value};

/// `tests/support/idp`, with its packages installed.
pub fn idp_dir() -> PathBuf {
    static INSTALL: Once = Once::new();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/idp");
    INSTALL.call_once(|| {
        if !dir.join("node_modules").exists() {
            let ok = Command::new("npm")
                .args(["ci", "--silent", "--no-audit", "--no-fund"])
                .current_dir(&dir)
                .status()
                .expect("npm (Node.js) is needed for the sign-in tests");
            assert!(ok.success(), "npm ci in {}", dir.display());
        }
    });
    dir
}

/// A node script of `tests/support/idp` that prints `{"issuer": ...}` once it listens.
pub struct NodeIdp {
    child: Child,
    pub issuer: String,
}

impl NodeIdp {
    pub fn start(script: &str, args: &[&str]) -> Self {
        let dir = idp_dir();
        let mut child = Command::new("node")
            .arg(script)
            .args(args)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the provider's first line");
        let started: Value = serde_json::from_str(&line).expect("{\"issuer\": ...}");
        let issuer = started["issuer"].as_str().expect("issuer").to_owned();
        Self { child, issuer }
    }
}

impl Drop for NodeIdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The API tests' provider (`api-idp.mjs`).
pub struct ApiIdp {
    node: NodeIdp,
    client: reqwest::Client,
}

impl ApiIdp {
    pub fn start() -> Self {
        Self {
            node: NodeIdp::start("api-idp.mjs", &[]),
            client: reqwest::Client::new(),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.node.issuer
    }

    async fn control(&self, path: &str, body: Value) -> reqwest::Response {
        let r = self
            .client
            .post(format!("{}/_test/{path}", self.node.issuer))
            .json(&body)
            .send()
            .await
            .expect("provider");
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r
    }

    /// A token signed by the provider's newest key, with `claims` over its defaults
    /// (`iss`, `iat`, `nbf`, `exp` in an hour); `null` drops a claim.
    pub async fn token(&self, claims: Value) -> String {
        self.token_shaped(json!({ "claims": claims })).await
    }

    /// A token as `/_test/token` takes it: `claims`, `kid`, `header_kid`, `expires_in`.
    pub async fn token_shaped(&self, shape: Value) -> String {
        let body: Value = self
            .control("token", shape)
            .await
            .json()
            .await
            .expect("json");
        body["access_token"].as_str().expect("token").to_owned()
    }

    /// Adds a key, which signs the tokens from now on; answers its id.
    pub async fn add_key(&self) -> String {
        let body: Value = self
            .control("add-key", json!({}))
            .await
            .json()
            .await
            .expect("json");
        body["kid"].as_str().expect("kid").to_owned()
    }

    pub async fn remove_old_keys(&self) {
        self.control("remove-old-keys", json!({})).await;
    }

    /// The public key `kid` as PEM.
    pub async fn public_pem(&self, kid: &str) -> String {
        self.client
            .get(format!("{}/_test/pem?kid={kid}", self.node.issuer))
            .send()
            .await
            .expect("pem")
            .text()
            .await
            .expect("pem")
    }

    pub async fn jwks_fetches(&self) -> u64 {
        let r = self
            .client
            .get(format!("{}/_test/jwks-fetches", self.node.issuer))
            .send()
            .await
            .expect("fetches");
        let body: Value = r.json().await.expect("json");
        body["fetches"].as_u64().expect("count")
    }
}
