#!/usr/bin/env python3
"""Dumps every key of a Redis server (DUMP payloads with their remaining time to live)
to a text file, one `<key hex>\t<pttl ms, -1 none>\t<payload hex>` per line, sorted.
The golden fixtures of tests/compat/ are such files; the compat tests RESTORE them.
Standard library only (a minimal RESP client), so CI needs nothing more.

    redis_snapshot.py dump <host:port> <file>
"""
import socket
import sys


class Resp:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port))
        self.buf = b""

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self.read()

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RuntimeError("unexpected reply %r" % line)


def dump(address, path):
    host, port = address.rsplit(":", 1)
    r = Resp(host, int(port))
    keys, cursor = set(), b"0"
    while True:
        cursor, batch = r.call("SCAN", cursor, "COUNT", 1000)
        keys.update(batch)
        if cursor == b"0":
            break
    lines = []
    for key in sorted(keys):
        payload = r.call("DUMP", key)
        if payload is None:
            continue  # expired meanwhile
        pttl = r.call("PTTL", key)
        lines.append("%s\t%d\t%s" % (key.hex(), pttl if pttl >= 0 else -1, payload.hex()))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("%d keys -> %s" % (len(lines), path))


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "dump":
        sys.exit(__doc__)
    dump(sys.argv[2], sys.argv[3])
