#!/usr/bin/env bash
# The ingest benchmark a newcomer can run: Redis and the release build of the service,
# driven by an external load generator (wrk), so the generator never steals the
# service's CPU inside its process. Prints, from one run: the one-round-trip ceiling
# (`benches/ceiling.rs`: the same POST parsed by a bare actix handler that makes one
# Redis SET; and GET /readyz, HTTP plus one PING), then known-customer ingest (into an assigned
# conversation), new-customer ingest (claim, create, route) and a 9:1 mix, each with
# p50/p99, Redis CPU (INFO cpu), service CPU (/proc) and Redis memory (INFO memory) per
# message, and the ratio to the ceiling (and, after the known customers, the ingest script's
# Redis CPU replayed alone: `scripts/bench/script_alone.py`, and over chatty customers:
# `scripts/bench/chatty.py`); known customers again at about half their peak
# rate (latency under a steady load); then what IDLE_STREAMS idle event streams cost;
# last, the scale curve: known customers' ingest with 1,000 and with SCALE customers stored.
# Between the mix and known-half: new-room, new customers assigned by agents with room.
# After known: known-limited, the same through a second service counting rate limits;
# known-export, the same through a second service with the event export's webhook on.
# Usage: scripts/bench.sh   (DURATION=10s CONNECTIONS=64 VISITORS=10000 AGENTS=100 ROOM_AGENTS=2000
#                            IDLE_STREAMS=10000 SCALE=1000000 (0 skips either); LIMIT_PER_SEC=100000;
#                            STATS=1 for INFO commandstats and Redis commands per request;
#                            PROFILE=known; ONLY=new,new-room runs just those scenarios;
#                            CLUSTER=0 skips known customers on the 3+3 cluster)
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
ceiling_bin=$(cargo bench --locked --no-run --bench ceiling 2>&1 | sed -n 's/.*Executable benches\/ceiling.rs (\([^)]*\)).*/\1/p')
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
redis_port=$(free_port); api_port=$(free_port); ops_port=$(free_port); ceiling_port=$(free_port)
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

# Starts the service on the Redis at <redis port>, with rate limits off unless
# LIMIT_PER_SEC is set: start_service <redis port> <api port> <ops port> <name>;
# leaves its pid in $service_pid.
start_service() {
  mkdir -p "$work/$4"
  SWITCHBOARD_REDIS_URL="${REDIS_URL:-redis://127.0.0.1:$1}" \
  SWITCHBOARD_LISTEN="127.0.0.1:$2" SWITCHBOARD_OPS_LISTEN="127.0.0.1:$3" \
  SWITCHBOARD_ADMIN_TOKEN=$admin SWITCHBOARD_ADAPTER_TOKENS=$TOKEN RUST_LOG=warn \
  SWITCHBOARD_RATE_LIMIT__ADAPTER_PER_SEC=${LIMIT_PER_SEC:-0} SWITCHBOARD_RATE_LIMIT__ADMIN_PER_SEC=0 \
    target/release/switchboard >"$work/$4/service.log" 2>&1 &
  service_pid=$!
  pids+=($service_pid)
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$3/readyz" >/dev/null && break
    sleep 0.1
  done
}

# Starts a Redis and the service on it: start_stack <redis port> <api port> <ops port> <name>;
# leaves the service's pid in $service_pid.
start_stack() {
  mkdir -p "$work/$4"
  redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly no --dir "$work/$4" >/dev/null &
  redis_pid=$!
  pids+=($redis_pid)
  start_service "$@"
}

# Puts <n> agents online at <api> (chat capacity 100 each) and makes <visitors> known
# customers with a conversation each: setup <api> <n> <visitors>.
setup() {
  echo "setting up $2 agents (chat capacity 100 each) and $3 known customers"
  for i in $(seq 0 $(($2 - 1))); do
    curl -sf -X PUT "$1/v1/agents/agent-$i" -H "Authorization: Bearer $admin" \
      -H 'Content-Type: application/json' -d '{"name":"Agent","capacity":{"chat":100}}' >/dev/null
    curl -sf -X PUT "$1/v1/agents/agent-$i/presence" -H "Authorization: Bearer $admin" \
      -H 'Content-Type: application/json' -d '{"presence":"online"}' >/dev/null
  done
  VISITORS=$3 RUN=warm wrk -t "$threads" -c "$connections" -d 5s -s scripts/bench/warm.lua "$1" >/dev/null
}

start_stack "$redis_port" "$api_port" "$ops_port" main
# The ceiling has a Redis of its own, stopped after its scenario: the million keys it
# writes would otherwise stay in the service's Redis and slow every lookup measured next.
ceiling_redis_port=$(free_port)
mkdir -p "$work/ceiling"
redis-server --port "$ceiling_redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work/ceiling" >/dev/null &
ceiling_redis_pid=$!
CEILING_LISTEN="127.0.0.1:$ceiling_port" CEILING_REDIS="redis://127.0.0.1:$ceiling_redis_port" "$ceiling_bin" &
ceiling_pid=$!
pids+=($ceiling_redis_pid $ceiling_pid)
api="http://127.0.0.1:$api_port"
setup "$api" "$agents" "$VISITORS"

cli() { redis-cli -p "${cli_port:-$redis_port}" "$@"; }
redis_memory() {
  local p
  for p in ${CPU_PORTS:-${cli_port:-$redis_port}}; do redis-cli -p "$p" info memory; done |
    awk -F: '/^used_memory:/ {s += $2} END {print s + 0}'
}
# Redis memory held by the keys matching a pattern (MEMORY USAGE, every element counted).
keys_memory() {
  cli --scan --pattern "$1" | sed 's/^/MEMORY USAGE /; s/$/ SAMPLES 0/' | cli | awk '{s += $1} END {print s + 0}'
}
# Conversations' timelines (`:m` lists) and customers' idempotency records (`:dx` hashes).
timeline_memory() { keys_memory 'sb:v:*:m'; }
dedup_memory() { keys_memory 'sb:c:*:dx'; }
# Redis CPU (s) and memory (bytes): of the server, or with CPU_PORTS of those nodes
# together (a cluster).
redis_cpu() {
  local p
  for p in ${CPU_PORTS:-${cli_port:-$redis_port}}; do redis-cli -p "$p" info cpu; done |
    awk -F: '/^used_cpu_(sys|user):/ {s += $2} END {printf "%.6f", s}'
}

# Customers the feed relay has yet to move (its due lists): a new customer's opening is
# relayed 5 s after it, so a scenario's figures wait for the relay to finish what the
# scenario wrote (its cost is the scenario's), and the next scenario starts with none.
feed_due() {
  local k
  for k in $(seq 0 15); do
    redis-cli ${CLUSTER_CLI:+-c} -p "${CLUSTER_CLI:-$redis_port}" ZCARD "sb:fd:{fd:$k}:due"
  done | awk '{s += $1} END {print s + 0}'
}
feed_drained() {
  [ -z "${cli_port:-}" ] || return 0
  for _ in $(seq 1 120); do
    [ "$(feed_due)" = 0 ] && return 0
    sleep 0.5
  done
  echo "the feed relay did not drain in 60 s" >&2
}

service_cpu() { awk '{printf "%.6f", ($14 + $15) / '"$(getconf CLK_TCK)"'}' "/proc/$service_pid/stat"; }
main_service_pid=$service_pid

# Runs one wrk scenario; prints its line and leaves its rate in $rate.
scenario() {
  local name=$1 url=$2 script=${3:-}
  local cpu0 svc0 mem0 dx0 tl0 out requests p50 p99 cpu svc bytes parts masters0
  feed_drained
  [ "${MEMORY_PARTS:-1}" = 0 ] || { dx0=$(dedup_memory); tl0=$(timeline_memory); }
  cpu0=$(redis_cpu); svc0=$(service_cpu); mem0=$(redis_memory); masters0=$(CPU_PORTS=${MASTER_PORTS:-} redis_cpu)
  [ -z "${STATS:-}" ] || cli config resetstat >/dev/null
  # With PROFILE=<scenario>: perf samples the service (or Redis, with PROFILE_REDIS=1)
  # during that scenario; the samples stay in $TMPDIR/bench-<scenario>.perf.data.
  if [ "${PROFILE:-}" = "$name" ]; then
    perf record -F 999 --call-graph "${PERF_CALLGRAPH:-fp}" -p "$([ -n "${PROFILE_REDIS:-}" ] && echo "$redis_pid" || echo "$service_pid")" -o "$work/perf.data" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  if [ -n "$script" ]; then
    out=$(RUN="$name$$" wrk -t "$threads" -c "$connections" -d "$duration" --latency -s "$script" "$url")
  else
    out=$(wrk -t "$threads" -c "$connections" -d "$duration" --latency "$url")
  fi
  if [ "${PROFILE:-}" = "$name" ]; then
    kill -INT "$perf_pid"; wait "$perf_pid" || true
    cp "$work/perf.data" "${TMPDIR:-/tmp}/bench-$name.perf.data"
    perf report -i "$work/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null \
      | grep -v '^#' | grep '%' | sed -n 1,8p >&2
    perf report -i "$work/perf.data" --no-children --sort symbol --stdio -g none 2>/dev/null \
      | grep -v '^#' | grep '%' | sed -n 1,40p >&2
  fi
  if grep -q 'Non-2xx' <<<"$out"; then
    echo "$name: some answers were not 2xx:" >&2; echo "$out" >&2; exit 1
  fi
  feed_drained
  # With STATS=1: what Redis ran for this scenario, per command (taken before the
  # memory split below adds its own commands).
  local stats=""
  [ -z "${STATS:-}" ] || stats=$(cli info commandstats | grep -v '^#' | sort -t= -k3 -nr | head -12)
  local calls=""
  [ -z "${STATS:-}" ] || calls=$(cli info commandstats | sed -n 's/^cmdstat_[^:]*:calls=\([0-9]*\),.*/\1/p' | awk '{s += $1} END {print s}')
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  rate=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  cpu=$(python3 -c "print(f'{($(redis_cpu) - $cpu0) * 1e6 / $requests:.1f}')")
  [ -z "${MASTER_PORTS:-}" ] ||
    cpu="$cpu (masters $(python3 -c "print(f'{($(CPU_PORTS=$MASTER_PORTS redis_cpu) - $masters0) * 1e6 / $requests:.1f}')"))"
  svc=$(python3 -c "print(f'{($(service_cpu) - $svc0) * 1e6 / $requests:.1f}')")
  bytes=$(python3 -c "print(f'{($(redis_memory) - $mem0) / $requests:.0f}')")
  # Of which in timelines (what a stored message keeps costing) and in idempotency
  # records (one per message, for the dedup ttl).
  # (MEMORY_PARTS=0 skips this: a key at a time, it takes minutes over a million customers.)
  [ "${MEMORY_PARTS:-1}" = 0 ] && parts="not split" ||
    parts=$(python3 -c "print(f'timelines {($(timeline_memory) - $tl0) / $requests:.0f}, idempotency records {($(dedup_memory) - $dx0) / $requests:.0f}')")
  printf '%-8s %7.0f req/s  p50 %8s  p99 %8s  redis cpu %5s us/req  service cpu %5s us/req  redis memory %4s B/req (%s)' \
    "$name" "$rate" "$p50" "$p99" "$cpu" "$svc" "$bytes" "$parts"
  # Every command Redis ran, a script's own calls included, and the sweeps' (they run
  # for the traffic too: the feed relay's steps for each new customer).
  [ -z "$calls" ] || python3 -c "print(f'\n  {$calls / $requests:.1f} Redis commands per request')"
  [ -z "$stats" ] || printf '%s\n' "$stats"
}

# With ONLY (a comma-separated list of scenarios), just those run.
wanted() { [ -z "${ONLY:-}" ] || [[ ",$ONLY," == *",$1,"* ]]; }

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

# What counting rate limits costs (#10): the same known customers through a second
# service on the same Redis, with the adapter token limited to LIMIT_PER_SEC (100,000:
# above this machine's peak, so nothing is refused and every request is counted; a
# replica leases a twentieth of it per Redis round trip). Its identity cache is warmed
# first, as the main service's is.
known_limited() {
  local a_port o_port
  a_port=$(free_port); o_port=$(free_port)
  LIMIT_PER_SEC=${LIMIT_PER_SEC:-100000} start_service "$redis_port" "$a_port" "$o_port" limited
  RUN=warm-limited wrk -t "$threads" -c "$connections" -d 3s -s scripts/bench/known.lua "http://127.0.0.1:$a_port" >/dev/null
  scenario known-limited "http://127.0.0.1:$a_port" scripts/bench/known.lua
  python3 -c "print(f'  {$rate / $known_rate:.2f} of known with rate limits off')"
  kill "$service_pid"
  service_pid=$main_service_pid
}

# What the event export costs known customers (#32): the same known customers through a
# second service on the same Redis with the webhook sink on (a local HTTP sink that
# answers 200), beside the main service, whose relay runs too. A known customer's message
# into its open conversation writes no event; the export's cost is its sweeps (the
# relay's claims, the webhook's page of every shard four times a second).
known_export() {
  local a_port o_port sink_port sink_pid
  a_port=$(free_port); o_port=$(free_port); sink_port=$(free_port)
  python3 -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()' "$sink_port" &
  sink_pid=$!
  pids+=($sink_pid)
  SWITCHBOARD_EXPORT__WEBHOOK_URL="http://127.0.0.1:$sink_port/events" \
  SWITCHBOARD_EXPORT__WEBHOOK_SECRET=bench-export \
    start_service "$redis_port" "$a_port" "$o_port" export
  # The feed already holds the setup's events: the webhook catches up first (pages of
  # 500 until one is empty), so the figure is the steady state's; the catch-up's time
  # is printed beside it.
  local delivered last=-1 t0=$SECONDS
  while :; do
    delivered=$(curl -sf "http://127.0.0.1:$o_port/metrics" | awk '/^switchboard_export_pages_delivered_total/ {print $2}' || true)
    [ "$delivered" = "$last" ] && [ "${delivered:-0}" != 0 ] && break
    [ $((SECONDS - t0)) -gt 120 ] && break
    last=$delivered; sleep 2
  done
  echo "export: the webhook caught up with the feed ($delivered pages) in $((SECONDS - t0)) s"
  RUN=warm-export wrk -t "$threads" -c "$connections" -d 3s -s scripts/bench/known.lua "http://127.0.0.1:$a_port" >/dev/null
  scenario known-export "http://127.0.0.1:$a_port" scripts/bench/known.lua
  python3 -c "print(f'  {$rate / $known_rate:.2f} of known with the export off')"
  kill "$service_pid" "$sink_pid"
  service_pid=$main_service_pid
}

# Known customers on a 3+3 Redis Cluster (`scripts/redis-cluster.sh`, #33): a service of
# its own on the cluster, AGENTS agents and VISITORS known customers set up as above, the
# same scenario, printed as a ratio to `known` on one server. The six nodes share the two
# cores with the service and wrk, and each replica applies its master's writes; Redis CPU
# is the six nodes' together, and the masters' alone beside it. Then the same on three
# masters without replicas (`known-3m`): what the replicas cost on this shared machine.
# known_cluster <name> <replicas per master>
known_cluster() {
  local name=$1 dir="$work/cluster" nodes a_port o_port url ports masters
  nodes=$(REPLICAS=$2 scripts/redis-cluster.sh start "$dir" $$)
  ports=$(tr ',' '\n' <<<"$nodes" | sed 's/.*://' | tr '\n' ' ')
  a_port=$(free_port); o_port=$(free_port)
  REDIS_URL=$nodes start_service 0 "$a_port" "$o_port" cluster
  url="http://127.0.0.1:$a_port"
  setup "$url" "$agents" "$VISITORS"
  masters=$(for p in $ports; do
    if redis-cli -p "$p" info replication | grep -q '^role:master'; then echo "$p"; fi
  done | tr '\n' ' ')
  CPU_PORTS=$ports MASTER_PORTS=$masters CLUSTER_CLI=$(tr ' ' '\n' <<<"$ports" | head -1) \
    MEMORY_PARTS=0 STATS='' scenario "$name" "$url" scripts/bench/known.lua
  python3 -c "print(f'  {$rate / $known_rate:.2f} of known on one server')"
  kill "$service_pid"
  service_pid=$main_service_pid
  scripts/redis-cluster.sh stop "$dir"
}

echo "wrk: $threads threads, $connections connections, $duration per scenario"
scenario readyz "http://127.0.0.1:$ops_port/readyz"; echo
cli_port=$ceiling_redis_port service_pid=$ceiling_pid \
  scenario ceiling "http://127.0.0.1:$ceiling_port" scripts/bench/known.lua; ceiling=$rate; echo
kill "$ceiling_pid" "$ceiling_redis_pid"
for s in known new mix; do
  wanted "$s" || continue
  scenario "$s" "$api" "scripts/bench/$s.lua"
  python3 -c "print(f'  {$rate / $ceiling:.2f} of the ceiling')"
  if [ "$s" = known ]; then
    known_rate=$rate
    # The same script on its own: no HTTP, service or wrk competing for the cores.
    python3 scripts/bench/script_alone.py "$redis_port" "$api_port" "$TOKEN" "${ALONE_CALLS:-30000}"
    # Chatty customers (#33): the same script over customers whose idempotency records
    # already number 10, 470 (the listpack Redis scans, just below 512) and 1,000.
    python3 scripts/bench/chatty.py "$redis_port" "$api_port" "$TOKEN" "${CHATTY_CUSTOMERS:-300}"
    known_limited
    known_export
    [ "${CLUSTER:-1}" = 0 ] || { known_cluster known-cluster 1; known_cluster known-3m 0; }
  fi
done
# New customers when agents have room: in a routing group of their own (so the full
# agents' queues and waits above stay out of it) with ROOM_AGENTS agents (2,000: room
# for 200,000 conversations), each is given a new personal agent.
if wanted new-room; then
  echo "setting up ${ROOM_AGENTS:-2000} agents with room in the routing group 'room'"
  for i in $(seq 0 $((${ROOM_AGENTS:-2000} - 1))); do
    curl -sf -X PUT "$api/v1/agents/room-$i" -H "Authorization: Bearer $admin" \
      -H 'Content-Type: application/json' -d '{"name":"Agent","group":"room","capacity":{"chat":100}}' >/dev/null
    curl -sf -X PUT "$api/v1/agents/room-$i/presence" -H "Authorization: Bearer $admin" \
      -H 'Content-Type: application/json' -d '{"presence":"online"}' >/dev/null
  done
  GROUP=room scenario new-room "$api" scripts/bench/new.lua
  python3 -c "print(f'  {$rate / $ceiling:.2f} of the ceiling')"
fi
# Latency at about half the known customers' peak: each connection pauses after every
# answer (wrk has no fixed-rate mode), the pause worked out from the peak rate.
if wanted known && wanted known-half; then
  pause=$(python3 -c "print(max(1, round($connections * 1000 / ($known_rate / 2) - 1)))")
  DELAY_MS=$pause scenario known-half "$api" scripts/bench/known.lua
  python3 -c "print(f'  at {$rate / $known_rate:.2f} of the peak rate')"
fi
[ "${IDLE_STREAMS:-10000}" = 0 ] || idle_streams "${IDLE_STREAMS:-10000}"

# The scale curve: the same known customers writing with 1,000 and with SCALE (default
# 1,000,000) customers stored, on a Redis and service of its own. Customers are loaded
# through the API (a first message, then its resolution: stored as real customers are,
# with nothing left open), so the store holds exactly what ingest writes.
scale_curve() {
  local target=$1 small=1000 loaded=0 out done_requests r_port a_port o_port small_rate mem0
  r_port=$(free_port); a_port=$(free_port); o_port=$(free_port)
  start_stack "$r_port" "$a_port" "$o_port" scale
  cli_port=$r_port
  local url="http://127.0.0.1:$a_port"
  setup "$url" 10 "$small"
  VISITORS=$small scenario "known-1k" "$url" scripts/bench/known.lua; small_rate=$rate; echo
  mem0=$(redis_memory)
  loaded=$small
  while [ "$loaded" -lt "$target" ]; do
    out=$(RUN="load$loaded" ADMIN=$admin wrk -t "$threads" -c "$connections" -d 20s -s scripts/bench/load.lua "$url")
    if grep -q 'Non-2xx' <<<"$out"; then echo "load: some answers were not 2xx:" >&2; echo "$out" >&2; exit 1; fi
    done_requests=$(awk '/requests in/ {print $1}' <<<"$out")
    loaded=$((loaded + done_requests / 2))
    echo "  loaded $loaded customers ($(python3 -c "print(f'{($(redis_memory) - $mem0) / ($loaded - $small):.0f}')") B of Redis memory each)"
  done
  local stored
  stored=$(python3 -c "print(f'{$loaded / 1e6:.1f}M')")
  MEMORY_PARTS=0 VISITORS=$small scenario "known-$stored" "$url" scripts/bench/known.lua
  python3 -c "print(f'  {$rate / $small_rate:.2f} of the rate with 1,000 customers stored')"
  if [ "${SETTLE:-0}" != 0 ]; then
    sleep "$SETTLE"
    MEMORY_PARTS=0 VISITORS=$small scenario "known-$stored+${SETTLE}s" "$url" scripts/bench/known.lua
    python3 -c "print(f'  {$rate / $small_rate:.2f} of the rate with 1,000 customers stored')"
  fi
  cli_port=""
  service_pid=$main_service_pid
}
[ "${SCALE:-1000000}" = 0 ] || scale_curve "${SCALE:-1000000}"
