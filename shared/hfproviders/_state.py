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
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

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
    "resolve_state",
    "share_state",
    "shared_health_store",
    "shared_spend_store",
]

logger = logging.getLogger("hfproviders")

FailurePolicy = Literal["open", "closed"]

_REDIS_SCHEMES = ("redis://", "rediss://", "unix://", "valkey://", "valkeys://")


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


_BY_URL: dict[str, StateBackend] = {}
_BY_URL_LOCK = threading.Lock()


def resolve_state(state: str | StateBackend | None) -> StateBackend | None:
    """Return the backend for a client's `state=` option (a URL builds a `RedisState`).

    One URL gives one backend per process, so every client (and both adapters' client pairs)
    given the same URL share one connection pool and one view of the server's health.
    """
    if state is None or isinstance(state, StateBackend):
        return state
    if isinstance(state, str):
        if state.lower().startswith(_REDIS_SCHEMES):
            from hfproviders._redis import RedisState  # redis-py loads only for Redis users

            with _BY_URL_LOCK:
                found = _BY_URL.get(state)
                if found is None:
                    found = _BY_URL[state] = RedisState(state)
            return found
        raise ConfigurationError(
            "state must be a redis:// (or rediss://, unix://, valkey://) URL or a state backend "
            "such as RedisState(...)"
        )
    raise ConfigurationError(f"state must be a URL or a state backend, not {type(state).__name__}")


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

    async def arun(
        self, remote: Callable[[], Awaitable[Any]], local: Callable[[], Awaitable[Any]]
    ) -> Any:
        """Async twin of `run`."""
        if not self.available:
            self._down()
            return await local()
        try:
            result = await remote()
        except self.errors as error:
            self._fail(error)
            return await local()
        self.succeeded()
        return result

    def run_quietly(self, remote: Callable[[], Any], local: Callable[[], Any]) -> Any:
        """Run bookkeeping that must never raise: `remote`, else `local`, in either policy."""
        if self.available:
            try:
                result = remote()
            except self.errors as error:
                self.failed(error)
            else:
                self.succeeded()
                return result
        return local()

    # The backend sets which exceptions mean "unreachable" (redis-py's, and OSError).
    errors: tuple[type[BaseException], ...] = (OSError,)


def share_state(
    state: str | StateBackend | None,
    cache: ResponseCache | None,
    limiter: RateLimiter | SharedRateLimiter | None,
) -> tuple[ResponseCache | None, RateLimiter | SharedRateLimiter | None]:
    """A client's cache and limiter, moved onto `state` when one is given."""
    backend = resolve_state(state)
    if backend is None:
        return cache, limiter
    from hfproviders._ratelimit import RateLimiter

    if isinstance(limiter, RateLimiter):
        limiter = backend.share_rate_limiter(limiter)
    if cache is not None:
        cache = backend.share_cache(cache)
    return cache, limiter


def shared_health_store(state: str | StateBackend | None) -> HealthStore | None:
    """The health store of a client's `state=` (None: keep the tracker's own, in memory)."""
    backend = resolve_state(state)
    return backend.health_store() if backend is not None else None


def shared_spend_store(state: str | StateBackend | None) -> SpendStore | None:
    """The spend store of a client's `state=` (None: keep the in-memory ones)."""
    backend = resolve_state(state)
    return backend.spend_store() if backend is not None else None
