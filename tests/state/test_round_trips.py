"""A call's round trips on Redis: the cache read and the limiter's turn in one, writes carried.

The cache read and the limiter's reservation are one Lua script (a hit takes no quota); writes
that need no reply wait for the next command's socket write, a timer (`write_delay_s`),
`flush()`, `close()`/`aclose()` or the interpreter's exit. All on the real server.
"""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
import redis

from hfproviders import (
    AsyncHFClient,
    HFClient,
    InMemoryCache,
    RateLimiter,
    RateLimitWaitTooLongError,
    RedisCache,
    RedisState,
    StateUnavailableError,
)
from hfproviders._cache import cache_key
from hfproviders.testing import FakeRouter
from tests.state._workers import MODEL, chat_arrivals
from tests.state.conftest import RedisServer, assert_wait

ENTRY = {"kind": "chat", "data": {"id": "x"}, "meta": {"provider": "together"}}
USER = [{"role": "user", "content": "Hi"}]


def _options(router: FakeRouter, state: RedisState, limiter: RateLimiter) -> dict[str, Any]:
    return {
        "base_url": router.base_url,
        "api_key": "test-key",
        "max_retries": 0,
        "rate_limiter": limiter,
        "cache": InMemoryCache(ttl_s=60),
        "state": state,
    }


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_cache_hits_take_no_quota(
    server_url: str, hf_fake_router: FakeRouter, is_async: bool
) -> None:
    # One request per 10 s, a burst of one: the miss takes the only turn; five hits after it
    # must neither wait nor take turns, so the next miss waits about 10 s, not 60.
    state = RedisState(server_url)
    options = _options(hf_fake_router, state, RateLimiter(6, burst=1, max_wait=30))
    since = time.monotonic()
    if is_async:
        async with AsyncHFClient(**options) as client:
            answers = [await client.chat(MODEL, USER, max_tokens=9) for _ in range(6)]
            limiter = client._config.limiter
            wait = await asyncio.to_thread(limiter.peek_wait)  # type: ignore[union-attr]
    else:
        with HFClient(**options) as client:
            answers = [client.chat(MODEL, USER, max_tokens=9) for _ in range(6)]
            wait = client._config.limiter.peek_wait()  # type: ignore[union-attr]
    assert client._config.lookup_reserving is not None  # the one-round-trip path was chosen
    assert [a.meta.cached for a in answers] == [False] + [True] * 5
    assert len(chat_arrivals(hf_fake_router)) == 1
    assert_wait(wait, 10.0, since)  # one turn taken in all: the miss's


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_a_miss_over_max_wait_raises_and_reserves_nothing(
    redis_url: str, hf_fake_router: FakeRouter, is_async: bool
) -> None:
    state = RedisState(redis_url)
    options = _options(hf_fake_router, state, RateLimiter(6, burst=1, max_wait=1))
    prompts = [[{"role": "user", "content": f"prompt {n}"}] for n in range(3)]
    since = time.monotonic()
    if is_async:
        async with AsyncHFClient(**options) as client:
            await client.chat(MODEL, prompts[0], max_tokens=9)
            for prompt in prompts[1:]:
                with pytest.raises(RateLimitWaitTooLongError) as raised:
                    await client.chat(MODEL, prompt, max_tokens=9)
                assert_wait(raised.value.retry_after or 0, 10.0, since)
    else:
        with HFClient(**options) as client:
            client.chat(MODEL, prompts[0], max_tokens=9)
            for prompt in prompts[1:]:
                with pytest.raises(RateLimitWaitTooLongError) as raised:
                    client.chat(MODEL, prompt, max_tokens=9)
                # the second refusal waits no longer than the first: nothing was reserved
                assert_wait(raised.value.retry_after or 0, 10.0, since)
    assert len(chat_arrivals(hf_fake_router)) == 1  # nothing sent without a turn


def test_a_turn_reserved_ahead_is_given_back(redis_url: str) -> None:
    state = RedisState(redis_url)
    limiter = state.rate_limiter(6, burst=1, max_wait=30)
    cache_name = RedisCache(state=state)._key("absent")
    since = time.monotonic()
    value, turn = limiter.lookup(cache_name, 1)
    assert value is None and turn is not None and turn.wait == 0
    assert_wait(limiter.peek_wait(), 10.0, since)  # the turn is held on Redis
    turn.release()  # sent with the next command: the peek below carries it
    assert limiter.peek_wait() == 0
    redis.Redis.from_url(redis_url).set("hfproviders:cache:there", b'{"kind": "chat"}')
    value, turn = limiter.lookup(RedisCache(state=state)._key("there"), 1)
    assert value == b'{"kind": "chat"}' and turn is None and limiter.peek_wait() == 0


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_waiting_writes_are_sent_at_close(
    server_url: str, is_async: bool, caplog: pytest.LogCaptureFixture
) -> None:
    state = RedisState(server_url, write_delay_s=60)  # the timer would come far too late
    cache = RedisCache(state=state, ttl_s=60)
    key = cache_key({"model": "m", "body": {"n": 1}})
    # Another worker's view, through a plain client: a slow read raises here instead of
    # reading as a miss (as a store that fails open would).
    other = redis.Redis.from_url(server_url, socket_timeout=30)
    name = cache._key(key)
    if is_async:
        await cache.aset(key, ENTRY)
        assert other.get(name) is None  # still waiting in this process
        await state.aclose()
    else:
        cache.set(key, ENTRY)
        assert other.get(name) is None
        state.close()
    outages = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
    assert other.get(name) is not None, outages  # an outage would have skipped the write
    assert RedisCache(state=RedisState(server_url)).get(key) == ENTRY
    other.close()


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_flush_returns_once_the_server_applied_the_writes(
    server_url: str, is_async: bool
) -> None:
    # Writes sent without a reply are only in the server's socket buffer when the send returns:
    # a read on another connection (another worker) can be served before them. flush() waits
    # for a reply queued behind them. With the server holding write commands (CLIENT PAUSE
    # WRITE, 0.4 s), flush() returns only once the write was applied, and another worker's
    # read then sees it; before, flush() returned at once and that read found nothing.
    state = RedisState(server_url, write_delay_s=60)
    cache = RedisCache(state=state, ttl_s=60)
    key = cache_key({"model": "m", "body": {"n": 2}})
    other = redis.Redis.from_url(server_url, socket_timeout=30)
    if is_async:
        await cache.aset(key, ENTRY)
    else:
        cache.set(key, ENTRY)
    other.execute_command("CLIENT", "PAUSE", 400, "WRITE")
    started = time.monotonic()
    if is_async:
        await state.aflush()
        await state.aclose()
    else:
        state.flush()
        state.close()
    assert time.monotonic() - started >= 0.3  # it waited for the paused write to be applied
    assert other.get(cache._key(key)) is not None
    other.close()


def test_waiting_writes_are_sent_at_exit(redis_url: str) -> None:
    # A process that never closes its state: the interpreter's exit sends what waits.
    program = (
        "import sys\n"
        "from hfproviders import RedisCache, RedisState\n"
        "state = RedisState(sys.argv[1], write_delay_s=60)\n"
        "RedisCache(state=state, ttl_s=60).set('at-exit', {'kind': 'chat', 'data': {}})\n"
    )
    subprocess.run([sys.executable, "-c", program, redis_url], check=True, timeout=60)
    assert RedisCache(redis_url).get("at-exit") == {"kind": "chat", "data": {}}


def test_this_process_reads_its_own_writes_across_threads(redis_url: str) -> None:
    # A write made in one thread is seen by a read another thread makes after it: the read's
    # socket write carries the waiting writes, under the lock that orders this process's sends.
    state = RedisState(redis_url, write_delay_s=60)
    cache = RedisCache(state=state, ttl_s=60)
    for n in range(30):
        writer = threading.Thread(target=cache.set, args=(f"t{n}", ENTRY))
        writer.start()
        writer.join(timeout=10)
        assert cache.get(f"t{n}") == ENTRY
    state.close()


def test_a_dropped_state_still_sends_its_writes_and_ends_its_timer(redis_url: str) -> None:
    before = {t.ident for t in threading.enumerate()}
    for n in range(5):
        state = RedisState(redis_url, write_delay_s=0.01)
        RedisCache(state=state, ttl_s=60).set(f"dropped{n}", ENTRY)
        del state  # never closed: its timer holds it until the write is sent
    reader = RedisCache(redis_url)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        gc.collect()
        timers = [t for t in threading.enumerate() if t.ident not in before]
        if not timers and all(reader.get(f"dropped{n}") for n in range(5)):
            break
        time.sleep(0.02)
    assert [reader.get(f"dropped{n}") for n in range(5)] == [ENTRY] * 5
    assert not [t.name for t in threading.enumerate() if t.ident not in before]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_an_error_reply_mid_pipeline_leaves_the_connection_clean(
    redis_url: str, is_async: bool
) -> None:
    state = RedisState(redis_url)
    commands = [("SET", "p", "1"), ("HGET", "p", "field"), ("SET", "p", "2")]

    def run() -> Any:
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            state.pipeline(*commands)  # every reply is read, the first error raised
        return state.call("GET", "p")  # the next reply is this command's own

    if is_async:
        from hfproviders._state import async_step

        assert await async_step(run) == b"2"
        await state.aclose()
    else:
        assert run() == b"2"
        state.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_a_forked_child_never_sends_the_parents_waiting_writes(redis_url: str) -> None:
    # A worker pool that forks after the state was used: the child talks on connections of its
    # own and sends only its own writes; the parent's waiting write is the parent's to send.
    state = RedisState(redis_url, write_delay_s=60)
    cache = RedisCache(state=state, ttl_s=60)
    assert cache.get("warm") is None  # the parent has a connection now
    cache.set("parent", ENTRY)  # waiting in the parent
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        code = 3
        try:
            code = 0 if cache.get("child-read") is None else 1
            cache.set("child", ENTRY)
            state.flush()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    other = RedisCache(redis_url)
    assert other.get("child") == ENTRY and other.get("parent") is None
    assert cache.get("parent") == ENTRY  # the parent's next command carries it
    assert other.get("parent") == ENTRY
    state.close()


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_the_one_script_lookup_fails_closed_or_open_like_the_limiter(
    own_redis: RedisServer, hf_fake_router: FakeRouter, is_async: bool
) -> None:
    # Redis down before the call: the lookup reads as a miss with no turn, and the limiter
    # then decides as on its own: fail-closed raises before sending, fail-open serves locally.
    for policy, sent in (("closed", 0), ("open", 1)):
        state = RedisState(own_redis.url, on_failure=policy, recheck_s=60)  # type: ignore[arg-type]
        options = _options(hf_fake_router, state, RateLimiter(600))
        prompt = [{"role": "user", "content": f"down {policy}"}]
        own_redis.stop()
        if is_async:
            async with AsyncHFClient(**options) as client:
                assert client._config.lookup_reserving is not None
                if policy == "closed":
                    with pytest.raises(StateUnavailableError):
                        await client.chat(MODEL, prompt, max_tokens=9)
                else:
                    assert (await client.chat(MODEL, prompt, max_tokens=9)).text
        else:
            with HFClient(**options) as client:
                assert client._config.lookup_reserving is not None
                if policy == "closed":
                    with pytest.raises(StateUnavailableError):
                        client.chat(MODEL, prompt, max_tokens=9)
                else:
                    assert client.chat(MODEL, prompt, max_tokens=9).text
        assert len(chat_arrivals(hf_fake_router)) == sent
        own_redis.start()
