"""The HTTP boundary: the only module that imports httpx.

It sends one request and hands back a small response object; httpx exceptions are translated
into hfproviders errors here and nowhere else. Moving to another HTTP stack (httpx2) touches this
file only.

httpx itself is imported when the first request is made, not with `hfproviders`: a program (or a
framework adapter) that imports us without calling anything does not pay for the HTTP stack.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from hfproviders._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ClientClosedError,
)

if TYPE_CHECKING:
    import ssl

    import httpx
else:

    class _LazyHttpx:
        """Stands in for the httpx module until first use, then replaces itself with it."""

        def __getattr__(self, name: str) -> Any:
            import httpx as module

            globals()["httpx"] = module
            return getattr(module, name)

    httpx = _LazyHttpx()

__all__ = [
    "AsyncTransport",
    "AsyncWireResponse",
    "SyncTransport",
    "WireResponse",
    "pool_limits",
    "response_too_large",
    "tls_context",
]

_CONNECT_TIMEOUT = 10.0
_NEVER = float("inf")


def pool_limits() -> httpx.Limits:
    """Connection pool limits for clients we create.

    httpx's defaults: httpcore's pool bookkeeping grows with queued requests x connections,
    and a larger pool measured 2x more CPU per request at 50-way concurrency on loopback.
    """
    return httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=30.0)


_TLS_ENVIRONMENT = ("SSL_CERT_FILE", "SSL_CERT_DIR", "SSLKEYLOGFILE")
_tls_contexts: dict[tuple[str | None, ...], ssl.SSLContext] = {}
_tls_lock = threading.Lock()


def tls_context() -> ssl.SSLContext:
    """The TLS context of every pool we create: httpx's default one, made once per process.

    httpx makes a context per client and loads the CA bundle into each: about 0.6 MB and 35 ms
    per pool (a sync pool, an async pool per event loop, per client). The default context
    depends only on the environment, so pools share one per setting of the variables it reads
    (as aiohttp shares its default context). A caller's own httpx client keeps its own.
    """
    import os

    key = tuple(os.environ.get(name) for name in _TLS_ENVIRONMENT)
    with _tls_lock:
        context = _tls_contexts.get(key)
        if context is None:
            context = _tls_contexts[key] = httpx.create_ssl_context()
    return context


def _timeout(seconds: float) -> httpx.Timeout:
    return httpx.Timeout(seconds, connect=min(_CONNECT_TIMEOUT, seconds))


def _translate(exc: Exception, url: str, pool: httpx.Client | httpx.AsyncClient) -> Exception:
    """The one place where httpx's exceptions become ours (like httpx's own map_exceptions).

    A failure because the pool was closed under the request (`close()` from another thread or
    task) is `ClientClosedError`, which is never retried: a retry would open a new pool.
    """
    host = httpx.URL(url).host
    if pool.is_closed:
        return ClientClosedError(f"The client was closed while a request to {host} was in flight")
    if isinstance(exc, httpx.TimeoutException):
        phase = type(exc).__name__.replace("Timeout", "").lower() or "request"
        return APITimeoutError(f"Timed out ({phase}) talking to {host}")
    if isinstance(exc, httpx.HTTPError):
        return APIConnectionError(f"Connection to {host} failed: {type(exc).__name__}: {exc}")
    return exc


def _send_failed(exc: Exception, url: str, pool: httpx.Client | httpx.AsyncClient) -> BaseException:
    """Sending failed: ours for httpx's errors, and for the RuntimeError of a closed pool."""
    if isinstance(exc, httpx.HTTPError) or pool.is_closed:
        return _translate(exc, url, pool)
    return exc  # any other RuntimeError is not about the wire: as it was


def _request(
    client: httpx.Client | httpx.AsyncClient,
    method: str,
    url: str,
    headers: Mapping[str, str],
    content: bytes | None,
    timeout: float | None,
) -> httpx.Request:
    return client.build_request(
        method,
        url,
        headers=headers,
        content=content,
        timeout=_timeout(timeout) if timeout is not None else httpx.USE_CLIENT_DEFAULT,
    )


def response_too_large(cap: int) -> APIError:
    """The error for a success body over `max_response_bytes` (decompressed size)."""
    return APIError(f"The answer is larger than max_response_bytes ({cap} bytes)", status_code=200)


def _timed_out(url: str) -> APITimeoutError:
    error = APITimeoutError(
        f"Timed out: the call's time budget ran out while reading from {httpx.URL(url).host}"
    )
    error.deadline_exceeded = True
    return error


def _take(
    data: bytearray, chunk: bytes, url: str, cap: int | None, deadline: float, limit: int | None
) -> bool:
    """Add `chunk` to a body being read; True once `limit` bytes are in (keep no more)."""
    data += chunk
    if cap is not None and len(data) > cap:
        raise response_too_large(cap)
    if time.monotonic() > deadline:
        raise _timed_out(url)
    if limit is not None and len(data) >= limit:
        del data[limit:]
        return True
    return False


def _lower_headers(headers: httpx.Headers) -> dict[str, str]:
    # Straight from the raw bytes (httpx's multi_items() re-detects the encoding per header);
    # multi-valued headers are joined like the spec says.
    out: dict[str, str] = {}
    for raw_key, raw_value in headers.raw:
        key = raw_key.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


class _NoCookies:
    """A cookie jar that keeps nothing, for the pools we create.

    The router needs no cookies, and httpx's cookie extraction (a urllib request and an email
    message built from every header, per response) was the largest single cost of a call.
    """

    def __new__(cls) -> Any:
        from http.cookiejar import CookieJar

        class NoCookieJar(CookieJar):
            def extract_cookies(self, response: Any, request: Any) -> None:
                return None

            def set_cookie(self, cookie: Any) -> None:
                return None

        return NoCookieJar()


class _Wire:
    """A response whose body has not been read yet: status and headers (lower-case names)."""

    __slots__ = ("_pool", "_response", "_source", "headers", "status_code", "url")

    def __init__(
        self, response: httpx.Response, url: str, pool: httpx.Client | httpx.AsyncClient
    ) -> None:
        self._response = response
        self._pool = pool  # to tell a read cut by close() from a broken connection
        self._source: Any = None  # the one iterator over the body, shared by its readers
        self.status_code = response.status_code
        self.headers = _lower_headers(response.headers)
        self.url = url


class WireResponse(_Wire):
    """A response whose body has not been read yet (sync)."""

    __slots__ = ()

    def read(
        self, limit: int | None = None, *, cap: int | None = None, deadline: float = _NEVER
    ) -> bytes:
        """Read the body, then close the response.

        `limit`: keep at most that many bytes (an error body); `cap`: raise when the decoded
        body grows past it; `deadline` (monotonic): raise `APITimeoutError` once it passed.
        """
        data = bytearray()
        try:
            for chunk in self._response.iter_bytes():
                if _take(data, chunk, self.url, cap, deadline, limit):
                    break
            return bytes(data)
        except httpx.HTTPError as exc:
            raise _translate(exc, self.url, self._pool) from None
        finally:
            self._response.close()

    def chunks(self, until: Callable[[], bool]) -> Iterator[bytes]:
        """The body as it arrives, from where an earlier reader stopped, until `until()`.

        `until` is asked before every read: a stream that said it is over is not read further
        (its server may keep the socket open).
        """
        if self._source is None:
            self._source = self._response.iter_bytes()
        try:
            if until():
                return
            for chunk in self._source:
                yield chunk
                if until():
                    return
        except httpx.HTTPError as exc:
            raise _translate(exc, self.url, self._pool) from None

    def close(self) -> None:
        """Release the connection back to the pool (or close it if the body was not read)."""
        self._response.close()


class AsyncWireResponse(_Wire):
    """A response whose body has not been read yet (async)."""

    __slots__ = ()

    async def read(
        self, limit: int | None = None, *, cap: int | None = None, deadline: float = _NEVER
    ) -> bytes:
        """Read the body, then close the response (see `WireResponse.read`)."""
        data = bytearray()
        try:
            async for chunk in self._response.aiter_bytes():
                if _take(data, chunk, self.url, cap, deadline, limit):
                    break
            return bytes(data)
        except httpx.HTTPError as exc:
            raise _translate(exc, self.url, self._pool) from None
        finally:
            await self._response.aclose()

    async def chunks(self, until: Callable[[], bool]) -> AsyncIterator[bytes]:
        """The body as it arrives, from where an earlier reader stopped, until `until()`."""
        if self._source is None:
            self._source = self._response.aiter_bytes()
        try:
            if until():
                return
            async for chunk in self._source:
                yield chunk
                if until():
                    return
        except httpx.HTTPError as exc:
            raise _translate(exc, self.url, self._pool) from None

    async def close(self) -> None:
        """Release the connection back to the pool (or close it if the body was not read)."""
        await self._response.aclose()


class _Direct:
    """Requests on a pool we created, handed straight to the transport that pool would use.

    `httpx.Client.send` adds auth, redirects, cookies, event hooks and timing. Our own pools use
    none of them (no auth object, redirects are never followed, `_NoCookies`), and together they
    cost about as much as everything else a call of ours does. So the request is built as
    `build_request` builds it (the pool's default headers under ours, the timeout as an
    extension) and handed to the transport the pool picks for its URL, which keeps the pool's
    proxy and TLS settings (from the environment too). A pool given to us (`http_client=`) is
    always used through `send`, so its auth, hooks and mounts apply.
    """

    __slots__ = ("_defaults", "_urls", "pool", "timeout")

    def __init__(self, pool: httpx.Client | httpx.AsyncClient, timeout: float) -> None:
        self.pool = pool
        self.timeout = _timeout_extension(timeout)
        self._defaults = list(pool.headers.items())  # names in lower case
        self._urls: dict[str, httpx.URL] = {}

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None,
        timeout: float | None,
    ) -> tuple[httpx.Request, Any]:
        """The request, and the transport that sends it."""
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= 64:  # Hub lookups carry the model in their URL
                self._urls.clear()
            parsed = self._urls[url] = httpx.URL(url)
        ours = {name.lower() for name in headers}
        merged = [(name, value) for name, value in self._defaults if name not in ours]
        merged.extend(headers.items())
        extension = self.timeout if timeout is None else _timeout_extension(timeout)
        request = httpx.Request(
            method, parsed, headers=merged, content=content, extensions={"timeout": extension}
        )
        return request, self.pool._transport_for_url(parsed)


def _timeout_extension(seconds: float) -> dict[str, float]:
    """`httpx.Timeout(seconds, connect=...)` as the request extension httpx's transports read."""
    return {
        "connect": min(_CONNECT_TIMEOUT, seconds),
        "read": seconds,
        "write": seconds,
        "pool": seconds,
    }


class SyncTransport:
    """Sends requests on one pooled httpx.Client, created on first use unless one is given."""

    __slots__ = ("_client", "_direct", "_lock", "_owned", "_timeout")

    def __init__(self, client: Any | None, timeout: float) -> None:
        if client is not None and not isinstance(client, httpx.Client):
            raise TypeError("http_client must be an httpx.Client")
        self._client: httpx.Client | None = client
        self._direct: _Direct | None = None
        self._owned = client is None
        self._timeout = timeout
        self._lock = threading.Lock()

    def _get(self) -> httpx.Client:
        client = self._client
        if client is not None:
            return client
        # Threads making their first call together must share one pool: without the lock each
        # built its own and close() closed only the last one, leaving the others' sockets open.
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(
                    timeout=_timeout(self._timeout),
                    limits=pool_limits(),
                    cookies=_NoCookies(),
                    verify=tls_context(),
                )
                self._direct = _Direct(self._client, self._timeout)
            return self._client

    def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None,
        timeout: float | None = None,
    ) -> WireResponse:
        """Send and return once the response headers are in."""
        client = self._get()
        direct = self._direct
        try:
            if direct is not None and direct.pool is client:
                request, transport = direct.request(method, url, headers, content, timeout)
                response = transport.handle_request(request)
            else:
                request = _request(client, method, url, headers, content, timeout)
                response = client.send(request, stream=True)
        except (httpx.HTTPError, RuntimeError) as exc:
            raise _send_failed(exc, url, client) from None
        return WireResponse(response, url, client)

    def close(self) -> None:
        """Close the pool if we created it; a client the caller gave us is theirs to close."""
        if not self._owned:
            return
        with self._lock:
            client, self._client, self._direct = self._client, None, None
        if client is not None:
            client.close()


class AsyncTransport:
    """Sends requests on pooled httpx.AsyncClients: one per event loop, unless one is given.

    Connections belong to the event loop that opened them, so a client used from several loops
    (a second `asyncio.run()`, a notebook cell, a thread with its own loop) keeps one pool per
    loop. A loop that shuts down its async generators before closing (as `asyncio.run()` does)
    closes its pool then, on that loop: its sockets never outlive it. `close()` closes them all:
    the current loop's by awaiting it, another running loop's on that loop, and the pools of
    loops that are gone are dropped with them.
    """

    __slots__ = ("_given", "_lock", "_pools", "_timeout")

    def __init__(self, client: Any | None, timeout: float) -> None:
        if client is not None and not isinstance(client, httpx.AsyncClient):
            raise TypeError("http_async_client must be an httpx.AsyncClient")
        self._given: httpx.AsyncClient | None = client
        # loop -> (its pool, the pool's direct path, the closer its loop shuts down)
        self._pools: dict[Any, tuple[httpx.AsyncClient, _Direct, AsyncGenerator[None]]] = {}
        self._timeout = timeout
        # Threads each running their own loop share the map: creating, pruning and closing
        # pools is serialised (a loop's own pool is then read without the lock).
        self._lock = threading.Lock()

    @property
    def _client(self) -> httpx.AsyncClient | None:
        """The current loop's pool (or the one given), if any."""
        if self._given is not None:
            return self._given
        import asyncio

        try:
            entry = self._pools.get(asyncio.get_running_loop())
        except RuntimeError:
            return None
        return entry[0] if entry is not None else None

    def _pool(self) -> tuple[httpx.AsyncClient, _Direct | None]:
        """The pool to send on, and its direct path when we created it."""
        if self._given is not None:
            return self._given, None
        import asyncio  # already loaded: we are inside a running loop

        loop = asyncio.get_running_loop()
        entry = self._pools.get(loop)
        if entry is None:
            with self._lock:
                for old in [old for old, (pool, *_) in self._pools.items() if _gone(old, pool)]:
                    del self._pools[old]  # its connections were closed, or died with it
                pool = httpx.AsyncClient(
                    timeout=_timeout(self._timeout),
                    limits=pool_limits(),
                    cookies=_NoCookies(),
                    verify=tls_context(),
                )
                closer = _closer(pool, lambda: self._forget(loop, pool))
                entry = self._pools[loop] = (pool, _Direct(pool, self._timeout), closer)
        return entry[0], entry[1]

    def _forget(self, loop: Any, pool: httpx.AsyncClient) -> None:
        """Drop `loop`'s entry if it is still `pool` (its loop is closing it)."""
        with self._lock:
            entry = self._pools.get(loop)
            if entry is not None and entry[0] is pool:
                del self._pools[loop]

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None,
        timeout: float | None = None,
    ) -> AsyncWireResponse:
        """Send and return once the response headers are in."""
        client, direct = self._pool()
        try:
            if direct is not None and direct.pool is client:
                request, transport = direct.request(method, url, headers, content, timeout)
                response = await transport.handle_async_request(request)
            else:
                request = _request(client, method, url, headers, content, timeout)
                response = await client.send(request, stream=True)
        except (httpx.HTTPError, RuntimeError) as exc:
            raise _send_failed(exc, url, client) from None
        return AsyncWireResponse(response, url, client)

    async def close(self) -> None:
        """Close every pool we created; a client the caller gave us is theirs to close."""
        import asyncio

        current = asyncio.get_running_loop()
        with self._lock:
            pools, self._pools = self._pools, {}
        for loop, (_, _, closer) in pools.items():
            if loop is current:
                await closer.aclose()
            elif loop.is_running():
                asyncio.run_coroutine_threadsafe(closer.aclose(), loop)
            # else: that loop is not running (or gone); its connections go with it

    def close_outside_loop(self) -> None:
        """Close the pools from synchronous code (no loop running in this thread)."""
        with self._lock:
            pools, self._pools = self._pools, {}
        for loop, (_, _, closer) in pools.items():
            if loop.is_running():
                import asyncio

                asyncio.run_coroutine_threadsafe(closer.aclose(), loop)
            elif not loop.is_closed():
                loop.run_until_complete(closer.aclose())


def _gone(loop: Any, pool: httpx.AsyncClient) -> bool:
    return bool(loop.is_closed()) or pool.is_closed


async def _closing(pool: httpx.AsyncClient, forget: Callable[[], None]) -> AsyncGenerator[None]:
    try:
        yield
    finally:
        forget()
        await pool.aclose()


def _closer(pool: httpx.AsyncClient, forget: Callable[[], None]) -> AsyncGenerator[None]:
    """An async generator, started on the running loop, that closes `pool` when finalised.

    Starting it registers it with the loop (PEP 525's first-iteration hook), so the loop's
    `shutdown_asyncgens()`, which `asyncio.run()` awaits before closing, closes the pool on that
    loop. Our own `close()` finalises it with `aclose()`.
    """
    closer = _closing(pool, forget)
    with contextlib.suppress(StopIteration):  # it runs to its `yield`: nothing awaited before
        closer.asend(None).send(None)
    return closer
