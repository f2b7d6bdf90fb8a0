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
    HedgeBudget,
    HFClient,
    ProviderConstraints,
    ProvidersUnavailableError,
    ServerError,
    SpendLimit,
)
from tests.conftest import FAKE_TOKEN
from tests.core.conftest import MODEL, USER, Harness, chunk, completion, ok_sse, sse, texts

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
    listed("novita", 900, 0.1, 0.2),
    listed("cerebras", 200, 2.0, 6.0),
    listed("fireworks-ai", 400, 0.5, 1.0),
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
        served = provider if provider != "auto" else "cerebras"
        status = self.behaviour.get(served, 200)
        headers = {"x-inference-provider": served}
        if status != 200:
            body = {"error": {"message": "overloaded", "type": "server_error"}}
            return httpx.Response(status, json=body, headers=headers)
        return httpx.Response(200, json=completion("Hi"), headers=headers)


async def load_catalogue(h: Harness) -> None:
    loaded = h.client.list_models()
    if h.is_async:
        await loaded


def serve(h: Harness, router: Router, calls: int = 50, **options: Any) -> Any:
    h.queue(*[router] * calls)
    options.setdefault("max_retries", 0)
    return h.make(**options)


async def test_open_circuit_skips_the_failing_provider(h: Harness) -> None:
    router = Router({"groq": 503})
    client = serve(h, router, provider=["groq", "together"], breaker=BREAKER)
    for _ in range(3):
        answer = await h.chat(MODEL, USER)
        assert answer.meta.provider == "together"
    assert router.asked == [
        "groq",
        "together",
        "groq",
        "together",
        "together",
    ]  # after two failures "groq" is skipped
    rows = {row.provider: row for row in client.health()}
    assert rows["groq"].state == "open"
    assert rows["groq"].error_rate == 1.0
    assert rows["groq"].last_error == "ServiceUnavailableError 503"
    assert rows["groq"].retry_at is not None
    assert rows["together"].state == "closed"
    assert rows["together"].latency_s is not None


async def test_every_provider_open_fails_fast_without_sending(h: Harness) -> None:
    router = Router({"groq": 503, "together": 502})
    serve(h, router, provider=["groq", "together"], health=HealthTracker(BREAKER, clock=Clock()))
    for _ in range(2):
        with pytest.raises(Exception, match="All providers failed"):
            await h.chat(MODEL, USER)
    sent = len(router.asked)
    with pytest.raises(ProvidersUnavailableError) as info:
        await h.chat(MODEL, USER)
    assert len(router.asked) == sent  # nothing was sent
    assert {name for name, _ in info.value.unavailable} == {"groq", "together"}
    assert "groq (retried in 30.0s)" in str(info.value)


async def test_half_open_probe_closes_the_circuit_after_the_cooldown(h: Harness) -> None:
    clock = Clock()
    router = Router({"groq": 503})
    serve(h, router, provider=["groq", "together"], health=HealthTracker(BREAKER, clock=clock))
    await h.chat(MODEL, USER)
    await h.chat(MODEL, USER)
    await h.chat(MODEL, USER)
    assert router.asked[-1:] == ["together"]
    clock.now += 30
    router.behaviour = {}  # "groq" has recovered
    answer = await h.chat(MODEL, USER)
    assert answer.meta.provider == "groq"  # the probe goes first
    router.asked.clear()
    await h.chat(MODEL, USER)
    assert router.asked == ["groq"]


async def test_a_provider_whose_circuit_opened_is_failed_over_not_retried(h: Harness) -> None:
    tracker = HealthTracker(BREAKER, clock=Clock())
    router = Router({"groq": 503})

    def storm(request: httpx.Request) -> httpx.Response:
        for _ in range(2):  # meanwhile, other calls found "groq" failing
            tracker.record(MODEL, "groq", "groq", ServerError("down", status_code=503))
        return router(request)

    h.queue(storm, *[router] * 5)
    h.make(provider=["groq", "together"], health=tracker, max_retries=2)
    answer = await h.chat(MODEL, USER)
    assert answer.meta.provider == "together"
    assert router.asked == ["groq", "together"]  # no retries on a provider known to be down
    assert h.waits == []


async def test_an_unhealthy_answer_fails_over_at_once_with_the_breaker_on(h: Harness) -> None:
    router = Router({"groq": 503})
    serve(h, router, provider=["groq", "together"], breaker=BREAKER, max_retries=2)
    answer = await h.chat(MODEL, USER)
    assert answer.meta.provider == "together"
    assert router.asked == ["groq", "together"]  # no backoff on "groq" while "together" is there
    assert h.waits == []


async def test_without_the_breaker_a_provider_is_retried_before_failing_over(h: Harness) -> None:
    router = Router({"groq": 503})
    serve(h, router, provider=["groq", "together"], breaker=None, max_retries=2)
    answer = await h.chat(MODEL, USER)
    assert answer.meta.provider == "together"
    assert router.asked == ["groq", "groq", "groq", "together"]
    assert len(h.waits) == 2


async def test_the_last_provider_of_the_chain_keeps_its_retries(h: Harness) -> None:
    router = Router({"groq": 503, "together": 503})
    breaker = CircuitBreaker(min_calls=50, consecutive_failures=None)
    serve(h, router, provider=["groq", "together"], breaker=breaker, max_retries=2)
    with pytest.raises(Exception, match="All providers failed"):
        await h.chat(MODEL, USER)
    assert router.asked == ["groq", "together", "together", "together"]
    assert len(h.waits) == 2


@pytest.mark.parametrize(
    ("status", "breaker"),
    [(400, BREAKER), (404, BREAKER), (503, None)],
    ids=["request-caused-400", "request-caused-404", "breaker-off"],
)
async def test_circuit_stays_closed(h: Harness, status: int, breaker: Any) -> None:
    router = Router({"groq": status})
    serve(h, router, provider="groq", breaker=breaker)
    for _ in range(5):
        with pytest.raises(Exception, match="overloaded"):
            await h.chat(MODEL, USER)
    assert router.asked == ["groq"] * 5  # never skipped, never failed fast


async def test_policy_is_replaced_when_its_pick_is_open(h: Harness) -> None:
    router = Router({"cerebras": 503})
    client = serve(h, router, breaker=BREAKER)
    await load_catalogue(h)
    for _ in range(2):
        with pytest.raises(Exception, match="overloaded"):
            await h.chat(MODEL, USER)  # the router's pick ("cerebras") fails
    answer = await h.chat(MODEL, USER)
    # The router's `fastest` would pick "cerebras" again; the client picks among healthy ones.
    assert router.asked == ["auto", "auto", "fireworks-ai"]  # the fastest healthy one
    assert answer.meta.provider == "fireworks-ai"
    assert {row.provider: row.state for row in client.health()}["cerebras"] == "open"


# -- lowest-latency ------------------------------------------------------------------------------


async def test_lowest_latency_orders_by_expected_latency(h: Harness) -> None:
    router = Router({})
    serve(h, router, provider="lowest-latency")
    answer = await h.chat(MODEL, USER)
    assert answer.meta.provider == "cerebras"  # the catalogue was loaded first, then used
    assert h.requests[0].url.path.endswith("/models")


async def test_lowest_latency_honours_constraints_and_fails_over(h: Harness) -> None:
    router = Router({"fireworks-ai": 503})
    constraints = ProviderConstraints(max_output_price=1.0)
    serve(h, router, provider="lowest-latency", constraints=constraints)
    answer = await h.chat(MODEL, USER)
    assert router.asked == [
        "fireworks-ai",
        "novita",
    ]  # "cerebras" is too dear; "fireworks-ai" failed over to "novita"
    assert answer.meta.provider == "novita"


async def test_lowest_latency_learns_from_measurements(h: Harness) -> None:
    tracker = HealthTracker(BREAKER, clock=Clock())
    router = Router({})
    serve(h, router, provider="lowest-latency", health=tracker)
    await h.chat(MODEL, USER)
    for _ in range(30):  # "cerebras" turns out slow in practice
        tracker.record(MODEL, "cerebras", "cerebras", None, ttft_s=5.0, latency_s=6.0)
    answer = await h.chat(MODEL, USER)
    assert answer.meta.provider == "fireworks-ai"


# -- cost and budgets -------------------------------------------------------------------------


async def test_cost_is_usage_times_the_serving_providers_price(h: Harness) -> None:
    router = Router({})
    client = serve(h, router, provider="fireworks-ai")
    first = await h.chat(MODEL, USER)
    assert first.meta.cost is None  # the catalogue was not loaded: unknown, never guessed
    await load_catalogue(h)
    answer = await h.chat(MODEL, USER)
    assert answer.meta.cost == pytest.approx((9 * 0.5 + 3 * 1.0) / 1e6)
    report = client.spend()
    (line,) = [x for x in report.lines if x.provider == "fireworks-ai"]
    assert (line.calls, line.input_tokens, line.output_tokens) == (2, 18, 6)
    assert line.unpriced_calls == 1
    assert report.total_usd == pytest.approx(answer.meta.cost)


async def test_budget_refuses_a_call_before_sending(h: Harness) -> None:
    router = Router({})
    budget = SpendLimit(usd=0.001)
    serve(h, router, provider="cerebras", budget=budget)
    with pytest.raises(BudgetExceededError) as info:
        await h.chat(MODEL, USER, max_tokens=1000)  # up to $0.006 at cerebras's output price
    assert router.asked == []  # only the catalogue was fetched
    assert info.value.limit_usd == 0.001
    answer = await h.chat(MODEL, USER, max_tokens=100)  # worst case $0.0006: goes
    assert budget.spent() == pytest.approx(answer.meta.cost)


async def test_budget_is_shared_between_clients_and_failed_calls_are_released() -> None:
    budget = SpendLimit(usd=120e-6)
    router = Router({"fireworks-ai": 503})
    sync = HFClient(
        api_key=FAKE_TOKEN,
        provider="cerebras",
        budget=budget,
        http_client=httpx.Client(transport=httpx.MockTransport(router)),
    )
    failing = AsyncHFClient(
        api_key=FAKE_TOKEN,
        provider="fireworks-ai",
        budget=budget,
        max_retries=0,
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(router)),
    )
    for _ in range(3):  # each holds ~$104e-6 while it runs, and gives it back when it fails
        with pytest.raises(Exception, match="overloaded"):
            await failing.chat(MODEL, USER, max_tokens=100)
    assert budget.spent() == 0.0
    answer = sync.chat(MODEL, USER, max_tokens=10)  # the other client spends $36e-6
    assert budget.spent() == pytest.approx(answer.meta.cost) == pytest.approx(36e-6)
    asked = len(router.asked)
    with pytest.raises(BudgetExceededError):
        await failing.chat(MODEL, USER, max_tokens=100)  # 36 + 104 > 120: refused
    assert len(router.asked) == asked
    sync.close()
    await failing.aclose()


# -- hedging -------------------------------------------------------------------------------------


def _hedge_router(release: threading.Event, seen: list[str]) -> Callable[[httpx.Request], Any]:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json=CATALOGUE)
        provider = json.loads(request.content)["model"].partition(":")[2]
        seen.append(provider)
        if provider == "cerebras":  # the first choice hangs until the test lets it go
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
    assert answer.text == "fireworks-ai"
    assert answer.meta.provider == "fireworks-ai"
    assert answer.meta.hedged is True
    assert sorted(seen) == ["cerebras", "fireworks-ai"]
    (line,) = client.spend().lines
    assert (line.provider, line.calls) == ("fireworks-ai", 1)
    client.close()


def _async_hanging_router(
    hangs: str,
    seen: list[str],
    cancelled: asyncio.Event,
    meanwhile: Callable[[], None] | None = None,
) -> Callable[[httpx.Request], Any]:
    """Answers every provider at once but `hangs`, which calls `meanwhile` and waits until
    cancelled (then sets `cancelled`)."""

    async def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json=CATALOGUE)
        provider = json.loads(request.content)["model"].partition(":")[2]
        seen.append(provider)
        if provider == hangs:
            if meanwhile is not None:
                meanwhile()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.set()
                raise
        return httpx.Response(
            200, json=completion(provider), headers={"x-inference-provider": provider}
        )

    return handle


async def test_async_hedge_wins_and_the_loser_is_cancelled() -> None:
    cancelled = asyncio.Event()
    seen: list[str] = []
    handle = _async_hanging_router("cerebras", seen, cancelled)
    client = AsyncHFClient(
        api_key=FAKE_TOKEN,
        provider="lowest-latency",
        hedge_after=0.0,
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(handle)),
    )
    await client.list_models()
    answer = await client.chat(MODEL, USER)
    assert (answer.text, answer.meta.provider, answer.meta.hedged) == (
        "fireworks-ai",
        "fireworks-ai",
        True,
    )
    assert cancelled.is_set()
    (line,) = client.spend().lines
    assert line.calls == 1
    await client.aclose()


def _recovery_setup() -> tuple[Clock, HealthTracker]:
    """A tracker where "groq" is down (its circuit open)."""
    clock = Clock()
    breaker = CircuitBreaker(min_calls=2, consecutive_failures=2, cooldown_s=30)
    tracker = HealthTracker(breaker, clock=clock)
    for _ in range(2):
        tracker.record(MODEL, "groq", "groq", ServerError("down", status_code=503))
    return clock, tracker


def _recovers(clock: Clock, tracker: HealthTracker) -> None:
    """Meanwhile "groq" answers again (another call's probe): its circuit closes."""
    clock.now += 31
    tracker.record(MODEL, "groq", "groq", None, ttft_s=0.1, latency_s=0.1, took_s=0.0)
    assert tracker.state(MODEL, "groq") == "closed"


def test_sync_a_provider_that_recovers_meanwhile_gets_the_hedge_at_once() -> None:
    clock, tracker = _recovery_setup()
    release, seen = threading.Event(), []

    def handle(request: httpx.Request) -> httpx.Response:
        provider = json.loads(request.content)["model"].partition(":")[2]
        seen.append(provider)
        if provider == "together":
            _recovers(clock, tracker)
            assert release.wait(10)
        return httpx.Response(
            200, json=completion(provider), headers={"x-inference-provider": provider}
        )

    client = HFClient(
        api_key=FAKE_TOKEN,
        provider=["groq", "together"],
        health=tracker,
        hedge_after=3600.0,  # never reached: the hedge starts when "groq" is back
        http_client=httpx.Client(transport=httpx.MockTransport(handle)),
    )
    answer = client.chat(MODEL, USER)
    release.set()
    assert (answer.text, answer.meta.provider, answer.meta.hedged) == ("groq", "groq", True)
    assert seen == ["together", "groq"]
    client.close()


async def test_async_a_provider_that_recovers_meanwhile_gets_the_hedge_at_once() -> None:
    clock, tracker = _recovery_setup()
    cancelled = asyncio.Event()
    seen: list[str] = []
    handle = _async_hanging_router("together", seen, cancelled, lambda: _recovers(clock, tracker))
    client = AsyncHFClient(
        api_key=FAKE_TOKEN,
        provider=["groq", "together"],
        health=tracker,
        hedge_after=3600.0,
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(handle)),
    )
    answer = await client.chat(MODEL, USER)
    assert (answer.text, answer.meta.provider, answer.meta.hedged) == ("groq", "groq", True)
    assert seen == ["together", "groq"]
    assert cancelled.is_set()
    await client.aclose()


def test_sync_no_hedge_once_the_budget_is_spent() -> None:
    release, seen = threading.Event(), []
    spent = HealthTracker(BREAKER, hedge_budget=HedgeBudget(ratio=0.0, burst=0.0))
    client = HFClient(
        api_key=FAKE_TOKEN,
        provider="lowest-latency",
        health=spent,
        hedge_after=0.0,
        http_client=httpx.Client(transport=httpx.MockTransport(_hedge_router(release, seen))),
    )
    client.list_models()
    threading.Timer(0.05, release.set).start()
    answer = client.chat(MODEL, USER)
    assert (answer.meta.provider, answer.meta.hedged) == ("cerebras", False)
    assert seen == ["cerebras"]  # the hedge was due at once, but none was left
    client.close()


async def test_async_no_hedge_once_the_budget_is_spent() -> None:
    seen: list[str] = []
    release = asyncio.Event()

    async def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json=CATALOGUE)
        provider = json.loads(request.content)["model"].partition(":")[2]
        seen.append(provider)
        await release.wait()
        return httpx.Response(
            200, json=completion(provider), headers={"x-inference-provider": provider}
        )

    spent = HealthTracker(BREAKER, hedge_budget=HedgeBudget(ratio=0.0, burst=0.0))
    client = AsyncHFClient(
        api_key=FAKE_TOKEN,
        provider="lowest-latency",
        health=spent,
        hedge_after=0.0,
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(handle)),
    )
    await client.list_models()
    asyncio.get_running_loop().call_later(0.05, release.set)
    answer = await client.chat(MODEL, USER)
    assert (answer.meta.provider, answer.meta.hedged) == ("cerebras", False)
    assert seen == ["cerebras"]
    await client.aclose()


async def test_no_hedge_when_the_first_answer_is_in_time(h: Harness) -> None:
    router = Router({})
    serve(h, router, provider="lowest-latency", hedge_after=3600.0)
    answer = await h.chat(MODEL, USER)
    assert answer.meta.hedged is False
    assert router.asked == ["cerebras"]


def _stream_body(provider: str) -> bytes:
    usage = {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}
    return sse(
        chunk(content=f"from {provider}"),
        chunk(finish="stop"),
        {**chunk(), "choices": [], "usage": usage},
    )


def test_sync_stream_hedges_before_its_first_event() -> None:
    release, seen = threading.Event(), []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json=CATALOGUE)
        provider = json.loads(request.content)["model"].partition(":")[2]
        seen.append(provider)
        if provider == "cerebras":
            assert release.wait(10)
        headers = {"content-type": "text/event-stream", "x-inference-provider": provider}
        return httpx.Response(200, content=_stream_body(provider), headers=headers)

    client = HFClient(
        api_key=FAKE_TOKEN,
        provider="lowest-latency",
        hedge_after=0.0,
        http_client=httpx.Client(transport=httpx.MockTransport(handle)),
    )
    client.list_models()
    stream = client.stream(MODEL, USER)
    text = texts(list(stream))
    release.set()
    assert text == "from fireworks-ai"
    assert (stream.meta.provider, stream.meta.hedged) == ("fireworks-ai", True)
    assert stream.meta.cost == pytest.approx((9 * 0.5 + 2 * 1.0) / 1e6)
    (line,) = client.spend().lines
    assert (line.provider, line.calls, line.output_tokens) == ("fireworks-ai", 1, 2)
    client.close()


async def test_async_stream_hedges_before_its_first_event() -> None:
    cancelled = asyncio.Event()

    async def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json=CATALOGUE)
        provider = json.loads(request.content)["model"].partition(":")[2]
        if provider == "cerebras":
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.set()
                raise
        headers = {"content-type": "text/event-stream", "x-inference-provider": provider}
        return httpx.Response(200, content=_stream_body(provider), headers=headers)

    client = AsyncHFClient(
        api_key=FAKE_TOKEN,
        provider="lowest-latency",
        hedge_after=0.0,
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(handle)),
    )
    await client.list_models()
    stream = client.stream(MODEL, USER)
    text = texts([c async for c in stream])
    assert text == "from fireworks-ai"
    assert (stream.meta.provider, stream.meta.hedged) == ("fireworks-ai", True)
    assert cancelled.is_set()
    (line,) = client.spend().lines
    assert line.calls == 1
    await client.aclose()


async def test_a_stream_answering_in_time_is_not_hedged(h: Harness) -> None:
    router = Router({})
    h.queue(router, lambda request: ok_sse(_stream_body("cerebras")))
    h.make(provider="lowest-latency", hedge_after=3600.0)
    chunks, stream = await h.stream(MODEL, USER)
    assert texts(chunks) == "from cerebras"
    assert stream.meta.hedged is False
    assert len(h.requests) == 2  # the catalogue, then one stream
