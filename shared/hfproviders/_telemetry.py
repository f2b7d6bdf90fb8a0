"""OpenTelemetry GenAI spans and metrics for every model call (the `hfproviders[otel]` extra).

One CLIENT span per call, named `{gen_ai.operation.name} {gen_ai.request.model}`, with the
attributes of the OpenTelemetry GenAI semantic conventions, plus the client metrics
`gen_ai.client.operation.duration`, `gen_ai.client.token.usage` and (streams)
`gen_ai.client.operation.time_to_first_chunk`. What the conventions have no name for lives under
`huggingface.*` (the namespace that matches `gen_ai.provider.name = "huggingface"`):

    huggingface.provider.requested   string[]  the provider setting: chain, policy or "auto"
    huggingface.provider.chain       string[]  the providers it became, in the order tried
                                               (when it differs: a policy the client expands,
                                               or a chain reordered by provider health)
    huggingface.routing.policy       string    auto | fastest | cheapest | preferred
                                               | lowest-latency | provider | failover
    huggingface.provider.served      string    the provider that answered (x-inference-provider)
    huggingface.attempts             int       HTTP attempts, over every provider of the chain
    huggingface.failed_providers     string[]  providers that failed before the one that served
    huggingface.request_id           string    the router's x-request-id
    huggingface.cached               bool      answered from the response cache
    huggingface.hedge.fired          bool      a hedged second request was started
    huggingface.hedge.winner         string    the provider whose answer was taken
    huggingface.cost.usd             double    usage x the serving provider's price, when known

Each HTTP attempt is a span event `huggingface.attempt` (the span is the logical operation; an
HTTP instrumentation such as opentelemetry-instrumentation-httpx adds its own child spans).
`error.type` is the class name of the typed error (`RateLimitError`, `APITimeoutError`, ...).

Nothing here imports OpenTelemetry until a `GenAITelemetry` is built, and a client only builds
one when asked to or when the process has already configured a tracer or meter provider.
Message content is recorded only on opt-in: `GenAITelemetry(capture_content=True)` or
`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true` (or `SPAN_ONLY`), on the span as JSON
strings. `EVENT_ONLY` / `SPAN_AND_EVENT` (or `capture_content="event_only"` / `"span_and_event"`)
put it, as structured values, on the conventions' `gen_ai.client.inference.operation.details`
event: one log record per call, in the call's span context, through the OpenTelemetry logs API
(`logger_provider=`, else the global one). `OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT` (or
`emit_events=`) turns that event on or off whatever the content setting; it defaults to on exactly
when content goes to events.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from hfproviders._types import AttemptEvent, ResponseMeta

__all__ = ["CAPTURE_CONTENT_ENV", "GenAITelemetry"]

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
EMIT_EVENT_ENV = "OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT"
EVENT_NAME = "gen_ai.client.inference.operation.details"
PROVIDER_NAME = "huggingface"
# Bucket advice of the GenAI metrics conventions.
DURATION_BUCKETS = tuple(0.01 * 2**n for n in range(14))  # 0.01, 0.02, 0.04, ... 81.92
TOKEN_BUCKETS = tuple(4**n for n in range(14))  # 1, 4, 16, ... 67108864

OPERATIONS = {"chat": "chat", "text_generation": "text_completion", "embeddings": "embeddings"}
_POLICIES = ("fastest", "cheapest", "preferred", "lowest-latency")
# Content capture settings: where content goes, as (on the span, on the event).
_CONTENT_MODES = {
    "no_content": (False, False),
    "span_only": (True, False),
    "event_only": (False, True),
    "span_and_event": (True, True),
    "true": (True, False),
    "1": (True, False),
    "yes": (True, False),
}

# Request parameters with a name in the conventions: (body key, attribute, type).
_Params = tuple[tuple[str, str, type[int] | type[float]], ...]
_CHAT_PARAMS: _Params = (
    ("max_tokens", "gen_ai.request.max_tokens", int),
    ("max_completion_tokens", "gen_ai.request.max_tokens", int),
    ("temperature", "gen_ai.request.temperature", float),
    ("top_p", "gen_ai.request.top_p", float),
    ("top_k", "gen_ai.request.top_k", float),
    ("seed", "gen_ai.request.seed", int),
    ("frequency_penalty", "gen_ai.request.frequency_penalty", float),
    ("presence_penalty", "gen_ai.request.presence_penalty", float),
)
_TGI_PARAMS: _Params = (
    ("max_new_tokens", "gen_ai.request.max_tokens", int),
    ("temperature", "gen_ai.request.temperature", float),
    ("top_p", "gen_ai.request.top_p", float),
    ("top_k", "gen_ai.request.top_k", float),
    ("seed", "gen_ai.request.seed", int),
)


_AUTO: GenAITelemetry | None = None


def auto_telemetry() -> GenAITelemetry | None:
    """The process-wide telemetry once a global tracer or meter provider is configured."""
    global _AUTO
    if "opentelemetry.trace" not in sys.modules and "opentelemetry.metrics" not in sys.modules:
        return None
    if _AUTO is None:
        _AUTO = GenAITelemetry()
    return _AUTO if _AUTO.configured() else None


class GenAITelemetry:
    """OpenTelemetry GenAI spans and metrics for a client's model calls.

    Pass one as `telemetry=` to a client to choose the providers or turn content capture on;
    by default a client uses the global providers as soon as they are configured.

    Example:
        >>> from hfproviders import GenAITelemetry, HFClient  # doctest: +SKIP
        >>> client = HFClient(telemetry=GenAITelemetry(capture_content=True))  # doctest: +SKIP

    """

    def __init__(
        self,
        *,
        tracer_provider: Any | None = None,
        meter_provider: Any | None = None,
        capture_content: bool | str | None = None,
        logger_provider: Any | None = None,
        emit_events: bool | None = None,
    ) -> None:
        try:
            from opentelemetry import metrics, trace
        except ImportError:  # pragma: no cover - exercised without the extra installed
            from hfproviders._errors import ConfigurationError

            raise ConfigurationError(
                'Telemetry needs the OpenTelemetry API: pip install "hfproviders[otel]"'
            ) from None
        from hfproviders import __version__

        self._explicit = tracer_provider is not None or meter_provider is not None
        if capture_content is None:
            capture_content = os.environ.get(CAPTURE_CONTENT_ENV, "")
        if isinstance(capture_content, bool):
            self.content_in_span, self.content_in_event = capture_content, False
        else:
            mode = _CONTENT_MODES.get(str(capture_content).strip().lower(), (False, False))
            self.content_in_span, self.content_in_event = mode
        self.capture_content = self.content_in_span or self.content_in_event
        if emit_events is None:
            setting = os.environ.get(EMIT_EVENT_ENV, "").strip().lower()
            emit_events = setting == "true" if setting in ("true", "false") else None
        self._logger: Any = None
        if (emit_events if emit_events is not None else self.content_in_event) and _has_events():
            from opentelemetry._logs import get_logger

            self._logger = get_logger("hfproviders", __version__, logger_provider=logger_provider)
        self._tracer = trace.get_tracer("hfproviders", __version__, tracer_provider)
        meter = metrics.get_meter("hfproviders", __version__, meter_provider)
        self._duration = _histogram(
            meter,
            "gen_ai.client.operation.duration",
            "s",
            "GenAI operation duration.",
            DURATION_BUCKETS,
        )
        self._tokens = _histogram(
            meter,
            "gen_ai.client.token.usage",
            "{token}",
            "Number of input and output tokens used.",
            TOKEN_BUCKETS,
        )
        self._first_chunk = _histogram(
            meter,
            "gen_ai.client.operation.time_to_first_chunk",
            "s",
            "Time to receive the first chunk of a streamed response.",
            DURATION_BUCKETS,
        )
        self._configured = self._explicit
        # A provider named by environment variable is loaded by the getter on first use.
        trace.get_tracer_provider()
        metrics.get_meter_provider()

    def configured(self) -> bool:
        """True when spans or metrics would go somewhere (a provider other than the no-op)."""
        if not self._configured:
            tracer = _global_provider("opentelemetry.trace", "_TRACER_PROVIDER")
            meter = _global_provider("opentelemetry.metrics._internal", "_METER_PROVIDER")
            self._configured = _is_real(tracer) or _is_real(meter)
        return self._configured

    def call_started(
        self,
        kind: str,
        model: str,
        body: Mapping[str, Any],
        *,
        base_url: str,
        chain: Sequence[str | None],
        stream: bool,
        parent: Any = None,
        requested: Sequence[str | None] | None = None,
    ) -> CallTrace | None:
        """Open the span of one call; None when instrumentation is suppressed.

        The span is a child of `parent`, an OpenTelemetry context (default: the current one).
        `requested` is the provider setting as given (a policy such as `lowest-latency`), when
        `chain` is what it became (the providers to try, in order).
        """
        operation = OPERATIONS.get(kind)
        if operation is None:  # catalogue and Hub lookups are not GenAI operations
            return None
        from opentelemetry import context
        from opentelemetry.trace import SpanKind

        if parent is None:
            parent = context.get_current()
        if context.get_value(context._SUPPRESS_INSTRUMENTATION_KEY, parent):
            return None
        common: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.provider.name": PROVIDER_NAME,
            "gen_ai.request.model": model,
        }
        common.update(server_attributes(base_url))
        attributes = dict(common)
        attributes.update(request_attributes(kind, body, stream))
        requested = chain if requested is None else requested
        attributes["huggingface.provider.requested"] = [p or "auto" for p in requested]
        attributes["huggingface.routing.policy"] = routing_policy(requested)
        if tuple(chain) != tuple(requested):
            attributes["huggingface.provider.chain"] = [p or "auto" for p in chain]
        content = input_messages(kind, body) if self.capture_content else {}
        if self.content_in_span:
            attributes.update({key: _dumps(value) for key, value in content.items()})
        span = self._tracer.start_span(
            f"{operation} {model}", parent, kind=SpanKind.CLIENT, attributes=attributes
        )
        trace = CallTrace(self, span, common, stream)
        if self._logger is not None:  # what the event repeats at the end of the call
            trace.event = {**common, **request_attributes(kind, body, stream)}
            if self.content_in_event:
                trace.event.update(content)
        return trace

    def _record(
        self, trace: CallTrace, elapsed: float, usage: tuple[int | None, int | None]
    ) -> None:
        attributes = trace.metric_attributes
        self._duration.record(elapsed, attributes)
        if trace.ttfc is not None:
            self._first_chunk.record(trace.ttfc, attributes)
        for kind, count in zip(("input", "output"), usage, strict=True):
            if count is not None:
                self._tokens.record(count, {**attributes, "gen_ai.token.type": kind})


class CallTrace:
    """The span and timings of one call, fed by the pipeline as the call goes."""

    __slots__ = (
        "attempts",
        "event",
        "metric_attributes",
        "span",
        "started",
        "stream",
        "telemetry",
        "ttfc",
    )

    def __init__(
        self, telemetry: GenAITelemetry, span: Any, common: dict[str, Any], stream: bool
    ) -> None:
        self.telemetry = telemetry
        self.span = span
        self.metric_attributes = common
        self.stream = stream
        self.started = time.perf_counter()
        self.attempts = 0
        self.ttfc: float | None = None
        self.event: dict[str, Any] | None = None  # the inference event's attributes, if emitted

    def attempt_ended(self, event: AttemptEvent) -> None:
        """One HTTP attempt is over: a span event."""
        self.attempts += 1
        attributes: dict[str, Any] = {
            "huggingface.attempt": event.attempt,
            "huggingface.provider.requested": event.provider or "auto",
            "huggingface.attempt.duration_s": event.elapsed_s,
        }
        if event.status_code is not None:
            attributes["http.response.status_code"] = event.status_code
        if event.request_id:
            attributes["huggingface.request_id"] = event.request_id
        if event.error is not None:
            attributes["error.type"] = type(event.error).__name__
            attributes["huggingface.retry.will_retry"] = event.will_retry
            if event.will_retry and event.wait_s is not None:
                attributes["huggingface.retry.wait_s"] = event.wait_s
        self.span.add_event("huggingface.attempt", attributes)

    def first_chunk(self, elapsed_s: float | None = None) -> None:
        """The first chunk of a stream arrived (`elapsed_s` since the call started)."""
        self.ttfc = time.perf_counter() - self.started if elapsed_s is None else elapsed_s
        self.span.set_attribute("gen_ai.response.time_to_first_chunk", self.ttfc)

    def call_ended(
        self, result: Any, meta: ResponseMeta | None, error: BaseException | None
    ) -> None:
        """Close the span and record the metrics (`result` None on error or for a stream cut)."""
        elapsed = time.perf_counter() - self.started
        span = self.span
        attributes: dict[str, Any] = {"huggingface.attempts": self.attempts}
        if meta is None and result is not None:
            meta = getattr(result, "meta", None)
        if meta is not None:
            attributes.update(meta_attributes(meta))
        served = attributes.get("huggingface.provider.served")
        if served:
            self.metric_attributes["huggingface.provider.served"] = served
        usage: tuple[int | None, int | None] = (None, None)
        output: dict[str, Any] = {}
        if result is not None:
            response = response_attributes(result)
            if self.metric_attributes["gen_ai.operation.name"] == "embeddings":
                response.pop("gen_ai.usage.output_tokens", None)  # embeddings produce none
            attributes.update(response)
            if "gen_ai.response.model" in response:
                self.metric_attributes["gen_ai.response.model"] = response["gen_ai.response.model"]
            usage = (
                response.get("gen_ai.usage.input_tokens"),
                response.get("gen_ai.usage.output_tokens"),
            )
            if self.telemetry.capture_content:
                output = output_messages(result)
            if self.telemetry.content_in_span:
                attributes.update({key: _dumps(value) for key, value in output.items()})
            if self.event is not None:
                self.event.update(response)
                if self.telemetry.content_in_event:
                    self.event.update(output)
        if error is not None and not isinstance(error, GeneratorExit):
            from opentelemetry.trace import Status, StatusCode

            error_type = type(error).__name__
            attributes["error.type"] = error_type
            failed = getattr(error, "errors", None)  # AllProvidersFailedError: one per provider
            if isinstance(failed, list) and failed:
                providers = [getattr(e, "provider", None) or "auto" for e in failed]
                attributes["huggingface.failed_providers"] = providers
            self.metric_attributes["error.type"] = error_type
            span.set_status(Status(StatusCode.ERROR, str(error)[:500]))
            span.record_exception(error)
            if self.event is not None:
                self.event["error.type"] = error_type
        span.set_attributes(attributes)
        span.end()
        self.telemetry._record(self, elapsed, usage)
        if self.event is not None:  # last: a logger that fails leaves the span and metrics whole
            self._emit_event()

    def _emit_event(self) -> None:
        """The conventions' inference event, in this call's span context."""
        from opentelemetry._logs import LogRecord
        from opentelemetry.trace import set_span_in_context

        record = LogRecord(
            event_name=EVENT_NAME,
            attributes=self.event,
            context=set_span_in_context(self.span),
        )
        try:
            self.telemetry._logger.emit(record)
        except Exception:  # a broken log pipeline must not break the call
            import logging

            logging.getLogger("hfproviders").debug(
                "the inference event was not emitted", exc_info=True
            )


# -- attributes (pure) ------------------------------------------------------------------------


def server_attributes(base_url: str) -> dict[str, Any]:
    """`server.address` and `server.port` of a base URL (never its user info or path)."""
    parts = urlsplit(base_url)
    if not parts.hostname:
        return {}
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = None
    attributes: dict[str, Any] = {"server.address": parts.hostname}
    if port is not None:
        attributes["server.port"] = port
    return attributes


def routing_policy(chain: Sequence[str | None]) -> str:
    """How the provider is chosen: auto, a policy, one provider, or a failover chain."""
    if len(chain) > 1:
        return "failover"
    provider = chain[0] if chain else None
    if provider is None:
        return "auto"
    return provider if provider in _POLICIES else "provider"


def request_attributes(kind: str, body: Mapping[str, Any], stream: bool) -> dict[str, Any]:
    """The `gen_ai.request.*` attributes of a request body."""
    attributes: dict[str, Any] = {"gen_ai.request.stream": stream}
    params: Mapping[str, Any] = body
    table = _CHAT_PARAMS
    if kind == "text_generation":
        params = body.get("parameters") or {}
        table = _TGI_PARAMS
    for key, name, cast in table:
        value = params.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            attributes[name] = cast(value)
    stop = params.get("stop")
    if isinstance(stop, str):
        attributes["gen_ai.request.stop_sequences"] = [stop]
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        attributes["gen_ai.request.stop_sequences"] = stop
    n = params.get("n")
    if isinstance(n, int) and not isinstance(n, bool) and n != 1:
        attributes["gen_ai.request.choice.count"] = n
    fmt = params.get("response_format")
    if isinstance(fmt, Mapping) and fmt.get("type") in ("json_object", "json_schema", "json"):
        attributes["gen_ai.output.type"] = "json"
    dimensions = params.get("dimensions")
    if kind == "embeddings" and isinstance(dimensions, int):
        attributes["gen_ai.embeddings.dimension.count"] = dimensions
    return attributes


def meta_attributes(meta: ResponseMeta) -> dict[str, Any]:
    """Our `huggingface.*` attributes from how the call was served."""
    attributes: dict[str, Any] = {}
    if meta.provider:
        attributes["huggingface.provider.served"] = meta.provider
    if meta.request_id:
        attributes["huggingface.request_id"] = meta.request_id
    if meta.cached:
        attributes["huggingface.cached"] = True
    failed = [e.provider or "auto" for e in meta.failed_providers]
    if failed:
        attributes["huggingface.failed_providers"] = failed
    # Filled by the health and spend features (`_health`, `_spend`).
    cost = meta.cost
    if isinstance(cost, int | float) and not isinstance(cost, bool):
        attributes["huggingface.cost.usd"] = float(cost)
    if meta.hedged is True:  # a hedge fired; the provider that served is the one that won
        attributes["huggingface.hedge.fired"] = True
        if meta.provider:
            attributes["huggingface.hedge.winner"] = meta.provider
    return attributes


def response_attributes(result: Any) -> dict[str, Any]:
    """`gen_ai.response.*` and `gen_ai.usage.*` of a chat completion or text generation."""
    attributes: dict[str, Any] = {}
    embeddings = getattr(result, "embeddings", None)
    if isinstance(embeddings, list):  # an embeddings result: input tokens only
        model = getattr(result, "model", None)
        if isinstance(model, str) and model:
            attributes["gen_ai.response.model"] = model
        if embeddings and isinstance(embeddings[0], list):
            attributes["gen_ai.embeddings.dimension.count"] = len(embeddings[0])
        usage = getattr(result, "usage", None)
        if usage is not None:
            attributes["gen_ai.usage.input_tokens"] = usage.prompt_tokens
        return attributes
    response_id = getattr(result, "id", None)
    if isinstance(response_id, str) and response_id:
        attributes["gen_ai.response.id"] = response_id
    model = getattr(result, "model", None)
    if isinstance(model, str) and model:
        attributes["gen_ai.response.model"] = model
    choices = getattr(result, "choices", None)
    if choices is not None:
        reasons = [c.finish_reason for c in choices if c.finish_reason]
    else:
        reason = getattr(result, "finish_reason", None)
        reasons = [reason] if isinstance(reason, str) else []
    if reasons:
        attributes["gen_ai.response.finish_reasons"] = reasons
    usage = getattr(result, "usage", None)
    if usage is not None:
        attributes["gen_ai.usage.input_tokens"] = usage.prompt_tokens
        attributes["gen_ai.usage.output_tokens"] = usage.completion_tokens
        if getattr(usage, "reasoning_tokens", None) is not None:
            attributes["gen_ai.usage.reasoning.output_tokens"] = usage.reasoning_tokens
        if getattr(usage, "cached_tokens", None) is not None:
            attributes["gen_ai.usage.cache_read.input_tokens"] = usage.cached_tokens
    else:
        details = getattr(result, "details", None)
        generated = details.get("generated_tokens") if isinstance(details, Mapping) else None
        if isinstance(generated, int):
            attributes["gen_ai.usage.output_tokens"] = generated
    return attributes


# -- content capture (opt-in), in the conventions' message JSON shapes --------------------------


def input_messages(kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """`gen_ai.input.messages` (and `gen_ai.tool.definitions`) in the conventions' shapes.

    Structured values, as an event carries them; a span carries each as a JSON string.
    """
    if kind == "text_generation":
        prompt = body.get("inputs")
        return {"gen_ai.input.messages": [{"role": "user", "parts": [_text(prompt)]}]}
    if kind == "embeddings":
        return {}
    out: dict[str, Any] = {
        "gen_ai.input.messages": [_input_message(m) for m in body.get("messages", ())]
    }
    tools = body.get("tools")
    if tools:
        out["gen_ai.tool.definitions"] = list(tools)
    return out


def _text(content: Any) -> dict[str, Any]:
    return {"type": "text", "content": content}


def _input_message(message: Mapping[str, Any]) -> dict[str, Any]:
    role = message.get("role", "user")
    parts: list[dict[str, Any]] = []
    if role == "tool":
        content = message.get("content")
        parts.append(
            {"type": "tool_call_response", "id": message.get("tool_call_id"), "response": content}
        )
        return {"role": role, "parts": parts}
    content = message.get("content")
    if isinstance(content, str) and content:
        parts.append(_text(content))
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, Mapping) and part.get("type") == "text":
                parts.append(_text(part.get("text", "")))
            elif isinstance(part, Mapping) and part.get("type") == "image_url":
                url = (part.get("image_url") or {}).get("url", "")
                if isinstance(url, str) and not url.startswith("data:"):
                    parts.append({"type": "uri", "modality": "image", "uri": url})
                else:
                    parts.append({"type": "blob", "modality": "image", "content": "..."})
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        arguments = function.get("arguments")
        parts.append(_tool_call_part(call.get("id"), function.get("name"), arguments))
    return {"role": role, "parts": parts}


def output_messages(result: Any) -> dict[str, Any]:
    """`gen_ai.output.messages` of a chat completion or text generation (structured)."""
    choices = getattr(result, "choices", None)
    if choices is None:
        text = getattr(result, "generated_text", None)
        if not isinstance(text, str):
            return {}
        reason = getattr(result, "finish_reason", None) or "stop"
        message = {"role": "assistant", "parts": [_text(text)], "finish_reason": reason}
        return {"gen_ai.output.messages": [message]}
    messages = []
    for choice in choices:
        parts: list[dict[str, Any]] = []
        if choice.message.reasoning:
            parts.append({"type": "reasoning", "content": choice.message.reasoning})
        if choice.message.content:
            parts.append(_text(choice.message.content))
        for call in choice.message.tool_calls:
            parts.append(_tool_call_part(call.id, call.function.name, call.function.arguments))
        messages.append(
            {"role": "assistant", "parts": parts, "finish_reason": choice.finish_reason or "stop"}
        )
    return {"gen_ai.output.messages": messages}


def _tool_call_part(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    if isinstance(arguments, str):
        with contextlib.suppress(ValueError):  # else kept as the string the model produced
            arguments = json.loads(arguments) if arguments.strip() else {}
    return {"type": "tool_call", "id": call_id, "name": name, "arguments": arguments}


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


# -- OpenTelemetry helpers -------------------------------------------------------------------


def _histogram(meter: Any, name: str, unit: str, description: str, buckets: Sequence[float]) -> Any:
    try:
        return meter.create_histogram(
            name, unit=unit, description=description, explicit_bucket_boundaries_advisory=buckets
        )
    except TypeError:  # an API older than the bucket advice
        return meter.create_histogram(name, unit=unit, description=description)


def _has_events() -> bool:
    """Whether the installed OpenTelemetry logs API takes event names (older ones do not)."""
    import inspect
    import logging

    from opentelemetry._logs import LogRecord

    if "event_name" in inspect.signature(LogRecord.__init__).parameters:
        return True
    logging.getLogger("hfproviders").warning(
        "GenAI inference events need opentelemetry-api with LogRecord(event_name=...): not emitted"
    )
    return False


def _global_provider(module: str, name: str) -> Any:
    """The global provider set so far, read without the public getter's environment lookup.

    The getters read `os.environ` on every call while nothing is set (microseconds, on every
    model call of a process that imports OpenTelemetry without configuring it).
    """
    loaded = sys.modules.get(module)
    if loaded is None:  # never imported, so never set
        return None
    if not hasattr(loaded, name):  # another API version: ask the public getter
        getter = "get_tracer_provider" if module.endswith("trace") else "get_meter_provider"
        return getattr(loaded, getter)()
    return getattr(loaded, name)


def _is_real(provider: Any) -> bool:
    if provider is None:
        return False
    name = type(provider).__name__.lstrip("_")  # ProxyTracerProvider, _ProxyMeterProvider, NoOp…
    return not (name.startswith("Proxy") or name.startswith("NoOp"))
