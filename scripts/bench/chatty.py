"""What a chatty customer costs Redis per message (#33), for scripts/bench.sh: the
known-customer ingest script (taken from the service with MONITOR, as script_alone.py
does) replayed over customers whose idempotency records hash already holds `records`
records, beside customers holding 10. Redis keeps a hash of fewer than
hash-max-listpack-entries (512) fields as one listpack and scans it on every lookup, so
the worst is just below that (`chatty`: 470, ending at 480), and past it the hash is a
table again (`hot`: 1,000). Each customer takes CALLS_EACH calls, so it stays where it was
put; the records added to fill a hash are the script's own layout (`<expires>|<receipt>`,
copied from a real one) under made-up fields, and the hashes are deleted afterwards, so
the scenarios after this one find the known customers as they were (their records of
earlier scenarios go too: later scenarios write fresh keys). Standard library only.
Usage: chatty.py <redis port> <api port> <adapter token> <customers per figure>"""

import random
import sys

from script_alone import Redis, captured_call, replay

CALLS_EACH = 10
FIGURES = (("light", 10), ("chatty", 470), ("hot", 1000))


def fill(redis, customers, records, sample):
    """Brings each customer's records hash to `records` fields (made-up ones)."""
    for c in customers:
        key = b"sb:c:{" + c + b"}:dx"
        have = int(redis.call("HLEN", key))
        pairs = []
        for i in range(have, records):
            pairs += [b"fill%012d" % random.getrandbits(40), sample]
        for start in range(0, len(pairs), 1000):
            redis.call("HSET", key, *pairs[start:start + 1000])


def main():
    port, api_port, token, per = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    call = captured_call(port, api_port, token)
    redis = Redis(port)
    known = [redis.call("GET", key) for key in redis.call("KEYS", "sb:id:{chat:visitor-*")]
    random.shuffle(known)
    owner = call[3][len(b"sb:c:{"):-1]
    sample = redis.call("HRANDFIELD", b"sb:c:{" + owner + b"}:dx", 1, "WITHVALUES")[1]
    figures = {}
    for n, (name, records) in enumerate(FIGURES):
        group = known[n * per:(n + 1) * per]
        # Each customer's hash starts anew, so a group's size is what it is put at.
        for c in group:
            redis.call("DEL", b"sb:c:{" + c + b"}:dx")
        fill(redis, group, records, sample)
        figures[name] = replay(redis, call, group, per * CALLS_EACH)
        encoding = redis.call("OBJECT", "ENCODING", b"sb:c:{" + group[0] + b"}:dx").decode()
        print(f"{name:8} {records} records, then {CALLS_EACH} messages each over {len(group)} "
              f"customers: {figures[name]:.1f} us of Redis CPU per message ({encoding})")
        for c in group:
            redis.call("DEL", b"sb:c:{" + c + b"}:dx")
    light = figures["light"]
    print(f"  chatty {figures['chatty'] / light:.2f} and hot {figures['hot'] / light:.2f} "
          f"of a customer with 10 records")


if __name__ == "__main__":
    main()
