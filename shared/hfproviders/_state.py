"""Where a client keeps its state: in this process (the default) or shared, e.g. on Redis.

A client holds four kinds of state that many workers of one HF account want to share: the rate
limiter (requests and tokens per minute, and the server's "quota spent, wait until reset"), the
response cache, provider health (breaker state, latency) and spend. `state=` chooses where they
live, for both clients and both adapters:

```python
HFClient(rate_limiter=RateLimiter(60), state="redis://localhost:6379/0")
```

- `None` (the default): every store stays in this process, exactly as without the option.
- a URL (`redis://`, `rediss://`, `unix://`, `valkey://`, `valkeys://`): a `RedisState` with
  default options (fail-open), built lazily: nothing connects before the first call.
- a `StateBackend` object, e.g. `RedisState(client=my_redis, on_failure="closed")`.

A backend turns the client's configured local stores into shared ones (`share_*`), so the same
configuration means the same limits, only counted across every worker. What cannot be shared is
returned unchanged. `health_store()` and `spend_store()` give the stores a `HealthTracker`, a
`SpendLimit` or a `SpendLedger` is built on to share breaker state, latency and spend.

Failure policy (`on_failure`): with `"open"` (the default) a store whose backend is unreachable
falls back to local state, logs one warning per outage, and tries the backend again after a
short pause; with `"closed"` a call that needs the backend (taking from the limiter, a budget
check) raises `StateUnavailableError` before anything is sent. Either way, work done after an
answer arrived (a cache write, a usage correction, a spend record) never raises, so an outage
never costs an answer already received.

**The async client never blocks its loop on a store.** The stores' logic (breaker, budget,
limiter feedback) exists once, as plain code. `AsyncHFClient` runs each step of a call that may
reach a remote store as an *async step* (`async_step`): the step runs in a greenlet, and every
round trip a store makes inside it (through `RedisState`) goes through redis-py's asyncio
connections and is awaited on the event loop (`await_io`), so other tasks run meanwhile and the
sync client is never touched. This is SQLAlchemy's asyncio pattern; `greenlet` comes with the
`redis` extra. The in-process stores (memory, SQLite) do no network I/O and are called directly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, runtime_checkable

from hfproviders._errors import ConfigurationError, StateUnavailableError

if TYPE_CHECKING:
    from hfproviders._cache import ResponseCache
    from hfproviders._health import HealthStore
    from hfproviders._ratelimit import RateLimiter
    from hfproviders._spend import SpendStore
    from hfproviders._types import RateLimitInfo

__all__ = [
    "FailurePolicy",
    "OutageGuard",
    "SharedRateLimiter",
    "StateBackend",
    "async_step",
    "await_io",
    "in_async_step",
    "is_remote",
]

logger = logging.getLogger("hfproviders")

FailurePolicy = Literal["open", "closed"]
T = TypeVar("T")


@runtime_checkable
class SharedRateLimiter(Protocol):
    """What the clients call on a rate limiter; `RateLimiter` (local) and `RedisRateLimiter`.

    `acquire`/`aacquire` take one request (and `tokens`) and return the seconds waited;
    `observe_rate_limit` adapts to the server's headers (and a 429's `Retry-After`);
    `record_usage` corrects a token estimate. The last two never raise.
    """

    def acquire(self, tokens: int = 1) -> float:
        """Wait until one request and `tokens` may go; return the wait."""
        ...

    async def aacquire(self, tokens: int = 1) -> float:
        """Async twin of `acquire`."""
        ...

    def try_acquire(self, tokens: int = 1) -> bool:
        """Take one request (and `tokens`) only if no wait is needed; never sleeps."""
        ...

    async def atry_acquire(self, tokens: int = 1) -> bool:
        """Async twin of `try_acquire`."""
        ...

    def observe_rate_limit(self, info: RateLimitInfo | None, *, status_code: int = 200) -> None:
        """Pause everyone sharing this limiter when the server says the quota is spent."""
        ...

    def record_usage(self, reserved: int, used: int) -> None:
        """Correct a tokens/min reservation once the real usage is known."""
        ...


@runtime_checkable
class StateBackend(Protocol):
    """Turns a client's local stores into shared ones (see the module docstring)."""

    @property
    def on_failure(self) -> FailurePolicy:
        """`"open"`: fall back to local state during an outage; `"closed"`: raise."""
        ...

    def share_rate_limiter(self, limiter: RateLimiter) -> SharedRateLimiter:
        """A limiter with `limiter`'s limits, counted across everyone using this backend."""
        ...

    def share_cache(self, cache: ResponseCache) -> ResponseCache:
        """A shared cache in place of a process-local one (a persistent one is kept as is)."""
        ...

    def health_store(self) -> HealthStore:
        """A `HealthStore` shared by everyone using this backend (for a `HealthTracker`)."""
        ...

    def spend_store(self) -> SpendStore:
        """A `SpendStore` shared by everyone using this backend (for a `SpendLimit`/ledger)."""
        ...


class OutageGuard:
    """One backend's health, shared by its stores: when to try it, what to do when it fails.

    After a failure the backend is not tried again for `recheck_s` seconds, so an outage costs
    each call nothing (fail-open: local state) or a fast typed error (fail-closed), never a
    connection timeout per call. One warning is logged per outage.
    """

    def __init__(
        self,
        on_failure: FailurePolicy,
        *,
        name: str,
        recheck_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if on_failure not in ("open", "closed"):
            raise ConfigurationError("on_failure must be 'open' or 'closed'")
        if not recheck_s >= 0:
            raise ConfigurationError("recheck_s must be >= 0")
        self.on_failure: FailurePolicy = on_failure
        self.name = name
        self.recheck_s = recheck_s
        self._clock = clock
        self._down_until = 0.0
        self._in_outage = False
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        """Whether the backend should be tried now."""
        return self._clock() >= self._down_until

    def succeeded(self) -> None:
        """Record a successful round trip (ends an outage, logged once)."""
        if self._in_outage:
            with self._lock:
                if self._in_outage:
                    self._in_outage = False
                    logger.warning("%s is reachable again; shared state resumes", self.name)

    def failed(self, error: BaseException) -> None:
        """Record a failed round trip: skip the backend for a while, warn once per outage."""
        with self._lock:
            self._down_until = self._clock() + self.recheck_s
            first = not self._in_outage
            self._in_outage = True
        if first:
            fallback = (
                "using this process's local state until it is back"
                if self.on_failure == "open"
                else "calls that need it fail with StateUnavailableError until it is back"
            )
            logger.warning("%s is unreachable (%s): %s", self.name, type(error).__name__, fallback)

    def unavailable_error(self, error: BaseException | None = None) -> StateUnavailableError:
        """The typed error a fail-closed store raises."""
        detail = f": {type(error).__name__}" if error is not None else " (retrying shortly)"
        return StateUnavailableError(f"{self.name} is unreachable{detail}")

    def _fail(self, error: BaseException) -> None:
        self.failed(error)
        if self.on_failure == "closed":
            raise self.unavailable_error(error) from error

    def _down(self) -> None:
        if self.on_failure == "closed":
            raise self.unavailable_error()

    def run(self, remote: Callable[[], Any], local: Callable[[], Any]) -> Any:
        """Run `remote` if the backend is up, else (or on failure) `local` or raise (closed)."""
        if not self.available:
            self._down()
            return local()
        try:
            result = remote()
        except self.errors as error:
            self._fail(error)
            return local()
        self.succeeded()
        return result

    def run_quietly(
        self, remote: Callable[[], Any], local: Callable[[], Any], *, confirms: bool = True
    ) -> Any:
        """Run bookkeeping that must never raise: `remote`, else `local`, in either policy.

        `confirms=False`: `remote` succeeding does not show the backend is up (a write sent
        without waiting for a reply), so it does not end an outage.
        """
        if self.available:
            try:
                result = remote()
            except self.errors as error:
                self.failed(error)
            else:
                if confirms:
                    self.succeeded()
                return result
        return local()

    # The backend sets which exceptions mean "unreachable" (redis-py's, and OSError).
    errors: tuple[type[BaseException], ...] = (OSError,)


def is_remote(store: object) -> bool:
    """Whether `store` keeps its state on a server (it has a `StateBackend` as `state`)."""
    return isinstance(getattr(store, "state", None), StateBackend)


# -- async steps: one implementation of the store logic, its round trips awaited on the loop ------

_STEP, _AWAIT, _DONE, _RAISED, _SEND, _THROW = range(6)
_steps = threading.local()  # idle step greenlets of this thread (a greenlet stays in its thread)
_MAX_IDLE_STEPS = 64  # kept for reuse per thread; more are left to the garbage collector
_getcurrent: Callable[[], Any] | None = None
_Step: type | None = None
_GreenletExit: type[BaseException] = SystemExit  # replaced by greenlet's when it loads


def in_async_step() -> bool:
    """True in code that `async_step` runs: a store then awaits its I/O with `await_io`."""
    return _getcurrent is not None and type(_getcurrent()) is _Step


def await_io(awaitable: Awaitable[T]) -> T:
    """From sync code inside an async step: await `awaitable` on the event loop, return its result.

    The step is suspended meanwhile (the loop runs other tasks); an exception raised by the
    awaitable (a timeout, a cancellation) is raised here.
    """
    assert _getcurrent is not None
    kind, value = _getcurrent().parent.switch((_AWAIT, awaitable))
    if kind == _THROW:
        raise value
    result: T = value
    return result


async def async_step(function: Callable[..., T], *args: Any) -> T:
    """Run `function(*args)` for the running event loop; return its result or raise its error.

    Whatever it awaits through `await_io` (a store's round trip) is awaited here, so the loop is
    never blocked. Steps are greenlets, kept for reuse per thread (creating one costs ~15 µs,
    switching ~1 µs); context variables are the caller's.
    """
    if _getcurrent is None:
        _load_greenlet()
    assert _getcurrent is not None
    assert _Step is not None
    idle: list[Any] = _steps.__dict__.setdefault("idle", [])
    step = idle.pop() if idle else _Step(_serve)
    here = _getcurrent()
    step.parent = here
    step.gr_context = here.gr_context
    kind, value = step.switch((_STEP, (function, args)))
    while kind == _AWAIT:
        try:
            result = await value
        except BaseException as error:  # noqa: BLE001 - raised inside the step, where it belongs
            kind, value = step.switch((_THROW, error))
        else:
            kind, value = step.switch((_SEND, result))
    if len(idle) < _MAX_IDLE_STEPS:  # a burst of concurrent calls leaves no hoard behind
        idle.append(step)
    if kind == _RAISED:
        raise value
    done: T = value
    return done


def _serve(message: tuple[int, Any]) -> None:
    """A step greenlet's life: run one function per switch, report its outcome, wait."""
    assert _getcurrent is not None
    while True:
        function, args = message[1]
        try:
            outcome: tuple[int, Any] = (_DONE, function(*args))
        except _GreenletExit:
            raise
        except BaseException as error:  # noqa: BLE001 - handed to the step's caller
            outcome = (_RAISED, error)
        del function, args
        message = _getcurrent().parent.switch(outcome)


def _load_greenlet() -> None:
    global _getcurrent, _Step, _GreenletExit
    try:
        import greenlet  # type: ignore[import-untyped,unused-ignore]
    except ImportError as error:  # pragma: no cover - installed with the redis extra
        raise ConfigurationError(
            'a remote state store on AsyncHFClient needs greenlet: pip install "hfproviders[redis]"'
        ) from error

    class Step(greenlet.greenlet):  # type: ignore[misc]
        """A greenlet running one async step at a time."""

    _Step, _getcurrent, _GreenletExit = Step, greenlet.getcurrent, greenlet.GreenletExit
