//! The constants the Lua scripts use, rendered from Rust when the scripts load, so no
//! name or number is typed twice: channels, queues, the supervisor queue, the event cap,
//! the default tier, event kinds, route reasons and their receipt codes, and the
//! idempotency hash's slack. Every script is loaded through `script()`, which prepends
//! them (`scripts.rs` lists the scripts).

use std::fmt::Write;

use redis::Script;

use super::receipts;
use crate::domain::feed::FeedType;
use crate::domain::{Channel, RouteReason, DEFAULT_GROUP, DEFAULT_TIER, QUEUES, SUPERVISOR_QUEUE};
use crate::routing::{EventKind, RouteState, CANDIDATES, QUEUE_SCAN, TRANSFER_CAUSE};
use crate::store::EVENTS_KEPT;

/// How long a released route leaves the episode it ended (`:end:<conv>`, see
/// `release.lua`):
/// far longer than any routing step that read the conversation before its resolve takes
/// to arrive (2 s timeouts, a few retries).
pub const ENDED_KEPT_MS: u64 = 10 * 60 * 1000;

/// Members of the routing timers that are no conversation but finalize's probe for
/// replicas of releases before announcements (`upgrade.rs`): this release's timers leave
/// them, 0.1.0's take them.
pub const PROBE_PREFIX: &str = "probe:";

/// `local NAME = value` lines for every constant the scripts share.
pub fn lua_constants() -> String {
    let list = |items: Vec<&str>| {
        let quoted: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
        format!("{{{}}}", quoted.join(", "))
    };
    let mut out =
        String::from("-- Rendered from Rust (store/redis/constants.rs): never typed in Lua.\n");
    let channels = list(Channel::ALL.iter().map(|c| c.as_str()).collect());
    let queues = list(QUEUES.iter().map(|q| q.as_str()).collect());
    let _ = writeln!(out, "local CHANNELS = {channels}");
    let _ = writeln!(out, "local QUEUES = {queues}");
    let _ = writeln!(out, "local SUPERVISOR = '{SUPERVISOR_QUEUE}'");
    let _ = writeln!(out, "local EVENTS_KEPT = {EVENTS_KEPT}");
    for kind in FeedType::ALL {
        let name = kind
            .as_str()
            .trim_start_matches("switchboard.")
            .replace('.', "_");
        let _ = writeln!(
            out,
            "local FEED_{} = '{}'",
            name.to_uppercase(),
            kind.as_str()
        );
    }
    let _ = writeln!(out, "local CANDIDATES = {CANDIDATES}");
    let _ = writeln!(out, "local QUEUE_SCAN = {QUEUE_SCAN}");
    let _ = writeln!(out, "local DEFAULT_TIER = '{DEFAULT_TIER}'");
    let _ = writeln!(out, "local DEFAULT_GROUP = '{DEFAULT_GROUP}'");
    let _ = writeln!(out, "local DEDUP_SLACK_PARTS = {}", receipts::SLACK_PARTS);
    let _ = writeln!(out, "local DEDUP_TABLE_AT = {}", receipts::TABLE_AT);
    let _ = writeln!(out, "local DEDUP_TABLE_FIELD = '{}'", receipts::TABLE_FIELD);
    let _ = writeln!(out, "local ENDED_KEPT_MS = {ENDED_KEPT_MS}");
    let _ = writeln!(out, "local PROBE_PREFIX = '{PROBE_PREFIX}'");
    for kind in EventKind::ALL {
        let name = kind.as_str().replace('.', "_").to_uppercase();
        let _ = writeln!(out, "local EV_{name} = '{}'", kind.as_str());
    }
    for reason in RouteReason::ALL {
        let name = reason.as_str().to_uppercase();
        let _ = writeln!(out, "local R_{name} = '{}'", reason.as_str());
        let _ = writeln!(out, "local RC_{name} = '{}'", receipts::reason_code(reason));
    }
    for state in RouteState::ALL {
        let name = state.as_str().to_uppercase();
        let _ = writeln!(out, "local S_{name} = '{}'", state.as_str());
    }
    let _ = writeln!(out, "local CAUSE_TRANSFER = '{TRANSFER_CAUSE}'");
    out
}

/// A script with the shared constants prepended.
pub fn script(body: &str) -> Script {
    Script::new(&format!("{}\n{body}", constants_for(body)))
}

/// The constants `body` names, and no others: Redis runs a script's whole text on every
/// call, and each of the seventy-odd `local`s costs a little each time.
fn constants_for(body: &str) -> String {
    let rendered = lua_constants();
    let named = |line: &&str| match line
        .strip_prefix("local ")
        .and_then(|rest| rest.split_once(" = "))
    {
        Some((name, _)) => body.contains(name),
        None => true,
    };
    let kept: Vec<&str> = rendered.lines().filter(named).collect();
    kept.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::redis::scripts::SOURCES;

    #[test]
    fn a_script_carries_the_constants_it_names_only() {
        let rendered = constants_for("return {CHANNELS, R_FALLBACK}");
        assert!(rendered.contains("local CHANNELS = {'phone', 'email', 'chat', 'social'}"));
        assert!(rendered.contains("local R_FALLBACK = 'fallback'"));
        assert!(!rendered.contains("QUEUES"), "{rendered}");
        assert!(!rendered.contains("RC_FALLBACK"), "{rendered}");
    }

    #[test]
    fn the_constants_come_from_rust() {
        let rendered = lua_constants();
        assert!(rendered.contains("local CHANNELS = {'phone', 'email', 'chat', 'social'}"));
        assert!(rendered.contains("'supervisor'}"), "{rendered}");
        assert!(rendered.contains(&format!("local EVENTS_KEPT = {EVENTS_KEPT}")));
        assert!(rendered.contains("local EV_CONVERSATION_COVERED = 'conversation.covered'"));
        assert!(rendered.contains("local R_NEW_PERSONAL_AGENT = 'new_personal_agent'"));
    }

    #[test]
    fn no_lua_source_types_a_constant_again() {
        let mut literals: Vec<String> = Channel::ALL
            .iter()
            .map(|c| format!("'{}'", c.as_str()))
            .collect();
        literals.push(format!("'{SUPERVISOR_QUEUE}'"));
        literals.push(format!("'{DEFAULT_TIER}'"));
        literals.push(format!("'{DEFAULT_GROUP}'"));
        literals.push(format!(", {EVENTS_KEPT},"));
        literals.extend(EventKind::ALL.iter().map(|k| format!("'{}'", k.as_str())));
        literals.extend(RouteReason::ALL.iter().map(|r| format!("'{}'", r.as_str())));
        literals.extend(RouteState::ALL.iter().map(|s| format!("'{}'", s.as_str())));
        literals.push(format!("'{TRANSFER_CAUSE}'"));
        for &(name, source) in SOURCES {
            for literal in &literals {
                // `'personal_agent'` is also a hash field name; only reasons in code count.
                let code: String = source
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("--"))
                    .filter(|l| {
                        !l.contains("HMGET")
                            && !l.contains("HGET")
                            && !l.contains("HSET")
                            && !l.contains("HDEL")
                            && !l.contains("field(")
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                assert!(!code.contains(literal.as_str()), "{name} types {literal}");
            }
        }
    }
}
