#!/usr/bin/env bash
# The mixed-version drill (scripts/compat/drill.py): the previous release and this build
# serve together on one Redis, then on a 3+3 Redis Cluster, through an upgrade, a
# rollback, an upgrade again and the finalize, under adapters' and agents' traffic.
# Fails on any 5xx, any acknowledged message lost or stored twice, any agent whose load
# differs from what it holds, any open conversation routed nowhere.
#
#     scripts/mixed-version.sh [previous release tag, default: the newest release with
#                               golden fixtures in tests/compat/]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
previous=${1:-$(ls tests/compat | sort -V | tail -1)}
work=$(mktemp -d)
cleanup() {
  [ -f "$work/redis.pid" ] && kill "$(cat "$work/redis.pid")" 2>/dev/null || true
  scripts/redis-cluster.sh stop "$work/cluster" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "--- building $previous and this tree"
scripts/compat/build-release.sh "$previous" "$work/switchboard-$previous"
cargo build --quiet --bin switchboard
cp "${CARGO_TARGET_DIR:-target}/debug/switchboard" "$work/switchboard-current"

echo "--- one Redis: $previous and the current build"
port=$(free_port)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
  --daemonize yes --pidfile "$work/redis.pid" >/dev/null
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
python3 scripts/compat/drill.py --old "$work/switchboard-$previous" \
  --new "$work/switchboard-current" --redis "redis://127.0.0.1:$port"

echo "--- the 3+3 cluster: $previous and the current build"
nodes=$(scripts/redis-cluster.sh start "$work/cluster" $$)
python3 scripts/compat/drill.py --old "$work/switchboard-$previous" \
  --new "$work/switchboard-current" --redis "$nodes"
