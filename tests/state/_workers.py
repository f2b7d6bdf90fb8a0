"""Worker processes for the multi-process tests (nothing is inherited from the test but arguments).

They call helper fake's `hfproviders.testing.FakeRouter`, served on loopback by the test.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from typing import Any

from hfproviders import HFClient, HFProvidersError, InMemoryCache, RateLimiter, RedisState
from hfproviders.testing import FakeRouter, RecordedRequest

USER = [{"role": "user", "content": "Hi"}]
PRELOAD = [
    "tests.state._workers",
    "hfproviders._redis",
    "hfproviders._transport",
    "httpx",
    "pydantic",
]
MODEL = "test-org/test-model"
WARM_MODEL = "test-org/warm-up"  # warm-up calls: not counted, and not in the tests' scripts


def worker(config: dict[str, Any], ready: Any, go: Any, results: Any) -> None:
    """Send chat calls until `duration` s after `go`; report each outcome by type name.

    config: worker (id), base_url, state (a Redis URL or None), limiter (RateLimiter kwargs or
    None), cache (bool), max_tokens, duration (s) or calls (a fixed number).
    """
    state = RedisState(config["state"], recheck_s=0) if config.get("state") else None
    limiter = RateLimiter(**config["limiter"]) if config.get("limiter") else None
    client = HFClient(
        base_url=config["base_url"],
        api_key="test-key",
        max_retries=0,
        default_headers={"x-worker": str(config["worker"])},
        rate_limiter=limiter,
        cache=InMemoryCache() if config.get("cache") else None,
        state=state,
    )
    outcomes: Counter[str] = Counter()
    texts: list[str] = []
    # Warm up (imports, connections, the Lua script) before the clock starts: under load a
    # first call costs far more than the window's share.
    with HFClient(base_url=config["base_url"], api_key="test-key") as warm:
        # The same parameters as the real calls: validation loads what it needs on first use.
        warm.chat(WARM_MODEL, USER, max_tokens=9)
    if client._config.limiter is not None:
        client._config.limiter.peek_wait()
    ready.put(config["worker"])
    if not go.wait(60):
        raise RuntimeError("the test never said go")
    deadline = time.time() + config.get("duration", 0)
    calls = config.get("calls")
    while (calls is None and time.time() < deadline) or (calls is not None and calls > 0):
        calls = None if calls is None else calls - 1
        try:
            answer = client.chat(MODEL, USER, max_tokens=config.get("max_tokens", 9))
        except HFProvidersError as error:
            outcomes[type(error).__name__] += 1
        except Exception as error:  # an untyped error is what the tests must never see
            outcomes[f"untyped {type(error).__name__}"] += 1
        else:
            outcomes["ok" if not answer.meta.cached else "cached"] += 1
            texts.append(answer.text)
    client.close()
    results.put((config["worker"], dict(outcomes), texts))


def health_worker(config: dict[str, Any], ready: Any, go: Any, results: Any) -> None:
    """Record failures for a provider (`failures` > 0), or try to claim its half-open probe."""
    from hfproviders import CircuitBreaker, HealthTracker, ServerError

    state = RedisState(config["state"])
    tracker = HealthTracker(CircuitBreaker(**config["breaker"]), state.health_store())
    ready.put(config["worker"])
    go.wait(60)
    for _ in range(config.get("failures", 0)):
        error = ServerError("upstream failed", status_code=503, provider=config["provider"])
        tracker.record(MODEL, config["provider"], config["provider"], error)
    admitted = tracker.admit(MODEL, config["provider"]) if config.get("admit") else None
    results.put((config["worker"], admitted))


def spend_worker(config: dict[str, Any], ready: Any, go: Any, results: Any) -> None:
    """Reserve and settle calls against one shared SpendLimit until it refuses one."""
    from hfproviders import BudgetExceededError, SpendLimit, Usage

    store = RedisState(config["state"]).spend_store(flush_every=config["flush_every"])
    limit = SpendLimit(usd=config["usd"], period="day", store=store)
    settled = 0
    ready.put(config["worker"])
    go.wait(60)
    while True:
        try:
            reservation = limit.reserve(config["worst_case"], MODEL)
        except BudgetExceededError:
            break
        usage = Usage(prompt_tokens=10, completion_tokens=20, total_tokens=30)
        limit.settle(reservation, MODEL, "together", config["cost"], usage)
        settled += 1
    store.flush()
    results.put((config["worker"], settled))


def run_workers(
    configs: list[dict[str, Any]],
    timeout_s: float = 60,
    target: Any = worker,
    go_at: list[float] | None = None,
) -> list[Any]:
    """Start one process per config, start them together, return their reports.

    `go_at`: the `time.monotonic()` just before the workers were told to go is appended to it.
    """
    # forkserver: each worker is a fork of one clean process that imported all this once
    # (spawn would re-import per worker, seconds each on a loaded machine; plain fork would
    # copy the test process's threads and sockets).
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    ready, results, go = context.Queue(), context.Queue(), context.Event()
    processes = [context.Process(target=target, args=(c, ready, go, results)) for c in configs]
    for process in processes:
        process.start()
    try:
        for _ in processes:
            ready.get(timeout=timeout_s)
        if go_at is not None:
            go_at.append(time.monotonic())
        go.set()
        reports = [results.get(timeout=timeout_s) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
    return sorted(reports)


def chat_arrivals(router: FakeRouter) -> list[RecordedRequest]:
    """The chat requests for MODEL the router received (warm-ups excluded), in arrival order."""
    return [r for r in router.requests_to(kind="chat") if r.model == MODEL]


def max_in_window(times: list[float], window_s: float) -> int:
    """The most arrivals in any `window_s`-second span."""
    times = sorted(times)
    best = start = 0
    for end, at in enumerate(times):
        while at - times[start] >= window_s:
            start += 1
        best = max(best, end - start + 1)
    return best
