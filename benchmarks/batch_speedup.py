"""Measure `HFClient.batch` / `AsyncHFClient.batch` against sequential calls on the loopback mock.

The mock answers each request after a fixed delay (the `x-fake-delay-ms` header), like a
provider that takes time to generate; the client's own CPU is not what this measures, the
overlap of waiting is. Run from the project's venv (hfproviders installed):

    python benchmarks/batch_speedup.py [--requests 40] [--delay-ms 100] [--concurrency 8]

Writes benchmarks/results/batch.md and prints it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hfproviders import AsyncHFClient, HFClient

HERE = Path(__file__).resolve().parent
MODEL = "meta-llama/Llama-3.3-70B-Instruct"


def start_mock() -> tuple[subprocess.Popen[bytes], str]:
    ready = Path(tempfile.mkdtemp()) / "port"
    proc = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "bench_router.py"),
            "--port",
            "0",
            "--ready-file",
            str(ready),
            "--idle-timeout",
            "60",
            "--max-lifetime",
            "600",
        ],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(200):
        if ready.exists() and ready.read_text().strip():
            return proc, f"http://127.0.0.1:{ready.read_text().strip()}/v1"
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the mock server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--delay-ms", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    proc, base_url = start_mock()
    try:
        headers = {"x-fake-delay-ms": str(args.delay_ms)}
        requests = [
            {"model": MODEL, "messages": [{"role": "user", "content": f"q{i}"}], "max_tokens": 16}
            for i in range(args.requests)
        ]
        with HFClient(base_url=base_url, api_key="benchmark", default_headers=headers) as client:
            client.chat(MODEL, requests[0]["messages"])  # warm the pool
            t0 = time.perf_counter()
            for r in requests:
                client.chat(r["model"], r["messages"], max_tokens=16)
            sequential = time.perf_counter() - t0
            t0 = time.perf_counter()
            results = client.batch(requests, max_concurrency=args.concurrency)
            threaded = time.perf_counter() - t0
            assert all(not isinstance(r, Exception) for r in results), results

        async def run_async() -> float:
            async with AsyncHFClient(
                base_url=base_url, api_key="benchmark", default_headers=headers
            ) as aclient:
                await aclient.chat(MODEL, requests[0]["messages"])
                t0 = time.perf_counter()
                out = await aclient.batch(requests, max_concurrency=args.concurrency)
                elapsed = time.perf_counter() - t0
                assert all(not isinstance(r, Exception) for r in out), out
                return elapsed

        asynchronous = asyncio.run(run_async())
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    ideal = sequential / min(args.concurrency, args.requests)
    lines = [
        "# Batch speed-up on the loopback mock",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; machine: {os.cpu_count()} cores;"
        f" Python {sys.version.split()[0]}",
        f"- Command: `python benchmarks/batch_speedup.py --requests {args.requests} --delay-ms {args.delay_ms}"
        f" --concurrency {args.concurrency}`",
        f"- {args.requests} chat requests, the mock answering each after {args.delay_ms} ms.",
        "",
        "| how | wall time | speed-up |",
        "|---|---|---|",
        f"| sequential `chat` calls | {sequential:.2f} s | 1.0x |",
        f"| `HFClient.batch(max_concurrency={args.concurrency})` (threads) | {threaded:.2f} s | {sequential / threaded:.1f}x |",
        f"| `AsyncHFClient.batch(max_concurrency={args.concurrency})` (tasks) | {asynchronous:.2f} s | {sequential / asynchronous:.1f}x |",
        f"| ideal (sequential / concurrency) | {ideal:.2f} s | {sequential / ideal:.1f}x |",
        "",
    ]
    text = "\n".join(lines)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "batch.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
