"""Checks a rendering of the chart with every option on (argv[1]), one with Redis
Cluster nodes (argv[2]), and validates the rendered config with the binary (argv[3])."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

# Dashboards may also use the service's own extensions; alerts only contract names.
EXTENSIONS = {
    "switchboard_http_requests_total", "switchboard_http_request_duration_seconds",
    "switchboard_store_operation_seconds", "switchboard_store_errors_total",
    "switchboard_repeat_contacts_total", "switchboard_transfers_total",
}

CONTRACT_METRICS = {
    "switchboard_wait_seconds", "switchboard_first_response_seconds", "switchboard_ivr_seconds",
    "switchboard_queue_depth", "switchboard_oldest_wait_seconds", "switchboard_agents",
    "switchboard_messages_total", "switchboard_routing_decisions_total",
    "switchboard_ivr_bypass_total", "switchboard_sla_breaches_total",
    "switchboard_csat_responses_total", "switchboard_complaints_total",
    "switchboard_deadline_breaches_total",
    "switchboard_archived_conversations_total", "switchboard_archive_lag_seconds",
    "switchboard_erasures_total", "switchboard_redactions_total",
    "switchboard_outbound_status_total", "switchboard_blocked_total",
    "switchboard_auth_failures_total",
}


def docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def one(objs, kind, name_suffix=""):
    found = [o for o in objs if o["kind"] == kind and o["metadata"]["name"].endswith(name_suffix)]
    assert found, f"no {kind} rendered"
    return found[0]


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


def metric_names(expr):
    names = set(re.findall(r"\b(switchboard_[a-z_]+?)(?:_bucket|_sum|_count)?\b", expr))
    return names


def main():
    rendered, cluster, binary = sys.argv[1], sys.argv[2], sys.argv[3]
    objs = docs(rendered)
    kinds = {o["kind"] for o in objs}
    for kind in ["Deployment", "Service", "ConfigMap", "Secret", "HorizontalPodAutoscaler",
                 "PodDisruptionBudget", "ServiceMonitor", "PrometheusRule"]:
        assert kind in kinds, f"{kind} missing from {sorted(kinds)}"

    dep = one(objs, "Deployment")
    pod = dep["spec"]["template"]
    c = pod["spec"]["containers"][0]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "ops"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "ops"}
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["runAsNonRoot"] is True
    assert sc["capabilities"]["drop"] == ["ALL"] and sc["allowPrivilegeEscalation"] is False
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert c["resources"]["requests"] and c["resources"]["limits"]
    assert "checksum/config" in pod["metadata"]["annotations"]
    assert "replicas" not in dep["spec"], "the HPA owns the replica count"
    rolling = dep["spec"]["strategy"]
    assert rolling["type"] == "RollingUpdate", rolling
    assert rolling["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}, rolling
    env = env_of(c)
    assert env["SWITCHBOARD_REDIS_URL"]["value"] == "rediss://redis:6380"
    # A private CA for rediss:// is a mounted Secret named by its setting.
    assert env["SWITCHBOARD_REDIS__TLS_CA_FILE"]["value"] == "/etc/switchboard/redis-ca/ca.pem"
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mounts.get("redis-ca") == "/etc/switchboard/redis-ca", mounts
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["redis-ca"]["secret"]["secretName"] == "redis-ca"
    assert env["SWITCHBOARD_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "admin-token"
    sso = {k: env[f"SWITCHBOARD_AUTH__OIDC__{k}"]["value"] for k in ("ISSUER", "AUDIENCE", "CLIENT_ID")}
    assert sso == {"ISSUER": "https://keycloak.example.com/realms/acme",
                   "AUDIENCE": "switchboard-desk", "CLIENT_ID": "switchboard-desk"}, sso
    assert env["SWITCHBOARD_EXPORT__WEBHOOK_URL"]["value"] == "https://collector.example.com/switchboard"
    assert env["SWITCHBOARD_EXPORT__WEBHOOK_SECRET"]["valueFrom"]["secretKeyRef"]["key"] == "export-webhook-secret"
    archive = env["SWITCHBOARD_ARCHIVE__URL"]["valueFrom"]["secretKeyRef"]
    assert archive == {"name": "switchboard-archive", "key": "archive-url"}, archive
    ports = {p["name"]: p["port"] for p in one(objs, "Service")["spec"]["ports"]}
    assert ports == {"http": 8080, "ops": 9090}, ports
    assert one(objs, "ServiceMonitor")["spec"]["endpoints"][0]["port"] == "ops"

    groups = one(objs, "PrometheusRule")["spec"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert rules
    # The rules as a plain Prometheus rule file, checked by promtool itself.
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump({"groups": groups}, f)
    check = subprocess.run(["promtool", "check", "rules", f.name], capture_output=True, text=True)
    assert check.returncode == 0, f"promtool: {check.stdout}{check.stderr}"
    print(check.stdout.strip())
    # The rules' own tests (a series that crosses the satisfaction threshold).
    tests_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helm", "rule-tests")
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "rules.yaml"), "w") as rules_file:
            yaml.safe_dump({"groups": groups}, rules_file)
        for name in sorted(os.listdir(tests_dir)):
            shutil.copy(os.path.join(tests_dir, name), d)
            test = subprocess.run(["promtool", "test", "rules", os.path.join(d, name)],
                                  capture_output=True, text=True)
            assert test.returncode == 0, f"promtool test rules {name}: {test.stdout}{test.stderr}"
            print(f"promtool test rules {name}: {test.stdout.strip()}")
    for rule in rules:
        used = metric_names(rule["expr"])
        assert used and used <= CONTRACT_METRICS, f"{rule['alert']} uses {used - CONTRACT_METRICS}"

    dashboard = json.loads(one(objs, "ConfigMap", "-dashboard")["data"]["switchboard.json"])
    for panel in dashboard["panels"]:
        queries = [t["expr"] for t in panel["targets"]]
        assert queries, panel["title"]
        for q in queries:
            used = metric_names(q)
            assert used and used <= CONTRACT_METRICS | EXTENSIONS, f"panel {panel['title']}: {used}"
        print(f"dashboard panel {panel['title']!r}: {queries}")

    cluster_env = env_of(one(docs(cluster), "Deployment")["spec"]["template"]["spec"]["containers"][0])
    assert cluster_env["SWITCHBOARD_REDIS_URL"]["value"] == "redis://a:6379,redis://b:6379"

    # The rendered config file must be one the service accepts.
    config = one(objs, "ConfigMap", "switchboard")["data"]["switchboard.toml"]
    assert config.count("[[inboxes]]") == 2 and 'skills = { "billing" = 2' in config, config
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(config)
    result = subprocess.run([binary, "check-config"], env={**os.environ, "SWITCHBOARD_CONFIG": f.name},
                            capture_output=True, text=True)
    assert result.returncode == 0, f"rendered config refused: {result.stderr}"
    print("chart checks passed:", ", ".join(sorted(kinds)))


if __name__ == "__main__":
    main()
