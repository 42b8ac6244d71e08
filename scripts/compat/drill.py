#!/usr/bin/env python3
"""The mixed-version drill: two replicas on one Redis (or cluster) serve adapters' and
agents' traffic while they are replaced one by one, old -> new (the upgrade), new -> old
(a rollback before finalize), old -> new again, then finalized. Afterwards every
acknowledged message is in its timeline exactly once, no request was answered 5xx,
every agent's load equals what it holds, and every open conversation is routed.
Standard library only; run by scripts/mixed-version.sh.

    drill.py --old BIN --new BIN --redis URL [--prefix P] [--phase-secs N]
"""
import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ADMIN, ADAPTER = "drill-admin", "drill-adapter"
AGENTS = ["ann", "bob", "cy"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Replica:
    """One switchboard process of a given release."""

    started = 0

    def __init__(self, name, binary, args, logdir):
        self.name, self.binary, self.args = name, binary, args
        self.api, self.ops = free_port(), free_port()
        env = dict(os.environ)
        env.update({
            "SWITCHBOARD_REDIS_URL": args.redis,
            "SWITCHBOARD_REDIS__KEY_PREFIX": args.prefix,
            "SWITCHBOARD_LISTEN": "127.0.0.1:%d" % self.api,
            "SWITCHBOARD_OPS_LISTEN": "127.0.0.1:%d" % self.ops,
            "SWITCHBOARD_ADMIN_TOKEN": ADMIN,
            "SWITCHBOARD_ADAPTER_TOKENS": ADAPTER,
            "SWITCHBOARD_ROUTING__TIMER_INTERVAL_MS": "200",
            "SWITCHBOARD_RATE_LIMIT__ADMIN_PER_SEC": "0",
            "SWITCHBOARD_RATE_LIMIT__ADAPTER_PER_SEC": "0",
            "SWITCHBOARD_LOG__FORMAT": "json",
            "HOSTNAME": name,
        })
        os.makedirs(logdir, exist_ok=True)
        Replica.started += 1
        self.log = open(os.path.join(logdir, "%02d-%s-%s.log" % (
            Replica.started, name, os.path.basename(binary))), "w")
        self.proc = subprocess.Popen([binary], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.url = "http://127.0.0.1:%d" % self.api
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                sys.exit("%s (%s) exited at start: see %s" % (name, binary, self.log.name))
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % self.ops, timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        sys.exit("%s never became ready" % name)

    def stop(self):
        """SIGTERM, as Kubernetes does: readiness turns 503, in-flight requests finish."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        self.log.close()


class Traffic:
    """Adapters and agents, sent to whichever replicas are live (as a Service would)."""

    def __init__(self):
        self.replicas = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.statuses = {}
        self.failures = []
        self.acked = {}          # message id -> conversation id
        self.customers = []      # (kind, address) already used
        self.open_convs = []
        self.sequence = 0

    def live(self):
        with self.lock:
            return list(self.replicas)

    def request(self, method, path, body=None, token=ADMIN):
        """Answers (status, json); a refused connection (a replica going away) is retried
        on another replica, as a load balancer would; a 5xx is a failure of the drill."""
        data = None if body is None else json.dumps(body).encode()
        for _ in range(50):
            live = self.live()
            if not live:
                time.sleep(0.05)
                continue
            replica = random.choice(live)
            req = urllib.request.Request(replica.url + path, data=data, method=method)
            req.add_header("Authorization", "Bearer " + token)
            if data is not None:
                req.add_header("Content-Type", "application/json")
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    status, text = resp.status, resp.read().decode()
            except urllib.error.HTTPError as e:
                status, text = e.code, e.read().decode()
            except (urllib.error.URLError, ConnectionError, socket.timeout, OSError):
                time.sleep(0.02)
                continue
            with self.lock:
                self.statuses.setdefault(status, 0)
                self.statuses[status] += 1
                if status >= 500:
                    self.failures.append("%s %s via %s: %d %s" % (method, path, replica.name, status, text[:200]))
            try:
                return status, (json.loads(text) if text else None)
            except ValueError:
                return status, None
        return None, None

    def message(self, channel, network, sender, text):
        with self.lock:
            self.sequence += 1
            external = "drill-%d" % self.sequence
        body = {"channel": channel, "network": network, "external_id": external,
                "from": sender, "text": text}
        status, receipt = self.request("POST", "/v1/messages", body, token=ADAPTER)
        # A retry of the same delivery, as providers do: stored once, answered alike.
        retry_status, retry = self.request("POST", "/v1/messages", body, token=ADAPTER)
        if status == 202 and retry_status == 202 and retry["message_id"] != receipt["message_id"]:
            with self.lock:
                self.failures.append("a retry of %s was stored again" % external)
        if status == 202:
            with self.lock:
                self.acked[receipt["message_id"]] = receipt["conversation_id"]
                self.open_convs.append(receipt["conversation_id"])
        return receipt if status == 202 else None

    def step(self, rng):
        n = rng.random()
        if n < 0.45:
            channel, network, sender = rng.choice([
                ("chat", None, "visitor-%d" % rng.randrange(40)),
                ("email", None, "person%d@example.com" % rng.randrange(40)),
                ("social", "whatsapp", "+4915112%06d" % rng.randrange(40)),
                ("phone", "sms", "+1415555%04d" % rng.randrange(40)),
            ])
            self.message(channel, network, sender, "hello %d" % rng.randrange(1000))
        elif n < 0.60 and self.open_convs:
            conv = rng.choice(self.open_convs)
            self.request("POST", "/v1/conversations/%s/messages" % conv, {"text": "on it"})
        elif n < 0.70 and self.open_convs:
            conv = rng.choice(self.open_convs)
            self.request("POST", "/v1/conversations/%s/transfer" % conv,
                         {"to_agent": rng.choice(AGENTS), "note": "over to you"})
        elif n < 0.82 and self.open_convs:
            conv = rng.choice(self.open_convs)
            status, _ = self.request("POST", "/v1/conversations/%s/resolve" % conv, {})
            if status in (200, 409):
                with self.lock:
                    if conv in self.open_convs:
                        self.open_convs.remove(conv)
        elif n < 0.92:
            # A known caller: straight to their agent; answered; hung up.
            sid = "CAdrill%d%d" % (os.getpid(), rng.randrange(10 ** 9))
            caller = "+1415555%04d" % rng.randrange(40)
            status, _ = self.request("POST", "/v1/calls", {"external_id": sid, "from": caller,
                                                           "to": "+18005550000"}, token=ADAPTER)
            if status == 200:
                self.request("POST", "/v1/calls/%s/events" % sid, {"event": "answered"}, token=ADAPTER)
                self.request("POST", "/v1/calls/%s/events" % sid, {"event": "hung_up"}, token=ADAPTER)
        elif self.acked:
            # Any replica reads what any other stored.
            with self.lock:
                conv = rng.choice(list(self.acked.values()))
            status, _ = self.request("GET", "/v1/conversations/" + conv)
            if status != 200:
                with self.lock:
                    self.failures.append("GET %s answered %s" % (conv, status))

    def run(self, seed):
        rng = random.Random(seed)
        while not self.stop.is_set():
            self.step(rng)


def check(traffic):
    """Afterwards, through the new release: nothing lost or duplicated, loads equal
    holdings, nothing left behind."""
    problems = list(traffic.failures)
    by_conv = {}
    for message, conv in traffic.acked.items():
        by_conv.setdefault(conv, []).append(message)
    for conv, messages in by_conv.items():
        status, view = traffic.request("GET", "/v1/conversations/" + conv)
        if status != 200:
            problems.append("conversation %s answered %s" % (conv, status))
            continue
        ids = [m["id"] for m in view["messages"]]
        while view.get("earlier") and ids:
            status, view = traffic.request(
                "GET", "/v1/conversations/%s?limit=1000&before=%s" % (conv, ids[0]))
            if status != 200:
                problems.append("conversation %s's earlier page answered %s" % (conv, status))
                break
            ids = [m["id"] for m in view["messages"]] + ids
        for message in messages:
            if ids.count(message) != 1:
                problems.append("message %s is in %s %d times" % (message, conv, ids.count(message)))
        if view["state"] == "open" and view.get("agent_id") is None and view.get("route") is None:
            problems.append("open conversation %s is routed nowhere" % conv)
    status, agents = traffic.request("GET", "/v1/agents")
    for agent in agents or []:
        _, held = traffic.request("GET", "/v1/agents/%s/conversations" % agent["id"])
        load = sum(agent["load"].values()) + agent.get("after_call", 0)
        if load != len(held or []):
            problems.append("%s: load %d but holds %d" % (agent["id"], load, len(held or [])))
    return problems


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--old", required=True)
    p.add_argument("--new", required=True)
    p.add_argument("--redis", required=True)
    p.add_argument("--prefix", default="drill")
    p.add_argument("--phase-secs", type=float, default=4.0)
    p.add_argument("--logs", default=tempfile.mkdtemp(prefix="drill-"))
    args = p.parse_args()
    traffic = Traffic()
    names = ["replica-a", "replica-b"]
    replicas = {n: Replica(n, args.old, args, args.logs) for n in names}
    traffic.replicas = list(replicas.values())
    for agent in AGENTS:
        traffic.request("PUT", "/v1/agents/" + agent, {"name": agent, "capacity": {"phone": 1, "email": 4, "chat": 3, "social": 3}})
        traffic.request("PUT", "/v1/agents/%s/presence" % agent, {"presence": "online"})
    workers = [threading.Thread(target=traffic.run, args=(seed,)) for seed in (1, 2)]
    for w in workers:
        w.start()

    def replace(name, binary, label):
        with traffic.lock:
            traffic.replicas = [r for r in traffic.replicas if r is not replicas[name]]
        replicas[name].stop()
        replicas[name] = Replica(name, binary, args, args.logs)
        with traffic.lock:
            traffic.replicas.append(replicas[name])
        print("  %s: %s now runs %s" % (label, name, os.path.basename(binary)), flush=True)
        time.sleep(args.phase_secs)

    def finalize():
        return subprocess.run(
            [args.new, "upgrade", "finalize"], capture_output=True, text=True,
            env=dict(os.environ, SWITCHBOARD_REDIS_URL=args.redis,
                     SWITCHBOARD_REDIS__KEY_PREFIX=args.prefix, SWITCHBOARD_ADMIN_TOKEN=ADMIN,
                     SWITCHBOARD_ADAPTER_TOKENS=ADAPTER,
                     SWITCHBOARD_ROUTING__TIMER_INTERVAL_MS="200"))

    time.sleep(args.phase_secs)
    for label, binary in [("upgrade", args.new), ("rollback", args.old), ("upgrade", args.new)]:
        for name in names:
            replace(name, binary, label)
            if name == names[0]:
                # Half-way: a replica of the other release is alive, so finalize refuses.
                early = finalize()
                if early.returncode != 1:
                    sys.exit("finalize with an old replica alive answered %d: %s%s" % (
                        early.returncode, early.stdout, early.stderr))
                print("  finalize refused while an old replica runs: %s" % early.stderr.strip(),
                      flush=True)
    finalize = finalize()
    if finalize.returncode != 0:
        sys.exit("finalize failed: %s" % finalize.stderr)
    written = json.loads(finalize.stdout)["write"]
    print("  finalized: the deployment writes format %d" % written, flush=True)
    time.sleep(args.phase_secs)
    traffic.stop.set()
    for w in workers:
        w.join()
    problems = check(traffic)
    for r in replicas.values():
        r.stop()
    print("  %d messages acknowledged, answers by status: %s" % (
        len(traffic.acked), json.dumps(dict(sorted(traffic.statuses.items())))), flush=True)
    if problems:
        print("DRILL FAILED (logs in %s):" % args.logs)
        for problem in problems[:40]:
            print("  " + problem)
        sys.exit(1)
    print("  drill passed")


if __name__ == "__main__":
    main()
