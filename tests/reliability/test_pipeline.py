"""Issue 9 part 2 on the loopback fake router, both twins: deadlines, stream ends, truncation,
batch, event loops, failover edges, and the cap on answer size.

Every test is bounded in time twice: by pytest-timeout, and by its own assertion on the elapsed
time (the call's budget plus a small slack).
"""

from __future__ import annotations

import asyncio
import gc
import gzip
import sys
import threading
import time
import uuid
import warnings
from typing import Any

import pytest

import hfproviders
from hfproviders import (
    APIError,
    APITimeoutError,
    AsyncHFClient,
    BadRequestError,
    ClientClosedError,
    HFClient,
    HFProvidersError,
    IncompleteStreamError,
    InMemoryCache,
    RetryPolicy,
    ServiceUnavailableError,
)
from hfproviders.testing import FakeRouter, sse_event
from hfproviders.testing import http_chunk as chunk
from tests.conftest import FAKE_TOKEN
from tests.reliability.conftest import (
    ANSWER,
    CHUNK_TEMPLATE,
    MESSAGES,
    MODEL,
    SSE_HEAD,
    Client,
    chat,
    content_event,
    fault_headers,
    make_client,
    response,
    stream_text,
)

SLACK = 1.0  # seconds over the budget a call may take to notice and clean up


def key() -> str:
    return uuid.uuid4().hex


def budget(seconds: float, max_retries: int = 0) -> RetryPolicy:
    return RetryPolicy(max_retries=max_retries, wait_initial=0.01, wait_max=0.05, budget=seconds)


def sse_body(*events: bytes, end: bool = True) -> bytes:
    return SSE_HEAD + b"".join(chunk(e) for e in events) + (b"0\r\n\r\n" if end else b"")


def finish_event() -> bytes:
    return sse_event(
        {**CHUNK_TEMPLATE, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    )


def usage_event() -> bytes:
    usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    return sse_event({**CHUNK_TEMPLATE, "choices": [], "usage": usage})


async def timed(coro: Any) -> tuple[Any, float]:
    started = time.monotonic()
    try:
        result: Any = await coro
    except HFProvidersError as error:
        result = error
    return result, time.monotonic() - started


# -- 1. one deadline per call ------------------------------------------------------------------


@pytest.mark.parametrize("step", ["dribble", "stall"])
async def test_a_dribbled_or_silent_answer_ends_within_the_budget(
    twin: str, server: FakeRouter, no_leaks: list[Client], step: str
) -> None:
    client = make_client(twin, server, retry=budget(1.0), timeout=30.0)
    no_leaks.append(client)
    error, elapsed = await timed(chat(client, step, key()))
    assert isinstance(error, APITimeoutError), error
    assert elapsed < 1.0 + SLACK


async def test_a_ping_only_stream_ends_within_the_budget(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    client = make_client(twin, server, retry=budget(1.0), timeout=30.0)
    no_leaks.append(client)
    error, elapsed = await timed(stream_text(client, "pings", key(), []))
    assert isinstance(error, APITimeoutError), error
    assert elapsed < 1.0 + SLACK


async def test_stream_idle_timeout_counts_events_not_pings(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    client = make_client(twin, server, retry=budget(20.0), stream_idle_timeout=0.4)
    no_leaks.append(client)
    error, elapsed = await timed(stream_text(client, "pings", key(), []))
    assert isinstance(error, APITimeoutError) and "stream_idle_timeout" in error.message
    assert elapsed < 0.4 + SLACK


async def test_every_provider_of_a_chain_shares_one_deadline(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    client = make_client(twin, server, retry=budget(1.5), timeout=30.0, router=True)
    no_leaks.append(client)
    error, elapsed = await timed(chat(client, "stall", key(), provider=["groq", "together"]))
    assert isinstance(error, APITimeoutError), error
    assert elapsed < 1.5 + SLACK  # not one budget per provider


async def test_timeout_is_the_default_budget(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    client = make_client(twin, server, retry=RetryPolicy(max_retries=3), timeout=1.0)
    no_leaks.append(client)
    error, elapsed = await timed(chat(client, "dribble", key()))
    assert isinstance(error, APITimeoutError)
    assert elapsed < 1.0 + SLACK


# -- 2. a stream ends when it ends --------------------------------------------------------------


async def test_done_ends_the_stream_even_if_the_socket_stays_open(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    events = [content_event("Hi "), content_event("there"), finish_event(), usage_event()]
    step = server.add_raw(
        f"done-open-{twin}", sse_body(*events, b"data: [DONE]\n\n", end=False), hold_open=True
    )
    client = make_client(twin, server, retry=budget(10.0))
    no_leaks.append(client)
    received: list[str] = []
    stream, elapsed = await timed(stream_text(client, step, key(), received))
    assert "".join(received) == "Hi there"
    assert stream.completion.usage.total_tokens == 7
    assert elapsed < 2.0  # the server keeps the socket open for 10 s


async def test_an_error_event_ends_the_stream_even_if_the_socket_stays_open(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    error_event = sse_event({"error": {"message": "bad grammar", "http_status_code": 400}})
    step = server.add_raw(
        f"error-open-{twin}", sse_body(content_event("Hi "), error_event, end=False), hold_open=True
    )
    client = make_client(twin, server, retry=budget(10.0))
    no_leaks.append(client)
    received: list[str] = []
    error, elapsed = await timed(stream_text(client, step, key(), received))
    assert isinstance(error, BadRequestError) and "bad grammar" in error.message
    assert error.partial is not None and error.partial.text == "Hi "
    assert elapsed < 2.0


# -- 3. no silent truncation --------------------------------------------------------------------


async def test_a_stream_cut_without_done_or_finish_reason_is_incomplete(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    step = server.add_raw(f"cut-{twin}", sse_body(content_event("Half "), content_event("an")))
    cache = InMemoryCache()
    client = make_client(twin, server, cache=cache)
    no_leaks.append(client)
    for _ in range(2):  # never cached: the second call goes to the server again
        received: list[str] = []
        error, _ = await timed(stream_text(client, step, key(), received))
        assert isinstance(error, IncompleteStreamError), error
        assert error.partial is not None and error.partial.text == "Half an"
        assert error.partial.choices[0].finish_reason is None  # none made up
        assert "".join(received) == "Half an"
    assert len(server.requests) == 2


async def test_a_finish_reason_without_done_is_complete(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    events = [content_event("All "), content_event("here"), finish_event(), usage_event()]
    step = server.add_raw(f"finish-{twin}", sse_body(*events))
    client = make_client(twin, server)
    no_leaks.append(client)
    stream = await stream_text(client, step, key(), [])
    assert stream.completion.text == "All here"
    assert stream.completion.choices[0].finish_reason == "stop"


# -- 11. failover and retry edges ---------------------------------------------------------------


async def test_a_stream_whose_first_event_is_overloaded_is_retried(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    overloaded = sse_event({"error": "Model is overloaded", "error_type": "overloaded"})
    step = server.add_raw(f"overloaded-{twin}", sse_body(overloaded))
    client = make_client(twin, server, retry=budget(10.0, max_retries=1))
    no_leaks.append(client)
    received: list[str] = []
    stream = await stream_text(client, f"{step},ok", key(), received)
    assert "".join(received).startswith("w0 w1")
    assert stream.meta.attempts == 2


async def test_a_chain_503_then_400_raises_the_400_and_keeps_the_503(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    bad = b'{"error":{"message":"max_tokens is too large","type":"invalid_request_error"}}'
    step = server.add_raw(f"400-{twin}", response("400 Bad Request", bad))
    client = make_client(twin, server, max_retries=0, router=True)
    no_leaks.append(client)
    error, _ = await timed(chat(client, f"503:0.01,{step}", key(), provider=["groq", "together"]))
    assert isinstance(error, BadRequestError), error
    assert [type(e) for e in error.failed_providers] == [ServiceUnavailableError]
    assert error.failed_providers[0].provider == "groq"  # as the server named it


async def test_text_generation_stream_errors_carry_the_partial_text(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    def token(i: int, text: str) -> bytes:
        return sse_event({"index": i, "token": {"id": i, "text": text, "special": False}})

    error_event = sse_event({"error": "CUDA out of memory", "error_type": "generation"})
    step = server.add_raw(f"tg-{twin}", sse_body(token(1, "Once"), token(2, " upon"), error_event))
    client = make_client(twin, server)
    no_leaks.append(client)
    headers = fault_headers(step, key())

    async def run() -> None:
        if isinstance(client, HFClient):
            for _ in client.text_generation_stream("tgi", "x", extra_headers=headers):
                pass
        else:
            async for _ in client.text_generation_stream("tgi", "x", extra_headers=headers):
                pass

    error, _ = await timed(run())
    assert isinstance(error, APIError) and error.in_stream
    assert error.partial_text == "Once upon"


# -- the cap on a success body ------------------------------------------------------------------


async def test_a_decompression_bomb_is_cut_at_max_response_bytes(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    bomb = gzip.compress(b'{"id": "' + b"0" * (8 * 1024 * 1024) + b'"}')
    step = server.add_raw(
        f"bomb-{twin}", response("200 OK", bomb, extra="content-encoding: gzip\r\n")
    )
    client = make_client(twin, server, max_response_bytes=1024 * 1024)
    no_leaks.append(client)
    error, _ = await timed(chat(client, step, key()))
    assert isinstance(error, APIError) and "max_response_bytes" in error.message
    assert len(bomb) < 64 * 1024  # small on the wire, 8 MiB decoded


# -- 4. batch keeps what it got -----------------------------------------------------------------


class _Exploding(list[Any]):
    """Messages whose reading raises something untyped (a bug anywhere below `chat`)."""

    def __iter__(self) -> Any:
        raise RuntimeError("boom")


async def test_batch_keeps_every_answer_and_puts_any_error_in_place(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    client = make_client(twin, server, max_retries=0)
    no_leaks.append(client)
    ok = {"model": MODEL, "messages": MESSAGES, "extra_headers": fault_headers("ok", key())}
    requests = [
        ok,
        {"model": MODEL, "messages": _Exploding(MESSAGES)},
        {**ok, "extra_headers": fault_headers("500", key())},
        ok,
    ]
    if isinstance(client, HFClient):
        results = client.batch(requests, max_concurrency=4)  # four threads, one pool
    else:
        results = await client.batch(requests)
    assert [type(r).__name__ for r in results] == [
        "ChatCompletion",
        "HFProvidersError",
        "ServerError",
        "ChatCompletion",
    ]
    assert isinstance(results[1].__cause__, RuntimeError)


def test_threads_making_their_first_calls_together_share_one_pool(server: FakeRouter) -> None:
    # Every thread's first call at once: each used to build its own pool, and close() closed only
    # the last one; the server saw the other sockets open until the garbage collector ran.
    client = HFClient(base_url=server.base_url, api_key=FAKE_TOKEN, max_retries=0)
    threads = 3
    start = threading.Barrier(threads)
    results: list[Any] = []

    def call() -> None:
        start.wait(timeout=5)
        results.append(client.chat(MODEL, MESSAGES, extra_headers=fault_headers("ok", key())))

    gc_was_enabled = gc.isenabled()
    gc.disable()  # a lost pool must not be rescued by a collection while we look
    try:
        workers = [threading.Thread(target=call) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=10)
        assert len(results) == threads
        client.close()
        assert server.wait_idle() == 0, "sockets still open after close()"
    finally:
        if gc_was_enabled:
            gc.enable()


async def test_a_cancelled_async_batch_leaves_no_request_in_flight(
    server: FakeRouter, no_leaks: list[Client]
) -> None:
    client = make_client("async", server)
    no_leaks.append(client)
    assert isinstance(client, AsyncHFClient)
    requests = [
        {"model": MODEL, "messages": MESSAGES, "extra_headers": fault_headers("stall", key())}
        for _ in range(3)
    ]
    task = asyncio.ensure_future(client.batch(requests))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    current = asyncio.current_task()
    assert not [t for t in asyncio.all_tasks() if t is not current and not t.done()]


# -- 10. connections are always released --------------------------------------------------------


def test_async_client_across_event_loops_closes_every_pool(server: FakeRouter) -> None:
    client = AsyncHFClient(base_url=server.base_url, api_key=FAKE_TOKEN)
    headers = fault_headers("ok", key())
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        other = asyncio.run_coroutine_threadsafe(
            client.chat(MODEL, MESSAGES, extra_headers=headers), loop
        )
        assert other.result(10).text

        async def here() -> None:
            assert (await client.chat(MODEL, MESSAGES, extra_headers=headers)).text
            assert len(client._transport._pools) == 2  # one pool per loop
            with pytest.raises(TypeError, match="aclose"):
                client.close()  # never a silent, un-awaited coroutine
            await client.aclose()  # closes both: the other loop's on that loop

        asyncio.run(here())
        assert server.wait_idle() == 0
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def test_async_client_close_outside_a_loop_closes_its_pools(server: FakeRouter) -> None:
    client = AsyncHFClient(base_url=server.base_url, api_key=FAKE_TOKEN)
    loop = asyncio.new_event_loop()
    try:
        answer = loop.run_until_complete(
            client.chat(MODEL, MESSAGES, extra_headers=fault_headers("ok", key()))
        )
        assert answer.text
        assert client.close() is None  # plain, synchronous
        assert client._transport._pools == {}
        assert server.wait_idle() == 0
    finally:
        loop.close()


def test_each_asyncio_run_closes_its_own_pool_when_its_loop_ends(server: FakeRouter) -> None:
    # `asyncio.run()` per call with one long-lived client (scripts, Celery tasks): each run's
    # loop closes its pool on the way out, so no socket outlives its loop (before, each run left
    # one open until the garbage collector found it, with a ResourceWarning).
    client = AsyncHFClient(base_url=server.base_url, api_key=FAKE_TOKEN)
    headers = fault_headers("ok", key())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for _ in range(5):
            answer = asyncio.run(client.chat(MODEL, MESSAGES, extra_headers=headers))
            assert answer.text
            assert client._transport._pools == {}  # forgotten as its loop closed it
            assert server.wait_idle() == 0  # and its socket is closed, now
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    client.close()


def test_threads_with_their_own_loops_share_one_async_client(server: FakeRouter) -> None:
    # Several threads, each calling `asyncio.run()` in turn, on one client: every answer
    # arrives, none ends in a raw error from the shared per-loop map, and no pool is left.
    client = AsyncHFClient(base_url=server.base_url, api_key=FAKE_TOKEN)
    headers = fault_headers("ok", key())
    answers: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        for _ in range(8):
            try:
                answers.append(
                    asyncio.run(client.chat(MODEL, MESSAGES, extra_headers=headers)).text
                )
            except BaseException as error:  # noqa: BLE001 - every failure is the finding
                errors.append(error)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show
    try:
        threads = [threading.Thread(target=worker) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        sys.setswitchinterval(interval)
    assert errors == [] and answers == [ANSWER] * 48
    assert client._transport._pools == {}
    assert server.wait_idle() == 0
    client.close()


@pytest.mark.parametrize("streamed", [False, True])
def test_closing_a_client_ends_its_call_in_flight_without_a_retry(
    server: FakeRouter, streamed: bool
) -> None:
    # `close()` from another thread while a call waits on a stalled server: the call ends in
    # ClientClosedError (not a raw httpx error, not a retry on a new pool behind the caller's
    # back), within its deadline, and leaves no pool open.
    client = HFClient(
        base_url=server.base_url, api_key=FAKE_TOKEN, retry=RetryPolicy(max_retries=3, budget=2)
    )
    k = key()
    outcome: list[BaseException | str] = []

    def call() -> None:
        try:
            if streamed:
                stream = client.stream(MODEL, MESSAGES, extra_headers=fault_headers("stall", k))
                outcome.append(stream.until_done().text)
            else:
                outcome.append(
                    client.chat(MODEL, MESSAGES, extra_headers=fault_headers("stall", k)).text
                )
        except BaseException as error:  # noqa: BLE001 - the outcome is the finding
            outcome.append(error)

    thread = threading.Thread(target=call)
    started = time.monotonic()
    thread.start()
    time.sleep(0.3)
    client.close()
    thread.join(10)
    assert time.monotonic() - started < 2 + SLACK
    assert len(outcome) == 1 and isinstance(outcome[0], ClientClosedError)
    assert server.count(key=k) == 1  # never retried
    assert client._transport._client is None  # no pool reopened by a retry
    assert server.wait_idle() == 0


@pytest.mark.parametrize("streamed", [False, True])
async def test_aclose_ends_the_calls_in_flight_at_once(server: FakeRouter, streamed: bool) -> None:
    client = AsyncHFClient(
        base_url=server.base_url, api_key=FAKE_TOKEN, retry=RetryPolicy(max_retries=3, budget=5)
    )
    k = key()

    async def call() -> str:
        headers = fault_headers("stall", k)
        if streamed:
            return (await client.stream(MODEL, MESSAGES, extra_headers=headers).until_done()).text
        return (await client.chat(MODEL, MESSAGES, extra_headers=headers)).text

    task = asyncio.ensure_future(call())
    await asyncio.sleep(0.3)
    started = time.monotonic()
    await client.aclose()
    with pytest.raises(ClientClosedError):
        await asyncio.wait_for(task, 2)
    assert time.monotonic() - started < 1.0  # at once, not at the deadline
    assert server.count(key=k) == 1
    assert client._transport._pools == {}
    assert server.wait_idle() == 0


# -- the testing switch -------------------------------------------------------------------------


async def test_set_testing_skips_the_waits_but_not_the_decisions(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    waits: list[float] = []
    client = make_client(
        twin,
        server,
        retry=RetryPolicy(max_retries=1, budget=30),
        on_attempt=lambda e: waits.append(e.wait_s or 0.0),
    )
    no_leaks.append(client)
    with hfproviders.set_testing(True):
        answer, elapsed = await timed(chat(client, "429:1,ok", key()))  # Retry-After: 1
    assert answer.meta.attempts == 2
    assert waits[0] == 1.0  # decided and reported
    assert elapsed < 0.9  # not slept
    assert not hfproviders._options.is_testing()  # the context manager restored it
