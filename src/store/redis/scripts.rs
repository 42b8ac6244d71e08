//! Every Lua script the Redis store runs, listed once. Each is loaded with the constants
//! rendered from Rust (`constants.rs`); a routing script (one group's slot) also with the
//! routing prelude, which holds that slot's layout and shared steps; a script that
//! writes a conversation's holder mirror also with `mirror` (`lua/mirror/mirror.lua`).

use redis::Script;

use super::constants;

const ROUTING_PRELUDE: &str = include_str!("lua/routing/prelude.lua");
const CUSTOMER_FEED: &str = include_str!("lua/feed/customer.lua");
const MIRROR: &str = include_str!("lua/mirror/mirror.lua");

/// Declares the scripts: `field: "path"` in sections `plain`, `customer` (with the
/// customer side of the event feed, `lua/feed/customer.lua`), `routing` (with the
/// prelude) and `mirror` (with `lua/mirror/mirror.lua`).
macro_rules! scripts {
    (
        plain { $($plain:ident: $plain_path:literal,)* }
        customer { $($customer:ident: $customer_path:literal,)* }
        routing { $($routing:ident: $routing_path:literal,)* }
        mirror { $($mirror:ident: $mirror_path:literal,)* }
    ) => {
        pub(super) struct Scripts {
            $(pub(super) $plain: Script,)*
            $(pub(super) $customer: Script,)*
            $(pub(super) $routing: Script,)*
            $(pub(super) $mirror: Script,)*
        }

        impl Scripts {
            pub(super) fn load() -> Self {
                Self {
                    $($plain: constants::script(include_str!($plain_path)),)*
                    $($customer: constants::script(&format!(
                        "{CUSTOMER_FEED}\n{}",
                        include_str!($customer_path)
                    )),)*
                    $($routing: constants::script(&format!(
                        "{ROUTING_PRELUDE}\n{}",
                        include_str!($routing_path)
                    )),)*
                    $($mirror: constants::script(&format!(
                        "{MIRROR}\n{}",
                        include_str!($mirror_path)
                    )),)*
                }
            }
        }

        /// Every script file with its source, as embedded (the prelude included).
        #[cfg(test)]
        pub(super) const SOURCES: &[(&str, &str)] = &[
            ("lua/routing/prelude.lua", ROUTING_PRELUDE),
            ("lua/feed/customer.lua", CUSTOMER_FEED),
            ("lua/mirror/mirror.lua", MIRROR),
            $(($plain_path, include_str!($plain_path)),)*
            $(($customer_path, include_str!($customer_path)),)*
            $(($routing_path, include_str!($routing_path)),)*
            $(($mirror_path, include_str!($mirror_path)),)*
        ];
    };
}

scripts! {
    plain {
        merge_out: "lua/merge_out.lua",
        repoint: "lua/repoint.lua",
        auto_reply: "lua/auto_reply.lua",
        delivery: "lua/delivery.lua",
        regroup: "lua/regroup.lua",
        adopt: "lua/adopt.lua",
        deadlines_due: "lua/deadlines_due.lua",
        outbox_claim: "lua/outbox/claim.lua",
        finalize_format: "lua/upgrade/finalize.lua",
        archive_claim: "lua/archive/claim.lua",
        archive_read: "lua/archive/read.lua",
        archive_release: "lua/archive/release.lua",
        archive_stub: "lua/archive/stub.lua",
        archive_delete: "lua/archive/delete.lua",
        redact: "lua/privacy/redact.lua",
        erasure_begin: "lua/erasure/begin.lua",
        erasure_unpoint: "lua/erasure/unpoint.lua",
        erasure_records: "lua/erasure/records.lua",
        erasure_finish: "lua/erasure/finish.lua",
        set_block: "lua/blocks/set.lua",
        revoke_tokens: "lua/credentials/revoke.lua",
        feed_claim: "lua/feed/claim.lua",
        feed_release: "lua/feed/release.lua",
        feed_drop: "lua/feed/drop.lua",
        feed_advance: "lua/feed/advance.lua",
    }
    customer {
        ingest: "lua/ingest.lua",
        merge_in: "lua/merge_in.lua",
        resolve: "lua/resolve.lua",
        reply: "lua/reply.lua",
        rate: "lua/rate.lua",
        feed_note: "lua/feed/note.lua",
    }
    routing {
        route: "lua/routing/route.lua",
        release: "lua/routing/release.lua",
        presence: "lua/routing/presence.lua",
        put_agent: "lua/routing/put_agent.lua",
        timers: "lua/routing/timers.lua",
        delete_agent: "lua/routing/delete_agent.lua",
        snapshot: "lua/routing/snapshot.lua",
        transfer: "lua/routing/transfer.lua",
        hand_off: "lua/routing/hand_off.lua",
        take_over: "lua/routing/take_over.lua",
        leave_group: "lua/routing/leave_group.lua",
        require: "lua/routing/require.lua",
        raise: "lua/routing/raise.lua",
        forget_customer: "lua/routing/forget_customer.lua",
        erase: "lua/routing/erase.lua",
        erase_events: "lua/routing/erase_events.lua",
        erase_done: "lua/routing/erase_done.lua",
    }
    mirror {
        mirror: "lua/mirror/call.lua",
        settle: "lua/mirror/settle.lua",
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::SOURCES;

    fn lua_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("lua dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                lua_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "lua") {
                out.push(path);
            }
        }
    }

    /// A script file nobody loads is dead code or a forgotten registration.
    #[test]
    fn every_lua_file_is_loaded_and_listed_once() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/redis");
        let mut files = Vec::new();
        lua_files(&root.join("lua"), &mut files);
        let mut on_disk: Vec<String> = files
            .iter()
            .map(|p| {
                let rel = p.strip_prefix(&root).expect("under root");
                rel.to_string_lossy().into_owned()
            })
            .collect();
        on_disk.sort();
        let mut listed: Vec<String> = SOURCES.iter().map(|(p, _)| (*p).to_owned()).collect();
        listed.sort();
        assert_eq!(listed, on_disk);
    }

    /// The routing steps the Rust engine (the specification) and the Lua prelude both
    /// take, under one name each, so a reader can hold the two side by side.
    const STEPS: [&str; 12] = [
        "assign",
        "unhold",
        "take_out",
        "fall_back",
        "drain",
        "hand_back",
        "release_waiting",
        "choose_personal_agent",
        "least_loaded",
        "place_queued",
        "fits",
        "drop_from_portfolio",
    ];

    #[test]
    fn rust_and_lua_name_the_routing_steps_alike() {
        let engine = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routing/engine");
        let mut rust = String::new();
        for entry in std::fs::read_dir(engine).expect("engine dir") {
            rust += &std::fs::read_to_string(entry.expect("entry").path()).expect("source");
        }
        let prelude = super::ROUTING_PRELUDE;
        for step in STEPS {
            assert!(rust.contains(&format!("fn {step}(")), "no `{step}` in Rust");
            assert!(
                prelude.contains(&format!("local function {step}(")),
                "no `{step}` in the Lua prelude"
            );
        }
    }

    /// Lines of `source` that read an argument after the script's first statement that
    /// is not a `local` declaration (passing them all on with `unpack(ARGV, n)` aside).
    fn arguments_read_late(source: &str) -> Vec<String> {
        let code = source
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("--"));
        let mut head = true;
        let mut late = Vec::new();
        for line in code {
            head = head && line.starts_with("local ") && !line.starts_with("local function");
            if !head && line.contains("ARGV[") {
                late.push(line.to_owned());
            }
        }
        late
    }

    /// Each script names its arguments once, at the top: the body reads names, not
    /// positions, so a caller's argument list and the script are compared in one place.
    #[test]
    fn every_script_names_its_arguments_at_the_top() {
        assert_eq!(
            arguments_read_late("local a = ARGV[1]\nif a then return ARGV[2] end"),
            ["if a then return ARGV[2] end"]
        );
        for (path, source) in SOURCES {
            let late = arguments_read_late(source);
            assert!(
                late.is_empty(),
                "{path} reads arguments in its body: {late:?}"
            );
        }
    }
}
