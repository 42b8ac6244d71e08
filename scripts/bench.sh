#!/usr/bin/env bash
# The ingest benchmark a newcomer can run: Redis and the release build of the service,
# driven by an external load generator (wrk), so the generator never steals the
# service's CPU inside its process. Prints, from one run: the one-round-trip ceiling
# (`benches/ceiling.rs`: the same POST parsed by a bare actix handler that makes one
# Redis SET; and GET /readyz, HTTP plus one PING), then known-customer ingest (into an assigned
# conversation), new-customer ingest (claim, create, route) and a 9:1 mix, each with
# p50/p99, Redis CPU (INFO cpu), service CPU (/proc) and Redis memory (INFO memory) per
# message, and the ratio to the ceiling; last, what IDLE_STREAMS idle event streams cost.
# Usage: scripts/bench.sh   (DURATION=10s CONNECTIONS=64 VISITORS=10000 AGENTS=100
#                            IDLE_STREAMS=10000; STATS=1 for INFO commandstats; PROFILE=known)
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null || {
  sudo=$([ "$(id -u)" = 0 ] || echo sudo)
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$2" >/dev/null
}; }
need wrk wrk
need redis-server redis-server

duration=${DURATION:-10s}
connections=${CONNECTIONS:-64}
threads=${THREADS:-2}
export VISITORS=${VISITORS:-10000} THREADS=$threads BENCH_DIR="$PWD/scripts/bench"
agents=${AGENTS:-100}
export TOKEN=bench-adapter
admin=bench-admin

cargo build --release --locked --quiet --bin switchboard
ceiling_bin=$(cargo bench --locked --no-run --bench ceiling 2>&1 | sed -n 's/.*(\(target[^)]*\)).*/\1/p')
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
redis_port=$(free_port); api_port=$(free_port); ops_port=$(free_port); ceiling_port=$(free_port)
work=$(mktemp -d)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >/dev/null &
redis_pid=$!
SWITCHBOARD_REDIS_URL="redis://127.0.0.1:$redis_port" \
SWITCHBOARD_LISTEN="127.0.0.1:$api_port" SWITCHBOARD_OPS_LISTEN="127.0.0.1:$ops_port" \
SWITCHBOARD_ADMIN_TOKEN=$admin SWITCHBOARD_ADAPTER_TOKENS=$TOKEN RUST_LOG=warn \
SWITCHBOARD_RATE_LIMIT__ADAPTER_PER_SEC=0 SWITCHBOARD_RATE_LIMIT__ADMIN_PER_SEC=0 \
  target/release/switchboard >"$work/service.log" 2>&1 &
service_pid=$!
CEILING_LISTEN="127.0.0.1:$ceiling_port" CEILING_REDIS="redis://127.0.0.1:$redis_port" "$ceiling_bin" &
ceiling_pid=$!
trap 'kill $service_pid $ceiling_pid $redis_pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$ops_port/readyz" >/dev/null && break
  sleep 0.1
done

api="http://127.0.0.1:$api_port"
echo "setting up $agents agents (chat capacity 100 each) and $VISITORS known customers"
for i in $(seq 0 $((agents - 1))); do
  curl -sf -X PUT "$api/v1/agents/agent-$i" -H "Authorization: Bearer $admin" \
    -H 'Content-Type: application/json' -d '{"name":"Agent","capacity":{"chat":100}}' >/dev/null
  curl -sf -X PUT "$api/v1/agents/agent-$i/presence" -H "Authorization: Bearer $admin" \
    -H 'Content-Type: application/json' -d '{"presence":"online"}' >/dev/null
done
RUN=warm wrk -t "$threads" -c "$connections" -d 5s -s scripts/bench/warm.lua "$api" >/dev/null

cli() { redis-cli -p "$redis_port" "$@"; }
redis_memory() { cli info memory | awk -F: '/^used_memory:/ {print $2 + 0}'; }
redis_cpu() { cli info cpu | awk -F: '/^used_cpu_(sys|user):/ {s += $2} END {printf "%.6f", s}'; }

service_cpu() { awk '{printf "%.6f", ($14 + $15) / '"$(getconf CLK_TCK)"'}' "/proc/$service_pid/stat"; }

# Runs one wrk scenario; prints its line and leaves its rate in $rate.
scenario() {
  local name=$1 url=$2 script=${3:-}
  local cpu0 svc0 mem0 out requests p50 p99 cpu svc bytes
  cpu0=$(redis_cpu); svc0=$(service_cpu); mem0=$(redis_memory)
  [ -z "${STATS:-}" ] || cli config resetstat >/dev/null
  # With PROFILE=<scenario>: perf samples the service during that scenario.
  if [ "${PROFILE:-}" = "$name" ]; then
    perf record -F 999 -g -p "$service_pid" -o "$work/perf.data" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  if [ -n "$script" ]; then
    out=$(RUN="$name$$" wrk -t "$threads" -c "$connections" -d "$duration" --latency -s "$script" "$url")
  else
    out=$(wrk -t "$threads" -c "$connections" -d "$duration" --latency "$url")
  fi
  if [ "${PROFILE:-}" = "$name" ]; then
    kill -INT "$perf_pid"; wait "$perf_pid" || true
    perf report -i "$work/perf.data" --no-children --sort symbol --stdio 2>/dev/null \
      | grep -v '^#' | grep '%' | head -40 >&2
  fi
  if grep -q 'Non-2xx' <<<"$out"; then
    echo "$name: some answers were not 2xx:" >&2; echo "$out" >&2; exit 1
  fi
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  rate=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  cpu=$(python3 -c "print(f'{($(redis_cpu) - $cpu0) * 1e6 / $requests:.1f}')")
  svc=$(python3 -c "print(f'{($(service_cpu) - $svc0) * 1e6 / $requests:.1f}')")
  bytes=$(python3 -c "print(f'{($(redis_memory) - $mem0) / $requests:.0f}')")
  printf '%-8s %7.0f req/s  p50 %8s  p99 %8s  redis cpu %5s us/req  service cpu %5s us/req  redis memory %4s B/req' \
    "$name" "$rate" "$p50" "$p99" "$cpu" "$svc" "$bytes"
  # With STATS=1: what Redis ran for this scenario, per command.
  [ -z "${STATS:-}" ] || { echo; cli info commandstats | grep -v '^#' | sort -t= -k3 -nr | head -12; }
}

# Idle agents: IDLE_STREAMS event streams held open for 10 s; what they cost Redis
# (commands/s, from INFO commandstats) and each side's CPU.
idle_streams() {
  local n=$1 calls0 calls1 cpu0 svc0
  coproc IDLE { python3 scripts/bench/idle_streams.py 127.0.0.1 "$api_port" "$admin" "$n"; }
  read -r ready <&"${IDLE[0]}"
  [ "$ready" = ready ] || { echo "idle streams did not open" >&2; exit 1; }
  sleep 1
  calls0=$(cli info commandstats | sed -n 's/^cmdstat_[^:]*:calls=\([0-9]*\),.*/\1/p' | awk '{s += $1} END {print s}')
  cpu0=$(redis_cpu); svc0=$(service_cpu)
  sleep 10
  calls1=$(cli info commandstats | sed -n 's/^cmdstat_[^:]*:calls=\([0-9]*\),.*/\1/p' | awk '{s += $1} END {print s}')
  python3 -c "print(f'idle: {$n} open event streams: {($calls1 - $calls0) / 10:.0f} Redis commands/s (timers included), Redis {($(redis_cpu) - $cpu0) * 10:.1f} % of a core, service {($(service_cpu) - $svc0) * 10:.1f} % of a core')"
  exec {IDLE[1]}>&-
  wait "$IDLE_PID" 2>/dev/null || true
}

echo "wrk: $threads threads, $connections connections, $duration per scenario"
scenario readyz "http://127.0.0.1:$ops_port/readyz"; echo
scenario ceiling "http://127.0.0.1:$ceiling_port" scripts/bench/known.lua; ceiling=$rate; echo
for s in known new mix; do
  scenario "$s" "$api" "scripts/bench/$s.lua"
  python3 -c "print(f'  {$rate / $ceiling:.2f} of the ceiling')"
done
[ "${IDLE_STREAMS:-10000}" = 0 ] || idle_streams "${IDLE_STREAMS:-10000}"
