#!/usr/bin/env python3
"""Load for bench/edge/run.sh, loopback only, every loop bounded by a duration.

attack PORT SECONDS: 1,000 slow connections (an unfinished request line and headers, a byte a second) and
  100 slow 5 MB webhook bodies (headers whole, a well-formed but wrong signature, 8 KiB every 100 ms); a
  connection the server cuts is opened again until SECONDS have passed. Prints how many were cut.
probe PORT SECONDS TOKEN: a normal request every 50 ms (GET /api/v1/health and GET /api/v1/jobs?limit=10
  with the admin token, alternately, each on a new connection), prints latencies in ms, one a line, and
  failures as 'fail REASON'.
"""
import asyncio
import http.client
import sys
import time

SLOW_CONNECTIONS = 1000
SLOW_BODIES = 100
BODY_BYTES = 5_000_000
CHUNK = 8192


async def slow_headers(port, until, stats):
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            stats["refused"] += 1
            await asyncio.sleep(1)
            continue
        stats["opened"] += 1
        try:
            writer.write(b"GET /api/v1/health HTTP/1.1\r\nHost: kiln\r\nX-Slow: ")
            await writer.drain()
            while time.monotonic() < until:
                await asyncio.sleep(1)
                if reader.at_eof():
                    raise ConnectionResetError("closed")
                writer.write(b"x")
                await writer.drain()
        except OSError:
            stats["cut"] += 1
        finally:
            writer.close()


async def slow_body(port, until, stats):
    head = ("POST /webhooks/github HTTP/1.1\r\nHost: kiln\r\nContent-Type: application/json\r\n"
            "X-GitHub-Event: workflow_job\r\nX-GitHub-Delivery: slow\r\nX-Hub-Signature-256: sha256=" + "0" * 64
            + "\r\nContent-Length: " + str(BODY_BYTES) + "\r\n\r\n").encode()
    chunk = b"x" * CHUNK
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            stats["refused"] += 1
            await asyncio.sleep(1)
            continue
        stats["opened"] += 1
        sent = 0
        try:
            writer.write(head)
            while time.monotonic() < until and sent < BODY_BYTES:
                writer.write(chunk)
                sent += CHUNK
                # drain() waits while the server does not read (its memory budget is taken): TCP holds us back.
                await asyncio.wait_for(writer.drain(), timeout=max(0.1, until - time.monotonic()))
                if reader.at_eof():
                    raise ConnectionResetError("closed")
                await asyncio.sleep(0.1)
        except (OSError, asyncio.TimeoutError):
            stats["cut"] += 1
        finally:
            stats["sent"] += sent
            writer.close()


async def attack(port, seconds):
    until = time.monotonic() + seconds
    headers = {"opened": 0, "cut": 0, "refused": 0, "sent": 0}
    bodies = {"opened": 0, "cut": 0, "refused": 0, "sent": 0}
    tasks = [slow_headers(port, until, headers) for _ in range(SLOW_CONNECTIONS)]
    tasks += [slow_body(port, until, bodies) for _ in range(SLOW_BODIES)]
    await asyncio.gather(*tasks, return_exceptions=True)
    print(f"slow-headers opened={headers['opened']} cut={headers['cut']} refused={headers['refused']}")
    print(f"slow-bodies opened={bodies['opened']} cut={bodies['cut']} refused={bodies['refused']}"
          f" sent_mb={bodies['sent'] / 1e6:.1f}")


def probe(port, seconds, token):
    until = time.monotonic() + seconds
    n = 0
    while time.monotonic() < until:
        path, headers = ("/api/v1/health", {}) if n % 2 == 0 else (
            "/api/v1/jobs?limit=10", {"Authorization": "Bearer " + token})
        n += 1
        started = time.monotonic()
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            connection.close()
            elapsed = (time.monotonic() - started) * 1000
            print(f"{elapsed:.2f}" if response.status == 200 else f"fail HTTP {response.status}", flush=True)
        except OSError as e:
            print(f"fail {type(e).__name__}", flush=True)
        time.sleep(max(0.0, 0.05 - (time.monotonic() - started)))


if __name__ == "__main__":
    mode, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    if mode == "attack":
        asyncio.run(attack(port, seconds))
    else:
        probe(port, seconds, sys.argv[4])
