"""What the fake router answers: replies, faults, provider quirks, latency and outage episodes.

All plain data. A `Reply` is a successful answer (text, reasoning, tool calls, JSON) and how it
is paced; a `Fault` is one of the ways real routers and providers fail (WIRE.md §3-4, issue 9);
`Quirks` switches on a provider's known deviations (WIRE.md §4-5); a `Provider` bundles its
catalogue entry, quirks, latency distribution, error rate and outage `Episode`s.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Episode",
    "Fault",
    "Latency",
    "Provider",
    "Quirks",
    "Reply",
    "Step",
    "ToolCall",
    "parse_step",
]


@dataclass(frozen=True)
class ToolCall:
    """One tool call of a scripted reply (`arguments` as a dict or a raw JSON string)."""

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None


ReasoningStyle = Literal["reasoning_content", "reasoning", "think"]


@dataclass(frozen=True)
class Reply:
    """A successful answer and its pacing.

    `text` is the answer; `json` (any JSON value) replaces it with its serialisation;
    `reasoning` is sent as `reasoning_content` (fireworks), `reasoning` or inline `<think>`
    (together's R1) per `reasoning_style`; `tool_calls` are OpenAI tool calls. Streams split the
    text into `chunk_chars`-sized pieces (or the explicit `chunks`), sleeping `chunk_delay_s`
    between events after `delay_s` before the headers. `usage` overrides the computed usage.
    """

    text: str = ""
    reasoning: str = ""
    reasoning_style: ReasoningStyle = "reasoning_content"
    tool_calls: Sequence[ToolCall] = ()
    json: Any = None
    finish_reason: str | None = None
    usage: Mapping[str, Any] | None = None
    chunks: Sequence[str] | None = None
    chunk_chars: int = 12
    delay_s: float = 0.0
    chunk_delay_s: float = 0.0
    model: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def content(self) -> str:
        """The `content` the answer carries."""
        if self.json is not None:
            import json

            return json.dumps(self.json, ensure_ascii=False)
        if self.chunks is not None and not self.text:
            return "".join(self.chunks)
        return self.text

    @property
    def finish(self) -> str:
        """The finish reason: given, else `tool_calls` with tool calls, else `stop`."""
        return self.finish_reason or ("tool_calls" if self.tool_calls else "stop")


FaultKind = Literal[
    "status",
    "reset",
    "disconnect",
    "error_event",
    "stall",
    "drip",
    "pings",
    "dribble",
    "truncated",
    "malformed",
    "hold_open",
    "echo_token",
    "raw",
]


@dataclass(frozen=True)
class Fault:
    """One way a call fails. Build it with a constructor below, e.g. `Fault.status(503)`."""

    kind: FaultKind
    status_code: int = 200
    body: bytes | None = None
    content_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    after_chunks: int = 0
    message: str = ""
    interval_s: float = 0.05
    limit_s: float = 10.0
    where: str = "body"
    estimated_time: float | None = None

    @classmethod
    def status(
        cls,
        code: int,
        *,
        body: bytes | str | Mapping[str, Any] | None = None,
        retry_after: float | str | None = None,
        retry_after_ms: int | None = None,
        estimated_time: float | None = None,
        headers: Mapping[str, str] | None = None,
        content_type: str | None = None,
    ) -> Fault:
        """An HTTP error with the body that status really comes with (WIRE.md §3)."""
        extra = dict(headers or {})
        if isinstance(retry_after, float | int):
            extra["retry-after"] = f"{retry_after:g}"
        elif retry_after is not None:
            extra["retry-after"] = retry_after
        if retry_after_ms is not None:
            extra["retry-after-ms"] = str(retry_after_ms)
        raw: bytes | None
        if body is None or isinstance(body, bytes):
            raw = body
        elif isinstance(body, str):
            raw = body.encode()
        else:
            from hfproviders.testing._wire import dumps

            raw = dumps(body).encode()
        return cls(
            "status",
            code,
            raw,
            content_type,
            headers=extra,
            estimated_time=estimated_time,
        )

    @classmethod
    def rate_limited(cls, retry_after: float | None = None) -> Fault:
        """A provider's 429, with `Retry-After` seconds or (as is common) without."""
        return cls.status(429, retry_after=retry_after)

    @classmethod
    def loading(cls, estimated_time: float = 20.0) -> Fault:
        """A 503 "model is currently loading" with `estimated_time` seconds."""
        return cls.status(503, estimated_time=estimated_time)

    @classmethod
    def reset(cls, *, after_headers: bool = False) -> Fault:
        """A TCP reset, before any byte or after the headers and part of the body.

        Stream faults count `after_chunks` in the answer's chunks after the opening role chunk.
        """
        return cls("reset", after_chunks=1 if after_headers else 0)

    @classmethod
    def disconnect(cls, after_chunks: int = 3) -> Fault:
        """A clean close (FIN) in the middle of the body, after `after_chunks` stream events."""
        return cls("disconnect", after_chunks=after_chunks)

    @classmethod
    def error_event(
        cls,
        after_chunks: int = 1,
        *,
        message: str = "Input validation error: grammar is not supported",
        status: int = 422,
    ) -> Fault:
        """An error event inside a 200 stream (hf-inference's shape), then `[DONE]`."""
        return cls("error_event", status, after_chunks=after_chunks, message=message)

    @classmethod
    def stall(cls, limit_s: float = 10.0) -> Fault:
        """No answer at all until the client gives up (or `limit_s`)."""
        return cls("stall", limit_s=limit_s)

    @classmethod
    def drip(cls, after_chunks: int = 1, limit_s: float = 10.0) -> Fault:
        """Headers and `after_chunks` events, then silence until the client gives up."""
        return cls("drip", after_chunks=after_chunks, limit_s=limit_s)

    @classmethod
    def pings(cls, interval_s: float = 0.05, limit_s: float = 10.0) -> Fault:
        """A 200 stream that only ever sends `: ping` comments."""
        return cls("pings", interval_s=interval_s, limit_s=limit_s)

    @classmethod
    def dribble(cls, interval_s: float = 0.02, limit_s: float = 10.0) -> Fault:
        """A 200 body sent one byte every `interval_s`."""
        return cls("dribble", interval_s=interval_s, limit_s=limit_s)

    @classmethod
    def truncated(cls) -> Fault:
        """A stream whose last event is cut mid-JSON, then a clean end of body."""
        return cls("truncated")

    @classmethod
    def malformed(cls) -> Fault:
        """A stream with one event that is not JSON, then a normal end."""
        return cls("malformed")

    @classmethod
    def hold_open(cls, limit_s: float = 10.0) -> Fault:
        """A complete stream (`[DONE]` included) whose connection then stays open."""
        return cls("hold_open", limit_s=limit_s)

    @classmethod
    def raw(cls, response: bytes, *, hold_open: bool = False) -> Fault:
        """A whole HTTP response written as is (status line, headers, body).

        For shapes no constructor makes. The connection then closes, or with `hold_open` stays
        silent until the client leaves. Loopback server only.
        """
        return cls("raw", body=response, where="hold" if hold_open else "close")

    @classmethod
    def echo_token(cls, where: Literal["body", "header", "stream"] = "body") -> Fault:
        """A server that echoes the caller's token (401 body, 401 header, or a stream error)."""
        return cls("echo_token", 401 if where != "stream" else 200, where=where)


Step = Reply | Fault


@dataclass(frozen=True)
class Quirks:
    """A provider's deviations from the OpenAI shapes (WIRE.md §4-5), each a switch."""

    missing_tool_call_ids: bool = False  # nebius stream
    tool_call_index_minus_one: bool = False  # together: one delta, index -1
    stop_with_tool_calls: bool = False  # nebius: finish_reason "stop" with tool calls
    no_finish_reason: bool = False  # nebius stream: no finish_reason at all
    no_done: bool = False  # cerebras: no `data: [DONE]`
    data_no_space: bool = False  # TGI: `data:{json}`
    usage_every_chunk: bool = False  # novita: running usage in every chunk
    arguments_as_object: bool = False  # old TGI: arguments as a JSON object
    int_tool_call_id: bool = False  # old TGI: id 0
    think_inline: bool = False  # together R1: reasoning inline in <think>

    @classmethod
    def of(cls, names: Sequence[str]) -> Quirks:
        """Quirks from their names (`Quirks.of(["no_done", "think_inline"])`)."""
        unknown = set(names) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown quirks: {sorted(unknown)}")
        return cls(**dict.fromkeys(names, True))


@dataclass(frozen=True)
class Latency:
    """A seeded lognormal latency: time to first token and time between chunks.

    `ttft_s` is the median; `sigma` the spread of log-latency (0 = constant).
    """

    ttft_s: float = 0.0
    sigma: float = 0.0
    per_chunk_s: float = 0.0

    def sample_ttft(self, rng: random.Random) -> float:
        """One time to first token."""
        if self.ttft_s <= 0:
            return 0.0
        return (
            self.ttft_s * math.exp(self.sigma * rng.gauss(0.0, 1.0)) if self.sigma else self.ttft_s
        )


@dataclass(frozen=True)
class Episode:
    """A window of outage (every request fails with `status`) or slowness (`slow_factor`).

    `start`/`end` count seconds since the router started (`unit="s"`) or the provider's
    requests (`unit="requests"`, 0-based, end excluded).
    """

    start: float
    end: float
    status: int = 503
    slow_factor: float | None = None
    unit: Literal["s", "requests"] = "s"

    def active(self, elapsed_s: float, request_number: int) -> bool:
        """Whether this episode covers a request at that time and position."""
        at = elapsed_s if self.unit == "s" else float(request_number)
        return self.start <= at < self.end


@dataclass
class Provider:
    """One provider as the fake router serves it: catalogue entry, behaviour, quirks."""

    name: str
    status: str = "live"
    provider_model_id: str | None = None
    context_length: int | None = 131072
    pricing_input: float | None = 0.5
    pricing_output: float | None = 1.0
    supports_tools: bool | None = True
    supports_structured_output: bool | None = True
    first_token_latency_ms: float | None = None
    throughput: float | None = None
    task: str = "conversational"
    latency: Latency = field(default_factory=Latency)
    error_rate: float = 0.0
    error_status: int = 503
    episodes: Sequence[Episode] = ()
    quirks: Quirks = field(default_factory=Quirks)
    ratelimit: int = 600

    def catalogue_entry(self) -> dict[str, Any]:
        """The provider's entry in `/v1/models` (optional fields left out when unknown)."""
        entry: dict[str, Any] = {"provider": self.name, "status": self.status}
        optional: dict[str, Any] = {
            "context_length": self.context_length,
            "supports_tools": self.supports_tools,
            "supports_structured_output": self.supports_structured_output,
            "first_token_latency_ms": self.first_token_latency_ms,
            "throughput": self.throughput,
        }
        if self.pricing_input is not None and self.pricing_output is not None:
            optional["pricing"] = {"input": self.pricing_input, "output": self.pricing_output}
        entry.update({k: v for k, v in optional.items() if v is not None})
        entry["is_model_author"] = False
        return entry


_SIMPLE_STEPS: dict[str, Step] = {
    "ok": Reply(),
    "reset": Fault.reset(),
    "reset_before": Fault.reset(),
    "reset_after": Fault.reset(after_headers=True),
    "disconnect": Fault.disconnect(),
    "error_event": Fault.error_event(),
    "stall": Fault.stall(),
    "drip": Fault.drip(),
    "pings": Fault.pings(),
    "dribble": Fault.dribble(),
    "truncated": Fault.truncated(),
    "malformed": Fault.malformed(),
    "hold_open": Fault.hold_open(),
    "echo401": Fault.echo_token("body"),
    "echo401h": Fault.echo_token("header"),
    "echo_stream": Fault.echo_token("stream"),
    "big": Reply("x" * (2 * 1024 * 1024)),
    "slow_stream": Reply(chunks=[f"s{i} " for i in range(200)], chunk_delay_s=0.05),
    "500huge": Fault.status(
        500,
        body=b"<!doctype html><html><head><title>Oops</title></head><body>" + b"x" * (8 << 20),
        content_type="text/html",
    ),
}


_COUNTED: dict[str, Callable[[int], Fault]] = {
    "disconnect": Fault.disconnect,
    "error_event": Fault.error_event,
    "drip": Fault.drip,
}


def parse_step(text: str) -> Step:
    """A step from its short name, as the `x-fake-steps` header and the CLI spell them.

    `ok` (the normal answer), a status (`503`), a status with a wait (`429:1` = `Retry-After: 1`,
    `429ms:20` = `retry-after-ms: 20`, `503:0.3` = loading with `estimated_time: 0.3`),
    `slow:0.2` (the answer after 0.2 s), `big` (a 2 MiB answer), `slow_stream` (200 events, one
    every 50 ms), `500huge` (an 8 MiB HTML 500), or a fault name: reset, reset_after,
    disconnect, error_event, stall, drip, pings, dribble, truncated, malformed, hold_open,
    echo401, echo401h, echo_stream; `disconnect:5`, `error_event:2`, `drip:3` say after how
    many chunks. (`raw:NAME` plays a response registered with `FakeRouter.add_raw`.)
    """
    name, _, arg = text.strip().partition(":")
    if name in _SIMPLE_STEPS and not arg:
        return _SIMPLE_STEPS[name]
    try:
        if name in _COUNTED:
            return _COUNTED[name](int(arg))
        if name == "slow":
            return Reply(delay_s=float(arg))
        if name == "429ms":
            return Fault.status(429, retry_after_ms=int(arg))
        code = int(name)
        if not arg:
            return Fault.status(code)
        if code == 503:
            return Fault.loading(float(arg))
        return Fault.status(code, retry_after=float(arg))
    except ValueError:
        raise ValueError(f"unknown fake-router step {text!r}") from None
