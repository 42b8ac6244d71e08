#!/usr/bin/env bash
# Writes the golden fixtures of a release: what its binary stores after a fixed day of
# traffic (scripts/compat/fixture_traffic.py), as Redis DUMP payloads
# (tests/compat/<tag>/redis.dump), every view it then answers
# (tests/compat/<tag>/expect.json), and the release's source
# (tests/compat/<tag>/source.tar.gz, which the mixed-version drill builds where a checkout
# has no tags). Run once per release, after tagging it; the compat tests load the fixtures
# into a fresh Redis (and the cluster) and check that the current binary reads, routes and
# resolves them.
#
#     scripts/compat-fixtures.sh v0.1.0
set -euo pipefail
tag=$1
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/tests/compat/$tag
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

mkdir -p "$out"
git -C "$root" archive --format=tar.gz -9 -o "$out/source.tar.gz" "$tag" -- \
  Cargo.toml Cargo.lock src config benches
"$root/scripts/compat/build-release.sh" "$tag" "$work/switchboard"
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
  >"$work/redis.log" 2>&1 &
pids+=($!)
api=$(free_port)
ops=$(free_port)
dead=$(free_port)   # the adapter's URL: nothing listens, so deliveries stay pending
SWITCHBOARD_REDIS_URL=redis://127.0.0.1:$redis_port \
SWITCHBOARD_LISTEN=127.0.0.1:$api SWITCHBOARD_OPS_LISTEN=127.0.0.1:$ops \
SWITCHBOARD_ADMIN_TOKEN=fixture-admin SWITCHBOARD_ADAPTER_TOKENS=fixture-adapter \
SWITCHBOARD_OUTBOUND_URL=http://127.0.0.1:$dead/send SWITCHBOARD_OUTBOUND_SECRET=fixture-secret \
SWITCHBOARD_OUTBOUND__FIRST_BACKOFF_MS=86400000 \
SWITCHBOARD_LOG__FORMAT=json \
  "$work/switchboard" >"$work/switchboard.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$ops/readyz" >/dev/null && break
  sleep 0.1
done
mkdir -p "$out"
python3 "$root/scripts/compat/fixture_traffic.py" "http://127.0.0.1:$api" fixture-admin \
  fixture-adapter "$out/expect.json"
kill -TERM "${pids[1]}"
wait "${pids[1]}" || true
python3 "$root/scripts/compat/redis_snapshot.py" dump "127.0.0.1:$redis_port" "$out/redis.dump"
