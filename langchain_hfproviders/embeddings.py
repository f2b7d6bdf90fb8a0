"""`HFProvidersEmbeddings`: LangChain embeddings on the `hfproviders` core.

Everything that touches the wire (routes per provider, the Hub mapping, batching, retries,
failover, typed errors, cache, rate limiting, token safety) is the core's `embed`; this class maps
LangChain's four methods onto it, natively sync and async.
"""

from __future__ import annotations

from typing import Any, Self

from langchain_core.embeddings import Embeddings
from langchain_core.utils import secret_from_env
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr

import hfproviders
from hfproviders import AsyncHFClient, ClientPair, HFClient, RateLimiter
from langchain_hfproviders._clients import TokenlessPickle, core_options, deepcopy_memo, new_pair
from langchain_hfproviders._errors import to_langchain_error

__all__ = ["HFProvidersEmbeddings"]


class HFProvidersEmbeddings(TokenlessPickle, BaseModel, Embeddings):
    """Embeddings from Hugging Face Inference Providers, an Inference Endpoint or TEI.

    `provider=None` (or `"auto"`) uses the live providers the Hub maps to the model for
    feature extraction, in order, failing over between them; name one or give a list to choose.
    With `base_url` set to a TEI server or an Inference Endpoint, its `/embed` (a root URL) or
    `/v1/embeddings` (a `/v1` URL) is called. The token comes from `api_key`, else `HF_TOKEN`,
    else `hf auth login`; only an explicit `api_key` is ever sent to a non-Hugging Face host.

    Example:
        ```python
        from langchain_hfproviders import HFProvidersEmbeddings

        embeddings = HFProvidersEmbeddings(model="BAAI/bge-small-en-v1.5")
        vector = embeddings.embed_query("What is the capital of France?")
        ```

    """

    model: str = Field(alias="model_name")
    """Hugging Face model id, optionally with a `:provider` suffix."""
    api_key: SecretStr | None = Field(default_factory=secret_from_env("HF_TOKEN", default=None))
    """Hugging Face token (default: `HF_TOKEN`, then huggingface_hub's stored token)."""
    base_url: str | None = None
    """Default: the router. A TEI server or Inference Endpoint URL works too."""
    router: bool = False
    """Treat a custom `base_url` (a gateway, the fake router) as the HF router."""
    provider: str | list[str] | None = None
    """A provider (`"hf-inference"`, `"together"`…), `"auto"`, or an ordered failover list."""
    bill_to: str | None = None
    """Organisation (or resource group) billed for the calls (`X-HF-Bill-To`)."""
    timeout: float | None = None
    """Seconds per request (the core's default is 120)."""
    max_retries: int | None = None
    """Retries after the first attempt, with backoff and Retry-After (the core's default is 2)."""
    default_headers: dict[str, str] | None = None
    """Extra HTTP headers sent with every request."""
    http_client: Any | None = Field(default=None, exclude=True)
    """Your own pooled `httpx.Client` (never closed by this object)."""
    http_async_client: Any | None = Field(default=None, exclude=True)
    """Your own pooled `httpx.AsyncClient` (never closed by this object)."""
    discovery_ttl: float = Field(default=600.0, gt=0)
    """Seconds the Hub's provider mapping is kept once looked up."""
    request_rate_limiter: RateLimiter | None = Field(default=None, exclude=True)
    """`hfproviders.RateLimiter`: one slot per HTTP request, adaptive to rate-limit headers."""
    cache: Any | None = Field(default=None, exclude=True)
    """An `hfproviders` response cache (`InMemoryCache`, `SQLiteCache`): each batch is cached."""
    telemetry: Any | None = Field(default=None, exclude=True)
    """OpenTelemetry GenAI spans and metrics, the core's `telemetry=`: None (on once a global
    tracer or meter provider is configured), False (never), True or a `GenAITelemetry`."""
    state: Any | None = Field(default=None, exclude=True)
    """Where the limiter and cache live: None (this process) or shared, `"redis://host:6379/0"`
    or a `hfproviders.RedisState` (see the core's `state=`)."""

    dimensions: int | None = Field(default=None, gt=0)
    """Output dimensions, for models and providers that can shorten vectors (Matryoshka)."""
    normalize: bool | None = None
    """L2-normalise the vectors (TEI / hf-inference do it server side; others here)."""
    truncate: bool | None = None
    """Let TEI / hf-inference truncate inputs over the model's length instead of refusing them."""
    embed_batch_size: int = Field(default=32, gt=0)
    """Inputs per request (never over what the provider accepts)."""
    max_concurrency: int = Field(default=4, gt=0)
    """Requests in flight at once for one call."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Other body fields for documents and queries (e.g. `{"prompt_name": "passage"}`)."""
    query_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Body fields for queries only, over `model_kwargs` (e.g. `{"prompt_name": "query"}`)."""

    model_config = ConfigDict(
        populate_by_name=True, protected_namespaces=(), extra="forbid", arbitrary_types_allowed=True
    )

    _pools: ClientPair = PrivateAttr(default_factory=new_pair)

    # -- clients (lazy, cached, never closed behind the user's back) -------------------------

    def model_copy(self, *, update: Any = None, deep: bool = False) -> Self:
        """A copy with clients of its own, made on first use (its settings may differ)."""
        copied = super().model_copy(update=update, deep=deep)
        copied._pools = new_pair()
        return copied

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        """A deep copy with clients of its own; the limiter, cache and your httpx clients shared."""
        memo = deepcopy_memo(memo, self)
        if self.cache is not None:
            memo.setdefault(id(self.cache), self.cache)
        return super().__deepcopy__(memo)

    def _sync_client(self) -> HFClient:
        return self._pools.sync(self._core_options)

    def _async_client(self) -> AsyncHFClient:
        return self._pools.async_(self._core_options)

    def _core_options(self) -> dict[str, Any]:
        options = core_options(self)
        options["cache"] = self.cache  # ours is the core's response cache, not LangChain's
        return options

    def close(self) -> None:
        """Close the connection pool this object opened (a pool you passed in stays open)."""
        self._pools.close()

    async def aclose(self) -> None:
        """Close the async connection pool of the running event loop."""
        await self._pools.aclose()

    # -- LangChain's four methods ------------------------------------------------------------

    def _options(self, query: bool) -> dict[str, Any]:
        options: dict[str, Any] = {
            **self.model_kwargs,
            **(self.query_kwargs if query else {}),
            "dimensions": self.dimensions,
            "normalize": self.normalize,
            "truncate": self.truncate,
            "batch_size": self.embed_batch_size,
            "max_concurrency": self.max_concurrency,
        }
        return options

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents: one vector per text, in order (batched, concurrent requests)."""
        if not texts:
            return []
        try:
            result = self._sync_client().embed(self.model, texts, **self._options(False))
        except hfproviders.HFProvidersError as exc:
            raise to_langchain_error(exc) from exc
        return result.embeddings

    def embed_query(self, text: str) -> list[float]:
        """Embed one query (with `query_kwargs`, e.g. a query prompt)."""
        try:
            result = self._sync_client().embed(self.model, text, **self._options(True))
        except hfproviders.HFProvidersError as exc:
            raise to_langchain_error(exc) from exc
        return result.embeddings[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents on the event loop (native async, no executor thread)."""
        if not texts:
            return []
        try:
            client = self._async_client()
            result = await client.embed(self.model, texts, **self._options(False))
        except hfproviders.HFProvidersError as exc:
            raise to_langchain_error(exc) from exc
        return result.embeddings

    async def aembed_query(self, text: str) -> list[float]:
        """Embed one query on the event loop (native async)."""
        try:
            client = self._async_client()
            result = await client.embed(self.model, text, **self._options(True))
        except hfproviders.HFProvidersError as exc:
            raise to_langchain_error(exc) from exc
        return result.embeddings[0]
