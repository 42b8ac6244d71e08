"""What the known-customer ingest script costs Redis on its own, for scripts/bench.sh:
no HTTP, no service and no load generator competing for the cores, so the figure is
the script's, not the machine's. Watches Redis (MONITOR) while one known customer
writes through the API, takes the ingest script's call as the service made it, then
replays it CALLS times, pipelined, spread over the known customers (each call under a
fresh idempotency field, ARGV[2] in ingest.lua), and prints Redis CPU per call
(INFO cpu) next to three others with the same arguments: a script making only the four
commands such a message cannot do without (FLOOR), the same writing the ingest script's
own record (FLOOR_RECORD), and an empty script. Every replayed
call must be answered 'ok'. Standard library only.
Usage: script_alone.py <redis port> <api port> <adapter token> <calls>"""

import json
import random
import re
import socket
import statistics
import sys
import urllib.request

BATCH = 50
ROUNDS = 5

# The four commands a message into an assigned conversation needs, and nothing else:
# read the customer (its open conversation), read the conversation (who holds it),
# record the idempotency key, append the message. What any script doing the job costs.
FLOOR = """
local f = redis.call('HMGET', KEYS[1], 'merged_into', 'created_at', 'display_name', 'open',
  'lang', 'dxt', 'dxl')
local conv = KEYS[2] .. ':' .. f[4]
redis.call('HMGET', conv, 'agent', 'ch:chat', 'group')
redis.call('HSETNX', KEYS[1] .. ':dx', ARGV[2], ARGV[3] .. '|floor')
redis.call('RPUSH', conv .. ':m', ARGV[7])
return {'ok'}
"""

# The same four commands writing the record the ingest script writes (the receipt, about
# 50 bytes where FLOOR writes 5) and answering it: what the record itself adds.
FLOOR_RECORD = """
local f = redis.call('HMGET', KEYS[1], 'merged_into', 'created_at', 'display_name', 'open',
  'lang', 'dxt', 'dxl', 'erasing')
local conv = KEYS[2] .. ':' .. f[4]
local held = redis.call('HMGET', conv, 'agent', 'ch:chat', 'group')
local receipt = ARGV[6] .. '|' .. f[4] .. '|0a|' .. held[1] .. '||a'
redis.call('HSETNX', KEYS[1] .. ':dx', ARGV[2], (ARGV[3] + ARGV[5]) .. '|' .. receipt)
redis.call('RPUSH', conv .. ':m', ARGV[7])
return {'ok', receipt}
"""


class Redis:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.file = self.sock.makefile("rb")

    @staticmethod
    def encode(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def read(self):
        line = self.file.readline()
        kind, rest = line[:1], line[1:-2]
        if kind in b"+:":
            return rest
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.file.read(n + 2)[:-2]
        if kind == b"*":
            return [self.read() for _ in range(int(rest))]
        raise RuntimeError(f"unexpected reply {line!r}")

    def call(self, *args):
        self.sock.sendall(self.encode(args))
        return self.read()

    def cpu(self):
        info = self.call("INFO", "cpu").decode()
        return sum(float(v) for k, v in re.findall(r"(used_cpu_(?:sys|user)):([\d.]+)", info))


def unquote(line):
    """The arguments of one MONITOR line (sdscatrepr quoting)."""
    args = []
    for quoted in re.findall(rb'"((?:[^"\\]|\\.)*)"', line):
        out, i = bytearray(), 0
        while i < len(quoted):
            c = quoted[i : i + 1]
            if c == b"\\":
                nxt = quoted[i + 1 : i + 2]
                if nxt == b"x":
                    out += bytes([int(quoted[i + 2 : i + 4], 16)])
                    i += 4
                    continue
                out += {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"a": b"\a", b"b": b"\b"}.get(nxt, nxt)
                i += 2
                continue
            out += c
            i += 1
        args.append(bytes(out))
    return args


def captured_call(port, api_port, token):
    """The ingest script's call for one message of visitor-0, as the service sent it."""
    monitor = Redis(port)
    monitor.sock.sendall(Redis.encode(["MONITOR"]))
    monitor.read()
    body = json.dumps({"channel": "chat", "external_id": f"alone-{random.random()}",
                       "from": "visitor-0", "text": "0123456789" * 10}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{api_port}/v1/messages", data=body, method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    urllib.request.urlopen(request).read()
    while True:
        line = monitor.file.readline()
        if b'"EVALSHA"' in line and b'"2" "sb:c:{' in line:
            monitor.sock.close()
            return unquote(line.split(b"] ", 1)[1])


def replay(redis, call, customers, calls, sha=None, first=0):
    """Redis CPU per call of `call` (under `sha` if given), over `customers`; the calls'
    idempotency fields are numbered from `first`."""
    owner = call[3][len(b"sb:c:{"):-1]
    before = redis.cpu()
    for start in range(first, first + calls, BATCH):
        batch = []
        for n in range(start, min(start + BATCH, first + calls)):
            other = random.choice(customers)
            args = [a.replace(owner, other) for a in call]
            args[6] = b"alone%011d" % n  # ARGV[2]: the idempotency record's field
            if sha:
                args[1] = sha
            batch.append(Redis.encode(args))
        redis.sock.sendall(b"".join(batch))
        for _ in batch:
            answer = redis.read()
            if answer[0] != b"ok":
                raise RuntimeError(f"the replayed script answered {answer!r}")
    return (redis.cpu() - before) * 1e6 / calls


def main():
    port, api_port, token, calls = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    call = captured_call(port, api_port, token)
    redis = Redis(port)
    customers = [redis.call("GET", key) for key in redis.call("KEYS", "sb:id:{chat:visitor-*")]
    empty = redis.call("SCRIPT", "LOAD", "return {'ok'}")
    floor = redis.call("SCRIPT", "LOAD", FLOOR)
    floor_record = redis.call("SCRIPT", "LOAD", FLOOR_RECORD)
    # Interleaved rounds, each figure the median of its rounds: a machine whose speed
    # drifts during the run moves all three alike, and the ratio stays.
    rounds = {"script": [], "four": [], "record": [], "empty": []}
    each = calls // ROUNDS
    for r in range(ROUNDS):
        rounds["script"].append(replay(redis, call, customers, each, first=r * each))
        rounds["four"].append(replay(redis, call, customers, each, sha=floor, first=r * each))
        rounds["record"].append(
            replay(redis, call, customers, each, sha=floor_record, first=r * each))
        rounds["empty"].append(replay(redis, call, customers, each, sha=empty, first=r * each))
    script, four, record, baseline = (
        statistics.median(rounds[k]) for k in ("script", "four", "record", "empty"))
    print(f"alone    ingest script replayed {calls} times over {len(customers)} known customers: "
          f"{script:.1f} us of Redis CPU per call; with the same arguments, a script making "
          f"only its four necessary commands: {four:.1f} ({record:.1f} writing the script's own "
          f"record), an empty script: {baseline:.1f} "
          f"(medians of {ROUNDS} interleaved rounds)\n"
          f"  the ingest script is {script / four:.2f} of the four-command floor "
          f"({script / record:.2f} of the floor writing its record)")

if __name__ == "__main__":
    main()
