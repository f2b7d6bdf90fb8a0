"""A MockTransport router for the provider tests: a `/v1/models` catalogue, providers that fail
on demand, answers that echo the question, and a count of the requests in flight at once.

The catalogue follows WIRE.md §1 (per-provider `context_length`, `supports_tools`,
`supports_structured_output`; a missing flag means unknown). Its numbers are illustrative.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Mapping
from typing import Any

import httpx

MODEL = "meta-llama/Llama-3.3-70B-Instruct"
CATALOGUE: dict[str, Any] = {
    "object": "list",
    "data": [
        {
            "id": MODEL,
            "object": "model",
            "owned_by": "meta-llama",
            "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
            "providers": [
                {
                    "provider": "groq",
                    "status": "live",
                    "context_length": 131072,
                    "supports_tools": True,
                    "supports_structured_output": True,
                },
                {
                    "provider": "novita",
                    "status": "live",
                    "context_length": 16384,
                    "supports_tools": False,
                    "supports_structured_output": False,
                },
                {"provider": "together", "status": "live", "context_length": 32768},
            ],
        }
    ],
}


def _question(body: Mapping[str, Any]) -> str:
    content = body["messages"][-1]["content"]
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content)
    return str(content)


def _sse(*events: Mapping[str, Any]) -> bytes:
    return ("".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n").encode()


class ProviderRouter:
    """Answers like the router: `x-inference-provider` names the provider in the model suffix.

    - `failing`: provider -> HTTP status it answers with;
    - a question "bad" gets a 400 (a request error, never failed over);
    - `delay`: seconds each chat request takes, to make concurrency visible in `peak`;
    - `barrier` (sync, set by a test): each chat request waits on it, so `peak` reaches the
      barrier's size whatever the machine's load, and a batch that is not that concurrent
      breaks it (a `threading.BrokenBarrierError` after 5 s) instead of passing by luck.
    """

    def __init__(self, failing: Mapping[str, int] | None = None, delay: float = 0.0) -> None:
        self.failing = dict(failing or {})
        self.delay = delay
        self.requests: list[httpx.Request] = []
        self.peak = 0
        self.barrier: threading.Barrier | None = None
        self._in_flight = 0
        self._lock = threading.Lock()

    # -- what was sent

    @property
    def chats(self) -> list[dict[str, Any]]:
        """The JSON bodies of the chat requests, in order."""
        return [json.loads(r.content) for r in self.requests if r.method == "POST"]

    @property
    def catalogue_loads(self) -> int:
        """How many times `/v1/models` was fetched."""
        return sum(1 for r in self.requests if r.url.path.endswith("/models"))

    # -- answering

    def answer(self, request: httpx.Request) -> httpx.Response:
        """The response to `request` (pure: no waiting)."""
        if request.method == "GET":
            return httpx.Response(200, json=CATALOGUE)
        body = json.loads(request.content)
        provider = body["model"].partition(":")[2] or "together"
        headers = {"x-inference-provider": provider, "x-request-id": f"req-{provider}"}
        if provider in self.failing:
            status = self.failing[provider]
            return httpx.Response(status, json={"error": f"{provider} is down"}, headers=headers)
        question = _question(body)
        if question == "bad":
            return httpx.Response(400, json={"error": "bad request"}, headers=headers)
        text = f"echo: {question}"
        usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
        head = {"id": "chatcmpl-1", "created": 1764000000, "model": body["model"]}
        if body.get("stream"):
            events = (
                {**head, "choices": [{"index": 0, "delta": {"content": text}}]},
                {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
                {**head, "choices": [], "usage": usage},
            )
            headers["content-type"] = "text/event-stream"
            return httpx.Response(200, content=_sse(*events), headers=headers)
        message = {"role": "assistant", "content": text}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        return httpx.Response(
            200, json={**head, "choices": [choice], "usage": usage}, headers=headers
        )

    def _enter(self, request: httpx.Request) -> None:
        with self._lock:
            self.requests.append(request)
            if request.method == "POST":
                self._in_flight += 1
                self.peak = max(self.peak, self._in_flight)

    def _leave(self, request: httpx.Request) -> None:
        if request.method == "POST":
            with self._lock:
                self._in_flight -= 1

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Sync handler."""
        self._enter(request)
        try:
            if self.barrier is not None and request.method == "POST":
                self.barrier.wait(timeout=5)
            if self.delay and request.method == "POST":
                time.sleep(self.delay)
            return self.answer(request)
        finally:
            self._leave(request)

    async def ahandle(self, request: httpx.Request) -> httpx.Response:
        """Async handler."""
        self._enter(request)
        try:
            if self.barrier is not None and request.method == "POST":
                self.barrier.wait(timeout=5)
            if self.delay and request.method == "POST":
                await asyncio.sleep(self.delay)
            return self.answer(request)
        finally:
            self._leave(request)

    def clients(self) -> dict[str, Any]:
        """`http_client` and `http_async_client` arguments that talk to this router."""
        return {
            "http_client": httpx.Client(transport=httpx.MockTransport(self.handle)),
            "http_async_client": httpx.AsyncClient(transport=httpx.MockTransport(self.ahandle)),
        }
