"""Fault scenarios against a real socket server: typed errors or success after retries.

Each test runs on both twins, bounds its wall time, and (through `no_leaks`) checks that no
connection, thread or task is left behind. Retry waits are shrunk to milliseconds, except the
waits a server asks for, which are honoured as sent.
"""

from __future__ import annotations

import time
import uuid

import pytest

from hfproviders import (
    APIConnectionError,
    APITimeoutError,
    BadRequestError,
    RateLimitError,
    ServerError,
    ServiceUnavailableError,
    StreamError,
)
from hfproviders.testing import FakeRouter
from tests.reliability.conftest import ANSWER, STREAM_TEXT, Client, chat, make_client, stream_text


def key() -> str:
    return uuid.uuid4().hex


class Clock:
    """Wall time of a block."""

    def __enter__(self) -> Clock:
        self.start = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.monotonic() - self.start


# -- connection failures ---------------------------------------------------------------------


async def test_reset_before_headers_is_retried_then_raised(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    client = make_client(twin, server)
    no_leaks.append(client)
    k = key()
    with Clock() as clock, pytest.raises(APIConnectionError) as info:
        await chat(client, "reset", k)
    assert not isinstance(info.value, APITimeoutError)
    assert server.count(key=k) == 3  # first attempt + max_retries=2
    assert clock.elapsed < 2.0


async def test_reset_before_headers_then_success(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    client = make_client(twin, server)
    no_leaks.append(client)
    k = key()
    with Clock() as clock:
        result = await chat(client, "reset,ok", k)
    assert result.choices[0].message.content == ANSWER
    assert result.meta.attempts == 2
    assert server.count(key=k) == 2
    assert clock.elapsed < 2.0


async def test_reset_after_headers_non_stream_is_retried(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    client = make_client(twin, server)
    no_leaks.append(client)
    k = key()
    with Clock() as clock:
        result = await chat(client, "reset_after,ok", k)
    assert result.meta.attempts == 2
    assert server.count(key=k) == 2
    assert clock.elapsed < 2.0


async def test_reset_after_first_event_raises_in_stream_without_retry(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    client = make_client(twin, server)
    no_leaks.append(client)
    k = key()
    received: list[str] = []
    with Clock() as clock, pytest.raises(APIConnectionError) as info:
        await stream_text(client, "reset_after,ok", k, received)
    assert info.value.in_stream
    assert received == STREAM_TEXT[:1]
    assert info.value.partial is not None
    assert info.value.partial.choices[0].message.content == STREAM_TEXT[0]
    assert server.count(key=k) == 1  # never retried once an event was delivered
    assert clock.elapsed < 2.0


async def test_disconnect_mid_stream_keeps_what_arrived(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    client = make_client(twin, server)
    no_leaks.append(client)
    k = key()
    received: list[str] = []
    with Clock() as clock, pytest.raises(APIConnectionError) as info:
        await stream_text(client, "disconnect:5", k, received)
    assert info.value.in_stream
    assert received == STREAM_TEXT[:5]
    assert server.count(key=k) == 1
    assert clock.elapsed < 2.0


# -- timeouts --------------------------------------------------------------------------------


async def test_slow_drip_trips_the_read_timeout(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    client = make_client(twin, server, timeout=0.3)
    no_leaks.append(client)
    k = key()
    received: list[str] = []
    with Clock() as clock, pytest.raises(APITimeoutError) as info:
        await stream_text(client, "drip", k, received)
    assert info.value.in_stream
    assert received == STREAM_TEXT[:1]
    assert server.count(key=k) == 1
    assert 0.25 < clock.elapsed < 1.5


async def test_no_answer_times_out_on_every_attempt(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    client = make_client(twin, server, timeout=0.2, max_retries=1)
    no_leaks.append(client)
    k = key()
    with Clock() as clock, pytest.raises(APITimeoutError):
        await chat(client, "stall", k)
    assert server.count(key=k) == 2
    assert 0.35 < clock.elapsed < 2.0


# -- broken streams ----------------------------------------------------------------------------


async def test_sse_truncated_mid_event(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    client = make_client(twin, server)
    no_leaks.append(client)
    k = key()
    received: list[str] = []
    with pytest.raises(StreamError) as info:
        await stream_text(client, "truncated", k, received)
    assert info.value.in_stream
    assert "middle of an event" in info.value.message
    assert received == STREAM_TEXT[:2]
    assert info.value.partial is not None
    assert info.value.partial.choices[0].message.content == "".join(STREAM_TEXT[:2])
    assert server.count(key=k) == 1


async def test_malformed_json_chunk(twin: str, server: FakeRouter, no_leaks: list[Client]) -> None:
    client = make_client(twin, server)
    no_leaks.append(client)
    k = key()
    received: list[str] = []
    with pytest.raises(StreamError) as info:
        await stream_text(client, "malformed", k, received)
    assert info.value.in_stream
    assert "Malformed JSON" in info.value.message
    assert received == STREAM_TEXT[:2]
    assert server.count(key=k) == 1


async def test_error_event_inside_a_200_stream(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    client = make_client(twin, server)
    no_leaks.append(client)
    k = key()
    received: list[str] = []
    with pytest.raises(BadRequestError) as info:
        await stream_text(client, "error_event", k, received)
    assert info.value.status_code == 422
    assert info.value.in_stream
    assert received == STREAM_TEXT[:1]
    assert server.count(key=k) == 1


# -- rate limits and overload ------------------------------------------------------------------


async def test_429_burst_without_retry_after_then_success(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    client = make_client(twin, server)
    no_leaks.append(client)
    k = key()
    with Clock() as clock:
        result = await chat(client, "429,429,ok", k)
    assert result.meta.attempts == 3
    assert server.count(key=k) == 3
    assert clock.elapsed < 1.0  # backoff, shrunk by the test policy


async def test_429_that_never_ends_raises_rate_limit_error(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    client = make_client(twin, server)
    no_leaks.append(client)
    k = key()
    with pytest.raises(RateLimitError) as info:
        await chat(client, "429", k)
    assert info.value.status_code == 429
    assert info.value.provider == "together"
    assert info.value.request_id == server.last_request.request_id
    assert server.count(key=k) == 3


async def test_429_retry_after_seconds_is_honoured(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    client = make_client(twin, server)
    no_leaks.append(client)
    k = key()
    with Clock() as clock:
        result = await chat(client, "429:1,ok", k)
    assert result.meta.attempts == 2
    assert 0.95 < clock.elapsed < 2.5


async def test_429_retry_after_ms_burst(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    client = make_client(twin, server)
    no_leaks.append(client)
    k = key()
    with Clock() as clock:
        result = await chat(client, "429ms:20,429ms:20,ok", k)
    assert result.meta.attempts == 3
    assert 0.035 < clock.elapsed < 1.0


async def test_429_asking_past_the_budget_raises_at_once(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    client = make_client(twin, server)
    no_leaks.append(client)
    k = key()
    with Clock() as clock, pytest.raises(RateLimitError) as info:
        await chat(client, "429:120,ok", k)
    assert info.value.retry_after == 120
    assert server.count(key=k) == 1
    assert clock.elapsed < 1.0


async def test_503_estimated_time_is_waited_then_success(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    client = make_client(twin, server)
    no_leaks.append(client)
    k = key()
    with Clock() as clock:
        result = await chat(client, "503:0.3,ok", k)
    assert result.meta.attempts == 2
    assert 0.28 < clock.elapsed < 2.0


async def test_503_estimated_time_past_the_budget_raises_at_once(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    client = make_client(twin, server)
    no_leaks.append(client)
    k = key()
    with Clock() as clock, pytest.raises(ServiceUnavailableError) as info:
        await chat(client, "503:20,ok", k)
    assert info.value.estimated_time == 20.0
    assert "currently loading" in info.value.message
    assert server.count(key=k) == 1
    assert clock.elapsed < 1.0


async def test_502_html_page_is_summarised(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    client = make_client(twin, server)
    no_leaks.append(client)
    k = key()
    with pytest.raises(ServerError) as info:
        await chat(client, "502", k)
    assert info.value.status_code == 502
    assert "Hugging Face" in info.value.message
    assert "<p>" not in str(info.value)
    assert len(str(info.value)) < 400
    assert server.count(key=k) == 3


async def test_oversized_error_body_is_capped(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    client = make_client(twin, server, max_retries=1)
    no_leaks.append(client)
    k = key()
    with Clock() as clock, pytest.raises(ServerError) as info:
        await chat(client, "500huge", k)
    assert info.value.body is not None
    assert len(info.value.body) <= 64 * 1024
    assert len(str(info.value)) < 400
    assert server.count(key=k) == 2
    assert clock.elapsed < 3.0


async def test_large_answer_arrives_whole(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    client = make_client(twin, server)
    no_leaks.append(client)
    with Clock() as clock:
        result = await chat(client, "big", key())
    assert result.choices[0].message.content == "x" * (2 * 1024 * 1024)
    assert clock.elapsed < 3.0


async def test_clean_stream_after_faults_on_the_same_client(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    """The pool stays healthy: a reset, a 502 and a broken stream, then a clean stream."""
    client = make_client(twin, server, max_retries=0)
    no_leaks.append(client)
    for seq, error in (("reset", APIConnectionError), ("502", ServerError)):
        with pytest.raises(error):
            await chat(client, seq, key())
    with pytest.raises(StreamError):
        await stream_text(client, "malformed", key(), [])
    received: list[str] = []
    stream = await stream_text(client, "ok", key(), received)
    assert received == STREAM_TEXT
    assert stream.completion.usage.total_tokens == 25
