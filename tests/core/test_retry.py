"""Retry policy: Retry-After parsing with a fixed clock, rate-limit headers, backoff, decisions."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from hfproviders import (
    APIConnectionError,
    APITimeoutError,
    BadRequestError,
    ModelNotSupportedError,
    PaymentRequiredError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    ServiceUnavailableError,
    StreamError,
)
from hfproviders._headers import parse_duration, parse_rate_limit, parse_retry_after
from hfproviders._retry import (
    backoff_wait,
    decide_retry,
    is_failover_eligible,
    is_retryable,
    server_requested_wait,
)
from hfproviders._types import RateLimitInfo

NOW = 1_764_000_000.0  # a fixed clock: 2025-11-24T16:00:00Z
AT_NOW = datetime.fromtimestamp(NOW, UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", 1.0),
        ("0", 0.0),
        ("2.5", 2.5),
        (" 30 ", 30.0),
        ("-5", 0.0),
        (format_datetime(datetime.fromtimestamp(NOW + 120, UTC), usegmt=True), 120.0),
        ("Mon, 24 Nov 2025 16:00:30 GMT", 30.0),
        (format_datetime(datetime.fromtimestamp(NOW - 60, UTC), usegmt=True), 0.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12", 12.0),
        ("1.5", 1.5),
        ("250ms", 0.25),
        ("6m0s", 360.0),
        ("1h2m", 3720.0),
        (str(int(NOW + 42)), 42.0),
        ("later", None),
        ("-1", None),
    ],
)
def test_parse_duration(value: str, expected: float | None) -> None:
    assert parse_duration(value, NOW) == expected


def test_together_rate_limit_headers() -> None:
    info = parse_rate_limit(
        {
            "x-ratelimit-limit": "10",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": "2",
            "x-ratelimit-limit-tokens": "1000",
            "x-ratelimit-remaining-tokens": "900",
            "retry-after": "2",
            "content-type": "application/json",
        },
        NOW,
    )
    assert info is not None
    assert (info.limit_requests, info.remaining_requests, info.reset_requests_s) == (10, 0, 2.0)
    assert (info.limit_tokens, info.remaining_tokens) == (1000, 900)
    assert info.retry_after_s == 2.0
    assert info.exhausted
    assert "content-type" not in info.raw


def test_openai_style_and_cerebras_headers() -> None:
    info = parse_rate_limit(
        {
            "x-ratelimit-limit-requests": "60",
            "x-ratelimit-remaining-requests": "59",
            "x-ratelimit-reset-requests": "1s",
            "x-ratelimit-remaining-tokens-minute": "0",
            "x-ratelimit-reset-tokens-minute": "33.5",
        },
        NOW,
    )
    assert info is not None
    assert (info.limit_requests, info.remaining_requests, info.reset_requests_s) == (60, 59, 1.0)
    assert (info.remaining_tokens, info.reset_tokens_s) == (0, 33.5)
    assert info.exhausted


def test_ietf_ratelimit_headers_of_the_hub() -> None:
    info = parse_rate_limit(
        {"ratelimit": '"api";r=0;t=242', "ratelimit-policy": '"fixed window";"api";q=1000;w=300'},
        NOW,
    )
    assert info is not None
    assert (info.limit_requests, info.remaining_requests, info.reset_requests_s) == (1000, 0, 242.0)


def test_retry_after_ms_wins_and_no_headers_gives_none() -> None:
    info = parse_rate_limit({"retry-after-ms": "1500", "retry-after": "9"}, NOW)
    assert info is not None and info.retry_after_s == 1.5
    assert parse_rate_limit({"content-type": "text/plain"}, NOW) is None


def test_backoff_is_exponential_capped_and_fully_jittered() -> None:
    policy = RetryPolicy(wait_initial=0.5, wait_max=4.0, wait_jitter=False)
    assert [backoff_wait(policy, n, lambda: 0.5) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    jittered = RetryPolicy(wait_initial=0.5, wait_max=4.0)
    assert backoff_wait(jittered, 3, lambda: 0.25) == 0.5
    assert backoff_wait(jittered, 3, lambda: 0.0) == 0.0


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (RateLimitError("x", status_code=429), True),
        (ServerError("x", status_code=500), True),
        (ServerError("x", status_code=502), True),
        (ServiceUnavailableError("x", status_code=503), True),
        (ServerError("x", status_code=504), True),
        (ServerError("x", status_code=408), True),
        (APIConnectionError("reset"), True),
        (APITimeoutError("read"), True),
        (BadRequestError("x", status_code=400), False),
        (BadRequestError("x", status_code=422), False),
        (PaymentRequiredError("x", status_code=402), False),
        (ServerError("x", status_code=501), False),
    ],
)
def test_what_is_retryable(error: Exception, retryable: bool) -> None:
    assert is_retryable(error) is retryable  # type: ignore[arg-type]


def test_errors_inside_a_started_stream_are_not_retried() -> None:
    early = StreamError("cut", status_code=200)
    late = ServerError("boom", status_code=500)
    late.in_stream = True
    assert is_retryable(early)
    assert not is_retryable(late)


def test_failover_eligibility_never_covers_caller_errors() -> None:
    assert is_failover_eligible(ServiceUnavailableError("x", status_code=503))
    assert is_failover_eligible(ModelNotSupportedError("x", status_code=400))
    assert is_failover_eligible(APIConnectionError("x"))
    for status in (400, 401, 402, 403, 422):
        assert not is_failover_eligible(BadRequestError("x", status_code=status))


def test_server_wait_sources() -> None:
    assert server_requested_wait(RateLimitError("x", status_code=429, retry_after=3)) == 3
    spent = RateLimitInfo(remaining_requests=0, reset_requests_s=7.0)
    assert server_requested_wait(RateLimitError("x", status_code=429, rate_limit=spent)) == 7.0
    loading = ServiceUnavailableError("x", status_code=503, estimated_time=20.0)
    assert server_requested_wait(loading) == 20.0
    assert server_requested_wait(RateLimitError("x", status_code=429)) is None


def test_decide_retry_uses_server_wait_then_backoff_then_gives_up() -> None:
    policy = RetryPolicy(max_retries=2, wait_initial=1.0, wait_jitter=False, budget=60)
    hinted = RateLimitError("x", status_code=429, retry_after=5)
    assert decide_retry(policy, hinted, 1, 0.0).wait == 5
    plain = ServerError("x", status_code=502)
    assert decide_retry(policy, plain, 1, 0.0).wait == 1.0
    assert decide_retry(policy, plain, 2, 0.0).wait == 2.0
    final = decide_retry(policy, plain, 3, 0.0)
    assert not final.retry and "3 attempts" in final.reason


def test_decide_retry_refuses_a_wait_over_the_budget() -> None:
    policy = RetryPolicy(max_retries=5, budget=10)
    decision = decide_retry(policy, RateLimitError("x", status_code=429, retry_after=30), 1, 2.0)
    assert not decision.retry and decision.over_budget and decision.wait == 30
    assert "30.0s" in decision.reason and "8.0s" in decision.reason


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_retries=-1)
    with pytest.raises(ValueError):
        RetryPolicy(budget=0)
