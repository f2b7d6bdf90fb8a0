"""Structured output by `response_format` `json_schema`, the base of `HFProviders`.

LlamaIndex's own `structured_predict` family prompts for JSON or forces a tool call. Where the
provider supports it, a `json_schema` response format is more reliable (no `strict`, which many
providers reject), so `structured_output="json_schema"` (the default) uses it and
`"function_calling"` keeps LlamaIndex's way. Only `chat` / `achat` / `stream_chat` /
`astream_chat` are called: the HTTP work stays in the core behind them.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import TYPE_CHECKING, Any, Literal

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.bridge.pydantic import ConfigDict, Field
from llama_index.core.instrumentation.events.llm import (
    LLMStructuredPredictEndEvent,
    LLMStructuredPredictStartEvent,
)
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.types import Model, PydanticProgramMode
from llama_index_instrumentation import get_dispatcher

from llamaindex_hfproviders import _convert, _streams

if TYPE_CHECKING:
    from llama_index.core.prompts import PromptTemplate

__all__ = ["JsonSchemaStructuredLLM"]

dispatcher = get_dispatcher(__name__)


class JsonSchemaStructuredLLM(FunctionCallingLLM):
    """A function-calling LLM whose structured output uses `response_format` `json_schema`."""

    structured_output: Literal["json_schema", "function_calling"] = Field(
        default="json_schema",
        description="How structured_predict asks for JSON: response_format or a forced tool call.",
    )

    # A base class, never made itself: its subclasses build their schema on first construction.
    model_config = ConfigDict(defer_build=True)

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
