"""`HFProvidersEmbedding`: a LlamaIndex `BaseEmbedding` on the `hfproviders` core.

LlamaIndex's `BaseEmbedding` batches texts by `embed_batch_size` and emits the instrumentation
events (`EmbeddingStartEvent` / `EmbeddingEndEvent`) and callbacks; this class only hands each
batch to the core's `embed` (routes, Hub mapping, retries, failover, typed errors, cache, rate
limiting, token safety), natively sync and async.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import (
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
)

from llamaindex_hfproviders._clients import (
    TokenlessPickle,
    cache_or_none,
    new_pair,
    rate_limiter_or_none,
    share_by_reference,
)
from llamaindex_hfproviders.base import HFProviders

if TYPE_CHECKING:
    from hfproviders import AsyncHFClient, ClientPair, HFClient

__all__ = ["HFProvidersEmbedding"]


class HFProvidersEmbedding(TokenlessPickle, BaseEmbedding):
    """Embeddings from Hugging Face Inference Providers, an Inference Endpoint or TEI.

    `provider=None` (or `"auto"`) uses the live providers the Hub maps to the model for
    feature extraction, in order, failing over between them; name one or give a list to choose.
    With `base_url` set to a TEI server or an Inference Endpoint, its `/embed` (a root URL) or
    `/v1/embeddings` (a `/v1` URL) is called. The token comes from `api_key`, else `HF_TOKEN`,
    else the Hugging Face token file; it never appears in `to_dict()`, `to_json()` or `repr()`.

    Example:
        ```python
        from llama_index.core import Settings
        from llamaindex_hfproviders import HFProvidersEmbedding

        Settings.embed_model = HFProvidersEmbedding(model_name="BAAI/bge-small-en-v1.5")
        ```

    """

    provider: str | list[str] | None = Field(
        default=None, description="Provider, 'auto', or an ordered failover list."
    )
    api_key: SecretStr | None = Field(default=None, exclude=True, repr=False)
    base_url: str | None = Field(
        default=None, description="The router (default), a TEI server or an Inference Endpoint."
    )
    router: bool = Field(
        default=False, description="Treat a custom base_url (a gateway) as the HF router."
    )
    bill_to: str | None = Field(default=None, description="Organisation billed (X-HF-Bill-To).")
    timeout: float = Field(default=120.0, gt=0, description="Seconds per HTTP attempt.")
    max_retries: int = Field(default=2, ge=0, description="Retries after the first attempt.")
    default_headers: dict[str, str] | None = Field(default=None, exclude=True, repr=False)
    dimensions: int | None = Field(
        default=None, gt=0, description="Output dimensions (Matryoshka models and providers)."
    )
    normalize: bool | None = Field(default=None, description="L2-normalise the vectors.")
    truncate: bool | None = Field(
        default=None, description="Let TEI / hf-inference truncate inputs over the model's length."
    )
    max_concurrency: int = Field(default=4, gt=0, description="Requests in flight per call.")
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Other body fields (e.g. prompt_name) for every call."
    )
    query_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Body fields for queries only, e.g. a query prompt_name."
    )
    discovery_ttl: float = Field(
        default=600.0, gt=0, description="Seconds the Hub's provider mapping is kept."
    )
    cache: Any | None = Field(
        default=None, exclude=True, description="hfproviders response cache, per request."
    )
    telemetry: Any | None = Field(
        default=None,
        exclude=True,
        description="OpenTelemetry GenAI spans and metrics, the core's `telemetry=`: None (on once "
        "a global tracer or meter provider is configured), False (never), True or GenAITelemetry.",
    )
    state: Any | None = Field(
        default=None,
        exclude=True,
        description="Where the limiter and cache live: None (this process) or shared, "
        "'redis://host:6379/0' or a hfproviders.RedisState (the core's `state=`).",
    )
    request_rate_limiter: Any | None = Field(
        default=None,
        exclude=True,
        description="hfproviders.RateLimiter, per HTTP request (LlamaIndex's `rate_limiter` "
        "counts calls and is applied by LlamaIndex itself).",
    )

    _pools: ClientPair = PrivateAttr(default_factory=new_pair)
    _http_client: Any = PrivateAttr(default=None)
    _http_async_client: Any = PrivateAttr(default=None)

    model_config = ConfigDict(defer_build=True)

    _check_cache = field_validator("cache")(cache_or_none)
    _check_request_rate_limiter = field_validator("request_rate_limiter")(rate_limiter_or_none)

    def __init__(
        self,
        model_name: str,
        *,
        http_client: Any = None,
        http_async_client: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(model_name=model_name, **kwargs)
        self._http_client = http_client
        self._http_async_client = http_async_client

    @classmethod
    def class_name(cls) -> str:
        """Name used in LlamaIndex serialisation."""
        return "HFProvidersEmbedding"

    # -- core clients: created on first use, reused, closed only by close()/aclose() ----------

    def _client_options(self) -> dict[str, Any]:
        # The LLM's mapping of fields to core options serves this class too (same field names).
        return HFProviders._client_options(self)  # type: ignore[arg-type]

    def _sync_client(self) -> HFClient:
        return self._pools.sync(self._client_options)

    def _async_client(self) -> AsyncHFClient:
        return self._pools.async_(self._client_options)

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        """A deep copy with core clients of its own; cache, limiter, state and telemetry shared."""
        return super().__deepcopy__(share_by_reference(self, memo))

    def model_copy(self, *, update: Any = None, deep: bool = False) -> Self:
        """A copy with core clients of its own, made on first use."""
        copied = super().model_copy(update=update, deep=deep)
        copied._pools = new_pair()
        return copied

    def close(self) -> None:
        """Release the sync connection pool."""
        self._pools.close()

    async def aclose(self) -> None:
        """Release the async connection pools."""
        await self._pools.aclose()

    # -- the six methods BaseEmbedding asks for -------------------------------------------

    def _options(self, query: bool) -> dict[str, Any]:
        return {
            **self.additional_kwargs,
            **(self.query_kwargs if query else {}),
            "dimensions": self.dimensions,
            "normalize": self.normalize,
            "truncate": self.truncate,
            "batch_size": self.embed_batch_size,
            "max_concurrency": self.max_concurrency,
        }

    def _get_query_embedding(self, query: str) -> Embedding:
        return (
            self._sync_client().embed(self.model_name, query, **self._options(True)).embeddings[0]
        )

    async def _aget_query_embedding(self, query: str) -> Embedding:
        result = await self._async_client().embed(self.model_name, query, **self._options(True))
        return result.embeddings[0]

    def _get_text_embedding(self, text: str) -> Embedding:
        return (
            self._sync_client().embed(self.model_name, text, **self._options(False)).embeddings[0]
        )

    async def _aget_text_embedding(self, text: str) -> Embedding:
        result = await self._async_client().embed(self.model_name, text, **self._options(False))
        return result.embeddings[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        if not texts:
            return []
        return self._sync_client().embed(self.model_name, texts, **self._options(False)).embeddings

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        if not texts:
            return []
        result = await self._async_client().embed(self.model_name, texts, **self._options(False))
        return result.embeddings
