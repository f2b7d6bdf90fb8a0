"""Hedged requests: start a second attempt when the first is slow, keep whichever answers first.

`race` (threads, for the sync client) and `race_async` (tasks) run `attempt(0)`; if it has not
answered within `delay` seconds, they start `attempt(1)` too. With `early`, they also ask it
every few milliseconds meanwhile and start `attempt(1)` at once when it says so (a better
provider became available after the call started). An attempt "answers" when it
returns: for a plain call that is the parsed answer, for a stream its response with the first
event read (streams hedge only before their first event). The first attempt to return wins;
the other is cancelled (a task) or, for a thread, told to stop and its late answer is closed by
`discard`, so exactly one answer is delivered and only its usage counted. An attempt that fails
while the other runs is waited out; when both fail the first attempt's error is raised.

Threads are bounded: at most two per hedged call, daemon threads that end with their attempt
(itself bounded by the call's timeout). Unhedged calls never get here.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["HedgeBudget", "Hedged", "race", "race_async"]

T = TypeVar("T")
_POLL_MAX_S = 0.05  # `early` is asked at least this often (and at least 8 times per delay)
_POLL_MIN_S = 0.005


def _poll_s(delay: float) -> float:
    return max(min(delay / 8, _POLL_MAX_S), _POLL_MIN_S)


class HedgeBudget:
    """How many hedges may start: at most `ratio` per call on average, `burst` at once.

    A token bucket: every call adds `ratio` of a token (up to `burst`), every hedge takes one.
    When a provider turns slow, every call waiting on it would hedge at once; the budget keeps
    the extra requests to about `ratio` of the calls (the burst lets the first of them through).
    The default is above the one call in ten that `"p90"` hedges in steady state.
    """

    def __init__(self, ratio: float = 0.15, burst: float = 20.0) -> None:
        """A full bucket."""
        self.ratio, self.burst = ratio, burst
        self.tokens = burst
        self._lock = threading.Lock()

    def add_call(self) -> None:
        """A call started: it earns `ratio` of a hedge."""
        with self._lock:
            self.tokens = min(self.burst, self.tokens + self.ratio)

    def take(self) -> bool:
        """Whether a hedge may start now (it takes a token)."""
        with self._lock:
            if self.tokens < 1:
                return False
            self.tokens -= 1
            return True


@dataclass(frozen=True, slots=True)
class Hedged(Generic[T]):
    """How a race ended: the winning answer, its attempt (0 or 1), whether a hedge started.

    `loser_error` is the error of the other attempt when it failed before the winner answered.
    """

    value: T
    winner: int
    hedged: bool
    loser_error: BaseException | None = None


def race(
    attempt: Callable[[int, threading.Event], T],
    delay: float,
    discard: Callable[[T], None],
    early: Callable[[], bool] | None = None,
    allow: Callable[[], bool] | None = None,
) -> Hedged[T]:
    """Run `attempt(0, stop)`, hedged by `attempt(1, stop)` after `delay` seconds (threads).

    `stop` is set for the loser: an attempt should check it after each blocking step and give
    up. A loser's answer that arrives anyway is passed to `discard` (close it, count nothing).
    `early() -> True` starts the hedge before `delay` has passed. When the hedge is due after
    `delay`, `allow() -> False` (no budget left) means no hedge: the first attempt is waited
    for. A hedge started by `early` needs no budget (it happens once per recovery, for the
    calls then in flight).
    """
    results: queue.Queue[tuple[int, T | None, BaseException | None]] = queue.Queue()
    stops = (threading.Event(), threading.Event())
    settled = threading.Lock()
    won: list[int] = []

    def run(index: int) -> None:
        try:
            value = attempt(index, stops[index])
        except BaseException as exc:  # handed to the caller's thread, never lost
            results.put((index, None, exc))
            return
        with settled:
            late = bool(won) and won[0] != index
        if late:
            discard(value)
        else:
            results.put((index, value, None))

    def start(index: int) -> None:
        threading.Thread(target=run, args=(index,), daemon=True, name=f"hf-hedge-{index}").start()

    start(0)
    started = 1
    errors: dict[int, BaseException] = {}
    until = time.monotonic() + delay
    step = delay if early is None else _poll_s(delay)
    while True:
        try:
            first = results.get(timeout=max(min(step, until - time.monotonic()), 0.0))
            break
        except queue.Empty:
            back = early is not None and early()
            if back or time.monotonic() >= until:
                if back or allow is None or allow():
                    start(1)
                    started = 2
                first = results.get()
                break
    while True:
        index, value, error = first
        if error is None:
            with settled:
                won.append(index)
            for other in range(started):
                if other != index:
                    stops[other].set()
            _drain(results, discard)
            failed = errors.get(1 - index)
            return Hedged(value, index, started == 2, failed)  # type: ignore[arg-type]
        errors[index] = error
        if len(errors) == started:
            raise errors[0]
        first = results.get()


def _drain(
    results: queue.Queue[tuple[int, T | None, BaseException | None]],
    discard: Callable[[T], None],
) -> None:
    # A loser that finished between the winner's arrival and `won` being set is closed here.
    while True:
        try:
            _, value, error = results.get_nowait()
        except queue.Empty:
            return
        if error is None:
            discard(value)  # type: ignore[arg-type]


async def race_async(
    attempt: Callable[[int], Awaitable[T]],
    delay: float,
    discard: Callable[[T], Awaitable[None]],
    early: Callable[[], bool] | None = None,
    allow: Callable[[], bool] | None = None,
) -> Hedged[T]:
    """Run `attempt(0)`, hedged by `attempt(1)` after `delay` seconds (tasks); cancel the loser.

    `early` and `allow` as for `race`.
    """
    tasks = [asyncio.ensure_future(attempt(0))]
    try:
        loop = asyncio.get_running_loop()
        until = loop.time() + delay
        step = delay if early is None else _poll_s(delay)
        while True:
            left = until - loop.time()
            done, _ = await asyncio.wait(tasks, timeout=max(min(step, left), 0.0))
            if done:
                break
            back = early is not None and early()
            if back or loop.time() >= until:
                if back or allow is None or allow():
                    tasks.append(asyncio.ensure_future(attempt(1)))
                break
        pending = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in sorted(done, key=tasks.index):
                if task.exception() is None:
                    winner = tasks.index(task)
                    await _cancel(pending, discard)
                    late = [t for t in done if t is not task and t.exception() is None]
                    for finished in late:
                        await discard(finished.result())
                    loser = tasks[1 - winner] if len(tasks) == 2 else None
                    failed = (
                        loser.exception()
                        if loser is not None and loser.done() and not loser.cancelled()
                        else None
                    )
                    return Hedged(task.result(), winner, len(tasks) == 2, failed)
        raise tasks[0].exception()  # type: ignore[misc]
    except BaseException:
        await _cancel({t for t in tasks if not t.done()}, discard)
        raise


async def _cancel(
    pending: Collection[asyncio.Future[T]], discard: Callable[[T], Awaitable[None]]
) -> None:
    if not pending:
        return
    for task in pending:
        task.cancel()
    await asyncio.wait(pending)
    for task in pending:
        if not task.cancelled() and task.exception() is None:
            await discard(task.result())  # it finished before the cancellation reached it
