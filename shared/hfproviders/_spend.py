"""What calls cost, what a client has spent, and spending limits.

HF's router reports no cost in its answers, so the cost of a call is computed here: its usage
times the serving provider's prices from the router's catalogue (`/v1/models`, USD per million
tokens). Cached input tokens are charged at the cached-input price where the catalogue gives
one, else at the input price. When a needed price is unknown the cost is None: never guessed.

`SpendLimit` caps spending per day, per month (UTC) or in total. Before a call is sent its
worst case (`max_tokens` at the highest output price of the providers it may reach, plus the
estimated input) is *reserved*; a reservation that would cross the limit raises
`BudgetExceededError` and nothing is sent. After the call the reservation is replaced by the
actual cost. Calls whose price is unknown reserve and record nothing (they are logged).

State lives behind `SpendStore` (in memory by default): an atomic reserve (check and add) and
plain additions, easy to make atomic in a shared store.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from hfproviders._errors import BudgetExceededError, ConfigurationError, InvalidParameterError

if TYPE_CHECKING:
    from hfproviders._catalog import ModelInfo, ProviderInfo
    from hfproviders._types import Usage

__all__ = [
    "InMemorySpendStore",
    "Prices",
    "Reservation",
    "SpendControl",
    "SpendHook",
    "SpendLedger",
    "SpendLimit",
    "SpendLine",
    "SpendReport",
    "SpendStore",
    "call_cost",
    "spend_hook",
    "worst_case_cost",
]

logger = logging.getLogger("hfproviders")
Period = Literal["day", "month"]
_ALL = "all"


@dataclass(frozen=True, slots=True)
class Prices:
    """A provider's prices in USD per million tokens (None: not listed)."""

    input: float | None = None
    output: float | None = None
    cached_input: float | None = None
    free: bool = False

    @classmethod
    def of(cls, info: ProviderInfo | None) -> Prices | None:
        """The prices of a catalogue entry, None when there is no entry."""
        if info is None:
            return None
        return cls(
            input=info.pricing_input,
            output=info.pricing_output,
            cached_input=getattr(info, "pricing_cached_input", None),
            free=bool(info.is_free),
        )


def call_cost(prices: Prices | None, usage: Usage | None) -> float | None:
    """USD for a call with `usage` at `prices`; None when a needed price or the usage is unknown."""
    if prices is None or usage is None:
        return None
    if prices.free:
        return 0.0
    cached = min(max(usage.cached_tokens or 0, 0), usage.prompt_tokens)
    fresh = usage.prompt_tokens - cached
    if prices.input is None and (fresh or (cached and prices.cached_input is None)):
        return None
    if prices.output is None and usage.completion_tokens:
        return None
    cached_price = prices.cached_input if prices.cached_input is not None else prices.input
    total = (
        fresh * (prices.input or 0.0)
        + cached * (cached_price or 0.0)
        + usage.completion_tokens * (prices.output or 0.0)
    )
    return total / 1e6


def worst_case_cost(
    prices: Prices | None, input_tokens: int, max_output_tokens: int
) -> float | None:
    """The most a call could cost: all input uncached, every output token used."""
    if prices is None:
        return None
    if prices.free:
        return 0.0
    if prices.input is None or prices.output is None:
        return None
    return (input_tokens * prices.input + max_output_tokens * prices.output) / 1e6


@dataclass(frozen=True, slots=True)
class SpendLine:
    """Totals for one (model, provider): calls, tokens, USD (calls without a price apart)."""

    model: str
    provider: str
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0


# A line's counters, in `SpendLine`'s order; `call_increments` says what one call adds.
LINE_FIELDS = ("calls", "input_tokens", "output_tokens", "cost_usd", "unpriced_calls")


def call_increments(
    cost_usd: float | None, input_tokens: int, output_tokens: int
) -> tuple[int, int, int, float, int]:
    """What one recorded call adds to its line's counters (`LINE_FIELDS`).

    A call without a price adds no USD and counts as unpriced.
    """
    return (1, input_tokens, output_tokens, cost_usd or 0.0, int(cost_usd is None))


def spend_line(model: str, provider: str, counts: Mapping[str, float]) -> SpendLine:
    """A `SpendLine` from its counters by name (absent ones are 0)."""
    calls, input_tokens, output_tokens, cost, unpriced = (counts.get(f, 0) for f in LINE_FIELDS)
    return SpendLine(
        model,
        provider,
        int(calls),
        int(input_tokens),
        int(output_tokens),
        float(cost),
        int(unpriced),
    )


@dataclass(frozen=True, slots=True)
class SpendReport:
    """What `client.spend()` returns: one line per (model, provider)."""

    lines: tuple[SpendLine, ...]

    @property
    def total_usd(self) -> float:
        """The total of every priced call."""
        return math.fsum(line.cost_usd for line in self.lines)

    def by_model(self) -> dict[str, float]:
        """USD per model."""
        totals: dict[str, float] = {}
        for line in self.lines:
            totals[line.model] = totals.get(line.model, 0.0) + line.cost_usd
        return totals

    def by_provider(self) -> dict[str, float]:
        """USD per provider."""
        totals: dict[str, float] = {}
        for line in self.lines:
            totals[line.provider] = totals.get(line.provider, 0.0) + line.cost_usd
        return totals


class SpendStore(Protocol):
    """Where spending is kept (in memory by default; Redis for many workers).

    `period` is a key like "2026-12-01" (a UTC day), "2026-12" (a month) or "all". `reserve`
    must be atomic (check against the limit and add); the other writes are additions.
    """

    def add(
        self,
        period: str,
        model: str,
        provider: str,
        cost_usd: float | None,
        input_tokens: int,
        output_tokens: int,
    ) -> None:
        """Add one call to the period's totals."""
        ...

    def lines(self, period: str) -> list[SpendLine]:
        """The period's totals per (model, provider)."""
        ...

    def total_usd(self, period: str) -> float:
        """USD spent in the period (recorded calls only)."""
        ...

    def reserve(self, period: str, amount_usd: float, limit_usd: float) -> float | None:
        """Atomically reserve `amount_usd` unless spent + reserved + amount > limit.

        Returns None when reserved, else spent + reserved (and reserves nothing).
        """
        ...

    def release(self, period: str, amount_usd: float) -> None:
        """Give back a reservation."""
        ...


class InMemorySpendStore:
    """The default `SpendStore`: dicts behind one lock (thread-safe, one process)."""

    def __init__(self) -> None:
        """Create an empty store."""
        self._lock = threading.Lock()
        # period -> (model, provider) -> [calls, input tokens, output tokens, usd, unpriced]
        self._lines: dict[str, dict[tuple[str, str], list[Any]]] = {}
        self._spent: dict[str, float] = {}
        self._reserved: dict[str, float] = {}

    def add(
        self,
        period: str,
        model: str,
        provider: str,
        cost_usd: float | None,
        input_tokens: int,
        output_tokens: int,
    ) -> None:
        """Add one call to the period's totals."""
        with self._lock:
            lines = self._lines.get(period)
            if lines is None:
                lines = self._lines[period] = {}
            line = lines.get((model, provider))
            if line is None:
                line = lines[(model, provider)] = [0, 0, 0, 0.0, 0]
            for index, increment in enumerate(
                call_increments(cost_usd, input_tokens, output_tokens)
            ):
                line[index] += increment
            if cost_usd is not None:
                self._spent[period] = self._spent.get(period, 0.0) + cost_usd

    def lines(self, period: str) -> list[SpendLine]:
        """The period's totals per (model, provider)."""
        with self._lock:
            items = sorted(self._lines.get(period, {}).items())
            return [SpendLine(model, provider, *counts) for (model, provider), counts in items]

    def total_usd(self, period: str) -> float:
        """USD spent in the period."""
        with self._lock:
            return self._spent.get(period, 0.0)

    def reserve(self, period: str, amount_usd: float, limit_usd: float) -> float | None:
        """Reserve `amount_usd` unless that would cross `limit_usd`."""
        with self._lock:
            committed = self._spent.get(period, 0.0) + self._reserved.get(period, 0.0)
            if committed + amount_usd > limit_usd:
                return committed
            self._reserved[period] = self._reserved.get(period, 0.0) + amount_usd
            return None

    def release(self, period: str, amount_usd: float) -> None:
        """Give back a reservation."""
        with self._lock:
            left = self._reserved.get(period, 0.0) - amount_usd
            self._reserved[period] = max(left, 0.0)


def period_key(period: Period | None, now: float) -> str:
    """The store key of the UTC day or month containing `now` (epoch seconds), or "all"."""
    if period is None:
        return _ALL
    moment = datetime.fromtimestamp(now, tz=UTC)
    return moment.strftime("%Y-%m-%d" if period == "day" else "%Y-%m")


@dataclass(frozen=True, slots=True)
class Reservation:
    """A worst-case amount held against a `SpendLimit` while a call runs."""

    period: str
    amount_usd: float


class SpendLimit:
    """A cap on spending (USD) per UTC day, per UTC month, or in total (`period=None`).

    Pass the same object to several clients to share the cap between them:

        budget = SpendLimit(usd=5.0, period="day")
        client = HFClient(budget=budget)

    `assumed_max_tokens` is the output a call without `max_tokens` is assumed to reach when
    its worst case is estimated.
    """

    def __init__(
        self,
        usd: float,
        period: Period | None = None,
        *,
        store: SpendStore | None = None,
        assumed_max_tokens: int = 4096,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Create a limit of `usd` dollars per `period`."""
        valid = isinstance(usd, int | float) and not isinstance(usd, bool)
        if not valid or not math.isfinite(usd) or usd < 0:
            raise InvalidParameterError("SpendLimit.usd must be a number >= 0")
        if period not in ("day", "month", None):
            raise InvalidParameterError("SpendLimit.period must be 'day', 'month' or None")
        if not isinstance(assumed_max_tokens, int) or assumed_max_tokens < 1:
            raise InvalidParameterError("SpendLimit.assumed_max_tokens must be an integer >= 1")
        self.usd = float(usd)
        self.period: Period | None = period
        self.store: SpendStore = store if store is not None else InMemorySpendStore()
        self.assumed_max_tokens = assumed_max_tokens
        self.clock = clock

    def __repr__(self) -> str:
        return f"SpendLimit(usd={self.usd!r}, period={self.period!r})"

    def spent(self) -> float:
        """USD recorded in the current period."""
        return self.store.total_usd(period_key(self.period, self.clock()))

    def remaining(self) -> float:
        """USD left in the current period (calls in flight not counted)."""
        return max(self.usd - self.spent(), 0.0)

    def reserve(self, estimate_usd: float | None, model: str) -> Reservation | None:
        """Hold `estimate_usd` for a call, or raise BudgetExceededError; None: nothing held."""
        if estimate_usd is None:
            logger.info("no price known for %s: the call is not counted against the budget", model)
            return None
        period = period_key(self.period, self.clock())
        committed = self.store.reserve(period, estimate_usd, self.usd)
        if committed is not None:
            raise BudgetExceededError(
                f"Budget exceeded: this call could cost up to ${estimate_usd:.6f} and "
                f"${committed:.6f} of the ${self.usd:.2f} {self.period or 'total'} limit "
                "is spent or held by calls in flight",
                limit_usd=self.usd,
                spent_usd=committed,
                estimate_usd=estimate_usd,
            )
        return Reservation(period, estimate_usd)

    def settle(
        self,
        reservation: Reservation | None,
        model: str,
        provider: str,
        cost_usd: float | None,
        usage: Usage | None,
    ) -> None:
        """Replace a reservation by the call's actual cost (nothing spent: pass cost_usd=None)."""
        if reservation is not None:
            period = reservation.period
            self.store.release(period, reservation.amount_usd)
        else:
            period = period_key(self.period, self.clock())
        if usage is not None:
            self.store.add(
                period,
                model,
                provider,
                cost_usd,
                usage.prompt_tokens,
                usage.completion_tokens,
            )


class SpendLedger:
    """One client's spending since it was created, per (model, provider)."""

    def __init__(self, store: SpendStore | None = None) -> None:
        """Create a ledger over `store` (a new in-memory one by default)."""
        self.store: SpendStore = store if store is not None else InMemorySpendStore()

    def record(self, model: str, provider: str, cost_usd: float | None, usage: Usage) -> None:
        """Add one answered call."""
        self.store.add(
            _ALL, model, provider, cost_usd, usage.prompt_tokens, usage.completion_tokens
        )

    def report(self) -> SpendReport:
        """The totals so far."""
        return SpendReport(tuple(self.store.lines(_ALL)))


def estimate_input_tokens(body: Mapping[str, Any]) -> int:
    """A generous estimate of a chat body's input tokens: about 3 characters a token."""
    chars = 0
    for message in body.get("messages") or ():
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, str):
            chars += len(content)
        elif content is not None:
            chars += len(json.dumps(content, default=str))
        chars += 16  # role and template tokens
    if body.get("tools"):
        chars += len(json.dumps(body["tools"], default=str))
    return chars // 3 + 1


class SpendControl:
    """One client's spending: the ledger behind `client.spend()` and its optional budget.

    `reserve` runs before a call is sent (it may raise BudgetExceededError), `settle` after it
    answered (it returns the call's cost), `release` after it failed.
    """

    def __init__(self, budget: SpendLimit | None = None, ledger: SpendLedger | None = None):
        """Create the control of one client (a new ledger unless one is given)."""
        if budget is not None and not isinstance(budget, SpendLimit):
            raise InvalidParameterError("budget must be a SpendLimit")
        self.budget = budget
        self.ledger = ledger if ledger is not None else SpendLedger()

    def reserve(
        self,
        model: str,
        chain: Sequence[str | None],
        info: ModelInfo | None,
        body: Mapping[str, Any],
    ) -> Reservation | None:
        """Hold the call's worst case against the budget (the priciest provider it may reach)."""
        if self.budget is None:
            return None
        max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
        if not isinstance(max_tokens, int) or max_tokens < 1:
            max_tokens = self.budget.assumed_max_tokens
        input_tokens = estimate_input_tokens(body)
        estimates = [
            worst_case_cost(Prices.of(entry), input_tokens, max_tokens)
            for entry in _reachable(chain, info)
        ]
        known = [e for e in estimates if e is not None]
        return self.budget.reserve(max(known) if known else None, model)

    def settle(
        self,
        reservation: Reservation | None,
        model: str,
        provider: str | None,
        info: ModelInfo | None,
        usage: Usage | None,
    ) -> float | None:
        """Record an answered call; returns its cost in USD (None when a price is unknown)."""
        entry = info.provider(provider) if info is not None and provider else None
        cost = call_cost(Prices.of(entry), usage)
        if usage is not None:
            self.ledger.record(model, provider or "auto", cost, usage)
        if self.budget is not None:
            self.budget.settle(reservation, model, provider or "auto", cost, usage)
        return cost

    def release(self, reservation: Reservation | None) -> None:
        """A call that failed: give its reservation back (failed calls are not billed)."""
        if self.budget is not None and reservation is not None:
            self.budget.settle(reservation, "", "", None, None)


def _reachable(chain: Sequence[str | None], info: ModelInfo | None) -> list[ProviderInfo | None]:
    if info is None:
        return []
    entries: list[ProviderInfo | None] = []
    for provider in chain:
        if provider is None or provider in ("fastest", "cheapest", "preferred", "lowest-latency"):
            entries.extend(info.live_providers)
        else:
            entries.append(info.provider(provider))
    return entries


class SpendHook:
    """A client's spend component: the `Call` checks before sending and records after.

    `check` reserves the call's worst case against the budget (raising BudgetExceededError),
    `record` turns the reservation into the call's cost (set on `meta.cost`) and adds it to the
    ledger, `release` gives a failed or abandoned call's reservation back.
    """

    def __init__(self, control: SpendControl, catalogue: Callable[[str], ModelInfo | None]):
        """Wrap `control` for one client; `catalogue(model)` never does I/O."""
        self.control = control
        self.catalogue = catalogue
        self._held: dict[int, Reservation] = {}

    def wants_catalogue(self, chain: Sequence[str | None]) -> bool:
        """A budget needs the catalogue's prices before the first call."""
        return self.control.budget is not None

    def check(self, call: Any) -> None:
        """Before sending: hold the worst case (raises BudgetExceededError)."""
        if self.control.budget is None:
            return
        body = getattr(call.request, "body", None) or {}
        held = self.control.reserve(call.model, call.chain, self.catalogue(call.model), body)
        if held is not None:
            self._held[id(call)] = held

    def record(self, call: Any, meta: Any, usage: Usage | None) -> None:
        """An answered call: its cost goes on `meta.cost`, the ledger and the budget."""
        held = self._held.pop(id(call), None)
        meta.cost = self.control.settle(
            held, call.model, meta.provider, self.catalogue(call.model), usage
        )

    def release(self, call: Any) -> None:
        """A call that ended without an answer."""
        self.control.release(self._held.pop(id(call), None))


def spend_hook(
    options: Mapping[str, Any],
    catalogue: Callable[[str], ModelInfo | None],
    shared: SpendStore | None = None,
) -> Any:
    """The spend component of a client, from its `budget` option (or the `spend=` hook given).

    `shared`: the client's `state=` store, for the ledger and a budget kept in memory.
    """
    given = options.get("spend")
    if given is not None:
        return given
    budget = options.get("budget")
    if budget is not None and not isinstance(budget, SpendLimit):
        raise ConfigurationError("budget must be a SpendLimit")
    if shared is None:
        return SpendHook(SpendControl(budget), catalogue)
    # `state=`: the ledger, and a budget still on its in-memory store, move to the shared store.
    if budget is not None and type(budget.store) is InMemorySpendStore:
        budget.store = shared
    return SpendHook(SpendControl(budget, SpendLedger(shared)), catalogue)
