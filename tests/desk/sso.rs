//! "Sign in with SSO" in a real headless Chromium (#31): the desk and the wall sign in
//! through a real local OpenID provider's login page (npm oidc-provider, authorization
//! code with PKCE), the token never shows in the address, and a revoked agent's desk
//! signs in again and resumes its event stream without losing the assignment made
//! meanwhile.

use fantoccini::{Client, Locator};
use serde_json::json;

use super::browser::{
    eventually, free_port, outbound_receiver, text_of, Browser, NodeIdp, RedisServer, Service,
    ADMIN,
};
use super::{chimes, click, select, type_into};

/// Signs in through the provider: the desk's SSO button, then the provider's login page.
async fn sso_sign_in(page: &Client, url: &str, login: &str) {
    page.goto(url).await.expect("goto");
    eventually("the SSO button shows", || async {
        let sso = page.find(Locator::Css("#sso")).await.ok()?;
        sso.is_displayed().await.ok()?.then_some(())
    })
    .await;
    click(page, "#sso").await;
    eventually("the provider's login page", || async {
        page.find(Locator::Css("input[name=login]")).await.ok()
    })
    .await;
    type_into(page, "input[name=login]", login).await;
    type_into(page, "input[name=password]", "any password").await;
    click(page, "button[type=submit]").await;
    eventually("back on the desk, signed in", || async {
        let app = page.find(Locator::Css("#app")).await.ok()?;
        app.is_displayed().await.ok()?.then_some(())
    })
    .await;
}

async fn address(page: &Client) -> String {
    page.current_url().await.expect("url").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_and_supervisors_sign_in_through_the_providers_login_page() {
    let redis = RedisServer::start();
    let (outbound_url, outbox) = outbound_receiver();
    let api = free_port();
    let desk = format!("http://127.0.0.1:{api}/desk");
    let wall = format!("{desk}/supervisor");
    let idp = NodeIdp::start("login-idp.mjs", &[&desk, &wall]);
    let oidc = [
        ("SWITCHBOARD_AUTH__OIDC__ISSUER", idp.issuer.as_str()),
        ("SWITCHBOARD_AUTH__OIDC__AUDIENCE", "switchboard"),
        ("SWITCHBOARD_AUTH__OIDC__CLIENT_ID", "switchboard-desk"),
        ("SWITCHBOARD_SSE__HEARTBEAT_SECS", "1"),
    ];
    let service = Service::start_on(api, &outbound_url, Some(&redis.url()), &oidc).await;
    service.put_agent("ann", "Ann Agent").await;
    service.put_agent("sup-sue", "Sue Supervisor").await;
    let browser = Browser::start().await;

    // Ann signs in at the provider, goes online, and answers a customer.
    let ann = browser.session().await;
    sso_sign_in(&ann, &desk, "ann").await;
    let url = address(&ann).await;
    assert!(
        !url.contains("code=") && !url.contains("ey"),
        "nothing of the sign-in in {url}"
    );
    eventually("the desk knows who signed in", || async {
        text_of(&ann, "#me").await.filter(|t| t.contains("ann"))
    })
    .await;
    select(&ann, "#presence", "online").await;
    eventually("Ann is online", || async {
        let me = service
            .call("GET", "/v1/agents/ann", ADMIN, json!(null))
            .await;
        (me["presence"] == "online").then_some(())
    })
    .await;
    let first = service
        .customer_writes(json!({ "channel": "chat", "external_id": "sso-1", "from": "visitor-1", "text": "Hi there" }))
        .await;
    let conv = first["conversation_id"].as_str().expect("id").to_owned();
    let row = format!("#list li[data-conversation='{conv}']");
    eventually("the conversation shows", || async {
        text_of(&ann, &row).await
    })
    .await;
    click(&ann, &row).await;
    eventually("it opens", || async {
        text_of(&ann, "#timeline")
            .await
            .filter(|t| t.contains("Hi there"))
    })
    .await;
    type_into(&ann, "#reply-text", "Hello from SSO").await;
    click(&ann, "#reply-form button[type=submit]").await;
    eventually("the reply goes out", || async {
        outbox
            .received()
            .into_iter()
            .find(|d| d["text"] == "Hello from SSO")
    })
    .await;

    // Revoked: the stream ends with `reauth`, and the desk signs in again through the
    // provider, whose session sends Ann straight back with a new token.
    let token = || async {
        let t = ann.execute(
            "return sessionStorage.getItem('switchboard.token');",
            vec![],
        );
        t.await.ok()?.as_str().map(str::to_owned)
    };
    let live = || async { text_of(&ann, "#stream-state").await.filter(|s| s == "live") };
    let before = token().await.expect("a token");
    service
        .call("POST", "/v1/agents/ann/revoke", ADMIN, json!({}))
        .await;
    eventually("the desk is back, live, with a new token", || async {
        live().await?;
        token().await.filter(|t| *t != before)
    })
    .await;

    // Revoked again, with the provider's session gone: the desk waits at the login page,
    // and a customer assigned to Ann meanwhile arrives as a replayed event once she is
    // back (the chime counts events, the list is reloaded anyway).
    ann.delete_all_cookies().await.expect("cookies"); // the provider's too: same host
    service
        .call("POST", "/v1/agents/ann/revoke", ADMIN, json!({}))
        .await;
    eventually("the provider's login page", || async {
        ann.find(Locator::Css("input[name=login]")).await.ok()
    })
    .await;
    let second = service
        .customer_writes(json!({ "channel": "chat", "external_id": "sso-2", "from": "visitor-2", "text": "Me too" }))
        .await;
    assert_eq!(
        second["route"]["agent_id"], "ann",
        "assigned while she signs in"
    );
    type_into(&ann, "input[name=login]", "ann").await;
    type_into(&ann, "input[name=password]", "any password").await;
    click(&ann, "button[type=submit]").await;
    let second_row = format!(
        "#list li[data-conversation='{}']",
        second["conversation_id"].as_str().expect("id")
    );
    eventually("back, live, with the new conversation", || async {
        live().await?;
        text_of(&ann, &second_row).await
    })
    .await;
    eventually(
        "the assignment made meanwhile arrived as an event",
        || async { (chimes(&ann).await > 0).then_some(()) },
    )
    .await;
    let url = address(&ann).await;
    assert!(
        !url.contains("code=") && !url.contains("ey"),
        "nothing of the sign-in in {url}"
    );

    // Sue, a supervisor at the provider, sees the wall.
    let sue = browser.session().await;
    sso_sign_in(&sue, &wall, "sup-sue").await;
    eventually("the wall shows the floor", || async {
        text_of(&sue, "#me").await.filter(|t| t == "sup-sue")
    })
    .await;
    let url = address(&sue).await;
    assert!(
        !url.contains("code=") && !url.contains("ey"),
        "nothing of the sign-in in {url}"
    );
}
