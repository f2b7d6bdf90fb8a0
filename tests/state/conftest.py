"""A real `redis-server` for the shared-state tests: started on a free loopback port, killed after.

No fakeredis: these tests are about what a real server does (Lua atomicity, expiry, outages).
Install the server as the README says (`apt-get install redis-server`, or any `redis-server`
on PATH); `.ci/run` installs it when it is missing. A representative subset (the multi-process
tests, the async client on a paused server, writes without replies) also runs on Valkey
(`valkey-server`, which `.ci/run` installs too), through the `server_url` and `own_server`
fixtures.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

STARTUP_WAIT_S = 10.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SERVERS = ("redis", "valkey")


class RedisServer:
    """One `redis-server` (or `valkey-server`) on 127.0.0.1, no persistence; it may be restarted."""

    def __init__(self, workdir: Path, *options: str, kind: str = "redis") -> None:
        binary = shutil.which(f"{kind}-server")
        if binary is None:
            pytest.fail(
                f"{kind}-server is not installed: see the README, 'Many workers' (Debian 12: "
                "`apt-get install redis-server`, and valkey-server from bookworm-backports); "
                ".ci/run installs both"
            )
        self.binary = binary
        self.workdir = workdir
        self.options = options  # more server options, e.g. ("--rename-command", "CLIENT", "")
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and wait (bounded) until it answers PING."""
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--loglevel",
                "warning",
                *self.options,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2, socket_timeout=0.5)
        deadline = time.monotonic() + STARTUP_WAIT_S
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        self.stop()
                        pytest.fail(f"redis-server did not start within {STARTUP_WAIT_S:g}s")
                    time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        """Kill the server (an outage, as far as clients can tell)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def flush(self) -> None:
        """Forget every key (each test starts from an empty server)."""
        client = redis.Redis(port=self.port, socket_timeout=2)
        try:
            client.flushall()
        finally:
            client.close()


def assert_wait(wait: float, expected: float, since: float) -> None:
    """`wait` is `expected` less the time passed since `since`: Redis's clock runs on meanwhile.

    Not a fixed window (e.g. `0.9 < wait <= 1.0`), which a machine that stalls this test for
    0.1 s between two round trips would miss.
    """
    elapsed = time.monotonic() - since
    assert expected - elapsed - 0.002 <= wait <= expected + 0.002, (wait, expected, elapsed)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """The session's shared server."""
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="session")
def valkey_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """The session's shared Valkey server (started by the first test that runs on Valkey)."""
    with RedisServer(tmp_path_factory.mktemp("valkey"), kind="valkey") as server:
        yield server


@pytest.fixture(params=SERVERS)
def server_url(request: pytest.FixtureRequest) -> str:
    """Like `redis_url`, once on Redis and once on Valkey."""
    server: RedisServer = request.getfixturevalue(f"{request.param}_server")
    server.flush()
    return server.url


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The shared server's URL, emptied for this test."""
    redis_server.flush()
    return redis_server.url


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A server of this test's own, which the test may stop mid-run."""
    with RedisServer(tmp_path) as server:
        yield server


@pytest.fixture(params=SERVERS)
def own_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RedisServer]:
    """Like `own_redis`, once on Redis and once on Valkey."""
    with RedisServer(tmp_path, kind=request.param) as server:
        yield server
