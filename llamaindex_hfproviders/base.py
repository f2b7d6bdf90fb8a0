"""`HFProviders`: a LlamaIndex function-calling LLM on Hugging Face Inference Providers.

The class only maps settings onto the `hfproviders` core, calls it, and converts results with
the pure functions in `_convert`. Transport, retries, streaming, provider quirks and errors are
the core's job; every chat and completion method is native in both sync and async.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Self

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.bridge.pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
)
from llama_index.core.constants import DEFAULT_NUM_OUTPUTS
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.llm import ToolSelection

# The core loads on first construction, not at import (see `_clients`).
from llamaindex_hfproviders import _convert, _streams
from llamaindex_hfproviders._callbacks import streamed_chat, streamed_completion
from llamaindex_hfproviders._clients import (
    TokenlessPickle,
    cache_or_none,
    core_error,
    default_breaker,
    new_pair,
    option_names,
    rate_limiter_or_none,
    share_by_reference,
)
from llamaindex_hfproviders._structured import JsonSchemaStructuredLLM

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

    from hfproviders import AsyncHFClient, ClientPair, HFClient, ModelInfo, ServingCapabilities


__all__ = ["DEFAULT_CONTEXT_WINDOW", "HFProviders"]

#: `metadata.context_window` when neither the user nor a loaded catalogue gives one. LlamaIndex's
#: own default (3,900) is far below what router models serve; 32,768 fits common instruct models.
DEFAULT_CONTEXT_WINDOW = 32_768

# LlamaIndex's own `rate_limiter` counts calls and is never passed down; `api_key` is a secret.
_NOT_CORE = frozenset({"api_key", "rate_limiter"})


class HFProviders(TokenlessPickle, JsonSchemaStructuredLLM):
    """Chat, completion, tools and structured output through Hugging Face Inference Providers.

    Example:
        ```python
        from llamaindex_hfproviders import HFProviders

        llm = HFProviders(model="meta-llama/Llama-3.1-8B-Instruct", provider="together")
        print(llm.complete("The capital of France is").text)
        ```

    The token comes from `api_key`, else `HF_TOKEN`, else the Hugging Face token file (looked up by
    the core at the first request). It never appears in `to_dict()`, `to_json()` or `repr()`.

    """

    model: str = Field(description="Hub model id, with an optional `:provider` suffix.")
    provider: str | list[str] | None = Field(
        default=None,
        description="Provider, policy (fastest, cheapest, preferred) or an ordered fallback list.",
    )
    api_key: SecretStr | None = Field(default=None, exclude=True, repr=False)
    base_url: str | None = Field(
        default=None, description="Router URL (default) or any OpenAI-compatible / TGI server."
    )
    router: bool = Field(
        default=False,
        description="Treat a custom base_url (a gateway, the fake router) as the HF router.",
    )
    bill_to: str | None = Field(default=None, description="Organisation billed (X-HF-Bill-To).")
    timeout: float = Field(default=120.0, gt=0, description="Seconds per HTTP attempt.")
    max_retries: int = Field(default=2, ge=0, description="Retries after the first attempt.")
    default_headers: dict[str, str] | None = Field(default=None, exclude=True, repr=False)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(
        default=None, gt=0, description="Output cap sent to the server; unset means no cap."
    )
    context_window: int | None = Field(
        default=None,
        gt=0,
        description="Context size; unset: the router's catalogue once loaded, else "
        f"{DEFAULT_CONTEXT_WINDOW} tokens.",
    )
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra chat parameters sent with every chat request."
    )
    is_function_calling_model: bool = Field(default=True)
    completion_api: Literal["chat", "text_generation"] = Field(
        default="chat",
        description="API behind complete(): chat completions, or TGI text generation "
        "(dedicated Inference Endpoints, self-hosted TGI).",
    )
    routing: Literal["off", "cached", "auto"] = Field(
        default="cached",
        description="Capability-aware routing from the router's catalogue; 'auto' loads it "
        "when a call needs tools or structured output.",
    )
    discovery_ttl: float = Field(
        default=600.0, gt=0, description="Seconds the router's catalogue is kept once loaded."
    )
    cache: Any | None = Field(
        default=None,
        exclude=True,
        description="hfproviders response cache (InMemoryCache, SQLiteCache) for chat and streams.",
    )
    request_rate_limiter: Any | None = Field(
        default=None,
        exclude=True,
        description="hfproviders.RateLimiter, per HTTP attempt and adaptive to rate-limit headers "
        "(LlamaIndex's `rate_limiter` counts calls and is never passed down).",
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
    breaker: Any | None = Field(default_factory=default_breaker, exclude=True)
    health: Any | None = Field(default=None, exclude=True)
    constraints: Any | None = Field(default=None, exclude=True)
    hedge_after: float | str | None = None
    budget: Any | None = Field(
        default=None,
        exclude=True,
        description="Provider health and spend, the core's options: breaker (None: off), health "
        "(a shared HealthTracker), constraints, hedge_after, budget (a SpendLimit).",
    )

    # Both clients, made on first use; they share one catalogue (one load serves both sides).
    _pools: ClientPair = PrivateAttr(default_factory=new_pair)
    _http_client: Any = PrivateAttr(default=None)
    _http_async_client: Any = PrivateAttr(default=None)

    # The validation schema is built on first construction, not at import (`defer_build`,
    # inherited from JsonSchemaStructuredLLM).
    _check_cache = field_validator("cache")(cache_or_none)
    _check_request_rate_limiter = field_validator("request_rate_limiter")(rate_limiter_or_none)

    def __init__(
        self,
        model: str,
        *,
        http_client: Any = None,
        http_async_client: Any = None,
        **kwargs: Any,
    ) -> None:
        kwargs["model"] = model
        super().__init__(**kwargs)
        # Bring-your-own pooled httpx clients go straight to the core, which never closes them.
        self._http_client = http_client
        self._http_async_client = http_async_client

    @classmethod
    def class_name(cls) -> str:
        """Name used in LlamaIndex serialisation."""
        return "HFProviders_llm"

    @property
    def metadata(self) -> LLMMetadata:
        """Chat and function-calling model; `num_output` reserves room for the answer.

        `context_window` and `is_function_calling_model`, when you did not set them, come from
        the router's catalogue once loaded (`load_model_info()`, or `routing="auto"`), never
        from a request made here.
        """
        found = self._serving()
        function_calling = self.is_function_calling_model
        if "is_function_calling_model" not in self.model_fields_set and found is not None:
            function_calling = found.supports_tools is not False  # unknown is not "no"
        return LLMMetadata(
            context_window=self.context_window
            or (found.context_length if found is not None else None)
            or DEFAULT_CONTEXT_WINDOW,
            num_output=self.max_tokens or DEFAULT_NUM_OUTPUTS,
            is_chat_model=True,
            is_function_calling_model=function_calling,
            model_name=self.model,
        )

    def _serving(self) -> ServingCapabilities | None:
        """What the loaded catalogue says this model's providers can do (no I/O), or None."""
        # Both clients share one catalogue, so either one answers for the LLM.
        client = self._pools.any
        if client is None:
            return None
        try:
            return client.serving_capabilities(self.model)
        except core_error():  # a bad `:provider` suffix: the call itself reports it
            return None

    def load_model_info(self) -> ModelInfo | None:
        """Load the router's catalogue (one `GET /v1/models`, kept `discovery_ttl` seconds).

        Returns this model's entry (None if the router does not list it). From then on
        `metadata` uses it, and `routing="cached"` routes the sync calls by it.
        """
        return self._sync_client().model_info(self.model)

    async def aload_model_info(self) -> ModelInfo | None:
        """Async twin of `load_model_info` (the async calls then route by it)."""
        return await self._async_client().model_info(self.model)

    # -- core clients: the core's ClientPair, made on first use, closed by close()/aclose()

    def _client_options(self) -> dict[str, Any]:
        fields = type(self).model_fields
        names = option_names() - _NOT_CORE
        options = {name: getattr(self, name) for name in names if name in fields}
        options["api_key"] = self.api_key.get_secret_value() if self.api_key else None
        options["rate_limiter"] = self.request_rate_limiter  # never LlamaIndex's `rate_limiter`
        options["http_client"] = self._http_client
        options["http_async_client"] = self._http_async_client
        return options

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with core clients of its own, made on first use (its settings may differ)."""
        copied = super().model_copy(update=update, deep=deep)
        copied._pools = new_pair()
        return copied

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        """A deep copy with core clients of its own, made on first use.

        The response cache, both rate limiters and your own httpx clients are shared by
        reference: sharing them is their point, and they hold locks and connections.
        """
        memo = share_by_reference(self, memo)
        return super().__deepcopy__(memo)

    def _sync_client(self) -> HFClient:
        return self._pools.sync(self._client_options)

    def _async_client(self) -> AsyncHFClient:
        return self._pools.async_(self._client_options)

    def close(self) -> None:
        """Release the sync connection pool (call once, when you are done with the LLM)."""
        self._pools.close()

    async def aclose(self) -> None:
        """Release the async connection pools."""
        await self._pools.aclose()

    def _params(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        defaults = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        return _convert.chat_params(defaults, self.additional_kwargs, kwargs)

    def _tg_params(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        defaults = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        return _convert.text_generation_params(defaults, kwargs)

    def _tg_prompt(self, prompt: str, formatted: bool) -> str:
        to_prompt = self.completion_to_prompt
        return prompt if formatted or to_prompt is None else to_prompt(prompt)

    # -- chat

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Chat completion."""
        openai_messages = _convert.to_openai_messages(messages)
        completion = self._sync_client().chat(self.model, openai_messages, **self._params(kwargs))
        return _convert.chat_response(completion)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Chat completion (async)."""
        openai_messages = _convert.to_openai_messages(messages)
        client = self._async_client()
        completion = await client.chat(self.model, openai_messages, **self._params(kwargs))
        return _convert.chat_response(completion)

    @streamed_chat
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """Streamed chat: cumulative messages, `delta` holds the new text."""
        openai_messages = _convert.to_openai_messages(messages)
        stream = self._sync_client().stream(self.model, openai_messages, **self._params(kwargs))
        return _streams.chat_responses(stream)

    @streamed_chat
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        """Streamed chat (async)."""
        openai_messages = _convert.to_openai_messages(messages)
        stream = self._async_client().stream(self.model, openai_messages, **self._params(kwargs))
        return _streams.achat_responses(stream)

    # -- completion: the chat API with one user message, or TGI text generation

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Completion of a prompt."""
        client = self._sync_client()
        if self.completion_api == "text_generation":
            tg_prompt = self._tg_prompt(prompt, formatted)
            result = client.text_generation(self.model, tg_prompt, **self._tg_params(kwargs))
            return _convert.text_generation_response(result)
        messages = _convert.prompt_messages(prompt)
        completion = client.chat(self.model, messages, **self._params(kwargs))
        return _convert.completion_response(completion)

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        """Completion of a prompt (async)."""
        client = self._async_client()
        if self.completion_api == "text_generation":
            tg_prompt = self._tg_prompt(prompt, formatted)
            result = await client.text_generation(self.model, tg_prompt, **self._tg_params(kwargs))
            return _convert.text_generation_response(result)
        messages = _convert.prompt_messages(prompt)
        completion = await client.chat(self.model, messages, **self._params(kwargs))
        return _convert.completion_response(completion)

    @streamed_completion
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        """Streamed completion: cumulative `text`, incremental `delta`."""
        client = self._sync_client()
        if self.completion_api == "text_generation":
            tg_prompt = self._tg_prompt(prompt, formatted)
            tg_stream = client.text_generation_stream(
                self.model, tg_prompt, **self._tg_params(kwargs)
            )
            return _streams.text_generation_responses(tg_stream)
        stream = client.stream(self.model, _convert.prompt_messages(prompt), **self._params(kwargs))
        return _streams.completion_responses(stream)

    @streamed_completion
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        """Streamed completion (async)."""
        client = self._async_client()
        if self.completion_api == "text_generation":
            tg_prompt = self._tg_prompt(prompt, formatted)
            tg_stream = client.text_generation_stream(
                self.model, tg_prompt, **self._tg_params(kwargs)
            )
            return _streams.atext_generation_responses(tg_stream)
        stream = client.stream(self.model, _convert.prompt_messages(prompt), **self._params(kwargs))
        return _streams.acompletion_responses(stream)

    # -- tools

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Chat kwargs for a tool-calling turn; `tool_choice` is only sent with tools."""
        messages = list(chat_history or [])  # never mutate the caller's history
        if isinstance(user_msg, str):
            user_msg = ChatMessage(role=MessageRole.USER, content=user_msg)
        if user_msg is not None:
            messages.append(user_msg)
        prepared: dict[str, Any] = {"messages": messages, **kwargs}
        specs = _convert.tool_specs(tools)
        if specs:
            prepared["tools"] = specs
            prepared["tool_choice"] = _convert.tool_choice_param(tool_choice, tool_required)
            if not allow_parallel_tool_calls:
                prepared["parallel_tool_calls"] = False
        return prepared

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        """Keep a single tool call unless parallel calls were allowed."""
        if allow_parallel_tool_calls:
            return response
        return _convert.keep_first_tool_call(response)

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        """Tool calls of a (possibly partial, streamed) response."""
        return _convert.tool_selections(response, error_on_no_tool_call)
