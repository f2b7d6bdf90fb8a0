"""Measuring providers: timed streamed calls, one-request probes, and the `bench` runs.

- `run_chat_stream` streams one answer and times it (time to first token, total latency, usage);
  `chat` prints its summary line from it and `bench` aggregates many of them.
- `probe_provider` sends the one tiny request per provider of `check --probe`.
- `bench_targets`, `run_bench`, `BenchTarget.summary` and `percentile` do the A/B comparison;
  `ProgressBar` shows it (on a terminal only). The `bench` command in `_app` prints the table,
  `_plot` draws the chart.

Only the public client API is used (`stream`, `chat`, `text_generation_stream`, `list_models`), so
the numbers are what your own code would see. Errors that would fail every later request the same
way (no token, a rejected token, no network) end the run; anything else is recorded against the
provider that caused it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from hfproviders import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    HFProvidersError,
    InvalidRequestInputError,
    MissingTokenError,
    ModelInfo,
    ProviderInfo,
)

if TYPE_CHECKING:
    from hfproviders.cli._app import ClientLike

__all__ = [
    "BenchRun",
    "BenchSettings",
    "BenchTarget",
    "ProbeResult",
    "ProgressBar",
    "StreamResult",
    "bench_targets",
    "percentile",
    "probe_provider",
    "run_bench",
    "run_chat_stream",
]


def _is_fatal(exc: HFProvidersError) -> bool:
    """Errors that end a multi-request command: every later request would fail the same way.

    A timeout is not among them: it can be one slow provider, so `check --probe` and `bench`
    record it against that provider and go on.
    """
    if isinstance(exc, APITimeoutError):
        return False
    return isinstance(
        exc, MissingTokenError | AuthenticationError | APIConnectionError | InvalidRequestInputError
    )


# ---------------------------------------------------------------------------------------------
# One timed streamed answer (chat and bench)


@dataclass
class StreamResult:
    """What one streamed call produced and how fast."""

    text: str = ""
    reasoning: str = ""
    finish_reason: str | None = None
    provider: str | None = None
    request_id: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    latency_s: float = 0.0
    ttft_s: float | None = None


def run_chat_stream(
    client: ClientLike,
    model: str,
    messages: Sequence[Mapping[str, Any]],
    params: Mapping[str, Any],
    on_text: Callable[[str], None] | None = None,
    on_reasoning: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> StreamResult:
    """Stream one chat answer, passing text pieces to the callbacks as they arrive."""
    result = StreamResult()
    started = clock()
    stream = client.stream(model, messages, **params)
    pieces: list[str] = []
    thoughts: list[str] = []
    chunks_with_text = 0
    try:
        for chunk in stream:
            if chunk.usage is not None:
                result.prompt_tokens = chunk.usage.prompt_tokens
                result.completion_tokens = chunk.usage.completion_tokens
                result.total_tokens = chunk.usage.total_tokens
            for choice in chunk.choices[:1]:
                delta = choice.delta
                if (delta.reasoning or delta.content) and result.ttft_s is None:
                    result.ttft_s = clock() - started
                if delta.reasoning:
                    thoughts.append(delta.reasoning)
                    if on_reasoning is not None:
                        on_reasoning(delta.reasoning)
                if delta.content:
                    chunks_with_text += 1
                    pieces.append(delta.content)
                    if on_text is not None:
                        on_text(delta.content)
                if choice.finish_reason:
                    result.finish_reason = choice.finish_reason
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    result.latency_s = clock() - started
    result.text = "".join(pieces)
    result.reasoning = "".join(thoughts)
    meta = getattr(stream, "meta", None)
    if meta is not None:
        result.provider = meta.provider
        result.request_id = meta.request_id
        # Prefer the client's own timings (taken at the transport) when it has them.
        result.ttft_s = meta.ttft_s if meta.ttft_s is not None else result.ttft_s
        result.latency_s = meta.latency_s or result.latency_s
    if result.completion_tokens is None and chunks_with_text:
        result.completion_tokens = chunks_with_text  # an estimate: one token per chunk
    return result


# ---------------------------------------------------------------------------------------------
# check --probe


PROBE_MESSAGES = [{"role": "user", "content": "Reply with the single word: OK"}]


@dataclass
class ProbeResult:
    """One tiny real request to one provider."""

    provider: str
    ok: bool
    latency_s: float | None = None
    error: str | None = None


def probe_provider(client: ClientLike, model: str, provider: str) -> ProbeResult:
    """Send one tiny chat request pinned to `provider`; token and network errors propagate."""
    started = time.perf_counter()
    try:
        client.chat(model, PROBE_MESSAGES, provider=provider, max_tokens=16)
    except HFProvidersError as exc:
        if _is_fatal(exc):
            raise
        return ProbeResult(provider, False, error=f"{type(exc).__name__}: {exc.message}")
    return ProbeResult(provider, True, latency_s=time.perf_counter() - started)


# ---------------------------------------------------------------------------------------------
# bench: statistics, targets and runs


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass
class BenchRun:
    """One run of one target."""

    ok: bool
    latency_s: float | None = None
    ttft_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    provider: str | None = None
    error: str | None = None

    @property
    def tokens_per_s(self) -> float | None:
        """Generation speed after the first token (None when it cannot be measured)."""
        if not self.ok or not self.completion_tokens or self.latency_s is None:
            return None
        generating = self.latency_s - (self.ttft_s or 0.0)
        return self.completion_tokens / generating if generating > 0 else None


@dataclass
class BenchTarget:
    """What is benchmarked: the chat API with a provider, or the text-generation API."""

    label: str
    api: str
    provider: str | None = None
    pricing: ProviderInfo | None = None
    runs: list[BenchRun] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The statistics the table and `--json` report."""
        good = [r for r in self.runs if r.ok]
        latencies = [r.latency_s for r in good if r.latency_s is not None]
        ttfts = [r.ttft_s for r in good if r.ttft_s is not None]
        speeds = [s for r in good if (s := r.tokens_per_s) is not None]
        costs = [
            c
            for r in good
            if self.pricing is not None
            and (c := self.pricing.cost_usd(r.prompt_tokens or 0, r.completion_tokens or 0))
            is not None
        ]
        return {
            "target": self.label,
            "api": self.api,
            "provider": self.provider,
            "runs": len(self.runs),
            "errors": len(self.runs) - len(good),
            "error_rate": (len(self.runs) - len(good)) / len(self.runs) if self.runs else 0.0,
            "ttft_p50_s": percentile(ttfts, 50),
            "latency_p50_s": percentile(latencies, 50),
            "latency_p95_s": percentile(latencies, 95),
            "tokens_per_s": _mean(speeds),
            "cost_per_run_usd": _mean(costs),
            "last_error": next((r.error for r in reversed(self.runs) if r.error), None),
        }


class ProgressBar:
    """A one-line text progress bar on stderr, drawn only when `enabled` (a terminal).

    Redrawn with carriage returns, it would fill a CI log or a redirected file with one line per
    step, so it stays silent there.
    """

    def __init__(self, total: int, stream: IO[str], width: int = 30, *, enabled: bool = True):
        self.total = max(total, 1)
        self.stream = stream
        self.width = width
        self.done = 0
        self.enabled = enabled

    def step(self, label: str) -> None:
        """Count one finished run and redraw."""
        self.done += 1
        if not self.enabled:
            return
        filled = round(self.width * self.done / self.total)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {self.done}/{self.total} {label:<30}")
        self.stream.flush()

    def finish(self) -> None:
        """End the progress line."""
        if not self.enabled:
            return
        self.stream.write("\n")
        self.stream.flush()


@dataclass(frozen=True)
class BenchSettings:
    """What every run of a bench sends."""

    model: str
    prompt: str
    max_tokens: int
    runs: int


def bench_targets(
    client: ClientLike,
    model: str,
    *,
    api: str,
    providers: Sequence[str] = (),
    note: Callable[[str], None] = lambda _text: None,
) -> list[BenchTarget]:
    """The targets to compare: chat with each provider (default: every live one), and/or TGI.

    Pricing comes from the router's catalogue; when it cannot be read, `note` says so and the
    bench goes on without costs (chat then goes to the router's default provider).
    """
    listed: ModelInfo | None = None
    try:
        listed = _find_model(client.list_models(), model)
    except HFProvidersError as exc:
        if _is_fatal(exc):
            raise
        note(f"(could not read /models for pricing: {exc.message})")
    targets: list[BenchTarget] = []
    if api in ("chat", "both"):
        names = list(providers)
        if not names and listed is not None:
            names = [p.provider for p in listed.live_providers]
        for name in names:
            pricing = listed.provider(name) if listed is not None else None
            targets.append(BenchTarget(f"chat:{name}", "chat", name, pricing))
        if not names:
            targets.append(BenchTarget("chat:auto", "chat", None))
    if api in ("text-generation", "both"):
        targets.append(BenchTarget("text-generation", "text-generation"))
    return targets


def _find_model(models: Sequence[ModelInfo], model: str) -> ModelInfo | None:
    """The catalogue entry of `model` (suffix ignored; exact id, else case-insensitive)."""
    wanted = model.partition(":")[0]
    exact = next((m for m in models if m.id == wanted), None)
    return exact or next((m for m in models if m.id.casefold() == wanted.casefold()), None)


def run_bench(
    client: ClientLike,
    settings: BenchSettings,
    targets: Sequence[BenchTarget],
    on_run: Callable[[BenchTarget], None] = lambda _target: None,
) -> None:
    """Run each target `settings.runs` times, one after the other, recording into `target.runs`.

    Sequential on purpose: concurrent runs would share the connection pool and the provider's
    rate limit, and measure contention instead of the provider.
    """
    for target in targets:
        for _ in range(settings.runs):
            target.runs.append(_one_run(client, settings, target))
            on_run(target)


def _one_run(client: ClientLike, settings: BenchSettings, target: BenchTarget) -> BenchRun:
    try:
        if target.api == "chat":
            params: dict[str, Any] = {"max_tokens": settings.max_tokens}
            if target.provider is not None:
                params["provider"] = target.provider
            messages = [{"role": "user", "content": settings.prompt}]
            result = run_chat_stream(client, settings.model, messages, params)
            return BenchRun(
                ok=True,
                latency_s=result.latency_s,
                ttft_s=result.ttft_s,
                prompt_tokens=result.prompt_tokens,
                completion_tokens=result.completion_tokens,
                provider=result.provider,
            )
        return _text_generation_run(client, settings)
    except HFProvidersError as exc:
        if _is_fatal(exc):
            raise
        return BenchRun(ok=False, error=f"{type(exc).__name__}: {exc.message}")


def _text_generation_run(client: ClientLike, settings: BenchSettings) -> BenchRun:
    started = time.perf_counter()
    ttft: float | None = None
    tokens = 0
    stream = client.text_generation_stream(
        settings.model, settings.prompt, max_new_tokens=settings.max_tokens
    )
    for chunk in stream:
        if chunk.token is not None and not chunk.token.special:
            tokens += 1
            ttft = ttft if ttft is not None else time.perf_counter() - started
    meta = getattr(stream, "meta", None)
    return BenchRun(
        ok=True,
        latency_s=(meta.latency_s if meta is not None else 0.0) or time.perf_counter() - started,
        ttft_s=meta.ttft_s if meta is not None and meta.ttft_s is not None else ttft,
        completion_tokens=tokens,
        provider=meta.provider if meta is not None else None,
    )
