//! Provider webhooks against a real Redis: each provider's real payload shapes, their
//! signatures, stitching across adapters, and forgeries that change nothing.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, test_settings, RedisServer, TestApp};

const TWILIO_TOKEN: &str = "twilio-secret";
const PUBLIC: &str = "https://switchboard.example.com";
const META_SECRET: &str = "test_app_secret";
const TELEGRAM_SECRET: &str = "tg-secret_1";

async fn app(redis: &RedisServer) -> TestApp {
    let env = [
        ("SWITCHBOARD_TWILIO_AUTH_TOKEN", TWILIO_TOKEN),
        ("SWITCHBOARD_PUBLIC_URL", PUBLIC),
        ("SWITCHBOARD_META_APP_SECRET", META_SECRET),
        ("SWITCHBOARD_META_VERIFY_TOKEN", "meatyhamhock"),
        ("SWITCHBOARD_TELEGRAM_SECRET_TOKEN", TELEGRAM_SECRET),
    ];
    spawn_app(test_settings(Some(&redis.url()), &env)).await
}

async fn twilio_sms(app: &TestApp, form: &[(&str, &str)], sign: bool) -> u16 {
    let path = "/v1/adapters/twilio/messaging";
    let forged = (!sign).then_some("forged");
    let r = app
        .twilio_post(TWILIO_TOKEN, PUBLIC, path, form, forged)
        .await;
    r.status().as_u16()
}

fn hub_signature(body: &[u8]) -> String {
    crate::helpers::sha256_signature(META_SECRET, body)
}

async fn meta(app: &TestApp, body: &str, signature: &str) -> u16 {
    let r = app
        .client
        .post(format!("{}/v1/adapters/meta", app.address))
        .header("X-Hub-Signature-256", signature)
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("sent");
    r.status().as_u16()
}

async fn customer_of(app: &TestApp, identity: &str) -> Option<Value> {
    let r = app
        .admin_get(&format!("/v1/customers?identity={identity}"))
        .await;
    if r.status() == 200 {
        Some(r.json().await.expect("json"))
    } else {
        None
    }
}

#[tokio::test]
async fn an_sms_and_a_whatsapp_message_from_one_number_are_one_customer() {
    let redis = RedisServer::start();
    let app = app(&redis).await;
    let sms = [
        ("MessageSid", "SM1"),
        ("AccountSid", "AC1"),
        ("From", "+14133881111"),
        ("To", "+12028831111"),
        ("Body", "Msg"),
        ("NumMedia", "0"),
        ("ToCity", ""),
    ];
    assert_eq!(twilio_sms(&app, &sms, true).await, 200);
    assert_eq!(
        twilio_sms(&app, &sms, true).await,
        200,
        "a retry is accepted"
    );
    let wa = [
        ("MessageSid", "SM2"),
        ("From", "whatsapp:+14133881111"),
        ("To", "whatsapp:+12028831111"),
        ("Body", "hi on WhatsApp"),
        ("ProfileName", "Ann"),
        ("NumMedia", "1"),
        ("MediaUrl0", "https://x/cat.jpg"),
        ("MediaContentType0", "image/jpeg"),
    ];
    assert_eq!(twilio_sms(&app, &wa, true).await, 200);
    let by_phone = customer_of(&app, "phone:+14133881111")
        .await
        .expect("customer");
    let by_wa = customer_of(&app, "whatsapp:+14133881111")
        .await
        .expect("customer");
    assert_eq!(by_phone["id"], by_wa["id"]);
    let conv = app
        .admin_json(&format!(
            "/v1/conversations/{}",
            by_phone["open_conversation_id"]
                .as_str()
                .unwrap_or_default()
        ))
        .await;
    let texts: Vec<&str> = conv["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert_eq!(
        texts,
        ["Msg", "hi on WhatsApp\n[image/jpeg: https://x/cat.jpg]"],
        "the retry stored nothing"
    );
    assert_eq!(
        twilio_sms(
            &app,
            &[
                ("MessageSid", "SM3"),
                ("From", "+14133882222"),
                ("Body", "x")
            ],
            false
        )
        .await,
        403
    );
    assert!(
        customer_of(&app, "phone:+14133882222").await.is_none(),
        "a forgery stored nothing"
    );
}

#[tokio::test]
async fn meta_handshake_answers_only_the_right_token_and_signed_events_are_ingested() {
    let redis = RedisServer::start();
    let app = app(&redis).await;
    let hub = |token: &str| {
        format!("{}/v1/adapters/meta?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={token}", app.address)
    };
    let ok = app
        .client
        .get(hub("meatyhamhock"))
        .send()
        .await
        .expect("sent");
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.expect("text"), "1158201444");
    assert_eq!(
        app.client
            .get(hub("wrong"))
            .send()
            .await
            .expect("sent")
            .status(),
        403
    );

    let body = r#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],"messages":[{"from":"16505551234","id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=","timestamp":"1749416383","type":"text","text":{"body":"Does it come in another color?"}}]},"field":"messages"}]}]}"#;
    assert_eq!(
        meta(
            &app,
            body,
            "sha256=0000000000000000000000000000000000000000000000000000000000000000"
        )
        .await,
        403
    );
    assert!(
        customer_of(&app, "whatsapp:16505551234").await.is_none(),
        "a forgery stored nothing"
    );
    assert_eq!(meta(&app, body, &hub_signature(body.as_bytes())).await, 200);
    assert_eq!(
        meta(&app, body, &hub_signature(body.as_bytes())).await,
        200,
        "Meta's retry"
    );
    let c = customer_of(&app, "whatsapp:16505551234")
        .await
        .expect("customer");
    assert_eq!(c["display_name"], "Sheena Nelson");
    let conv = app
        .admin_json(&format!(
            "/v1/conversations/{}",
            c["open_conversation_id"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(conv["messages"].as_array().map(Vec::len), Some(1));

    let status_only = r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{"statuses":[{"id":"wamid.X","status":"read"}]},"field":"messages"}]}]}"#;
    assert_eq!(
        meta(&app, status_only, &hub_signature(status_only.as_bytes())).await,
        200
    );
    let messenger = r#"{"object":"page","entry":[{"id":"111111","time":1457764198246,"messaging":[{"sender":{"id":"USER_ID"},"recipient":{"id":"PAGE_ID"},"timestamp":1457764197627,"message":{"mid":"mid.1457764197618:41d102a3e1ae206a38","seq":73,"text":"hello, world!"}}]}]}"#;
    assert_eq!(
        meta(&app, messenger, &hub_signature(messenger.as_bytes())).await,
        200
    );
    assert!(customer_of(&app, "messenger:USER_ID").await.is_some());
    assert_eq!(
        meta(&app, "{not json", &hub_signature(b"{not json")).await,
        400
    );
}

#[tokio::test]
async fn telegram_updates_need_the_secret_token() {
    let redis = RedisServer::start();
    let app = app(&redis).await;
    let update = json!({"update_id":10000,"message":{"message_id":1365,"from":{"id":1111111,"is_bot":false,"first_name":"Test","username":"Test"},"chat":{"id":1111111,"type":"private"},"date":1441645532,"text":"/start"}});
    let post = |secret: &'static str| {
        let request = app
            .client
            .post(format!("{}/v1/adapters/telegram", app.address))
            .json(&update);
        async move {
            request
                .header("X-Telegram-Bot-Api-Secret-Token", secret)
                .send()
                .await
                .expect("sent")
                .status()
                .as_u16()
        }
    };
    assert_eq!(post("wrong").await, 403);
    assert!(customer_of(&app, "telegram:1111111").await.is_none());
    assert_eq!(post(TELEGRAM_SECRET).await, 200);
    assert_eq!(post(TELEGRAM_SECRET).await, 200, "a retry");
    let c = customer_of(&app, "telegram:1111111")
        .await
        .expect("customer");
    let conv = app
        .admin_json(&format!(
            "/v1/conversations/{}",
            c["open_conversation_id"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(conv["messages"].as_array().map(Vec::len), Some(1));
}

async fn mail(app: &TestApp, raw: &str) -> (u16, Value) {
    let r = app
        .client
        .post(format!("{}/v1/adapters/email", app.address))
        .bearer_auth(crate::helpers::ADAPTER_TOKEN)
        .header("Content-Type", "message/rfc822")
        .body(raw.to_owned())
        .send()
        .await
        .expect("sent");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_raw_email_arrives_once_and_a_reply_from_another_address_stays_its_own_customer() {
    let redis = RedisServer::start();
    let app = app(&redis).await;
    let first = "From: Jane Doe <Jane.Doe@Example.com>\r\nSubject: =?UTF-8?Q?Order_1234_=E2=80=93_late?=\r\nMessage-ID: <m1@example.com>\r\nContent-Type: text/plain\r\n\r\nWhere is my order?\r\n";
    let (status, receipt) = mail(&app, first).await;
    assert_eq!(status, 202);
    assert_eq!(receipt["duplicate"], false);
    let (_, again) = mail(&app, first).await;
    assert_eq!(
        (again["duplicate"].as_bool(), &again["message_id"]),
        (Some(true), &receipt["message_id"]),
        "the same e-mail twice is a duplicate"
    );

    let reply = "From: jane@work.example\r\nSubject: Re: Order 1234\r\nMessage-ID: <m2@work.example>\r\nIn-Reply-To: <m1@example.com>\r\nReferences: <m1@example.com>\r\n\r\nSorry, writing from work.\r\n";
    let (status, other) = mail(&app, reply).await;
    assert_eq!(status, 202);
    assert_ne!(
        other["customer_id"], receipt["customer_id"],
        "naming a thread vouches for nobody: anyone can write any Message-ID"
    );
    let conv = app
        .admin_json(&format!(
            "/v1/conversations/{}",
            receipt["conversation_id"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(conv["messages"][0]["subject"], "Order 1234 – late");
    assert_eq!(conv["customer"]["display_name"], "Jane Doe");

    let wrong_type = app
        .client
        .post(format!("{}/v1/adapters/email", app.address))
        .bearer_auth(crate::helpers::ADAPTER_TOKEN)
        .header("Content-Type", "text/plain")
        .body(first)
        .send()
        .await
        .expect("sent");
    assert_eq!(wrong_type.status(), 415);
    let (status, problem) = mail(&app, "not an e-mail at all").await;
    assert_eq!((status, problem["status"].as_u64()), (400, Some(400)));
    let anonymous = app
        .client
        .post(format!("{}/v1/adapters/email", app.address))
        .header("Content-Type", "message/rfc822")
        .body(first)
        .send()
        .await
        .expect("sent");
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn oversized_webhooks_get_413_problems_and_store_nothing() {
    let redis = RedisServer::start();
    let app = app(&redis).await;
    let big = format!(
        "From: a@b.c\r\nMessage-ID: <big@x>\r\n\r\n{}",
        "x".repeat(1_100_000)
    );
    let r = app
        .client
        .post(format!("{}/v1/adapters/email", app.address))
        .bearer_auth(crate::helpers::ADAPTER_TOKEN)
        .header("Content-Type", "message/rfc822")
        .body(big)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let body = "y".repeat(1_100_000);
    let sig = hub_signature(body.as_bytes());
    let r = app
        .client
        .post(format!("{}/v1/adapters/meta", app.address))
        .header("X-Hub-Signature-256", sig)
        .body(body)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 413);
    assert!(customer_of(&app, "email:a@b.c").await.is_none());
}

async fn timeline_of(app: &TestApp, identity: &str) -> Vec<String> {
    let c = customer_of(app, identity).await.expect("customer");
    let conv = app
        .admin_json(&format!(
            "/v1/conversations/{}",
            c["open_conversation_id"].as_str().unwrap_or_default()
        ))
        .await;
    conv["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn one_bad_message_in_a_meta_batch_is_skipped_and_every_other_is_stored() {
    let redis = RedisServer::start();
    let app = app(&redis).await;
    // The middle message's sender is no phone number; it used to fail the batch with 400
    // at that message, so the third one was never stored, on every retry.
    let body = r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{"messaging_product":"whatsapp","contacts":[{"profile":{"name":"Sheena"},"wa_id":"16505551234"}],"messages":[
        {"from":"16505551234","id":"wamid.1","timestamp":"1749416383","type":"text","text":{"body":"first"}},
        {"from":"not-a-number","id":"wamid.2","timestamp":"1749416384","type":"text","text":{"body":"broken"}},
        {"from":"16505551234","id":"wamid.3","timestamp":"1749416385","type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"yes-1","title":"Yes"}}}
    ]},"field":"messages"}]}]}"#;
    assert_eq!(meta(&app, body, &hub_signature(body.as_bytes())).await, 200);
    assert_eq!(
        timeline_of(&app, "whatsapp:+16505551234").await,
        ["first", "[button] Yes (id: yes-1)"]
    );
    assert_eq!(
        meta(&app, body, &hub_signature(body.as_bytes())).await,
        200,
        "the provider's retry"
    );
    assert_eq!(timeline_of(&app, "whatsapp:+16505551234").await.len(), 2);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"switchboard_webhook_messages_skipped_total{adapter="meta"} 2"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn telegram_edits_and_button_presses_join_the_timeline() {
    let redis = RedisServer::start();
    let app = app(&redis).await;
    let updates = [
        json!({"update_id":1,"message":{"message_id":5,"from":{"id":77,"is_bot":false,"first_name":"Ann"},"chat":{"id":77,"type":"private"},"date":1700000000,"text":"order 1234"}}),
        json!({"update_id":2,"edited_message":{"message_id":5,"from":{"id":77,"is_bot":false,"first_name":"Ann"},"chat":{"id":77,"type":"private"},"date":1700000000,"edit_date":1700000060,"text":"order 1235"}}),
        json!({"update_id":3,"callback_query":{"id":"cb1","from":{"id":77,"is_bot":false,"first_name":"Ann"},"chat_instance":"x","data":"refund"}}),
    ];
    for update in &updates {
        let status = app
            .client
            .post(format!("{}/v1/adapters/telegram", app.address))
            .header("X-Telegram-Bot-Api-Secret-Token", TELEGRAM_SECRET)
            .json(update)
            .send()
            .await
            .expect("sent")
            .status();
        assert_eq!(status, 200);
    }
    assert_eq!(
        timeline_of(&app, "telegram:77").await,
        [
            "order 1234",
            "[edited message 5] order 1235",
            "[button] refund"
        ]
    );
}

#[tokio::test]
async fn an_e_mail_longer_than_the_text_limit_is_stored_cut_with_a_marker() {
    let redis = RedisServer::start();
    let app = app(&redis).await;
    let body = "All work and no play.\r\n".repeat(4000); // ~92,000 characters
    let raw = format!(
        "From: long@example.com\r\nSubject: logs\r\nMessage-ID: <long-1@example.com>\r\n\r\n{body}"
    );
    let (status, receipt) = mail(&app, &raw).await;
    assert_eq!(status, 202, "{receipt}");
    let text = timeline_of(&app, "email:long@example.com").await.remove(0);
    assert!(
        text.starts_with("All work and no play.\nAll work"),
        "LF line ends"
    );
    assert!(
        text.ends_with(" more characters]"),
        "{}",
        &text[text.len() - 80..]
    );
    let kept = text.chars().count();
    assert!((64 * 1024 - 10..=64 * 1024).contains(&kept), "{kept}");
}
