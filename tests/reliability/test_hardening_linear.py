"""Issue 9, item 7: bounded memory and linear time in the stream path.

- One SSE line or event is capped (`MAX_EVENT_BYTES`): an endless line ends in a typed
  `StreamError` with bounded memory, and the connection is released (both twins, on the wire).
- SSE line buffering and `ChunkAccumulator` are linear: the cost per byte / per chunk of a long
  stream is compared with a short one's, with a generous bound (a quadratic path is hundreds of
  times slower at these sizes, so the bound never flakes on a busy machine).
"""

from __future__ import annotations

import time
import tracemalloc
import uuid
from collections.abc import Callable

import pytest

from hfproviders import ChunkAccumulator, HFClient, StreamError
from hfproviders._normalize import ChatReading
from hfproviders._sse import MAX_EVENT_BYTES, SSEDecoder, SSELimitError
from hfproviders._streaming import ChatStreamDecoder
from hfproviders._types import ChatCompletionChunk, ChoiceDelta, ChunkChoice, ResponseMeta
from hfproviders.testing import FakeRouter
from hfproviders.testing import http_chunk as chunk
from tests.reliability.conftest import (
    MESSAGES,
    MODEL,
    Client,
    content_event,
    fault_headers,
    make_client,
)

# Per-unit cost of the long run over the short one's. Linear code stays near 1 (the long run
# even amortises better); the quadratic code this replaced was at 700x for 200k chunks.
RATIO_BOUND = 5.0


def per_unit_cost(work: Callable[[int], None], units: int) -> float:
    """CPU seconds per unit of `work(units)`, best of three (other processes do not count)."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        work(units)
        best = min(best, time.process_time() - started)
    return max(best, 1e-6) / units


def content_chunk(text: str) -> ChatCompletionChunk:
    return ChatCompletionChunk(
        id="c",
        model="m",
        created=1,
        choices=[ChunkChoice(index=0, delta=ChoiceDelta(content=text), finish_reason=None)],
    )


def test_chunk_accumulator_is_linear() -> None:
    pieces = [content_chunk(f"w{i} ") for i in range(200_000)]

    def accumulate(n: int) -> None:
        acc = ChunkAccumulator()
        for item in pieces[:n]:
            acc.add(item)
        assert acc.result().text.startswith("w0 w1 ")

    short, long = per_unit_cost(accumulate, 2_000), per_unit_cost(accumulate, 200_000)
    assert long / short < RATIO_BOUND, f"{long * 1e9:.0f} ns vs {short * 1e9:.0f} ns per chunk"


def test_accumulator_rereads_are_consistent() -> None:
    acc = ChunkAccumulator()
    for i in range(10):
        acc.add(content_chunk(f"{i}"))
        assert acc.result().text == "".join(str(j) for j in range(i + 1))
    assert acc.result().text == acc.result().text == "0123456789"


def tool_events(n: int) -> list[bytes]:
    head = (
        b'data: {"id":"c","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":'
        b'[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]}}]}'
        b"\n\n"
    )
    piece = (
        b'data: {"id":"c","choices":[{"index":0,"delta":{"tool_calls":'
        b'[{"index":0,"function":{"arguments":"ab"}}]}}]}\n\n'
    )
    return [head] + [piece] * n


def test_a_long_tool_call_stream_is_linear_end_to_end() -> None:
    events = tool_events(50_000)

    def decode(n: int) -> None:
        decoder = ChatStreamDecoder(ResponseMeta(), time.monotonic(), ChatReading())
        for raw in events[: n + 1]:
            for item in decoder.feed(raw):
                decoder.deliver(item)
        for item in decoder.finish():
            decoder.deliver(item)
        calls = decoder.normalizer.accumulator.result().choices[0].message.tool_calls
        assert len(calls[0].function.arguments) == 2 * n

    short, long = per_unit_cost(decode, 1_000), per_unit_cost(decode, 50_000)
    assert long / short < RATIO_BOUND, f"{long * 1e6:.1f} us vs {short * 1e6:.1f} us per event"


@pytest.mark.parametrize("piece", [1, 7, 4096])
def test_sse_line_buffering_is_linear(piece: int) -> None:
    line = b"data: " + b"x" * 400_000 + b"\n\n"

    def feed(n: int) -> None:
        decoder = SSEDecoder()
        data = line[: n - 2] + b"\n\n"
        events = []
        for start in range(0, len(data), piece):
            events += decoder.feed(data[start : start + piece])
        assert len(events) == 1

    units = (40_000, 400_000) if piece > 1 else (10_000, 100_000)
    short, long = per_unit_cost(feed, units[0]), per_unit_cost(feed, units[1])
    assert long / short < RATIO_BOUND, f"{long * 1e9:.0f} ns vs {short * 1e9:.0f} ns per byte"


def feed_repeatedly(decoder: SSEDecoder, data: bytes, times: int) -> None:
    for _ in range(times):
        decoder.feed(data)


async def read_stream(client: Client, headers: dict[str, str], received: list[str]) -> None:
    if isinstance(client, HFClient):
        with client.stream(MODEL, MESSAGES, extra_headers=headers) as stream:
            received.extend(item.choices[0].delta.content or "" for item in stream)
        return
    async with client.stream(MODEL, MESSAGES, extra_headers=headers) as astream:
        async for item in astream:
            received.append(item.choices[0].delta.content or "")


def test_an_endless_line_stops_at_the_cap_with_bounded_memory() -> None:
    cap = 1 << 20
    decoder = SSEDecoder(max_event_bytes=cap)
    block = b"x" * 65_536
    tracemalloc.start()
    try:
        with pytest.raises(SSELimitError):
            feed_repeatedly(decoder, block, 10 * cap // len(block))  # ten times the cap
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * cap


def test_an_endless_event_stops_at_the_cap() -> None:
    decoder = SSEDecoder(max_event_bytes=1 << 16)
    data_line = b"data: " + b"y" * 1000 + b"\n"  # data lines, never a blank line
    with pytest.raises(SSELimitError, match="event"):
        feed_repeatedly(decoder, data_line, 1000)


async def test_wire_endless_line_is_a_typed_error_and_releases_the_connection(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    endless = b"data: " + b"z" * (MAX_EVENT_BYTES + 1024)
    step = server.add_raw(
        "endless-line", head + chunk(content_event("one ")) + chunk(endless), hold_open=True
    )
    client = make_client(twin, server, max_retries=0)
    no_leaks.append(client)
    headers = fault_headers(step, uuid.uuid4().hex)
    received: list[str] = []
    started = time.monotonic()
    with pytest.raises(StreamError, match="longer than") as caught:
        await read_stream(client, headers, received)
    assert time.monotonic() - started < 4.0  # the cap ended it, not a timeout
    assert received == ["one "]
    assert caught.value.partial is not None and caught.value.partial.text == "one "
    assert server.wait_idle() == 0  # the held-open connection was closed by the client
