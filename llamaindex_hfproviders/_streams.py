"""Stream adapters: core streams in, LlamaIndex response generators out.

Sync and async twins, side by side. Each response is built from the chunk just handed out and
the core's merge of every chunk handed out so far (`stream.completion`: text, reasoning, tool
calls with their arguments so far; `stream.text_only()` while it is plain text), so nothing is
accumulated here.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from llama_index.core.base.llms.types import (
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
)
from llama_index.core.bridge.pydantic import BaseModel
from llama_index.core.program.streaming_utils import process_streaming_content_incremental
from llama_index.core.program.utils import FlexibleModel

from llamaindex_hfproviders import _convert

if TYPE_CHECKING:
    from hfproviders import (
        AsyncChatStream,
        AsyncTextGenerationStream,
        ChatStream,
        TextGenerationStream,
    )

__all__ = [
    "StructuredPiece",
    "achat_responses",
    "astructured_objects",
    "acompletion_responses",
    "atext_generation_responses",
    "chat_responses",
    "completion_responses",
    "structured_objects",
    "text_generation_responses",
]

_Out = TypeVar("_Out", bound=BaseModel)
#: What the structured streams yield: partial objects while the JSON grows, then the result.
StructuredPiece: TypeAlias = _Out | list[_Out] | FlexibleModel | list[FlexibleModel]


def chat_responses(stream: ChatStream) -> ChatResponseGen:
    """Cumulative `ChatResponse`s, `delta` holding each chunk's new text."""
    with stream:
        for chunk in stream:
            yield _convert.streamed_chat_response(chunk, stream)


async def achat_responses(stream: AsyncChatStream) -> ChatResponseAsyncGen:
    """Async twin of `chat_responses`."""
    async with stream:
        async for chunk in stream:
            yield _convert.streamed_chat_response(chunk, stream)


def completion_responses(stream: ChatStream) -> CompletionResponseGen:
    """Cumulative `CompletionResponse`s from a chat stream."""
    with stream:
        for chunk in stream:
            yield _convert.streamed_completion_response(chunk, stream)


async def acompletion_responses(stream: AsyncChatStream) -> CompletionResponseAsyncGen:
    """Async twin of `completion_responses`."""
    async with stream:
        async for chunk in stream:
            yield _convert.streamed_completion_response(chunk, stream)


def text_generation_responses(stream: TextGenerationStream) -> CompletionResponseGen:
    """Cumulative `CompletionResponse`s from a TGI token stream."""
    with stream:
        for chunk in stream:
            text = stream.generated_text or ""
            yield _convert.text_generation_chunk_response(chunk, text, stream.meta)


async def atext_generation_responses(
    stream: AsyncTextGenerationStream,
) -> CompletionResponseAsyncGen:
    """Async twin of `text_generation_responses`."""
    async with stream:
        async for chunk in stream:
            text = stream.generated_text or ""
            yield _convert.text_generation_chunk_response(chunk, text, stream.meta)


def structured_objects(
    responses: ChatResponseGen, output_cls: type[_Out]
) -> Generator[StructuredPiece[_Out], None, None]:
    """Partial `output_cls` objects parsed from the JSON text as it streams in."""
    current: Any = None
    for response in responses:
        current = process_streaming_content_incremental(response, output_cls, current)
        yield current


async def astructured_objects(
    responses: ChatResponseAsyncGen, output_cls: type[_Out]
) -> AsyncGenerator[StructuredPiece[_Out], None]:
    """Async twin of `structured_objects`."""
    current: Any = None
    async for response in responses:
        current = process_streaming_content_incremental(response, output_cls, current)
        yield current
