"""The core clients of one LangChain model: created lazily, reused, never closed behind its back.

One `HFClient` per model instance, and one `AsyncHFClient` per event loop: an async connection
pool made in a loop that has since closed is unusable (the second `asyncio.run()` of a notebook
would fail with "Event loop is closed").

All the clients of one model share one `hfproviders.DiscoveryCache`, so a catalogue loaded on
one side (`load_model_profile`, or a `routing="auto"` call) routes the calls of the other side and
fills `profile` without a second `GET /v1/models`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

import hfproviders
from hfproviders import AsyncHFClient, HFClient

if TYPE_CHECKING:
    from hfproviders import DiscoveryCache  # loaded on first use, like the core does

__all__ = [
    "CHAT_CLIENT_FIELDS",
    "DEFAULT_DISCOVERY_TTL",
    "ClientPools",
    "core_options",
    "deepcopy_memo",
]

#: Seconds a loaded catalogue is kept by models with no `discovery_ttl` field (the core default).
DEFAULT_DISCOVERY_TTL = 600.0

#: `ChatHFProviders` fields that configure its core clients (same names as the core's options).
CHAT_CLIENT_FIELDS = (
    "base_url",
    "router",
    "provider",
    "bill_to",
    "timeout",
    "max_retries",
    "default_headers",
    "routing",
    "discovery_ttl",
)

# The threads of a `batch` (or two threads on their own event loops) must not build two pools.
# Reentrant: a client is made while the lock is held, and it asks for the shared catalogue.
_LOCK = threading.RLock()


def core_options(model: Any, names: Sequence[str]) -> dict[str, Any]:
    """The core client's constructor options, read from a model's fields of the same names.

    `request_rate_limiter` becomes the core's `rate_limiter`; `state` is passed as is.

    Only an `api_key` the user gave is passed on. One that LangChain's `secret_from_env` read
    from HF_TOKEN is not: the core finds that token itself, and then sends it only to Hugging
    Face hosts, never to a custom `base_url`.
    """
    options = {name: getattr(model, name) for name in names}
    # Our own limiter (per HTTP attempt). LangChain's `rate_limiter` (per model call) is applied
    # by LangChain itself and is never passed down, or each call would be counted twice.
    options["rate_limiter"] = model.request_rate_limiter
    options["state"] = model.state  # e.g. "redis://…": the limiter and cache shared by workers
    api_key = model.api_key if "api_key" in model.model_fields_set else None
    options["api_key"] = api_key.get_secret_value() if api_key is not None else None
    return options


def deepcopy_memo(memo: dict[int, Any] | None, model: Any) -> dict[int, Any]:
    """A `copy.deepcopy` memo that makes copies of `model` share what must not be duplicated.

    Both rate limiters (one budget, whoever spends it) and your own httpx clients (yours, never
    ours to copy) hold locks and connections: a copy refers to the same objects.
    """
    memo = {} if memo is None else memo
    for name in (
        "request_rate_limiter",
        "rate_limiter",
        "http_client",
        "http_async_client",
        "state",
    ):
        shared = getattr(model, name, None)
        if shared is not None:
            memo.setdefault(id(shared), shared)
    return memo


class ClientPools:
    """Holds the clients and their shared catalogue; copies of a model start with none of them.

    `make` receives the shared `DiscoveryCache` and passes it to the client as `discovery=`.
    """

    __slots__ = ("_async", "_discovery", "_sync")

    def __init__(self) -> None:
        self._discovery: DiscoveryCache | None = None
        self._sync: HFClient | None = None
        self._async: WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncHFClient] = (
            WeakKeyDictionary()
        )

    def discovery(self, ttl_s: float) -> DiscoveryCache:
        """The catalogue all the clients share, made on first use (kept `ttl_s` seconds)."""
        if self._discovery is None:
            with _LOCK:
                if self._discovery is None:
                    self._discovery = hfproviders.DiscoveryCache(ttl_s=ttl_s)
        return self._discovery

    def sync(
        self,
        make: Callable[[DiscoveryCache], HFClient],
        discovery_ttl: float = DEFAULT_DISCOVERY_TTL,
    ) -> HFClient:
        """The sync client, made by `make(shared_discovery)` on first use."""
        if self._sync is None:
            with _LOCK:
                if self._sync is None:
                    self._sync = make(self.discovery(discovery_ttl))
        return self._sync

    def current_loop(
        self,
        make: Callable[[DiscoveryCache], AsyncHFClient],
        discovery_ttl: float = DEFAULT_DISCOVERY_TTL,
    ) -> AsyncHFClient:
        """The running event loop's async client, made by `make(shared_discovery)` there first."""
        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:
            with _LOCK:
                client = self._async.get(loop)
                if client is None:
                    client = self._async[loop] = make(self.discovery(discovery_ttl))
        return client

    def close(self) -> None:
        """Close the sync client (it closes only a pool it opened itself)."""
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def aclose(self) -> None:
        """Close the running loop's async client."""
        client = self._async.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    def __copy__(self) -> ClientPools:
        return ClientPools()

    def __deepcopy__(self, memo: dict[int, Any]) -> ClientPools:
        return ClientPools()

    def __reduce__(self) -> tuple[type[ClientPools], tuple[()]]:
        return (ClientPools, ())
