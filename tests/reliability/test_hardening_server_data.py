"""Issue 9, item 6 (server side): hostile server data gives a typed error or a clamped value.

Never an OverflowError or a RecursionError: usage `1e400` / `Infinity`, 100k-deep JSON, an
`estimated_time` of `10**400`, a 3xx. Both twins, on the loopback fake router.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from hfproviders import (
    APIError,
    HFClient,
    RedirectError,
    ServiceUnavailableError,
    StreamError,
)
from hfproviders.testing import FakeRouter
from hfproviders.testing import http_chunk as chunk
from tests.reliability.conftest import (
    MESSAGES,
    MODEL,
    Client,
    chat,
    content_event,
    fault_headers,
    make_client,
)

DEEP = b"[" * 100_000 + b"]" * 100_000


def raw_json(status: str, body: bytes, extra: str = "") -> bytes:
    """A whole HTTP/1.1 response that closes the connection after it."""
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
        f"connection: close\r\nx-inference-provider: together\r\n{extra}\r\n"
    )
    return head.encode() + body


def raw_sse(*events: bytes) -> bytes:
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n"
        b"connection: close\r\n\r\n"
    )
    return head + b"".join(chunk(e) for e in events) + b"0\r\n\r\n"


def completion(usage: str, created: str = "1767225600") -> bytes:
    return (
        '{"id":"c1","object":"chat.completion","created":' + created + ',"model":"m",'
        '"choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},'
        '"finish_reason":"stop"}],"usage":' + usage + "}"
    ).encode()


async def stream_all(client: Client, seq: str) -> tuple[list[Any], Any]:
    headers = fault_headers(seq, uuid.uuid4().hex)
    chunks: list[Any] = []
    if isinstance(client, HFClient):
        with client.stream(MODEL, MESSAGES, extra_headers=headers) as stream:
            chunks.extend(stream)
        return chunks, stream.completion
    async with client.stream(MODEL, MESSAGES, extra_headers=headers) as astream:
        async for item in astream:
            chunks.append(item)
    return chunks, astream.completion


@pytest.mark.parametrize(
    "usage",
    [
        '{"prompt_tokens":1e400,"completion_tokens":Infinity,"total_tokens":NaN}',
        '{"prompt_tokens":' + "9" * 400 + ',"completion_tokens":-Infinity,"total_tokens":"1e9"}',
    ],
)
async def test_absurd_usage_is_read_as_absent(
    twin: str, server: FakeRouter, no_leaks: list[Client], usage: str
) -> None:
    step = server.add_raw(f"usage-{twin}", raw_json("200 OK", completion(usage, created="1e400")))
    client = make_client(twin, server)
    no_leaks.append(client)
    answer = await chat(client, step, uuid.uuid4().hex)
    assert answer.text == "Hi"
    assert answer.usage is not None
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (0, 0)
    assert answer.created == 0


async def test_deep_json_body_is_a_typed_error(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    step = server.add_raw("deep-body", raw_json("200 OK", DEEP))
    client = make_client(twin, server, max_retries=0)
    no_leaks.append(client)
    with pytest.raises(APIError, match="not JSON"):
        await chat(client, step, uuid.uuid4().hex)


async def test_deep_json_error_body_is_a_typed_error(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    step = server.add_raw("deep-error", raw_json("400 Bad Request", DEEP))
    client = make_client(twin, server)
    no_leaks.append(client)
    with pytest.raises(APIError) as caught:
        await chat(client, step, uuid.uuid4().hex)
    assert caught.value.status_code == 400


async def test_huge_estimated_time_is_clamped(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    body = b'{"error":"Model is currently loading","estimated_time":1' + b"0" * 400 + b"}"
    step = server.add_raw("et-huge", raw_json("503 Service Unavailable", body))
    client = make_client(twin, server)
    no_leaks.append(client)
    with pytest.raises(ServiceUnavailableError) as caught:
        await chat(client, step, uuid.uuid4().hex)
    assert caught.value.estimated_time == 86_400.0  # a day at most, and not retried into
    assert len(server.requests) == 1


async def test_stream_with_deep_event_is_a_stream_error(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    step = server.add_raw("deep-event", raw_sse(content_event("one "), b"data: " + DEEP + b"\n\n"))
    client = make_client(twin, server)
    no_leaks.append(client)
    with pytest.raises(StreamError) as caught:
        await stream_all(client, step)
    assert caught.value.partial is not None and caught.value.partial.text == "one "


async def test_stream_with_absurd_usage_completes(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    final = {
        "id": "c1",
        "created": 1e300,
        "model": "m",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    }
    usage = b'data: {"id":"c1","choices":[],"usage":{"prompt_tokens":1e400,"total_tokens":Infinity}}\n\n'
    step = server.add_raw(
        "usage-stream",
        raw_sse(content_event("one "), b"data: " + json.dumps(final).encode() + b"\n\n", usage),
    )
    client = make_client(twin, server)
    no_leaks.append(client)
    _, whole = await stream_all(client, step)
    assert whole.text == "one "
    assert whole.usage is not None and whole.usage.total_tokens == 0


async def test_a_redirect_is_reported_as_one(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    step = server.add_raw(
        "redirect",
        raw_json("302 Found", b"", "location: https://elsewhere.example/v1/chat/completions\r\n"),
    )
    client = make_client(twin, server)
    no_leaks.append(client)
    with pytest.raises(RedirectError) as caught:
        await chat(client, step, uuid.uuid4().hex)
    assert caught.value.status_code == 302
    assert caught.value.location == "https://elsewhere.example/v1/chat/completions"
    assert "redirect" in str(caught.value) and "200" not in caught.value.message
    assert len(server.requests) == 1  # not retried, not followed
