"""Issue 9, item 5: the cache never costs an answer.

Real failures, not mocks: a SQLite file another process holds a write lock on, a file that is not
a database, a disk that is full (a child process whose file-size limit the write crosses), and a
backend that raises. Each call still returns its answer; the cache logs one warning and is
skipped (or, for a damaged file, rebuilt and used).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from hfproviders import HFClient, SQLiteCache
from hfproviders._cache import FailSafeCache
from hfproviders.testing import FakeRouter
from tests.conftest import FAKE_TOKEN
from tests.reliability.conftest import MESSAGES, MODEL, Client, chat, fault_headers, make_client

ENTRY = {"kind": "chat", "data": {}, "meta": {}}


def cache_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "hfproviders" and r.levelno >= logging.WARNING and "cache" in r.getMessage()
    ]


async def stream_text(client: Client, key: str) -> str:
    headers = fault_headers("ok", key)
    if isinstance(client, HFClient):
        with client.stream(MODEL, MESSAGES, extra_headers=headers) as stream:
            return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    pieces = []
    async with client.stream(MODEL, MESSAGES, extra_headers=headers) as astream:
        async for c in astream:
            if c.choices:
                pieces.append(c.choices[0].delta.content or "")
    return "".join(pieces)


async def test_a_damaged_file_is_rebuilt_and_used(
    twin: str,
    server: FakeRouter,
    no_leaks: list[Client],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "responses.sqlite3"
    path.write_bytes(b"this is not a database, whatever its name says\n" * 200)
    cache = SQLiteCache(path)
    client = make_client(twin, server, cache=cache)
    no_leaks.append(client)
    key = uuid.uuid4().hex

    first = await chat(client, "ok", key)
    second = await chat(client, "ok", key)

    assert first.text == second.text
    assert second.meta.cached  # the rebuilt cache works
    assert len(server.requests) == 1
    assert any("damaged" in w and "rebuilding" in w for w in cache_warnings(caplog))
    cache.close()


LOCKER = textwrap.dedent(
    """
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    print("locked", flush=True)
    time.sleep(30)
    """
)


async def test_a_file_locked_by_another_process_is_skipped(
    twin: str,
    server: FakeRouter,
    no_leaks: list[Client],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "responses.sqlite3"
    with SQLiteCache(path) as setup:  # an existing cache file, in WAL mode
        setup.set("warm", ENTRY)
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        cache = SQLiteCache(path, busy_timeout_s=0.2)
        client = make_client(twin, server, cache=cache)
        no_leaks.append(client)
        answers = [await chat(client, "ok", uuid.uuid4().hex) for _ in range(3)]
        streamed = await stream_text(client, uuid.uuid4().hex)
    finally:
        locker.kill()
        locker.wait(10)
    assert all(a.text for a in answers) and streamed
    assert len(server.requests) == 4
    warnings = cache_warnings(caplog)
    assert len(warnings) == 1, warnings  # once, then the cache is skipped
    assert "locked" in warnings[0]
    cache.close()


FULL_DISK = textwrap.dedent(
    """
    import asyncio, json, logging, resource, signal, sys
    from hfproviders import AsyncHFClient, HFClient, SQLiteCache

    twin, url, path, token = sys.argv[1:5]
    logging.basicConfig(level=logging.WARNING, format="%(name)s %(levelname)s %(message)s")
    cache = SQLiteCache(path)
    cache.set("warm", {"kind": "chat", "data": {}, "meta": {}})
    # The disk is full: no file may grow past 64 KiB from now on (EFBIG, not a signal).
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
    messages = [{"role": "user", "content": "Hello?"}]
    headers = {"x-fake-steps": "big"}
    if twin == "sync":
        with HFClient(base_url=url, api_key=token, cache=cache, max_retries=0) as client:
            answers = [client.chat("test-org/test-model", messages, extra_headers=headers)
                       for _ in range(2)]
    else:
        async def main():
            async with AsyncHFClient(base_url=url, api_key=token, cache=cache,
                                     max_retries=0) as client:
                return [await client.chat("test-org/test-model", messages,
                                          extra_headers=headers) for _ in range(2)]
        answers = asyncio.run(main())
    print(json.dumps([len(a.text) for a in answers]))
    """
)


def test_a_full_disk_skips_the_cache(twin: str, server: FakeRouter, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            FULL_DISK,
            twin,
            server.base_url,
            str(tmp_path / "responses.sqlite3"),
            FAKE_TOKEN,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == [2 * 1024 * 1024] * 2  # both answers, whole
    warnings = [line for line in done.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and "failed to write" in warnings[0], done.stderr[-2000:]
    assert len(server.requests) == 2


class BrokenBackend:
    """A backend whose storage is gone (what a Redis outage or a dead NFS mount looks like)."""

    def __init__(self) -> None:
        self.calls = 0

    def get(self, key: str) -> dict[str, Any] | None:
        self.calls += 1
        raise ConnectionError("storage unreachable")

    def set(self, key: str, value: dict[str, Any]) -> None:
        self.calls += 1
        raise OSError(28, "No space left on device")


async def test_any_backend_that_raises_costs_nothing(
    twin: str, server: FakeRouter, no_leaks: list[Client], caplog: pytest.LogCaptureFixture
) -> None:
    backend = BrokenBackend()
    client = make_client(twin, server, cache=backend)
    no_leaks.append(client)
    answer = await chat(client, "ok", uuid.uuid4().hex)
    streamed = await stream_text(client, uuid.uuid4().hex)
    assert answer.text and streamed
    assert backend.calls == 1  # then skipped for a while
    assert len(cache_warnings(caplog)) == 1


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_fail_safe_retries_the_backend_later_and_says_when_it_works(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="hfproviders")
    clock = Clock()
    backend = BrokenBackend()
    cache = FailSafeCache(backend, retry_after_s=10, clock=clock)
    assert cache.get("k") is None
    cache.set("k", ENTRY)
    assert backend.calls == 1
    clock.now = 11
    assert cache.get("k") is None
    assert backend.calls == 2  # tried again after the pause, failed again: no second warning
    assert len(cache_warnings(caplog)) == 1
    clock.now = 22
    backend.get = lambda key: dict(ENTRY)  # type: ignore[method-assign]
    assert cache.get("k") == ENTRY
    assert any("works again" in r.getMessage() for r in caplog.records)
