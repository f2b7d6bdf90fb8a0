"""The HTTP boundary: the only module that imports httpx.

It sends one request and hands back a small response object; httpx exceptions are translated
into hfproviders errors here and nowhere else. Moving to another HTTP stack (httpx2) touches this
file only.

httpx itself is imported when the first request is made, not with `hfproviders`: a program (or a
framework adapter) that imports us without calling anything does not pay for the HTTP stack.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from hfproviders._errors import APIConnectionError, APITimeoutError

if TYPE_CHECKING:
    import httpx
else:

    class _LazyHttpx:
        """Stands in for the httpx module until first use, then replaces itself with it."""

        def __getattr__(self, name: str) -> Any:
            import httpx as module

            globals()["httpx"] = module
            return getattr(module, name)

    httpx = _LazyHttpx()

__all__ = ["AsyncTransport", "AsyncWireResponse", "SyncTransport", "WireResponse", "pool_limits"]

_CONNECT_TIMEOUT = 10.0


def pool_limits() -> httpx.Limits:
    """Connection pool limits for clients we create.

    httpx's defaults: httpcore's pool bookkeeping grows with queued requests x connections,
    and a larger pool measured 2x more CPU per request at 50-way concurrency on loopback.
    """
    return httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=30.0)


def _timeout(seconds: float) -> httpx.Timeout:
    return httpx.Timeout(seconds, connect=min(_CONNECT_TIMEOUT, seconds))


def _translate(exc: Exception, url: str) -> Exception:
    host = httpx.URL(url).host
    if isinstance(exc, httpx.TimeoutException):
        phase = type(exc).__name__.replace("Timeout", "").lower() or "request"
        return APITimeoutError(f"Timed out ({phase}) talking to {host}")
    if isinstance(exc, httpx.HTTPError):
        return APIConnectionError(f"Connection to {host} failed: {type(exc).__name__}: {exc}")
    return exc


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


class WireResponse:
    """A response whose body has not been read yet (sync)."""

    __slots__ = ("_response", "headers", "status_code", "url")

    def __init__(self, response: httpx.Response, url: str) -> None:
        self._response = response
        self.status_code = response.status_code
        self.headers = _lower_headers(response.headers)
        self.url = url

    def read(self, limit: int | None = None) -> bytes:
        """Read the body (at most `limit` bytes), then close the response."""
        try:
            if limit is None:
                return self._response.read()
            data = bytearray()
            for chunk in self._response.iter_bytes():
                data += chunk
                if len(data) >= limit:
                    break
            return bytes(data[:limit])
        except httpx.HTTPError as exc:
            raise _translate(exc, self.url) from None
        finally:
            self._response.close()

    def iter_bytes(self) -> Iterator[bytes]:
        """The body as it arrives."""
        try:
            yield from self._response.iter_bytes()
        except httpx.HTTPError as exc:
            raise _translate(exc, self.url) from None

    def close(self) -> None:
        """Release the connection back to the pool (or close it if the body was not read)."""
        self._response.close()


class AsyncWireResponse:
    """A response whose body has not been read yet (async)."""

    __slots__ = ("_response", "headers", "status_code", "url")

    def __init__(self, response: httpx.Response, url: str) -> None:
        self._response = response
        self.status_code = response.status_code
        self.headers = _lower_headers(response.headers)
        self.url = url

    async def read(self, limit: int | None = None) -> bytes:
        """Read the body (at most `limit` bytes), then close the response."""
        try:
            if limit is None:
                return await self._response.aread()
            data = bytearray()
            async for chunk in self._response.aiter_bytes():
                data += chunk
                if len(data) >= limit:
                    break
            return bytes(data[:limit])
        except httpx.HTTPError as exc:
            raise _translate(exc, self.url) from None
        finally:
            await self._response.aclose()

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        """The body as it arrives."""
        try:
            async for chunk in self._response.aiter_bytes():
                yield chunk
        except httpx.HTTPError as exc:
            raise _translate(exc, self.url) from None

    async def close(self) -> None:
        """Release the connection back to the pool (or close it if the body was not read)."""
        await self._response.aclose()


class SyncTransport:
    """Sends requests on one pooled httpx.Client, created on first use unless one is given."""

    __slots__ = ("_client", "_owned", "_timeout")

    def __init__(self, client: Any | None, timeout: float) -> None:
        if client is not None and not isinstance(client, httpx.Client):
            raise TypeError("http_client must be an httpx.Client")
        self._client: httpx.Client | None = client
        self._owned = client is None
        self._timeout = timeout

    def _get(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                timeout=_timeout(self._timeout), limits=pool_limits(), cookies=_NoCookies()
            )
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
        request = client.build_request(
            method,
            url,
            headers=headers,
            content=content,
            timeout=_timeout(timeout) if timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )
        try:
            response = client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise _translate(exc, url) from None
        return WireResponse(response, url)

    def close(self) -> None:
        """Close the pool if we created it; a client the caller gave us is theirs to close."""
        if self._owned and self._client is not None:
            self._client.close()
            self._client = None


class AsyncTransport:
    """Sends requests on one pooled httpx.AsyncClient, created on first use unless one is given.

    Connections belong to the event loop that opened them. When a client we own is used from
    a new loop (a second `asyncio.run()`, a notebook cell), it gets a fresh pool instead of
    failing with "Event loop is closed"; the old pool died with its loop.
    """

    __slots__ = ("_client", "_loop", "_owned", "_timeout")

    def __init__(self, client: Any | None, timeout: float) -> None:
        if client is not None and not isinstance(client, httpx.AsyncClient):
            raise TypeError("http_async_client must be an httpx.AsyncClient")
        self._client: httpx.AsyncClient | None = client
        self._owned = client is None
        self._timeout = timeout
        self._loop: object | None = None

    def _get(self) -> httpx.AsyncClient:
        import asyncio  # already loaded: we are inside a running loop

        loop = asyncio.get_running_loop()
        if self._owned and self._client is not None and self._loop is not loop:
            self._client = None
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=_timeout(self._timeout), limits=pool_limits(), cookies=_NoCookies()
            )
            self._loop = loop
        return self._client

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None,
        timeout: float | None = None,
    ) -> AsyncWireResponse:
        """Send and return once the response headers are in."""
        client = self._get()
        request = client.build_request(
            method,
            url,
            headers=headers,
            content=content,
            timeout=_timeout(timeout) if timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise _translate(exc, url) from None
        return AsyncWireResponse(response, url)

    async def close(self) -> None:
        """Close the pool if we created it; a client the caller gave us is theirs to close."""
        if self._owned and self._client is not None:
            import asyncio

            client, self._client = self._client, None
            if self._loop is asyncio.get_running_loop():
                await client.aclose()
            # else: the loop that owned its connections is gone, and they went with it
