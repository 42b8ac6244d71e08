#!/usr/bin/env bash
# README's test command: installs what the tests need when it is missing (redis-server
# and redis-cli, which the tests use to start servers and a Redis Cluster on free
# loopback ports; openssl for the TLS test's certificates), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1; then
  echo "test.sh: installing redis-server" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null
fi
# The TLS test makes its certificates with the openssl command.
if ! command -v openssl >/dev/null 2>&1; then
  echo "test.sh: installing openssl" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq openssl >/dev/null
fi
version=$(redis-server --version | sed -E 's/.*v=([0-9]+)\..*/\1/')
if [ "${version:-0}" -lt 7 ]; then
  echo "test.sh: redis-server 7.0 or newer is needed (found major version $version)" >&2
  exit 1
fi

cargo test --locked "$@"
