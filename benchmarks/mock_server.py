"""A loopback mock of Hugging Face's router, for benchmarks: stdlib only, pre-rendered bytes.

It serves, faithful to ``/work/shared/reference/WIRE.md`` (shapes written by hand, not recorded):

- ``POST .../chat/completions`` (any prefix: ``/v1``, ``/hf-inference/models/{id}/v1``):
  - non-stream: an OpenAI ``chat.completion`` body plus router headers (``x-inference-provider``,
    ``x-request-id``, ``x-ratelimit-*``);
  - ``"stream": true``: SSE over chunked transfer encoding, one HTTP chunk per event: a role
    chunk, N content chunks, a ``finish_reason`` chunk, then a ``{"choices":[],"usage":…}``
    chunk when ``stream_options.include_usage`` was sent (else usage rides on the finish chunk,
    together-style), then ``data: [DONE]``;
  - a request carrying ``tools``: a tool call (non-stream, or streamed as a first delta with id
    and name followed by argument fragments).
- TGI text-generation at ``POST /hf-inference/models/{org}/{name}``, ``POST /models/{org}/{name}``
  and ``POST /``: ``[{"generated_text": …}]``, or with ``"stream": true`` the TGI token stream
  (``data:{…}`` with no space after the colon, no ``[DONE]``).
- ``GET /info`` (TGI's server description) and ``GET /v1/models``.
- ``GET /__stats`` (JSON request counts per route, open and total connections) and
  ``POST /__reset``; neither is counted.

N (content chunks per stream) comes from the ``x-mock-chunks`` request header, else ``--chunks``.
An ``x-mock-delay-ms`` request header delays the answer, like a provider that takes time.
Every response is rendered once (at start-up for the default N, on first use for another N), so
the server's own CPU per request is a header parse, a ``json.loads`` of a small body and one
``write``. The server runs in its own process, keeps connections alive (HTTP/1.1), and exits by
itself after ``--idle-timeout`` seconds without a request or ``--max-lifetime`` seconds in all.

Run: ``python benchmarks/mock_server.py --port 0 --ready-file /tmp/port`` prints
``MOCK_PORT=<port>`` and writes the port to the ready file once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter
from typing import Any

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
PROVIDER = "together"
REQUEST_ID = "MockReq0000000001"
CREATED = 1767225600
PROMPT_TOKENS = 12
NONSTREAM_TEXT = (
    "Deep learning is a branch of machine learning that trains neural networks with many "
    "layers. Each layer learns a more abstract representation of its input, which lets the "
    "network model images, speech and language. Training adjusts millions of weights by "
    "gradient descent on large data sets, usually on GPUs."
)
NONSTREAM_COMPLETION_TOKENS = 61
TOOL_NAME = "get_weather"
TOOL_ARGUMENTS = '{"city": "Paris", "unit": "celsius"}'
TOOL_CALL_ID = "call_mock_0001"
TOOL_ARG_FRAGMENTS = ('{"city": ', '"Paris", ', '"unit": ', '"celsius"}')
TGI_TEXT = " Paris is the capital and largest city of France."
DEFAULT_CHUNKS = 200
MAX_CHUNKS = 100_000
MAX_BODY = 4 * 1024 * 1024


def stream_token(i: int) -> str:
    """Return the text of content chunk ``i`` (clients must reassemble ``expected_stream_text``)."""
    return f"tok{i} "


def expected_stream_text(n: int) -> str:
    """Return the text a client must reassemble from a stream of ``n`` content chunks."""
    return "".join(stream_token(i) for i in range(n))


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _router_headers(content_type: str) -> list[tuple[str, str]]:
    # Names as the router passes them through (WIRE.md §1, §7: together's x-ratelimit-*).
    return [
        ("content-type", content_type),
        ("x-inference-provider", PROVIDER),
        ("x-request-id", REQUEST_ID),
        ("x-powered-by", "huggingface-moon"),
        ("x-ratelimit-limit", "600"),
        ("x-ratelimit-remaining", "599"),
        ("x-ratelimit-reset", "1"),
        ("x-ratelimit-limit-tokens", "180000"),
        ("x-ratelimit-remaining-tokens", "179000"),
    ]


def _head(status: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def render_fixed(status: str, body: bytes, content_type: str, router: bool = True) -> bytes:
    """Render a complete response with a Content-Length body."""
    headers = _router_headers(content_type) if router else [("content-type", content_type)]
    headers.append(("content-length", str(len(body))))
    return _head(status, headers) + body


def render_chunked(events: list[bytes], content_type: str = "text/event-stream") -> bytes:
    """Render a complete chunked response, one HTTP chunk per SSE event (as real servers flush)."""
    headers = _router_headers(content_type)
    headers += [("cache-control", "no-cache"), ("transfer-encoding", "chunked")]
    parts = [_head("200 OK", headers)]
    for event in events:
        parts.append(b"%x\r\n%s\r\n" % (len(event), event))
    parts.append(b"0\r\n\r\n")
    return b"".join(parts)


def _usage(completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": completion_tokens,
        "total_tokens": PROMPT_TOKENS + completion_tokens,
    }


def _chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
    obj = {
        "id": "chatcmpl-mock-stream",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
    }
    return b"data: " + _dumps(obj) + b"\n\n"


def _usage_chunk(completion_tokens: int) -> bytes:
    obj = {
        "id": "chatcmpl-mock-stream",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": MODEL,
        "choices": [],
        "usage": _usage(completion_tokens),
    }
    return b"data: " + _dumps(obj) + b"\n\n"


def render_chat() -> bytes:
    """Non-stream chat completion."""
    body = {
        "id": "chatcmpl-mock-0001",
        "object": "chat.completion",
        "created": CREATED,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": NONSTREAM_TEXT, "tool_calls": []},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": _usage(NONSTREAM_COMPLETION_TOKENS),
        "system_fingerprint": None,
    }
    return render_fixed("200 OK", _dumps(body), "application/json")


def render_chat_tools() -> bytes:
    """Non-stream chat completion carrying one tool call."""
    body = {
        "id": "chatcmpl-mock-0002",
        "object": "chat.completion",
        "created": CREATED,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": TOOL_CALL_ID,
                            "type": "function",
                            "function": {"name": TOOL_NAME, "arguments": TOOL_ARGUMENTS},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
                "logprobs": None,
            }
        ],
        "usage": _usage(21),
    }
    return render_fixed("200 OK", _dumps(body), "application/json")


def _final_events(completion_tokens: int, finish_reason: str, include_usage: bool) -> list[bytes]:
    """Finish chunk, then usage: its own ``choices: []`` chunk when the client asked for it
    (``stream_options.include_usage``), else on the finish chunk, as together does (WIRE.md §4)."""
    if include_usage:
        return [
            _chunk({}, finish_reason),
            _usage_chunk(completion_tokens),
            b"data: [DONE]\n\n",
        ]
    last = _chunk({}, finish_reason)
    usage = b',"usage":' + _dumps(_usage(completion_tokens)) + b"}\n\n"
    return [last[: -len(b"}\n\n")] + usage, b"data: [DONE]\n\n"]


def render_chat_stream(n: int, include_usage: bool = True) -> bytes:
    """SSE chat stream: a role chunk, ``n`` content chunks, finish, usage, ``[DONE]``."""
    events = [_chunk({"role": "assistant", "content": ""})]
    events += [_chunk({"content": stream_token(i)}) for i in range(n)]
    events += _final_events(n, "stop", include_usage)
    return render_chunked(events)


def render_chat_tools_stream(include_usage: bool = True) -> bytes:
    """SSE stream of one tool call: id and name first, then argument fragments (OpenAI style)."""
    first = {
        "index": 0,
        "id": TOOL_CALL_ID,
        "type": "function",
        "function": {"name": TOOL_NAME, "arguments": ""},
    }
    events = [_chunk({"role": "assistant", "content": None, "tool_calls": [first]})]
    for frag in TOOL_ARG_FRAGMENTS:
        events.append(_chunk({"tool_calls": [{"index": 0, "function": {"arguments": frag}}]}))
    events += _final_events(21, "tool_calls", include_usage)
    return render_chunked(events)


def render_tgi() -> bytes:
    """TGI text-generation, non-stream: a list with one ``generated_text``."""
    return render_fixed("200 OK", _dumps([{"generated_text": TGI_TEXT}]), "application/json")


def render_tgi_stream(n: int) -> bytes:
    """TGI token stream: ``data:{…}`` (no space), the last event carries the text and details."""
    events = []
    for i in range(n):
        last = i == n - 1
        obj = {
            "index": i + 1,
            "token": {"id": 100 + i, "text": stream_token(i), "logprob": -0.25, "special": False},
            "generated_text": expected_stream_text(n) if last else None,
            "details": (
                {"finish_reason": "length", "generated_tokens": n, "seed": None} if last else None
            ),
        }
        events.append(b"data:" + _dumps(obj) + b"\n\n")
    return render_chunked(events)


def render_models() -> bytes:
    """``GET /v1/models``: one model with one live provider (WIRE.md §1 shape)."""
    body = {
        "object": "list",
        "data": [
            {
                "id": MODEL,
                "object": "model",
                "created": CREATED,
                "owned_by": "meta-llama",
                "providers": [{"provider": PROVIDER, "status": "live", "supports_tools": True}],
            }
        ],
    }
    return render_fixed("200 OK", _dumps(body), "application/json")


def render_info() -> bytes:
    """``GET /info``: the TGI server description huggingface_hub's ``get_endpoint_info`` reads."""
    body = {
        "model_id": MODEL,
        "max_input_tokens": 8192,
        "max_total_tokens": 16384,
        "version": "3.3.0",
    }
    return render_fixed("200 OK", _dumps(body), "application/json", router=False)


NOT_FOUND = render_fixed(
    "404 Not Found", b'{"error":"Not Found"}', "application/json", router=False
)
BAD_REQUEST = render_fixed(
    "400 Bad Request", b'{"error":"bad request"}', "application/json", router=False
)


class MockState:
    """Pre-rendered responses, counters and the idle clock shared by all connections."""

    def __init__(self, default_chunks: int) -> None:
        self.default_chunks = default_chunks
        self.counts: Counter[str] = Counter()
        self.open_connections = 0
        self.total_connections = 0
        self.last_activity = time.monotonic()
        self.chat = render_chat()
        self.chat_tools = render_chat_tools()
        self.chat_tools_stream = {u: render_chat_tools_stream(u) for u in (True, False)}
        self.tgi = render_tgi()
        self.models = render_models()
        self.info = render_info()
        self._streams: dict[tuple[int, bool], bytes] = {
            (default_chunks, u): render_chat_stream(default_chunks, u) for u in (True, False)
        }
        self._tgi_streams: dict[int, bytes] = {default_chunks: render_tgi_stream(default_chunks)}

    def chat_stream(self, n: int, include_usage: bool) -> bytes:
        key = (n, include_usage)
        if key not in self._streams:
            self._streams[key] = render_chat_stream(n, include_usage)
        return self._streams[key]

    def tgi_stream(self, n: int) -> bytes:
        if n not in self._tgi_streams:
            self._tgi_streams[n] = render_tgi_stream(n)
        return self._tgi_streams[n]

    def stats(self) -> bytes:
        body = {
            "counts": dict(self.counts),
            "requests": sum(self.counts.values()),
            "open_connections": self.open_connections,
            "total_connections": self.total_connections,
        }
        return render_fixed("200 OK", _dumps(body), "application/json", router=False)

    def respond(self, method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
        """Pick the pre-rendered response for one request and count it."""
        self.last_activity = time.monotonic()
        path = path.split("?", 1)[0]
        if path == "/__stats":
            return self.stats()
        if path == "/__reset":
            self.counts.clear()
            self.total_connections = self.open_connections
            return self.stats()
        if method == "GET" and path.endswith("/models"):
            self.counts["models"] += 1
            return self.models
        if method == "GET" and path.endswith("/info"):
            self.counts["info"] += 1
            return self.info
        if method != "POST":
            self.counts["not_found"] += 1
            return NOT_FOUND
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            self.counts["bad_request"] += 1
            return BAD_REQUEST
        if not isinstance(payload, dict):
            self.counts["bad_request"] += 1
            return BAD_REQUEST
        stream = payload.get("stream") is True
        n = self.default_chunks
        if "x-mock-chunks" in headers:
            n = max(1, min(MAX_CHUNKS, int(headers["x-mock-chunks"])))
        if path.endswith("/chat/completions"):
            tools = bool(payload.get("tools"))
            route = "chat" + ("_tools" if tools else "") + ("_stream" if stream else "")
            self.counts[route] += 1
            options = payload.get("stream_options")
            usage = isinstance(options, dict) and options.get("include_usage") is True
            if tools:
                return self.chat_tools_stream[usage] if stream else self.chat_tools
            return self.chat_stream(n, usage) if stream else self.chat
        if path == "/" or path.startswith(("/hf-inference/models/", "/models/")):
            route = "tgi_stream" if stream else "tgi"
            self.counts[route] += 1
            return self.tgi_stream(n) if stream else self.tgi
        self.counts["not_found"] += 1
        return NOT_FOUND


class HTTPConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: parse requests from a buffer, write canned bytes."""

    def __init__(self, state: MockState) -> None:
        self.state = state
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.state.open_connections += 1
        self.state.total_connections += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.state.open_connections -= 1
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        # A loop, not one request per read: a client may pipeline, or a read may hold two.
        while self.transport is not None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > 65536:
                    self.transport.close()
                return
            lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            try:
                method, path, version = lines[0].split(" ", 2)
            except ValueError:
                self.transport.close()
                return
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or "0")
            if length > MAX_BODY or "chunked" in headers.get("transfer-encoding", ""):
                self.transport.write(BAD_REQUEST)
                self.transport.close()
                return
            if len(self.buffer) < end + 4 + length:
                return
            body = bytes(self.buffer[end + 4 : end + 4 + length])
            del self.buffer[: end + 4 + length]
            response = self.state.respond(method, path, headers, body)
            keep_alive = version == "HTTP/1.1" and headers.get("connection", "") != "close"
            delay_ms = headers.get("x-mock-delay-ms")
            if delay_ms:
                # A server that takes time to answer (for the batch speed-up measurement).
                loop = asyncio.get_running_loop()
                loop.call_later(int(delay_ms) / 1000, self._write_late, response, keep_alive)
                return
            self.transport.write(response)
            if not keep_alive:
                self.transport.close()

    def _write_late(self, response: bytes, keep_alive: bool) -> None:
        if self.transport is None:
            return
        self.transport.write(response)
        if not keep_alive:
            self.transport.close()


async def serve(
    host: str,
    port: int,
    ready_file: str | None,
    chunks: int,
    idle_timeout: float,
    max_lifetime: float,
) -> None:
    """Listen until idle for ``idle_timeout`` s or alive for ``max_lifetime`` s."""
    state = MockState(chunks)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: HTTPConnection(state), host, port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    print(f"MOCK_PORT={bound}", flush=True)
    if ready_file:
        tmp = ready_file + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(str(bound))
        os.replace(tmp, ready_file)  # atomic: a reader never sees a half-written port
    started = time.monotonic()
    async with server:
        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            if now - started > max_lifetime:
                break
            if state.open_connections == 0 and now - state.last_activity > idle_timeout:
                break
    print("mock server: stopped", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="loopback only")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--ready-file", default=None, help="write the bound port here")
    parser.add_argument("--chunks", type=int, default=DEFAULT_CHUNKS, help="content chunks/stream")
    parser.add_argument("--idle-timeout", type=float, default=120.0)
    parser.add_argument("--max-lifetime", type=float, default=3600.0)
    args = parser.parse_args(argv)
    if not args.host.startswith("127.") and args.host not in ("localhost", "::1"):
        parser.error("the mock server binds to loopback addresses only")
    asyncio.run(
        serve(
            args.host,
            args.port,
            args.ready_file,
            args.chunks,
            args.idle_timeout,
            args.max_lifetime,
        )
    )


if __name__ == "__main__":
    main()
