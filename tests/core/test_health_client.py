"""Provider health and spend through both clients: breaker, lowest-latency, hedging, cost, budget.

Every test runs on the sync and the async twin (MockTransport; a fixed clock where time
matters; no real sleeps: a hedge is started at once with `hedge_after=0`).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from hfproviders import (
    AsyncHFClient,
    BudgetExceededError,
    CircuitBreaker,
    HealthTracker,
    HFClient,
    ProviderConstraints,
    ProvidersUnavailableError,
    SpendLimit,
)
from tests.conftest import FAKE_TOKEN
from tests.core.conftest import MODEL, USER, Harness, completion

BASE = "https://router.huggingface.co/v1"
BREAKER = CircuitBreaker(failure_rate=0.5, min_calls=2, window_s=60, cooldown_s=30)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def catalogue(*providers: dict[str, Any]) -> dict[str, Any]:
    return {"object": "list", "data": [{"id": MODEL, "object": "model", "providers": providers}]}


def listed(
    name: str, ttft_ms: float, price_in: float, price_out: float, tps: float = 100.0
) -> dict[str, Any]:
    return {
        "provider": name,
        "status": "live",
        "pricing": {"input": price_in, "output": price_out},
        "first_token_latency_ms": ttft_ms,
        "throughput": tps,
    }


CATALOGUE = catalogue(
    listed("slow", 900, 0.1, 0.2), listed("fast", 200, 2.0, 6.0), listed("mid", 400, 0.5, 1.0)
)


class Router:
    """A dispatcher: `/models` answers the catalogue, chat goes to `behaviour[provider]`."""

    def __init__(self, behaviour: dict[str, int], models: dict[str, Any] = CATALOGUE) -> None:
        self.behaviour = behaviour
        self.models = models
        self.asked: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json=self.models)
        model = json.loads(request.content)["model"]
        provider = model.partition(":")[2] or "auto"
        self.asked.append(provider)
        served = provider if provider != "auto" else "fast"
        status = self.behaviour.get(served, 200)
        headers = {"x-inference-provider": served}
        if status != 200:
            body = {"error": {"message": "overloaded", "type": "server_error"}}
            return httpx.Response(status, json=body, headers=headers)
        return httpx.Response(200, json=completion("Hi"), headers=headers)


def serve(h: Harness, router: Router, calls: int = 50, **options: Any) -> Any:
    h.queue(*[router] * calls)
    options.setdefault("max_retries", 0)
    return h.make(**options)


async def test_open_circuit_skips_the_failing_provider(h: Harness) -> None:
    router = Router({"a": 503})
    client = serve(h, router, provider=["a", "b"], breaker=BREAKER)
    for _ in range(3):
        answer = await h.chat(MODEL, USER)
        assert answer.meta.provider == "b"
    assert router.asked == ["a", "b", "a", "b", "b"]  # after two failures "a" is skipped
    rows = {row.provider: row for row in client.health()}
    assert rows["a"].state == "open"
    assert rows["a"].error_rate == 1.0
    assert rows["a"].last_error == "ServiceUnavailableError 503"
    assert rows["a"].retry_at is not None
    assert rows["b"].state == "closed"
    assert rows["b"].latency_s is not None


async def test_every_provider_open_fails_fast_without_sending(h: Harness) -> None:
    router = Router({"a": 503, "b": 502})
    serve(h, router, provider=["a", "b"], health=HealthTracker(BREAKER, clock=Clock()))
    for _ in range(2):
        with pytest.raises(Exception, match="All providers failed"):
            await h.chat(MODEL, USER)
    sent = len(router.asked)
    with pytest.raises(ProvidersUnavailableError) as info:
        await h.chat(MODEL, USER)
    assert len(router.asked) == sent  # nothing was sent
    assert {name for name, _ in info.value.unavailable} == {"a", "b"}
    assert "a (retried in 30.0s)" in str(info.value)


async def test_half_open_probe_closes_the_circuit_after_the_cooldown(h: Harness) -> None:
    clock = Clock()
    router = Router({"a": 503})
    serve(h, router, provider=["a", "b"], health=HealthTracker(BREAKER, clock=clock))
    await h.chat(MODEL, USER)
    await h.chat(MODEL, USER)
    await h.chat(MODEL, USER)
    assert router.asked[-1:] == ["b"]
    clock.now += 30
    router.behaviour = {}  # "a" has recovered
    answer = await h.chat(MODEL, USER)
    assert answer.meta.provider == "a"  # the probe goes first
    router.asked.clear()
    await h.chat(MODEL, USER)
    assert router.asked == ["a"]


async def test_errors_the_request_caused_never_open_the_circuit(h: Harness) -> None:
    router = Router({"a": 400})
    serve(h, router, provider="a", breaker=BREAKER)
    for _ in range(5):
        with pytest.raises(Exception, match="overloaded"):
            await h.chat(MODEL, USER)
    assert router.asked == ["a"] * 5


async def test_breaker_none_keeps_sending(h: Harness) -> None:
    router = Router({"a": 503})
    serve(h, router, provider="a", breaker=None)
    for _ in range(5):
        with pytest.raises(Exception, match="overloaded"):
            await h.chat(MODEL, USER)
    assert router.asked == ["a"] * 5


async def test_policy_is_replaced_when_its_pick_is_open(h: Harness) -> None:
    router = Router({"fast": 503})
    client = serve(h, router, breaker=BREAKER)
    await h.call("list_models")
    for _ in range(2):
        with pytest.raises(Exception, match="overloaded"):
            await h.chat(MODEL, USER)  # the router's pick ("fast") fails
    answer = await h.chat(MODEL, USER)
    # The router's `fastest` would pick "fast" again; the client picks among healthy ones.
    assert router.asked == ["auto", "auto", "slow"]
    assert answer.meta.provider == "slow"
    assert {row.provider: row.state for row in client.health()}["fast"] == "open"


# -- lowest-latency ------------------------------------------------------------------------------


async def test_lowest_latency_orders_by_expected_latency(h: Harness) -> None:
    router = Router({})
    serve(h, router, provider="lowest-latency")
    answer = await h.chat(MODEL, USER)
    assert answer.meta.provider == "fast"  # the catalogue was loaded first, then used
    assert h.requests[0].url.path.endswith("/models")


async def test_lowest_latency_honours_constraints_and_fails_over(h: Harness) -> None:
    router = Router({"mid": 503})
    constraints = ProviderConstraints(max_output_price=1.0)
    serve(h, router, provider="lowest-latency", constraints=constraints)
    answer = await h.chat(MODEL, USER)
    assert router.asked == ["mid", "slow"]  # "fast" is too dear; "mid" failed over to "slow"
    assert answer.meta.provider == "slow"


async def test_lowest_latency_learns_from_measurements(h: Harness) -> None:
    tracker = HealthTracker(BREAKER, clock=Clock())
    router = Router({})
    serve(h, router, provider="lowest-latency", health=tracker)
    await h.chat(MODEL, USER)
    for _ in range(30):  # "fast" turns out slow in practice
        tracker.record(MODEL, "fast", "fast", None, ttft_s=5.0, latency_s=6.0)
    answer = await h.chat(MODEL, USER)
    assert answer.meta.provider == "mid"


# -- cost and budgets -------------------------------------------------------------------------


async def test_cost_is_usage_times_the_serving_providers_price(h: Harness) -> None:
    router = Router({})
    client = serve(h, router, provider="mid")
    first = await h.chat(MODEL, USER)
    assert first.meta.cost is None  # the catalogue was not loaded: unknown, never guessed
    await h.call("list_models")
    answer = await h.chat(MODEL, USER)
    assert answer.meta.cost == pytest.approx((9 * 0.5 + 3 * 1.0) / 1e6)
    report = client.spend()
    (line,) = [x for x in report.lines if x.provider == "mid"]
    assert (line.calls, line.input_tokens, line.output_tokens) == (2, 18, 6)
    assert line.unpriced_calls == 1
    assert report.total_usd == pytest.approx(answer.meta.cost)


async def test_budget_refuses_a_call_before_sending(h: Harness) -> None:
    router = Router({})
    budget = SpendLimit(usd=0.001)
    serve(h, router, provider="fast", budget=budget)
    with pytest.raises(BudgetExceededError) as info:
        await h.chat(MODEL, USER, max_tokens=1000)  # up to $0.006 at fast's output price
    assert router.asked == []  # only the catalogue was fetched
    assert info.value.limit_usd == 0.001
    answer = await h.chat(MODEL, USER, max_tokens=100)  # worst case $0.0006: goes
    assert budget.spent() == pytest.approx(answer.meta.cost)


async def test_budget_is_shared_between_clients_and_failed_calls_are_released() -> None:
    budget = SpendLimit(usd=0.0007)
    router = Router({"mid": 503})
    sync = HFClient(
        api_key=FAKE_TOKEN,
        provider="fast",
        budget=budget,
        http_client=httpx.Client(transport=httpx.MockTransport(router)),
    )
    failing = AsyncHFClient(
        api_key=FAKE_TOKEN,
        provider="mid",
        budget=budget,
        max_retries=0,
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(router)),
    )
    sync.chat(MODEL, USER, max_tokens=100)
    spent = budget.spent()
    assert spent > 0
    for _ in range(3):  # failed calls give their reservation back
        with pytest.raises(Exception, match="overloaded"):
            await failing.chat(MODEL, USER, max_tokens=100)
    assert budget.spent() == spent
    with pytest.raises(BudgetExceededError):
        await failing.chat(MODEL, USER, max_tokens=100)  # the other client's spend counts
    sync.close()
    await failing.aclose()


# -- hedging -------------------------------------------------------------------------------------


def _hedge_router(release: threading.Event, seen: list[str]) -> Callable[[httpx.Request], Any]:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json=CATALOGUE)
        provider = json.loads(request.content)["model"].partition(":")[2]
        seen.append(provider)
        if provider == "fast":  # the first choice hangs until the test lets it go
            assert release.wait(10)
        return httpx.Response(
            200, json=completion(provider), headers={"x-inference-provider": provider}
        )

    return handle


def test_sync_hedge_wins_once_and_counts_once() -> None:
    release, seen = threading.Event(), []
    client = HFClient(
        api_key=FAKE_TOKEN,
        provider="lowest-latency",
        hedge_after=0.0,
        http_client=httpx.Client(transport=httpx.MockTransport(_hedge_router(release, seen))),
    )
    client.list_models()
    answer = client.chat(MODEL, USER)
    release.set()
    assert answer.text == "mid"
    assert answer.meta.provider == "mid"
    assert answer.meta.hedged is True
    assert sorted(seen) == ["fast", "mid"]
    (line,) = client.spend().lines
    assert (line.provider, line.calls) == ("mid", 1)
    client.close()


async def test_async_hedge_wins_and_the_loser_is_cancelled() -> None:
    cancelled = asyncio.Event()
    seen: list[str] = []

    async def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json=CATALOGUE)
        provider = json.loads(request.content)["model"].partition(":")[2]
        seen.append(provider)
        if provider == "fast":
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.set()
                raise
        return httpx.Response(
            200, json=completion(provider), headers={"x-inference-provider": provider}
        )

    client = AsyncHFClient(
        api_key=FAKE_TOKEN,
        provider="lowest-latency",
        hedge_after=0.0,
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(handle)),
    )
    await client.list_models()
    answer = await client.chat(MODEL, USER)
    assert (answer.text, answer.meta.provider, answer.meta.hedged) == ("mid", "mid", True)
    assert cancelled.is_set()
    (line,) = client.spend().lines
    assert line.calls == 1
    await client.aclose()


async def test_no_hedge_when_the_first_answer_is_in_time(h: Harness) -> None:
    router = Router({})
    serve(h, router, provider="lowest-latency", hedge_after=3600.0)
    answer = await h.chat(MODEL, USER)
    assert answer.meta.hedged is False
    assert router.asked == ["fast"]
