"""Issue 9, item 8: the rate limiter cannot be poisoned by headers, and it learns from a 429.

Reset values are read as delta seconds, epoch seconds or epoch milliseconds; absurd numbers read
as absent; every learned pause is clamped to `max_pause`; `reset()` forgets what was learned.
The wire tests run both twins against the loopback fake router, with a real limiter.
"""

from __future__ import annotations

import time
import uuid

import pytest

from hfproviders import RateLimiter, RateLimitError, RateLimitWaitTooLongError
from hfproviders._headers import (
    MAX_WAIT_S,
    parse_duration,
    parse_rate_limit,
    parse_retry_after,
    parse_retry_after_ms,
)
from hfproviders.testing import FakeRouter
from tests.reliability.conftest import Client, chat, completion_body, make_client

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12", 12.0),
        ("1.5", 1.5),
        ("250ms", 0.25),
        ("6m0s", 360.0),
        (str(int(NOW + 30)), 30.0),  # epoch seconds
        (str(int((NOW + 30) * 1000)), 30.0),  # epoch milliseconds: not a 57,000-year wait
        (str(int(NOW - 30)), 0.0),  # a reset in the past
        ("99999999999h", MAX_WAIT_S),  # clamped
        ("1e999", None),
        ("9" * 400, None),
        ("nan", None),
        ("-infinity", None),
        ("-5", None),
        ("soon", None),
    ],
)
def test_reset_values_are_read_sanely(value: str, expected: float | None) -> None:
    assert parse_duration(value, NOW) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3.0),
        ("1e999", None),
        ("9" * 400, None),
        ("9" * 300, MAX_WAIT_S),
        ("Thu, 01 Jan 2026 00:00:10 GMT", 10.0),
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_WAIT_S),
        ("nonsense", None),
    ],
)
def test_retry_after_is_clamped(value: str, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == pytest.approx(expected)


def test_retry_after_ms_is_clamped() -> None:
    assert parse_retry_after_ms("1e300") == MAX_WAIT_S
    assert parse_retry_after_ms("inf") is None


def test_absurd_rate_limit_headers_read_as_absent() -> None:
    headers = {
        "x-ratelimit-remaining": "1e999",
        "x-ratelimit-limit": "9" * 400,
        "x-ratelimit-reset": "1e999",
        "x-ratelimit-remaining-tokens": "-inf",
        "ratelimit": f'"api";r={"9" * 400};t={"9" * 400}',
    }
    info = parse_rate_limit(headers, NOW)
    assert info is not None
    assert info.remaining_requests is None
    assert info.limit_requests is None
    assert info.remaining_tokens is None
    assert info.reset_requests_s is None
    ietf = parse_rate_limit({"ratelimit": f'"api";r=0;t={"9" * 300}'}, NOW)
    assert ietf is not None and ietf.reset_requests_s == MAX_WAIT_S  # clamped, not an overflow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_learned_pause_is_clamped_and_can_be_forgotten() -> None:
    clock = Clock()
    limiter = RateLimiter(600, clock=clock, max_wait=None, max_pause=120)
    # Epoch milliseconds in a header that a naive reader takes for seconds: 57,000 years.
    limiter.observe(0, 1.8e12)
    assert limiter.peek_wait() == pytest.approx(120.0)
    limiter.reset()
    assert limiter.peek_wait() == 0.0
    limiter.observe(0, float("inf"))
    limiter.observe(0, float("nan"))
    assert limiter.peek_wait() == 0.0


def test_a_429_with_only_retry_after_pauses_the_limiter() -> None:
    clock = Clock()
    limiter = RateLimiter(600, clock=clock, max_wait=None)
    info = parse_rate_limit({"retry-after": "20"}, NOW)
    limiter.observe_rate_limit(info)  # on a success, Retry-After alone means nothing
    assert limiter.peek_wait() == 0.0
    limiter.observe_rate_limit(info, status_code=429)
    assert limiter.peek_wait() == pytest.approx(20.0)
    clock.now += 20
    assert limiter.peek_wait() == 0.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"requests_per_minute": float("nan")},
        {"requests_per_minute": "60"},
        {"requests_per_minute": 60, "max_pause": float("nan")},
        {"requests_per_minute": 60, "max_wait": float("inf")},
        {"requests_per_minute": 60, "burst": float("nan")},
    ],
)
def test_limiter_options_are_checked(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must be"):
        RateLimiter(**kwargs)  # type: ignore[arg-type]


# -- on the wire, both twins ----------------------------------------------------------------------


def _raw_response(status: str, body: bytes, extra: str) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n{extra}\r\n"
    )
    return head.encode() + body


async def test_wire_429_retry_after_pauses_the_next_call(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    step = server.add_raw(
        "429-only-retry-after",
        _raw_response(
            "429 Too Many Requests",
            b'{"error":{"message":"Rate limit exceeded","type":"rate_limit_error"}}',
            "retry-after: 30\r\n",
        ),
    )
    limiter = RateLimiter(6000, max_wait=1.0)
    client = make_client(twin, server, max_retries=0, rate_limiter=limiter)
    no_leaks.append(client)

    with pytest.raises(RateLimitError):
        await chat(client, step, uuid.uuid4().hex)
    assert 25.0 < limiter.peek_wait() <= 30.0
    sent = len(server.requests)
    started = time.monotonic()
    with pytest.raises(RateLimitWaitTooLongError):
        await chat(client, "ok", uuid.uuid4().hex)
    assert time.monotonic() - started < 1.0  # refused at once, not after waiting
    assert len(server.requests) == sent  # and nothing was sent

    limiter.reset()
    answer = await chat(client, "ok", uuid.uuid4().hex)
    assert answer.text


async def test_wire_poisoned_headers_still_give_the_answer(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    epoch_ms = int((time.time() + 3600) * 1000)
    step = server.add_raw(
        "poisoned-rate-limit",
        _raw_response(
            "200 OK",
            completion_body(),
            f"x-ratelimit-remaining-requests: 0\r\nx-ratelimit-reset-requests: {epoch_ms}\r\n"
            "x-ratelimit-remaining: 1e999\r\nx-ratelimit-limit: " + "9" * 400 + "\r\n",
        ),
    )
    limiter = RateLimiter(6000, max_wait=None, max_pause=5.0)
    client = make_client(twin, server, rate_limiter=limiter)
    no_leaks.append(client)

    answer = await chat(client, step, uuid.uuid4().hex)
    assert answer.text
    info = answer.meta.rate_limit
    assert info is not None and info.remaining_requests == 0
    assert info.limit_requests is None
    assert 3590 < (info.reset_requests_s or 0) <= 3600  # epoch ms read as a one-hour reset
    assert 0 < limiter.peek_wait() <= 5.0  # the pause is clamped to max_pause
