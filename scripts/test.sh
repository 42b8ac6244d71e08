#!/usr/bin/env bash
# README's test command: installs what the tests need when it is missing (redis-server
# and redis-cli, which the tests use to start servers and a Redis Cluster on free
# loopback ports; PostgreSQL, which the archive's tests start the same way; openssl for
# the TLS test's certificates; Chromium and chromedriver for the desk's browser tests;
# Node.js and the npm packages of the local OpenID providers the sign-in tests start),
# then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# Installs Debian packages whose command is missing: install <command> <package>...
install() {
  local command=$1
  shift
  command -v "$command" >/dev/null 2>&1 && return
  echo "test.sh: installing $*" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

install redis-server redis-server
# The TLS test makes its certificates with the openssl command.
install openssl openssl
# The desk's tests drive Debian's Chromium through chromedriver (WebDriver).
install chromedriver chromium chromium-driver
# The archive tier's tests start their own PostgreSQL (initdb and pg_ctl on a free port).
# (pg_ctlcluster comes with Debian's server packages, initdb under /usr/lib/postgresql.)
install pg_ctlcluster postgresql
# The sign-in tests start local OpenID providers from npm (tests/support/idp/package.json:
# oauth2-mock-server and oidc-provider, which need Node.js 20.19 or newer).
install node nodejs npm
if [ ! -d tests/support/idp/node_modules ]; then
  echo "test.sh: installing the test identity providers (npm ci)" >&2
  (cd tests/support/idp && npm ci --silent --no-audit --no-fund)
fi
version=$(redis-server --version | sed -E 's/.*v=([0-9]+)\..*/\1/')
if [ "${version:-0}" -lt 7 ]; then
  echo "test.sh: redis-server 7.0 or newer is needed (found major version $version)" >&2
  exit 1
fi

# The scripted day writes the events it produced here; the schema check reads this run's.
rm -rf target/feed-events
cargo test --locked "$@"
# Every event the tests produced, against its JSON Schema (docs/events/), when the run
# included the scripted day (a filtered run may not).
if [ -d target/feed-events ]; then
  scripts/check-event-schemas.sh
fi
