"""The Redis stores on a real redis-server: the shared limiter's arithmetic and the cache."""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from hfproviders import (
    ConfigurationError,
    InMemoryCache,
    RateLimiter,
    RateLimitWaitTooLongError,
    RedisCache,
    RedisRateLimiter,
    RedisState,
    SQLiteCache,
    cache_key,
)
from hfproviders._config import resolve_state
from tests.state.conftest import RedisServer, assert_wait

ENTRY = {"kind": "chat", "data": {"id": "x"}, "meta": {"provider": "together"}}


def limiter(url: str, rpm: float, tpm: float | None = None, **kwargs: object) -> RedisRateLimiter:
    slept: list[float] = []
    lim = RedisState(url).rate_limiter(rpm, tpm, **kwargs)  # type: ignore[arg-type]
    lim._sleep = slept.append  # waits are recorded, not slept: the arithmetic is the point
    lim.slept = slept  # type: ignore[attr-defined]
    return lim


async def acquire(lim: RedisRateLimiter, is_async: bool, tokens: int = 1) -> float:
    if is_async:
        slept: list[float] = lim.slept  # type: ignore[attr-defined]

        async def record(seconds: float) -> None:
            slept.append(seconds)

        lim._async_sleep = record
        return await lim.aacquire(tokens)
    return lim.acquire(tokens)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_two_limiters_draw_from_one_bucket(redis_url: str, is_async: bool) -> None:
    # Two objects stand for two workers: the second one queues behind the first one's burst.
    first, second = limiter(redis_url, 60, burst=2), limiter(redis_url, 60, burst=2)
    since = time.monotonic()
    assert await acquire(first, is_async) == 0
    assert await acquire(first, is_async) == 0
    wait = await acquire(second, is_async)
    assert_wait(wait, 1.0, since)  # one request per second once the burst of 2 is spent
    wait = await acquire(first, is_async)
    assert_wait(wait, 2.0, since)  # in arrival order, behind the second worker's reservation


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_tokens_per_minute_shared_and_corrected(redis_url: str, is_async: bool) -> None:
    first, second = limiter(redis_url, 6000, 600), limiter(redis_url, 6000, 600)
    since = time.monotonic()
    assert await acquire(first, is_async, tokens=600) == 0  # a full minute's tokens
    wait = await acquire(second, is_async, tokens=10)
    assert_wait(wait, 1.0, since)  # 10 tokens at 10 tokens/s
    first.record_usage(600, 0)  # the first call used nothing: its 600 tokens come back
    assert second.peek_wait(10) == 0


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_max_wait_refuses_without_reserving(redis_url: str, is_async: bool) -> None:
    lim = limiter(redis_url, 6, burst=1, max_wait=5)  # a turn every 10 s
    since = time.monotonic()
    await acquire(lim, is_async)
    with pytest.raises(RateLimitWaitTooLongError) as caught:
        await acquire(lim, is_async)
    assert caught.value.retry_after is not None
    assert_wait(caught.value.retry_after, 10.0, since)
    assert_wait(lim.peek_wait(), 10.0, since)  # the refused call took nothing


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_pause_holds_back_every_worker(redis_url: str, is_async: bool) -> None:
    first, second = limiter(redis_url, 6000), limiter(redis_url, 6000)
    since = time.monotonic()
    first.observe_throttled(5)  # a 429 with `Retry-After: 5`
    wait = await acquire(second, is_async)
    assert_wait(wait, 5.0, since)
    since = time.monotonic()
    first.observe_throttled(1e300)  # an absurd Retry-After is clamped to max_pause
    assert_wait(second.peek_wait(), 600.0, since)
    first.observe_throttled(math.nan)
    first.reset()  # forgets the pause, for every worker
    assert second.peek_wait() == 0


def test_spent_rate_limit_headers_pause_everyone(redis_url: str) -> None:
    first, second = limiter(redis_url, 6000), limiter(redis_url, 6000)
    first.observe(5, 30.0)  # quota left: nothing changes, and no round trip is needed
    assert second.peek_wait() == 0
    since = time.monotonic()
    first.observe(0, 3.0, remaining_tokens=0, reset_tokens_s=4.0)
    assert_wait(second.peek_wait(), 4.0, since)  # no token bucket: the token reset stops requests


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_try_acquire_never_waits(redis_url: str, is_async: bool) -> None:
    lim = limiter(redis_url, 60, burst=1)
    take = lim.atry_acquire if is_async else None
    assert (await take() if take else lim.try_acquire()) is True
    assert (await take() if take else lim.try_acquire()) is False
    assert lim.slept == []  # type: ignore[attr-defined]


async def test_cancelled_wait_gives_its_reservation_back(redis_url: str) -> None:
    lim = RedisState(redis_url).rate_limiter(60, burst=1)
    await lim.aacquire()
    task = asyncio.create_task(lim.aacquire())  # waits about 1 s
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert lim.peek_wait() < 1.0  # the next caller is not queued behind the cancelled one


def test_buckets_expire_once_full(redis_url: str) -> None:
    lim = RedisState(redis_url, prefix="exp").rate_limiter(6000, burst=1)
    lim.acquire()
    client = redis.Redis.from_url(redis_url)
    ttl_ms = client.pttl("{exp:ratelimit:default}:requests")
    assert 0 < ttl_ms <= 1100  # refills in 10 ms, kept 1 s more: no key lingers forever
    client.close()


def test_share_keeps_the_configured_limits(redis_url: str) -> None:
    local = RateLimiter(90, 900, burst=3, max_wait=7, max_pause=30)
    state = RedisState(redis_url)
    shared = state.share_rate_limiter(local)
    assert (shared.requests_per_minute, shared.tokens_per_minute) == (90, 900)
    assert (shared._requests.capacity, shared.max_wait, shared.max_pause) == (3, 7, 30)
    assert state.share_rate_limiter(shared) is shared


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_cache_round_trip_shared_by_two_instances(redis_url: str, is_async: bool) -> None:
    writer, reader = RedisCache(redis_url, ttl_s=60), RedisCache(redis_url, ttl_s=60)
    key = cache_key({"model": "m", "body": {"messages": []}})
    # The writer's SET waits (at most write_delay_s) for the writer's next command to carry it:
    # another worker sees it once the writer's timer has sent it.
    if is_async:
        assert await reader.aget(key) is None
        await writer.aset(key, ENTRY)
        for _ in range(1000):  # bounded: 10 s; the timer sends it after write_delay_s
            if await reader.aget(key) is not None:
                break
            await asyncio.sleep(0.01)
        assert await reader.aget(key) == ENTRY
    else:
        assert reader.get(key) is None
        writer.set(key, ENTRY)
        for _ in range(1000):  # bounded: 10 s; the timer sends it after write_delay_s
            if reader.get(key) is not None:
                break
            time.sleep(0.01)
        assert reader.get(key) == ENTRY
    got = reader.get(key)
    assert got is not None
    got["meta"]["provider"] = "changed"
    assert reader.get(key) == ENTRY  # every get is a fresh dict


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_cache_writes_wait_for_no_reply(own_server: RedisServer, is_async: bool) -> None:
    # A cache write goes after CLIENT REPLY SKIP: no reply comes back to be read (none piles
    # up on a pooled connection), a read right after it sees it, also after a server restart.
    state = RedisState(own_server.url, recheck_s=0)
    cache = RedisCache(state=state, ttl_s=60)

    async def write_and_read(key: str) -> Any:
        if is_async:
            await cache.aset(key, ENTRY)
            return await cache.aget(key)
        cache.set(key, ENTRY)
        return cache.get(key)

    assert [await write_and_read(f"k{n}") for n in range(50)] == [ENTRY] * 50
    own_server.stop()
    await write_and_read("lost")  # never raises: a miss, a skipped write
    own_server.start()
    found = None
    for n in range(20):  # the first write may go into the dead socket; one soon lands
        found = await write_and_read(f"back{n}")
        if found is not None:
            break
    assert found == ENTRY
    assert state._skips is True
    if is_async:
        idle = [c for each in state._loop_connections.values() for c in each]
    else:
        idle = list(state._idle)  # the state's own connections, ready to send
    assert idle  # the writes went on idle connections, back with nothing to read
    for connection in idle:
        assert not (await connection.can_read() if is_async else connection.can_read())


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_a_server_refusing_client_reply_gets_normal_writes(
    tmp_path: Path, is_async: bool
) -> None:
    with RedisServer(tmp_path, "--rename-command", "CLIENT", "") as server:
        cache = RedisCache(server.url, ttl_s=60)
        for n in range(3):
            if is_async:
                await cache.aset(f"k{n}", ENTRY)
                assert await cache.aget(f"k{n}") == ENTRY
            else:
                cache.set(f"k{n}", ENTRY)
                assert cache.get(f"k{n}") == ENTRY
        assert cache.state._skips is False
        if is_async:
            await cache.state.aclose()


def test_cache_expiry_and_damaged_values(redis_url: str) -> None:
    cache = RedisCache(redis_url, ttl_s=0.05)
    cache.set("k", ENTRY)
    cache.state.flush()  # sent now, not with this process's next command
    client = redis.Redis.from_url(redis_url)
    assert 0 < client.pttl("hfproviders:cache:k") <= 50
    client.set("hfproviders:cache:bad", b"{not json")
    client.set("hfproviders:cache:list", b"[1, 2]")
    client.close()
    assert cache.get("bad") is None and cache.get("list") is None
    with pytest.raises(TypeError):
        cache.set("k", {"x": object()})  # a caller bug is still a caller error


def test_share_cache_moves_only_process_local_caches(redis_url: str, tmp_path: object) -> None:
    state = RedisState(redis_url)
    shared = state.share_cache(InMemoryCache(ttl_s=30))
    assert isinstance(shared, RedisCache) and shared.ttl_s == 30
    sqlite = SQLiteCache(":memory:")
    assert state.share_cache(sqlite) is sqlite  # already shared between processes on a host


def test_resolve_state_and_bad_options(redis_url: str) -> None:
    state = resolve_state("valkey://127.0.0.1:1/0")
    assert isinstance(state, RedisState) and state.url == "redis://127.0.0.1:1/0"
    assert resolve_state("valkey://127.0.0.1:1/0") is state  # one pool per URL and process
    assert resolve_state(None) is None
    with pytest.raises(ConfigurationError):
        resolve_state("http://localhost:6379")
    with pytest.raises(ConfigurationError):
        RedisState()
    with pytest.raises(ConfigurationError):
        RedisState(redis_url, on_failure="maybe")  # type: ignore[arg-type]
    assert "secret" not in repr(RedisState("redis://:secret@127.0.0.1:1/0"))


async def test_state_from_your_own_redis_client(redis_url: str) -> None:
    own = redis.Redis.from_url(redis_url)
    state = RedisState(client=own, prefix="mine")
    limiter = state.rate_limiter(60, burst=1)
    assert await limiter.aacquire() == 0  # the asyncio client is derived from yours
    assert limiter.try_acquire() is False  # the sync one is yours: same bucket
    assert own.exists("{mine:ratelimit:default}:requests") == 1
    await state.aclose()
    state.close()
    assert own.ping()  # a client you passed in is left open
    own.close()
