"""Client-side rate limiter: token bucket arithmetic, adaptive pauses, bounds, threads and tasks.

Time is a fake clock; the fake sleeps either advance it (one caller) or only record the wait
(many concurrent callers, where the reservation order is what is being checked).
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from hfproviders import HFProvidersError, RateLimitInfo, RateLimitWaitTooLongError
from hfproviders._ratelimit import RateLimiter, TokenBucket


class FakeTime:
    """A clock whose sleeps advance it (when `advance`), recording every wait."""

    def __init__(self, advance: bool = True) -> None:
        self.now = 100.0
        self.advance = advance
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.advance:
            self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0)  # still a real suspension point
        if self.advance:
            self.now += seconds


def limiter(fake: FakeTime, rpm: float = 60, **kwargs: object) -> RateLimiter:
    return RateLimiter(
        rpm,
        clock=fake.clock,
        sleep=fake.sleep,
        async_sleep=fake.async_sleep,
        **kwargs,  # type: ignore[arg-type]
    )


# --- the bucket ----------------------------------------------------------------------------------


def test_token_bucket_refills_to_capacity_and_goes_into_debt() -> None:
    bucket = TokenBucket(rate_per_s=2.0, capacity=4.0, level=4.0, updated=0.0)
    assert bucket.wait_for(1, now=0.0) == 0.0
    for _ in range(5):
        bucket.take(1)
    assert bucket.level == -1.0
    assert bucket.wait_for(1, now=0.0) == pytest.approx(1.0)  # 2 short at 2/s
    bucket.refill(now=100.0)
    assert bucket.level == 4.0
    bucket.pause_until(110.0, now=100.0)
    assert bucket.wait_for(1, now=100.0) == pytest.approx(10.0)
    bucket.refill(now=105.0)
    assert bucket.level == 4.0
    assert bucket.updated == 110.0


# --- one caller ----------------------------------------------------------------------------------


def test_requests_are_spaced_after_the_burst() -> None:
    fake = FakeTime()
    rl = limiter(fake, rpm=60)  # default burst: one second's worth = 1
    waits = [rl.acquire() for _ in range(4)]
    assert waits == [0.0, pytest.approx(1.0), pytest.approx(1.0), pytest.approx(1.0)]
    assert fake.now == pytest.approx(103.0)


def test_burst_and_idle_refill_is_capped() -> None:
    fake = FakeTime()
    rl = limiter(fake, rpm=60, burst=3)
    assert [rl.acquire() for _ in range(4)] == [0.0, 0.0, 0.0, pytest.approx(1.0)]
    fake.now += 1000  # a long idle period refills only up to the burst
    assert [rl.acquire() for _ in range(4)] == [0.0, 0.0, 0.0, pytest.approx(1.0)]


def test_default_burst_is_one_second_of_quota() -> None:
    fake = FakeTime()
    rl = limiter(fake, rpm=600)
    waits = [rl.acquire() for _ in range(11)]
    assert waits[:10] == [0.0] * 10
    assert waits[10] == pytest.approx(0.1)


def test_tokens_per_minute_bucket_and_usage_correction() -> None:
    fake = FakeTime(advance=False)
    rl = limiter(fake, rpm=6000, tokens_per_minute=60)
    assert rl.acquire(tokens=30) == 0.0
    assert rl.acquire(tokens=30) == 0.0
    assert rl.peek_wait(tokens=30) == pytest.approx(30.0)  # 30 tokens short at 1 token/s
    rl.record_usage(reserved=30, used=10)  # the call used less: 20 come back
    assert rl.peek_wait(tokens=30) == pytest.approx(10.0)
    rl.record_usage(reserved=10, used=40)  # another used more: the debt grows
    assert rl.peek_wait(tokens=30) == pytest.approx(40.0)


def test_record_usage_without_token_bucket_is_a_no_op() -> None:
    fake = FakeTime(advance=False)
    rl = limiter(fake, rpm=60)
    rl.record_usage(reserved=1, used=10_000)
    assert rl.peek_wait() == 0.0


def test_peek_reserves_nothing() -> None:
    fake = FakeTime(advance=False)
    rl = limiter(fake, rpm=60)
    assert rl.peek_wait() == 0.0
    assert rl.peek_wait() == 0.0
    assert rl.acquire() == 0.0
    assert rl.peek_wait() == pytest.approx(1.0)


# --- bounded waits -------------------------------------------------------------------------------


def test_max_wait_raises_at_once_and_reserves_nothing() -> None:
    fake = FakeTime(advance=False)
    rl = limiter(fake, rpm=1, max_wait=10)
    rl.acquire()
    with pytest.raises(RateLimitWaitTooLongError) as info:
        rl.acquire()
    assert isinstance(info.value, HFProvidersError)
    assert info.value.retry_after == pytest.approx(60.0)
    assert "max_wait=10" in str(info.value)
    assert fake.sleeps == []  # it never slept
    assert rl.peek_wait() == pytest.approx(60.0)  # and took no share


async def test_max_wait_async() -> None:
    fake = FakeTime(advance=False)
    rl = limiter(fake, rpm=1, max_wait=0)
    await rl.aacquire()
    with pytest.raises(RateLimitWaitTooLongError):
        await rl.aacquire()


def test_unbounded_wait() -> None:
    fake = FakeTime()
    rl = limiter(fake, rpm=1, max_wait=None)
    rl.acquire()
    assert rl.acquire() == pytest.approx(60.0)


# --- adaptive: the server's headers ------------------------------------------------------------


def test_spent_quota_pauses_until_reset() -> None:
    fake = FakeTime()
    rl = limiter(fake, rpm=600)
    rl.observe(remaining_requests=0, reset_s=5.0)
    assert rl.acquire() == pytest.approx(5.0)
    assert rl.acquire() == 0.0  # resumed at the bucket's pace


def test_queued_callers_resume_at_bucket_pace_after_reset() -> None:
    fake = FakeTime(advance=False)
    rl = limiter(fake, rpm=60, burst=1)
    rl.observe(remaining_requests=0, reset_s=5.0)
    waits = [rl.acquire() for _ in range(3)]
    assert waits == [pytest.approx(5.0), pytest.approx(6.0), pytest.approx(7.0)]


@pytest.mark.parametrize(
    ("remaining", "reset"),
    [(3, 5.0), (None, 5.0), (0, None), (0, 0.0)],
)
def test_observe_ignores_headers_that_do_not_say_spent(
    remaining: int | None, reset: float | None
) -> None:
    fake = FakeTime(advance=False)
    rl = limiter(fake, rpm=600)
    rl.observe(remaining_requests=remaining, reset_s=reset)
    assert rl.peek_wait() == 0.0


def test_spent_token_quota_pauses_too() -> None:
    fake = FakeTime(advance=False)
    with_tokens = limiter(fake, rpm=600, tokens_per_minute=10_000)
    with_tokens.observe(None, None, remaining_tokens=0, reset_tokens_s=12.0)
    assert with_tokens.peek_wait() == pytest.approx(12.0)
    without_tokens = limiter(fake, rpm=600)
    without_tokens.observe(None, None, remaining_tokens=0, reset_tokens_s=3.0)
    assert without_tokens.peek_wait() == pytest.approx(3.0)


def test_observe_rate_limit_info() -> None:
    fake = FakeTime(advance=False)
    rl = limiter(fake, rpm=600)
    rl.observe_rate_limit(None)
    rl.observe_rate_limit(RateLimitInfo(remaining_requests=5, reset_requests_s=30))
    assert rl.peek_wait() == 0.0
    # A 429 with only Retry-After: the retry-after stands in for the reset.
    rl.observe_rate_limit(RateLimitInfo(remaining_requests=0, retry_after_s=7.0))
    assert rl.peek_wait() == pytest.approx(7.0)
    rl.observe_rate_limit(RateLimitInfo(remaining_requests=0, reset_requests_s=20.0))
    assert rl.peek_wait() == pytest.approx(20.0)


def test_a_later_smaller_reset_does_not_shorten_a_pause() -> None:
    fake = FakeTime(advance=False)
    rl = limiter(fake, rpm=600)
    rl.observe(0, 20.0)
    rl.observe(0, 2.0)
    assert rl.peek_wait() == pytest.approx(20.0)


# --- interruption gives the reservation back ---------------------------------------------------


def test_interrupted_sync_wait_is_refunded() -> None:
    fake = FakeTime(advance=False)

    def interrupted(_: float) -> None:
        raise KeyboardInterrupt

    rl = RateLimiter(60, clock=fake.clock, sleep=interrupted)
    rl.acquire()
    before = rl.peek_wait()
    with pytest.raises(KeyboardInterrupt):
        rl.acquire()
    assert rl.peek_wait() == pytest.approx(before)


async def test_cancelled_task_is_refunded() -> None:
    fake = FakeTime(advance=False)
    started = asyncio.Event()

    async def forever(_: float) -> None:
        started.set()
        await asyncio.Event().wait()

    rl = RateLimiter(60, clock=fake.clock, async_sleep=forever)
    await rl.aacquire()
    task = asyncio.create_task(rl.aacquire())
    await started.wait()
    assert rl.peek_wait() == pytest.approx(2.0)  # the waiting task holds its place
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert rl.peek_wait() == pytest.approx(1.0)


# --- concurrency -------------------------------------------------------------------------------


def test_threads_get_distinct_slots() -> None:
    fake = FakeTime(advance=False)
    rl = limiter(fake, rpm=60, burst=1, max_wait=None)
    barrier = threading.Barrier(40)
    waits: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        wait = rl.acquire()
        with lock:
            waits.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # No two threads got the same slot: no lost update under contention.
    assert sorted(round(w, 6) for w in waits) == [float(i) for i in range(40)]


async def test_tasks_get_distinct_slots() -> None:
    fake = FakeTime(advance=False)
    rl = limiter(fake, rpm=60, burst=1, max_wait=None)
    waits = await asyncio.gather(*(rl.aacquire() for _ in range(40)))
    assert sorted(round(w, 6) for w in waits) == [float(i) for i in range(40)]


async def test_threads_and_tasks_share_one_limiter() -> None:
    fake = FakeTime(advance=False)
    rl = limiter(fake, rpm=60, burst=1, max_wait=None)
    thread_waits: list[float] = []
    threads = [
        threading.Thread(target=lambda: thread_waits.append(rl.acquire())) for _ in range(10)
    ]
    for t in threads:
        t.start()
    task_waits = await asyncio.gather(*(rl.aacquire() for _ in range(10)))
    for t in threads:
        t.join()
    assert sorted(round(w, 6) for w in thread_waits + task_waits) == [float(i) for i in range(20)]


async def test_async_wait_never_blocks_the_event_loop() -> None:
    rl = RateLimiter(6000, burst=1)  # real clock: one request per 10 ms
    ticks = 0
    done = False

    async def ticker() -> None:
        nonlocal ticks
        while not done:
            ticks += 1
            await asyncio.sleep(0.001)

    tick_task = asyncio.create_task(ticker())
    start = time.monotonic()
    await asyncio.gather(*(rl.aacquire() for _ in range(6)))
    elapsed = time.monotonic() - start
    done = True
    await tick_task
    assert elapsed >= 0.045  # five spaced waits really happened
    assert ticks >= 10  # and the loop kept running meanwhile


def test_one_limiter_across_event_loops() -> None:
    fake = FakeTime(advance=False)
    rl = limiter(fake, rpm=60, burst=1, max_wait=None)
    first = asyncio.run(rl.aacquire())
    second = asyncio.run(rl.aacquire())  # a new loop: no loop-bound state to trip on
    assert (first, second) == (0.0, pytest.approx(1.0))


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"requests_per_minute": 0},
        {"requests_per_minute": float("inf")},
        {"requests_per_minute": float("nan")},
        {"requests_per_minute": 60, "tokens_per_minute": 0},
        {"requests_per_minute": 60, "burst": 0.5},
        {"requests_per_minute": 60, "max_wait": -1},
    ],
)
def test_bad_options(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RateLimiter(**kwargs)  # type: ignore[arg-type]


def test_negative_tokens_rejected() -> None:
    with pytest.raises(ValueError, match="tokens"):
        RateLimiter(60).acquire(tokens=-1)


def test_repr_is_informative() -> None:
    assert repr(RateLimiter(60, 1000, max_wait=5)) == (
        "RateLimiter(requests_per_minute=60, tokens_per_minute=1000, max_wait=5)"
    )
