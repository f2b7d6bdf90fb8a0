"""A harness that runs one test body against both HFClient and AsyncHFClient on MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import httpx
import pytest

import hfproviders
from hfproviders import AsyncHFClient, AttemptEvent, HFClient, Observer
from hfproviders import testing as wire
from tests.conftest import FAKE_TOKEN

ROUTER = "https://router.huggingface.co/v1"
MODEL = "meta-llama/Llama-3.3-70B-Instruct"
USER = [{"role": "user", "content": "Hi"}]


def sse(*events: Any, done: bool = True, space: bool = True) -> bytes:
    """Frame events the way the router does (the wire kit's `sse`)."""
    return wire.sse(events, done=done, space=space)


def chunk(content: str | None = None, finish: str | None = None, **delta: Any) -> dict[str, Any]:
    """One OpenAI-style stream chunk (the wire kit's `chunk`)."""
    if content is not None:
        delta["content"] = content
    return wire.chunk(delta, finish)


def completion(
    content: str | None = "Hello!", finish: str = "stop", **message: Any
) -> dict[str, Any]:
    """One OpenAI-style non-stream completion (the wire kit's `completion`)."""
    return wire.completion(content, finish, **message)


ROUTER_HEADERS = {"x-inference-provider": "together", "x-request-id": "TtpPGx80uP3e6pgl"}


def ok_json(body: Any, **headers: str) -> httpx.Response:
    return httpx.Response(200, json=body, headers={**ROUTER_HEADERS, **headers})


def ok_sse(body: bytes, **headers: str) -> httpx.Response:
    return httpx.Response(
        200,
        content=body,
        headers={"content-type": "text/event-stream", **ROUTER_HEADERS, **headers},
    )


Reply = httpx.Response | Callable[[httpx.Request], httpx.Response] | Exception


class WaitRecorder(Observer):
    """Records the wait decided after each failed attempt that will be retried."""

    def __init__(self, waits: list[float]) -> None:
        self.waits = waits

    def attempt_ended(self, call: Any, event: AttemptEvent) -> None:
        if event.will_retry and event.wait_s is not None:
            self.waits.append(event.wait_s)


@pytest.fixture(autouse=True)
def _no_retry_sleeps() -> Any:
    """Retries decide their waits as usual, but do not sleep (the public testing switch)."""
    with hfproviders.set_testing(True):
        yield


class Harness:
    """Drives the sync or the async client through the same awaitable API."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.requests: list[httpx.Request] = []
        self.replies: list[Reply] = []
        self.waits: list[float] = []
        self.client: Any = None

    @property
    def is_async(self) -> bool:
        return self.mode == "async"

    def queue(self, *replies: Reply) -> Harness:
        self.replies.extend(replies)
        return self

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.replies:
            raise AssertionError(f"unexpected request #{len(self.requests)}: {request.url}")
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        if callable(reply):
            return reply(request)
        return reply

    def make(self, **kwargs: Any) -> Any:
        kwargs.setdefault("api_key", FAKE_TOKEN)
        kwargs.setdefault("observer", WaitRecorder(self.waits))
        transport = httpx.MockTransport(self._handle)
        if self.is_async:
            self.client = AsyncHFClient(
                http_async_client=httpx.AsyncClient(transport=transport), **kwargs
            )
        else:
            self.client = HFClient(http_client=httpx.Client(transport=transport), **kwargs)
        return self.client

    def body(self, n: int = -1) -> dict[str, Any]:
        return json.loads(self.requests[n].content)

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if self.client is None:
            self.make()
        result = getattr(self.client, method)(*args, **kwargs)
        if self.is_async and method in ("chat", "text_generation"):
            result = await result
        return result

    async def chat(self, *args: Any, **kwargs: Any) -> Any:
        return await self.call("chat", *args, **kwargs)

    async def drain(self, stream: Any) -> list[Any]:
        if self.is_async:
            return [c async for c in stream]
        return list(stream)

    async def stream(self, *args: Any, **kwargs: Any) -> tuple[list[Any], Any]:
        stream = await self.call("stream", *args, **kwargs)
        return await self.drain(stream), stream

    async def close(self) -> None:
        if self.client is None:
            return
        if self.is_async:
            await self.client.aclose()
        else:
            self.client.close()


@pytest.fixture(params=["sync", "async"])
def h(request: pytest.FixtureRequest) -> Harness:
    """The harness, once per twin."""
    return Harness(request.param)


def texts(chunks: Iterable[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
