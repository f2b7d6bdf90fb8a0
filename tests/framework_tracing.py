"""Run one adapter call under a framework's OpenTelemetry instrumentation; print the spans as JSON.

Run as a subprocess by tests/langchain/test_telemetry.py and tests/llamaindex/test_telemetry.py,
because a process-wide tracer provider can be set only once and would trace every later test.

The "instrumentation" here does what the frameworks' OpenTelemetry instrumentations do: open a
span when the framework starts a model run and make it the current span until the run ends.

    python -m tests.framework_tracing langchain|llamaindex SCENARIO...
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from typing import Any

import httpx
from opentelemetry import context, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

MODEL = "meta-llama/Llama-3.3-70B-Instruct"
TOKEN = "hf_" + "test_framework_tracing_token"
HEADERS = {"x-inference-provider": "together", "x-request-id": "req-1"}
USAGE = {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}

exporter = InMemorySpanExporter()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(_provider)
tracer = trace.get_tracer("framework-instrumentation")
# A run that ends in another asyncio context than it started in cannot detach (the frameworks'
# instrumentations meet the same); the span is still ended, so the log line is noise here.
logging.getLogger("opentelemetry.context").setLevel(logging.CRITICAL)


def reply(request: httpx.Request) -> httpx.Response:
    """A router that answers every chat request (streamed or not) with 'Hello'."""
    if json.loads(request.content).get("stream"):
        chunks = [
            {
                "id": "c1",
                "model": "m",
                "created": 1,
                "choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}],
            },
            {
                "id": "c1",
                "model": "m",
                "created": 1,
                "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}],
            },
            {"id": "c1", "model": "m", "created": 1, "choices": [], "usage": USAGE},
        ]
        body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        headers = {"content-type": "text/event-stream", **HEADERS}
        return httpx.Response(200, content=body.encode(), headers=headers)
    answer = {
        "id": "c1",
        "model": "m",
        "created": 1,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello"},
                "finish_reason": "stop",
            }
        ],
        "usage": USAGE,
    }
    return httpx.Response(200, json=answer, headers=HEADERS)


def http_clients() -> dict[str, Any]:
    transport = httpx.MockTransport(reply)
    return {
        "http_client": httpx.Client(transport=transport),
        "http_async_client": httpx.AsyncClient(transport=transport),
    }


class _Runs:
    """Spans of framework runs, each current while its run lasts."""

    def __init__(self) -> None:
        self.open: dict[Any, tuple[Any, Any]] = {}

    def start(self, key: Any, name: str) -> None:
        span = tracer.start_span(name)
        self.open[key] = (span, context.attach(trace.set_span_in_context(span)))

    def end(self, key: Any) -> None:
        if key in self.open:
            span, token = self.open.pop(key)
            context.detach(token)
            span.end()


def langchain(scenario: str) -> None:
    from langchain_core.callbacks import BaseCallbackHandler

    from langchain_hfproviders import ChatHFProviders

    class OtelCallbacks(BaseCallbackHandler):
        run_inline = True  # called in the caller's context, as instrumentations ask

        def __init__(self) -> None:
            self.runs = _Runs()

        def on_chat_model_start(
            self, serialized: Any, messages: Any, *, run_id: Any, **kw: Any
        ) -> None:
            self.runs.start(run_id, "langchain ChatHFProviders")

        def on_llm_end(self, response: Any, *, run_id: Any, **kw: Any) -> None:
            self.runs.end(run_id)

        def on_llm_error(self, error: BaseException, *, run_id: Any, **kw: Any) -> None:
            self.runs.end(run_id)

    llm = ChatHFProviders(model=MODEL, api_key=TOKEN, **http_clients())
    config = {"callbacks": [OtelCallbacks()]}
    if scenario == "invoke":
        llm.invoke("Hi", config=config)
    elif scenario == "stream":
        list(llm.stream("Hi", config=config))
    elif scenario == "batch":
        llm.batch(["Hi", "Hello"], config=config)
    elif scenario == "ainvoke":
        asyncio.run(llm.ainvoke("Hi", config=config))
    elif scenario == "astream":

        async def consume() -> None:
            async for _ in llm.astream("Hi", config=config):
                pass

        asyncio.run(consume())
    else:
        raise SystemExit(f"unknown scenario {scenario}")


_LLAMAINDEX_RUNS = _Runs()


def llamaindex(scenario: str) -> None:
    from llama_index.core.base.llms.types import ChatMessage
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.span import SimpleSpan
    from llama_index.core.instrumentation.span_handlers import BaseSpanHandler

    from llamaindex_hfproviders import HFProviders

    runs = _LLAMAINDEX_RUNS

    class OtelSpans(BaseSpanHandler[SimpleSpan]):  # type: ignore[misc]
        def new_span(
            self,
            id_: str,
            bound_args: Any,
            instance: Any = None,
            parent_span_id: Any = None,
            tags: Any = None,
            **kw: Any,
        ) -> SimpleSpan:
            runs.start(id_, "llamaindex " + id_.partition("-")[0])
            return SimpleSpan(id_=id_, parent_id=parent_span_id)

        def prepare_to_exit_span(
            self, id_: str, bound_args: Any, instance: Any = None, result: Any = None, **kw: Any
        ) -> None:
            runs.end(id_)

        def prepare_to_drop_span(
            self, id_: str, bound_args: Any, instance: Any = None, err: Any = None, **kw: Any
        ) -> None:
            runs.end(id_)

    dispatcher = get_dispatcher()
    if not any(
        isinstance(h, BaseSpanHandler) and type(h).__name__ == "OtelSpans"
        for h in dispatcher.span_handlers
    ):
        dispatcher.add_span_handler(OtelSpans())  # once per process, like an instrumentor
    llm = HFProviders(model=MODEL, api_key=TOKEN, **http_clients())
    messages = [ChatMessage(role="user", content="Hi")]
    if scenario == "chat":
        llm.chat(messages)
    elif scenario == "complete":
        llm.complete("Hi")
    elif scenario == "stream_chat":
        list(llm.stream_chat(messages))
    elif scenario == "achat":
        asyncio.run(llm.achat(messages))
    elif scenario == "astream_chat":

        async def consume() -> None:
            async for _ in await llm.astream_chat(messages):
                pass

        asyncio.run(consume())
    else:
        raise SystemExit(f"unknown scenario {scenario}")


def main() -> None:
    framework, scenarios = sys.argv[1], sys.argv[2:]
    run = {"langchain": langchain, "llamaindex": llamaindex}[framework]
    out = {}
    for scenario in scenarios:
        exporter.clear()
        run(scenario)
        out[scenario] = [
            {
                "name": span.name,
                "id": span.context.span_id,
                "parent": span.parent.span_id if span.parent else None,
                "attributes": dict(span.attributes or {}),
            }
            for span in exporter.get_finished_spans()
        ]
    print(json.dumps(out, default=list))


if __name__ == "__main__":
    main()
