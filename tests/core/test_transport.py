"""The HTTP boundary on real loopback sockets: our own pools and the pools callers give us.

A pool the client creates sends through the transport httpx would pick for the URL (its
connection pool, or a proxy from the environment), with httpx's default headers under ours.
A pool given as `http_client` / `http_async_client` is used through `send`, so its own
settings (event hooks here) apply. Both twins, every test.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hfproviders import AsyncHFClient, HFClient
from hfproviders.testing import FakeRouter, Reply, completion, dumps
from tests.conftest import FAKE_TOKEN

MODEL = "test-org/test-model"
USER = [{"role": "user", "content": "Hi"}]


@pytest.fixture(params=["sync", "async"])
def twin(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def chat(client: HFClient | AsyncHFClient, **params: Any) -> Any:
    if isinstance(client, HFClient):
        with client:
            return client.chat(MODEL, USER, **params)
    async with client:
        return await client.chat(MODEL, USER, **params)


def make(twin: str, base_url: str, **options: Any) -> HFClient | AsyncHFClient:
    cls = HFClient if twin == "sync" else AsyncHFClient
    return cls(base_url=base_url, api_key=FAKE_TOKEN, timeout=5.0, **options)


async def test_own_pool_sends_our_headers_over_httpx_defaults(
    twin: str, hf_fake_router: FakeRouter
) -> None:
    hf_fake_router.on(kind="chat").respond_with(lambda request: Reply("hi"))
    client = make(twin, hf_fake_router.base_url, default_headers={"X-Team": "a"})
    result = await chat(client, extra_headers={"accept-encoding": "identity"}, max_tokens=3)
    assert result.text == "hi"
    [request] = hf_fake_router.requests
    headers = request.headers
    assert headers["user-agent"].startswith("hfproviders/")  # ours, not python-httpx's
    assert headers["accept"] == "application/json"
    assert headers["accept-encoding"] == "identity"  # a caller's header beats httpx's default
    assert headers["authorization"] == f"Bearer {FAKE_TOKEN}" and headers["x-team"] == "a"
    assert headers["host"] == hf_fake_router.base_url.split("/")[2]
    assert headers["connection"] == "keep-alive"
    assert int(headers["content-length"]) == len(request.body)
    assert json.loads(request.body)["max_tokens"] == 3


async def test_own_pool_without_caller_headers_asks_for_compressed_answers(
    twin: str, hf_fake_router: FakeRouter
) -> None:
    hf_fake_router.on(kind="chat").respond_with(lambda request: Reply("hi"))
    await chat(make(twin, hf_fake_router.base_url))
    assert "gzip" in hf_fake_router.requests[0].headers["accept-encoding"]


class _Proxy:
    """A loopback HTTP proxy stand-in: records each request line and answers a completion."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        body = dumps(completion("via proxy", model=MODEL)).encode()
        while True:
            try:
                conn, _ = self._socket.accept()
            except OSError:
                return
            with conn:
                head = b""
                while b"\r\n\r\n" not in head:
                    head += conn.recv(65536)
                self.lines.append(head.split(b"\r\n", 1)[0].decode())
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
                )

    def close(self) -> None:
        self._socket.shutdown(socket.SHUT_RDWR)  # wakes the accept() above
        self._socket.close()
        self._thread.join(5)


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Proxy]:
    server = _Proxy()
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", server.url)
    yield server
    server.close()


async def test_own_pool_goes_through_a_proxy_from_the_environment(twin: str, proxy: _Proxy) -> None:
    # The host does not resolve: only the proxy can answer.
    result = await chat(make(twin, "http://models.invalid/v1"))
    assert result.text == "via proxy"
    assert proxy.lines == ["POST http://models.invalid/v1/chat/completions HTTP/1.1"]


async def test_a_given_pool_is_used_with_its_own_settings(
    twin: str, hf_fake_router: FakeRouter
) -> None:
    hf_fake_router.on(kind="chat").respond_with(lambda request: Reply("hi"))
    seen: list[str] = []
    if twin == "sync":
        pool: Any = httpx.Client(event_hooks={"request": [lambda r: seen.append(str(r.url))]})
        client: HFClient | AsyncHFClient = HFClient(
            base_url=hf_fake_router.base_url, api_key=FAKE_TOKEN, http_client=pool
        )
    else:

        async def hook(request: httpx.Request) -> None:
            seen.append(str(request.url))

        pool = httpx.AsyncClient(event_hooks={"request": [hook]})
        client = AsyncHFClient(
            base_url=hf_fake_router.base_url, api_key=FAKE_TOKEN, http_async_client=pool
        )
    assert (await chat(client)).text == "hi"
    assert seen == [f"{hf_fake_router.base_url}/chat/completions"]
    if twin == "sync":
        pool.close()
    else:
        await pool.aclose()


def _pool_context(client: HFClient | AsyncHFClient) -> Any:
    """The TLS context the client's own pool hands to httpcore (httpx/httpcore internals)."""
    transport = client._transport  # type: ignore[union-attr]
    pools = (
        [transport._client]
        if isinstance(client, HFClient)
        else [pool for pool, *_ in transport._pools.values()]
    )
    return [pool._transport._pool._ssl_context for pool in pools]


def test_own_pools_share_one_tls_context(
    hf_fake_router: FakeRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # httpx loads the CA bundle for every client (about 1 MB, 20-50 ms): our pools, sync and
    # async, of every client and every event loop, load it once per process.
    import asyncio

    from hfproviders import _transport

    hf_fake_router.on(kind="chat").respond_with(lambda request: Reply("hi"))
    made: list[Any] = []
    real = httpx.create_ssl_context
    monkeypatch.setattr(_transport, "_tls_contexts", {})
    monkeypatch.setattr(httpx, "create_ssl_context", lambda: made.append(real()) or made[-1])
    sync_client = make("sync", hf_fake_router.base_url)
    async_client = make("async", hf_fake_router.base_url)
    assert isinstance(sync_client, HFClient) and isinstance(async_client, AsyncHFClient)
    assert sync_client.chat(MODEL, USER).text == "hi"

    async def twice() -> list[Any]:
        assert (await async_client.chat(MODEL, USER)).text == "hi"
        return _pool_context(async_client)

    contexts = _pool_context(sync_client) + asyncio.run(twice()) + asyncio.run(twice())
    assert len(made) == 1 and contexts == [made[0]] * 3
    sync_client.close()


def test_the_tls_context_follows_the_tls_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import certifi

    from hfproviders._transport import tls_context

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    default = tls_context()
    assert tls_context() is default
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    chosen = tls_context()
    assert chosen is not default and tls_context() is chosen
    assert chosen.verify_mode == default.verify_mode and chosen.check_hostname
