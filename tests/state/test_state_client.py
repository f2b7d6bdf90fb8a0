"""`state=` on the clients: shared stores switched on by one option, and Redis outages."""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

import pytest

from hfproviders import (
    AsyncHFClient,
    HFClient,
    InMemoryCache,
    RateLimiter,
    RedisCache,
    RedisRateLimiter,
    RedisState,
    StateUnavailableError,
)
from hfproviders.testing import FakeRouter, Reply
from tests.state._workers import MODEL, chat_arrivals
from tests.state.conftest import RedisServer

USER = [{"role": "user", "content": "Hi"}]


async def chat(router: FakeRouter, is_async: bool, **options: Any) -> Any:
    """One chat call through a fresh client of the requested twin."""
    options = {"base_url": router.base_url, "api_key": "test-key", "max_retries": 0, **options}
    if is_async:
        async with AsyncHFClient(**options) as client:
            return await client.chat(MODEL, USER, max_tokens=9)
    with HFClient(**options) as client:
        return client.chat(MODEL, USER, max_tokens=9)


def test_one_option_shares_limiter_and_cache(redis_url: str, hf_fake_router: FakeRouter) -> None:
    local_limiter, local_cache = RateLimiter(600), InMemoryCache(ttl_s=60)
    client = HFClient(
        base_url=hf_fake_router.base_url,
        api_key="k",
        rate_limiter=local_limiter,
        cache=local_cache,
        state=redis_url,
    )
    assert isinstance(client._config.limiter, RedisRateLimiter)
    assert client._config.limiter.requests_per_minute == 600
    shared = client._config.cache.backend  # the RedisCache, inside the client's FailSafeCache
    assert isinstance(shared, RedisCache) and shared.ttl_s == 60
    assert HFClient(api_key="k", rate_limiter=local_limiter)._config.limiter is local_limiter


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_cache_shared_between_clients(
    redis_url: str, hf_fake_router: FakeRouter, is_async: bool
) -> None:
    options = {"cache": InMemoryCache(), "state": redis_url}
    first = await chat(hf_fake_router, is_async, **options)
    second = await chat(hf_fake_router, is_async, cache=InMemoryCache(), state=redis_url)
    assert len(chat_arrivals(hf_fake_router)) == 1  # the second client's own cache is empty
    assert second.text == first.text and second.meta.cached


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_fail_open_serves_through_an_outage_and_warns_once(
    own_redis: RedisServer,
    hf_fake_router: FakeRouter,
    is_async: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    state = RedisState(own_redis.url, recheck_s=0)  # try Redis on every call: worst case
    options = {"rate_limiter": RateLimiter(6000), "cache": InMemoryCache(), "state": state}
    await chat(hf_fake_router, is_async, **options)
    own_redis.stop()
    with caplog.at_level(logging.WARNING, logger="hfproviders"):
        answers = [await chat(hf_fake_router, is_async, **options) for _ in range(3)]
    assert all(a.text for a in answers) and len(chat_arrivals(hf_fake_router)) == 4
    outage = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(outage) == 1 and "local state" in outage[0].getMessage()
    own_redis.start()  # back (empty): shared state resumes, and says so once
    with caplog.at_level(logging.WARNING, logger="hfproviders"):
        await chat(hf_fake_router, is_async, **options)
    assert any("reachable again" in r.getMessage() for r in caplog.records)
    assert len(chat_arrivals(hf_fake_router)) == 5


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_fail_closed_raises_typed_error_before_sending(
    own_redis: RedisServer, hf_fake_router: FakeRouter, is_async: bool
) -> None:
    state = RedisState(own_redis.url, on_failure="closed", recheck_s=60)
    options = {"rate_limiter": RateLimiter(6000), "state": state}
    await chat(hf_fake_router, is_async, **options)
    own_redis.stop()
    for _ in range(2):  # the first finds the outage, the second fails fast without trying
        with pytest.raises(StateUnavailableError):
            await chat(hf_fake_router, is_async, **options)
    assert len(chat_arrivals(hf_fake_router)) == 1  # nothing sent without the shared quota


@pytest.mark.parametrize("policy", ["open", "closed"])
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_outage_during_a_call_never_loses_its_answer(
    own_redis: RedisServer, hf_fake_router: FakeRouter, is_async: bool, policy: str
) -> None:
    # Redis dies while the server is answering: the usage correction and the cache write that
    # follow the answer fail, and the answer is still returned.
    usage = {"prompt_tokens": 1, "completion_tokens": 49, "total_tokens": 50}
    hf_fake_router.on(model=MODEL).respond(Reply("kept", usage=usage, delay_s=0.5))

    def stop_redis_once_the_request_is_in() -> None:
        deadline = time.monotonic() + 10
        while not chat_arrivals(hf_fake_router) and time.monotonic() < deadline:
            time.sleep(0.01)
        own_redis.stop()

    stopper = threading.Thread(target=stop_redis_once_the_request_is_in)
    stopper.start()
    state = RedisState(own_redis.url, on_failure=policy, recheck_s=0)  # type: ignore[arg-type]
    answer = await chat(
        hf_fake_router,
        is_async,
        rate_limiter=RateLimiter(6000, 60_000),
        cache=InMemoryCache(),
        state=state,
    )
    stopper.join(timeout=10)
    assert own_redis.process is None  # Redis really was down when the answer came back
    assert answer.text == "kept" and answer.usage.total_tokens == 50


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_a_healthy_call_costs_one_round_trip(
    redis_url: str, hf_fake_router: FakeRouter, is_async: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Limiter, cache and breaker on Redis: the cache read and the limiter's turn are one script;
    # the cache write and the breaker's count of a success wait for the next call's round trip
    # (no socket write of their own); the spend ledger is written in batches. The breaker's
    # read of the open circuits is reused for 0.1 s, and the waiting writes are sent alone after
    # 0.05 s: both made longer here, so a loaded machine's slow calls add nothing.
    monkeypatch.setattr("hfproviders._redis_stores._HINT_S", 3600.0)
    state = RedisState(redis_url, write_delay_s=60)
    counts = {"round trips": 0, "writes without reply": 0, "writes sent alone": 0}
    trip, send_quietly, flush, aflush = (
        state._trip,
        state.send_packed_quietly,
        state.flush,
        state.aflush,
    )

    def counted_trip(packed: bytes, replies: int = 1) -> Any:
        counts["round trips"] += 1
        return trip(packed, replies)

    def counted_send_quietly(packed: bytes) -> None:
        counts["writes without reply"] += 1
        send_quietly(packed)

    def counted_flush() -> None:  # the timer's, or a full buffer's: writes not carried along
        counts["writes sent alone"] += bool(state._pending)
        flush()

    async def counted_aflush() -> None:
        counts["writes sent alone"] += bool(state._pending)
        await aflush()

    state._trip = counted_trip  # type: ignore[method-assign]
    state.send_packed_quietly = counted_send_quietly  # type: ignore[method-assign]
    state.flush, state.aflush = counted_flush, counted_aflush  # type: ignore[method-assign]
    options = {"rate_limiter": RateLimiter(6000), "cache": InMemoryCache(), "state": state}
    options |= {"base_url": hf_fake_router.base_url, "api_key": "test-key", "max_retries": 0}
    if is_async:
        async with AsyncHFClient(**options) as client:
            await client.chat(MODEL, USER, max_tokens=9)
            counts.update(dict.fromkeys(counts, 0))
            started = time.monotonic()
            for n in range(5):
                await client.chat(MODEL, [{"role": "user", "content": str(n)}], max_tokens=9)
            elapsed = time.monotonic() - started
            measured = dict(counts)  # not what closing the client writes
    else:
        with HFClient(**options) as client:
            client.chat(MODEL, USER, max_tokens=9)
            counts.update(dict.fromkeys(counts, 0))
            started = time.monotonic()
            for n in range(5):
                client.chat(MODEL, [{"role": "user", "content": str(n)}], max_tokens=9)
            elapsed = time.monotonic() - started
            measured = dict(counts)
    assert measured["writes without reply"] == 2 * 5  # the cache write, the breaker's count
    assert measured["writes sent alone"] == 0  # each went with the next call's round trip
    # The cache read with the limiter's turn; once a second, the batched latency samples (a read
    # and a write) and spend settlements (one script, sent whole if the server lacks it): four
    # more per second the calls took.
    assert 5 <= measured["round trips"] <= 5 + 4 * math.ceil(elapsed)
