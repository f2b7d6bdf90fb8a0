"""Tail latency under provider faults: one command, loopback only, seeded.

    python benchmarks/faults.py            # 2,000 requests at concurrency 20 per client
    python benchmarks/faults.py --quick    # 400 requests, time compressed (about a minute)

The simulated router is `hfproviders.testing.FakeRouter` (served on 127.0.0.1 by this process,
a fresh one per client) fronting four providers of one model, each with a seeded lognormal
time to answer, a background error rate, and episodes of outage (503 storms, answered at once)
or slowness, timed from the start of each run so that every client meets the same weather. A
request without a provider suffix goes where the router sends it (its first live provider);
`model:provider` pins one. Billed USD counts every answer the router produced (usage x the
catalogue price). A hedge's loser that the client cancelled before its answer was sent is billed
for its prompt and the part of its output generated before the client left; the last column
bills it in full, as a provider that finishes anyway would.

The same workload (non-streamed chat, one prompt) runs through each client, in a fresh process
of the peers venv (`benchmarks/.peers-venv`, made by `benchmarks/run.py`; LiteLLM is added to
it here when it installs, and is no dependency of ours):

- `fault-free`: raw httpx to the router's default with every fault off: the baseline p99;
- `raw httpx`: one provider (the router's default), no retries: what a plain client sees;
- `huggingface_hub`: `InferenceClient.chat_completion`, its defaults;
- `litellm`: LiteLLM's `Router`, the four providers as fallbacks, 2 retries, cooldowns;
- `ours (failover)`: `AsyncHFClient(provider=[all four], breaker=None)`: a fixed chain;
- `ours (health)`: a circuit breaker with windows at the simulation's time scale
  (`window_s=10`, `cooldown_s=3`, `min_calls=5`), `provider="lowest-latency"`,
  `hedge_after="p90"` (`--hedge-after` to try another).

Reported per client: success rate, p50/p95/p99 of the time to a successful answer (seconds;
failures are not in the percentiles but are in the success rate), requests the server received
per success, and USD billed. Written to `results/faults.md`, `results/faults.json` and
`results/faults.png`. `tests/core/test_faults_bench.py` runs a reduced form as a test of the
guarantees (success and request-count bounds, not timings).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
MODEL = "meta-llama/Llama-3.3-70B-Instruct"
PROMPT_TOKENS, COMPLETION_TOKENS = 20, 40
MESSAGES = [{"role": "user", "content": "Say something short."}]
FAKE_TOKEN = "hf_test_FAKE_TOKEN_for_loopback_only"


@dataclass(frozen=True)
class SimProvider:
    """One simulated provider: how it behaves, and what the catalogue says about it.

    `episodes` are (start s, end s, slow factor or None for a 503 storm), at time scale 1.
    """

    name: str
    median_s: float
    sigma: float
    error_rate: float
    price_in: float
    price_out: float
    listed_ttft_ms: float
    listed_throughput: float
    episodes: tuple[tuple[float, float, float | None], ...] = ()


# The router's default (no suffix) is the first. Times are for the full run (scale 1).
PROVIDERS = (
    SimProvider("cerebras", 0.12, 0.35, 0.01, 0.13, 0.40, 150, 150, ((3.0, 9.0, None),)),
    SimProvider("novita", 0.15, 0.9, 0.02, 0.39, 0.39, 160, 150, ((14.0, 16.0, None),)),
    SimProvider("together", 0.18, 0.3, 0.005, 0.88, 0.88, 200, 150, ((9.0, 14.0, 6.0),)),
    SimProvider("groq", 0.25, 0.2, 0.002, 0.59, 0.79, 300, 150),
)


def build_router(faults: bool, seed: int, scale: float) -> Any:
    """The simulated router: `hfproviders.testing.FakeRouter` with the four providers."""
    from hfproviders.testing import Episode, FakeModel, FakeRouter, Latency, Provider

    providers = [
        Provider(
            p.name,
            pricing_input=p.price_in,
            pricing_output=p.price_out,
            first_token_latency_ms=p.listed_ttft_ms * scale,
            throughput=p.listed_throughput,
            latency=Latency(ttft_s=p.median_s * scale, sigma=p.sigma),
            error_rate=p.error_rate if faults else 0.0,
            episodes=tuple(
                Episode(start * scale, end * scale, slow_factor=slow)
                for start, end, slow in (p.episodes if faults else ())
            ),
            ratelimit=10**9,
        )
        for p in PROVIDERS
    ]
    return FakeRouter([FakeModel(MODEL, providers)], strict=True, seed=seed, max_recorded=100_000)


def billed_usd(router: Any, usage: tuple[int, int]) -> tuple[float, float]:
    """USD the providers bill: (as billed in this simulation, upper bound).

    An answer sent is billed in full (usage x price). A request the client cancelled while its
    answer was being prepared (a hedge's loser) was never answered. The simulation bills its
    prompt and the share of its output generated before the client left (time waited over the
    answer's time): a provider that stops generating when the client goes, as vLLM-based
    servers do. The upper bound bills it in full: a provider that finishes and bills anyway.
    """
    prices = {p.name: (p.price_in, p.price_out) for p in PROVIDERS}
    billed = upper = 0.0
    for request in router.requests:
        if request.kind == "chat" and request.status == 200 and request.provider in prices:
            price_in, price_out = prices[request.provider]
            full = (usage[0] * price_in + usage[1] * price_out) / 1e6
            upper += full
            if request.left_after_s is None:
                billed += full
            else:
                share = min(1.0, request.left_after_s / request.answer_s)
                billed += (usage[0] * price_in + share * usage[1] * price_out) / 1e6
    return billed, upper


# ------------------------------------------------------------------------------ the clients


ERRORS: Counter[str] = Counter()


async def _drive(call: Any, n: int, concurrency: int) -> list[float | None]:
    """Run `call()` n times, `concurrency` at once; each outcome: seconds, or None (failed)."""
    outcomes: list[float | None] = [None] * n
    queue = iter(range(n))

    async def worker() -> None:
        for i in queue:
            started = time.perf_counter()
            try:
                await call()
                outcomes[i] = time.perf_counter() - started
            except Exception as exc:
                ERRORS[type(exc).__name__] += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return outcomes


def _drive_threads(call: Any, n: int, concurrency: int) -> list[float | None]:
    from concurrent.futures import ThreadPoolExecutor

    def one(_: int) -> float | None:
        started = time.perf_counter()
        try:
            call()
        except Exception as exc:
            ERRORS[type(exc).__name__] += 1
            return None
        return time.perf_counter() - started

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one, range(n)))


def _start_clock(base: str) -> None:
    """Reset the router: its counters and the episodes' clock start now, with the workload."""
    import urllib.request

    request = urllib.request.Request(f"{base}/__fake/reset", data=b"{}", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
        response.read()


def run_client(
    name: str,
    base: str,
    n: int,
    concurrency: int,
    timeout: float,
    scale: float = 1.0,
    hedge_after: str = "p90",
) -> dict[str, Any]:
    """Run the workload through one client; the outcomes and what the client reported."""
    extra: dict[str, Any] = {}
    if name in ("fault-free", "raw httpx"):
        import httpx

        async def raw() -> list[float | None]:
            async with httpx.AsyncClient(
                timeout=timeout, limits=httpx.Limits(max_connections=100)
            ) as c:

                async def call() -> None:
                    r = await c.post(
                        f"{base}/v1/chat/completions",
                        json={"model": MODEL, "messages": MESSAGES, "max_tokens": 64},
                        headers={"Authorization": f"Bearer {FAKE_TOKEN}"},
                    )
                    r.raise_for_status()

                _start_clock(base)
                return await _drive(call, n, concurrency)

        outcomes = asyncio.run(raw())
    elif name == "huggingface_hub":
        from huggingface_hub import InferenceClient

        hub = InferenceClient(base_url=base, api_key=FAKE_TOKEN, timeout=timeout)
        _start_clock(base)
        outcomes = _drive_threads(
            lambda: hub.chat_completion(MESSAGES, model=MODEL, max_tokens=64), n, concurrency
        )
    elif name == "litellm":
        os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # no download of its price list
        from litellm import Router

        names = [p.name for p in PROVIDERS]
        model_list = [
            {
                "model_name": p,
                "litellm_params": {
                    "model": f"openai/{MODEL}:{p}",
                    "api_base": f"{base}/v1",
                    "api_key": FAKE_TOKEN,
                    "timeout": timeout,
                },
            }
            for p in names
        ]
        router = Router(
            model_list=model_list,
            fallbacks=[{names[0]: names[1:]}],
            num_retries=2,
            allowed_fails=3,
            cooldown_time=5,
        )

        async def call_litellm() -> None:
            await router.acompletion(model=names[0], messages=MESSAGES, max_tokens=64)

        _start_clock(base)
        outcomes = asyncio.run(_drive(call_litellm, n, concurrency))
    else:
        from hfproviders import AsyncHFClient, CircuitBreaker, SpendLimit

        if name == "ours (failover)":
            options: dict[str, Any] = {
                "provider": [p.name for p in PROVIDERS],
                "breaker": None,
            }
        else:
            # The breaker's windows fit the simulation's time scale: its outages last seconds,
            # real ones minutes (the defaults are 60 s and 30 s).
            breaker = CircuitBreaker(min_calls=5, window_s=10 * scale, cooldown_s=3 * scale)
            options = {"provider": "lowest-latency", "hedge_after": hedge_after, "breaker": breaker}
        budget = SpendLimit(usd=100.0)
        costs: list[float] = []
        hedges = [0]

        async def ours() -> list[float | None]:
            async with AsyncHFClient(
                base_url=f"{base}/v1",
                api_key=FAKE_TOKEN,
                router=True,
                timeout=timeout,
                budget=budget,
                **options,
            ) as client:
                await client.list_models()  # the catalogue: prices, and latency seeds

                async def call() -> None:
                    answer = await client.chat(MODEL, MESSAGES, max_tokens=64)
                    if answer.meta.cost is not None:
                        costs.append(answer.meta.cost)
                    hedges[0] += bool(answer.meta.hedged)

                _start_clock(base)
                result = await _drive(call, n, concurrency)
                extra["health"] = [
                    {"provider": h.provider, "state": h.state, "error_rate": h.error_rate}
                    for h in client.health()
                ]
                return result

        outcomes = asyncio.run(ours())
        extra["meta_cost_usd"] = math.fsum(costs)
        extra["hedges"] = hedges[0]
    return {"outcomes": outcomes, "errors": dict(ERRORS), **extra}


# ------------------------------------------------------------------------------ the run


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def summarise(outcomes: list[float | None], stats: dict[str, Any]) -> dict[str, Any]:
    """Success rate, percentiles, requests per success and cost of one client's run."""
    ok = [t for t in outcomes if t is not None]
    row: dict[str, Any] = {
        "calls": len(outcomes),
        "successes": len(ok),
        "success_rate": len(ok) / len(outcomes) if outcomes else 0.0,
        "requests": stats["requests"],
        "requests_per_success": stats["requests"] / len(ok) if ok else math.inf,
        "billed_usd": stats["billed_usd"],
        "billed_usd_upper": stats["billed_usd_upper"],
        "cancelled": stats["cancelled"],
        "per_provider": stats["by_provider"],
    }
    for q in (0.5, 0.95, 0.99):
        row[f"p{round(q * 100)}"] = _percentile(ok, q) if ok else math.nan
    return row


CLIENTS = (
    "fault-free",
    "raw httpx",
    "huggingface_hub",
    "litellm",
    "ours (failover)",
    "ours (health)",
)


def measure(
    name: str,
    n: int,
    concurrency: int,
    scale: float,
    seed: int,
    python: str,
    hedge_after: str = "p90",
) -> dict[str, Any]:
    """Run one client in a fresh process against a fresh simulated router; summarise."""
    router = build_router(name != "fault-free", seed, scale)
    with router.serve() as server:
        usage = _usage_of_one_answer(server.url)
        args = [python, __file__, "--client", name, "--base", server.url, f"--n={n}"]
        args += [f"--concurrency={concurrency}", f"--timeout={10 * scale + 2}", f"--scale={scale}"]
        args += [f"--hedge-after={hedge_after}"]
        done = subprocess.run(args, capture_output=True, text=True, timeout=900, cwd=HERE)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return {"error": " | ".join(tail)[:300]}
        result = json.loads(done.stdout.strip().splitlines()[-1])
        stats = bill(router, usage)
    row = summarise(result.pop("outcomes"), stats)
    row.update(result)
    return row


def bill(router: Any, usage: tuple[int, int]) -> dict[str, Any]:
    """The router's counters, with what was billed and how many requests were cancelled."""
    stats: dict[str, Any] = router.stats()
    stats["billed_usd"], stats["billed_usd_upper"] = billed_usd(router, usage)
    stats["cancelled"] = sum(1 for r in router.requests if r.left_after_s is not None)
    return stats


def _usage_of_one_answer(base: str) -> tuple[int, int]:
    import urllib.request

    body = json.dumps({"model": f"{MODEL}:groq", "messages": MESSAGES, "max_tokens": 64})
    request = urllib.request.Request(
        f"{base}/v1/chat/completions",
        data=body.encode(),
        headers={"content-type": "application/json", "authorization": f"Bearer {FAKE_TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
        usage = json.loads(response.read())["usage"]
    return usage["prompt_tokens"], usage["completion_tokens"]


def render(rows: dict[str, dict[str, Any]], n: int, concurrency: int, scale: float) -> str:
    """The Markdown table of a run."""
    lines = [
        f"Tail latency under provider faults: {n} requests per client at concurrency "
        f"{concurrency}, time scale {scale} (loopback simulation, seeded; `benchmarks/faults.py`); "
        f"machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.",
        "",
        "| client | success | p50 s | p95 s | p99 s | requests / success | billed USD "
        "| USD, cancelled billed in full |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in rows.items():
        if "error" in row:
            lines.append(f"| {name} | not run: {row['error']} | | | | | | |")
            continue
        lines.append(
            f"| {name} | {row['success_rate']:.2%} | {row['p50']:.3f} | {row['p95']:.3f} | "
            f"{row['p99']:.3f} | {row['requests_per_success']:.3f} | {row['billed_usd']:.4f} | "
            f"{row['billed_usd_upper']:.4f} |"
        )
    base_p99 = rows.get("fault-free", {}).get("p99")
    health = rows.get("ours (health)", {})
    if base_p99 and "p99" in health:
        lines += [
            "",
            f"Targets for `ours (health)`: success >= 99.9% ({health['success_rate']:.2%}), "
            f"p99 <= 1.5x fault-free ({health['p99'] / base_p99:.2f}x), "
            f"requests per success <= 1.15 ({health['requests_per_success']:.3f}).",
        ]
    return "\n".join(lines) + "\n"


def chart(rows: dict[str, dict[str, Any]], path: Path) -> None:
    """Success rate and p50/p95/p99 per client, as a PNG (matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [k for k, v in rows.items() if "p99" in v]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.27
    for offset, key in enumerate(("p50", "p95", "p99")):
        xs = [i + (offset - 1) * width for i in range(len(names))]
        left.bar(xs, [rows[k][key] for k in names], width, label=key)
    left.set_xticks(range(len(names)), names, rotation=20, ha="right")
    left.set_ylabel("seconds to a successful answer")
    left.set_title("latency of successful calls")
    left.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    right.bar(names, [100 * (1 - rows[k]["success_rate"]) for k in names], color="tab:red")
    right.set_xticks(range(len(names)), names, rotation=20, ha="right")
    right.set_ylabel("% of calls failed")
    right.set_title("failures")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _peers_python() -> str:
    """The peers venv's python (made by benchmarks/run.py), with LiteLLM if it installs."""
    sys.path.insert(0, str(HERE))
    import run

    run.ensure_venv(force=False)
    python = str(run.venv_python())
    probe = subprocess.run([python, "-c", "import litellm"], capture_output=True)
    if probe.returncode != 0:
        print("installing litellm into the peers venv (not a dependency of ours)", file=sys.stderr)
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "litellm"],
            capture_output=True,
        )
    return python


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="400 requests, time scale 0.25")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=2000, help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=20, help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=float, default=12.0, help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=float, default=1.0, help=argparse.SUPPRESS)
    parser.add_argument("--hedge-after", default="p90", help="ours (health): p90, p95, seconds")
    args = parser.parse_args(argv)
    if args.client:
        result = run_client(
            args.client,
            args.base,
            args.n,
            args.concurrency,
            args.timeout,
            args.scale,
            args.hedge_after,
        )
        print(json.dumps(result))
        return 0
    n, scale = (400, 0.25) if args.quick else (2000, 1.0)
    python = _peers_python()
    rows = {}
    for name in args.clients.split(","):
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows[name] = measure(name, n, 20, scale, args.seed, python, args.hedge_after)
    table = render(rows, n, 20, scale)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "faults.md").write_text(table)
    (RESULTS / "faults.json").write_text(json.dumps(rows, indent=1, default=str))
    png = subprocess.run(
        [python, "-c", f"import sys; sys.path.insert(0, {str(HERE)!r}); import faults, json, pathlib; "
         f"faults.chart(json.loads(pathlib.Path({str(RESULTS / 'faults.json')!r}).read_text()), "
         f"pathlib.Path({str(RESULTS / 'faults.png')!r}))"],
        capture_output=True, text=True,
    )  # fmt: skip
    if png.returncode != 0:
        print(f"no chart: {png.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
