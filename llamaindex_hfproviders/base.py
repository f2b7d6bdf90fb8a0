"""`HFProviders`: a LlamaIndex function-calling LLM on Hugging Face Inference Providers.

The class only maps settings onto the `hfproviders` core, calls it, and converts results with
the pure functions in `_convert`. Transport, retries, streaming, provider quirks and errors are
the core's job; every chat and completion method is native in both sync and async.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator, Sequence
from typing import TYPE_CHECKING, Any, Literal

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
from llama_index.core.bridge.pydantic import Field, PrivateAttr, SecretStr
from llama_index.core.constants import DEFAULT_NUM_OUTPUTS
from llama_index.core.instrumentation.events.llm import (
    LLMStructuredPredictEndEvent,
    LLMStructuredPredictStartEvent,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.types import Model, PydanticProgramMode
from llama_index_instrumentation import get_dispatcher

from hfproviders import AsyncHFClient, HFClient
from llamaindex_hfproviders import _convert, _streams

if TYPE_CHECKING:
    from llama_index.core.prompts import PromptTemplate
    from llama_index.core.tools.types import BaseTool


__all__ = ["DEFAULT_CONTEXT_WINDOW", "HFProviders"]

dispatcher = get_dispatcher(__name__)

#: Used for `metadata.context_window` when the user sets none. LlamaIndex's own default (3,900)
#: is far below what router models serve; 32,768 fits the common instruct models. Discovery
#: (`/v1/models` `context_length`) will replace this guess.
DEFAULT_CONTEXT_WINDOW = 32_768


class HFProviders(FunctionCallingLLM):
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
    bill_to: str | None = Field(default=None, description="Organisation billed (X-HF-Bill-To).")
    timeout: float = Field(default=120.0, gt=0, description="Seconds per HTTP attempt.")
    max_retries: int = Field(default=2, ge=0, description="Retries after the first attempt.")
    default_headers: dict[str, str] | None = Field(default=None, exclude=True, repr=False)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(
        default=None, gt=0, description="Output cap sent to the server; unset means no cap."
    )
    context_window: int | None = Field(
        default=None, gt=0, description=f"Context size (default {DEFAULT_CONTEXT_WINDOW} tokens)."
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
    structured_output: Literal["json_schema", "function_calling"] = Field(
        default="json_schema",
        description="How structured_predict asks for JSON: response_format or a forced tool call.",
    )

    _client: HFClient | None = PrivateAttr(default=None)
    _aclient: AsyncHFClient | None = PrivateAttr(default=None)
    _http_client: Any = PrivateAttr(default=None)
    _http_async_client: Any = PrivateAttr(default=None)

    def __init__(
        self,
        model: str,
        *,
        http_client: Any = None,
        http_async_client: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(model=model, **kwargs)
        # Bring-your-own pooled httpx clients go straight to the core, which never closes them.
        self._http_client = http_client
        self._http_async_client = http_async_client

    @classmethod
    def class_name(cls) -> str:
        """Name used in LlamaIndex serialisation."""
        return "HFProviders_llm"

    @property
    def metadata(self) -> LLMMetadata:
        """Chat and function-calling model; `num_output` reserves room for the answer."""
        return LLMMetadata(
            context_window=self.context_window or DEFAULT_CONTEXT_WINDOW,
            num_output=self.max_tokens or DEFAULT_NUM_OUTPUTS,
            is_chat_model=True,
            is_function_calling_model=self.is_function_calling_model,
            model_name=self.model,
        )

    # -- core clients: created on first use, reused, closed only by close()/aclose()

    def _client_options(self) -> dict[str, Any]:
        return {
            "api_key": self.api_key.get_secret_value() if self.api_key else None,
            "base_url": self.base_url,
            "provider": self.provider,
            "bill_to": self.bill_to,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "default_headers": self.default_headers,
        }

    def _sync_client(self) -> HFClient:
        if self._client is None:
            self._client = HFClient(**self._client_options(), http_client=self._http_client)
        return self._client

    def _async_client(self) -> AsyncHFClient:
        if self._aclient is None:
            self._aclient = AsyncHFClient(
                **self._client_options(), http_async_client=self._http_async_client
            )
        return self._aclient

    def close(self) -> None:
        """Release the sync connection pool (call once, when you are done with the LLM)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        """Release the async connection pool."""
        if self._aclient is not None:
            await self._aclient.aclose()
            self._aclient = None

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

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """Streamed chat: cumulative messages, `delta` holds the new text."""
        openai_messages = _convert.to_openai_messages(messages)
        stream = self._sync_client().stream(self.model, openai_messages, **self._params(kwargs))
        return _streams.chat_responses(stream)

    @llm_chat_callback()
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

    @llm_completion_callback()
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

    @llm_completion_callback()
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

    # -- structured output: json_schema response_format, or function calling

    def _use_json_schema(self) -> bool:
        return (
            self.pydantic_program_mode == PydanticProgramMode.DEFAULT
            and self.structured_output == "json_schema"
        )

    def _schema_request(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None,
        prompt_args: dict[str, Any],
    ) -> tuple[list[ChatMessage], dict[str, Any]]:
        messages = self._get_messages(prompt, **prompt_args)
        kwargs = dict(llm_kwargs or {})
        kwargs.pop("tool_choice", None)
        kwargs["response_format"] = _convert.json_schema_response_format(output_cls)
        return messages, kwargs

    @dispatcher.span
    def structured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """Predict an `output_cls` instance from the prompt."""
        if not self._use_json_schema():
            result: Model = super().structured_predict(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
            return result
        dispatcher.event(
            LLMStructuredPredictStartEvent(
                output_cls=output_cls, template=prompt, template_args=prompt_args
            )
        )
        messages, kwargs = self._schema_request(output_cls, prompt, llm_kwargs, prompt_args)
        response = self.chat(messages, **kwargs)
        output = _convert.parse_structured_content(response.message.content, output_cls)
        dispatcher.event(LLMStructuredPredictEndEvent(output=output))
        return output

    @dispatcher.span
    async def astructured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """Predict an `output_cls` instance from the prompt (async)."""
        if not self._use_json_schema():
            aresult: Model = await super().astructured_predict(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
            return aresult
        dispatcher.event(
            LLMStructuredPredictStartEvent(
                output_cls=output_cls, template=prompt, template_args=prompt_args
            )
        )
        messages, kwargs = self._schema_request(output_cls, prompt, llm_kwargs, prompt_args)
        response = await self.achat(messages, **kwargs)
        output = _convert.parse_structured_content(response.message.content, output_cls)
        dispatcher.event(LLMStructuredPredictEndEvent(output=output))
        return output

    def _structured_stream_call(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Generator[_streams.StructuredPiece[Model], None, None]:
        """Partial `output_cls` objects as the JSON streams in."""
        if not self._use_json_schema():
            yield from super()._structured_stream_call(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
            return
        messages, kwargs = self._schema_request(output_cls, prompt, llm_kwargs, prompt_args)
        yield from _streams.structured_objects(self.stream_chat(messages, **kwargs), output_cls)

    async def _structured_astream_call(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> AsyncGenerator[_streams.StructuredPiece[Model], None]:
        """Partial `output_cls` objects as the JSON streams in (async)."""
        if not self._use_json_schema():
            return await super()._structured_astream_call(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
        messages, kwargs = self._schema_request(output_cls, prompt, llm_kwargs, prompt_args)
        responses = await self.astream_chat(messages, **kwargs)
        return _streams.astructured_objects(responses, output_cls)
