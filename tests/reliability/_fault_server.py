"""A fault-injecting HTTP/1.1 server on 127.0.0.1, run on its own asyncio loop in a thread.

Each request says what to do through headers, so one server serves every test:

- ``x-fault-seq: 429,429,ok`` with ``x-fault-key: <unique>``: the n-th request carrying that key
  gets the n-th step (the last step repeats). Without a key, the first step is used.
- ``x-fault-seq: mix`` (load test): a step drawn from ``MIX`` by a hash of (key, attempt), so a
  run is reproducible: about 20% faults.

Steps (bodies hand-written from WIRE.md shapes):
``ok`` (a chat completion, or an SSE stream when the body has ``"stream": true``), ``429``
(no Retry-After), ``429ra`` (``Retry-After: 1``), ``429ms`` (``retry-after-ms: 20``),
``429long`` (``Retry-After: 120``), ``503et`` (``estimated_time: 0.3``), ``503long``
(``estimated_time: 20``), ``500``, ``502html`` (an HTML page), ``500huge`` (an 8 MiB HTML
body), ``reset_before`` (RST before any byte), ``reset_after`` (RST after the headers and a
bit of body), ``disconnect`` (SSE events, then FIN mid-body), ``drip`` (headers and one event,
then silence), ``stall`` (no answer at all), ``truncated`` (an SSE event cut mid-JSON at a clean
end of body), ``malformed`` (an SSE event that is not JSON), ``error_event`` (an error event
inside a 200 stream), ``echo401`` / ``echo401h`` / ``echo_stream`` (echo the token back in a 401
body, in a 401 ``X-Error-Message`` header, or in a stream error event: the worst cases for
token redaction),
``big`` (a 2 MiB answer), ``dribble`` (a 200 body one byte every 20 ms), ``pings`` (an SSE
stream of `: ping` comments only), and ``raw:NAME``: the bytes a test registered with
``add_raw(NAME, data)`` (a whole HTTP response, written as is; for hostile shapes one test needs).

Counters: requests per key and in total, open connections, and ``disconnects``: connections the
client closed while the server still had something to send (drip, stall, streams). They are also
served as JSON at ``GET /__stats`` for when the server runs in its own process
(``python tests/reliability/_fault_server.py --ready-file F``: the load test does this, so the
server's CPU does not compete with the client's for one GIL).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import struct
import threading
from collections import Counter
from typing import Any

MODEL = "test-org/test-model"
STREAM_TEXT = [f"w{i} " for i in range(20)]
CHUNK_TEMPLATE = {
    "id": "chatcmpl-fault",
    "object": "chat.completion.chunk",
    "created": 1767225600,
    "model": MODEL,
}
MIX = ["ok"] * 16 + ["429ms", "503fast", "502html", "reset_before"]
ROUTER_HEADERS = "x-inference-provider: together\r\nx-request-id: FaultReq01\r\nx-powered-by: huggingface-moon\r\n"


def completion_body(text: str = "Hello from the fault server.") -> bytes:
    body = {
        "id": "chatcmpl-fault-1",
        "object": "chat.completion",
        "created": 1767225600,
        "model": MODEL,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11},
    }
    return json.dumps(body).encode()


def sse_event(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def content_event(text: str) -> bytes:
    return sse_event(
        {
            **CHUNK_TEMPLATE,
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
        }
    )


def stream_events() -> list[bytes]:
    events = [content_event(t) for t in STREAM_TEXT]
    events.append(
        sse_event(
            {**CHUNK_TEMPLATE, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        )
    )
    events.append(
        sse_event(
            {
                **CHUNK_TEMPLATE,
                "choices": [],
                "usage": {"prompt_tokens": 5, "completion_tokens": 20, "total_tokens": 25},
            }
        )
    )
    events.append(b"data: [DONE]\n\n")
    return events


def response(
    status: str, body: bytes, content_type: str = "application/json", extra: str = ""
) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n"
        f"{ROUTER_HEADERS}{extra}\r\n"
    )
    return head.encode() + body


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


SSE_HEAD = (
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n"
    f"cache-control: no-cache\r\n{ROUTER_HEADERS}\r\n"
).encode()
HTML_502 = (
    b'<!doctype html>\n<html class="">\n<head>\n<meta charset="utf-8" />\n'
    b"<title>Hugging Face \xe2\x80\x93 The AI community building the future.</title>\n</head>\n"
    b"<body><div>" + b"<p>lorem ipsum</p>" * 200 + b"</div></body>\n</html>\n"
)


class Request:
    """One parsed request."""

    __slots__ = ("body", "headers", "method", "path")

    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body

    @property
    def stream(self) -> bool:
        try:
            return bool(json.loads(self.body).get("stream"))
        except (ValueError, AttributeError):
            return False

    @property
    def model(self) -> str:
        try:
            return str(json.loads(self.body).get("model"))
        except (ValueError, AttributeError):
            return ""


class FaultServer:
    """Start with ``start()``, stop with ``stop()``; ``url`` is the base URL (``…/v1``)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="fault-server", daemon=True)
        self.ready = threading.Event()
        self.port = 0
        self.lock = threading.Lock()
        self.by_key: Counter[str] = Counter()
        self.by_model: Counter[str] = Counter()
        self.requests = 0
        self.open_connections = 0
        self.disconnects = 0
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.raw: dict[str, tuple[bytes, bool]] = {}

    def add_raw(self, name: str, data: bytes, *, hold_open: bool = False) -> str:
        """Register a raw response for ``x-fault-seq: raw:NAME``; returns that step name.

        With ``hold_open`` the server then sends nothing more until the client leaves.
        """
        self.raw[name] = (data, hold_open)
        return f"raw:{name}"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FaultServer:
        self.thread.start()
        if not self.ready.wait(10):
            raise RuntimeError("fault server did not start")
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self._server = self.loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=512)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()

    def reset(self) -> None:
        with self.lock:
            self.by_key.clear()
            self.by_model.clear()
            self.requests = 0
            self.disconnects = 0

    def wait_idle(self, timeout: float = 3.0) -> int:
        """Wait until no connection is open; return how many still are."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.open_connections == 0:
                return 0
            time.sleep(0.01)
        return self.open_connections

    # -- per connection ----------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open_connections += 1
        self._writers.add(writer)
        try:
            while True:
                request = await self._read_request(reader)
                if request is None:
                    return
                keep_open = await self._serve(request, reader, writer)
                if not keep_open:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            self.disconnects += 1
        finally:
            self._writers.discard(writer)
            self.open_connections -= 1
            if not writer.transport.is_closing():
                writer.close()

    async def _read_request(self, reader: asyncio.StreamReader) -> Request | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        return Request(method, path, headers, body)

    def _step(self, request: Request) -> str:
        spec = request.headers.get("x-fault-seq", "ok")
        key = request.headers.get("x-fault-key", "")
        with self.lock:
            self.requests += 1
            self.by_model[request.model] += 1
            self.by_key[key] += 1
            attempt = self.by_key[key]
        if spec == "mix":
            digest = hashlib.sha256(f"{request.model}|{attempt}".encode()).digest()
            return MIX[digest[0] % len(MIX)]
        steps = spec.split(",")
        return steps[min(attempt, len(steps)) - 1] if key else steps[0]

    def stats(self) -> dict[str, Any]:
        """The counters, as served at ``/__stats``."""
        with self.lock:
            return {
                "requests": self.requests,
                "by_key": dict(self.by_key),
                "by_model": dict(self.by_model),
                "disconnects": self.disconnects,
                # This stats connection itself is open while the answer is built.
                "open_connections": self.open_connections - 1,
            }

    async def _serve(
        self, request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer one request; return whether the connection stays usable."""
        if request.path == "/__stats":
            await self._write(writer, response("200 OK", json.dumps(self.stats()).encode()))
            return True
        step = self._step(request)
        if step.startswith("raw:"):
            data, hold_open = self.raw[step[4:]]
            await self._write(writer, data)
            if hold_open:
                await self._until_client_leaves(reader, 10.0)
            return False
        handler = getattr(self, f"_step_{step}", None)
        if handler is None:
            raise ValueError(f"unknown fault step {step!r}")
        result: bool = await handler(request, reader, writer)
        return result

    # -- steps -------------------------------------------------------------------------------

    async def _write(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        await writer.drain()

    async def _step_ok(self, request: Request, reader: Any, writer: asyncio.StreamWriter) -> bool:
        if request.stream:
            body = b"".join(chunk(e) for e in stream_events()) + b"0\r\n\r\n"
            await self._write(writer, SSE_HEAD + body)
        else:
            await self._write(writer, response("200 OK", completion_body()))
        return True

    async def _step_big(self, request: Request, reader: Any, writer: asyncio.StreamWriter) -> bool:
        await self._write(writer, response("200 OK", completion_body("x" * (2 * 1024 * 1024))))
        return True

    async def _status(
        self,
        writer: asyncio.StreamWriter,
        status: str,
        body: bytes,
        ctype: str = "application/json",
        extra: str = "",
    ) -> bool:
        await self._write(writer, response(status, body, ctype, extra))
        return True

    async def _step_429(self, request: Request, reader: Any, writer: asyncio.StreamWriter) -> bool:
        body = b'{"error":{"message":"Rate limit exceeded","type":"rate_limit_error"}}'
        return await self._status(writer, "429 Too Many Requests", body)

    async def _step_429ra(
        self, request: Request, reader: Any, writer: asyncio.StreamWriter
    ) -> bool:
        body = b'{"error":{"message":"Rate limit exceeded","type":"rate_limit_error"}}'
        return await self._status(writer, "429 Too Many Requests", body, extra="retry-after: 1\r\n")

    async def _step_429ms(
        self, request: Request, reader: Any, writer: asyncio.StreamWriter
    ) -> bool:
        body = b'{"error":{"message":"Rate limit exceeded","type":"rate_limit_error"}}'
        return await self._status(
            writer, "429 Too Many Requests", body, extra="retry-after-ms: 20\r\n"
        )

    async def _step_429long(
        self, request: Request, reader: Any, writer: asyncio.StreamWriter
    ) -> bool:
        body = b'{"error":{"message":"Rate limit exceeded","type":"rate_limit_error"}}'
        return await self._status(
            writer, "429 Too Many Requests", body, extra="retry-after: 120\r\n"
        )

    async def _step_503et(
        self, request: Request, reader: Any, writer: asyncio.StreamWriter
    ) -> bool:
        body = b'{"error":"Model test-org/test-model is currently loading","estimated_time":0.3}'
        return await self._status(writer, "503 Service Unavailable", body)

    async def _step_503fast(
        self, request: Request, reader: Any, writer: asyncio.StreamWriter
    ) -> bool:
        body = b'{"error":"Model test-org/test-model is currently loading","estimated_time":0.01}'
        return await self._status(writer, "503 Service Unavailable", body)

    async def _step_503long(
        self, request: Request, reader: Any, writer: asyncio.StreamWriter
    ) -> bool:
        body = b'{"error":"Model test-org/test-model is currently loading","estimated_time":20.0}'
        return await self._status(writer, "503 Service Unavailable", body)

    async def _step_500(self, request: Request, reader: Any, writer: asyncio.StreamWriter) -> bool:
        body = b'{"id":"x","error":{"message":"Internal server error","type":"server_error"}}'
        return await self._status(writer, "500 Internal Server Error", body)

    async def _step_502html(
        self, request: Request, reader: Any, writer: asyncio.StreamWriter
    ) -> bool:
        return await self._status(writer, "502 Bad Gateway", HTML_502, "text/html; charset=utf-8")

    async def _step_500huge(
        self, request: Request, reader: Any, writer: asyncio.StreamWriter
    ) -> bool:
        body = b"<!doctype html><html><head><title>Oops</title></head><body>" + b"x" * (8 << 20)
        return await self._status(writer, "500 Internal Server Error", body, "text/html")

    def _rst(self, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async def _step_reset_before(
        self, request: Request, reader: Any, writer: asyncio.StreamWriter
    ) -> bool:
        self._rst(writer)
        return False

    async def _step_reset_after(
        self, request: Request, reader: Any, writer: asyncio.StreamWriter
    ) -> bool:
        if request.stream:
            await self._write(writer, SSE_HEAD + chunk(content_event("partial ")))
        else:
            await self._write(writer, response("200 OK", completion_body())[:-40])
        await asyncio.sleep(0.05)
        self._rst(writer)
        return False

    async def _step_disconnect(
        self, request: Request, reader: Any, writer: asyncio.StreamWriter
    ) -> bool:
        events = stream_events()[:5]
        await self._write(writer, SSE_HEAD + b"".join(chunk(e) for e in events))
        await asyncio.sleep(0.05)
        writer.close()  # FIN in the middle of a chunked body
        return False

    async def _until_client_leaves(self, reader: asyncio.StreamReader, limit: float) -> None:
        """Send nothing until the client closes (or ``limit`` seconds)."""
        try:
            data = await asyncio.wait_for(reader.read(1), limit)
        except TimeoutError:
            return
        if data == b"":
            self.disconnects += 1

    async def _step_drip(self, request: Request, reader: Any, writer: asyncio.StreamWriter) -> bool:
        await self._write(writer, SSE_HEAD + chunk(content_event("first ")))
        await self._until_client_leaves(reader, 10.0)
        return False

    async def _step_stall(
        self, request: Request, reader: Any, writer: asyncio.StreamWriter
    ) -> bool:
        await self._until_client_leaves(reader, 10.0)
        return False

    async def _step_dribble(
        self, request: Request, reader: Any, writer: asyncio.StreamWriter
    ) -> bool:
        """A 200 JSON answer sent one byte every 20 ms (a whole answer takes seconds)."""
        data = response("200 OK", completion_body())
        head, body = data.split(b"\r\n\r\n", 1)
        try:
            await self._write(writer, head + b"\r\n\r\n")
            for i in range(len(body)):
                await self._write(writer, body[i : i + 1])
                await asyncio.sleep(0.02)
        except ConnectionError:
            self.disconnects += 1
            return False
        return True

    async def _step_pings(
        self, request: Request, reader: Any, writer: asyncio.StreamWriter
    ) -> bool:
        """An SSE stream of `: ping` comments only, every 50 ms for 10 s."""
        try:
            await self._write(writer, SSE_HEAD)
            for _ in range(200):
                await self._write(writer, chunk(b": ping\n\n"))
                await asyncio.sleep(0.05)
        except ConnectionError:
            self.disconnects += 1
        return False

    async def _step_slow_stream(
        self, request: Request, reader: Any, writer: asyncio.StreamWriter
    ) -> bool:
        """One event every 50 ms for 10 s, so a client can cancel mid-way."""
        await self._write(writer, SSE_HEAD)
        try:
            for i in range(200):
                await self._write(writer, chunk(content_event(f"s{i} ")))
                await asyncio.sleep(0.05)
        except ConnectionError:
            self.disconnects += 1
            return False
        await self._write(writer, chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
        return True

    async def _step_truncated(
        self, request: Request, reader: Any, writer: asyncio.StreamWriter
    ) -> bool:
        events = [
            content_event("one "),
            content_event("two "),
            b'data: {"id":"chatcmpl-fault","cho',
        ]
        await self._write(writer, SSE_HEAD + b"".join(chunk(e) for e in events) + b"0\r\n\r\n")
        return True

    async def _step_malformed(
        self, request: Request, reader: Any, writer: asyncio.StreamWriter
    ) -> bool:
        events = [content_event("one "), content_event("two "), b"data: {not json at all}\n\n"]
        events += stream_events()
        await self._write(writer, SSE_HEAD + b"".join(chunk(e) for e in events) + b"0\r\n\r\n")
        return True

    async def _step_error_event(
        self, request: Request, reader: Any, writer: asyncio.StreamWriter
    ) -> bool:
        err = {
            "error": {
                "message": "Input validation error: grammar is not supported",
                "http_status_code": 422,
            }
        }
        events = [content_event("one "), sse_event(err), b"data: [DONE]\n\n"]
        await self._write(writer, SSE_HEAD + b"".join(chunk(e) for e in events) + b"0\r\n\r\n")
        return True

    async def _step_echo401(
        self, request: Request, reader: Any, writer: asyncio.StreamWriter
    ) -> bool:
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ").strip()
        body = json.dumps(
            {"error": f"Invalid credentials {token} in Authorization header ({auth})"}
        )
        return await self._status(writer, "401 Unauthorized", body.encode())

    async def _step_echo401h(
        self, request: Request, reader: Any, writer: asyncio.StreamWriter
    ) -> bool:
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        extra = f"x-error-message: Invalid token {token}\r\n"
        return await self._status(writer, "401 Unauthorized", b'{"error":"denied"}', extra=extra)

    async def _step_echo_stream(
        self, request: Request, reader: Any, writer: asyncio.StreamWriter
    ) -> bool:
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ").strip()
        err = {"error": f"upstream rejected key {token}", "error_type": "validation"}
        events = [content_event("one "), sse_event(err)]
        await self._write(writer, SSE_HEAD + b"".join(chunk(e) for e in events) + b"0\r\n\r\n")
        return True


def main() -> None:
    """Run the server in this process until killed (or for ``--max-lifetime`` seconds)."""
    import argparse
    import os
    import time

    parser = argparse.ArgumentParser()
    parser.add_argument("--ready-file", required=True)
    parser.add_argument("--max-lifetime", type=float, default=120.0)
    args = parser.parse_args()
    server = FaultServer().start()
    tmp = args.ready_file + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(str(server.port))
    os.replace(tmp, args.ready_file)
    time.sleep(args.max_lifetime)  # the test kills it sooner; this bounds a forgotten one
    server.stop()


if __name__ == "__main__":
    main()
