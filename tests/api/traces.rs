//! Everything a store holds, as bytes: what the privacy tests search for a customer's
//! data (card numbers, erased customers' identities and texts), and what an agent's event
//! stream replays.

use std::time::{Duration, Instant};

use crate::helpers::{agent_jwt, ApiClient};

/// Every key and every value of one Redis server (or cluster node), whatever its type.
pub fn redis_bytes(conn: &mut redis::Connection) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in redis_entries(conn, "*") {
        out.extend_from_slice(&key);
        out.push(b'\n');
        out.extend_from_slice(&value);
    }
    out
}

/// Each key matching `pattern` with its whole value, whatever its type.
pub fn redis_entries(conn: &mut redis::Connection, pattern: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg(pattern).query(conn).expect("keys");
    let mut entries = Vec::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query(conn).expect("type");
        let command = match kind.as_str() {
            "string" => vec!["GET"],
            "hash" => vec!["HGETALL"],
            "list" => vec!["LRANGE", "0", "-1"],
            "set" => vec!["SMEMBERS"],
            "zset" => vec!["ZRANGE", "0", "-1", "WITHSCORES"],
            "stream" => vec!["XRANGE", "-", "+"],
            _ => continue,
        };
        let mut cmd = redis::cmd(command[0]);
        cmd.arg(&key).arg(&command[1..]);
        let value: redis::Value = cmd.query(conn).expect("value");
        let mut bytes = Vec::new();
        flatten(&value, &mut bytes);
        entries.push((key, bytes));
    }
    entries
}

fn flatten(value: &redis::Value, out: &mut Vec<u8>) {
    match value {
        redis::Value::BulkString(bytes) => out.extend_from_slice(bytes),
        redis::Value::SimpleString(s) => out.extend_from_slice(s.as_bytes()),
        redis::Value::Int(n) => out.extend_from_slice(n.to_string().as_bytes()),
        redis::Value::Double(n) => out.extend_from_slice(n.to_string().as_bytes()),
        redis::Value::Array(items) | redis::Value::Set(items) => {
            items.iter().for_each(|v| flatten(v, out));
        }
        redis::Value::Map(pairs) => pairs.iter().for_each(|(k, v)| {
            flatten(k, out);
            flatten(v, out);
        }),
        _ => {}
    }
    out.push(b'\n');
}

/// Every row of every table of the archive's database, as text.
pub async fn archive_text(url: &str) -> String {
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url)
        .await
        .expect("archive connection");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT quote_ident(table_name) FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("tables");
    let mut out = String::new();
    for table in tables {
        let rows: Vec<String> = sqlx::query_scalar(&format!("SELECT t::text FROM {table} t"))
            .fetch_all(&mut conn)
            .await
            .expect("rows");
        out.push_str(&rows.join("\n"));
    }
    out
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len().max(1))
        .any(|w| w == needle.as_bytes())
}

/// The whole replay of `agent`'s event stream from the start, as text (read until the
/// stream is quiet).
pub async fn event_replay(api: &ApiClient, agent: &str) -> String {
    let mut response = api
        .client
        .get(format!("{}/v1/agents/{agent}/events", api.address))
        .bearer_auth(agent_jwt(agent))
        .header("Last-Event-ID", "0-0")
        .send()
        .await
        .expect("stream");
    assert_eq!(response.status(), 200);
    let mut text = String::new();
    while let Ok(Ok(Some(chunk))) =
        tokio::time::timeout(Duration::from_millis(700), response.chunk()).await
    {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text
}

/// Polls until the conversation reads as archived (or fails after 30 s).
pub async fn wait_archived(api: &ApiClient, conv: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let view = api.admin_json(&format!("/v1/conversations/{conv}")).await;
        if view["archived"] == true {
            return;
        }
        assert!(Instant::now() < deadline, "never archived: {view}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
