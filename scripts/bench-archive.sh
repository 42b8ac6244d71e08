#!/usr/bin/env bash
# The archive benchmark (benches/archive.rs) on a Redis and a PostgreSQL of its own:
# conversations of 20 messages moved per second, ingest while archiving as a ratio to
# ingest without, and a customer's Redis memory before and after.
#
#     scripts/bench-archive.sh [--customers 3000] [--messages 20] [--requests 20000] ...
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
chmod 755 "$work"   # the server, run as postgres when we are root, reaches its files
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  [ -f "$work/redis.pid" ] && kill "$(cat "$work/redis.pid")" 2>/dev/null || true
  as_pg "$pg_bin/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
  --daemonize yes --pidfile "$work/redis.pid" >/dev/null
pg_port=$(free_port)
mkdir -p "$work/pg"
[ "$(id -u)" = 0 ] && chown -R postgres "$work/pg"
as_pg "$pg_bin/initdb" -U switchboard --auth=trust -E UTF8 --no-sync -D "$work/pg/data" >/dev/null
as_pg "$pg_bin/pg_ctl" -w -l "$work/pg/log" -D "$work/pg/data" \
  -o "-p $pg_port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$work/pg" start >/dev/null
cd "$root"
cargo bench --bench archive -- --redis "redis://127.0.0.1:$redis_port" \
  --archive "postgres://switchboard@127.0.0.1:$pg_port/postgres" "$@"
