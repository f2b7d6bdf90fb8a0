"""The fake router on a real loopback socket: HTTP/1.1 with keep-alive, on its own thread.

An asyncio loop in a daemon thread serves every connection, so thousands of concurrent streams
cost one thread. It binds to loopback addresses only, bounds what it reads (64 KiB of headers,
16 MiB of body) and how long a stalled or held-open response waits, and `stop()` closes every
connection and joins the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING

from hfproviders.testing._render import Pause, Plan, reason

if TYPE_CHECKING:
    from hfproviders.testing._router import FakeRouter, RecordedRequest

__all__ = ["LoopbackServer"]

MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class LoopbackServer:
    """A running fake router: `base_url` (with `/v1`), `url` (the root), `port`, `stop()`.

    A context manager: `with FakeRouter().serve() as server: ...` stops it on exit.
    """

    def __init__(self, router: FakeRouter, host: str = "127.0.0.1", port: int = 0) -> None:
        if host not in LOOPBACK and not host.startswith("127."):
            raise ValueError("the fake router binds to loopback addresses only")
        self.router = router
        self.host = host
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="hf-fake-router", daemon=True)
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._error: BaseException | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> LoopbackServer:
        """Bind and serve in the background; returns once the port is open."""
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake router did not start within 10 s")
        if self._error is not None:
            raise RuntimeError(f"the fake router could not start: {self._error}")
        return self

    def stop(self) -> None:
        """Close every connection, stop the loop and join the thread (idempotent)."""
        if self._loop.is_closed() or not self._thread.is_alive():
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The server root, e.g. `http://127.0.0.1:8080` (for TGI-style clients)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL, `…/v1` (what `base_url=` takes)."""
        return f"{self.url}/v1"

    def wait_idle(self, timeout: float = 3.0) -> int:
        """Wait until no connection is open; return how many still are."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.router.open_connections:
            time.sleep(0.01)
        return self.router.open_connections

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._handle, self.host, self.port, backlog=1024)
            )
            self.port = self._server.sockets[0].getsockname()[1]
        except OSError as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    async def _shutdown(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()

    # -- connections -------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.router.open_connections += 1
        self._writers.add(writer)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                plan = self.router.handle(request)
                if plan.delay_s > 0:
                    left = await _wait_unless_left(reader, plan.delay_s)
                    if left is not None:  # the client gave up (a hedge's loser): nothing is sent
                        request.left_after_s, request.answer_s = left, plan.delay_s
                        self.router.disconnects += 1
                        return
                keep = await self._play(plan, reader, writer)
                if not keep or request.headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            self.router.disconnects += 1
        finally:
            self._writers.discard(writer)
            self.router.open_connections -= 1
            if not writer.transport.is_closing():
                writer.close()

    async def _play(
        self, plan: Plan, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Send one plan (its delay already waited); whether the connection can serve again."""
        if plan.reset_first:
            _reset(writer)
            return False
        if plan.status == 0:
            await self._until_client_leaves(reader, plan.limit_s)
            return False
        if plan.status == -1:  # a raw response, written as is
            writer.write(plan.body)
            await writer.drain()
            if plan.end == "hold":
                await self._until_client_leaves(reader, plan.limit_s)
            return False
        if plan.wire is not None:
            writer.write(plan.wire)
            await writer.drain()
            return True
        head = [f"HTTP/1.1 {plan.status} {reason(plan.status)}"]
        head += [f"{name}: {value}" for name, value in plan.headers]
        if plan.streamed:
            head.append("transfer-encoding: chunked")
        else:
            head.append(f"content-length: {plan.content_length}")
        data = bytearray(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        for part in plan.parts:
            if isinstance(part, Pause):
                writer.write(bytes(data))
                data.clear()
                await writer.drain()
                await asyncio.sleep(part.seconds)
                continue
            data += b"%x\r\n%s\r\n" % (len(part), part) if plan.streamed else part
        if plan.end == "done" and plan.streamed:
            data += b"0\r\n\r\n"
        if plan.end == "done" and not any(isinstance(p, Pause) for p in plan.parts):
            plan.wire = bytes(data)  # a memoized plan is sent again as these bytes
        writer.write(bytes(data))
        await writer.drain()
        if plan.end == "done":
            return True
        if plan.end == "reset":
            _reset(writer)
        elif plan.end == "close":
            writer.close()
        else:  # stall, hold: silence until the client leaves
            await self._until_client_leaves(reader, plan.limit_s)
        return False

    async def _until_client_leaves(self, reader: asyncio.StreamReader, limit: float) -> None:
        try:
            data = await asyncio.wait_for(reader.read(1), limit)
        except TimeoutError:
            return
        if data == b"":
            self.router.disconnects += 1


async def _wait_unless_left(reader: asyncio.StreamReader, seconds: float) -> float | None:
    """Wait `seconds` (an answer being prepared); the seconds waited if the client left first.

    A client sends nothing while it waits for an answer (no pipelining), so a read that ends is
    the client closing the connection (a cancelled request).
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    probe = asyncio.ensure_future(reader.read(1))
    done, _ = await asyncio.wait({probe}, timeout=seconds)
    if not done:
        probe.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await probe
        return None
    if probe.exception() is None and probe.result():
        raise ConnectionError("the client sent data before its answer (pipelining)")
    return loop.time() - started


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _read_request(reader: asyncio.StreamReader) -> RecordedRequest | None:
    from hfproviders.testing._router import RecordedRequest

    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    except asyncio.LimitOverrunError:
        return None
    if len(head) > MAX_HEAD:
        return None
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, _ = lines[0].split(" ", 2)
    except ValueError:
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    else:
        length = int(headers.get("content-length", "0") or "0")
        if length > MAX_BODY:
            return None
        body = await reader.readexactly(length)
    path, _, query = target.partition("?")
    return RecordedRequest(method, path, query, headers, body)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip() or b"0", 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)
        if len(body) > MAX_BODY:
            raise ConnectionError("request body too large")
