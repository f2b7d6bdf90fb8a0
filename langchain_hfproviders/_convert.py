"""Pure converters between LangChain objects and hfproviders' OpenAI-shaped dicts and results.

Nothing here does I/O or keeps state: the chat model builds a request with the `*_to_openai`
functions, hands it to the core, and turns the core's normalised results back into LangChain
messages with `chat_result`, `generation_chunk` and `final_chunk`. Provider quirks (string vs
dict arguments, missing tool-call ids, inline `<think>`, usage placement, …) are already gone
by then: the core removes them, so nothing here re-does that work.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any, Literal, cast

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    is_data_content_block,
)
from langchain_core.messages import content as types
from langchain_core.messages.ai import InputTokenDetails, OutputTokenDetails, UsageMetadata
from langchain_core.messages.block_translators.openai import convert_to_openai_data_block
from langchain_core.messages.tool import invalid_tool_call, tool_call, tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_function, convert_to_openai_tool

if TYPE_CHECKING:
    from hfproviders import (
        AsyncChatStream,
        ChatCompletion,
        ChatCompletionChunk,
        ChatStream,
        ResponseMeta,
        ToolCall,
        Usage,
    )

__all__ = [
    "MODEL_PROVIDER",
    "StructuredOutputMethod",
    "chat_result",
    "closing_chunk",
    "estimate_message_tokens",
    "estimate_prompt_tokens",
    "estimate_tokens",
    "final_chunk",
    "generation_chunk",
    "message_to_openai",
    "messages_to_openai",
    "response_format_for",
    "response_metadata",
    "text_chunk",
    "tool_choice_to_openai",
    "tools_to_openai",
    "translate_content",
    "translate_content_chunk",
    "usage_to_metadata",
]

MODEL_PROVIDER = "huggingface"
"""`response_metadata["model_provider"]`, `ls_provider`, and the key of our v1 block translator."""

StructuredOutputMethod = Literal["function_calling", "json_schema", "json_mode"]

# Content-part types an assistant turn can carry that are not text: the tool calls travel in
# `tool_calls`, and reasoning is never sent back (providers reject or ignore it).
_TEXT_TYPES = frozenset({"text"})


# --------------------------------------------------------------------------------------------
# LangChain messages -> OpenAI-style dicts
# --------------------------------------------------------------------------------------------


def _image_url_part(value: Any) -> dict[str, Any]:
    """OpenAI `image_url` part; LangChain also allows the bare URL string as the value."""
    image_url = {"url": value} if isinstance(value, str) else dict(value)
    return {"type": "image_url", "image_url": image_url}


def _anthropic_image_part(source: Mapping[str, Any]) -> dict[str, Any]:
    if source.get("type") == "url":
        return _image_url_part(source["url"])
    return _image_url_part(f"data:{source['media_type']};base64,{source['data']}")


def _content_part(block: Any) -> dict[str, Any] | None:
    """One LangChain content block as an OpenAI content part (None: nothing to send)."""
    if isinstance(block, str):
        return {"type": "text", "text": block}
    if not isinstance(block, Mapping):
        raise TypeError(f"Unsupported content block {block!r}")
    kind = block.get("type")
    if kind == "text":
        return {"type": "text", "text": block.get("text", "")}
    if kind == "image_url":
        return _image_url_part(block["image_url"])
    if is_data_content_block(dict(block)):  # v1 / v0 standard image, audio and file blocks
        return convert_to_openai_data_block(dict(block), api="chat/completions")
    if kind == "image" and isinstance(block.get("source"), Mapping):  # Anthropic style
        return _anthropic_image_part(block["source"])
    if kind in ("tool_use", "tool_call", "thinking", "reasoning", "redacted_thinking"):
        # Tool calls travel in `tool_calls`; reasoning is not sent back to providers.
        return None
    # Anything else (`input_audio`, `file`, `video_url`, a provider's own part) goes through
    # untouched: the server is the judge of what it accepts.
    return dict(block)


def _content_to_openai(content: str | list[Any]) -> str | list[dict[str, Any]]:
    """Message content as a string when it is all text (what every provider accepts)."""
    if isinstance(content, str):
        return content
    parts = [part for part in map(_content_part, content) if part is not None]
    if all(part["type"] in _TEXT_TYPES for part in parts):
        return "\n".join(part["text"] for part in parts)
    return parts


def _text_only(content: str | list[Any]) -> str:
    """The text of an assistant turn; other blocks (tool_use, reasoning, …) are dropped."""
    if isinstance(content, str):
        return content
    texts = []
    for block in content:
        if isinstance(block, str):
            texts.append(block)
        elif isinstance(block, Mapping) and block.get("type") == "text":
            texts.append(str(block.get("text", "")))
    return "\n".join(texts)


def _assistant_tool_calls(message: AIMessage) -> list[dict[str, Any]]:
    calls = [
        {
            "id": call["id"],
            "type": "function",
            "function": {
                "name": call["name"],
                "arguments": json.dumps(call["args"], ensure_ascii=False),
            },
        }
        for call in message.tool_calls
    ]
    # A call whose arguments did not parse is sent back as the model wrote it, so the
    # conversation stays consistent with the ToolMessage that answers it.
    calls.extend(
        {
            "id": call["id"],
            "type": "function",
            "function": {"name": call["name"] or "", "arguments": call["args"] or "{}"},
        }
        for call in message.invalid_tool_calls
    )
    return calls


def message_to_openai(message: BaseMessage) -> dict[str, Any]:
    """Convert one LangChain message to an OpenAI chat message dict."""
    out: dict[str, Any]
    if isinstance(message, HumanMessage):
        out = {"role": "user", "content": _content_to_openai(message.content)}
    elif isinstance(message, SystemMessage):
        out = {"role": "system", "content": _content_to_openai(message.content)}
    elif isinstance(message, AIMessage):
        out = {"role": "assistant", "content": _text_only(message.content)}
        calls = _assistant_tool_calls(message)
        if calls:
            out["tool_calls"] = calls
    elif isinstance(message, ToolMessage):
        # No `name`: several OpenAI-compatible servers reject unknown keys on tool turns.
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id,
            "content": _content_to_openai(message.content),
        }
    elif isinstance(message, ChatMessage):
        out = {"role": message.role, "content": _content_to_openai(message.content)}
    elif isinstance(message, FunctionMessage):
        return {
            "role": "function",
            "name": message.name,
            "content": _text_only(message.content),
        }
    else:
        raise TypeError(f"Cannot send a {type(message).__name__} to a chat model")
    if message.name:
        out["name"] = message.name
    return out


def messages_to_openai(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """Convert a LangChain conversation to OpenAI chat message dicts."""
    return [message_to_openai(message) for message in messages]


# --------------------------------------------------------------------------------------------
# Tools, tool_choice and structured output
# --------------------------------------------------------------------------------------------


def tools_to_openai(tools: Sequence[Any], *, strict: bool | None = None) -> list[dict[str, Any]]:
    """Convert LangChain tools (BaseTool, functions, Pydantic, TypedDict, dicts) to OpenAI tools."""
    return [convert_to_openai_tool(tool, strict=strict) for tool in tools]


def tool_choice_to_openai(
    tool_choice: str | bool | Mapping[str, Any] | None, tool_names: Sequence[str]
) -> str | dict[str, Any] | None:
    """Map LangChain's `tool_choice` forms onto the OpenAI ones.

    `"any"` and `True` mean "call some tool" (`"required"`; with exactly one tool, `True`
    names it); a bare tool name forces that tool; `False`/`None` send nothing.
    """
    if tool_choice is None or tool_choice is False:
        return None
    if tool_choice is True:
        if len(tool_names) == 1:
            return {"type": "function", "function": {"name": tool_names[0]}}
        return "required"
    if isinstance(tool_choice, str):
        if tool_choice in ("auto", "none", "required"):
            return tool_choice
        if tool_choice == "any":
            return "required"
        if tool_choice in tool_names:
            return {"type": "function", "function": {"name": tool_choice}}
        raise ValueError(
            f"tool_choice {tool_choice!r} is neither 'auto', 'none', 'any', 'required' nor "
            f"the name of a bound tool ({', '.join(tool_names) or 'no tools bound'})"
        )
    if isinstance(tool_choice, Mapping):
        return dict(tool_choice)
    raise TypeError(f"Unsupported tool_choice {tool_choice!r}")


def response_format_for(
    schema: Any, method: StructuredOutputMethod, *, strict: bool | None = None
) -> dict[str, Any]:
    """The `response_format` for the `json_schema` and `json_mode` methods.

    `strict` is sent only when given: many providers reject `strict: true` (ANCHORS.md), so
    the default leaves the choice to the server.
    """
    if method == "json_mode":
        return {"type": "json_object"}
    if schema is None:
        raise ValueError("method='json_schema' needs a schema")
    function = convert_to_openai_function(schema, strict=strict)
    spec: dict[str, Any] = {"name": function["name"], "schema": function["parameters"]}
    if function.get("description"):
        spec["description"] = function["description"]
    if strict is not None:
        spec["strict"] = strict
    return {"type": "json_schema", "json_schema": spec}


# --------------------------------------------------------------------------------------------
# Core results -> LangChain messages
# --------------------------------------------------------------------------------------------


def usage_to_metadata(usage: Usage) -> UsageMetadata:
    """Core usage as LangChain `UsageMetadata`, with cache-read and reasoning details."""
    metadata = UsageMetadata(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )
    if usage.cached_tokens is not None:
        metadata["input_token_details"] = InputTokenDetails(cache_read=usage.cached_tokens)
    if usage.reasoning_tokens is not None:
        metadata["output_token_details"] = OutputTokenDetails(reasoning=usage.reasoning_tokens)
    return metadata


def _rate_limit_snapshot(meta: ResponseMeta) -> dict[str, Any] | None:
    if meta.rate_limit is None:
        return None
    snapshot = {
        field.name: getattr(meta.rate_limit, field.name)
        for field in fields(meta.rate_limit)
        if field.name != "raw" and getattr(meta.rate_limit, field.name) is not None
    }
    return snapshot or None


def response_metadata(
    meta: ResponseMeta, *, model_name: str, response_id: str | None, served_model: str | None
) -> dict[str, Any]:
    """How the call was served: model, provider, request ids, rate limits, timing.

    `model_name` is the model that was asked for (the Hugging Face id LangChain users know);
    `served_model` is the `model` field of the response, often the provider's own id.
    """
    metadata: dict[str, Any] = {
        "model_name": model_name,
        "model_provider": MODEL_PROVIDER,
        "id": response_id or None,
        "served_model": served_model or None,
        "inference_provider": meta.provider,
        "request_id": meta.request_id,
        "provider_request_id": meta.provider_request_id,
        "rate_limit": _rate_limit_snapshot(meta),
        "attempts": meta.attempts or None,
        "latency_s": meta.latency_s or None,
        "ttft_s": meta.ttft_s,
    }
    if meta.failed_providers:
        metadata["failed_providers"] = [
            f"{error.provider or '?'}: {type(error).__name__}" for error in meta.failed_providers
        ]
    return {key: value for key, value in metadata.items() if value is not None}


def _parsed_tool_calls(calls: Sequence[ToolCall]) -> tuple[list[Any], list[Any]]:
    valid: list[Any] = []
    invalid: list[Any] = []
    for call in calls:
        try:
            args = call.function.parsed_arguments()
        except ValueError as exc:  # the model wrote arguments that are not a JSON object
            invalid.append(
                invalid_tool_call(
                    name=call.function.name,
                    args=call.function.arguments,
                    id=call.id,
                    error=str(exc),
                )
            )
        else:
            valid.append(tool_call(name=call.function.name, args=args, id=call.id))
    return valid, invalid


def chat_result(completion: ChatCompletion, *, model_name: str) -> ChatResult:
    """A core ChatCompletion as a LangChain ChatResult (one generation per choice)."""
    usage = usage_to_metadata(completion.usage) if completion.usage is not None else None
    metadata = response_metadata(
        completion.meta,
        model_name=model_name,
        response_id=completion.id,
        served_model=completion.model,
    )
    generations = []
    for choice in completion.choices:
        message = choice.message
        valid, invalid = _parsed_tool_calls(message.tool_calls)
        generation_info: dict[str, Any] = {"finish_reason": choice.finish_reason}
        if choice.logprobs is not None:
            generation_info["logprobs"] = choice.logprobs
        generations.append(
            ChatGeneration(
                message=AIMessage(
                    content=message.content or "",
                    additional_kwargs=(
                        {"reasoning_content": message.reasoning} if message.reasoning else {}
                    ),
                    tool_calls=valid,
                    invalid_tool_calls=invalid,
                    usage_metadata=usage,
                    response_metadata={**metadata, **generation_info},
                    id=completion.id or None,
                ),
                generation_info=generation_info,
            )
        )
    llm_output: dict[str, Any] = {"model_name": model_name, "id": completion.id or None}
    if completion.usage is not None:
        llm_output["token_usage"] = completion.usage.raw or {
            "prompt_tokens": completion.usage.prompt_tokens,
            "completion_tokens": completion.usage.completion_tokens,
            "total_tokens": completion.usage.total_tokens,
        }
    if completion.system_fingerprint:
        llm_output["system_fingerprint"] = completion.system_fingerprint
    return ChatResult(generations=generations, llm_output=llm_output)


def _validated_text_chunk(content: str, response_id: str | None) -> ChatGenerationChunk:
    """A chunk carrying only text, built the ordinary (validated) way."""
    message = AIMessageChunk(
        content=content,
        additional_kwargs={},
        tool_call_chunks=[],
        response_metadata={"model_provider": MODEL_PROVIDER},
        id=response_id,
    )
    return ChatGenerationChunk(message=message, generation_info=None)


# The message fields holding containers: each chunk gets its own, never the template's.
_MESSAGE_CONTAINERS = frozenset(
    {
        "additional_kwargs",
        "response_metadata",
        "tool_calls",
        "invalid_tool_calls",
        "tool_call_chunks",
    }
)
_new = object.__new__
_set = object.__setattr__


class _TextChunks:
    """Text-only chunks (most of a stream) without running pydantic validation on each.

    Validating an `AIMessageChunk` and a `ChatGenerationChunk` costs more than the core's whole
    per-chunk work, yet for a chunk that only carries text the validators derive nothing (no
    tool-call chunks to parse; the generation's `text` is the string content). So those two
    objects are filled from a validated template: the same field values, `model_fields_set`,
    extra and private state as a validated build. Once, at first use, builds are compared with
    validated ones; any difference (a langchain-core with other fields or validators) turns the
    shortcut off, and every chunk is validated.
    """

    def __init__(self) -> None:
        probe = _validated_text_chunk("probe", "probe-id")
        message = probe.message
        self.message_values = dict(message.__dict__)
        self.message_fields = frozenset(message.model_fields_set)
        self.message_extra = message.__pydantic_extra__
        self.generation_values = dict(probe.__dict__)
        self.generation_fields = frozenset(probe.model_fields_set)
        containers = {
            name for name, value in self.message_values.items() if isinstance(value, list | dict)
        }
        self.enabled = (
            containers <= _MESSAGE_CONTAINERS
            and self.message_extra in (None, {})
            and message.__pydantic_private__ is None
            and probe.__pydantic_extra__ is None
            and probe.__pydantic_private__ is None
            and not any(isinstance(v, list | dict) for v in self.generation_values.values())
            and all(self._same(text, rid) for text, rid in (("a b", "id-1"), ("x", None)))
        )

    def _same(self, content: str, response_id: str | None) -> bool:
        fast = self.build(content, response_id)
        slow = _validated_text_chunk(content, response_id)
        return all(
            list(a.__dict__.items()) == list(b.__dict__.items())
            and a.model_fields_set == b.model_fields_set
            and a.__pydantic_extra__ == b.__pydantic_extra__
            and type(a.__pydantic_extra__) is type(b.__pydantic_extra__)
            and a.__pydantic_private__ == b.__pydantic_private__
            for a, b in ((fast, slow), (fast.message, slow.message))
        )

    def build(self, content: str, response_id: str | None) -> ChatGenerationChunk:
        """What `_validated_text_chunk` returns, filled in from the templates."""
        values = self.message_values.copy()
        values["content"] = content
        values["id"] = response_id
        values["additional_kwargs"] = {}
        values["response_metadata"] = {"model_provider": MODEL_PROVIDER}
        values["tool_calls"] = []
        values["invalid_tool_calls"] = []
        values["tool_call_chunks"] = []
        message = _new(AIMessageChunk)
        _set(message, "__dict__", values)
        _set(message, "__pydantic_fields_set__", set(self.message_fields))
        _set(message, "__pydantic_extra__", None if self.message_extra is None else {})
        _set(message, "__pydantic_private__", None)
        generation_values = self.generation_values.copy()
        generation_values["text"] = content
        generation_values["message"] = message
        generation = _new(ChatGenerationChunk)
        _set(generation, "__dict__", generation_values)
        _set(generation, "__pydantic_fields_set__", set(self.generation_fields))
        _set(generation, "__pydantic_extra__", None)
        _set(generation, "__pydantic_private__", None)
        return generation


_text_chunks: _TextChunks | None = None


def text_chunk(content: str, response_id: str | None) -> ChatGenerationChunk:
    """A chunk carrying only text; built from templates when proven equal to a validated one."""
    global _text_chunks
    chunks = _text_chunks
    if chunks is None:
        chunks = _text_chunks = _TextChunks()
    if chunks.enabled:
        return chunks.build(content, response_id)
    return _validated_text_chunk(content, response_id)


def generation_chunk(chunk: ChatCompletionChunk) -> ChatGenerationChunk | None:
    """One core stream chunk as a LangChain chunk; None when it adds nothing.

    Only choice 0 is streamed (LangChain merges a stream into one message). The usage-only
    chunk is not converted here: `final_chunk` carries it, so usage lands on exactly one chunk.
    """
    choices = chunk.choices
    choice = choices[0] if choices and choices[0].index == 0 else None
    if choice is None:
        choice = next((c for c in choices if c.index == 0), None)
        if choice is None:
            return None
    delta = choice.delta
    if (
        delta.content
        and not delta.reasoning
        and not delta.tool_calls
        and not choice.finish_reason
        and choice.logprobs is None
    ):
        return text_chunk(delta.content, chunk.id or None)
    calls = [
        tool_call_chunk(
            name=call.function.name,
            args=call.function.arguments,
            id=call.id,
            index=call.index,
        )
        for call in delta.tool_calls
    ]
    if not (delta.content or delta.reasoning or calls or choice.finish_reason):
        return None
    generation_info: dict[str, Any] = {}
    if choice.finish_reason:
        generation_info["finish_reason"] = choice.finish_reason
    if choice.logprobs is not None:
        generation_info["logprobs"] = choice.logprobs
    message = AIMessageChunk(
        content=delta.content or "",
        additional_kwargs={"reasoning_content": delta.reasoning} if delta.reasoning else {},
        tool_call_chunks=calls,
        response_metadata={"model_provider": MODEL_PROVIDER},
        id=chunk.id or None,
    )
    return ChatGenerationChunk(message=message, generation_info=generation_info or None)


def closing_chunk(stream: ChatStream | AsyncChatStream, model_name: str) -> ChatGenerationChunk:
    """The last chunk of a finished stream: usage, the response id and how it was served, once."""
    completion = stream.completion
    return final_chunk(
        completion.usage if completion is not None else None,
        stream.meta,
        model_name=model_name,
        response_id=completion.id if completion is not None else None,
        served_model=completion.model if completion is not None else None,
    )


def final_chunk(
    usage: Usage | None,
    meta: ResponseMeta,
    *,
    model_name: str,
    response_id: str | None,
    served_model: str | None,
) -> ChatGenerationChunk:
    """The closing chunk of a stream: usage (once), how it was served, `chunk_position="last"`."""
    return ChatGenerationChunk(
        message=AIMessageChunk(
            content="",
            usage_metadata=usage_to_metadata(usage) if usage is not None else None,
            response_metadata=response_metadata(
                meta, model_name=model_name, response_id=response_id, served_model=served_model
            ),
            id=response_id or None,
            chunk_position="last",
        )
    )


# --------------------------------------------------------------------------------------------
# output_version="v1": our content-block translator (registered under MODEL_PROVIDER)
# --------------------------------------------------------------------------------------------


def _reasoning_blocks(message: BaseMessage) -> list[types.ContentBlock]:
    reasoning = message.additional_kwargs.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        return [{"type": "reasoning", "reasoning": reasoning}]
    return []


def _text_blocks(content: str | list[Any]) -> list[types.ContentBlock]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return cast("list[types.ContentBlock]", [b for b in content if isinstance(b, dict)])


def translate_content(message: AIMessage) -> list[types.ContentBlock]:
    """v1 blocks of a whole message: reasoning, text, then tool calls."""
    blocks = _reasoning_blocks(message) + _text_blocks(message.content)
    blocks.extend(
        {"type": "tool_call", "name": call["name"], "args": call["args"], "id": call["id"]}
        for call in message.tool_calls
    )
    blocks.extend(
        cast("types.ContentBlock", {**call, "type": "invalid_tool_call"})
        for call in message.invalid_tool_calls
    )
    return blocks


def translate_content_chunk(message: AIMessageChunk) -> list[types.ContentBlock]:
    """v1 blocks of a stream chunk.

    Tool-call chunks get an `lc_tc_<n>` index: LangChain merges v1 blocks by `index`, and a
    plain integer would collide with the index it gives the text block, fusing the two.
    """
    if message.chunk_position == "last" and message.tool_calls:
        return translate_content(message)  # aggregated: tool_call_chunks are parsed by now
    blocks = _reasoning_blocks(message) + _text_blocks(message.content)
    for call in message.tool_call_chunks:
        block: types.ToolCallChunk = {
            "type": "tool_call_chunk",
            "id": call.get("id"),
            "name": call.get("name"),
            "args": call.get("args"),
        }
        if call.get("index") is not None:
            block["index"] = f"lc_tc_{call['index']}"
        blocks.append(block)
    return blocks


# --------------------------------------------------------------------------------------------
# Token counting without transformers
# --------------------------------------------------------------------------------------------

_CHARS_PER_TOKEN = 4.0  # English-like text in BPE vocabularies (Llama, Qwen, Mistral, GPT)
_BYTES_PER_TOKEN_NON_ASCII = 2.5  # CJK and other multi-byte scripts: about 1 token a character


def estimate_tokens(text: str) -> int:
    """Estimate the tokens of `text` without a tokenizer (within ~15% on English prose).

    ASCII counts at 4 characters a token; non-ASCII at 2.5 UTF-8 bytes a token, so CJK text
    comes out near one token per character, as in the common open-model vocabularies.
    """
    if not text:
        return 0
    ascii_chars = sum(1 for ch in text if ch < "\x80")
    other_bytes = len(text.encode("utf-8")) - ascii_chars
    return math.ceil(ascii_chars / _CHARS_PER_TOKEN + other_bytes / _BYTES_PER_TOKEN_NON_ASCII)


_TOKENS_PER_IMAGE = 256  # order of magnitude of a vision encoder's tiles; providers differ
_TOKENS_PER_MESSAGE = 4  # role markers and separators a chat template adds around each turn


def estimate_message_tokens(message: Mapping[str, Any], count: Callable[[str], int]) -> int:
    """Estimate one OpenAI message dict: text, tool calls, name, images at a flat rate.

    `count` turns text into a token count (our estimate, or the user's own tokenizer).
    """
    total = _TOKENS_PER_MESSAGE + count(str(message.get("role", "")))
    content = message.get("content")
    if isinstance(content, str):
        total += count(content)
    elif isinstance(content, list):
        for part in content:
            if part.get("type") == "text":
                total += count(str(part.get("text", "")))
            elif part.get("type") == "image_url":
                total += _TOKENS_PER_IMAGE
            else:  # audio or files: their text form is the best cheap guess
                total += count(json.dumps(part, ensure_ascii=False)[:4000])
    for call in message.get("tool_calls") or ():
        function = call["function"]
        total += count(function["name"]) + count(function["arguments"])
    if message.get("name"):
        total += count(str(message["name"]))
    return total


def estimate_prompt_tokens(
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Mapping[str, Any]] | None,
    count: Callable[[str], int],
) -> int:
    """Estimate the prompt tokens of OpenAI messages and tool specs (see `estimate_tokens`)."""
    total = 3  # the assistant header the template appends
    for message in messages:
        total += estimate_message_tokens(message, count)
    if tools:
        total += count(json.dumps(list(tools), ensure_ascii=False))
    return total
