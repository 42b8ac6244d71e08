"""What a chatty customer costs Redis per message (#33), for scripts/bench.sh: the
known-customer ingest script (taken from the service with MONITOR, as script_alone.py
does) replayed over customers who already wrote `records` messages within the dedup
window, beside customers who wrote 10. Redis keeps a hash of fewer than
hash-max-listpack-entries (512) fields as one listpack and scans it on every lookup, so
the worst would be just below that (`chatty`: 470, ending near 480), and past it the
hash is a table (`hot`: 1,000). The records are written by the same script call
(fresh fields), so whatever the script does as a customer's records accumulate happens
here too. Each customer then takes CALLS_EACH calls, in rounds interleaved across the
figures, so it stays where it was put; its records hash is deleted before and after, so
later scenarios find it empty (they write fresh keys). Standard library only.
Usage: chatty.py <redis port> <api port> <adapter token> <customers per figure>"""

import random
import statistics
import sys
from collections import Counter

from script_alone import BATCH, ROUNDS, Redis, captured_call, replay

CALLS_EACH = 20
FIGURES = (("light", 10), ("chatty", 470), ("hot", 1000))


def fill(redis, call, customers, records):
    """Brings each customer's records hash to `records` records by writing: the ingest
    call replayed under fresh fields (so whatever the script does as records accumulate,
    it does here too)."""
    owner = call[3][len(b"sb:c:{"):-1]
    batch = []
    for c in customers:
        for n in range(records):
            args = [a.replace(owner, c) for a in call]
            args[6] = b"fill%05d%011d" % (n, random.getrandbits(36))
            batch.append(Redis.encode(args))
            if len(batch) == BATCH:
                flush(redis, batch)
    flush(redis, batch)


def flush(redis, batch):
    redis.sock.sendall(b"".join(batch))
    for _ in batch:
        answer = redis.read()
        if answer[0] != b"ok":
            raise RuntimeError(f"the filling script answered {answer!r}")
    batch.clear()


def main():
    port, api_port, token, per = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    call = captured_call(port, api_port, token)
    redis = Redis(port)
    known = [redis.call("GET", key) for key in redis.call("KEYS", "sb:id:{chat:visitor-*")]
    random.shuffle(known)
    groups = {name: known[n * per:(n + 1) * per] for n, (name, _) in enumerate(FIGURES)}
    for name, records in FIGURES:
        # Each customer's hash starts anew, so a group's size is what it is put at.
        for c in groups[name]:
            redis.call("DEL", b"sb:c:{" + c + b"}:dx")
        fill(redis, call, groups[name], records)
    encodings = {name: Counter(redis.call("OBJECT", "ENCODING", b"sb:c:{" + c + b"}:dx").decode()
                               for c in group) for name, group in groups.items()}
    # Interleaved rounds, each figure the median of its rounds (script_alone.py's reason).
    rounds = {name: [] for name, _ in FIGURES}
    each = per * CALLS_EACH // ROUNDS
    for r in range(ROUNDS):
        for name, _ in FIGURES:
            rounds[name].append(replay(redis, call, groups[name], each, first=r * each))
    figures = {name: statistics.median(rounds[name]) for name, _ in FIGURES}
    for name, records in FIGURES:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(encodings[name].items()))
        print(f"{name:8} {records} records, then {CALLS_EACH} messages each over {per} "
              f"customers: {figures[name]:.1f} us of Redis CPU per message ({kinds})")
        for c in groups[name]:
            redis.call("DEL", b"sb:c:{" + c + b"}:dx")
    light = figures["light"]
    print(f"  chatty {figures['chatty'] / light:.2f} and hot {figures['hot'] / light:.2f} "
          f"of a customer with 10 records (medians of {ROUNDS} interleaved rounds)")

if __name__ == "__main__":
    main()
