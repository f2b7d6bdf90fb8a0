"""Provider health: a circuit breaker and latency statistics per (model, provider).

Every attempt's outcome is recorded under the provider that served it (`x-inference-provider`)
and under the one that was asked for, when they differ. A circuit is *closed* (calls go
through), *open* (skipped while another provider is available) or *half-open* (the cooldown has
passed: one probe call may go; its success closes the circuit, its failure opens it again).

```
closed --(failures/calls >= failure_rate, calls >= min_calls, within window_s
          or within its most recent tenth)--> open
open   --(cooldown_s passed)--> half_open --(probe ok)--> closed
                                           --(probe failed)--> open
```

Failures are 5xx answers, timeouts, connection errors, broken streams and 429s without a usable
wait. A 4xx the request caused (400, 401, 402, 403, 404, 422) says nothing about the provider's
health and is not counted.

The latency statistics are exponentially weighted moving averages (EWMA) of time to first
token, total latency and throughput, seeded from the router's catalogue. A p90 of the time to
first token is estimated from the EWMA mean and variance of its logarithm (a lognormal fit), so
no sample list is kept.

State lives behind `HealthStore` (the in-memory default is `InMemoryHealthStore`): small,
serialisable records and operations a shared store can make atomic (a counter increment, a
compare-and-set for the probe). All times are wall-clock seconds from the tracker's `clock`, so
a store shared by several processes compares like with like. Nothing here does I/O.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, Literal, Protocol

from hfproviders._errors import (
    APIConnectionError,
    ConfigurationError,
    HFProvidersError,
    InvalidParameterError,
    ProvidersUnavailableError,
    RateLimitError,
    ServerError,
    StreamError,
)
from hfproviders._hedge import HedgeBudget

if TYPE_CHECKING:
    from hfproviders._catalog import ModelInfo, ProviderInfo

__all__ = [
    "BreakerState",
    "CircuitBreaker",
    "CircuitRecord",
    "HealthStore",
    "HealthHook",
    "HealthTracker",
    "InMemoryHealthStore",
    "LatencyStats",
    "ProviderConstraints",
    "ProviderHealth",
    "WindowCounts",
    "failure_kind",
    "health_hook",
]

BreakerState = Literal["closed", "open", "half_open"]
_BUCKETS = 10  # the sliding window is kept as this many counters
# The log-latency statistics behind percentiles move slower than the averages: a steadier tail.
_LOG_ALPHA = 0.05
_PERCENTILE = re.compile(r"p([5-9][0-9])")
_MIN_P90_SAMPLES = 5
_REMEASURE_S = 30.0  # without a breaker (with one: its cooldown_s)
# A 429 whose Retry-After is at most this is a healthy provider asking for patience.
_USABLE_RETRY_AFTER_S = 60.0


@dataclass(frozen=True, slots=True)
class CircuitBreaker:
    """When to stop sending to a provider, and when to try it again.

    The circuit opens when `consecutive_failures` calls in a row failed (counted by this
    process; None: not this test), or when, over the last `window_s` seconds, at least
    `min_calls` calls were recorded and at least `failure_rate` of them failed. The rate test
    also runs on the window's most recent tenth, so a sudden outage after a long healthy spell
    (a window full of successes) opens the circuit within seconds. After `cooldown_s` one probe
    call is let through. `HFClient(breaker=CircuitBreaker(...))`; `breaker=None` turns it off.
    """

    failure_rate: float = 0.5
    min_calls: int = 10
    window_s: float = 60.0
    cooldown_s: float = 30.0
    consecutive_failures: int | None = 5

    def __post_init__(self) -> None:
        rate = self.failure_rate
        if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0 < rate <= 1:
            raise InvalidParameterError("CircuitBreaker.failure_rate must be in (0, 1]")
        if not isinstance(self.min_calls, int) or isinstance(self.min_calls, bool):
            raise InvalidParameterError("CircuitBreaker.min_calls must be an integer >= 1")
        if self.min_calls < 1:
            raise InvalidParameterError("CircuitBreaker.min_calls must be an integer >= 1")
        streak = self.consecutive_failures
        if streak is not None and (
            not isinstance(streak, int) or isinstance(streak, bool) or streak < 1
        ):
            raise InvalidParameterError(
                "CircuitBreaker.consecutive_failures must be an integer >= 1 or None"
            )
        for name in ("window_s", "cooldown_s"):
            value = getattr(self, name)
            valid = isinstance(value, int | float) and not isinstance(value, bool)
            if not valid or not math.isfinite(value) or value <= 0:
                raise InvalidParameterError(f"CircuitBreaker.{name} must be a number > 0")


@dataclass(frozen=True, slots=True)
class ProviderConstraints:
    """Limits on which providers `provider="lowest-latency"` may pick, from the catalogue.

    Prices are USD per million tokens; `min_throughput` is tokens per second. A provider whose
    catalogue entry lacks a constrained field is left out (it cannot be shown to comply).
    `only` keeps just the named providers; `ignore` drops the named ones.
    """

    max_input_price: float | None = None
    max_output_price: float | None = None
    min_throughput: float | None = None
    only: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("max_input_price", "max_output_price", "min_throughput"):
            value = getattr(self, name)
            if value is None:
                continue
            valid = isinstance(value, int | float) and not isinstance(value, bool)
            if not valid or not math.isfinite(value) or value < 0:
                raise InvalidParameterError(f"ProviderConstraints.{name} must be a number >= 0")
        for name in ("only", "ignore"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise InvalidParameterError(
                    f"ProviderConstraints.{name} must be a list of provider names"
                )
            object.__setattr__(self, name, tuple(v.casefold() for v in value))

    def allows(self, info: ProviderInfo) -> bool:
        """True when the catalogue entry `info` meets every constraint."""
        name = info.provider.casefold()
        if self.only is not None and name not in self.only:
            return False
        if name in self.ignore:
            return False
        for limit, value in (
            (self.max_input_price, info.pricing_input),
            (self.max_output_price, info.pricing_output),
        ):
            if limit is not None and not info.is_free and (value is None or value > limit):
                return False
        if self.min_throughput is not None:
            return info.throughput is not None and info.throughput >= self.min_throughput
        return True


@dataclass(frozen=True, slots=True)
class WindowCounts:
    """Calls and failures recorded in a circuit's sliding window."""

    calls: int = 0
    failures: int = 0

    @property
    def error_rate(self) -> float | None:
        """Failures over calls (None with no calls)."""
        return self.failures / self.calls if self.calls else None


@dataclass(slots=True)
class CircuitRecord:
    """The stored state of one circuit; `to_dict`/`from_dict` make it JSON-serialisable.

    `state` is "closed" or "open"; an open circuit whose `retry_at` has passed reads as
    half-open. `probe_until` marks a probe in flight (a lease, so a lost probe cannot wedge it).
    """

    state: Literal["closed", "open"] = "closed"
    retry_at: float = 0.0
    probe_until: float = 0.0
    last_error: str | None = None
    last_error_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "state": self.state,
            "retry_at": self.retry_at,
            "probe_until": self.probe_until,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CircuitRecord:
        """Read a dict written by `to_dict`."""
        state: Literal["closed", "open"] = "open" if data.get("state") == "open" else "closed"
        last_error_at = data.get("last_error_at")
        return cls(
            state=state,
            retry_at=float(data.get("retry_at") or 0.0),
            probe_until=float(data.get("probe_until") or 0.0),
            last_error=data.get("last_error"),
            last_error_at=float(last_error_at) if last_error_at is not None else None,
        )


@dataclass(slots=True)
class LatencyStats:
    """EWMAs for one (model, provider): seconds to first token, total seconds, tokens/s.

    `samples` counts measured calls; seeded values (from the catalogue) have `samples == 0`.
    `log_ttft_mean`/`log_ttft_var` track ln(TTFT) for the p90 estimate. `measured_at` is the
    clock time of the last measurement (None: never measured).
    """

    ttft_s: float | None = None
    latency_s: float | None = None
    throughput: float | None = None
    log_ttft_mean: float | None = None
    log_ttft_var: float = 0.0
    samples: int = 0
    measured_at: float | None = None

    def updated(
        self,
        alpha: float,
        ttft_s: float | None = None,
        latency_s: float | None = None,
        throughput: float | None = None,
        at: float | None = None,
    ) -> LatencyStats:
        """A new record with one measurement (taken at clock time `at`) folded in (pure)."""
        new = LatencyStats(
            self.ttft_s,
            self.latency_s,
            self.throughput,
            self.log_ttft_mean,
            self.log_ttft_var,
            self.samples,
            self.measured_at if at is None else at,
        )
        # The first measurements are averaged plainly (weight 1/n) until the EWMA's own weight
        # is larger: the catalogue's seed is replaced by the first measurement, and a
        # percentile is not estimated from a variance that starts at zero.
        start = 1 / (self.samples + 1)
        weight = max(alpha, start)
        if ttft_s is not None and ttft_s > 0:
            new.ttft_s = _ewma(self.ttft_s, ttft_s, weight)
            log = math.log(ttft_s)
            if self.log_ttft_mean is None:
                new.log_ttft_mean = log
            else:
                log_weight = max(min(alpha, _LOG_ALPHA), start)
                delta = log - self.log_ttft_mean
                new.log_ttft_mean = self.log_ttft_mean + log_weight * delta
                new.log_ttft_var = (1 - log_weight) * (
                    self.log_ttft_var + log_weight * delta * delta
                )
        if latency_s is not None and latency_s >= 0:
            new.latency_s = _ewma(self.latency_s, latency_s, weight)
        if throughput is not None and throughput > 0:
            new.throughput = _ewma(self.throughput, throughput, weight)
        new.samples = self.samples + 1
        return new

    @property
    def p90_ttft_s(self) -> float | None:
        """The estimated 90th percentile of time to first token (None before 5 measurements)."""
        return self.ttft_quantile_s(0.9)

    def ttft_quantile_s(self, q: float) -> float | None:
        """The estimated `q` quantile of time to first token, from a lognormal fit.

        None before 5 measurements.
        """
        if self.samples < _MIN_P90_SAMPLES or self.log_ttft_mean is None:
            return None
        z = NormalDist().inv_cdf(q)
        return math.exp(self.log_ttft_mean + z * math.sqrt(max(self.log_ttft_var, 0.0)))

    def expected_s(self, output_tokens: int) -> float | None:
        """Expected seconds to a whole answer of `output_tokens` (None when nothing is known).

        Measured calls say it directly (the latency EWMA); before any, the catalogue's time to
        first token plus `output_tokens` at its throughput.
        """
        if self.samples and self.latency_s is not None:
            return self.latency_s
        if self.ttft_s is None:
            return None
        if self.throughput:
            return self.ttft_s + output_tokens / self.throughput
        return self.ttft_s

    def rank_s(self, output_tokens: int) -> float | None:
        """What `lowest-latency` sorts by: a high estimate of seconds to a whole answer.

        For a measured provider, the larger of the average (`expected_s`) and the 90th
        percentile of time to first token plus the average generation time, so a provider
        with a fast average but a long tail ranks behind a steady one. Before 5 measurements
        that percentile is taken as twice the average time to first token (as for hedging).
        Before any, `expected_s` (the catalogue's figures).
        """
        expected = self.expected_s(output_tokens)
        if expected is None or not self.samples:
            return expected
        tail = self.ttft_quantile_s(0.9)
        if tail is None:
            if self.ttft_s is None:
                return expected
            tail = 2 * self.ttft_s
        generating = (self.latency_s or 0.0) - (self.ttft_s or 0.0)
        return max(expected, tail + max(generating, 0.0))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "ttft_s": self.ttft_s,
            "latency_s": self.latency_s,
            "throughput": self.throughput,
            "log_ttft_mean": self.log_ttft_mean,
            "log_ttft_var": self.log_ttft_var,
            "samples": self.samples,
            "measured_at": self.measured_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LatencyStats:
        """Read a dict written by `to_dict`."""

        def number(name: str) -> float | None:
            value = data.get(name)
            return float(value) if isinstance(value, int | float) else None

        return cls(
            ttft_s=number("ttft_s"),
            latency_s=number("latency_s"),
            throughput=number("throughput"),
            log_ttft_mean=number("log_ttft_mean"),
            log_ttft_var=number("log_ttft_var") or 0.0,
            samples=int(data.get("samples") or 0),
            measured_at=number("measured_at"),
        )


def _ewma(old: float | None, sample: float, alpha: float) -> float:
    return sample if old is None else old + alpha * (sample - old)


class HealthStore(Protocol):
    """Where circuit and latency state lives (in memory by default; Redis for many workers).

    Keys are (model, provider). Every method is one small, independent operation; the ones a
    shared store must make atomic are `add_outcome` (counter increments) and `claim_probe`
    (compare-and-set). Read-modify-write races elsewhere only lose a sample. A store may also
    offer `any_open(model) -> bool` (some circuit of the model is open), a fast path that lets
    healthy calls skip looking at every provider's circuit, and `count_success(key, bucket,
    oldest) -> None`, `add_outcome` for a success without returning totals (a shared store can
    then count it without waiting for the server).
    """

    def add_outcome(
        self, key: tuple[str, str], bucket: int, failed: bool, oldest: int
    ) -> WindowCounts:
        """Count one call (failed or not) in `bucket`; return the totals of buckets >= oldest."""
        ...

    def window(self, key: tuple[str, str], oldest: int) -> WindowCounts:
        """The totals of buckets >= oldest."""
        ...

    def reset_window(self, key: tuple[str, str]) -> None:
        """Forget every counted call (a circuit that closes starts afresh)."""
        ...

    def get_circuit(self, key: tuple[str, str]) -> CircuitRecord | None:
        """The circuit's record, None when never written."""
        ...

    def put_circuit(self, key: tuple[str, str], record: CircuitRecord) -> None:
        """Write the circuit's record."""
        ...

    def claim_probe(self, key: tuple[str, str], now: float, until: float) -> bool:
        """Atomically: when no probe is in flight (probe_until <= now), take it until `until`."""
        ...

    def get_latency(self, key: tuple[str, str]) -> LatencyStats | None:
        """The latency statistics, None when nothing is known."""
        ...

    def update_latency(
        self, key: tuple[str, str], update: Callable[[LatencyStats], LatencyStats]
    ) -> LatencyStats:
        """Replace the statistics by `update(current)` (current: empty stats when unknown)."""
        ...

    def known_keys(self) -> list[tuple[str, str]]:
        """Every (model, provider) with any state."""
        ...


class _Window:
    """One circuit's counters per bucket, with running totals over the live buckets."""

    __slots__ = ("buckets", "calls", "current", "failures", "oldest")

    def __init__(self) -> None:
        self.buckets: dict[int, list[int]] = {}
        self.current = self.oldest = 0
        self.calls = self.failures = 0

    def slide(self, bucket: int, oldest: int) -> None:
        for stale in [b for b in self.buckets if b < oldest]:
            del self.buckets[stale]
        self.calls = sum(c[0] for c in self.buckets.values())
        self.failures = sum(c[1] for c in self.buckets.values())
        self.current, self.oldest = bucket, oldest


class InMemoryHealthStore:
    """The default `HealthStore`: dicts behind one lock (thread-safe, one process)."""

    def __init__(self) -> None:
        """Create an empty store."""
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], _Window] = {}
        self._circuits: dict[tuple[str, str], CircuitRecord] = {}
        self._latency: dict[tuple[str, str], LatencyStats] = {}
        self._open: set[tuple[str, str]] = set()

    def add_outcome(
        self, key: tuple[str, str], bucket: int, failed: bool, oldest: int
    ) -> WindowCounts:
        """Count one call (failed or not) in `bucket`; return the totals of buckets >= oldest."""
        with self._lock:
            window = self._buckets.get(key)
            if window is None:
                window = self._buckets[key] = _Window()
            if bucket != window.current or oldest != window.oldest:
                window.slide(bucket, oldest)
            counts = window.buckets.get(bucket)
            if counts is None:
                counts = window.buckets[bucket] = [0, 0]
            counts[0] += 1
            window.calls += 1
            if failed:
                counts[1] += 1
                window.failures += 1
            return WindowCounts(window.calls, window.failures)

    def window(self, key: tuple[str, str], oldest: int) -> WindowCounts:
        """The totals of buckets >= oldest."""
        with self._lock:
            window = self._buckets.get(key)
            if window is None:
                return WindowCounts()
            live = [c for b, c in window.buckets.items() if b >= oldest]
            return WindowCounts(sum(c[0] for c in live), sum(c[1] for c in live))

    def reset_window(self, key: tuple[str, str]) -> None:
        """Forget every counted call."""
        with self._lock:
            self._buckets.pop(key, None)

    def get_circuit(self, key: tuple[str, str]) -> CircuitRecord | None:
        """The circuit's record (a copy), None when never written."""
        record = self._circuits.get(key)  # a dict read is atomic; copy under the lock
        if record is None:
            return None
        with self._lock:
            return CircuitRecord(
                record.state,
                record.retry_at,
                record.probe_until,
                record.last_error,
                record.last_error_at,
            )

    def put_circuit(self, key: tuple[str, str], record: CircuitRecord) -> None:
        """Write the circuit's record."""
        with self._lock:
            self._circuits[key] = replace(record)
            if record.state == "open":
                self._open.add(key)
            else:
                self._open.discard(key)

    def any_open(self, model: str) -> bool:
        """Whether some circuit of `model` is open."""
        return any(key[0] == model for key in self._open)

    def claim_probe(self, key: tuple[str, str], now: float, until: float) -> bool:
        """Take the probe when none is in flight."""
        with self._lock:
            record = self._circuits.setdefault(key, CircuitRecord())
            if record.probe_until > now:
                return False
            record.probe_until = until
            return True

    def get_latency(self, key: tuple[str, str]) -> LatencyStats | None:
        """The latency statistics, None when nothing is known."""
        with self._lock:
            return self._latency.get(key)

    def update_latency(
        self, key: tuple[str, str], update: Callable[[LatencyStats], LatencyStats]
    ) -> LatencyStats:
        """Replace the statistics by `update(current)`."""
        with self._lock:
            stats = update(self._latency.get(key) or LatencyStats())
            self._latency[key] = stats
            return stats

    def known_keys(self) -> list[tuple[str, str]]:
        """Every (model, provider) with any state."""
        with self._lock:
            return sorted({*self._buckets, *self._circuits, *self._latency})


@dataclass(frozen=True, slots=True)
class ProviderHealth:
    """What `client.health()` reports for one (model, provider)."""

    model: str
    provider: str
    state: BreakerState
    error_rate: float | None
    calls: int
    ttft_s: float | None
    latency_s: float | None
    throughput: float | None
    last_error: str | None
    retry_at: float | None = field(default=None)


def failure_kind(error: HFProvidersError | None) -> str | None:
    """A short label when `error` says the provider is unhealthy; None when it does not.

    Counted: 5xx, timeouts and connection errors, broken streams, 429 without a usable wait.
    Not counted: success, 4xx the request caused, a 429 with a short Retry-After.
    """
    if error is None:
        return None
    status = error.status_code
    if isinstance(error, APIConnectionError | ServerError):
        return type(error).__name__
    if isinstance(error, RateLimitError):
        wait = error.retry_after
        if wait is not None and 0 <= wait <= _USABLE_RETRY_AFTER_S:
            return None
        return "RateLimitError (no usable wait)"
    if isinstance(error, StreamError) and (status is None or status >= 500 or status == 200):
        return type(error).__name__
    if status is not None and status >= 500:
        return type(error).__name__
    return None


def _describe(error: HFProvidersError) -> str:
    status = f" {error.status_code}" if error.status_code is not None else ""
    return f"{type(error).__name__}{status}"


_POLICY_NAMES = frozenset({"fastest", "cheapest", "preferred", "lowest-latency", "auto"})


class HealthTracker:
    """One client's view of provider health: orders chains, records outcomes, reports.

    `breaker=None` keeps the latency statistics (for `lowest-latency` and hedging) but never
    skips a provider. Pass the same `store` to several clients (or processes, with a shared
    store) to share what they learn.
    """

    def __init__(
        self,
        breaker: CircuitBreaker | None = CircuitBreaker(),  # noqa: B008 (frozen, immutable)
        store: HealthStore | None = None,
        *,
        clock: Callable[[], float] = time.time,
        alpha: float = 0.2,
        remeasure_s: float | None = None,
        hedge_budget: HedgeBudget | None = None,
    ) -> None:
        """Create a tracker over `store` (a new in-memory one by default).

        `remeasure_s`: how often a provider that `lowest-latency` ranks behind, and that no
        call measured meanwhile, gets one call to measure it again (default: the breaker's
        `cooldown_s`, or 30 s without a breaker). `hedge_budget`: how many hedges the clients
        sharing this tracker may start (default: 15 per 100 calls on average, 20 at once).
        """
        self.breaker = breaker
        self.store: HealthStore = store if store is not None else InMemoryHealthStore()
        self.clock = clock
        self.alpha = alpha
        self._seeded: set[str] = set()
        # Failures in a row per circuit, counted in this process (lost increments are harmless).
        self._streaks: dict[tuple[str, str], tuple[int, float]] = {}  # (failures, last sent)
        # Circuits this tracker has closed, per model: a hedged attempt waiting on a slower
        # provider hedges at once when this changes (a provider came back).
        self.closings: dict[str, int] = {}
        # When this process last sent a call to re-measure a provider (see `_remeasure`).
        self._remeasured: dict[tuple[str, str], float] = {}
        if remeasure_s is None:
            remeasure_s = breaker.cooldown_s if breaker is not None else _REMEASURE_S
        self.remeasure_s = remeasure_s
        self.hedges = hedge_budget if hedge_budget is not None else HedgeBudget()

    # -- the breaker -------------------------------------------------------------------------

    def _window_bounds(self, now: float) -> tuple[int, int]:
        assert self.breaker is not None
        width = self.breaker.window_s / _BUCKETS
        bucket = math.floor(now / width)
        return bucket, bucket - _BUCKETS + 1

    def state(self, model: str, provider: str, now: float | None = None) -> BreakerState:
        """The circuit's state for (model, provider)."""
        if self.breaker is None:
            return "closed"
        record = self.store.get_circuit((model, provider))
        return _state_of(record, self.clock() if now is None else now)

    def available(
        self, model: str, chain: Sequence[str | None], *, claim: bool = False
    ) -> tuple[str | None, ...]:
        """The chain without open providers; raises ProvidersUnavailableError when none is left.

        A half-open provider (cooldown over, no probe in flight) stays in; with `claim`, its
        probe is taken now and it goes first. A chain entry None (the router's own choice) is
        checked under the name "auto".
        """
        if self.breaker is None or not self._any_open(model):
            return tuple(chain)  # every circuit of the model closed: nothing to skip or probe
        now = self.clock()
        probes: list[str | None] = []
        kept: list[str | None] = []
        closed: list[tuple[str, float]] = []
        for provider in chain:
            key = (model, provider or "auto")
            record = self.store.get_circuit(key)
            if record is None or record.state == "closed":
                kept.append(provider)
            elif now < record.retry_at:
                closed.append((key[1], record.retry_at))
            elif record.probe_until > now:
                closed.append((key[1], record.probe_until))
            elif not claim:
                kept.append(provider)
            elif self.store.claim_probe(key, now, now + self.breaker.cooldown_s):
                probes.append(provider)
            else:  # another caller took the probe a moment ago
                closed.append((key[1], now + self.breaker.cooldown_s))
        if not probes and not kept:
            raise ProvidersUnavailableError.for_providers(model, closed, now)
        return (*probes, *kept)

    def admit(self, model: str, provider: str | None) -> bool:
        """Whether an attempt may go to `provider` now; claims the probe of a half-open circuit."""
        if self.breaker is None:
            return True
        now = self.clock()
        key = (model, provider or "auto")
        state = _state_of(self.store.get_circuit(key), now)
        if state == "closed":
            return True
        if state == "open":
            return False
        return self.store.claim_probe(key, now, now + self.breaker.cooldown_s)

    def record(
        self,
        model: str,
        asked: str | None,
        served: str | None,
        error: HFProvidersError | None,
        *,
        ttft_s: float | None = None,
        latency_s: float | None = None,
        output_tokens: int | None = None,
        took_s: float | None = None,
    ) -> None:
        """Record one attempt's outcome under the provider that served and the one asked for.

        `took_s` is how long the attempt took (default: `latency_s`, else 0): the breaker
        compares when attempts were sent, so an answer to a request sent before an outage
        began neither breaks a run of failures nor closes the circuit.
        """
        kind = failure_kind(error)
        counted = error is None or kind is not None
        names = {served or asked or "auto"}
        if asked is not None and asked not in names:
            names.add(asked)
        now = self.clock()
        for provider in names:
            key = (model, provider)
            if self.breaker is not None and counted:
                sent_at = now - (took_s if took_s is not None else latency_s or 0.0)
                self._count(key, now, kind, error, sent_at)
            elif kind is not None:
                assert error is not None
                record = self.store.get_circuit(key) or CircuitRecord()
                record.last_error, record.last_error_at = _describe(error), now
                self.store.put_circuit(key, record)
            if error is None:
                throughput = None
                if output_tokens and latency_s is not None and ttft_s is not None:
                    generating = latency_s - ttft_s
                    throughput = output_tokens / generating if generating > 0 else None
                sample = (ttft_s, latency_s, throughput, now)
                self.store.update_latency(key, partial(_fold, self.alpha, sample))

    def _count(
        self,
        key: tuple[str, str],
        now: float,
        kind: str | None,
        error: HFProvidersError | None,
        sent_at: float,
    ) -> None:
        assert self.breaker is not None
        bucket, oldest = self._window_bounds(now)
        count_success = getattr(self.store, "count_success", None) if kind is None else None
        if count_success is not None:  # a success's totals decide nothing: a store may not wait
            count_success(key, bucket, oldest)
            counts = WindowCounts()
        else:
            counts = self.store.add_outcome(key, bucket, kind is not None, oldest)
        streaks = self._streaks
        if kind is None:
            # A success ends a run of failures only if it was sent after the last failure was.
            if streaks and key in streaks and sent_at > streaks[key][1]:
                del streaks[key]
            if not self._any_open(key[0]):
                return  # a success while every circuit of the model is closed: nothing changes
        else:
            count, last_sent = streaks.get(key, (0, sent_at))
            streaks[key] = (count + 1, max(last_sent, sent_at))
        record = self.store.get_circuit(key) or CircuitRecord()
        state = _state_of(record, now)
        if kind is None:
            # The probe succeeded (or a call another process sent since the circuit opened).
            # An answer to a call sent before it opened says nothing about the provider now.
            opened_at = record.retry_at - self.breaker.cooldown_s
            if state != "closed" and sent_at >= opened_at:
                self.closings[key[0]] = self.closings.get(key[0], 0) + 1
                record.state, record.probe_until = "closed", 0.0
                self.store.reset_window(key)
                self.store.put_circuit(key, record)
            return
        assert error is not None
        record.last_error, record.last_error_at = _describe(error), now
        limit = self.breaker.consecutive_failures
        trips = state == "closed" and (
            (limit is not None and streaks.get(key, (0, 0.0))[0] >= limit)
            or self._trips(counts)
            or self._trips(self.store.window(key, bucket))
        )
        if state == "half_open" or trips:
            streaks.pop(key, None)
            record.state = "open"
            record.retry_at = now + self.breaker.cooldown_s
            record.probe_until = 0.0
        self.store.put_circuit(key, record)

    def _trips(self, counts: WindowCounts) -> bool:
        assert self.breaker is not None
        rate = counts.error_rate or 0.0
        return counts.calls >= self.breaker.min_calls and rate >= self.breaker.failure_rate

    def plan_chain(
        self,
        model: str,
        chain: Sequence[str | None],
        info: ModelInfo | None,
        constraints: ProviderConstraints | None = None,
        output_tokens: int = 256,
        *,
        claim: bool = False,
        remeasure: bool = True,
    ) -> tuple[str | None, ...]:
        """The chain a call should walk, from the client's provider setting and what is known.

        `lowest-latency` becomes the live providers meeting `constraints`, by expected latency
        (the router's own choice when the catalogue is not loaded). A router-side policy
        (`None`, `fastest`, `cheapest`, `preferred`) whose pick may be a provider with an open
        circuit is replaced by the policy's best provider among those whose circuit is closed.
        Open providers are then dropped (`available`, which claims half-open probes with
        `claim`), which raises when none is left. With `claim` and `remeasure`, a stale
        provider may go first (`_remeasure`).
        """
        planned: list[str | None] = []
        for provider in chain:
            if provider == "lowest-latency":
                if info is None:
                    planned.append(None)
                    continue
                self._seed_once(info)
                ranked = self.rank_lowest_latency(info, constraints, output_tokens)
                if not ranked:
                    raise ProvidersUnavailableError(
                        f"No live provider of {model} meets the routing constraints"
                    )
                planned.extend(self._remeasure(model, ranked) if claim and remeasure else ranked)
            elif (
                is_policy(provider)
                and info is not None
                and self.breaker is not None
                and self._any_open(model)
            ):
                planned.append(self._policy_avoiding_open(info, provider))
            else:
                planned.append(provider)
        deduped = tuple(dict.fromkeys(planned)) if len(planned) > 1 else tuple(planned)
        return self.available(model, deduped, claim=claim)

    def _remeasure(self, model: str, ranked: list[str]) -> list[str]:
        """`ranked`, or with one stale provider moved first: this call measures it again.

        A provider ranked behind the first one is only measured by the calls that reach it, so
        a provider that was slow for a while (or was never tried) could stay behind after it
        recovered. Once per `remeasure_s` (per provider, in this process) a call goes first to
        such a provider that was measured before, if its circuit is closed and nothing measured
        it in that time. The call is still hedged and failed over as usual. A provider never
        measured keeps its place from the catalogue's figures.
        """
        if len(ranked) < 2:
            return ranked
        now = self.clock()
        for name in ranked[1:]:
            key = (model, name)
            stats = self.store.get_latency(key)
            if stats is None or stats.measured_at is None:
                continue
            last = max(stats.measured_at, self._remeasured.get(key, 0.0))
            if now - last >= self.remeasure_s and self.state(model, name, now) == "closed":
                self._remeasured[key] = now
                return [name, *(other for other in ranked if other != name)]
        return ranked

    def _policy_avoiding_open(self, info: ModelInfo, policy: str | None) -> str | None:
        from hfproviders._routing import pick_provider

        now = self.clock()
        live = info.live_providers
        closed = [
            p
            for p in live
            if _state_of(self.store.get_circuit((info.id, p.provider)), now) != "open"
        ]
        if len(closed) == len(live) or not closed:
            return policy  # nothing to avoid (or nothing left: `available` will say so)
        kept = replace(info, providers=tuple(closed))
        name = policy if policy in ("fastest", "cheapest", "preferred") else "fastest"
        picked = pick_provider(kept, name)  # type: ignore[arg-type]
        return picked.provider if picked is not None else policy

    def _any_open(self, model: str) -> bool:
        # An optional fast path of a store (the in-memory one has it); without it, look.
        any_open = getattr(self.store, "any_open", None)
        return True if any_open is None else bool(any_open(model))

    def _seed_once(self, info: ModelInfo) -> None:
        if info.id not in self._seeded:
            self._seeded.add(info.id)
            self.seed(info)

    # -- latency -------------------------------------------------------------------------------

    def record_wait(self, model: str, provider: str | None, waited_s: float) -> None:
        """A first token still missing after `waited_s` (a hedged attempt that lost the race).

        Counted as a time to first token of `waited_s`, a lower bound: a provider that keeps
        losing races drifts down the lowest-latency order instead of staying first. A
        half-open provider's probe that lost is released, so the next call probes again.
        """
        if waited_s > 0:
            now = self.clock()
            sample = (waited_s, waited_s, None, now)
            key = (model, provider or "auto")
            self.store.update_latency(key, partial(_fold, self.alpha, sample))
            record = self.store.get_circuit(key) if self.breaker is not None else None
            if record is not None and record.state == "open" and record.probe_until > now:
                record.probe_until = 0.0  # a probe that lost a race: the next call probes
                self.store.put_circuit(key, record)

    def seed(self, info: ModelInfo) -> None:
        """Fill unknown statistics from the catalogue (`first_token_latency_ms`, `throughput`)."""
        for entry in info.providers:
            if entry.first_token_latency_ms is None and entry.throughput is None:
                continue
            ttft = entry.first_token_latency_ms / 1000 if entry.first_token_latency_ms else None
            seeded = LatencyStats(ttft_s=ttft, throughput=entry.throughput)

            def seed_if_empty(s: LatencyStats, seeded: LatencyStats = seeded) -> LatencyStats:
                known = s.samples or s.ttft_s is not None or s.throughput is not None
                return s if known else seeded

            self.store.update_latency((info.id, entry.provider), seed_if_empty)

    def latency(self, model: str, provider: str | None) -> LatencyStats | None:
        """The statistics for (model, provider), None when nothing is known."""
        return self.store.get_latency((model, provider or "auto"))

    def hedge_delay(
        self, model: str, provider: str | None, hedge_after: float | str
    ) -> float | None:
        """Seconds to wait for a first byte before hedging; None: do not hedge this call.

        `"p90"` (or `"p95"`, any `"p50"`…`"p99"`) uses that percentile of the measured time to
        first token; before 5 measurements, twice the catalogue's (or measured) average; with
        nothing known, no hedge.
        """
        if not isinstance(hedge_after, str):
            return float(hedge_after)
        stats = self.latency(model, provider)
        if stats is None:
            return None
        found = _PERCENTILE.fullmatch(hedge_after)
        quantile = stats.ttft_quantile_s(int(found.group(1)) / 100 if found else 0.9)
        if quantile is not None:
            return quantile
        return 2 * stats.ttft_s if stats.ttft_s is not None else None

    def rank_lowest_latency(
        self,
        info: ModelInfo,
        constraints: ProviderConstraints | None = None,
        output_tokens: int = 256,
        extra: Iterable[str] = (),
    ) -> list[str]:
        """Live providers meeting `constraints`, by expected latency (unknown last, router order).

        Providers in `extra` (typically ones the catalogue lists, constraints permitting) are
        ranked too. Open circuits are not removed here: `available` does that.
        """
        constraints = constraints or ProviderConstraints()
        candidates = [p for p in info.live_providers if constraints.allows(p)]
        names = [p.provider for p in candidates] + [e for e in extra if info.provider(e) is None]

        def expected(position: int) -> tuple[bool, float, int]:
            stats = self.latency(info.id, names[position])
            value = stats.rank_s(output_tokens) if stats is not None else None
            return (value is None, value or 0.0, position)

        return [names[i] for i in sorted(range(len(names)), key=expected)]

    # -- reporting -----------------------------------------------------------------------------

    def report(self) -> list[ProviderHealth]:
        """One `ProviderHealth` per (model, provider) the tracker knows about."""
        now = self.clock()
        rows = []
        for model, provider in self.store.known_keys():
            record = self.store.get_circuit((model, provider))
            counts = WindowCounts()
            if self.breaker is not None:
                counts = self.store.window((model, provider), self._window_bounds(now)[1])
            stats = self.store.get_latency((model, provider)) or LatencyStats()
            state = _state_of(record, now) if self.breaker is not None else "closed"
            rows.append(
                ProviderHealth(
                    model=model,
                    provider=provider,
                    state=state,
                    error_rate=counts.error_rate,
                    calls=counts.calls,
                    ttft_s=stats.ttft_s,
                    latency_s=stats.latency_s,
                    throughput=stats.throughput,
                    last_error=record.last_error if record else None,
                    retry_at=record.retry_at if record and state != "closed" else None,
                )
            )
        return rows


def _fold(
    alpha: float,
    sample: tuple[float | None, float | None, float | None, float | None],
    stats: LatencyStats,
) -> LatencyStats:
    return stats.updated(alpha, *sample)


def _state_of(record: CircuitRecord | None, now: float) -> BreakerState:
    if record is None or record.state == "closed":
        return "closed"
    return "open" if now < record.retry_at else "half_open"


def is_policy(provider: str | None) -> bool:
    """True for a chain entry that names a routing policy rather than a provider."""
    return provider is None or provider in _POLICY_NAMES


class HealthHook:
    """A client's health component: the `Call` asks it to order the chain and tells it outcomes.

    Built by the client from its `breaker=`, `constraints=` and `hedge_after=` options (or pass
    a `HealthTracker` to share one between clients). `catalogue(model)` returns the loaded
    catalogue entry of a model, or None; it never does I/O.
    """

    def __init__(
        self,
        tracker: HealthTracker,
        catalogue: Callable[[str], ModelInfo | None],
        constraints: ProviderConstraints | None = None,
        hedge_after: float | str | None = None,
    ) -> None:
        """Wrap `tracker` for one client."""
        self.tracker = tracker
        self.catalogue = catalogue
        self.constraints = constraints
        self.hedge_after = hedge_after

    def order(self, call: Any, chain: tuple[str | None, ...]) -> tuple[str | None, ...]:
        """The chain to walk: planned (`plan_chain`), a half-open provider's probe first."""
        if self.hedge_after is not None:
            self.tracker.hedges.add_call()
        return self._plan(call, chain, remeasure=True)

    def hedge_allowed(self) -> bool:
        """Whether a hedge that is due may start (the tracker's `HedgeBudget`)."""
        return self.tracker.hedges.take()

    def hedge_order(self, call: Any, chain: tuple[str | None, ...]) -> tuple[str | None, ...]:
        """The chain as planned now for a hedge: like `order`, with closed circuits only.

        A hedge is never a half-open provider's probe (a hedge that loses is cancelled, and a
        cancelled probe would hold the provider back for a cooldown) nor a re-measure.
        """
        planned = self._plan(call, chain, remeasure=False, claim=False)
        state, model = self.tracker.state, call.model
        return tuple(p for p in planned if state(model, p or "auto") == "closed")

    def hedge_early(self, call: Any) -> Callable[[], bool] | None:
        """For a hedged attempt: a check that says when to start the hedge before its delay.

        True once a circuit of the call's model has closed since (a provider came back): the
        hedge then goes to the provider health ranks first at that moment. The check reads a
        counter, never a store. None (nothing to check) when no circuit of the model is open:
        then none can close during the attempt.
        """
        tracker, model = self.tracker, call.model
        if tracker.breaker is None or not tracker._any_open(model):
            return None
        closings = tracker.closings
        seen = closings.get(model, 0)
        return lambda: closings.get(model, 0) != seen

    def _plan(
        self,
        call: Any,
        chain: tuple[str | None, ...],
        *,
        remeasure: bool,
        claim: bool = True,
    ) -> tuple[str | None, ...]:
        body = getattr(call.request, "body", None) or {}
        max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
        output = max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else 256
        model = call.model
        info = self.catalogue(model) if self._needs_catalogue(chain) else None
        return self.tracker.plan_chain(
            model, chain, info, self.constraints, output, claim=claim, remeasure=remeasure
        )

    def _needs_catalogue(self, chain: tuple[str | None, ...]) -> bool:
        return self.tracker.breaker is not None or "lowest-latency" in chain

    def record(self, call: Any, event: Any) -> None:
        """One attempt's outcome."""
        error = event.error
        latency = event.elapsed_s if error is None else None
        ttft = event.ttft_s if error is None else None
        if error is None and ttft is None and not call.stream:
            ttft = latency  # a whole answer: its first byte came with the rest
        self.tracker.record(
            call.model,
            event.provider,
            event.served_by,
            error,
            ttft_s=ttft,
            latency_s=latency,
            output_tokens=getattr(event, "output_tokens", None),
            took_s=event.elapsed_s,
        )

    def is_open(self, model: str, provider: str | None) -> bool:
        """Whether the provider's circuit is open: a failed call fails over instead of retrying."""
        return self.tracker.state(model, provider or "auto") == "open"

    def fails_over(self, model: str, provider: str | None, error: HFProvidersError) -> bool:
        """Whether a failed attempt goes to the next provider at once instead of a retry here.

        With the breaker on: when the failure says the provider is unhealthy (5xx, timeout,
        connection error, 429 without a usable wait), or its circuit is open. The `Call` asks
        only when another provider is left in the chain; the last one keeps its retries.
        """
        if self.tracker.breaker is None:
            return False
        return failure_kind(error) is not None or self.is_open(model, provider)

    def wants_catalogue(self, chain: Sequence[str | None]) -> bool:
        """Whether calls on `chain` need the catalogue loaded first (lowest-latency does)."""
        return "lowest-latency" in chain

    def outran(self, model: str, provider: str | None, waited_s: float) -> None:
        """A hedge answered first: the slow attempt waited at least `waited_s` for nothing."""
        self.tracker.record_wait(model, provider, waited_s)

    def hedge_delay(self, model: str, provider: str | None) -> float | None:
        """Seconds before hedging a call's first attempt on `provider` (None: no hedge)."""
        if self.hedge_after is None:
            return None
        return self.tracker.hedge_delay(model, provider, self.hedge_after)


_DEFAULT_BREAKER = CircuitBreaker()


def health_hook(
    options: Mapping[str, Any],
    catalogue: Callable[[str], ModelInfo | None],
    store: HealthStore | None = None,
) -> Any:
    """The health component of a client, from its health options.

    Those are `breaker`, `health`, `constraints` and `hedge_after`. A `health=HealthTracker`
    brings its own breaker (`breaker` is then not used); a `health=` that is not a
    `HealthTracker` is a hook of the caller's own, used as it is. `store`: where a tracker built
    here keeps its state (the client's `state=`; None: in memory).
    """
    given = options.get("health")
    if given is not None and not isinstance(given, HealthTracker):
        return given
    breaker = options.get("breaker", _DEFAULT_BREAKER)
    if breaker is not None and not isinstance(breaker, CircuitBreaker):
        raise ConfigurationError("breaker must be a CircuitBreaker (or None to turn it off)")
    constraints = options.get("constraints")
    if constraints is not None and not isinstance(constraints, ProviderConstraints):
        raise ConfigurationError("constraints must be a ProviderConstraints")
    hedge_after = options.get("hedge_after")
    if hedge_after is not None and not (
        isinstance(hedge_after, str) and _PERCENTILE.fullmatch(hedge_after)
    ):
        valid = isinstance(hedge_after, int | float) and not isinstance(hedge_after, bool)
        if not valid or not math.isfinite(hedge_after) or hedge_after < 0:
            raise ConfigurationError("hedge_after must be seconds >= 0, 'p90' (p50…p99) or None")
    if given is None:
        given = HealthTracker(breaker, store)
    tracker = given
    return HealthHook(tracker, catalogue, constraints, hedge_after)
