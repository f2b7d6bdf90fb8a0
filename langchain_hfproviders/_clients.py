"""The core clients of one LangChain model: created lazily, reused, never closed behind its back.

One `HFClient` per model instance, and one `AsyncHFClient` per event loop: an async connection
pool made in a loop that has since closed is unusable (the second `asyncio.run()` of a notebook
would fail with "Event loop is closed").
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import Any
from weakref import WeakKeyDictionary

from hfproviders import AsyncHFClient, HFClient

__all__ = ["CHAT_CLIENT_FIELDS", "ClientPools", "core_options"]

#: `ChatHFProviders` fields that configure its core clients (same names as the core's options).
CHAT_CLIENT_FIELDS = (
    "base_url",
    "provider",
    "bill_to",
    "timeout",
    "max_retries",
    "default_headers",
    "routing",
    "discovery_ttl",
)

# The threads of a `batch` (or two threads on their own event loops) must not build two pools.
_LOCK = threading.Lock()


def core_options(model: Any, names: Sequence[str]) -> dict[str, Any]:
    """The core client's constructor options, read from a model's fields of the same names.

    `request_rate_limiter` becomes the core's `rate_limiter`.

    Only an `api_key` the user gave is passed on. One that LangChain's `secret_from_env` read
    from HF_TOKEN is not: the core finds that token itself, and then sends it only to Hugging
    Face hosts, never to a custom `base_url`.
    """
    options = {name: getattr(model, name) for name in names}
    # Our own limiter (per HTTP attempt). LangChain's `rate_limiter` (per model call) is applied
    # by LangChain itself and is never passed down, or each call would be counted twice.
    options["rate_limiter"] = model.request_rate_limiter
    api_key = model.api_key if "api_key" in model.model_fields_set else None
    options["api_key"] = api_key.get_secret_value() if api_key is not None else None
    return options


class ClientPools:
    """Holds the clients; copies of a model start with no clients of their own."""

    __slots__ = ("_async", "_sync")

    def __init__(self) -> None:
        self._sync: HFClient | None = None
        self._async: WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncHFClient] = (
            WeakKeyDictionary()
        )

    def sync(self, make: Callable[[], HFClient]) -> HFClient:
        """The sync client, made by `make()` on first use."""
        if self._sync is None:
            with _LOCK:
                if self._sync is None:
                    self._sync = make()
        return self._sync

    def current_loop(self, make: Callable[[], AsyncHFClient]) -> AsyncHFClient:
        """The async client of the running event loop, made by `make()` on first use there."""
        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:
            with _LOCK:
                client = self._async.get(loop)
                if client is None:
                    client = self._async[loop] = make()
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
