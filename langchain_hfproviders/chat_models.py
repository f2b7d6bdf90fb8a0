"""`ChatHFProviders`: a LangChain chat model on Hugging Face Inference Providers.

The class builds a request from LangChain messages (`_convert`), hands it to the core's
`HFClient` / `AsyncHFClient`, and converts the normalised result back. Transport, retries,
provider routing, SSE parsing and provider quirks all live in the core.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Self

from langchain_core.language_models import BaseChatModel, LanguageModelInput, ModelProfile
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.messages.block_translators import register_translator
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils import secret_from_env
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, field_validator

# The core loads on first construction, not at import: `core_error()` is evaluated only when an
# exception reaches the `except` clause, and `langchain_error` imports the error mapping then.
from langchain_hfproviders._clients import (
    TokenlessPickle,
    core_error,
    core_options,
    deepcopy_memo,
    default_breaker,
    langchain_error,
    new_pair,
    rate_limiter_or_none,
)
from langchain_hfproviders._convert import (
    MODEL_PROVIDER,
    StructuredOutputMethod,
    chat_result,
    closing_chunk,
    estimate_prompt_tokens,
    estimate_tokens,
    generation_chunk,
    messages_to_openai,
    tool_choice_to_openai,
    tools_to_openai,
    translate_content,
    translate_content_chunk,
)
from langchain_hfproviders._request import chat_request, identifying_params, ls_params

if TYPE_CHECKING:
    from langchain_core.callbacks import (
        AsyncCallbackManagerForLLMRun,
        CallbackManagerForLLMRun,
    )
    from langchain_core.tools import BaseTool

    from hfproviders import AsyncHFClient, ClientPair, HFClient

__all__ = ["ChatHFProviders"]

register_translator(MODEL_PROVIDER, translate_content, translate_content_chunk)


class ChatHFProviders(TokenlessPickle, BaseChatModel):
    """Chat model for Hugging Face Inference Providers (and any OpenAI-compatible server).

    Example:
        ```python
        from langchain_hfproviders import ChatHFProviders

        model = ChatHFProviders(model="meta-llama/Llama-3.3-70B-Instruct", provider="together")
        model.invoke("Hello!").content
        ```

    The token comes from `api_key`, else `HF_TOKEN`, else `hf auth login`. Only an explicit
    `api_key` is ever sent to a non-Hugging Face `base_url`.

    """

    model: str = Field(alias="model_name")
    """Hugging Face model id, optionally with a `:provider` or `:fastest`/`:cheapest` suffix."""
    api_key: SecretStr | None = Field(default_factory=secret_from_env("HF_TOKEN", default=None))
    """Hugging Face token (default: `HF_TOKEN`, then huggingface_hub's stored token)."""
    base_url: str | None = None
    """Default `https://router.huggingface.co/v1`; any OpenAI-compatible server works."""
    router: bool = False
    """Treat a custom `base_url` (a gateway, the fake router) as the HF router: providers work."""
    provider: str | list[str] | None = None
    """A provider (`"together"`), a policy (`"fastest"`), or an ordered failover list."""
    bill_to: str | None = None
    """Organisation (or resource group) billed for the calls (`X-HF-Bill-To`)."""
    timeout: float | None = None
    """Seconds per request (the core's default is 120)."""
    max_retries: int | None = None
    """Retries after the first attempt, with backoff and Retry-After (the core's default is 2)."""
    default_headers: dict[str, str] | None = None
    """Extra HTTP headers sent with every request."""
    http_client: Any | None = Field(default=None, exclude=True)
    """Your own pooled `httpx.Client` (never closed by this model)."""
    http_async_client: Any | None = Field(default=None, exclude=True)
    """Your own pooled `httpx.AsyncClient` (never closed by this model)."""
    routing: Literal["off", "cached", "auto"] = "cached"
    """Capability-aware routing from the router's catalogue; `"auto"` loads it when needed."""
    discovery_ttl: float = Field(default=600.0, gt=0)
    """Seconds the router's catalogue (`/v1/models`) is kept once loaded."""
    request_rate_limiter: Any | None = Field(default=None, exclude=True)
    """`hfproviders.RateLimiter`: one slot per HTTP attempt, adaptive to rate-limit headers.

    Not LangChain's `rate_limiter` (one slot per model call), which is never passed down.
    """
    telemetry: Any | None = Field(default=None, exclude=True)
    """OpenTelemetry GenAI spans and metrics, the core's `telemetry=`: None (on once a global
    tracer or meter provider is configured), False (never), True or a `GenAITelemetry`."""
    state: Any | None = Field(default=None, exclude=True)
    """Where the limiter and cache live: None (this process) or shared, `"redis://host:6379/0"`
    or a `hfproviders.RedisState` (see the core's `state=`)."""
    breaker: Any | None = Field(default_factory=default_breaker, exclude=True)
    health: Any | None = Field(default=None, exclude=True)
    constraints: Any | None = Field(default=None, exclude=True)
    hedge_after: float | str | None = None
    budget: Any | None = Field(default=None, exclude=True)
    """Provider health and spend, the core's options: `breaker` (None: off), `health` (a shared
    `HealthTracker`), `constraints` (for `provider="lowest-latency"`), `hedge_after`, `budget`
    (a `SpendLimit`, shared when the same object is given to several models)."""

    temperature: float | None = None
    """Sampling temperature (0 is sent, not dropped)."""
    max_tokens: int | None = Field(default=None, alias="max_completion_tokens")
    """Maximum tokens to generate; unset means the provider's own limit (never a silent cap)."""
    top_p: float | None = None
    """Nucleus sampling probability mass."""
    seed: int | None = None
    """Seed for reproducible sampling, where the provider supports it."""
    frequency_penalty: float | None = None
    """Penalty for tokens by how often they appeared."""
    presence_penalty: float | None = None
    """Penalty for tokens that appeared at all."""
    logprobs: bool | None = None
    """Return log probabilities (in `response_metadata["logprobs"]`)."""
    top_logprobs: int | None = None
    """How many alternatives per token when `logprobs` is on."""
    n: int | None = None
    """Number of choices per prompt (invoke only; a stream carries the first choice)."""
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high"] | None = None
    """Reasoning effort for models that support it."""
    stop: list[str] | str | None = None
    """Default stop sequences (up to 4)."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Other request parameters the core knows (e.g. `logit_bias`), sent with every call."""
    extra_body: dict[str, Any] | None = None
    """Provider-specific JSON body fields, merged into every request as they are."""
    streaming: bool = False
    """Stream even on `invoke` (callbacks then get each token)."""
    stream_usage: bool = True
    """Ask for token usage on streams (`stream_options.include_usage`)."""

    # The validation schema is built on first construction, not at import: the import is then
    # LangChain's own cost and little more (the core, too, loads on first construction).
    model_config = ConfigDict(
        populate_by_name=True, protected_namespaces=(), extra="forbid", defer_build=True
    )

    _pools: ClientPair = PrivateAttr(default_factory=new_pair)
    _profile_discovered: bool = PrivateAttr(default=False)

    @field_validator("request_rate_limiter")
    @classmethod
    def _check_request_rate_limiter(cls, value: Any) -> Any:
        return rate_limiter_or_none(value)

    # -- LangChain identity ----------------------------------------------------------------

    @property
    def _llm_type(self) -> str:
        return "hfproviders-chat"

    @classmethod
    def is_lc_serializable(cls) -> bool:
        """Serializable with `dumpd`/`dumps`; the token is written as a secret reference."""
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        """Where `load` finds this class."""
        return ["langchain_hfproviders", "chat_models"]

    @property
    def lc_secrets(self) -> dict[str, str]:
        """`api_key` is serialized as a reference to `HF_TOKEN`, never as its value."""
        return {"api_key": "HF_TOKEN"}

    @property
    def _identifying_params(self) -> dict[str, Any]:
        """Everything that changes the answer: LangChain's cache keys and traces use it."""
        return identifying_params(self)

    def _get_llm_string(self, stop: list[str] | None = None, **kwargs: Any) -> str:
        """LangChain's cache key, from the model's fields as they are now.

        langchain-core keys on `self._serialized`, a cached_property: `model_copy(update=...)`
        copies it and assigning a field leaves it stale, so a changed model would be served
        another model's cached answers. Dropping it first costs one `dumpd` per cached call.
        """
        self.__dict__.pop("_serialized", None)
        return super()._get_llm_string(stop, **kwargs)

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        return ls_params(self, stop, kwargs)

    # -- clients (lazy, cached, never closed behind the user's back) -------------------------

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with clients of its own, made on first use (its settings may differ)."""
        copied = super().model_copy(update=update, deep=deep)
        copied._pools = new_pair()
        if update and copied._profile_discovered:  # found for the old settings
            copied.profile, copied._profile_discovered = None, False
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

    # -- discovery: `profile` from the router's catalogue ----------------------------------

    def load_model_profile(self) -> ModelProfile | None:
        """Load the router's catalogue (one `GET /v1/models`, then cached) and fill `profile`.

        A profile you set yourself is kept. Returns the profile in force.
        """
        client = self._sync_client()
        try:
            client.list_models()
        except core_error() as exc:
            raise langchain_error(exc) from exc
        return self._refresh_profile(client, loaded=True)

    async def aload_model_profile(self) -> ModelProfile | None:
        """Async twin of `load_model_profile`."""
        client = self._async_client()
        try:
            await client.list_models()
        except core_error() as exc:
            raise langchain_error(exc) from exc
        return self._refresh_profile(client, loaded=True)

    def _refresh_profile(
        self, client: HFClient | AsyncHFClient, *, loaded: bool = False
    ) -> ModelProfile | None:
        """Fill `profile` from the catalogue `client` holds (no I/O), unless the user set one.

        After a call it only fills a missing profile; a fresh `loaded` catalogue also replaces
        one found earlier.
        """
        if self.profile is None or (loaded and self._profile_discovered):
            from langchain_hfproviders._profile import catalogue_profile

            profile = catalogue_profile(client, self.model)
            if profile is not None:
                self.profile = profile
                self._profile_discovered = True
        return self.profile

    # -- requests --------------------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        model, oai_messages, params = chat_request(self, messages, stop, kwargs)
        client = self._sync_client()
        try:
            completion = client.chat(model, oai_messages, **params)
        except core_error() as exc:
            raise langchain_error(exc) from exc
        self._refresh_profile(client)  # `routing="auto"` may have loaded the catalogue
        return chat_result(completion, model_name=model)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        model, oai_messages, params = chat_request(self, messages, stop, kwargs)
        client = self._async_client()
        try:
            completion = await client.chat(model, oai_messages, **params)
        except core_error() as exc:
            raise langchain_error(exc) from exc
        self._refresh_profile(client)
        return chat_result(completion, model_name=model)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        model, oai_messages, params = chat_request(self, messages, stop, kwargs)
        params.setdefault("stream_usage", self.stream_usage)
        client = self._sync_client()
        try:
            stream = client.stream(model, oai_messages, **params)
            with stream:
                for chunk in stream:
                    if (generation := generation_chunk(chunk)) is not None:
                        yield generation
        except core_error() as exc:
            raise langchain_error(exc) from exc
        self._refresh_profile(client)
        yield closing_chunk(stream, model)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        model, oai_messages, params = chat_request(self, messages, stop, kwargs)
        params.setdefault("stream_usage", self.stream_usage)
        client = self._async_client()
        try:
            stream = client.stream(model, oai_messages, **params)
            async with stream:
                async for chunk in stream:
                    if (generation := generation_chunk(chunk)) is not None:
                        yield generation
        except core_error() as exc:
            raise langchain_error(exc) from exc
        self._refresh_profile(client)
        yield closing_chunk(stream, model)

    # -- tools and structured output -------------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | bool | dict[str, Any] | None = None,
        strict: bool | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (any number) for the model to call.

        Args:
            tools: BaseTools, functions, Pydantic models, TypedDicts or OpenAI tool dicts.
            tool_choice: `"auto"`, `"none"`, `"any"`/`"required"` (call some tool), a tool
                name (call that tool), `True` (the only tool, or some tool), or an OpenAI dict.
            strict: Ask the provider to follow the schemas exactly (not every provider can).
            parallel_tool_calls: Allow or forbid several calls in one turn (unset: the
                provider's default, which we never override).
            **kwargs: Other parameters bound to every call.

        """
        formatted = tools_to_openai(tools, strict=strict)
        names = [tool["function"]["name"] for tool in formatted]
        choice = tool_choice_to_openai(tool_choice, names)
        if choice is not None:
            kwargs["tool_choice"] = choice
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        return super().bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: StructuredOutputMethod = "function_calling",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """Return a runnable that answers with `schema`: a Pydantic instance or a dict.

        Args:
            schema: A Pydantic class (instances come back), a TypedDict or a JSON schema.
            method: `"function_calling"` (default: forced tool call, which the widest range of
                providers supports), `"json_schema"` (`response_format` json_schema, for
                providers listing `supports_structured_output`), or `"json_mode"` (JSON object
                output; describe the keys in the prompt).
            include_raw: Return `{"raw", "parsed", "parsing_error"}` instead of raising.
            strict: Sent only when set; many providers reject `strict: true`.
            **kwargs: Other parameters bound to every call.

        """
        from langchain_hfproviders._structured import structured_output  # output parsers: on use

        return structured_output(
            self, schema, method=method, include_raw=include_raw, strict=strict, kwargs=kwargs
        )

    # -- token counting (no transformers, no download) -------------------------------------

    def get_num_tokens(self, text: str) -> int:
        """Estimate tokens in `text` (see `estimate_tokens`; `custom_get_token_ids` wins)."""
        if self.custom_get_token_ids is not None:
            return len(self.custom_get_token_ids(text))
        return estimate_tokens(text)

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        """Estimate the prompt tokens of `messages` (and tool schemas) without a tokenizer.

        Counts each message's text, tool calls and role, the ~4 tokens chat templates add per
        message, and images at a flat rate: an estimate for budgeting, not the provider's count.
        """
        formatted = tools_to_openai(tools) if tools else None
        return estimate_prompt_tokens(messages_to_openai(messages), formatted, self.get_num_tokens)
