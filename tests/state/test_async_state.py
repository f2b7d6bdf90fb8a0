"""`AsyncHFClient` with state on Redis: its store round trips never block the event loop.

Each test runs a ticker task on the client's loop (a tick every 5 ms) while the server is slowed
down with `CLIENT PAUSE` (every command waits until the pause ends). A loop blocked by a store's
round trip would stop ticking for the whole pause; an awaited one keeps ticking. Each test also
checks that the sync redis-py client was never built: the async path goes through redis-py's
asyncio client only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import redis

from hfproviders import (
    AsyncHFClient,
    CircuitBreaker,
    HFClient,
    InMemoryCache,
    RateLimiter,
    RedisState,
    SpendLimit,
    StateUnavailableError,
)
from hfproviders._state import async_step, await_io, in_async_step
from hfproviders.testing import FakeRouter, Fault
from tests.state._workers import MODEL, chat_arrivals
from tests.state.conftest import RedisServer

LLAMA = "meta-llama/Llama-3.3-70B-Instruct"  # in the fake router's catalogue: groq and together
PAUSE_S = 0.5
# The longest the ticker may go without a tick while the server is paused. A blocked loop would
# not tick for the whole pause (0.5 s); an awaited round trip costs the loop nothing, and this
# leaves 0.25 s for a loaded machine's scheduling.
MAX_GAP_S = 0.25


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@asynccontextmanager
async def ticking() -> AsyncIterator[list[float]]:
    """A task ticking every 5 ms on this loop; yields the list of tick times."""
    ticks: list[float] = []
    running = True

    async def tick() -> None:
        while running:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.005)

    task = asyncio.create_task(tick())
    await asyncio.sleep(0.02)
    try:
        yield ticks
    finally:
        running = False
        await task
        ticks.append(time.monotonic())


def longest_gap(ticks: list[float], since: float) -> float:
    """The longest time without a tick after `since`."""
    times = [since, *(t for t in ticks if t > since)]
    return max(b - a for a, b in zip(times, times[1:], strict=False))


def pause(url: str, seconds: float) -> None:
    """Make the server hold every command for `seconds` (from now)."""
    client = redis.Redis.from_url(url, socket_timeout=2)
    try:
        client.execute_command("CLIENT", "PAUSE", int(seconds * 1000), "ALL")
    finally:
        client.close()


async def test_a_paused_server_slows_the_call_but_never_the_loop(
    own_server: RedisServer, hf_fake_router: FakeRouter
) -> None:
    state = RedisState(own_server.url, socket_timeout=2.0)
    options: dict[str, Any] = {
        "base_url": hf_fake_router.base_url,
        "api_key": "test-key",
        "max_retries": 0,
        "rate_limiter": RateLimiter(6000, 600_000),
        "cache": InMemoryCache(),
        "state": state,
    }
    async with AsyncHFClient(**options) as client:
        await client.chat(MODEL, user("warm up"), max_tokens=9)  # connections, scripts
        async with ticking() as ticks:
            pause(own_server.url, PAUSE_S)
            started = time.monotonic()
            answer = await client.chat(MODEL, user("paused"), max_tokens=9)
            elapsed = time.monotonic() - started
    assert answer.text and not answer.meta.cached
    assert elapsed >= PAUSE_S - 0.1  # the store round trips really waited for the server
    assert longest_gap(ticks, started) < MAX_GAP_S  # while the loop went on ticking
    assert state._client is None  # the sync client was never built


async def test_every_store_goes_through_the_asyncio_client(
    redis_url: str, hf_fake_router: FakeRouter
) -> None:
    # Limiter (with tokens), cache (miss, write, hit), breaker (opened by a failing provider),
    # catalogue prices, budget and ledger, a stream closed early: all on Redis, none sync.
    hf_fake_router.on(provider="groq").respond(Fault.status(503))
    state = RedisState(redis_url, prefix="async-only")
    budget = SpendLimit(usd=100.0, period="day")
    options: dict[str, Any] = {
        "base_url": hf_fake_router.base_url,
        "api_key": "test-key",
        "router": True,
        "routing": "auto",
        "max_retries": 0,
        "provider": ["groq", "together"],
        "breaker": CircuitBreaker(failure_rate=0.5, min_calls=2, cooldown_s=60),
        "rate_limiter": RateLimiter(6000, 600_000),
        "cache": InMemoryCache(),
        "budget": budget,
        "state": state,
    }
    async with AsyncHFClient(**options) as client:
        await client.list_models()  # prices for the budget
        first = await client.chat(LLAMA, user("one"), max_tokens=9)
        again = await client.chat(LLAMA, user("one"), max_tokens=9)
        await client.chat(LLAMA, user("two"), max_tokens=9)
        stream = client.stream(LLAMA, user("three"), max_tokens=9)
        async for _ in stream:
            break
        await stream.aclose()
        streamed = client.stream(LLAMA, user("four"), max_tokens=9)
        text = "".join([c.choices[0].delta.content or "" async for c in streamed if c.choices])
    assert first.provider == "together" and again.meta.cached and text
    assert state._client is None  # nothing went through the sync client
    spent = await async_step(budget.spent)  # a read on the asyncio client, too
    assert spent > 0 and state._client is None
    keys = server_keys(redis_url)
    expected = [
        "{async-only:ratelimit:default}:tokens",  # the limiter's buckets
        f"async-only:health:open:{LLAMA}",  # groq's circuit, opened on Redis
        "async-only:spend:",  # the budget's and the ledger's totals
        "async-only:cache:",  # the cached answer
    ]
    assert all(any(k.startswith(e) for k in keys) for e in expected), keys


async def test_aclose_writes_what_the_stores_hold_on_the_asyncio_client(
    redis_url: str, hf_fake_router: FakeRouter
) -> None:
    # The ledger's settlement and the latency sample are batched (written every 10 calls or
    # second): closing the client writes them, on the asyncio client, not at the interpreter's
    # exit on the sync one.
    state = RedisState(redis_url, prefix="closing")
    options = {"base_url": hf_fake_router.base_url, "api_key": "test-key", "state": state}
    async with AsyncHFClient(**options) as client:
        await client.chat(MODEL, user("one"), max_tokens=9)
        assert not [k for k in server_keys(redis_url) if k.startswith("closing:spend")]
    keys = server_keys(redis_url)
    assert any(k.startswith("closing:spend:all:lines") for k in keys), keys
    assert any(k.startswith("closing:health:latency") for k in keys), keys
    assert state._client is None


async def test_ahealth_and_aspend_read_shared_state_without_blocking_the_loop(
    own_redis: RedisServer, hf_fake_router: FakeRouter
) -> None:
    # `health()`/`spend()` read Redis with the sync client; their async twins await the reads on
    # the loop (the asyncio client), and see what every worker sees.
    state = RedisState(own_redis.url, socket_timeout=2.0)
    options = {"base_url": hf_fake_router.base_url, "api_key": "test-key", "state": state}
    async with AsyncHFClient(**options) as client:
        await client.chat(MODEL, user("one"), max_tokens=9)
        await client.chat(MODEL, user("two"), max_tokens=9)
        async with ticking() as ticks:
            pause(own_redis.url, PAUSE_S)
            started = time.monotonic()
            rows = await client.ahealth()
            health_s = time.monotonic() - started
            health_gap = longest_gap(ticks, started)
            pause(own_redis.url, PAUSE_S)
            started = time.monotonic()
            report = await client.aspend()
            spend_s = time.monotonic() - started
            spend_gap = longest_gap(ticks, started)
    assert health_s >= PAUSE_S - 0.1 and spend_s >= PAUSE_S - 0.1  # really read from Redis
    assert health_gap < MAX_GAP_S and spend_gap < MAX_GAP_S  # while the loop went on ticking
    assert state._client is None  # the sync client was never built
    assert [(r.model, r.state, r.calls) for r in rows] == [(MODEL, "closed", 2)]
    assert [(line.model, line.calls) for line in report.lines] == [(MODEL, 2)]
    # Another worker (a sync client on the same server) reads the same shared state.
    other = {**options, "state": RedisState(own_redis.url)}
    with HFClient(**other) as worker:
        assert [(r.model, r.provider, r.calls) for r in worker.health()] == [
            (r.model, r.provider, r.calls) for r in rows
        ]
        assert worker.spend() == report


async def test_ahealth_and_aspend_without_shared_state_match_the_sync_reads(
    hf_fake_router: FakeRouter,
) -> None:
    options = {"base_url": hf_fake_router.base_url, "api_key": "test-key"}
    async with AsyncHFClient(**options) as client:
        await client.chat(MODEL, user("one"), max_tokens=9)
        rows, report = await client.ahealth(), await client.aspend()
        assert rows == client.health() and report == client.spend()
    assert [(r.model, r.calls) for r in rows] == [(MODEL, 1)]
    assert [(line.model, line.calls) for line in report.lines] == [(MODEL, 1)]


def server_keys(url: str) -> list[str]:
    server = redis.Redis.from_url(url)
    try:
        return [k.decode() for k in server.keys("*")]
    finally:
        server.close()


@pytest.mark.parametrize("policy", ["open", "closed"])
async def test_a_hung_server_fails_as_configured_without_blocking_the_loop(
    own_redis: RedisServer, hf_fake_router: FakeRouter, policy: str
) -> None:
    # The server hangs (paused past the client's socket timeout): the first round trip times out,
    # then the stores skip Redis until `recheck_s`. Fail-open answers from local state;
    # fail-closed raises before sending. Either way the loop keeps ticking.
    state = RedisState(own_redis.url, on_failure=policy, socket_timeout=0.2, recheck_s=60)  # type: ignore[arg-type]
    options: dict[str, Any] = {
        "base_url": hf_fake_router.base_url,
        "api_key": "test-key",
        "max_retries": 0,
        "rate_limiter": RateLimiter(6000),
        "cache": InMemoryCache(),
        "state": state,
    }
    async with AsyncHFClient(**options) as client:
        await client.chat(MODEL, user("warm up"), max_tokens=9)
        async with ticking() as ticks:
            pause(own_redis.url, 1.0)
            started = time.monotonic()
            if policy == "open":
                answer = await client.chat(MODEL, user("hung"), max_tokens=9)
                assert answer.text
            else:
                with pytest.raises(StateUnavailableError):
                    await client.chat(MODEL, user("hung"), max_tokens=9)
    assert longest_gap(ticks, started) < MAX_GAP_S
    assert len(chat_arrivals(hf_fake_router)) == (2 if policy == "open" else 1)
    assert state._client is None


async def test_async_steps_await_on_the_loop_and_keep_the_callers_context() -> None:
    import contextvars

    seen: contextvars.ContextVar[str] = contextvars.ContextVar("seen", default="none")

    started: list[str] = []
    all_started = asyncio.Event()

    async def round_trip(tag: str) -> str:
        # Returns only once all 20 steps are in their round trip: steps that ran one after
        # another would never get there (bounded by wait_for). No wall-clock bound: a loaded
        # machine cannot make this fail.
        started.append(tag)
        if len(started) == 20:
            all_started.set()
        await asyncio.wait_for(all_started.wait(), timeout=10)
        return tag

    def store_operation(tag: str) -> str:
        assert in_async_step()
        value = await_io(round_trip(tag))  # a round trip, awaited on the loop
        return f"{value}:{seen.get()}"

    def failing() -> None:
        await_io(asyncio.sleep(0))
        raise KeyError("inside")

    async def run(tag: str) -> str:
        seen.set(tag)
        return await async_step(store_operation, tag)

    results = await asyncio.gather(*(run(str(n)) for n in range(20)))
    assert results == [f"{n}:{n}" for n in range(20)]  # 20 steps ran concurrently, in context
    with pytest.raises(KeyError, match="inside"):
        await async_step(failing)
    assert not in_async_step()  # outside a step, stores use the sync client
    cancelled = asyncio.create_task(async_step(await_io, asyncio.sleep(10)))
    await asyncio.sleep(0.01)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert await async_step(_plain, 2) == 4  # the cancelled step's greenlet serves the next one


def _plain(n: int) -> int:
    return n * n


async def test_a_burst_of_concurrent_steps_leaves_a_bounded_pool_of_idle_greenlets() -> None:
    import threading

    from hfproviders import _state

    def store_operation(n: int) -> int:
        return await_io(asyncio.sleep(0.001, result=n))

    # 500 steps in flight at once (each one its own greenlet), run in a fresh thread so the
    # count is this burst's alone.
    def burst() -> list[int]:
        async def go() -> list[int]:
            return list(await asyncio.gather(*(async_step(store_operation, n) for n in range(500))))

        results = asyncio.run(go())
        idle.extend(_state._steps.__dict__.get("idle", []))
        return results

    idle: list[object] = []
    out: list[list[int]] = []
    worker = threading.Thread(target=lambda: out.append(burst()))
    worker.start()
    worker.join(timeout=30)
    assert out == [list(range(500))]  # every step's answer, in order
    assert 0 < len(idle) <= _state._MAX_IDLE_STEPS
