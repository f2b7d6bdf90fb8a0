"""What shared state on Redis adds to each call: `python benchmarks/state_overhead.py`.

Runs the same non-streamed chat call through four clients, interleaved round-robin so machine
load hits them alike, over an in-process `httpx.MockTransport` (no HTTP noise):

`--async` runs the same through `AsyncHFClient` (its Redis round trips awaited on the loop).

- `none`: no limiter, no cache;
- `local`: in-process `RateLimiter`, breaker and ledger, and an `InMemoryCache` (a miss and a
  write per call);
- `redis state`: `state=` Redis with the limiter, and the default breaker and spend ledger, all
  shared (per call: the limiter's Lua script, one round trip; the breaker's count of a success is
  a write without a reply, carried by the next call's socket write; the ledger and latency samples
  are flushed in batches);
- `redis state+cache`: the same plus the cache on Redis (the cache read joins the limiter's script:
  still one round trip per call; the cache write rides with the next call like the count).

Every request is distinct (no cache hits) and the limits are high (no waits), so the figures
are pure overhead. Starts its own `redis-server` on a free loopback port unless `--redis-url`
is given. Reports p50/p95 per call and the p50 added over `local` (target: < 1 ms), and the
limiter's round trip alone, back to back. On a loaded machine the interleaved figures include the
scheduler's delay in waking `redis-server` and then this process again; the round trip alone does not.

Measured on the project's shared 2-core machine (Redis 7.0, loopback; 2026-12-01, another
engineer's benchmarks running), runs alternating with the code before the one-round-trip change:
`HFClient`, nine pairs between 22:39 and 23:20 UTC, load average 1.3-2.8: added p50 0.36-0.46 ms
with the cache (before: 0.84-1.12) and 0.26-0.34 ms without it (before: 0.48-0.67), the limiter's
round trip alone 0.10-0.16 ms (before: 0.18-0.32); `AsyncHFClient` (`--async`), five pairs, load
1.7-2.5: 0.45-0.72 ms with the cache (before: 1.29-1.95) and 0.36-0.65 ms without it (before:
0.76-1.22).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from typing import Any

import httpx

from hfproviders import AsyncHFClient, HFClient, InMemoryCache, RateLimiter, RedisState

BODY = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 1767225600,
    "model": "org/model",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found: apt-get install redis-server (or --redis-url)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    workdir = tempfile.mkdtemp()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.RedisError:
            if time.monotonic() > deadline:
                process.kill()
                raise SystemExit("redis-server did not start") from None
            time.sleep(0.02)
    return process, f"redis://127.0.0.1:{port}/0"


def client(kind: str, url: str, is_async: bool = False) -> Any:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, json=BODY, headers={"x-inference-provider": "together"})
    )
    options: dict[str, Any] = {"base_url": "http://bench.local/v1", "api_key": "k"}
    if is_async:
        options["http_async_client"] = httpx.AsyncClient(transport=transport)
    else:
        options["http_client"] = httpx.Client(transport=transport)
    if kind != "none":
        options["rate_limiter"] = RateLimiter(6_000_000, max_wait=None)
    if kind in ("local", "redis state+cache"):
        options["cache"] = InMemoryCache(ttl_s=60)
    if kind.startswith("redis"):
        options["state"] = RedisState(url, prefix="bench")
    return AsyncHFClient(**options) if is_async else HFClient(**options)


async def measure_async(kinds: list[str], url: str, calls: int) -> dict[str, list[float]]:
    """The same interleaved calls through `AsyncHFClient` (its Redis I/O awaited on the loop)."""
    clients = {kind: client(kind, url, is_async=True) for kind in kinds}
    timings: dict[str, list[float]] = {kind: [] for kind in kinds}
    try:
        for n in range(calls + 20):
            for kind in kinds:
                messages = [{"role": "user", "content": f"call {n}"}]
                started = time.perf_counter()
                await clients[kind].chat("org/model", messages)
                if n >= 20:
                    timings[kind].append((time.perf_counter() - started) * 1000)
    finally:
        for each in clients.values():
            await each.aclose()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=800)
    parser.add_argument("--redis-url")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--async", dest="is_async", action="store_true", help="AsyncHFClient")
    args = parser.parse_args()
    process, url = (None, args.redis_url) if args.redis_url else start_redis()
    if process is not None:
        atexit.register(process.kill)  # after the stores' own exit flushes (atexit runs LIFO)
    kinds = ["none", "local", "redis state", "redis state+cache"]
    clients = {} if args.is_async else {kind: client(kind, url) for kind in kinds}
    try:
        timings: dict[str, list[float]] = {kind: [] for kind in kinds}
        if args.is_async:
            timings = asyncio.run(measure_async(kinds, url, args.calls))
        for n in range(0 if args.is_async else args.calls + 20):
            for kind in kinds:
                messages = [{"role": "user", "content": f"call {n}"}]
                started = time.perf_counter()
                clients[kind].chat("org/model", messages)
                if n >= 20:  # warm-up: imports, connections, the Lua script
                    timings[kind].append((time.perf_counter() - started) * 1000)
        # The round trip alone, back to back: what Redis costs when this process keeps its CPU.
        limiter = RedisState(url, prefix="bench-alone").rate_limiter(6_000_000, max_wait=None)
        limiter.acquire()
        alone = []
        for _ in range(args.calls):
            started = time.perf_counter()
            limiter.acquire()
            alone.append((time.perf_counter() - started) * 1000)
    finally:
        for each in clients.values():
            each.close()
    p50 = {kind: statistics.median(values) for kind, values in timings.items()}
    report = {
        kind: {
            "p50_ms": round(p50[kind], 3),
            "p95_ms": round(statistics.quantiles(values, n=20)[18], 3),
            "added_p50_ms_vs_local": round(p50[kind] - p50["local"], 3),
        }
        for kind, values in timings.items()
    }
    report["limiter round trip alone"] = {
        "p50_ms": round(statistics.median(alone), 3),
        "p95_ms": round(statistics.quantiles(alone, n=20)[18], 3),
        "added_p50_ms_vs_local": round(statistics.median(alone), 3),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{'configuration':<26}{'p50 ms':>9}{'p95 ms':>9}{'added p50 vs local':>20}")
    for kind, row in report.items():
        print(
            f"{kind:<22}{row['p50_ms']:>9.3f}{row['p95_ms']:>9.3f}{row['added_p50_ms_vs_local']:>20.3f}"
        )


if __name__ == "__main__":
    main()
