"""Stopping a stream half-way releases its connection, and the server sees the disconnect."""

from __future__ import annotations

import asyncio
import time
import uuid

from hfproviders import AsyncHFClient, HFClient
from hfproviders.testing import FakeRouter
from tests.reliability.conftest import (
    MESSAGES,
    MODEL,
    Client,
    busy_connections,
    fault_headers,
    make_client,
)


def _wait_for(predicate: object, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


async def test_closing_a_sync_stream_midway_closes_its_connection(
    server: FakeRouter, no_leaks: list[Client]
) -> None:
    client = make_client("sync", server)
    no_leaks.append(client)
    assert isinstance(client, HFClient)
    stream = client.stream(MODEL, MESSAGES, extra_headers=fault_headers("slow_stream", "s"))
    next(stream)  # the role chunk that opens every stream
    pieces = [next(stream).choices[0].delta.content for _ in range(3)]
    assert pieces == ["s0 ", "s1 ", "s2 "]
    assert busy_connections(client) > 0
    started = time.monotonic()
    stream.close()
    assert busy_connections(client) == 0
    assert _wait_for(lambda: server.disconnects == 1 and server.open_connections == 0)
    assert time.monotonic() - started < 1.0


async def test_aclose_of_an_async_stream_midway_closes_its_connection(
    server: FakeRouter, no_leaks: list[Client]
) -> None:
    client = make_client("async", server)
    no_leaks.append(client)
    assert isinstance(client, AsyncHFClient)
    stream = client.stream(MODEL, MESSAGES, extra_headers=fault_headers("slow_stream", "a"))
    await stream.__anext__()  # the role chunk that opens every stream
    pieces = [(await stream.__anext__()).choices[0].delta.content for _ in range(3)]
    assert pieces == ["s0 ", "s1 ", "s2 "]
    await stream.aclose()
    assert busy_connections(client) == 0
    assert _wait_for(lambda: server.disconnects == 1 and server.open_connections == 0)


async def test_cancelling_the_task_consuming_an_async_stream_closes_its_connection(
    server: FakeRouter, no_leaks: list[Client]
) -> None:
    client = make_client("async", server)
    no_leaks.append(client)
    assert isinstance(client, AsyncHFClient)
    received: list[str] = []
    first_three = asyncio.Event()

    async def consume() -> None:
        headers = fault_headers("slow_stream", uuid.uuid4().hex)
        async with client.stream(MODEL, MESSAGES, extra_headers=headers) as stream:
            async for chunk in stream:
                received.append(chunk.choices[0].delta.content or "")
                if len(received) == 3:
                    first_three.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_three.wait(), 5)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    assert task in done and task.cancelled()
    assert busy_connections(client) == 0
    for _ in range(200):  # the server notices on its next write (every 50 ms)
        if server.disconnects == 1 and server.open_connections == 0:
            break
        await asyncio.sleep(0.01)
    assert server.disconnects == 1
    assert server.open_connections == 0
    assert len(received) < 10
