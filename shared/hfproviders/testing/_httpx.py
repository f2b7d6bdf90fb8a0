"""The fake router as an in-process httpx transport: no socket, the same plans, for speed.

`FakeRouterTransport(router)` is both an `httpx.BaseTransport` and an `AsyncBaseTransport`:
pass it as `httpx.Client(transport=…)` or `httpx.AsyncClient(transport=…)` (then as
`http_client=` / `http_async_client=` to our clients, or to any httpx-based SDK). Faults map to
the exceptions httpx raises on real sockets: a reset is a `ReadError`, a close mid-body a
`RemoteProtocolError`, a pause or silence longer than the request's read timeout a
`ReadTimeout` (after sleeping that timeout, as a socket would).

Besides `_transport`, this is the one module of the package that imports httpx (pyproject's
per-file ignore): the testing kit is not on the product's request path.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import httpx

from hfproviders.testing._render import Pause, Plan, reason

if TYPE_CHECKING:
    from hfproviders.testing._router import FakeRouter, RecordedRequest

__all__ = ["FakeRouterTransport"]


def _read_timeout(request: httpx.Request) -> float | None:
    timeout = request.extensions.get("timeout") or {}
    value = timeout.get("read")
    return float(value) if value is not None else None


def _recorded(request: httpx.Request, body: bytes) -> RecordedRequest:
    from hfproviders.testing._router import RecordedRequest

    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers.raw}
    query = request.url.query.decode("ascii") if isinstance(request.url.query, bytes) else ""
    return RecordedRequest(request.method, request.url.path, query, headers, body)


def _headers(plan: Plan) -> list[tuple[str, str]]:
    headers = list(plan.headers)
    if plan.streamed:
        headers.append(("transfer-encoding", "chunked"))
    else:
        headers.append(("content-length", str(plan.content_length)))
    return headers


def _ending(plan: Plan, request: httpx.Request) -> Exception | None:
    if plan.end == "reset":
        return httpx.ReadError("[Errno 104] Connection reset by peer", request=request)
    if plan.end == "close":
        return httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body", request=request
        )
    return None


def _wait_for(pause: float, read_timeout: float | None) -> tuple[float, bool]:
    """How long to sleep, and whether the read times out at the end of it."""
    if read_timeout is not None and pause > read_timeout:
        return read_timeout, True
    return pause, False


class _SyncBody(httpx.SyncByteStream):
    def __init__(self, plan: Plan, request: httpx.Request) -> None:
        self.plan = plan
        self.request = request
        self.timeout = _read_timeout(request)

    def __iter__(self) -> Iterator[bytes]:
        for part in self.plan.parts:
            if isinstance(part, Pause):
                seconds, times_out = _wait_for(part.seconds, self.timeout)
                time.sleep(seconds)
                if times_out:
                    raise httpx.ReadTimeout("timed out", request=self.request)
                continue
            yield part
        if self.plan.end in ("stall", "hold"):
            seconds, times_out = _wait_for(self.plan.limit_s, self.timeout)
            time.sleep(seconds)
            if times_out:
                raise httpx.ReadTimeout("timed out", request=self.request)
            if self.plan.end == "stall":
                raise _ending(Plan(0, [], end="close"), self.request) or RuntimeError
        error = _ending(self.plan, self.request)
        if error is not None:
            raise error


class _AsyncBody(httpx.AsyncByteStream):
    def __init__(self, plan: Plan, request: httpx.Request) -> None:
        self.plan = plan
        self.request = request
        self.timeout = _read_timeout(request)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.plan.parts:
            if isinstance(part, Pause):
                seconds, times_out = _wait_for(part.seconds, self.timeout)
                await asyncio.sleep(seconds)
                if times_out:
                    raise httpx.ReadTimeout("timed out", request=self.request)
                continue
            yield part
        if self.plan.end in ("stall", "hold"):
            seconds, times_out = _wait_for(self.plan.limit_s, self.timeout)
            await asyncio.sleep(seconds)
            if times_out:
                raise httpx.ReadTimeout("timed out", request=self.request)
            if self.plan.end == "stall":
                raise _ending(Plan(0, [], end="close"), self.request) or RuntimeError
        error = _ending(self.plan, self.request)
        if error is not None:
            raise error


class FakeRouterTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """An httpx transport (sync and async) answering every request from a `FakeRouter`."""

    def __init__(self, router: FakeRouter) -> None:
        self.router = router

    def _before_headers(self, plan: Plan, request: httpx.Request) -> tuple[float, Exception | None]:
        """The wait before the status line, and the error it ends in (if any)."""
        timeout = _read_timeout(request)
        if plan.status == -1:
            raise NotImplementedError("raw responses need the loopback server: router.serve()")
        if plan.reset_first:
            return plan.delay_s, httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        wait = plan.limit_s if plan.status == 0 else plan.delay_s
        seconds, times_out = _wait_for(wait, timeout)
        if times_out:
            return seconds, httpx.ReadTimeout("timed out", request=request)
        if plan.status == 0:
            return seconds, httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        return seconds, None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Answer one request synchronously."""
        plan = self.router.handle(_recorded(request, request.read()))
        seconds, error = self._before_headers(plan, request)
        if seconds > 0:
            time.sleep(seconds)
        if error is not None:
            raise error
        return httpx.Response(
            plan.status,
            headers=_headers(plan),
            stream=_SyncBody(plan, request),
            extensions={"reason_phrase": reason(plan.status).encode()},
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer one request on the running event loop."""
        plan = self.router.handle(_recorded(request, await request.aread()))
        seconds, error = self._before_headers(plan, request)
        if seconds > 0:
            await asyncio.sleep(seconds)
        if error is not None:
            raise error
        return httpx.Response(
            plan.status,
            headers=_headers(plan),
            stream=_AsyncBody(plan, request),
            extensions={"reason_phrase": reason(plan.status).encode()},
        )

    def client(self, **kwargs: object) -> httpx.Client:
        """An `httpx.Client` on this transport (for `http_client=`)."""
        return httpx.Client(transport=self, **kwargs)  # type: ignore[arg-type]

    def async_client(self, **kwargs: object) -> httpx.AsyncClient:
        """An `httpx.AsyncClient` on this transport (for `http_async_client=`)."""
        return httpx.AsyncClient(transport=self, **kwargs)  # type: ignore[arg-type]
