"""The frameworks' own floors: trivial chat models that do no I/O and no parsing.

They answer with objects built once, so what they cost per call or per chunk is the framework's
machinery alone (callback managers, run ids, chunk merging, instrumentation events). An adapter's
figure minus its floor's is what the adapter adds on top of its framework.
The text, usage and tool call are the mock server's, so ``worker.py`` checks them the same way.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import bench_router as mock

STREAM_CHUNKS = mock.DEFAULT_CHUNKS  # set by worker.py to the mock's chunk count


def make_langchain_floor() -> Any:
    """A ``BaseChatModel`` yielding pre-built chunks (LangChain's own cost, nothing else)."""
    from langchain_core.callbacks import (
        AsyncCallbackManagerForLLMRun,
        CallbackManagerForLLMRun,
    )
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
    from langchain_core.utils.function_calling import convert_to_openai_tool

    usage: Any = {
        "input_tokens": mock.PROMPT_TOKENS,
        "output_tokens": mock.NONSTREAM_COMPLETION_TOKENS,
        "total_tokens": mock.PROMPT_TOKENS + mock.NONSTREAM_COMPLETION_TOKENS,
    }
    stream_usage: Any = {
        "input_tokens": mock.PROMPT_TOKENS,
        "output_tokens": STREAM_CHUNKS,
        "total_tokens": mock.PROMPT_TOKENS + STREAM_CHUNKS,
    }
    answer = ChatResult(
        generations=[
            ChatGeneration(message=AIMessage(content=mock.NONSTREAM_TEXT, usage_metadata=usage))
        ]
    )
    tool_answer = ChatResult(
        generations=[
            ChatGeneration(
                message=AIMessage(
                    content="",
                    tool_calls=[
                        {
                            "id": mock.TOOL_CALL_ID,
                            "name": mock.TOOL_NAME,
                            "args": json.loads(mock.TOOL_ARGUMENTS),
                        }
                    ],
                    usage_metadata=usage,
                )
            )
        ]
    )
    chunks = [
        ChatGenerationChunk(message=AIMessageChunk(content=mock.stream_token(i)))
        for i in range(STREAM_CHUNKS)
    ]
    chunks.append(
        ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata=stream_usage))
    )

    class FloorChatModel(BaseChatModel):
        """Answers from memory."""

        @property
        def _llm_type(self) -> str:
            return "benchmark-floor"

        def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
            return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

        def _generate(
            self,
            messages: list[BaseMessage],
            stop: list[str] | None = None,
            run_manager: CallbackManagerForLLMRun | None = None,
            **kwargs: Any,
        ) -> ChatResult:
            return tool_answer if kwargs.get("tools") else answer

        def _stream(
            self,
            messages: list[BaseMessage],
            stop: list[str] | None = None,
            run_manager: CallbackManagerForLLMRun | None = None,
            **kwargs: Any,
        ) -> Iterator[ChatGenerationChunk]:
            yield from chunks

        async def _astream(
            self,
            messages: list[BaseMessage],
            stop: list[str] | None = None,
            run_manager: AsyncCallbackManagerForLLMRun | None = None,
            **kwargs: Any,
        ) -> AsyncIterator[ChatGenerationChunk]:
            for chunk in chunks:
                yield chunk

    return FloorChatModel()


def make_llamaindex_floor() -> Any:
    """A ``FunctionCallingLLM`` returning pre-built responses, with the usual instrumentation."""
    from llama_index.core.base.llms.types import (
        ChatMessage,
        ChatResponse,
        ChatResponseAsyncGen,
        ChatResponseGen,
        CompletionResponse,
        CompletionResponseAsyncGen,
        CompletionResponseGen,
        LLMMetadata,
    )
    from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
    from llama_index.core.llms.function_calling import FunctionCallingLLM
    from llama_index.core.llms.llm import ToolSelection

    def counts(completion: int) -> dict[str, int]:
        return {
            "prompt_tokens": mock.PROMPT_TOKENS,
            "completion_tokens": completion,
            "total_tokens": mock.PROMPT_TOKENS + completion,
        }

    answer = ChatResponse(
        message=ChatMessage(role="assistant", content=mock.NONSTREAM_TEXT),
        additional_kwargs=counts(mock.NONSTREAM_COMPLETION_TOKENS),
    )
    tool_call = {
        "id": mock.TOOL_CALL_ID,
        "type": "function",
        "function": {"name": mock.TOOL_NAME, "arguments": mock.TOOL_ARGUMENTS},
    }
    tool_answer = ChatResponse(
        message=ChatMessage(
            role="assistant", content="", additional_kwargs={"tool_calls": [tool_call]}
        ),
        additional_kwargs=counts(21),
    )
    stream: list[ChatResponse] = []
    text = ""
    for i in range(STREAM_CHUNKS):
        delta = mock.stream_token(i)
        text += delta
        stream.append(
            ChatResponse(message=ChatMessage(role="assistant", content=text), delta=delta)
        )
    stream.append(
        ChatResponse(
            message=ChatMessage(role="assistant", content=text),
            delta="",
            additional_kwargs=counts(STREAM_CHUNKS),
        )
    )
    completion = CompletionResponse(text=mock.NONSTREAM_TEXT)

    class FloorLLM(FunctionCallingLLM):
        """Answers from memory."""

        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(
                is_chat_model=True, is_function_calling_model=True, model_name="benchmark-floor"
            )

        @llm_chat_callback()
        def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
            return tool_answer if kwargs.get("tools") else answer

        @llm_chat_callback()
        def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
            def gen() -> ChatResponseGen:
                yield from stream

            return gen()

        @llm_chat_callback()
        async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
            return tool_answer if kwargs.get("tools") else answer

        @llm_chat_callback()
        async def astream_chat(
            self, messages: Sequence[ChatMessage], **kwargs: Any
        ) -> ChatResponseAsyncGen:
            async def gen() -> ChatResponseAsyncGen:
                for resp in stream:
                    yield resp

            return gen()

        @llm_completion_callback()
        def complete(
            self, prompt: str, formatted: bool = False, **kwargs: Any
        ) -> CompletionResponse:
            return completion

        @llm_completion_callback()
        def stream_complete(
            self, prompt: str, formatted: bool = False, **kwargs: Any
        ) -> CompletionResponseGen:
            def gen() -> CompletionResponseGen:
                yield completion

            return gen()

        @llm_completion_callback()
        async def acomplete(
            self, prompt: str, formatted: bool = False, **kwargs: Any
        ) -> CompletionResponse:
            return completion

        @llm_completion_callback()
        async def astream_complete(
            self, prompt: str, formatted: bool = False, **kwargs: Any
        ) -> CompletionResponseAsyncGen:
            async def gen() -> CompletionResponseAsyncGen:
                yield completion

            return gen()

        def _prepare_chat_with_tools(
            self,
            tools: Sequence[Any],
            user_msg: str | ChatMessage | None = None,
            chat_history: list[ChatMessage] | None = None,
            verbose: bool = False,
            allow_parallel_tool_calls: bool = False,
            tool_required: bool = False,
            **kwargs: Any,
        ) -> dict[str, Any]:
            messages = list(chat_history or [])
            if isinstance(user_msg, str):
                user_msg = ChatMessage(role="user", content=user_msg)
            if user_msg is not None:
                messages.append(user_msg)
            specs = [t.metadata.to_openai_tool(skip_length_check=True) for t in tools]
            return {"messages": messages, "tools": specs, **kwargs}

        def get_tool_calls_from_response(
            self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
        ) -> list[ToolSelection]:
            calls = response.message.additional_kwargs.get("tool_calls", [])
            if not calls and error_on_no_tool_call:
                raise ValueError("no tool call")
            return [
                ToolSelection(
                    tool_id=c["id"],
                    tool_name=c["function"]["name"],
                    tool_kwargs=json.loads(c["function"]["arguments"]),
                )
                for c in calls
            ]

    return FloorLLM()
