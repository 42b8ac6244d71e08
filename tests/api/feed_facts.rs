//! `conversation_facts` in a real PostgreSQL (#32): after the scripted day (and two more
//! resolutions), the archive sink holds one row per resolved conversation and every
//! event once, even when its step runs again; README's example queries, run as written
//! there, answer the figures the day's `conversation.resolved` events give.

use std::collections::BTreeMap;

use chrono::{Datelike, Utc};
use futures_util::StreamExt;
use serde_json::Value;
use sqlx::Row;
use switchboard::app::{conversations, export, feed, feed_sinks, upgrade, Actor};
use switchboard::domain::feed::CloudEvent;

use crate::archiving::archiving_app;
use crate::feed_day::{everything, scripted_day, Day};
use crate::helpers::PostgresServer;

/// README's query marked `<!-- facts-query: name -->`, as written there.
fn readme_query(name: &str) -> String {
    let readme = include_str!("../../README.md");
    let marker = format!("<!-- facts-query: {name} -->");
    let after = &readme[readme.find(&marker).expect("the query in README") + marker.len()..];
    let start = after.find("```sql").expect("a sql block") + "```sql".len();
    let end = after[start..].find("```").expect("its end");
    after[start..start + end].trim().to_owned()
}

/// The last resolution of each conversation, as the feed tells it, with the latest
/// rating (a survey after the resolve counts).
fn latest_facts(all: &[CloudEvent]) -> BTreeMap<String, Value> {
    let mut rows: BTreeMap<String, Value> = BTreeMap::new();
    for e in all {
        match e.kind.as_str() {
            "switchboard.conversation.resolved" => {
                let mut facts = e.data.clone();
                if facts["csat"].is_null() {
                    if let Some(earlier) = rows.get(&e.subject) {
                        facts["csat"] = earlier["csat"].clone();
                    }
                }
                rows.insert(e.subject.clone(), facts);
            }
            "switchboard.rating.recorded" => {
                if let Some(row) = rows.get_mut(&e.subject) {
                    row["csat"] = e.data["rating"].clone();
                }
            }
            _ => {}
        }
    }
    rows
}

/// `percentile_cont(p)` as PostgreSQL computes it.
fn percentile_cont(mut values: Vec<f64>, p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let at = p * (values.len() - 1) as f64;
    let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
    values[lo] + (values[hi] - values[lo]) * (at - lo as f64)
}

#[tokio::test]
async fn conversation_facts_holds_a_row_per_resolved_conversation_and_the_readme_queries_answer() {
    let pg = PostgresServer::start();
    let (_h, app) = archiving_app("redis", &pg).await;
    upgrade::announce(&app, Utc::now()).await.expect("announce");
    let Day { kim, merged, .. } = scripted_day(&app).await;
    // Kim's complaint is answered and resolved; Sam's conversation is resolved unanswered.
    let answer = conversations::Reply {
        text: "We are sorry: here is what happened".into(),
        channel: None,
        network: None,
    };
    conversations::reply(&app, &Actor::Admin, &kim.conversation_id, answer)
        .await
        .expect("answer the complaint");
    for conv in [&kim.conversation_id, &merged.conversation_id] {
        conversations::resolve(&app, &Actor::Admin, conv, None)
            .await
            .expect("resolve");
    }
    let all = everything(&app).await;
    // The sink until it has nothing left, then once more: nothing lands twice.
    let mut stored = 0;
    loop {
        let n = feed_sinks::archive_round(&app).await.expect("sink");
        if n == 0 {
            break;
        }
        stored += n;
    }
    assert_eq!(stored, all.len(), "every event once");
    assert_eq!(feed_sinks::archive_round(&app).await.expect("sink"), 0);
    feed::relay(&app, Utc::now() + chrono::Duration::seconds(10))
        .await
        .expect("relay");

    let pool = sqlx::PgPool::connect(&pg.url()).await.expect("pg");
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM feed_events")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(events as usize, all.len());
    let expected = latest_facts(&all);
    assert_eq!(expected.len(), 3, "Jane's, Kim's and Sam's conversations");
    let rows = sqlx::query("SELECT conversation_id, transfers, reopened, csat, complaint, personal_agent_hit FROM conversation_facts ORDER BY conversation_id")
        .fetch_all(&pool)
        .await
        .expect("rows");
    assert_eq!(
        rows.len(),
        expected.len(),
        "one row per resolved conversation"
    );
    for (row, (conv, facts)) in rows.iter().zip(&expected) {
        let id: String = row.get(0);
        assert_eq!(&id, conv);
        assert_eq!(
            i64::from(row.get::<i32, _>(1)),
            facts["transfers"].as_i64().expect("n")
        );
        assert_eq!(
            i64::from(row.get::<i32, _>(2)),
            facts["reopened"].as_i64().expect("n")
        );
        assert_eq!(
            row.get::<Option<i16>, _>(3).map(i64::from),
            facts["csat"].as_i64()
        );
        assert_eq!(
            row.get::<bool, _>(4),
            facts["complaint"].as_bool().expect("b")
        );
        assert_eq!(
            row.get::<bool, _>(5),
            facts["personal_agent_hit"].as_bool().expect("b")
        );
    }

    // First-response p90 per agent, "last month" as seen from early next month.
    let today = Utc::now().date_naive();
    let (y, m) = match today.month() {
        12 => (today.year() + 1, 1),
        m => (today.year(), m + 1),
    };
    let as_of = format!("'{y}-{m:02}-02T00:00:00Z'::timestamptz");
    let q1 = readme_query("first_response_p90").replace("now()", &as_of);
    let got: Vec<(Option<String>, f64, i64)> = sqlx::query(&q1)
        .fetch_all(&pool)
        .await
        .expect("first_response_p90")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let mut by_agent: BTreeMap<Option<String>, Vec<f64>> = BTreeMap::new();
    for facts in expected.values() {
        if let Some(secs) = facts["first_response_secs"].as_f64() {
            let agent = facts["agent_id"].as_str().map(str::to_owned);
            by_agent.entry(agent).or_default().push(secs);
        }
    }
    let mut want: Vec<(Option<String>, f64, i64)> = by_agent
        .into_iter()
        .map(|(agent, secs)| {
            let n = secs.len() as i64;
            (agent, percentile_cont(secs, 0.9), n)
        })
        .collect();
    // PostgreSQL orders NULL last.
    want.sort_by_key(|(agent, _, _)| (agent.is_none(), agent.clone()));
    assert_eq!(want.len(), 2, "Jane's and Kim's were answered: {want:?}");
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!((&g.0, g.2), (&w.0, w.2));
        assert!((g.1 - w.1).abs() < 1e-6, "{g:?} vs {w:?}");
    }

    // Personal-agent hit rate per team.
    let got: Vec<(String, f64, i64)> = sqlx::query(&readme_query("personal_agent_hit_rate"))
        .fetch_all(&pool)
        .await
        .expect("hit rate")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let hits = expected
        .values()
        .filter(|f| f["personal_agent_hit"] == true)
        .count();
    assert_eq!(
        got,
        [(
            "default".to_owned(),
            hits as f64 / expected.len() as f64,
            expected.len() as i64
        )]
    );

    // The customer's export carries the conversation's reporting row.
    let chunks: Vec<String> = export::begin(&app, &kim.customer_id)
        .await
        .expect("export")
        .expect("kim")
        .chunks(app.clone())
        .map(|c| c.expect("chunk"))
        .collect()
        .await;
    let document: Value = serde_json::from_str(&chunks.concat()).expect("json");
    let kims = document["conversations"]
        .as_array()
        .expect("conversations")
        .iter()
        .find(|c| c["id"] == kim.conversation_id.to_string())
        .expect("Kim's conversation");
    assert_eq!(kims["facts"]["complaint"], true, "{}", kims["facts"]);
    assert_eq!(
        kims["facts"]["conversation_id"],
        kim.conversation_id.to_string()
    );

    // Complaints answered within a working day: Kim's, answered at once.
    let row = sqlx::query(&readme_query("complaints_within_a_working_day"))
        .fetch_one(&pool)
        .await
        .expect("complaints");
    let (within, complaints): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!((within, complaints), (1, 1));
}
