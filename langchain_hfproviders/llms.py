"""`HFProvidersLLM`: a LangChain text-completion model on the text-generation (TGI) API.

For dedicated Inference Endpoints, self-hosted TGI and hf-inference: the prompt goes out as
TGI's `{"inputs", "parameters"}` and tokens stream back from TGI's token stream. Chat models on
Inference Providers should use `ChatHFProviders` instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Self

from langchain_core.language_models import BaseLLM
from langchain_core.language_models.base import LangSmithParams
from langchain_core.outputs import Generation, GenerationChunk, LLMResult
from langchain_core.utils import secret_from_env
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr

from hfproviders import (
    AsyncHFClient,
    CircuitBreaker,
    ClientPair,
    HFClient,
    HFProvidersError,
    RateLimiter,
    TextGeneration,
)
from langchain_hfproviders._clients import TokenlessPickle, core_options, deepcopy_memo, new_pair
from langchain_hfproviders._convert import MODEL_PROVIDER, estimate_tokens
from langchain_hfproviders._errors import to_langchain_error

if TYPE_CHECKING:
    from langchain_core.callbacks import (
        AsyncCallbackManagerForLLMRun,
        CallbackManagerForLLMRun,
    )

__all__ = ["HFProvidersLLM"]

_GENERATION_FIELDS = (
    "max_new_tokens",
    "temperature",
    "top_p",
    "top_k",
    "do_sample",
    "repetition_penalty",
    "return_full_text",
    "seed",
    "truncate",
    "typical_p",
    "watermark",
)


def _generation_info(result: TextGeneration) -> dict[str, Any]:
    info: dict[str, Any] = {
        "finish_reason": result.finish_reason,
        "details": result.details,
        "inference_provider": result.meta.provider,
        "request_id": result.meta.request_id,
    }
    return {key: value for key, value in info.items() if value is not None}


class HFProvidersLLM(TokenlessPickle, BaseLLM):
    """Text completion on a TGI server: an Inference Endpoint, self-hosted TGI, or hf-inference.

    Example:
        ```python
        from langchain_hfproviders import HFProvidersLLM

        llm = HFProvidersLLM(
            model="tgi",
            base_url="https://my-endpoint.endpoints.huggingface.cloud",
            max_new_tokens=200,
        )
        llm.invoke("Once upon a time")
        ```

    """

    model: str = Field(alias="model_name")
    """Model id (hf-inference) or any name (a dedicated endpoint serves one model)."""
    api_key: SecretStr | None = Field(default_factory=secret_from_env("HF_TOKEN", default=None))
    """Hugging Face token (default: `HF_TOKEN`, then huggingface_hub's stored token)."""
    base_url: str | None = None
    """Endpoint URL; unset means hf-inference on the router."""
    router: bool = False
    """Treat a custom `base_url` (a gateway, the fake router) as the Hugging Face router."""
    bill_to: str | None = None
    """Organisation billed for the calls (`X-HF-Bill-To`)."""
    timeout: float | None = None
    """Seconds per request (the core's default is 120)."""
    max_retries: int | None = None
    """Retries after the first attempt (the core's default is 2)."""
    default_headers: dict[str, str] | None = None
    """Extra HTTP headers sent with every request."""
    http_client: Any | None = Field(default=None, exclude=True)
    """Your own pooled `httpx.Client` (never closed by this model)."""
    http_async_client: Any | None = Field(default=None, exclude=True)
    """Your own pooled `httpx.AsyncClient` (never closed by this model)."""
    request_rate_limiter: RateLimiter | None = Field(default=None, exclude=True)
    """`hfproviders.RateLimiter` (per HTTP attempt); not LangChain's per-call `rate_limiter`."""
    telemetry: Any | None = Field(default=None, exclude=True)
    """OpenTelemetry GenAI spans and metrics, the core's `telemetry=`: None (on once a global
    tracer or meter provider is configured), False (never), True or a `GenAITelemetry`."""
    state: Any | None = Field(default=None, exclude=True)
    """Where the limiter and cache live: None (this process) or shared, `"redis://host:6379/0"`
    or a `hfproviders.RedisState` (see the core's `state=`)."""
    breaker: Any | None = Field(default_factory=CircuitBreaker, exclude=True)
    health: Any | None = Field(default=None, exclude=True)
    constraints: Any | None = Field(default=None, exclude=True)
    hedge_after: float | str | None = None
    budget: Any | None = Field(default=None, exclude=True)
    """Provider health and spend, the core's options: `breaker` (None: off), `health` (a shared
    `HealthTracker`), `constraints` (for `provider="lowest-latency"`), `hedge_after`, `budget`
    (a `SpendLimit`, shared when the same object is given to several models)."""

    max_new_tokens: int | None = None
    """Maximum tokens to generate; unset means the server's default (never a hidden cap)."""
    temperature: float | None = None
    """Sampling temperature."""
    top_p: float | None = None
    """Nucleus sampling probability mass."""
    top_k: int | None = None
    """Sample from the k most likely tokens."""
    do_sample: bool | None = None
    """Sample instead of greedy decoding."""
    repetition_penalty: float | None = None
    """Penalty for repeated tokens (1.0 is none)."""
    return_full_text: bool = False
    """Prepend the prompt to the answer (LangChain expects only the continuation)."""
    seed: int | None = None
    """Sampling seed."""
    stop: list[str] | None = None
    """Default stop sequences."""
    truncate: int | None = None
    """Keep only the last `truncate` prompt tokens."""
    typical_p: float | None = None
    """Typical decoding mass."""
    watermark: bool | None = None
    """Watermark the output (TGI)."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Other text-generation parameters (e.g. `grammar`), sent with every call."""
    streaming: bool = False
    """Stream tokens even on `invoke` (callbacks then get each token)."""

    model_config = ConfigDict(populate_by_name=True, protected_namespaces=(), extra="forbid")

    _pools: ClientPair = PrivateAttr(default_factory=new_pair)

    @property
    def _llm_type(self) -> str:
        return "hfproviders-text-generation"

    @classmethod
    def is_lc_serializable(cls) -> bool:
        """Serializable with `dumpd`/`dumps`; the token is written as a secret reference."""
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        """Where `load` finds this class."""
        return ["langchain_hfproviders", "llms"]

    @property
    def lc_secrets(self) -> dict[str, str]:
        """`api_key` is serialized as a reference to `HF_TOKEN`, never as its value."""
        return {"api_key": "HF_TOKEN"}

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "base_url": self.base_url,
            **{name: getattr(self, name) for name in _GENERATION_FIELDS},
            "stop": self.stop,
            "model_kwargs": self.model_kwargs,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider=MODEL_PROVIDER,
            ls_model_name=kwargs.get("model") or self.model,
            ls_model_type="llm",
        )
        if self.temperature is not None:
            params["ls_temperature"] = self.temperature
        if self.max_new_tokens is not None:
            params["ls_max_tokens"] = self.max_new_tokens
        if stop or self.stop:
            params["ls_stop"] = stop or self.stop
        return params

    # -- clients ---------------------------------------------------------------------------

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with clients of its own, made on first use (its settings may differ)."""
        copied = super().model_copy(update=update, deep=deep)
        copied._pools = new_pair()
        return copied

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        """A deep copy with clients of its own; rate limiters and your httpx clients are shared."""
        return super().__deepcopy__(deepcopy_memo(memo, self))

    def _sync_client(self) -> HFClient:
        return self._pools.sync(self._core_options)

    def _async_client(self) -> AsyncHFClient:
        return self._pools.async_(self._core_options)

    def _core_options(self) -> dict[str, Any]:
        return core_options(self)

    def close(self) -> None:
        """Close the connection pool this model opened (a pool you passed in stays open)."""
        self._pools.close()

    async def aclose(self) -> None:
        """Close the async connection pool of the running event loop."""
        await self._pools.aclose()

    # -- requests --------------------------------------------------------------------------

    def _params(self, stop: list[str] | None, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        params = {
            name: value for name in _GENERATION_FIELDS if (value := getattr(self, name)) is not None
        }
        params.update(self.model_kwargs)
        params.update(kwargs)
        stops = stop if stop is not None else params.pop("stop", self.stop)
        params.pop("stop", None)
        if stops:
            params["stop"] = list(stops)
        return params

    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        generations: list[list[Generation]] = []
        for prompt in prompts:
            if self.streaming:
                chunks = list(self._stream(prompt, stop, run_manager, **kwargs))
                generations.append([_merged(chunks)])
                continue
            try:
                result = self._sync_client().text_generation(
                    self.model, prompt, **self._params(stop, kwargs)
                )
            except HFProvidersError as exc:
                raise to_langchain_error(exc) from exc
            generations.append(
                [Generation(text=result.generated_text, generation_info=_generation_info(result))]
            )
        return LLMResult(generations=generations, llm_output={"model_name": self.model})

    async def _agenerate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        generations: list[list[Generation]] = []
        for prompt in prompts:
            if self.streaming:
                chunks = [c async for c in self._astream(prompt, stop, run_manager, **kwargs)]
                generations.append([_merged(chunks)])
                continue
            try:
                result = await self._async_client().text_generation(
                    self.model, prompt, **self._params(stop, kwargs)
                )
            except HFProvidersError as exc:
                raise to_langchain_error(exc) from exc
            generations.append(
                [Generation(text=result.generated_text, generation_info=_generation_info(result))]
            )
        return LLMResult(generations=generations, llm_output={"model_name": self.model})

    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        try:
            stream = self._sync_client().text_generation_stream(
                self.model, prompt, **self._params(stop, kwargs)
            )
            with stream:
                for event in stream:
                    chunk = _token_chunk(event, stream.meta)
                    if chunk is None:
                        continue
                    if run_manager:
                        run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                    yield chunk
        except HFProvidersError as exc:
            raise to_langchain_error(exc) from exc

    async def _astream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[GenerationChunk]:
        try:
            stream = self._async_client().text_generation_stream(
                self.model, prompt, **self._params(stop, kwargs)
            )
            async with stream:
                async for event in stream:
                    chunk = _token_chunk(event, stream.meta)
                    if chunk is None:
                        continue
                    if run_manager:
                        await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                    yield chunk
        except HFProvidersError as exc:
            raise to_langchain_error(exc) from exc

    def get_num_tokens(self, text: str) -> int:
        """Estimate tokens without a tokenizer (`custom_get_token_ids` wins when set)."""
        if self.custom_get_token_ids is not None:
            return len(self.custom_get_token_ids(text))
        return estimate_tokens(text)


def _token_chunk(event: Any, meta: Any) -> GenerationChunk | None:
    """A TGI token event as a chunk (special tokens such as `</s>` are not text).

    The last event, which carries `details`, also carries the finish reason and who served it.
    """
    text = "" if event.token.special else event.token.text
    info: dict[str, Any] | None = None
    if event.details is not None or event.generated_text is not None:
        info = {
            "finish_reason": (event.details or {}).get("finish_reason"),
            "inference_provider": meta.provider,
            "request_id": meta.request_id,
        }
        info = {key: value for key, value in info.items() if value is not None}
    if not text and not info:
        return None
    return GenerationChunk(text=text, generation_info=info)


def _merged(chunks: list[GenerationChunk]) -> Generation:
    """One generation from a streamed run (the last chunk carries the details)."""
    text = "".join(chunk.text for chunk in chunks)
    return Generation(text=text, generation_info=chunks[-1].generation_info if chunks else None)
