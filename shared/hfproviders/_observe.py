"""What a call tells the world: one observer per client, and the health and spend hooks.

A `Call` reports to exactly one `Observer` (`call_started`, `attempt_ended`, `first_chunk`,
`call_ended`). The `hfproviders` logger and the `on_attempt` hook are two observers; an
OpenTelemetry observer or your own metrics are more, combined with `Observers`. Every method is a
no-op by default, so an observer overrides only what it needs.

Two more hooks shape a call, and are None (skipped) unless a client is given one:

- `HealthHook`: before the first attempt it may reorder or filter the provider chain (or raise,
  e.g. when every provider's circuit is open); after each attempt it `record`s the outcome: the
  provider asked, the one that served (`x-inference-provider`), the error, TTFT and latency.
- `SpendHook`: `check` runs before anything is sent (it may raise); `record` runs once a call
  has ended with its usage.

Observers run inside the call: one that raises is logged and ignored, never breaks the call.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from hfproviders._errors import InvalidParameterError, redact
from hfproviders._types import AttemptEvent

if TYPE_CHECKING:
    from hfproviders._telemetry import GenAITelemetry
    from hfproviders._types import ResponseMeta, Usage

__all__ = [
    "AttemptHook",
    "CallView",
    "HealthHook",
    "LogObserver",
    "Observer",
    "Observers",
    "SpendHook",
    "build_observer",
]

logger = logging.getLogger("hfproviders")
AttemptHook = Callable[[AttemptEvent], None]


class CallView(Protocol):
    """What observers and hooks may read of a call (a `Call` is one)."""

    kind: str  # "chat", "text_generation", "json" (lookups), "embeddings"
    model: str
    body: dict[str, Any] | None  # the JSON body sent (None for a GET lookup)
    base_url: str
    url: str
    stream: bool
    chain: tuple[str | None, ...]  # the providers to try, in order (None: the router chooses)
    attempt: int  # attempts on the current provider so far
    secrets: tuple[str, ...]  # values an observer must never write anywhere
    meta: ResponseMeta  # filled as the answer arrives (`cached` for a cache hit)
    trace: Any  # the OpenTelemetry call trace, when one is open (else None)
    trace_parent: Any  # the OpenTelemetry context a stream was asked in (else None)

    @property
    def provider(self) -> str | None:
        """The provider of the current attempt (None: the router chooses)."""
        ...


class Observer:
    """Receives a call's events; every method is a no-op until overridden."""

    def call_created(self, call: CallView) -> None:
        """A stream was asked for (it starts on its first iteration, maybe in another context)."""

    def call_started(self, call: CallView) -> None:
        """Before the first attempt (also for a cache hit: `call.meta.cached` then says so)."""

    def attempt_ended(self, call: CallView, event: AttemptEvent) -> None:
        """Once an attempt's outcome is known: a failure when it happens, a success at its end."""

    def first_chunk(self, call: CallView, elapsed_s: float) -> None:
        """A stream's first event arrived, `elapsed_s` after the call started."""

    def call_ended(self, call: CallView, result: Any, error: BaseException | None) -> None:
        """The call is over: its result (a stream's: what was handed out), or its error.

        `result.meta` says who served it; a stream closed early ends with what it had.
        """


class Observers(Observer):
    """Several observers seen as one, called in order.

    Each event goes only to the members that override it (the logger only hears of attempts),
    and an observer that raises is logged and ignored.
    """

    __slots__ = (
        "_attempt_ended",
        "_call_created",
        "_call_ended",
        "_call_started",
        "_first_chunk",
        "members",
    )

    def __init__(self, members: Sequence[Observer]) -> None:
        self.members = tuple(members)
        self._call_created = _overriding(self.members, "call_created")
        self._call_started = _overriding(self.members, "call_started")
        self._attempt_ended = _overriding(self.members, "attempt_ended")
        self._first_chunk = _overriding(self.members, "first_chunk")
        self._call_ended = _overriding(self.members, "call_ended")

    def call_created(self, call: CallView) -> None:
        _notify(self._call_created, call)

    def call_started(self, call: CallView) -> None:
        _notify(self._call_started, call)

    def attempt_ended(self, call: CallView, event: AttemptEvent) -> None:
        _notify(self._attempt_ended, call, event)

    def first_chunk(self, call: CallView, elapsed_s: float) -> None:
        _notify(self._first_chunk, call, elapsed_s)

    def call_ended(self, call: CallView, result: Any, error: BaseException | None) -> None:
        _notify(self._call_ended, call, result, error)


def _notify(methods: tuple[Callable[..., None], ...], *args: object) -> None:
    for method in methods:
        try:
            method(*args)
        except Exception:  # an observer must never break the call
            logger.exception("observer %r raised; ignored", method)


def _overriding(members: Sequence[Observer], event: str) -> tuple[Callable[..., None], ...]:
    """The members' bound methods for `event`, leaving out the base class's no-op."""
    base = getattr(Observer, event)
    methods = (getattr(member, event, None) for member in members)
    return tuple(m for m in methods if m is not None and getattr(m, "__func__", None) is not base)


class LogObserver(Observer):
    """The `hfproviders` logger: one line per attempt (DEBUG, or INFO when it will be retried)."""

    __slots__ = ()

    def attempt_ended(self, call: CallView, event: AttemptEvent) -> None:
        error = event.error
        if error is None:
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "%s model=%s provider=%s attempt=%d -> %s request_id=%s (%.3fs)",
                    call.url,
                    call.model,
                    event.provider or "auto",
                    event.attempt,
                    event.status_code,
                    event.request_id,
                    event.elapsed_s,
                )
            return
        level = logging.INFO if event.will_retry else logging.DEBUG
        if logger.isEnabledFor(level):
            logger.log(
                level,
                "%s model=%s provider=%s attempt=%d -> %s %s%s",
                call.url,
                call.model,
                event.provider or "auto",
                event.attempt,
                event.status_code if event.status_code is not None else type(error).__name__,
                redact(error.message[:200], call.secrets),
                f"; retrying in {event.wait_s:.2f}s" if event.will_retry and event.wait_s else "",
            )


class _HookObserver(Observer):
    """The `on_attempt` hook, as an observer."""

    __slots__ = ("hook",)

    def __init__(self, hook: AttemptHook) -> None:
        self.hook = hook

    def attempt_ended(self, call: CallView, event: AttemptEvent) -> None:
        try:
            self.hook(event)
        except Exception:  # a metrics hook must never break the call
            logger.exception("on_attempt hook raised; ignored")


class TelemetryObserver(Observer):
    """OpenTelemetry GenAI spans and metrics (`_telemetry`), as an observer.

    `telemetry=None` (the default) traces once the process has imported OpenTelemetry and a
    provider is configured; until then each call costs one dictionary lookup.
    """

    __slots__ = ("telemetry",)

    def __init__(self, telemetry: GenAITelemetry | None) -> None:
        self.telemetry = telemetry

    def call_created(self, call: CallView) -> None:
        # A stream's span is the child of the span current where it was asked for: a framework
        # that returns the stream from inside its own span has often closed that span by then.
        if "opentelemetry.context" in sys.modules:
            from opentelemetry import context

            call.trace_parent = context.get_current()

    def call_started(self, call: CallView) -> None:
        telemetry = self.telemetry
        if telemetry is None:
            if (
                "opentelemetry.trace" not in sys.modules
                and "opentelemetry.metrics" not in sys.modules
            ):
                return
            from hfproviders._telemetry import auto_telemetry

            telemetry = auto_telemetry()
            if telemetry is None:
                return
        call.trace = telemetry.call_started(
            call.kind,
            call.model,
            call.body or {},
            base_url=call.base_url,
            chain=call.chain,
            stream=call.stream,
            parent=call.trace_parent,
            requested=getattr(getattr(call, "request", None), "chain", None),
        )

    def attempt_ended(self, call: CallView, event: AttemptEvent) -> None:
        if call.trace is not None:
            call.trace.attempt_ended(event)

    def first_chunk(self, call: CallView, elapsed_s: float) -> None:
        if call.trace is not None:
            call.trace.first_chunk(elapsed_s)

    def call_ended(self, call: CallView, result: Any, error: BaseException | None) -> None:
        if call.trace is not None:
            call.trace.call_ended(result, None, error)


def build_observer(
    on_attempt: AttemptHook | None,
    extra: Observer | None,
    telemetry: GenAITelemetry | bool | None = None,
) -> Observer:
    """The one observer of a client: the logger, `on_attempt`, telemetry, then yours."""
    members: list[Observer] = [LogObserver()]
    if on_attempt is not None:
        members.append(_HookObserver(on_attempt))
    # Automatic telemetry costs nothing where OpenTelemetry is not even installed.
    if telemetry is not False and (telemetry is not None or _otel_installed()):
        members.append(TelemetryObserver(_telemetry_option(telemetry)))
    if extra is not None:
        members.append(extra)
    return members[0] if len(members) == 1 else Observers(members)


_OTEL_INSTALLED: bool | None = None


def _otel_installed() -> bool:
    """Whether the OpenTelemetry API can be imported (looked up once per process)."""
    global _OTEL_INSTALLED
    if _OTEL_INSTALLED is None:
        from importlib.util import find_spec

        try:
            _OTEL_INSTALLED = find_spec("opentelemetry") is not None
        except (ImportError, ValueError, AttributeError):  # e.g. sys.modules entry set to None
            _OTEL_INSTALLED = False
    return _OTEL_INSTALLED


def _telemetry_option(telemetry: GenAITelemetry | bool | None) -> GenAITelemetry | None:
    """None: automatic (on once a tracer or meter provider is configured); True: always."""
    if telemetry is None:
        return None
    from hfproviders._telemetry import GenAITelemetry

    if telemetry is True:
        return GenAITelemetry()
    if not isinstance(telemetry, GenAITelemetry):
        raise InvalidParameterError("telemetry must be None, True, False or a GenAITelemetry")
    return telemetry


class HealthHook(Protocol):
    """Provider health: orders the chain before a call, learns from every attempt."""

    def order(self, call: CallView, chain: tuple[str | None, ...]) -> tuple[str | None, ...]:
        """The chain to use (reordered, filtered); may raise to fail the call before sending."""
        ...

    def record(self, call: CallView, event: AttemptEvent) -> None:
        """One attempt's outcome (`event.provider` asked, `event.served_by` served)."""
        ...


class SpendHook(Protocol):
    """Spend control: a check before sending, a record after the call."""

    def check(self, call: CallView) -> None:
        """Raise (e.g. a budget error) to stop the call before anything is sent."""
        ...

    def record(self, call: CallView, meta: ResponseMeta, usage: Usage | None) -> None:
        """A call ended with an answer; `meta.provider` served it, `usage` may be None."""
        ...

    def release(self, call: CallView) -> None:
        """A call ended without an answer (failed, or a stream closed early)."""
        ...
