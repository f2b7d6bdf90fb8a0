"""Tail latency under provider faults: one command, loopback only, seeded.

    python benchmarks/faults.py            # 2,000 requests at concurrency 20 per client
    python benchmarks/faults.py --quick    # 400 requests, time compressed (about a minute)

A simulated router (`Sim`, served by `serve` in its own process on 127.0.0.1) fronts four
providers of one model, each with a seeded lognormal time to answer, a background error rate,
and episodes of outage (503 storms) or slowness, timed from the start of each run so that every
client meets the same weather. A request without a provider suffix goes where the router sends
it (its default provider); `model:provider` pins one. 503s come back fast, as storms do.
The server bills every answer it finished sending (usage x its catalogue price), not requests a
client gave up on before the answer was ready.

The same workload (non-streamed chat, one prompt) runs through each client, in a fresh process
of the peers venv (`benchmarks/.peers-venv`, made by `benchmarks/run.py`; LiteLLM is added to
it here when it installs, and is no dependency of ours):

- `fault-free`: raw httpx to the router's default with every fault off: the baseline p99;
- `raw httpx`: one provider (the router's default), no retries: what a plain client sees;
- `huggingface_hub`: `InferenceClient.chat_completion`, its defaults;
- `litellm`: LiteLLM's `Router`, the four providers as fallbacks, 2 retries, cooldowns;
- `ours, failover`: `AsyncHFClient(provider=[all four], breaker=None)`: a fixed chain;
- `ours, health`: the default circuit breaker, `provider="lowest-latency"`, `hedge_after="p90"`.

Reported per client: success rate, p50/p95/p99 of the time to a successful answer (seconds;
failures are not in the percentiles but are in the success rate), requests the server received
per success, and USD billed. Written to `results/faults.md`, `results/faults.json` and
`results/faults.png`. `tests/core/test_faults_bench.py` runs a reduced form as a test of the
guarantees (success and request-count bounds, not timings).

The simulation server is written here, compactly: `hfproviders.testing` (the fake router with
latency distributions and outages) had not landed when this benchmark was written.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
MODEL = "meta-llama/Llama-3.3-70B-Instruct"
PROMPT_TOKENS, COMPLETION_TOKENS = 20, 40
MESSAGES = [{"role": "user", "content": "Say something short."}]
FAKE_TOKEN = "hf_test_FAKE_TOKEN_for_loopback_only"


@dataclass(frozen=True)
class Episode:
    """From `start` to `end` seconds into a run: an outage (503 storm) or `slow` times slower."""

    start: float
    end: float
    slow: float | None = None


@dataclass(frozen=True)
class SimProvider:
    """One simulated provider: its real behaviour and what the catalogue says about it."""

    name: str
    median_s: float
    sigma: float
    error_rate: float
    price_in: float
    price_out: float
    listed_ttft_ms: float
    listed_throughput: float
    episodes: tuple[Episode, ...] = ()


# The router's default (no suffix) is the first. Times are for the full run (scale 1).
PROVIDERS = (
    SimProvider("nebius", 0.12, 0.35, 0.01, 0.13, 0.40, 150, 120, (Episode(3.0, 9.0),)),
    SimProvider("novita", 0.15, 0.9, 0.02, 0.39, 0.39, 160, 100, (Episode(14.0, 16.0),)),
    SimProvider("together", 0.18, 0.3, 0.005, 0.88, 0.88, 200, 90, (Episode(9.0, 14.0, 6.0),)),
    SimProvider("groq", 0.25, 0.2, 0.002, 0.59, 0.79, 300, 200),
)


@dataclass
class Sim:
    """The simulated router's decisions and its bill (pure but for the random generator)."""

    seed: int = 7
    scale: float = 1.0
    faults: bool = True
    started: float = field(default_factory=time.monotonic)
    rng: random.Random = field(default_factory=random.Random)
    requests: Counter[str] = field(default_factory=Counter)
    answered: Counter[str] = field(default_factory=Counter)
    abandoned: int = 0
    billed_usd: float = 0.0

    def reset(self, seed: int, scale: float, faults: bool) -> None:
        self.__init__(seed=seed, scale=scale, faults=faults)  # type: ignore[misc]
        self.rng.seed(seed)

    def catalogue(self) -> dict[str, Any]:
        providers = [
            {
                "provider": p.name,
                "status": "live",
                "context_length": 131072,
                "pricing": {"input": p.price_in, "output": p.price_out},
                "supports_tools": True,
                "supports_structured_output": True,
                "first_token_latency_ms": p.listed_ttft_ms * self.scale,
                "throughput": p.listed_throughput,
                "is_model_author": False,
            }
            for p in PROVIDERS
        ]
        return {
            "object": "list",
            "data": [{"id": MODEL, "object": "model", "providers": providers}],
        }

    def decide(self, model: str) -> tuple[SimProvider | None, float, bool]:
        """(provider, seconds before answering, fails with 503) for one request."""
        base, _, suffix = model.partition(":")
        if base != MODEL:
            return None, 0.0, False
        wanted = suffix or PROVIDERS[0].name
        provider = next((p for p in PROVIDERS if p.name == wanted), None)
        if provider is None:
            return None, 0.0, False
        self.requests[provider.name] += 1
        delay = provider.median_s * math.exp(provider.sigma * self.rng.gauss(0.0, 1.0))
        failed = self.faults and self.rng.random() < provider.error_rate
        at = (time.monotonic() - self.started) / self.scale
        for episode in provider.episodes if self.faults else ():
            if episode.start <= at < episode.end:
                if episode.slow is None:
                    failed = True
                else:
                    delay *= episode.slow
        if failed:
            delay *= 0.2  # a storm answers 503 fast
        return provider, delay * self.scale, failed

    def bill(self, provider: SimProvider) -> None:
        self.answered[provider.name] += 1
        self.billed_usd += (
            PROMPT_TOKENS * provider.price_in + COMPLETION_TOKENS * provider.price_out
        ) / 1e6

    def stats(self) -> dict[str, Any]:
        return {
            "requests": sum(self.requests.values()),
            "per_provider": dict(self.requests),
            "answered": dict(self.answered),
            "abandoned": self.abandoned,
            "billed_usd": self.billed_usd,
        }


def _completion(provider: str, number: int) -> bytes:
    body = {
        "id": f"chatcmpl-sim{number}",
        "object": "chat.completion",
        "created": 1767225600,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello from the simulation."},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": COMPLETION_TOKENS,
            "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
        },
    }
    return json.dumps(body).encode()


_OVERLOADED = json.dumps(
    {"error": {"message": "The provider is overloaded, please retry", "type": "server_error"}}
).encode()


def _response(status: int, body: bytes, provider: str | None, number: int) -> bytes:
    reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}.get(status, "OK")
    lines = [
        f"HTTP/1.1 {status} {reason}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        f"x-request-id: SimReq{number:08d}",
    ]
    if provider is not None:
        lines.append(f"x-inference-provider: {provider}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _handle(sim: Sim, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    number = 0
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (h.partition(":") for h in header_lines if h)
            }
            body = await reader.readexactly(int(headers.get("content-length") or 0))
            number += 1
            if method == "GET" and path.endswith("/models"):
                data = json.dumps(sim.catalogue()).encode()
                writer.write(_response(200, data, None, number))
            elif method == "GET" and path == "/__stats":
                writer.write(_response(200, json.dumps(sim.stats()).encode(), None, number))
            elif method == "POST" and path == "/__reset":
                options = json.loads(body)
                sim.reset(options["seed"], options["scale"], options["faults"])
                writer.write(_response(200, b"{}", None, number))
            elif method == "POST" and path.endswith("/chat/completions"):
                model = str(json.loads(body).get("model", ""))
                provider, delay, failed = sim.decide(model)
                if provider is None:
                    writer.write(_response(404, b'{"error":"model not found"}', None, number))
                else:
                    # Answer after `delay`, unless the client hangs up first (a hedge's loser).
                    hung_up = asyncio.ensure_future(reader.read(1))
                    done, _ = await asyncio.wait({hung_up}, timeout=delay)
                    if done:
                        sim.abandoned += 1
                        return
                    hung_up.cancel()
                    if failed:
                        writer.write(_response(503, _OVERLOADED, provider.name, number))
                    else:
                        writer.write(
                            _response(
                                200, _completion(provider.name, number), provider.name, number
                            )
                        )
                        await writer.drain()
                        sim.bill(provider)
                        continue
            else:
                writer.write(_response(404, b"{}", None, number))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError, ValueError):
        pass
    finally:
        writer.close()


async def serve_forever(port: int, ready_file: str | None, idle_timeout: float) -> None:
    """Serve the simulation on 127.0.0.1 until idle for `idle_timeout` seconds."""
    sim = Sim()
    last = [time.monotonic()]

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        last[0] = time.monotonic()
        await _handle(sim, reader, writer)
        last[0] = time.monotonic()

    server = await asyncio.start_server(on_connect, "127.0.0.1", port)
    bound = server.sockets[0].getsockname()[1]
    if ready_file:
        Path(ready_file).write_text(str(bound))
    print(f"SIM_PORT={bound}", flush=True)
    async with server:
        while time.monotonic() - last[0] < idle_timeout:
            await asyncio.sleep(1.0)


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


def run_client(name: str, base: str, n: int, concurrency: int, timeout: float) -> dict[str, Any]:
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

                return await _drive(call, n, concurrency)

        outcomes = asyncio.run(raw())
    elif name == "huggingface_hub":
        from huggingface_hub import InferenceClient

        hub = InferenceClient(base_url=base, api_key=FAKE_TOKEN, timeout=timeout)
        outcomes = _drive_threads(
            lambda: hub.chat_completion(MESSAGES, model=MODEL, max_tokens=64), n, concurrency
        )
    elif name == "litellm":
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

        outcomes = asyncio.run(_drive(call_litellm, n, concurrency))
    else:
        from hfproviders import AsyncHFClient, SpendLimit

        if name == "ours, failover":
            options: dict[str, Any] = {
                "provider": [p.name for p in PROVIDERS],
                "breaker": None,
            }
        else:
            options = {"provider": "lowest-latency", "hedge_after": "p90"}
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
        "per_provider": stats["per_provider"],
    }
    for q in (0.5, 0.95, 0.99):
        row[f"p{round(q * 100)}"] = _percentile(ok, q) if ok else math.nan
    return row


CLIENTS = (
    "fault-free",
    "raw httpx",
    "huggingface_hub",
    "litellm",
    "ours, failover",
    "ours, health",
)


def _request(base: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    with urllib.request.urlopen(req, timeout=10) as response:  # noqa: S310 (loopback only)
        return json.loads(response.read())


def measure(
    name: str, base: str, n: int, concurrency: int, scale: float, seed: int, python: str
) -> dict[str, Any]:
    """Reset the simulation, run one client in a fresh process, and summarise."""
    _request(
        base, "POST", "/__reset", {"seed": seed, "scale": scale, "faults": name != "fault-free"}
    )
    args = [python, __file__, "--client", name, "--base", base, f"--n={n}"]
    args += [f"--concurrency={concurrency}", f"--timeout={10 * scale + 2}"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=HERE)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"error": " | ".join(tail)[:300]}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    row = summarise(result.pop("outcomes"), _request(base, "GET", "/__stats"))
    row.update(result)
    return row


def render(rows: dict[str, dict[str, Any]], n: int, concurrency: int, scale: float) -> str:
    """The Markdown table of a run."""
    lines = [
        f"Tail latency under provider faults: {n} requests per client at concurrency "
        f"{concurrency}, time scale {scale} (loopback simulation, seeded; `benchmarks/faults.py`).",
        "",
        "| client | success | p50 s | p95 s | p99 s | requests / success | billed USD |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in rows.items():
        if "error" in row:
            lines.append(f"| {name} | not run: {row['error']} | | | | | |")
            continue
        lines.append(
            f"| {name} | {row['success_rate']:.2%} | {row['p50']:.3f} | {row['p95']:.3f} | "
            f"{row['p99']:.3f} | {row['requests_per_success']:.3f} | {row['billed_usd']:.4f} |"
        )
    base_p99 = rows.get("fault-free", {}).get("p99")
    health = rows.get("ours, health", {})
    if base_p99 and "p99" in health:
        lines += [
            "",
            f"Targets for `ours, health`: success >= 99.9% ({health['success_rate']:.2%}), "
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
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ready-file", help=argparse.SUPPRESS)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=2000, help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=20, help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=float, default=12.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(serve_forever(0, args.ready_file, idle_timeout=120))
        return 0
    if args.client:
        result = run_client(args.client, args.base, args.n, args.concurrency, args.timeout)
        print(json.dumps(result))
        return 0
    n, scale = (400, 0.25) if args.quick else (2000, 1.0)
    python = _peers_python()
    with tempfile.TemporaryDirectory() as tmp:
        ready = Path(tmp) / "port"
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", "--ready-file", str(ready)],
            stdout=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while not ready.exists() or not ready.read_text():
                if time.monotonic() > deadline:
                    raise RuntimeError("the simulation server did not start")
                time.sleep(0.05)
            base = f"http://127.0.0.1:{ready.read_text()}"
            rows = {}
            for name in args.clients.split(","):
                print(f"running {name} ...", file=sys.stderr, flush=True)
                rows[name] = measure(name, base, n, 20, scale, args.seed, python)
        finally:
            server.terminate()
            server.wait(timeout=10)
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
