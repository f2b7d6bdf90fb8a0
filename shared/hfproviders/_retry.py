"""Retry decisions as pure functions, shared by the sync and async clients.

Only the loops in `_client.py` differ (`time.sleep` vs `asyncio.sleep`); every decision is here:
what is retryable, how long to wait (server hints first, then exponential backoff with full
jitter), and when to give up (attempts, and a total time budget). A server that asks for a wait
longer than the budget allows gets an immediate, typed error carrying that wait.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from hfproviders._errors import (
    APIConnectionError,
    APIError,
    HFProvidersError,
    ModelNotFoundError,
    ModelNotSupportedError,
    StreamError,
)

__all__ = [
    "RETRYABLE_STATUS",
    "RetryDecision",
    "RetryPolicy",
    "backoff_wait",
    "decide_retry",
    "is_failover_eligible",
    "is_retryable",
    "server_requested_wait",
]

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to retry one call.

    - `max_retries`: retries after the first attempt (0 disables retrying).
    - `wait_initial` / `wait_max`: the exponential backoff starts at `wait_initial` seconds and
      doubles up to `wait_max`; with `wait_jitter` the actual wait is uniform in [0, that]
      ("full jitter"), so many clients do not retry in lockstep.
    - `budget`: total seconds for the whole call: every attempt, every wait, every byte read,
      every provider of a failover chain. Default (None): the client's `timeout`. A wait that
      would overrun it is not taken; a read that would is cut with `APITimeoutError`.

    Example: `HFClient(retry=RetryPolicy(max_retries=5, budget=30))`.
    """

    max_retries: int = 2
    wait_initial: float = 0.5
    wait_max: float = 30.0
    wait_jitter: bool = True
    budget: float | None = None

    def __post_init__(self) -> None:
        # Typed input errors (InvalidParameterError is a ValueError): 1.5 retries, a NaN budget,
        # a string wait are refused here, not discovered mid-call.
        from hfproviders._params import check_count, check_timeout

        check_count(self.max_retries, "max_retries")
        for name in ("wait_initial", "wait_max"):
            value = getattr(self, name)
            if value != 0:
                check_timeout(value, name)  # a finite number of seconds > 0 (or exactly 0)
        if self.budget is not None and self.budget != math.inf:
            check_timeout(self.budget, "budget")


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """The outcome of `decide_retry`: whether to retry, after how long, and why."""

    retry: bool
    wait: float
    reason: str
    over_budget: bool = False


def is_retryable(error: HFProvidersError) -> bool:
    """Transient failures: 408/429/5xx, connection problems, and streams that broke early."""
    if isinstance(error, APIConnectionError):
        return True
    if isinstance(error, StreamError):
        return not error.in_stream
    if isinstance(error, APIError) and not error.in_stream:
        return error.status_code in RETRYABLE_STATUS
    return False


def is_failover_eligible(error: HFProvidersError) -> bool:
    """Failures that another provider may not have (after this provider's own retries).

    Never errors the request itself caused: 400/422 validation, 401, 402, 403.
    """
    if isinstance(error, ModelNotSupportedError):
        return True
    if isinstance(error, ModelNotFoundError):
        return False
    return is_retryable(error)


def server_requested_wait(error: HFProvidersError) -> float | None:
    """The wait the server asked for, if any.

    Retry-After(-ms), a spent rate-limit window's reset, or a loading model's `estimated_time`.
    """
    if error.retry_after is not None:
        return error.retry_after
    info = error.rate_limit
    if error.status_code == 429 and info is not None:
        if info.retry_after_s is not None:
            return info.retry_after_s
        if info.remaining_requests == 0 and info.reset_requests_s is not None:
            return info.reset_requests_s
        if info.remaining_tokens == 0 and info.reset_tokens_s is not None:
            return info.reset_tokens_s
    if error.status_code == 503 and error.estimated_time is not None:
        return error.estimated_time
    return None


def backoff_wait(policy: RetryPolicy, retry_number: int, rand: Callable[[], float]) -> float:
    """Exponential backoff for the `retry_number`-th retry (1-based), with full jitter."""
    cap = min(policy.wait_max, policy.wait_initial * 2.0 ** (retry_number - 1))
    return rand() * cap if policy.wait_jitter else cap


def decide_retry(
    policy: RetryPolicy,
    error: HFProvidersError,
    attempts: int,
    elapsed: float,
    rand: Callable[[], float] = random.random,
    *,
    budget: float | None = None,
) -> RetryDecision:
    """Decide what to do after a failed attempt.

    `attempts` attempts were made so far; the call started `elapsed` seconds ago and may take
    `budget` seconds in all (default: the policy's budget, else no limit).
    """
    if not is_retryable(error):
        return RetryDecision(False, 0.0, "not retryable")
    if attempts > policy.max_retries:
        return RetryDecision(False, 0.0, f"gave up after {attempts} attempts")
    requested = server_requested_wait(error)
    wait = requested if requested is not None else backoff_wait(policy, attempts, rand)
    total = budget if budget is not None else policy.budget
    left = (total if total is not None else float("inf")) - elapsed
    if wait > left:
        source = "the server asked to wait" if requested is not None else "backoff would wait"
        return RetryDecision(
            False,
            wait,
            f"{source} {wait:.1f}s, more than the {max(left, 0.0):.1f}s left of the retry budget",
            over_budget=True,
        )
    return RetryDecision(True, wait, "server wait" if requested is not None else "backoff")
