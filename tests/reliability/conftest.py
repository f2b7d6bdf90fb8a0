"""Shared harness of the reliability suite: the fake router, both client twins, leak checks.

The server is `hfproviders.testing.FakeRouter` on a loopback socket; each call says which
steps to play through `x-fake-steps` / `x-fake-key` (`fault_headers`), and the normal answer
(`ok`, and what faults break) is `ANSWER` / `STREAM_TEXT` below.

Every scenario test runs twice, against `HFClient` and `AsyncHFClient` (the `twin` fixture),
and ends with the same checks: no connection left busy in the client's pool, every socket
closed once the client is closed (seen from the server), no thread and no asyncio task left
behind.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from hfproviders import AsyncHFClient, HFClient, RetryPolicy
from hfproviders.testing import (
    FakeRouter,
    RecordedRequest,
    Reply,
    chunk,
    completion,
    dumps,
    router_headers,
    sse_event,
)
from tests.conftest import FAKE_TOKEN

MODEL = "test-org/test-model"
MESSAGES = [{"role": "user", "content": "Hello?"}]
ANSWER = "Hello from the fault server."
STREAM_TEXT = [f"w{i} " for i in range(20)]
Client = HFClient | AsyncHFClient


def normal_answer(request: RecordedRequest) -> Reply:
    """What `ok` plays, and what faults break: ANSWER, or STREAM_TEXT as 20 chunks."""
    body = request.json or {}
    if body.get("stream") is True:
        usage = {"prompt_tokens": 5, "completion_tokens": 20, "total_tokens": 25}
        return Reply(chunks=STREAM_TEXT, usage=usage)
    return Reply(ANSWER, usage={"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11})


@pytest.fixture(scope="session")
def fault_router() -> Iterator[FakeRouter]:
    """One fake router for the whole suite (its thread is part of every thread baseline)."""
    router = FakeRouter(models=[])  # any model, served by together
    server = router.serve()
    yield router
    server.stop()


@pytest.fixture
def server(fault_router: FakeRouter) -> FakeRouter:
    """The fake router with fresh counters, answering `normal_answer`."""
    fault_router.reset()
    fault_router.on(kind="chat").respond_with(normal_answer)
    return fault_router


@pytest.fixture(params=["sync", "async"])
def twin(request: pytest.FixtureRequest) -> str:
    """Which client runs the test: HFClient or AsyncHFClient."""
    return str(request.param)


def fast_policy(max_retries: int = 2, budget: float = 10.0) -> RetryPolicy:
    """Real retry decisions with waits shrunk to milliseconds (server-requested waits are kept)."""
    return RetryPolicy(max_retries=max_retries, wait_initial=0.01, wait_max=0.05, budget=budget)


def make_client(
    twin: str, server: FakeRouter, *, max_retries: int = 2, timeout: float = 5.0, **kwargs: Any
) -> Client:
    """A client of the requested twin, pointed at the fake router."""
    cls = HFClient if twin == "sync" else AsyncHFClient
    return cls(
        base_url=server.base_url,
        api_key=FAKE_TOKEN,
        retry=kwargs.pop("retry", None) or fast_policy(max_retries),
        timeout=timeout,
        **kwargs,
    )


def fault_headers(seq: str, key: str) -> dict[str, str]:
    """Headers that tell the fake router which steps to play for this call (`parse_step`)."""
    return {"x-fake-steps": seq, "x-fake-key": key}


async def chat(client: Client, seq: str, key: str, **params: Any) -> Any:
    """One non-stream chat call on either twin."""
    headers = fault_headers(seq, key)
    if isinstance(client, HFClient):
        return client.chat(MODEL, MESSAGES, extra_headers=headers, **params)
    return await client.chat(MODEL, MESSAGES, extra_headers=headers, **params)


async def stream_text(client: Client, seq: str, key: str, received: list[str]) -> Any:
    """Stream on either twin, appending each content piece to `received`; return the stream."""
    headers = fault_headers(seq, key)
    if isinstance(client, HFClient):
        with client.stream(MODEL, MESSAGES, extra_headers=headers) as stream:
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    received.append(chunk.choices[0].delta.content)
        return stream
    async with client.stream(MODEL, MESSAGES, extra_headers=headers) as astream:
        async for chunk in astream:
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    return astream


async def close(client: Client) -> None:
    """Close either twin."""
    if isinstance(client, HFClient):
        client.close()
    else:
        await client.aclose()


def busy_connections(client: Client) -> int:
    """Connections of the client's pool that are still in use (a leaked response holds one).

    Reaches into the private transport on purpose: pool state is not public API, and this is
    the only way to see a response that was never closed.
    """
    http = client._transport._client
    if http is None:
        return 0
    pool: Any = http._transport._pool  # type: ignore[union-attr]
    busy = [c for c in pool.connections if not (c.is_idle() or c.is_closed())]
    return len(busy) + len(pool._requests)


def _threads() -> set[threading.Thread]:
    # The loop's default executor may start `asyncio_N` workers (it keeps them for reuse):
    # they belong to the event loop, not to the client under test.
    return {t for t in threading.enumerate() if not t.name.startswith("asyncio_")}


@pytest.fixture
async def no_leaks(server: FakeRouter) -> AsyncIterator[list[Client]]:
    """Register clients here; after the test each is checked for leaks, closed, and re-checked."""
    threads_before = _threads()
    clients: list[Client] = []
    yield clients
    for client in clients:
        assert busy_connections(client) == 0, "a response was left open in the pool"
        await close(client)
    assert server.wait_idle() == 0, "sockets still open after close()"
    time.sleep(0.01)
    assert _threads() <= threads_before, f"stray threads: {_threads() - threads_before}"
    current = asyncio.current_task()
    stray = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    assert not stray, f"stray asyncio tasks: {stray}"


def content_event(text: str) -> bytes:
    """One SSE event carrying `text` as content (for raw responses)."""
    return sse_event(chunk(content=text, model=MODEL, id="chatcmpl-fault"))


def completion_body(text: str = ANSWER) -> bytes:
    """A non-stream completion's JSON body (for raw responses)."""
    return dumps(completion(text, model=MODEL, id="chatcmpl-fault-1")).encode()


# Whole raw responses, for the hostile shapes a test registers with `server.add_raw`.
CHUNK_TEMPLATE = {
    "id": "chatcmpl-fault",
    "object": "chat.completion.chunk",
    "created": 1767225600,
    "model": MODEL,
}
_HEADERS = "".join(
    f"{name}: {value}\r\n" for name, value in router_headers("together", "FaultReq01")[1:]
)
SSE_HEAD = (
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n"
    f"cache-control: no-cache\r\n{_HEADERS}\r\n"
).encode()


def response(
    status: str, body: bytes, content_type: str = "application/json", extra: str = ""
) -> bytes:
    """A whole HTTP/1.1 response with the router's headers (`status` like "400 Bad Request")."""
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n"
        f"{_HEADERS}{extra}\r\n"
    )
    return head.encode() + body
