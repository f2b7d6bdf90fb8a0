"""A minimal loopback router for the shared-state tests: chat completions, counted and timed.

Helper fake's `hfproviders.testing` router had not landed when these tests were written, so this
is the smallest server they need: it answers requests marked `x-warmup` (uncounted) and `POST /v1/chat/completions` with a completion whose
usage is `usage_tokens`, answers the requests numbered in `rate_limited` with a 429 and
`Retry-After`, and records when each request arrived and which worker (`x-worker`) sent it.
Wire shapes follow WIRE.md (router headers, error body).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "test-org/test-model"


@dataclass(frozen=True)
class Arrival:
    """One request the router received."""

    at: float  # time.time() on arrival
    worker: str
    status: int


class FakeRouter:
    """The server, on its own thread; `base_url` is what clients point at."""

    def __init__(self) -> None:
        self.usage_tokens = 11
        self.rate_limited: set[int] = set()  # 1-based request numbers answered with a 429
        self.retry_after = "1"
        self.on_request: Callable[[int], None] | None = None
        self.arrivals: list[Arrival] = []
        self._lock = threading.Lock()
        router = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16  # one write per response (flushed after each): no Nagle stall

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                router._answer(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        if handler.headers.get("x-warmup"):
            self._send(handler, 200, {}, completion("warm", 1))
            return
        with self._lock:
            number = len(self.arrivals) + 1
            status = 429 if number in self.rate_limited else 200
            self.arrivals.append(Arrival(time.time(), handler.headers.get("x-worker", ""), status))
        if self.on_request is not None:
            self.on_request(number)
        headers = {"x-inference-provider": "together", "x-request-id": f"Req{number:05d}"}
        if status == 429:
            headers["retry-after"] = self.retry_after
            body = {"error": {"message": "Rate limit exceeded", "type": "rate_limit_error"}}
        else:
            body = completion(f"answer {number}", self.usage_tokens)
        self._send(handler, status, headers, body)

    def _send(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        headers: dict[str, str],
        body: dict[str, Any],
    ) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        for name, value in {**headers, "content-type": "application/json"}.items():
            handler.send_header(name, value)
        handler.send_header("content-length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    @property
    def count(self) -> int:
        """Requests received so far."""
        with self._lock:
            return len(self.arrivals)

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


def completion(text: str, total_tokens: int) -> dict[str, Any]:
    """A non-streamed chat completion as the router returns it."""
    return {
        "id": "chatcmpl-state",
        "object": "chat.completion",
        "created": 1767225600,
        "model": MODEL,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {
            "prompt_tokens": 1,
            "completion_tokens": total_tokens - 1,
            "total_tokens": total_tokens,
        },
    }


def max_in_window(times: list[float], window_s: float) -> int:
    """The most arrivals in any `window_s`-second span."""
    times = sorted(times)
    best = start = 0
    for end, at in enumerate(times):
        while at - times[start] >= window_s:
            start += 1
        best = max(best, end - start + 1)
    return best
