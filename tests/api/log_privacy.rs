//! No personal data in logs (issue #29): the real binary at the default log level
//! serves the API's scenarios — messages on every channel, provider webhooks, a call,
//! replies, transfers with notes, complaints, lookups, and the errors bad input and bad
//! credentials earn — each carrying unique markers in every field a customer or a caller
//! can fill. The captured log holds none of them.

use serde_json::json;

use crate::helpers::{
    message, sha256_signature, RedisServer, AGENT_JWT_SECRET, PUBLIC, TWILIO_TOKEN,
};
use crate::shutdown::Binary;

const META_SECRET: &str = "log-test-meta-secret";
const TELEGRAM_SECRET: &str = "log-test-telegram";

/// A fresh marker: letters and digits no log line could hold by chance.
fn marker(what: &str) -> String {
    format!("{what}{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// Four US numbers from the range set aside for fiction (555-0100 to 555-0199), as
/// E.164, different from each other: digits a log line could only hold by quoting them.
fn phones() -> [String; 4] {
    let base = (uuid::Uuid::new_v4().as_u128() % 96) as u32;
    [0, 1, 2, 3].map(|i| format!("+141555501{:02}", base + i))
}

#[tokio::test]
async fn no_marker_a_customer_or_caller_sent_reaches_the_log() {
    let redis = RedisServer::start();
    let log = std::env::temp_dir().join(format!("switchboard-log-{}.log", uuid::Uuid::new_v4()));
    let env = [
        ("SWITCHBOARD_AGENT_JWT_SECRET", AGENT_JWT_SECRET),
        ("SWITCHBOARD_TWILIO_AUTH_TOKEN", TWILIO_TOKEN),
        ("SWITCHBOARD_PUBLIC_URL", PUBLIC),
        ("SWITCHBOARD_META_APP_SECRET", META_SECRET),
        ("SWITCHBOARD_TELEGRAM_SECRET_TOKEN", TELEGRAM_SECRET),
    ];
    let binary = Binary::start_logged(&redis.url(), &env, &log);
    binary.wait_ready().await;
    let api = binary.client();
    api.agent_online("ann").await;
    api.agent_online("bob").await;
    let mut markers = Vec::new();
    let mut m = |what: &str| {
        let v = marker(what);
        markers.push(v.clone());
        v
    };
    let (visitor, name, text, subject, mailbox) =
        (m("visitor"), m("Name"), m("text"), m("subj"), m("box"));
    let (note, complaint, reply, token) = (m("note"), m("complaint"), m("reply"), m("token"));
    let (wa_text, tg_text, sms_text, bad) = (m("wa"), m("tg"), m("sms"), m("bad"));
    let phones = phones();

    // Messages on every channel, every field filled.
    let mut chat = message("chat", None, &visitor, &text);
    chat["display_name"] = json!(name);
    let receipt = api.ingest(&chat).await;
    let conv = receipt["conversation_id"].as_str().expect("id").to_owned();
    let customer = receipt["customer_id"].as_str().expect("id").to_owned();
    let mut mail = message("email", None, &format!("{mailbox}@example.com"), &text);
    mail["subject"] = json!(subject);
    api.ingest(&mail).await;
    api.ingest(&message("phone", Some("sms"), &phones[0], &text))
        .await;
    api.ingest(&message("social", Some("whatsapp"), &phones[1][1..], &text))
        .await;

    // Providers' webhooks in their own formats.
    let sms = [
        ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
        ("From", phones[2].as_str()),
        ("To", "+15005550006"),
        ("Body", sms_text.as_str()),
    ];
    let r = api
        .twilio_post(
            TWILIO_TOKEN,
            PUBLIC,
            "/v1/adapters/twilio/messaging",
            &sms,
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    let wa = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp",
        "contacts": [{"profile": {"name": name}, "wa_id": &phones[3][1..]}],
        "messages": [{"from": &phones[3][1..], "id": format!("wamid.{}", marker("id")),
            "timestamp": "1749416383", "type": "text", "text": {"body": wa_text}}]}}]}]})
    .to_string();
    let r = api
        .client
        .post(format!("{}/v1/adapters/meta", api.address))
        .header(
            "X-Hub-Signature-256",
            sha256_signature(META_SECRET, wa.as_bytes()),
        )
        .header("Content-Type", "application/json")
        .body(wa)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 200);
    let tg = json!({"update_id": 1, "message": {"message_id": 7, "date": 1749416383,
        "from": {"id": 42, "is_bot": false, "first_name": name},
        "chat": {"id": 42, "type": "private"}, "text": tg_text}});
    let r = api
        .client
        .post(format!("{}/v1/adapters/telegram", api.address))
        .header("X-Telegram-Bot-Api-Secret-Token", TELEGRAM_SECRET)
        .json(&tg)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 200);
    let call = json!({ "external_id": marker("call"), "from": phones[0], "to": "+15005550006" });
    assert_eq!(
        api.adapter_post("/v1/calls", &call).await.status().as_u16() / 100,
        2
    );

    // Staff at work: a reply, a transfer with a note, a complaint, lookups.
    let path = format!("/v1/conversations/{conv}");
    assert_eq!(
        api.admin_post(&format!("{path}/messages"), &json!({ "text": reply }))
            .await
            .status(),
        201
    );
    let transfer = json!({ "to_agent": "bob", "note": note });
    assert!(api
        .admin_post(&format!("{path}/transfer"), &transfer)
        .await
        .status()
        .is_success());
    let complain = json!({ "text": complaint, "channel": "chat" });
    let r = api
        .adapter_post(&format!("/v1/customers/{customer}/complaints"), &complain)
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(
        api.admin_get(&format!("/v1/customers?identity=chat:{visitor}"))
            .await
            .status(),
        200
    );
    let unknown = format!("/v1/customers?identity=email:{bad}@example.com");
    assert_eq!(api.admin_get(&unknown).await.status(), 404);

    // Bad input and bad credentials.
    let invalid = message(
        "phone",
        Some("sms"),
        &format!("+999{}", &phones[0][4..]),
        &bad,
    );
    assert_eq!(api.post_message(&invalid).await.status(), 400);
    let broken = format!("{{\"channel\":\"chat\",\"from\":\"{bad}\",\"text\":\"{bad}\"");
    let r = api
        .client
        .post(format!("{}/v1/messages", api.address))
        .bearer_auth(crate::helpers::ADAPTER_TOKEN)
        .header("Content-Type", "application/json")
        .body(broken)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 400);
    for credential in [token.clone(), format!("Bearer.{token}.x")] {
        let r = api
            .client
            .get(format!("{}/v1/agents/ann/conversations", api.address))
            .bearer_auth(&credential)
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status(), 401);
    }

    drop(binary);
    let logged = std::fs::read_to_string(&log).expect("log");
    let _ = std::fs::remove_file(&log);
    assert!(
        logged.lines().count() >= 5,
        "the log was captured: {logged}"
    );
    let national: Vec<String> = phones.iter().map(|p| p[2..].to_owned()).collect();
    let leaked: Vec<&String> = markers
        .iter()
        .chain(&phones)
        .chain(&national)
        .filter(|m| logged.contains(m.as_str()))
        .collect();
    assert!(leaked.is_empty(), "in the log: {leaked:?}\n{logged}");
}
