//! The agent desk and the supervisor's wall in a real headless Chromium, against the
//! real binary: what an agent sees and does in a day, through the page only (the API is
//! used to play the customer, the adapters and the admin, and to check the outcome).

mod browser;
mod sso;

use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::{json, Value};

use browser::{
    eventually, outbound_receiver, screenshot, sign_in, text_of, Browser, RedisServer, Service,
    ADAPTER, ADMIN,
};

const XSS: &str = "<img src=x onerror=alert(1)>";

/// Clicks the element `css` finds. The page re-renders lists as events arrive, so an
/// element found may be replaced before the click lands ("stale element"): found again
/// and clicked again, as a person would, for up to two seconds.
async fn click(page: &Client, css: &str) {
    for attempt in 0.. {
        let element = page
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        match element.click().await {
            Ok(_) => return,
            Err(e) if attempt < 20 && e.to_string().contains("stale element") => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("click {css}: {e}"),
        }
    }
}

async fn type_into(page: &Client, css: &str, text: &str) {
    let field = page.find(Locator::Css(css)).await.expect(css);
    field.clear().await.expect("clear");
    field.send_keys(text).await.expect("type");
}

async fn select(page: &Client, css: &str, value: &str) {
    page.find(Locator::Css(css))
        .await
        .expect(css)
        .select_by_value(value)
        .await
        .expect("select");
}

/// The presence the page shows in its switch.
async fn shown_presence(page: &Client) -> Option<String> {
    page.find(Locator::Css("#presence"))
        .await
        .ok()?
        .prop("value")
        .await
        .ok()?
}

/// The channels badged in the open conversation's header.
async fn badged_channels(page: &Client) -> Vec<String> {
    let Ok(badges) = page.find_all(Locator::Css("#conv-channels .badge")).await else {
        return vec![];
    };
    let mut channels = Vec::new();
    for b in badges {
        if let Ok(Some(c)) = b.attr("data-channel").await {
            channels.push(c);
        }
    }
    channels.sort();
    channels
}

async fn chimes(page: &Client) -> u64 {
    let n = page
        .execute("return Number(document.body.dataset.chimes || 0);", vec![])
        .await
        .expect("chimes");
    n.as_u64().unwrap_or(0)
}

async fn presence_via_api(service: &Service, agent: &str) -> String {
    let me = service
        .call("GET", &format!("/v1/agents/{agent}"), ADMIN, Value::Null)
        .await;
    me["presence"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agents_day_on_the_desk_in_a_real_browser_on_the_embedded_store() {
    an_agents_day(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agents_day_on_the_desk_in_a_real_browser_on_redis() {
    let redis = RedisServer::start();
    an_agents_day(Some(&redis.url())).await;
}

/// README's quick start is the embedded store; production is Redis: the day on either.
async fn an_agents_day(redis: Option<&str>) {
    let (outbound_url, outbox) = outbound_receiver();
    let service = Service::start(&outbound_url, redis).await;
    let browser = Browser::start().await;
    service.put_agent("ann", "Ann Agent").await;
    service.put_agent("bob", "Bob Backup").await;
    let desk = format!("{}/desk", service.base);

    // Ann signs in with the token the subcommand printed, and goes online.
    let ann = browser.session().await;
    sign_in(&ann, &desk, &service.token("ann", None)).await;
    assert!(
        !ann.current_url()
            .await
            .expect("url")
            .as_str()
            .contains("ey"),
        "the token never lands in the address"
    );
    eventually("the switch shows the server's presence", || async {
        (shown_presence(&ann).await? == "offline").then_some(())
    })
    .await;
    select(&ann, "#presence", "online").await;
    eventually("Ann is online on the server", || async {
        (presence_via_api(&service, "ann").await == "online").then_some(())
    })
    .await;

    // A new customer writes by e-mail: Ann becomes their personal agent and is alerted.
    let before = chimes(&ann).await;
    let first = service
        .customer_writes(json!({
            "channel": "email", "external_id": "mail-1", "from": "jane@example.com",
            "display_name": "Jane Doe", "subject": "Order 1234 is late",
            "identities": [{"kind": "phone", "value": "+1 415 555 0100"}],
            "text": "Hello, my order 1234 has not arrived.",
        }))
        .await;
    let conv = first["conversation_id"]
        .as_str()
        .expect("conversation")
        .to_owned();
    assert_eq!(first["route"]["agent_id"], "ann");
    let row = format!("#list li[data-conversation='{conv}']");
    eventually("the assignment shows in Ann's list", || async {
        text_of(&ann, &row).await
    })
    .await;
    eventually("the tab title counts the new assignment", || async {
        ann.title().await.ok()?.starts_with("(1) ").then_some(())
    })
    .await;
    assert!(chimes(&ann).await > before, "the chime fired");

    click(&ann, &row).await;
    eventually("the conversation opens", || async {
        text_of(&ann, "#conv-title")
            .await
            .filter(|t| t == "Jane Doe")
    })
    .await;
    assert!(
        !ann.title().await.expect("title").starts_with('('),
        "opening it clears the counter"
    );

    // The same customer writes on chat, then calls: one conversation, three badges, no reload.
    service
        .customer_writes(json!({
            "channel": "chat", "external_id": "chat-1", "from": "visitor-77",
            "identities": [{"kind": "email", "value": "jane@example.com"}],
            "text": XSS,
        }))
        .await;
    let call = service
        .call(
            "POST",
            "/v1/calls",
            ADAPTER,
            json!({ "external_id": "CA-desk-1", "from": "+14155550100", "to": "+18005550199" }),
        )
        .await;
    assert_eq!(
        call["agent_id"], "ann",
        "a known caller goes to her manager"
    );
    // Answered, and not hung up: a hang-up frees the unit the conversation holds.
    service
        .call(
            "POST",
            "/v1/calls/CA-desk-1/events",
            ADAPTER,
            json!({ "event": "answered" }),
        )
        .await;
    eventually("the header shows e-mail, chat and call", || async {
        (badged_channels(&ann).await == ["chat", "email", "phone"]).then_some(())
    })
    .await;
    eventually("the call shows it is on and skipped the menu", || async {
        text_of(&ann, "#timeline .call-facts")
            .await
            .filter(|t| t == "on the call · past the menu (known caller)")
    })
    .await;
    screenshot(&ann, "desk-conversation").await;

    // A message of markup is shown as the text it is.
    let shown = eventually("the chat message is in the timeline", || async {
        let entries = ann
            .find_all(Locator::Css("#timeline .entry .text"))
            .await
            .ok()?;
        for e in entries {
            let text = e.text().await.ok()?;
            if text.contains("onerror") {
                return Some(text);
            }
        }
        None
    })
    .await;
    assert_eq!(shown, XSS);
    let images = ann
        .find_all(Locator::Css("#timeline img"))
        .await
        .expect("find");
    assert!(
        images.is_empty(),
        "no element was made of the customer's text"
    );
    assert!(ann.get_alert_text().await.is_err(), "no script ran");

    // Ann answers on chat; the reply goes to the outbound URL.
    type_into(&ann, "#reply-text", "Sorry, Jane! Checking it now.").await;
    select(&ann, "#reply-channel", "chat").await;
    click(&ann, "#reply-form button[type=submit]").await;
    let status = eventually("the reply is stored", || async {
        text_of(&ann, "#reply-status")
            .await
            .filter(|s| !s.is_empty())
    })
    .await;
    assert_eq!(status, "sent (pending)", "the page says it is on its way");
    let delivered = eventually("the chat reply reaches the outbound URL", || async {
        outbox
            .received()
            .into_iter()
            .find(|d| d["text"] == "Sorry, Jane! Checking it now.")
    })
    .await;
    assert_eq!(delivered["channel"], "chat");
    eventually("the reply shows it was sent", || async {
        text_of(&ann, "#timeline .entry.out .delivery")
            .await
            .filter(|t| t == "sent")
    })
    .await;
    // The provider could not deliver it: Ann sees why, without reloading.
    let reply_id = delivered["message_id"].as_str().expect("id").to_owned();
    service
        .call(
            "POST",
            &format!("/v1/deliveries/{reply_id}/status"),
            ADAPTER,
            json!({ "status": "failed", "error_code": "131026", "error": "Message undeliverable" }),
        )
        .await;
    eventually("the failure and its reason show on the reply", || async {
        text_of(&ann, "#timeline .entry.out .delivery")
            .await
            .filter(|t| t == "failed: Message undeliverable (131026)")
    })
    .await;

    // Bob signs in; Ann transfers to him with a note; his page shows it with the note.
    let bob = browser.session().await;
    sign_in(&bob, &desk, &service.token("bob", None)).await;
    select(&bob, "#presence", "online").await;
    eventually("Bob is online", || async {
        (presence_via_api(&service, "bob").await == "online").then_some(())
    })
    .await;
    type_into(&ann, "#transfer-agent", "bob").await;
    type_into(
        &ann,
        "#transfer-note",
        "Refund approved, please confirm with Jane",
    )
    .await;
    click(&ann, "#transfer-form button[type=submit]").await;
    eventually("the transfer shows in Bob's list", || async {
        text_of(&bob, &row).await
    })
    .await;
    eventually("Bob's tab counts it", || async {
        bob.title().await.ok()?.starts_with("(1) ").then_some(())
    })
    .await;
    click(&bob, &row).await;
    eventually("Bob sees the note inline", || async {
        text_of(&bob, "#timeline .entry.note .text")
            .await
            .filter(|t| t.contains("Refund approved"))
    })
    .await;
    screenshot(&bob, "desk-transferred").await;

    // Bob resolves it.
    click(&bob, "#resolve-form button[type=submit]").await;
    eventually("the conversation is resolved", || async {
        let c = service
            .call(
                "GET",
                &format!("/v1/conversations/{conv}"),
                ADMIN,
                Value::Null,
            )
            .await;
        (c["state"] == "resolved").then_some(())
    })
    .await;

    // A second tab of Ann's shows the same presence, and a change there reaches the first.
    let first_tab = ann.window().await.expect("window");
    let second = ann.new_window(true).await.expect("new tab");
    ann.switch_to_window(second.handle).await.expect("switch");
    sign_in(&ann, &desk, &service.token("ann", None)).await;
    eventually("the second tab shows Ann online", || async {
        (shown_presence(&ann).await? == "online").then_some(())
    })
    .await;
    select(&ann, "#presence", "away").await;
    ann.switch_to_window(first_tab).await.expect("switch back");
    eventually("the first tab follows the server to away", || async {
        (shown_presence(&ann).await? == "away").then_some(())
    })
    .await;

    ann.close().await.expect("close");
    bob.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_supervisors_wall_shows_the_floor_and_only_supervisors_get_it() {
    let redis = RedisServer::start();
    let (outbound_url, _) = outbound_receiver();
    let service = Service::start(&outbound_url, Some(&redis.url())).await;
    let browser = Browser::start().await;
    service.put_agent("sue", "Sue Supervisor").await;
    service.put_agent("ann", "Ann Agent").await;
    // Nobody online: the customer waits in the chat queue, and a complaint waits for a
    // supervisor.
    service
        .customer_writes(json!({
            "channel": "chat", "external_id": "w-1", "from": "visitor-1", "text": "Anyone there?",
        }))
        .await;
    let angry = service
        .customer_writes(json!({
            "channel": "email", "external_id": "w-2", "from": "angry@example.com",
            "text": "Third time I write.",
        }))
        .await;
    let customer = angry["customer_id"].as_str().expect("customer");
    service
        .call(
            "POST",
            &format!("/v1/customers/{customer}/complaints"),
            ADMIN,
            json!({ "text": "Nobody answers me", "channel": "email" }),
        )
        .await;

    let wall = format!("{}/desk/supervisor", service.base);
    let page = browser.session().await;

    // A plain agent's token does not open the wall.
    let plain = service.token("ann", None);
    page.goto(&wall).await.expect("goto");
    let field = page
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#token"))
        .await
        .expect("form");
    field.send_keys(&plain).await.expect("type");
    click(&page, "#signin-form button[type=submit]").await;
    eventually("the wall refuses an agent's token", || async {
        text_of(&page, "#signin-error")
            .await
            .filter(|t| t.contains("not a supervisor"))
    })
    .await;

    sign_in(&page, &wall, &service.token("sue", Some("supervisor"))).await;
    eventually("the chat queue shows one waiting", || async {
        let depth = text_of(&page, "#queues tr[data-queue='chat'] td:nth-child(2)").await?;
        (depth == "1").then_some(())
    })
    .await;
    eventually("the complaint shows", || async {
        let section = page.find(Locator::Css("#complaints-section")).await.ok()?;
        section.is_displayed().await.ok()?.then_some(())
    })
    .await;
    let agents = text_of(&page, "#agents tbody").await.expect("agents");
    assert!(agents.contains("Ann Agent") && agents.contains("Sue Supervisor"));
    screenshot(&page, "supervisor-wall").await;

    // Live: Ann comes online and takes the chat; the wall follows without a reload.
    service
        .call(
            "PUT",
            "/v1/agents/ann/presence",
            ADMIN,
            json!({ "presence": "online" }),
        )
        .await;
    eventually("the chat queue empties on the wall", || async {
        let depth = text_of(&page, "#queues tr[data-queue='chat'] td:nth-child(2)").await?;
        (depth == "0").then_some(())
    })
    .await;

    // The supervisor's token reads the floor but changes no agent.
    let sue = service.token("sue", Some("supervisor"));
    let refused = service
        .http
        .put(format!("{}/v1/agents/ann", service.base))
        .bearer_auth(&sue)
        .json(&json!({ "name": "Renamed" }))
        .send()
        .await
        .expect("put");
    assert_eq!(refused.status(), 403);
    page.close().await.expect("close");
}

/// A timeline longer than the server's first page (200 entries): "show earlier" reveals
/// the loaded entries fifty at a time, then asks the server for the page before them,
/// until the first message shows, every entry once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_timeline_pages_back_to_its_first_message() {
    let (outbound_url, _) = outbound_receiver();
    let service = Service::start(&outbound_url, None).await;
    let browser = Browser::start().await;
    service.put_agent("ann", "Ann Agent").await;
    let token = service.token("ann", None);
    service
        .call(
            "PUT",
            "/v1/agents/ann/presence",
            &token,
            json!({ "presence": "online" }),
        )
        .await;
    let total = 260;
    let mut conv = String::new();
    for i in 0..total {
        let receipt = service
            .customer_writes(json!({
                "channel": "chat", "external_id": format!("long-{i}"), "from": "visitor-long",
                "text": format!("message {i:03}"),
            }))
            .await;
        conv = receipt["conversation_id"].as_str().expect("id").to_owned();
    }
    let ann = browser.session().await;
    sign_in(&ann, &format!("{}/desk#{conv}", service.base), &token).await;
    let row = format!("#list li[data-conversation='{conv}']");
    eventually("the conversation is in Ann's list", || async {
        text_of(&ann, &row).await
    })
    .await;
    click(&ann, &row).await;
    let entries = || async {
        ann.find_all(Locator::Css("#timeline > *"))
            .await
            .map_or(0, |e| e.len())
    };
    eventually("the newest fifty show", || async {
        (entries().await == 50).then_some(())
    })
    .await;
    let mut clicks = 0;
    while ann
        .find(Locator::Css("#earlier"))
        .await
        .expect("button")
        .is_displayed()
        .await
        .expect("shown")
    {
        let before = entries().await;
        click(&ann, "#earlier").await;
        eventually("fifty more (or the rest) show", || async {
            (entries().await > before).then_some(())
        })
        .await;
        clicks += 1;
        assert!(clicks <= 10, "show earlier never ran out");
    }
    assert_eq!(entries().await, total, "every entry once");
    let first = text_of(&ann, "#timeline > *:first-child")
        .await
        .expect("first");
    assert!(first.contains("message 000"), "{first}");
    ann.close().await.expect("close");
}
