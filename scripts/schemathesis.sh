#!/usr/bin/env bash
# Runs schemathesis (from PyPI, in a venv under target/) against the real binary on a
# real redis-server, once with the admin token and once with an adapter token. Fails on
# any server error, undocumented status, wrong content type or schema mismatch. Rate
# limits are off: schemathesis outpaces them, and operations answered 429 would go
# untested (the limits have their own tests in tests/api/rate_limits.rs).
# Usage: scripts/schemathesis.sh [extra schemathesis args, e.g. --max-examples 50]
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/schemathesis-venv
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'schemathesis>=4,<5'
fi
cargo build --locked --quiet --bin switchboard

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
redis_port=$(free_port); api_port=$(free_port); ops_port=$(free_port)
work=$(mktemp -d)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >/dev/null &
redis_pid=$!
SWITCHBOARD_REDIS_URL="redis://127.0.0.1:$redis_port" \
SWITCHBOARD_LISTEN="127.0.0.1:$api_port" SWITCHBOARD_OPS_LISTEN="127.0.0.1:$ops_port" \
SWITCHBOARD_ADMIN_TOKEN=st-admin SWITCHBOARD_ADAPTER_TOKENS=st-adapter \
SWITCHBOARD_AGENT_JWT_SECRET=st-secret-of-at-least-thirty-two-bytes RUST_LOG=error \
SWITCHBOARD_PUBLIC_URL="http://127.0.0.1:$api_port" SWITCHBOARD_TWILIO_AUTH_TOKEN=st-twilio \
SWITCHBOARD_META_APP_SECRET=st-meta SWITCHBOARD_META_VERIFY_TOKEN=st-verify \
SWITCHBOARD_TELEGRAM_SECRET_TOKEN=st-telegram \
SWITCHBOARD_RATE_LIMIT__ADMIN_PER_SEC=0 SWITCHBOARD_RATE_LIMIT__ADAPTER_PER_SEC=0 \
SWITCHBOARD_RATE_LIMIT__PROVIDER_PER_SEC=0 SWITCHBOARD_RATE_LIMIT__UNAUTHENTICATED_PER_SEC=0 \
  "${CARGO_TARGET_DIR:-target}/debug/switchboard" >"$work/service.log" 2>&1 &
service_pid=$!
trap 'kill $service_pid $redis_pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$ops_port/readyz" >/dev/null && break
  sleep 0.1
done

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance
status=0
for token in st-admin st-adapter; do
  echo "--- schemathesis with the ${token#st-} token"
  SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH=scripts "$venv/bin/schemathesis" run "http://127.0.0.1:$api_port/openapi.json" \
    -H "Authorization: Bearer $token" --checks "$checks" \
    --phases examples,coverage,fuzzing --max-examples "${MAX_EXAMPLES:-50}" \
    --suppress-health-check=filter_too_much \
    --exclude-path /v1/agents/{id}/events "$@" || status=1
done
[ $status -eq 0 ] || tail -50 "$work/service.log"
exit $status
