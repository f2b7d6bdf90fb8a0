"""What OpenTelemetry tracing adds to each call and each chunk: `python benchmarks/telemetry_overhead.py`.

Runs the same non-streamed chat call and the same 500-chunk stream through three clients,
interleaved round-robin in blocks so machine load hits them alike, over an in-process
`httpx.MockTransport` (no HTTP noise; the answers are rendered once):

- `off`: `telemetry=False`, the path every call takes when OpenTelemetry is not installed or
  not imported (one dict lookup more than before telemetry existed);
- `auto, no provider`: the default with OpenTelemetry imported but no tracer or meter provider
  configured (a library imported it, the application did not set it up);
- `on (SDK)`: the OpenTelemetry SDK with a batch span processor (to an exporter that drops the
  batches) and a meter provider: a span with its attempt event, and three histograms per call.

Reports the CPU time per call and per streamed chunk (`time.process_time()`, the best block of
each client over all rounds: on a shared machine interference only adds), and against `off` the
median over rounds of each round's paired ratio (its blocks ran back to back).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from hfproviders import GenAITelemetry, HFClient

USER = [{"role": "user", "content": "Hi"}]
MODEL = "org/model"
HEADERS = {"x-inference-provider": "together", "x-request-id": "bench"}
ANSWER = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1767225600,
        "model": MODEL,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
).encode()


def sse_body(chunks: int) -> bytes:
    def event(content: str | None, finish: str | None) -> str:
        choice = {
            "index": 0,
            "delta": {"content": content} if content else {},
            "finish_reason": finish,
        }
        return json.dumps(
            {
                "id": "c",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": MODEL,
                "choices": [choice],
            }
        )

    events = [event("tok ", None) for _ in range(chunks - 1)] + [event(None, "stop")]
    usage = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": MODEL,
        "choices": [],
        "usage": {"prompt_tokens": 1, "completion_tokens": chunks, "total_tokens": chunks + 1},
    }
    events.append(json.dumps(usage))
    return ("".join(f"data: {e}\n\n" for e in events) + "data: [DONE]\n\n").encode()


class DropExporter(SpanExporter):
    """An exporter that accepts every batch and keeps nothing."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def make_client(telemetry: Any, stream_body: bytes) -> HFClient:
    def handle(request: httpx.Request) -> httpx.Response:
        if b'"stream":true' in request.content or b'"stream": true' in request.content:
            return httpx.Response(
                200, content=stream_body, headers={"content-type": "text/event-stream", **HEADERS}
            )
        return httpx.Response(
            200, content=ANSWER, headers={"content-type": "application/json", **HEADERS}
        )

    transport = httpx.MockTransport(handle)
    kwargs = {} if telemetry == "auto" else {"telemetry": telemetry}
    return HFClient(api_key="hf_bench", http_client=httpx.Client(transport=transport), **kwargs)


def cpu_per(unit_count: int, work: Callable[[], None]) -> float:
    start = time.process_time()
    work()
    return (time.process_time() - start) / unit_count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--calls", type=int, default=150, help="non-streamed calls per block")
    parser.add_argument("--streams", type=int, default=2, help="streams per block")
    parser.add_argument("--chunks", type=int, default=500, help="chunks per stream")
    args = parser.parse_args()

    body = sse_body(args.chunks)
    tracing = TracerProvider()
    tracing.add_span_processor(BatchSpanProcessor(DropExporter()))
    meters = MeterProvider(metric_readers=[InMemoryMetricReader()])
    clients = {
        "off": make_client(False, body),
        "auto, no provider": make_client("auto", body),
        "on (SDK)": make_client(
            GenAITelemetry(tracer_provider=tracing, meter_provider=meters), body
        ),
    }

    def calls(client: HFClient) -> None:
        for _ in range(args.calls):
            client.chat(MODEL, USER)

    def streams(client: HFClient) -> None:
        for _ in range(args.streams):
            for _chunk in client.stream(MODEL, USER):
                pass

    for client in clients.values():  # warm up every path
        calls(client)
        streams(client)
    per_call: dict[str, list[float]] = {name: [] for name in clients}
    per_chunk: dict[str, list[float]] = {name: [] for name in clients}
    names = list(clients)
    for round_ in range(args.rounds):
        order = names[round_ % len(names) :] + names[: round_ % len(names)]  # rotate who goes first
        for name in order:
            client = clients[name]
            per_call[name].append(
                min(cpu_per(args.calls, lambda c=client: calls(c)) for _ in range(2))
            )
            chunks = args.streams * (args.chunks + 1)
            per_chunk[name].append(
                min(cpu_per(chunks, lambda c=client: streams(c)) for _ in range(2))
            )
    tracing.shutdown()

    # Paired: each round's blocks ran back to back, so the ratio of a round is little moved by
    # load that drifts over seconds; the median ratio over rounds is the figure to read.
    print(
        f"{'client':<20} {'CPU/call (us)':>14} {'vs off':>8} {'CPU/chunk (us)':>15} {'vs off':>8}"
    )
    for name in names:
        call_ratio = statistics.median(
            a / b for a, b in zip(per_call[name], per_call["off"], strict=True)
        )
        chunk_ratio = statistics.median(
            a / b for a, b in zip(per_chunk[name], per_chunk["off"], strict=True)
        )
        print(
            f"{name:<20} {min(per_call[name]) * 1e6:>14.1f} {call_ratio:>7.3f}x"
            f" {min(per_chunk[name]) * 1e6:>15.2f} {chunk_ratio:>7.3f}x"
        )


if __name__ == "__main__":
    main()
