"""Holds N agents' event streams open and idle, for scripts/bench.sh: what idle agents
cost. Creates the agents (offline: nothing is routed to them), opens one
`GET /v1/agents/{id}/events` per agent, waits until all answered 200, then prints
`ready` and keeps them open until stdin closes. Standard library only."""

import asyncio
import sys


async def request(host, port, method, path, token, body=b""):
    reader, writer = await asyncio.open_connection(host, port)
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    )
    if method == "GET":
        head += "Accept: text/event-stream\r\n"
    else:
        head += "Connection: close\r\n"
    writer.write(head.encode() + b"\r\n" + body)
    await writer.drain()
    status = (await reader.readline()).decode()
    if " 200 " not in status and " 201 " not in status:
        raise RuntimeError(f"{method} {path}: {status.strip()}")
    return reader, writer


async def create(host, port, token, n, parallel=64):
    sem = asyncio.Semaphore(parallel)

    async def one(i):
        async with sem:
            _, w = await request(host, port, "PUT", f"/v1/agents/idle-{i}", token, b'{"name":"Idle"}')
            w.close()

    await asyncio.gather(*(one(i) for i in range(n)))


async def main():
    host, port, token, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    await create(host, port, token, n)
    streams = []
    for start in range(0, n, 500):
        batch = range(start, min(n, start + 500))
        streams += await asyncio.gather(
            *(request(host, port, "GET", f"/v1/agents/idle-{i}/events", token) for i in batch)
        )
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for _, w in streams:
        w.close()


asyncio.run(main())
