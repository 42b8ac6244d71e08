#!/usr/bin/env bash
# A real local Redis Cluster: 3 masters + 3 replicas on loopback, made with
# `redis-cli --cluster create`, ready in a few seconds.
#
#   scripts/redis-cluster.sh start DIR [WATCH_PID]   prints redis://127.0.0.1:p1,...,redis://127.0.0.1:p6
#   scripts/redis-cluster.sh stop DIR
#
# With WATCH_PID the cluster stops itself when that process ends (the test harness
# passes its own pid, so no redis-server outlives the tests). REPLICAS=0 makes the three
# masters alone (the benchmark's way to tell what replicas cost on a shared machine).
set -euo pipefail
cmd=${1:?start or stop}
dir=${2:?a directory for the node files}

stop() {
  for pidfile in "$dir"/redis-*.pid; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  sleep 0.2
  rm -rf "$dir"
}

free_base() {
  python3 - <<'PY'
import random, socket
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); return True
    except OSError:
        return False
    finally:
        s.close()
while True:
    base = random.randrange(20000, 30000)
    # Each node also needs its cluster bus port, port + 10000.
    if all(free(base + i) and free(base + i + 10000) for i in range(6)):
        print(base); break
PY
}

case "$cmd" in
start)
  watch=${3:-}
  mkdir -p "$dir"
  base=$(free_base)
  nodes=()
  urls=()
  replicas=${REPLICAS:-1}
  for i in $(seq 0 $((3 * (1 + replicas) - 1))); do
    port=$((base + i))
    redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes \
      --cluster-config-file "nodes-$port.conf" --cluster-node-timeout 2000 \
      --cluster-require-full-coverage no --save '' --appendonly no --dir "$dir" \
      --daemonize yes --pidfile "$dir/redis-$port.pid" --logfile "$dir/redis-$port.log"
    nodes+=("127.0.0.1:$port")
    urls+=("redis://127.0.0.1:$port")
  done
  for node in "${nodes[@]}"; do
    for _ in $(seq 1 100); do
      redis-cli -p "${node##*:}" ping >/dev/null 2>&1 && break
      sleep 0.05
    done
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas "$replicas" --cluster-yes >"$dir/create.log" 2>&1
  for _ in $(seq 1 200); do
    ok=1
    for node in "${nodes[@]}"; do
      redis-cli -p "${node##*:}" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || ok=0
      # Every node must also know the three replicas (they start out as masters).
      known=$(redis-cli -p "${node##*:}" cluster nodes 2>/dev/null | grep -c slave || true)
      [ "$known" = $((3 * replicas)) ] || ok=0
      # And every replica has finished its first sync: before that it acknowledges
      # nothing, and a failover would promote an empty node.
      info=$(redis-cli -p "${node##*:}" info replication 2>/dev/null)
      if grep -q 'role:slave' <<<"$info"; then
        grep -q 'master_link_status:up' <<<"$info" || ok=0
        grep -q 'master_sync_in_progress:0' <<<"$info" || ok=0
      fi
    done
    [ $ok -eq 1 ] && break
    sleep 0.05
  done
  if [ -n "$watch" ]; then
    nohup bash -c "while kill -0 $watch 2>/dev/null; do sleep 1; done; '$0' stop '$dir'" \
      >/dev/null 2>&1 &
  fi
  (IFS=,; echo "${urls[*]}")
  ;;
stop)
  stop
  ;;
*)
  echo "usage: $0 start DIR [WATCH_PID] | stop DIR" >&2
  exit 2
  ;;
esac
