//! Card numbers are masked before anything keeps them (CONTRACT "Card numbers"): with
//! the real binary, a real Redis and a real archive, cards written on every channel, in a
//! subject, in an agent's reply and in a staff note reach neither Redis, the archive,
//! an agent's event stream, the adapter's outbound payload nor the log; the timeline
//! shows them masked.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{message, PostgresServer, RedisServer, AGENT_JWT_SECRET};
use crate::outbound::{receiver, SECRET};
use crate::shutdown::Binary;
use crate::traces::{archive_text, contains, event_replay, redis_bytes, wait_archived};

/// A fresh valid card number starting with `prefix`: random digits and the Luhn check
/// digit, so no two tests (and no stored fixture) share one.
fn card(prefix: &str, len: usize) -> String {
    let mut digits: String = prefix.to_owned();
    while digits.len() < len - 1 {
        digits.push(char::from(b'0' + (rand_digit())));
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                (d * 2) / 10 + (d * 2) % 10
            } else {
                d
            }
        })
        .sum();
    digits.push(char::from(b'0' + ((10 - sum % 10) % 10) as u8));
    digits
}

fn rand_digit() -> u8 {
    (uuid::Uuid::new_v4().as_u128() % 10) as u8
}

/// `digits` in groups of four joined by `sep`.
fn grouped(digits: &str, sep: &str) -> String {
    digits
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(sep)
}

/// What the masked form of `digits` is.
fn masked(digits: &str) -> String {
    let n = digits.len();
    format!("{}{}{}", &digits[..6], "*".repeat(n - 10), &digits[n - 4..])
}

#[tokio::test]
async fn card_numbers_reach_no_store_no_event_no_adapter_and_no_log_line() {
    let redis = RedisServer::start();
    let pg = PostgresServer::start();
    let rx = receiver();
    let log = std::env::temp_dir().join(format!("switchboard-cards-{}.log", uuid::Uuid::new_v4()));
    let env = [
        ("SWITCHBOARD_ARCHIVE__URL", pg.url()),
        ("SWITCHBOARD_RETENTION__ARCHIVE_AFTER_SECS", "1".into()),
        ("SWITCHBOARD_INGEST__REOPEN_WINDOW_SECS", "1".into()),
        ("SWITCHBOARD_OUTBOUND_URL", rx.url.clone()),
        ("SWITCHBOARD_OUTBOUND_SECRET", SECRET.into()),
        ("SWITCHBOARD_OUTBOUND__FIRST_BACKOFF_MS", "100".into()),
        ("SWITCHBOARD_OUTBOUND__POLL_INTERVAL_MS", "50".into()),
        ("SWITCHBOARD_AGENT_JWT_SECRET", AGENT_JWT_SECRET.into()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let binary = Binary::start_logged(&redis.url(), &env, &log);
    binary.wait_ready().await;
    let api = binary.client();
    let finalized = api
        .admin_post("/v1/storage-format/finalize", &json!({}))
        .await;
    assert_eq!(finalized.status(), 200);
    api.agent_online("ann").await;

    // One card per place a text enters: each channel, a subject, a reply, a staff note.
    let kinds = [
        ("4", 16),
        ("5", 16),
        ("37", 15),
        ("6", 19),
        ("4", 13),
        ("2", 16),
        ("30", 14),
    ];
    let cards: Vec<String> = kinds
        .iter()
        .map(|(prefix, len)| card(prefix, *len))
        .collect();
    let chat = api
        .ingest(&message(
            "chat",
            None,
            "visitor-c1",
            &format!("my card {}", grouped(&cards[0], " ")),
        ))
        .await;
    let mut email = message(
        "email",
        None,
        "c2@example.com",
        &format!("pay with {}", cards[1]),
    );
    email["subject"] = json!(format!("refund to {}", grouped(&cards[2], "-")));
    api.ingest(&email).await;
    api.ingest(&message(
        "social",
        Some("whatsapp"),
        "14155550123",
        &format!("{}!", cards[3]),
    ))
    .await;
    api.ingest(&message(
        "phone",
        Some("sms"),
        "+14155550124",
        &format!("card {}", cards[4]),
    ))
    .await;
    let conv = chat["conversation_id"]
        .as_str()
        .expect("conversation")
        .to_owned();
    let customer = chat["customer_id"].as_str().expect("customer").to_owned();
    let reply = api
        .admin_post(
            &format!("/v1/conversations/{conv}/messages"),
            &json!({ "text": format!("We charged {}", grouped(&cards[5], " ")) }),
        )
        .await;
    assert_eq!(reply.status(), 201);
    let complaint = api
        .admin_post(
            &format!("/v1/customers/{customer}/complaints"),
            &json!({ "text": format!("double charge on {}", cards[6]), "channel": "chat" }),
        )
        .await;
    assert!(complaint.status().is_success(), "{}", complaint.status());

    // The timeline shows each one masked.
    let view = api.admin_json(&format!("/v1/conversations/{conv}")).await;
    let texts = view["messages"].to_string();
    for c in [&cards[0], &cards[5], &cards[6]] {
        let shown = masked(c);
        let shown_grouped = grouped(&shown, " ");
        assert!(
            texts.contains(&shown) || texts.contains(&shown_grouped),
            "{shown} not in {texts}"
        );
    }
    wait_delivered(&rx.accepted, 1).await;
    let resolved = api
        .admin_post(&format!("/v1/conversations/{conv}/resolve"), &json!({}))
        .await;
    assert!(resolved.status().is_success());
    wait_archived(&api, &conv).await;
    let events = event_replay(&api, "ann").await;
    assert!(
        events.contains("conversation"),
        "the stream replayed nothing"
    );

    let outbound = serde_json::to_string(&*rx.accepted.lock().expect("lock")).expect("json");
    let mut conn = redis.connection();
    let stores: [(&str, Vec<u8>); 5] = [
        ("Redis", redis_bytes(&mut conn)),
        ("the archive", archive_text(&pg.url()).await.into_bytes()),
        ("the event replay", events.into_bytes()),
        ("the outbound payloads", outbound.into_bytes()),
        ("the log", std::fs::read(&log).expect("log")),
    ];
    let _ = std::fs::remove_file(&log);
    for c in &cards {
        for written in [c.clone(), grouped(c, " "), grouped(c, "-")] {
            for (place, bytes) in &stores {
                assert!(!contains(bytes, &written), "{written} in {place}");
            }
        }
    }
    let shown = grouped(&masked(&cards[0]), " ");
    assert!(
        contains(&stores[1].1, &shown),
        "the archive holds the masked text"
    );
    let metrics = api.metrics().await;
    assert!(
        metrics.contains("switchboard_redactions_total{kind=\"card_number\"} 7"),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("redactions"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

async fn wait_delivered(accepted: &std::sync::Mutex<Vec<Value>>, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while accepted.lock().expect("lock").len() < n {
        assert!(
            Instant::now() < deadline,
            "the reply never reached the adapter"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
