"""OpenTelemetry GenAI spans and metrics, on both twins, read back from the SDK's in-memory readers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import httpx
import pytest
from opentelemetry import context
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from hfproviders import GenAITelemetry
from hfproviders._telemetry import (
    CAPTURE_CONTENT_ENV,
    DURATION_BUCKETS,
    EMIT_EVENT_ENV,
    EVENT_NAME,
    TOKEN_BUCKETS,
)
from tests.conftest import FAKE_TOKEN
from tests.core.conftest import MODEL, USER, Harness, chunk, completion, ok_json, ok_sse, sse

SPAN_NAME = f"chat {MODEL}"


class Otel:
    """An SDK tracer and meter provider that keep everything in memory."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.logs = InMemoryLogRecordExporter()
        self.logger_provider = LoggerProvider()
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.logs))

    def telemetry(self, **kwargs: Any) -> GenAITelemetry:
        return GenAITelemetry(
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            logger_provider=self.logger_provider,
            **kwargs,
        )

    def records(self) -> list[Any]:
        """The log records emitted (the inference events)."""
        return [r.log_record for r in self.logs.get_finished_logs()]

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def span(self) -> ReadableSpan:
        spans = self.spans()
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        out: list[Any] = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        out.extend(metric.data.data_points)
        return out

    def everything(self) -> str:
        """Every span, event, log record and metric point, serialised: what exporters would ship."""
        data = self.reader.get_metrics_data()
        logs = [r.to_json() for r in self.logs.get_finished_logs()]
        spans = [s.to_json() for s in self.spans()]
        return "\n".join([*spans, *logs, data.to_json() if data else ""])


@pytest.fixture
def otel() -> Otel:
    return Otel()


def traced(h: Harness, otel: Otel, **kwargs: Any) -> Any:
    telemetry = kwargs.pop("telemetry", None) or otel.telemetry()
    return h.make(telemetry=telemetry, **kwargs)


def error(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, json=body)


def events(span: ReadableSpan, name: str = "huggingface.attempt") -> list[dict[str, Any]]:
    return [dict(e.attributes or {}) for e in span.events if e.name == name]


# --- spans ------------------------------------------------------------------------------------


async def test_chat_span_follows_the_genai_conventions(h: Harness, otel: Otel) -> None:
    h.queue(ok_json(completion("Hello!")))
    traced(h, otel, provider="together")
    await h.chat(MODEL, USER, max_tokens=20, temperature=0.5, top_p=0.9, seed=7, stop="END")
    span = otel.span()
    assert span.name == SPAN_NAME and span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes or {}) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "huggingface",
        "gen_ai.request.model": MODEL,
        "server.address": "router.huggingface.co",
        "server.port": 443,
        "gen_ai.request.stream": False,
        "gen_ai.request.max_tokens": 20,
        "gen_ai.request.temperature": 0.5,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.seed": 7,
        "gen_ai.request.stop_sequences": ("END",),
        "huggingface.provider.requested": ("together",),
        "huggingface.routing.policy": "provider",
        "huggingface.attempts": 1,
        "huggingface.provider.served": "together",
        "huggingface.request_id": "TtpPGx80uP3e6pgl",
        "gen_ai.response.id": "chatcmpl-1",
        "gen_ai.response.model": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 9,
        "gen_ai.usage.output_tokens": 3,
    }
    [attempt] = events(span)
    assert attempt["http.response.status_code"] == 200 and attempt["huggingface.attempt"] == 1
    assert attempt["huggingface.provider.requested"] == "together" and "error.type" not in attempt
    await h.close()


async def test_stream_span_has_time_to_first_chunk_and_stream_usage(h: Harness, otel: Otel) -> None:
    usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    last = {**chunk(finish="stop"), "choices": [], "usage": usage}
    h.queue(ok_sse(sse(chunk("Hel"), chunk("lo", finish="stop"), last)))
    traced(h, otel)
    chunks, _ = await h.stream(MODEL, USER)
    assert len(chunks) == 3
    span = otel.span()
    attributes = dict(span.attributes or {})
    assert span.name == SPAN_NAME and attributes["gen_ai.request.stream"] is True
    assert attributes["huggingface.routing.policy"] == "auto"
    assert attributes["huggingface.provider.requested"] == ("auto",)
    assert attributes["gen_ai.usage.input_tokens"] == 5
    assert attributes["gen_ai.usage.output_tokens"] == 2
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert 0 <= attributes["gen_ai.response.time_to_first_chunk"] < 5
    [point] = otel.points("gen_ai.client.operation.time_to_first_chunk")
    assert point.count == 1 and point.sum == attributes["gen_ai.response.time_to_first_chunk"]
    await h.close()


async def test_no_first_chunk_metric_for_calls_that_do_not_stream(h: Harness, otel: Otel) -> None:
    h.queue(ok_json(completion()))
    traced(h, otel)
    await h.chat(MODEL, USER)
    assert otel.points("gen_ai.client.operation.time_to_first_chunk") == []
    assert "gen_ai.response.time_to_first_chunk" not in (otel.span().attributes or {})
    await h.close()


async def test_a_stream_left_early_still_ends_its_span(h: Harness, otel: Otel) -> None:
    h.queue(ok_sse(sse(chunk("a"), chunk("b"), chunk("c", finish="stop"))))
    traced(h, otel)
    stream = await h.call("stream", MODEL, USER)
    if h.is_async:
        async for _ in stream:
            break
        await stream.aclose()
    else:
        for _ in stream:
            break
        stream.close()
    span = otel.span()
    assert span.status.status_code is StatusCode.UNSET
    assert "error.type" not in (span.attributes or {})
    assert len(otel.points("gen_ai.client.operation.duration")) == 1
    await h.close()


async def test_tool_call_answer(h: Harness, otel: Otel) -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    h.queue(ok_json(completion(None, finish="tool_calls", tool_calls=[call])))
    traced(h, otel, telemetry=otel.telemetry(capture_content=True))
    tools = [
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    ]
    await h.chat(MODEL, USER, tools=tools)
    attributes = dict(otel.span().attributes or {})
    assert attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert json.loads(attributes["gen_ai.tool.definitions"]) == tools
    assert json.loads(attributes["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": "call_1",
                    "name": "get_weather",
                    "arguments": {"city": "Paris"},
                }
            ],
            "finish_reason": "tool_calls",
        }
    ]
    await h.close()


async def test_text_generation_is_a_text_completion_span(h: Harness, otel: Otel) -> None:
    h.queue(
        httpx.Response(
            200, json=[{"generated_text": "I am at work"}], headers={"x-request-id": "tg-1"}
        )
    )
    traced(h, otel)
    await h.call("text_generation", "gpt2", "Hello", max_new_tokens=3, top_k=5)
    span = otel.span()
    attributes = dict(span.attributes or {})
    assert span.name == "text_completion gpt2"
    assert attributes["gen_ai.operation.name"] == "text_completion"
    assert attributes["gen_ai.request.max_tokens"] == 3 and attributes["gen_ai.request.top_k"] == 5
    assert attributes["huggingface.request_id"] == "tg-1"
    await h.close()


async def test_text_generation_stream_on_a_local_tgi(h: Harness, otel: Otel) -> None:
    events_ = [
        {
            "index": 1,
            "token": {"id": 1, "text": "Hel", "special": False},
            "generated_text": None,
            "details": None,
        },
        {
            "index": 2,
            "token": {"id": 2, "text": "lo", "special": False},
            "generated_text": "Hello",
            "details": {"finish_reason": "length", "generated_tokens": 2},
        },
    ]
    h.queue(ok_sse(sse(*events_, done=False, space=False)))
    traced(
        h,
        otel,
        api_key=None,
        base_url="http://127.0.0.1:8080",
        telemetry=otel.telemetry(capture_content=True),
    )
    await h.drain(await h.call("text_generation_stream", "tgi", "Say", max_new_tokens=2))
    span = otel.span()
    attributes = dict(span.attributes or {})
    assert span.name == "text_completion tgi"
    assert attributes["server.address"] == "127.0.0.1" and attributes["server.port"] == 8080
    assert attributes["gen_ai.request.stream"] is True
    assert json.loads(attributes["gen_ai.output.messages"])[0]["parts"] == [
        {"type": "text", "content": "Hello"}
    ]
    await h.close()


async def test_an_error_sets_error_type_and_status(h: Harness, otel: Otel) -> None:
    h.queue(error(400, {"error": {"message": "bad max_tokens", "type": "invalid_request_error"}}))
    traced(h, otel)
    with pytest.raises(Exception, match="bad max_tokens") as caught:
        await h.chat(MODEL, USER)
    span = otel.span()
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == type(caught.value).__name__ == "BadRequestError"
    [attempt] = events(span)
    assert (
        attempt["error.type"] == "BadRequestError" and attempt["http.response.status_code"] == 400
    )
    assert attempt["huggingface.retry.will_retry"] is False
    [point] = otel.points("gen_ai.client.operation.duration")
    assert point.attributes["error.type"] == "BadRequestError"
    assert otel.points("gen_ai.client.token.usage") == []
    await h.close()


async def test_a_retry_is_two_attempt_events_on_one_span(h: Harness, otel: Otel) -> None:
    h.queue(error(503, {"error": "overloaded"}), ok_json(completion()))
    traced(h, otel)
    await h.chat(MODEL, USER)
    span = otel.span()
    first, second = events(span)
    assert (
        first["error.type"] == "ServiceUnavailableError"
        and first["http.response.status_code"] == 503
    )
    assert (
        first["huggingface.retry.will_retry"] is True
        and first["huggingface.retry.wait_s"] == h.waits[0]
    )
    assert second["huggingface.attempt"] == 2 and "error.type" not in second
    assert (span.attributes or {})["huggingface.attempts"] == 2
    assert span.status.status_code is StatusCode.UNSET
    await h.close()


async def test_a_failover_names_the_failed_and_the_serving_provider(h: Harness, otel: Otel) -> None:
    h.queue(
        error(503, {"error": "down"}), ok_json(completion(), **{"x-inference-provider": "novita"})
    )
    traced(h, otel, provider=["groq", "novita"], max_retries=0)
    await h.chat(MODEL, USER)
    attributes = dict(otel.span().attributes or {})
    assert attributes["huggingface.routing.policy"] == "failover"
    assert attributes["huggingface.provider.requested"] == ("groq", "novita")
    assert attributes["huggingface.failed_providers"] == ("groq",)
    assert attributes["huggingface.provider.served"] == "novita"
    assert attributes["huggingface.attempts"] == 2
    assert [e["huggingface.provider.requested"] for e in events(otel.span())] == ["groq", "novita"]
    await h.close()


async def test_a_failed_chain_lists_every_provider(h: Harness, otel: Otel) -> None:
    h.queue(error(503, {"error": "down"}), error(503, {"error": "down"}))
    traced(h, otel, provider=["groq", "novita"], max_retries=0)
    with pytest.raises(Exception, match="All providers failed"):
        await h.chat(MODEL, USER)
    attributes = dict(otel.span().attributes or {})
    assert attributes["error.type"] == "AllProvidersFailedError"
    assert attributes["huggingface.failed_providers"] == ("groq", "novita")
    await h.close()


async def test_the_span_is_a_child_of_the_current_span(h: Harness, otel: Otel) -> None:
    h.queue(ok_json(completion()), ok_sse(sse(chunk("x", finish="stop"))))
    traced(h, otel)
    tracer = otel.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("agent step") as parent:
        await h.chat(MODEL, USER)
        await h.stream(MODEL, USER)
    spans = {s.name: s for s in otel.spans() if s.name != "agent step"}
    assert len(otel.spans()) == 3
    for span in otel.spans():
        if span.name != "agent step":
            assert span.parent is not None
            assert span.parent.span_id == parent.get_span_context().span_id
    assert list(spans) == [SPAN_NAME]
    await h.close()


async def test_a_stream_is_a_child_of_the_span_it_was_asked_in(h: Harness, otel: Otel) -> None:
    # Frameworks return a stream from inside their own span and iterate it after that span closed.
    h.queue(ok_sse(sse(chunk("x", finish="stop"))))
    traced(h, otel)
    with otel.tracer_provider.get_tracer("app").start_as_current_span("framework") as parent:
        stream = await h.call("stream", MODEL, USER)
    await h.drain(stream)
    span = next(s for s in otel.spans() if s.name == SPAN_NAME)
    assert span.parent is not None
    assert span.parent.span_id == parent.get_span_context().span_id
    await h.close()


async def test_suppressed_instrumentation_emits_nothing(h: Harness, otel: Otel) -> None:
    h.queue(ok_json(completion()))
    traced(h, otel)
    token = context.attach(context.set_value(context._SUPPRESS_INSTRUMENTATION_KEY, True))
    try:
        result = await h.chat(MODEL, USER)
    finally:
        context.detach(token)
    assert result.text == "Hello!" and otel.spans() == []
    await h.close()


async def test_cache_hit_is_marked(h: Harness, otel: Otel) -> None:
    from hfproviders import InMemoryCache

    h.queue(ok_json(completion()))
    traced(h, otel, cache=InMemoryCache())
    await h.chat(MODEL, USER)
    await h.chat(MODEL, USER)
    live, replay = otel.spans()
    assert "huggingface.cached" not in (live.attributes or {})
    assert (replay.attributes or {})["huggingface.cached"] is True
    assert (replay.attributes or {})["huggingface.attempts"] == 0
    await h.close()


# --- metrics ----------------------------------------------------------------------------------


async def test_duration_and_token_metrics_carry_the_spec_attributes(h: Harness, otel: Otel) -> None:
    h.queue(ok_json(completion()))
    traced(h, otel)
    await h.chat(MODEL, USER)
    common = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "huggingface",
        "gen_ai.request.model": MODEL,
        "gen_ai.response.model": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "server.address": "router.huggingface.co",
        "server.port": 443,
        "huggingface.provider.served": "together",
    }
    [duration] = otel.points("gen_ai.client.operation.duration")
    assert dict(duration.attributes) == common and duration.count == 1
    assert tuple(duration.explicit_bounds) == DURATION_BUCKETS
    tokens = {
        p.attributes["gen_ai.token.type"]: p for p in otel.points("gen_ai.client.token.usage")
    }
    assert tokens["input"].sum == 9 and tokens["output"].sum == 3
    assert dict(tokens["input"].attributes) == {**common, "gen_ai.token.type": "input"}
    assert tuple(tokens["output"].explicit_bounds) == TOKEN_BUCKETS
    await h.close()


# --- content and secrets ----------------------------------------------------------------------


async def test_no_content_without_opt_in(
    h: Harness, otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CAPTURE_CONTENT_ENV, raising=False)
    h.queue(ok_json(completion("a secret answer")))
    traced(h, otel)
    await h.chat(MODEL, [{"role": "user", "content": "a private question"}])
    dump = otel.everything()
    assert "private question" not in dump and "secret answer" not in dump
    assert not any(
        k.startswith(("gen_ai.input", "gen_ai.output")) for k in otel.span().attributes or {}
    )


@pytest.mark.parametrize("value", ["true", "SPAN_ONLY", "span_and_event"])
async def test_content_on_opt_in_by_environment(
    h: Harness, otel: Otel, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(CAPTURE_CONTENT_ENV, value)
    h.queue(ok_json(completion("Bonjour", reasoning_content="think")))
    traced(h, otel)
    messages = [
        {"role": "system", "content": "Be brief"},
        {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
    ]
    await h.chat(MODEL, messages)
    attributes = dict(otel.span().attributes or {})
    assert json.loads(attributes["gen_ai.input.messages"]) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief"}]},
        {"role": "user", "parts": [{"type": "text", "content": "Hi"}]},
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "c1", "name": "f", "arguments": {}}],
        },
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "42"}]},
    ]
    [output] = json.loads(attributes["gen_ai.output.messages"])
    assert output["parts"][-1] == {"type": "text", "content": "Bonjour"}
    assert output["finish_reason"] == "stop"
    await h.close()


def plain(value: Any) -> Any:
    """An attribute value as the SDK keeps it (tuples), back in JSON's shapes (lists)."""
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, dict) or hasattr(value, "items"):
        return {k: plain(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize(
    ("value", "on_span", "on_event"),
    [("EVENT_ONLY", False, True), ("span_and_event", True, True), ("SPAN_ONLY", True, False)],
)
async def test_content_goes_where_the_setting_says(
    h: Harness,
    otel: Otel,
    monkeypatch: pytest.MonkeyPatch,
    value: str,
    on_span: bool,
    on_event: bool,
) -> None:
    monkeypatch.setenv(CAPTURE_CONTENT_ENV, value)
    monkeypatch.delenv(EMIT_EVENT_ENV, raising=False)
    h.queue(ok_json(completion("Bonjour")))
    traced(h, otel)
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    await h.chat(MODEL, [{"role": "user", "content": "Salut"}], tools=tools, temperature=0.5)
    span = otel.span()
    attributes = dict(span.attributes or {})
    assert ("gen_ai.input.messages" in attributes) is on_span
    assert ("gen_ai.output.messages" in attributes) is on_span
    records = otel.records()
    if not on_event:
        assert records == []
        return await h.close()
    [record] = records
    assert record.event_name == EVENT_NAME
    # In the call's span context, so a backend joins the event to its span.
    assert record.trace_id == span.context.trace_id and record.span_id == span.context.span_id
    event = plain(dict(record.attributes or {}))
    assert event["gen_ai.input.messages"] == [
        {"role": "user", "parts": [{"type": "text", "content": "Salut"}]}
    ]
    assert event["gen_ai.tool.definitions"] == tools
    [output] = event["gen_ai.output.messages"]
    assert output == {
        "role": "assistant",
        "parts": [{"type": "text", "content": "Bonjour"}],
        "finish_reason": "stop",
    }
    assert event["gen_ai.operation.name"] == "chat" and event["gen_ai.request.model"] == MODEL
    assert event["gen_ai.provider.name"] == "huggingface"
    assert event["gen_ai.request.temperature"] == 0.5
    assert event["gen_ai.response.id"] == attributes["gen_ai.response.id"]
    assert event["gen_ai.usage.output_tokens"] == attributes["gen_ai.usage.output_tokens"]
    assert FAKE_TOKEN not in otel.everything()
    await h.close()


async def test_the_event_without_content_and_on_error(
    h: Harness, otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    # OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT=true with no content setting: the event, no content.
    monkeypatch.delenv(CAPTURE_CONTENT_ENV, raising=False)
    monkeypatch.setenv(EMIT_EVENT_ENV, "true")
    h.queue(ok_json(completion("a private answer")))
    h.queue(error(400, {"error": {"message": "bad max_tokens", "type": "invalid_request_error"}}))
    traced(h, otel)
    await h.chat(MODEL, [{"role": "user", "content": "a private question"}])
    with pytest.raises(Exception, match="bad max_tokens"):
        await h.chat(MODEL, USER)
    ok, failed = (plain(dict(r.attributes or {})) for r in otel.records())
    assert not [k for k in ok if k.startswith(("gen_ai.input", "gen_ai.output"))]
    assert ok["gen_ai.response.finish_reasons"] == ["stop"] and "error.type" not in ok
    assert failed["error.type"] == "BadRequestError"
    dump = otel.everything()
    assert "private question" not in dump and "private answer" not in dump
    await h.close()


async def test_a_failing_log_pipeline_costs_neither_the_answer_nor_the_span(
    h: Harness, otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken(SimpleLogRecordProcessor):
        def on_emit(self, log_record: Any) -> None:
            raise RuntimeError("exporter down")

        def emit(self, log_record: Any) -> None:
            raise RuntimeError("exporter down")

    otel.logger_provider = LoggerProvider()
    otel.logger_provider.add_log_record_processor(Broken(otel.logs))
    monkeypatch.setenv(CAPTURE_CONTENT_ENV, "event_only")
    h.queue(ok_json(completion("kept")))
    traced(h, otel)
    assert (await h.chat(MODEL, USER)).text == "kept"
    assert otel.span().end_time is not None  # ended, with its attributes
    assert otel.points("gen_ai.client.operation.duration")  # and measured
    await h.close()


async def test_no_event_unless_asked(
    h: Harness, otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CAPTURE_CONTENT_ENV, "event_only")
    monkeypatch.setenv(EMIT_EVENT_ENV, "false")  # the explicit setting wins over the default
    h.queue(ok_json(completion()), ok_json(completion()))
    traced(h, otel)
    await h.chat(MODEL, USER)
    monkeypatch.delenv(CAPTURE_CONTENT_ENV)
    monkeypatch.delenv(EMIT_EVENT_ENV)
    traced(h, otel)
    await h.chat(MODEL, USER)
    assert otel.records() == []
    await h.close()


async def test_option_overrides_the_environment(
    h: Harness, otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CAPTURE_CONTENT_ENV, "true")
    h.queue(ok_json(completion("secret answer")))
    traced(h, otel, telemetry=otel.telemetry(capture_content=False))
    await h.chat(MODEL, USER)
    assert "secret answer" not in otel.everything()
    await h.close()


async def test_the_token_appears_nowhere(h: Harness, otel: Otel) -> None:
    # Content capture on, a user:password base URL, an error that echoes the token, a retry.
    echo = {"error": f"Invalid credentials in header Authorization: Bearer {FAKE_TOKEN}"}
    h.queue(error(503, echo), error(401, echo), ok_json(completion()))
    traced(
        h,
        otel,
        telemetry=otel.telemetry(capture_content=True),
        base_url=f"https://user:{FAKE_TOKEN}@router.huggingface.co/v1",
    )
    with pytest.raises(Exception, match="Invalid credentials"):
        await h.chat(MODEL, USER)
    h.queue(ok_sse(sse(chunk("ok", finish="stop"))))
    await h.stream(MODEL, USER)
    dump = otel.everything()
    assert len(otel.spans()) == 2 and "Invalid credentials" in dump
    assert FAKE_TOKEN not in dump and FAKE_TOKEN[3:] not in dump
    await h.close()


# --- options and cost -------------------------------------------------------------------------


def test_telemetry_option_is_checked() -> None:
    from hfproviders import HFClient, InvalidParameterError

    with pytest.raises(InvalidParameterError, match="telemetry"):
        HFClient(api_key=FAKE_TOKEN, telemetry="yes")  # type: ignore[arg-type]


def _telemetry_observers(client: Any) -> list[Any]:
    from hfproviders._observe import Observers, TelemetryObserver

    observer = client._config.observer
    members = observer.members if isinstance(observer, Observers) else (observer,)
    return [m for m in members if isinstance(m, TelemetryObserver)]


async def test_untraced_streams_take_the_bare_loop(h: Harness, otel: Otel) -> None:
    # The automatic default has a telemetry observer (it traces once a global provider is set;
    # here OpenTelemetry is imported but none is set, so it opens no span); False has none.
    assert _telemetry_observers(h.make())
    h.queue(ok_sse(sse(chunk("x", finish="stop"))))
    client = h.make(telemetry=False)
    stream = await h.call("stream", MODEL, USER)
    assert _telemetry_observers(client) == []
    assert stream._generator.__name__ == "_stream"  # the bare loop: no span wrapper per chunk
    await h.drain(stream)
    await h.close()


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        check=False,
    )


def test_import_does_not_import_opentelemetry() -> None:
    done = _run(
        """
        import sys
        import hfproviders
        client = hfproviders.HFClient(api_key="hf_x")
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_works_without_opentelemetry_installed() -> None:
    # `sys.modules[name] = None` makes every import of it fail, as if it were not installed.
    done = _run(
        """
        import sys
        sys.modules["opentelemetry"] = None
        import httpx
        import hfproviders
        reply = {"id": "c", "model": "m", "created": 1, "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]}
        transport = httpx.MockTransport(lambda request: httpx.Response(200, json=reply))
        client = hfproviders.HFClient(api_key="hf_x", http_client=httpx.Client(transport=transport))
        assert client.chat("m/m", [{"role": "user", "content": "Hi"}]).text == "ok"
        from hfproviders._observe import LogObserver
        assert type(client._config.observer) is LogObserver  # no telemetry observer at all
        try:
            hfproviders.HFClient(api_key="hf_x", telemetry=True)
        except hfproviders.ConfigurationError as error:
            print("needs extra:", "hfproviders[otel]" in str(error))
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "needs extra: True"


def test_auto_mode_follows_the_global_providers() -> None:
    done = _run(
        """
        import httpx
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        import hfproviders
        reply = {"id": "c", "model": "m", "created": 1,
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]}
        transport = httpx.MockTransport(lambda request: httpx.Response(200, json=reply))
        client = hfproviders.HFClient(api_key="hf_x", http_client=httpx.Client(transport=transport))
        client.chat("m/m", [{"role": "user", "content": "Hi"}])  # no provider configured yet: no span
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        client.chat("m/m", [{"role": "user", "content": "Hi"}])
        print([s.name for s in exporter.get_finished_spans()])
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['chat m/m']"


def test_cost_and_hedge_from_meta_when_present() -> None:
    from hfproviders import ResponseMeta
    from hfproviders._telemetry import meta_attributes

    meta = ResponseMeta(provider="groq")
    assert meta_attributes(meta) == {"huggingface.provider.served": "groq"}

    priced = ResponseMeta(provider="groq")
    priced.cost, priced.hedged = 0.0012, True
    assert meta_attributes(priced) == {
        "huggingface.provider.served": "groq",
        "huggingface.cost.usd": 0.0012,
        "huggingface.hedge.fired": True,
        "huggingface.hedge.winner": "groq",
    }


def test_an_embeddings_span(otel: Otel) -> None:
    from hfproviders import ResponseMeta, Usage

    class Embedded:  # the shape of an embeddings result: vectors, model, usage, meta
        embeddings = [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]
        model = "BAAI/bge-small-en-v1.5"
        usage = Usage(prompt_tokens=7, total_tokens=7)
        meta = ResponseMeta(provider="hf-inference", request_id="e-1")

    telemetry = otel.telemetry(capture_content=True)
    body = {"inputs": ["a private text", "b"], "dimensions": 3}
    trace = telemetry.call_started(
        "embeddings",
        "BAAI/bge-small-en-v1.5",
        body,
        base_url="https://router.huggingface.co/v1",
        chain=("hf-inference",),
        stream=False,
    )
    assert trace is not None
    trace.call_ended(Embedded(), None, None)
    span = otel.span()
    attributes = dict(span.attributes or {})
    assert span.name == "embeddings BAAI/bge-small-en-v1.5" and span.kind is SpanKind.CLIENT
    assert attributes["gen_ai.operation.name"] == "embeddings"
    assert attributes["gen_ai.embeddings.dimension.count"] == 3
    assert attributes["gen_ai.usage.input_tokens"] == 7
    assert attributes["huggingface.provider.served"] == "hf-inference"
    assert "gen_ai.usage.output_tokens" not in attributes
    assert "private text" not in otel.everything()  # the conventions record no embeddings input
    [tokens] = otel.points("gen_ai.client.token.usage")
    assert tokens.attributes["gen_ai.token.type"] == "input" and tokens.sum == 7


def test_a_hedge_is_one_span_with_both_attempts(otel: Otel) -> None:
    import threading

    from hfproviders import HFClient
    from tests.core.test_health_client import CATALOGUE, _hedge_router

    release, seen = threading.Event(), []
    transport = httpx.MockTransport(_hedge_router(release, seen))
    client = HFClient(
        api_key=FAKE_TOKEN,
        provider="lowest-latency",
        hedge_after=0.0,
        telemetry=otel.telemetry(),
        http_client=httpx.Client(transport=transport),
    )
    assert client.list_models()  # a catalogue lookup is not a GenAI operation: no span
    assert CATALOGUE and otel.spans() == []
    client.chat(MODEL, USER)
    release.set()
    span = otel.span()
    attributes = dict(span.attributes or {})
    assert attributes["huggingface.hedge.fired"] is True
    assert attributes["huggingface.hedge.winner"] == attributes["huggingface.provider.served"]
    assert attributes["huggingface.provider.served"] == "fireworks-ai"
    assert attributes["huggingface.routing.policy"] == "lowest-latency"
    assert attributes["huggingface.provider.requested"] == ("lowest-latency",)
    assert attributes["huggingface.provider.chain"][:2] == ("cerebras", "fireworks-ai")
    providers = {e["huggingface.provider.requested"] for e in events(span)}
    assert "fireworks-ai" in providers
    [duration] = otel.points("gen_ai.client.operation.duration")
    assert duration.count == 1  # the race is one operation
    client.close()


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_embed_makes_embeddings_spans(otel: Otel, mode: str) -> None:
    from tests.core.embed_kit import EMBED_MODEL, EmbedRouter, embed

    router = EmbedRouter()
    client = router.make(mode, telemetry=otel.telemetry())
    result = await embed(
        mode, client, f"{EMBED_MODEL}:deepinfra", ["a", "bb", "ccc"], dimensions=3, batch_size=2
    )
    assert len(result.embeddings) == 3
    spans = otel.spans()
    assert len(spans) == len(router.posts()) == 2  # one span per request (two batches)
    for span in spans:
        attributes = dict(span.attributes or {})
        assert span.name == f"embeddings {EMBED_MODEL}"
        assert attributes["gen_ai.operation.name"] == "embeddings"
        assert attributes["gen_ai.embeddings.dimension.count"] == 3
        assert attributes["huggingface.provider.requested"] == ("deepinfra",)
        assert "gen_ai.usage.output_tokens" not in attributes
    assert {
        p.attributes["gen_ai.token.type"] for p in otel.points("gen_ai.client.token.usage")
    } <= {"input"}
    assert FAKE_TOKEN not in otel.everything()
