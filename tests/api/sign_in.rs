//! Agents' sign-in through an identity provider (#31, CONTRACT "Agent sign-in (v3)"),
//! against a real local provider (npm oauth2-mock-server: discovery, JWKS, RS256 keys)
//! and a real Redis: its tokens work, every malformed, forged or stale one is refused
//! with 401 and counted by reason, keys rotate without a restart, made-up key ids cannot
//! hammer the provider, and a revocation on one replica refuses the agent's tokens and
//! ends their event streams (with `reauth`) on another.

use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use crate::helpers::{message, spawn_app, test_settings, ApiIdp, RedisServer, TestApp};

const AUDIENCE: &str = "switchboard";

fn settings(
    redis: &RedisServer,
    idp: &ApiIdp,
    extra: &[(&str, &str)],
) -> switchboard::configuration::Settings {
    let mut all = vec![
        ("SWITCHBOARD_AUTH__OIDC__ISSUER", idp.issuer()),
        ("SWITCHBOARD_AUTH__OIDC__AUDIENCE", AUDIENCE),
        ("SWITCHBOARD_AUTH__OIDC__CLIENT_ID", "switchboard-desk"),
        ("SWITCHBOARD_SSE__HEARTBEAT_SECS", "1"),
    ];
    all.extend_from_slice(extra);
    test_settings(Some(&redis.url()), &all)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Claims of a good token for `agent`.
fn agent_claims(agent: &str) -> Value {
    json!({ "aud": AUDIENCE, "preferred_username": agent })
}

async fn get(app: &TestApp, token: &str, path: &str) -> reqwest::StatusCode {
    app.client
        .get(format!("{}{path}", app.address))
        .bearer_auth(token)
        .send()
        .await
        .expect("sent")
        .status()
}

/// Waits until the app has the provider's keys (fetched in the background at start).
async fn until_signed_in(app: &TestApp, token: &str, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(app, token, path).await != 200 {
        assert!(
            Instant::now() < deadline,
            "the provider's token never worked"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `switchboard_auth_failures_total{reason}` on the app's ops port.
async fn failures(app: &TestApp, reason: &str) -> u64 {
    let text = app.metrics().await;
    let series = format!("switchboard_auth_failures_total{{reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn the_providers_tokens_work_and_bad_ones_are_refused_and_counted() {
    let (redis, idp) = (RedisServer::start(), ApiIdp::start());
    let app = spawn_app(settings(&redis, &idp, &[])).await;
    app.agent_online("ann").await;
    app.agent_online("sue").await;
    let held = "/v1/agents/ann/conversations";
    let good = idp.token(agent_claims("ann")).await;
    until_signed_in(&app, &good, held).await;
    assert_eq!(
        get(&app, &good, "/v1/agents").await,
        403,
        "an agent is no supervisor"
    );
    let sup = idp
        .token(json!({ "aud": [AUDIENCE, "other"], "preferred_username": "sue", "roles": ["switchboard-supervisor"] }))
        .await;
    assert_eq!(
        get(&app, &sup, "/v1/agents").await,
        200,
        "the roles claim makes a supervisor"
    );

    let claims = |extra: Value| {
        let mut c = agent_claims("ann");
        c.as_object_mut()
            .expect("object")
            .extend(extra.as_object().expect("object").clone());
        c
    };
    let pem = idp.public_pem("k1").await;
    let confused = jsonwebtoken::encode(
        &jsonwebtoken::Header { kid: Some("k1".into()), ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256) },
        &json!({ "iss": idp.issuer(), "aud": AUDIENCE, "preferred_username": "ann", "exp": now() + 600 }),
        &jsonwebtoken::EncodingKey::from_secret(pem.as_bytes()),
    )
    .expect("hs256");
    let unsigned = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT","kid":"k1"}"#),
        b64(json!({ "iss": idp.issuer(), "aud": AUDIENCE, "preferred_username": "ann", "exp": now() + 600 }).to_string().as_bytes())
    );
    let tampered = {
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        parts[1] = b64(claims(json!({ "preferred_username": "sue" }))
            .to_string()
            .as_bytes());
        parts.join(".")
    };
    let cases = [
        (
            idp.token(claims(
                json!({ "exp": now() - 60, "iat": now() - 3660, "nbf": now() - 3660 }),
            ))
            .await,
            "expired",
        ),
        (
            idp.token(claims(json!({ "nbf": now() + 120 }))).await,
            "not_yet_valid",
        ),
        (
            idp.token(claims(json!({ "iss": "https://idp.example.com" })))
                .await,
            "issuer",
        ),
        (
            idp.token(claims(json!({ "aud": "someone-else" }))).await,
            "audience",
        ),
        (idp.token(claims(json!({ "aud": null }))).await, "audience"),
        (
            idp.token(claims(json!({ "preferred_username": null })))
                .await,
            "claims",
        ),
        (
            idp.token(claims(json!({ "exp": now() + 13 * 3600 }))).await,
            "claims",
        ),
        (
            idp.token(claims(json!({ "preferred_username": "nobody" })))
                .await,
            "unknown_agent",
        ),
        (unsigned, "algorithm"),
        (confused, "bad_signature"),
        (tampered, "bad_signature"),
        ("not-a-token".to_owned(), "malformed"),
    ];
    for (token, reason) in cases {
        let before = failures(&app, reason).await;
        assert_eq!(get(&app, &token, held).await, 401, "{reason}");
        assert_eq!(
            failures(&app, reason).await,
            before + 1,
            "counted as {reason}"
        );
    }

    // Revoked: every earlier token, and only those (a token issued later works).
    let revoked = app.admin_post("/v1/agents/ann/revoke", &json!({})).await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(get(&app, &good, held).await, 401);
    assert_eq!(failures(&app, "revoked").await, 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let fresh = idp.token(agent_claims("ann")).await;
    assert_eq!(
        get(&app, &fresh, held).await,
        200,
        "a token issued after the revocation"
    );
    let audit: Value = app.admin_json("/v1/audit").await;
    assert!(audit.to_string().contains("agent.revoke"), "{audit}");
    assert_eq!(
        app.admin_post("/v1/agents/nobody/revoke", &json!({}))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn keys_rotate_without_a_restart() {
    let (redis, idp) = (RedisServer::start(), ApiIdp::start());
    let fast = [
        ("SWITCHBOARD_AUTH__OIDC__JWKS_MIN_REFETCH_SECS", "1"),
        ("SWITCHBOARD_AUTH__OIDC__JWKS_REFRESH_SECS", "2"),
    ];
    let app = spawn_app(settings(&redis, &idp, &fast)).await;
    app.agent_online("ann").await;
    let held = "/v1/agents/ann/conversations";
    let old = idp.token(agent_claims("ann")).await;
    until_signed_in(&app, &old, held).await;
    let kid = idp.add_key().await;
    let new = idp
        .token_shaped(json!({ "claims": agent_claims("ann"), "kid": kid }))
        .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        get(&app, &new, held).await,
        200,
        "a new key is fetched when a token names it"
    );
    assert_eq!(
        get(&app, &old, held).await,
        200,
        "the old key still works while published"
    );
    idp.remove_old_keys().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(&app, &old, held).await == 200 {
        assert!(Instant::now() < deadline, "a removed key kept working");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(get(&app, &new, held).await, 200, "the new key still works");
}

#[tokio::test]
async fn a_flood_of_made_up_key_ids_costs_the_provider_a_fetch_or_two() {
    let (redis, idp) = (RedisServer::start(), ApiIdp::start());
    // The unauthenticated rate limit would answer most of them 429 before any check.
    let unlimited = [("SWITCHBOARD_RATE_LIMIT__UNAUTHENTICATED_PER_SEC", "0")];
    let app = spawn_app(settings(&redis, &idp, &unlimited)).await;
    app.agent_online("ann").await;
    let held = "/v1/agents/ann/conversations";
    until_signed_in(&app, &idp.token(agent_claims("ann")).await, held).await;
    let before = idp.jwks_fetches().await;
    let shape =
        |i: usize| json!({ "claims": agent_claims("ann"), "header_kid": format!("made-up-{i}") });
    let mut forged = Vec::new();
    for i in 0..1000 {
        forged.push(idp.token_shaped(shape(i)).await);
    }
    for token in &forged {
        assert_eq!(get(&app, token, held).await, 401);
    }
    let fetched = idp.jwks_fetches().await - before;
    assert!(
        fetched <= 2,
        "1,000 made-up key ids fetched the keys {fetched} times"
    );
    assert_eq!(failures(&app, "unknown_key").await, 1000);
}

/// Reads an event stream until `needle` shows up (or fails after `within`).
async fn read_until(
    stream: &mut reqwest::Response,
    seen: &mut String,
    needle: &str,
    within: Duration,
) {
    let deadline = Instant::now() + within;
    while !seen.contains(needle) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no `{needle}` in: {seen}");
        if let Ok(Ok(Some(bytes))) = tokio::time::timeout(left, stream.chunk()).await {
            seen.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
}

async fn open_stream(
    app: &TestApp,
    agent: &str,
    token: &str,
    last: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .get(format!("{}/v1/agents/{agent}/events", app.address))
        .bearer_auth(token);
    if let Some(id) = last {
        request = request.header("Last-Event-ID", id);
    }
    let response = request.send().await.expect("sent");
    assert_eq!(response.status(), 200);
    response
}

#[tokio::test]
async fn a_revocation_on_one_replica_ends_the_stream_on_another_which_resumes_without_loss() {
    let (redis, idp) = (RedisServer::start(), ApiIdp::start());
    let one = spawn_app(settings(&redis, &idp, &[])).await;
    let two = spawn_app(settings(&redis, &idp, &[])).await;
    one.agent_online("ann").await;
    let token = idp.token(agent_claims("ann")).await;
    until_signed_in(&two, &token, "/v1/agents/ann/conversations").await;
    let mut stream = open_stream(&two, "ann", &token, None).await;
    let mut seen = String::new();
    let first = one
        .post_message(&message("chat", None, "first@example.com", "hello"))
        .await;
    assert_eq!(first.status(), 202);
    read_until(
        &mut stream,
        &mut seen,
        "conversation.assigned",
        Duration::from_secs(5),
    )
    .await;
    let last_id = seen
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("id: "))
        .expect("an event id")
        .to_owned();

    let started = Instant::now();
    assert_eq!(
        one.admin_post("/v1/agents/ann/revoke", &json!({}))
            .await
            .status(),
        200
    );
    assert_eq!(
        get(&two, &token, "/v1/agents/ann/conversations").await,
        401,
        "refused at once"
    );
    read_until(
        &mut stream,
        &mut seen,
        "event: reauth",
        Duration::from_secs(3),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "within a heartbeat (1 s) or so"
    );
    // While the desk signs in again, a conversation is assigned to the agent.
    let second = one
        .post_message(&message("chat", None, "second@example.com", "again"))
        .await;
    assert_eq!(second.status(), 202);
    tokio::time::sleep(Duration::from_millis(1100)).await; // a token of a later second
    let fresh = idp.token(agent_claims("ann")).await;
    let mut resumed = open_stream(&two, "ann", &fresh, Some(&last_id)).await;
    let mut after = String::new();
    read_until(
        &mut resumed,
        &mut after,
        "conversation.assigned",
        Duration::from_secs(5),
    )
    .await;
    assert!(
        !after.contains(&last_id),
        "nothing before the cursor again: {after}"
    );
    let _ = (first, second);
}

#[tokio::test]
async fn a_stream_ends_with_reauth_when_its_token_expires() {
    let (redis, idp) = (RedisServer::start(), ApiIdp::start());
    let app = spawn_app(settings(&redis, &idp, &[])).await;
    app.agent_online("ann").await;
    let lasting = idp.token(agent_claims("ann")).await;
    until_signed_in(&app, &lasting, "/v1/agents/ann/conversations").await;
    let short = idp
        .token_shaped(json!({ "claims": agent_claims("ann"), "expires_in": 3 }))
        .await;
    let opened = Instant::now();
    let mut stream = open_stream(&app, "ann", &short, None).await;
    let mut seen = String::new();
    read_until(
        &mut stream,
        &mut seen,
        "event: reauth",
        Duration::from_secs(6),
    )
    .await;
    assert!(seen.contains(r#"{"reason":"expired"}"#), "{seen}");
    let took = opened.elapsed();
    assert!(
        took >= Duration::from_secs(1),
        "not before the token expired: {took:?}"
    );
    assert!(
        stream.chunk().await.ok().flatten().is_none(),
        "the stream ends after reauth"
    );
}

both_stores!(a_revocation_is_gated_kept_for_its_time_and_never_moves_back);

/// The store's side of revocation, the same on both stores: refused before the format is
/// finalized (0.1.0 replicas would ignore it), then kept for `keep`, and an earlier
/// revocation arriving late does not move the time back.
async fn a_revocation_is_gated_kept_for_its_time_and_never_moves_back(h: crate::helpers::Harness) {
    use switchboard::store::format::NEWEST;
    let ann: switchboard::domain::AgentId = "ann".parse().expect("id");
    let t = chrono::Utc::now();
    let keep = chrono::Duration::seconds(2);
    let gated = h.store.revoke_tokens(&ann, t, keep).await;
    assert!(
        matches!(gated, Err(switchboard::store::StoreError::Conflict(_))),
        "{gated:?}"
    );
    h.store.finalize_format(NEWEST, t).await.expect("finalized");
    assert_eq!(h.store.tokens_revoked(&ann).await.expect("read"), None);
    h.store.revoke_tokens(&ann, t, keep).await.expect("revoke");
    let earlier = t - chrono::Duration::seconds(30);
    h.store
        .revoke_tokens(&ann, earlier, keep)
        .await
        .expect("revoke");
    let at = h
        .store
        .tokens_revoked(&ann)
        .await
        .expect("read")
        .expect("revoked");
    assert_eq!(
        at.timestamp_millis(),
        t.timestamp_millis(),
        "the later time stays"
    );
    let bob: switchboard::domain::AgentId = "bob".parse().expect("id");
    assert_eq!(
        h.store.tokens_revoked(&bob).await.expect("read"),
        None,
        "per agent"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        h.store.tokens_revoked(&ann).await.expect("read"),
        None,
        "kept for `keep`"
    );
}

#[tokio::test]
async fn the_desk_learns_the_provider_and_only_its_pages_may_reach_the_token_endpoint() {
    let (redis, idp) = (RedisServer::start(), ApiIdp::start());
    let app = spawn_app(settings(&redis, &idp, &[])).await;
    let sso = {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let r = app
                .client
                .get(format!("{}/desk/sso", app.address))
                .send()
                .await
                .expect("sent");
            if r.status() == 200 {
                break r.json::<Value>().await.expect("json");
            }
            assert!(
                Instant::now() < deadline,
                "the desk never learnt the provider"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    assert_eq!(sso["issuer"], idp.issuer());
    assert_eq!(sso["client_id"], "switchboard-desk");
    assert_eq!(sso["token_endpoint"], format!("{}/token", idp.issuer()));
    assert!(sso.get("client_secret").is_none(), "nothing secret: {sso}");
    let csp = |path: &'static str| {
        let client = app.client.clone();
        let url = format!("{}{path}", app.address);
        async move {
            let r = client.get(url).send().await.expect("sent");
            r.headers()["content-security-policy"]
                .to_str()
                .expect("ascii")
                .to_owned()
        }
    };
    for page in ["/desk", "/desk/supervisor"] {
        let policy = csp(page).await;
        assert!(
            policy.contains(&format!("connect-src 'self' {}", idp.issuer())),
            "{page}: {policy}"
        );
    }
    let asset = csp("/desk/assets/desk.js").await;
    assert!(
        asset.contains("connect-src 'self';"),
        "assets reach nothing else: {asset}"
    );

    // Without a provider, no SSO and the strict policy.
    let plain = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    let r = plain
        .client
        .get(format!("{}/desk/sso", plain.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 404);
    let r = plain
        .client
        .get(format!("{}/desk", plain.address))
        .send()
        .await
        .expect("sent");
    let policy = r.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(policy.contains("connect-src 'self';"), "{policy}");
}
