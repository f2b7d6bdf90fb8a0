"""The hedging race, both twins: one answer, the loser stopped and its late answer discarded.

No real sleeps: attempts block on events the test releases, and `delay=0` starts the hedge at
once while a large delay never does.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from hfproviders._hedge import HedgeBudget, race, race_async

NEVER = 3600.0  # a delay no test reaches


def test_sync_fast_primary_never_hedges() -> None:
    calls: list[int] = []

    def attempt(index: int, stop: threading.Event) -> str:
        calls.append(index)
        return f"answer {index}"

    result = race(attempt, NEVER, lambda value: None)
    assert (result.value, result.winner, result.hedged) == ("answer 0", 0, False)
    assert calls == [0]


def test_sync_hedge_wins_and_the_late_primary_is_discarded() -> None:
    release = threading.Event()
    discarded: list[str] = []
    done = threading.Event()
    stopped: list[bool] = []

    def attempt(index: int, stop: threading.Event) -> str:
        if index == 0:
            assert release.wait(10)
            stopped.append(stop.is_set())
        return f"answer {index}"

    def discard(value: str) -> None:
        discarded.append(value)
        done.set()

    result = race(attempt, 0.0, discard)
    assert (result.value, result.winner, result.hedged) == ("answer 1", 1, True)
    assert result.loser_error is None
    release.set()
    assert done.wait(10)
    assert discarded == ["answer 0"]
    assert stopped == [True]  # the loser was told to stop


def test_sync_failed_hedge_waits_for_the_primary() -> None:
    release = threading.Event()

    def attempt(index: int, stop: threading.Event) -> str:
        if index == 1:
            release.set()
            raise ConnectionError("hedge failed")
        assert release.wait(10)
        return "primary"

    result = race(attempt, 0.0, lambda value: None)
    assert (result.value, result.winner, result.hedged) == ("primary", 0, True)
    assert isinstance(result.loser_error, ConnectionError)


def test_sync_both_fail_raises_the_first_attempts_error() -> None:
    second_failed = threading.Event()

    def attempt(index: int, stop: threading.Event) -> str:
        if index == 0:
            assert second_failed.wait(10)
            raise ValueError("primary failed")
        second_failed.set()
        raise ConnectionError("hedge failed")

    with pytest.raises(ValueError, match="primary failed"):
        race(attempt, 0.0, lambda value: None)


def test_sync_primary_failing_before_the_delay_is_raised_unhedged() -> None:
    calls: list[int] = []

    def attempt(index: int, stop: threading.Event) -> str:
        calls.append(index)
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        race(attempt, NEVER, lambda value: None)
    assert calls == [0]


async def test_async_fast_primary_never_hedges() -> None:
    calls: list[int] = []

    async def attempt(index: int) -> str:
        calls.append(index)
        return f"answer {index}"

    async def discard(value: str) -> None:
        raise AssertionError("nothing to discard")

    result = await race_async(attempt, NEVER, discard)
    assert (result.value, result.winner, result.hedged) == ("answer 0", 0, False)
    assert calls == [0]


async def test_async_hedge_wins_and_the_primary_is_cancelled() -> None:
    cancelled = asyncio.Event()
    forever = asyncio.Event()

    async def attempt(index: int) -> str:
        if index == 0:
            try:
                await forever.wait()
            except asyncio.CancelledError:
                cancelled.set()
                raise
        return f"answer {index}"

    async def discard(value: str) -> None:
        raise AssertionError("a cancelled loser has no answer")

    result = await race_async(attempt, 0.0, discard)
    assert (result.value, result.winner, result.hedged) == ("answer 1", 1, True)
    assert cancelled.is_set()  # cancelled and awaited before race_async returned


async def test_async_failed_hedge_waits_for_the_primary() -> None:
    release = asyncio.Event()

    async def attempt(index: int) -> str:
        if index == 1:
            release.set()
            raise ConnectionError("hedge failed")
        await release.wait()
        return "primary"

    async def discard(value: str) -> None:
        raise AssertionError

    result = await race_async(attempt, 0.0, discard)
    assert (result.value, result.winner, result.hedged) == ("primary", 0, True)
    assert isinstance(result.loser_error, ConnectionError)


async def test_async_both_fail_raises_the_first_attempts_error() -> None:
    hedge_failed = asyncio.Event()

    async def attempt(index: int) -> str:
        if index == 0:
            await hedge_failed.wait()
            raise ValueError("primary failed")
        hedge_failed.set()
        raise ConnectionError("hedge failed")

    async def discard(value: str) -> None:
        raise AssertionError

    with pytest.raises(ValueError, match="primary failed"):
        await race_async(attempt, 0.0, discard)


async def test_async_caller_cancelled_cancels_both_attempts() -> None:
    cancelled: list[int] = []
    forever = asyncio.Event()

    async def attempt(index: int) -> str:
        try:
            await forever.wait()
        except asyncio.CancelledError:
            cancelled.append(index)
            raise
        return "never"

    async def discard(value: str) -> None:
        raise AssertionError

    task = asyncio.ensure_future(race_async(attempt, 0.0, discard))
    while len(asyncio.all_tasks()) < 4:  # the race and both attempts are running
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(cancelled) == [0, 1]


def _held_primary(release: asyncio.Event) -> tuple[Any, Any]:
    """Async attempts: the primary waits for `release`, the hedge answers at once; no discard."""

    async def attempt(index: int) -> str:
        if index == 0:
            await release.wait()
        return f"answer {index}"

    async def discard(value: str) -> None:
        raise AssertionError

    return attempt, discard


def _after(checks: int) -> tuple[list[int], Callable[[], bool]]:
    """An `early` check that says "hedge now" on its `checks`-th call."""
    asked: list[int] = []

    def early() -> bool:
        asked.append(1)
        return len(asked) >= checks

    return asked, early


def test_sync_early_check_starts_the_hedge_before_its_delay() -> None:
    release = threading.Event()
    asked, early = _after(2)

    def attempt(index: int, stop: threading.Event) -> str:
        if index == 0:
            assert release.wait(10)
        return f"answer {index}"

    result = race(attempt, NEVER, lambda value: release.set(), early)
    release.set()
    assert (result.value, result.winner, result.hedged) == ("answer 1", 1, True)
    assert len(asked) == 2  # asked while waiting, every few milliseconds


def test_sync_early_check_is_not_asked_once_the_answer_is_in() -> None:
    asked, early = _after(1)
    result = race(lambda index, stop: "fast", NEVER, lambda value: None, early)
    assert (result.winner, result.hedged, asked) == (0, False, [])


async def test_async_early_check_starts_the_hedge_before_its_delay() -> None:
    forever = asyncio.Event()
    asked, early = _after(2)
    attempt, discard = _held_primary(forever)
    result = await race_async(attempt, NEVER, discard, early)
    assert (result.value, result.winner, result.hedged) == ("answer 1", 1, True)
    assert len(asked) == 2


async def test_async_early_check_that_never_fires_leaves_the_primary_alone() -> None:
    asked, early = _after(10**9)
    release = asyncio.Event()
    attempt, discard = _held_primary(release)
    task = asyncio.ensure_future(race_async(attempt, NEVER, discard, early))
    while len(asked) < 3:  # the check is asked again and again while the primary runs
        await asyncio.sleep(0.01)
    release.set()
    result = await task
    assert (result.value, result.winner, result.hedged) == ("answer 0", 0, False)


def test_hedge_budget_is_a_token_bucket() -> None:
    budget = HedgeBudget(ratio=0.5, burst=2)
    assert [budget.take(), budget.take(), budget.take()] == [True, True, False]
    budget.add_call()
    assert not budget.take()  # half a hedge earned
    budget.add_call()
    assert budget.take()
    for _ in range(10):
        budget.add_call()
    assert budget.tokens == 2  # never more than the burst


def test_sync_a_due_hedge_without_budget_waits_for_the_primary() -> None:
    calls: list[int] = []
    release = threading.Event()

    def attempt(index: int, stop: threading.Event) -> str:
        calls.append(index)
        assert release.wait(10)
        return f"answer {index}"

    threading.Timer(0.05, release.set).start()
    result = race(attempt, 0.0, lambda value: None, None, lambda: False)
    assert (result.value, result.winner, result.hedged) == ("answer 0", 0, False)
    assert calls == [0]


async def test_async_a_due_hedge_without_budget_waits_for_the_primary() -> None:
    calls: list[int] = []
    release = asyncio.Event()

    async def attempt(index: int) -> str:
        calls.append(index)
        await release.wait()
        return f"answer {index}"

    async def discard(value: str) -> None:
        raise AssertionError

    asyncio.get_running_loop().call_later(0.05, release.set)
    result = await race_async(attempt, 0.0, discard, None, lambda: False)
    assert (result.value, result.winner, result.hedged) == ("answer 0", 0, False)
    assert calls == [0]


def test_a_hedge_for_a_provider_that_came_back_needs_no_budget() -> None:
    release = threading.Event()

    def attempt(index: int, stop: threading.Event) -> str:
        if index == 0:
            assert release.wait(10)
        return f"answer {index}"

    result = race(attempt, NEVER, lambda value: release.set(), lambda: True, lambda: False)
    release.set()
    assert (result.winner, result.hedged) == (1, True)


def test_default_budget_is_above_the_p90_rate() -> None:
    budget = HedgeBudget()
    assert (budget.ratio, budget.burst) == (0.15, 20.0)


async def test_async_a_hedge_for_a_provider_that_came_back_needs_no_budget() -> None:
    attempt, discard = _held_primary(asyncio.Event())
    result = await race_async(attempt, NEVER, discard, lambda: True, lambda: False)
    assert (result.winner, result.hedged) == (1, True)
