"""Client-side rate limiting: a token bucket for requests/min (and optionally tokens/min).

`RateLimiter` is opt-in (`HFClient(rate_limiter=RateLimiter(60))`). The client calls `acquire` (or
`await aacquire`) before **every HTTP attempt**, retries and failover attempts included, because
that is what a provider's quota counts. After each response it passes the parsed rate-limit
headers to `observe_rate_limit`, so when the server says the quota is spent the next call waits
for the reset instead of taking a 429.

How a wait is decided (pure, shared by both twins): under a short lock, the call *reserves* its
share of the bucket and learns how long to wait; it then sleeps **outside** the lock. Reserving
before sleeping keeps callers in arrival order, lets any number of threads and tasks share one
limiter, and never blocks the event loop: the async twin only ever waits in `async_sleep`, so no
asyncio lock is needed. A cancelled or interrupted wait gives its reservation back.

What the limiter learns from the server is bounded too: a pause is never longer than `max_pause`
seconds (default 10 minutes), whatever a header says, and `reset()` forgets every learned pause.
A 429 that names a wait (`Retry-After`, `retry-after-ms`, or a spent window's reset) pauses the
limiter for that wait, so the calls queued behind it do not walk into the same 429.

Waits are bounded: if a call would wait longer than `max_wait` seconds it raises
`RateLimitWaitTooLongError` at once (with the wait in `retry_after`) and reserves nothing.

With LangChain and LlamaIndex, use one limiter per quota, not two. Ours counts HTTP requests and
reacts to the server's headers; the frameworks' `rate_limiter` counts model calls. Setting both
on one model works (the stricter one wins) but is redundant; an adapter must never pass the
framework's limiter down to the core, or each call would be counted twice.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hfproviders._errors import InvalidParameterError, RateLimitWaitTooLongError

if TYPE_CHECKING:
    from hfproviders._types import RateLimitInfo

__all__ = ["RateLimiter", "Reservation", "TokenBucket"]


@dataclass(slots=True)
class TokenBucket:
    """A token bucket that may go into debt: pure arithmetic, no clock, no lock.

    `level` may become negative: each reservation takes its amount at once, and the debt tells
    the next caller how long to wait. That is what keeps concurrent callers in order.
    `updated` may lie in the future when the bucket is paused (`pause_until`): nothing accrues
    and nothing starts before it.
    """

    rate_per_s: float
    capacity: float
    level: float
    updated: float

    def refill(self, now: float) -> None:
        """Add what accrued since the last update, up to the capacity."""
        if now > self.updated:
            self.level = min(self.capacity, self.level + (now - self.updated) * self.rate_per_s)
            self.updated = now

    def wait_for(self, amount: float, now: float) -> float:
        """Seconds from `now` until `amount` could be taken, without taking it."""
        self.refill(now)
        paused = max(0.0, self.updated - now)
        short = amount - self.level
        return paused + (short / self.rate_per_s if short > 0 else 0.0)

    def take(self, amount: float) -> None:
        """Reserve `amount` (the level may go negative)."""
        self.level -= amount

    def give_back(self, amount: float) -> None:
        """Return an unused reservation."""
        self.level = min(self.capacity, self.level + amount)

    def pause_until(self, when: float, now: float) -> None:
        """Start nothing before `when` (the server's reset); what is left is usable from then."""
        self.refill(now)
        self.updated = max(self.updated, when)


def _reset_if_spent(remaining: int | None, reset_s: float | None) -> float | None:
    """Return the reset delay when the server says the quota is spent, else None."""
    if (
        remaining is not None
        and remaining <= 0
        and reset_s is not None
        and reset_s > 0
        and math.isfinite(reset_s)
    ):
        return reset_s
    return None


def _finite_at_least(value: object, low: float) -> bool:
    """True for a real finite number >= low (bools and strings are not numbers here)."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= low
    )


class RateLimiter:
    """A token-bucket limiter on requests per minute, optionally also on tokens per minute.

    - `requests_per_minute`: the sustained request rate.
    - `tokens_per_minute`: optional; each `acquire(tokens=n)` also takes `n` (an estimate, e.g.
      prompt size plus `max_tokens`) from a second bucket. Correct the estimate afterwards with
      `record_usage`.
    - `burst`: how many requests may go back to back after a quiet period (default: one
      second's worth, at least 1), so a full minute's quota is never fired at once.
    - `max_wait`: the longest a call may wait, in seconds (None: no bound).
    - `max_pause`: the longest pause learned from the server (rate-limit headers, a 429's
      `Retry-After`), in seconds; longer resets are clamped to it.
    - `clock`, `sleep`, `async_sleep`: injectable for tests (monotonic seconds).

    Safe to share across threads and asyncio tasks (and event loops) of one process.

    >>> limiter = RateLimiter(requests_per_minute=600)
    >>> limiter.acquire()  # seconds waited
    0.0
    """

    def __init__(
        self,
        requests_per_minute: float,
        tokens_per_minute: float | None = None,
        *,
        burst: float | None = None,
        max_wait: float | None = 60.0,
        max_pause: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        if not _finite_at_least(requests_per_minute, 0.0) or requests_per_minute == 0:
            raise InvalidParameterError("requests_per_minute must be a positive number")
        if tokens_per_minute is not None and (
            not _finite_at_least(tokens_per_minute, 0.0) or tokens_per_minute == 0
        ):
            raise InvalidParameterError("tokens_per_minute must be a positive number, or None")
        if burst is not None and not _finite_at_least(burst, 1.0):
            raise InvalidParameterError("burst must be a number >= 1")
        if max_wait is not None and not _finite_at_least(max_wait, 0.0):
            raise InvalidParameterError("max_wait must be a number >= 0, or None")
        if not _finite_at_least(max_pause, 0.0):
            raise InvalidParameterError("max_pause must be a number >= 0")
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute
        self.max_wait = max_wait
        self.max_pause = float(max_pause)
        self._clock = clock
        self._sleep = sleep
        self._async_sleep = async_sleep
        self._lock = threading.Lock()
        self._shared = False  # True when `_reserve`/`_release` do network I/O (RedisRateLimiter)
        self._burst = burst
        self._requests, self._tokens = self._fresh_buckets(clock())

    def _fresh_buckets(self, now: float) -> tuple[TokenBucket, TokenBucket | None]:
        rpm, tpm = self.requests_per_minute, self.tokens_per_minute
        capacity = self._burst if self._burst is not None else max(1.0, rpm / 60.0)
        requests = TokenBucket(rpm / 60.0, capacity, capacity, now)
        # Token costs vary a lot per call, so the token bucket holds a full minute's worth.
        tokens = TokenBucket(tpm / 60.0, tpm, tpm, now) if tpm is not None else None
        return requests, tokens

    def reset(self) -> None:
        """Forget everything learned and used: full buckets, no pause from the server.

        For when the quota is known to be fresh again (a new key, a window that ended early), or
        to recover from headers that were wrong.
        """
        with self._lock:
            self._requests, self._tokens = self._fresh_buckets(self._clock())

    def __repr__(self) -> str:
        return (
            f"RateLimiter(requests_per_minute={self.requests_per_minute}, "
            f"tokens_per_minute={self.tokens_per_minute}, max_wait={self.max_wait})"
        )

    # -- the pure decision, shared by both twins -----------------------------------------------

    def _wait_locked(self, tokens: int, now: float) -> float:
        wait = self._requests.wait_for(1, now)
        if self._tokens is not None:
            wait = max(wait, self._tokens.wait_for(tokens, now))
        return wait

    def _reserve(self, tokens: int) -> float:
        """Reserve one request (and `tokens`), returning the seconds to wait before sending."""
        if tokens < 0:
            raise ValueError("tokens must be >= 0")
        with self._lock:
            now = self._clock()
            wait = self._wait_locked(tokens, now)
            if self.max_wait is not None and wait > self.max_wait:
                raise RateLimitWaitTooLongError(
                    f"The client-side rate limiter would wait {wait:.1f}s, "
                    f"more than max_wait={self.max_wait:g}s",
                    retry_after=wait,
                )
            self._requests.take(1)
            if self._tokens is not None:
                self._tokens.take(tokens)
            return wait

    def _release(self, tokens: int) -> None:
        with self._lock:
            self._requests.give_back(1)
            if self._tokens is not None:
                self._tokens.give_back(tokens)

    # -- the I/O twins ---------------------------------------------------------------------------

    def acquire(self, tokens: int = 1) -> float:
        """Wait (blocking this thread) until one request and `tokens` may go; return the wait.

        Raises `RateLimitWaitTooLongError` without waiting when the wait would exceed `max_wait`.
        """
        return self._wait_turn(self._reserve(tokens), tokens)

    async def aacquire(self, tokens: int = 1) -> float:
        """Async twin of `acquire`: waits with `async_sleep`, never blocking the event loop.

        A shared limiter's round trips are awaited on the loop (`hfproviders._state.async_step`).
        """
        if self._shared:
            from hfproviders._state import async_step

            wait = await async_step(self._reserve, tokens)
        else:
            wait = self._reserve(tokens)
        return await self._await_turn(wait, tokens)

    def _wait_turn(self, wait: float, tokens: int) -> float:
        """Sleep until a reserved turn; an interrupted sleep gives the reservation back."""
        if wait > 0:
            try:
                self._sleep(wait)
            except BaseException:
                self._release(tokens)
                raise
        return wait

    async def _await_turn(self, wait: float, tokens: int) -> float:
        """Async twin of `_wait_turn`."""
        if wait > 0:
            if self._async_sleep is None:
                import asyncio  # lazily: `import hfproviders` does not pay for asyncio

                self._async_sleep = asyncio.sleep
            try:
                await self._async_sleep(wait)
            except BaseException:
                if self._shared:
                    from hfproviders._state import async_step

                    await async_step(self._release, tokens)
                else:
                    self._release(tokens)
                raise
        return wait

    def try_acquire(self, tokens: int = 1) -> bool:
        """Take one request (and `tokens`) only if that needs no wait; never sleeps."""
        if tokens < 0:
            raise ValueError("tokens must be >= 0")
        with self._lock:
            if self._wait_locked(tokens, self._clock()) > 0:
                return False
            self._requests.take(1)
            if self._tokens is not None:
                self._tokens.take(tokens)
            return True

    async def atry_acquire(self, tokens: int = 1) -> bool:
        """Async twin of `try_acquire` (never sleeps; a shared limiter's round trip is awaited)."""
        if self._shared:
            from hfproviders._state import async_step

            return await async_step(self.try_acquire, tokens)
        return self.try_acquire(tokens)

    # -- feedback --------------------------------------------------------------------------------

    def peek_wait(self, tokens: int = 1) -> float:
        """Seconds the next `acquire(tokens)` would wait now, reserving nothing."""
        with self._lock:
            return self._wait_locked(tokens, self._clock())

    def observe(
        self,
        remaining_requests: int | None,
        reset_s: float | None,
        *,
        remaining_tokens: int | None = None,
        reset_tokens_s: float | None = None,
    ) -> None:
        """Adapt to the server's rate-limit headers after a response.

        When the server says nothing is left (`remaining_* <= 0`) and when it resets (seconds
        from now), no call starts before the reset (at most `max_pause` from now), and calls
        queued meanwhile resume at the bucket's pace from then. Without a reset time nothing
        changes: we cannot know how long to wait, and the retry layer handles the 429 if one
        comes.
        """
        self._paused(
            _reset_if_spent(remaining_requests, reset_s) or 0.0,
            _reset_if_spent(remaining_tokens, reset_tokens_s) or 0.0,
        )

    def observe_throttled(self, wait_s: float | None) -> None:
        """A 429 arrived that asked for `wait_s` seconds: start nothing before then.

        The wait is clamped to `max_pause`; None, NaN or a non-positive wait change nothing.
        """
        if wait_s is None or not wait_s > 0 or not math.isfinite(wait_s):
            return
        self._paused(wait_s, 0.0)

    def _paused(self, request_s: float, token_s: float) -> None:
        """The decision behind both: what pauses, and for how long (0: nothing)."""
        request_s, token_s = min(request_s, self.max_pause), min(token_s, self.max_pause)
        if token_s > 0 and self.tokens_per_minute is None:
            # Without a token bucket a spent token quota still stops requests.
            request_s, token_s = max(request_s, token_s), 0.0
        if request_s > 0 or token_s > 0:
            self._pause(request_s, token_s)

    def _pause(self, request_s: float, token_s: float) -> None:
        """Start no request for `request_s` s, take no tokens for `token_s` s (0: no pause)."""
        with self._lock:
            now = self._clock()
            if request_s > 0:
                self._requests.pause_until(now + request_s, now)
            if token_s > 0 and self._tokens is not None:
                self._tokens.pause_until(now + token_s, now)

    def observe_rate_limit(self, info: RateLimitInfo | None, *, status_code: int = 200) -> None:
        """Call `observe` with a parsed `RateLimitInfo` (`retry_after_s` stands in for a reset).

        With `status_code=429`, a `Retry-After` alone also pauses the limiter
        (`observe_throttled`), as does a reset whose remaining count was not sent.
        """
        if info is None:
            return
        if status_code == 429:
            self.observe_throttled(
                info.retry_after_s
                if info.retry_after_s is not None
                else info.reset_requests_s
                if info.reset_requests_s is not None
                else info.reset_tokens_s
            )
        self.observe(
            info.remaining_requests,
            info.reset_requests_s if info.reset_requests_s is not None else info.retry_after_s,
            remaining_tokens=info.remaining_tokens,
            reset_tokens_s=info.reset_tokens_s
            if info.reset_tokens_s is not None
            else info.retry_after_s,
        )

    def record_usage(self, reserved: int, used: int) -> None:
        """Correct a tokens/min reservation once the real usage is known.

        Tokens reserved but not used go back; extra tokens used are taken (the bucket may go
        into debt, delaying later calls). No effect without `tokens_per_minute`.
        """
        if self._tokens is None:
            return
        with self._lock:
            self._tokens.refill(self._clock())
            delta = used - reserved
            if delta > 0:
                self._tokens.take(delta)
            elif delta < 0:
                self._tokens.give_back(-delta)


class Reservation:
    """A turn on `limiter` reserved ahead, e.g. by the cache lookup's round trip on Redis.

    `acquire`/`aacquire` (what the clients call before sending) only wait for that turn, or raise
    the `RateLimitWaitTooLongError` the reservation met; `release()` gives an unused turn back.
    """

    __slots__ = ("error", "limiter", "tokens", "wait")

    def __init__(
        self,
        limiter: RateLimiter,
        tokens: int,
        wait: float = 0.0,
        error: RateLimitWaitTooLongError | None = None,
    ) -> None:
        self.limiter = limiter
        self.tokens = tokens
        self.wait = wait
        self.error = error  # set when nothing was reserved: the wait exceeded `max_wait`

    def __repr__(self) -> str:
        return f"Reservation(wait={self.wait:.3f}, tokens={self.tokens})"

    def acquire(self, tokens: int = 1) -> float:
        """Wait for the reserved turn (`tokens` was fixed when reserving); return the wait."""
        if self.error is not None:
            raise self.error
        return self.limiter._wait_turn(self.wait, self.tokens)

    async def aacquire(self, tokens: int = 1) -> float:
        """Async twin of `acquire`."""
        if self.error is not None:
            raise self.error
        return await self.limiter._await_turn(self.wait, self.tokens)

    def release(self) -> None:
        """Give the turn back unused (never raises for a shared limiter's store)."""
        if self.error is None:
            self.limiter._release(self.tokens)
