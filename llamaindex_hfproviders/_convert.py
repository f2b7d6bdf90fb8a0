"""Pure converters between LlamaIndex types and the hfproviders core (no I/O, no state).

Outgoing: LlamaIndex `ChatMessage`s (text, image, tool-call and thinking blocks) become
OpenAI-style message dicts; tools become OpenAI tool specs. Incoming: the core's normalised
results (`ChatCompletion`, stream chunks, text generations) become `ChatResponse` /
`CompletionResponse`, with usage, reasoning, tool calls, provider and request id attached.

Provider quirks are already gone by the time results reach this module (the core normalises
them), so nothing here looks at raw wire shapes.
"""

from __future__ import annotations

import json
import re
import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from llama_index.core.base.llms.types import (
    CachePoint,
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    ImageBlock,
    LogProb,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.output_parsers.base import OutputParserException
from llama_index.core.tools.types import ToolMetadata

from llamaindex_hfproviders._prebuilt import text_chat_response, text_completion_response

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool
    from pydantic import BaseModel

    from hfproviders import (
        AsyncChatStream,
        ChatCompletion,
        ChatCompletionChunk,
        ChatStream,
        ResponseMeta,
        TextGeneration,
        TextGenerationChunk,
        ToolCall,
        Usage,
    )

__all__ = [
    "chat_params",
    "chat_response",
    "completion_response",
    "json_schema_response_format",
    "keep_first_tool_call",
    "parse_structured_content",
    "prompt_messages",
    "stream_chat_response",
    "stream_completion_response",
    "streamed_chat_response",
    "streamed_completion_response",
    "text_generation_chunk_response",
    "text_generation_params",
    "text_generation_response",
    "to_openai_message",
    "to_openai_messages",
    "tool_choice_param",
    "tool_selections",
    "tool_specs",
    "usage_dict",
]

# Roles the router's providers accept. `developer` is OpenAI-only (most providers reject it),
# `function` is OpenAI's legacy tool role, and Cohere/Gemini-style names are assistants.
_ROLES: dict[str, str] = {
    MessageRole.SYSTEM.value: "system",
    MessageRole.DEVELOPER.value: "system",
    MessageRole.USER.value: "user",
    MessageRole.ASSISTANT.value: "assistant",
    MessageRole.TOOL.value: "tool",
    MessageRole.FUNCTION.value: "tool",
    MessageRole.CHATBOT.value: "assistant",
    MessageRole.MODEL.value: "assistant",
}

_M = TypeVar("_M", bound="BaseModel")

_SCHEMA_NAME_RE = re.compile(r"[^a-zA-Z0-9_-]")
_CODE_FENCE_RE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")


# --------------------------------------------------------------------------- outgoing


def to_openai_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Convert LlamaIndex chat messages to OpenAI-style message dicts."""
    return [to_openai_message(message) for message in messages]


def to_openai_message(message: ChatMessage) -> dict[str, Any]:
    r"""Convert one message; assistant tool calls and tool results keep their `tool_call_id`.

    Example: an assistant message holding a `ToolCallBlock(tool_call_id="call_1", tool_name="add",
    tool_kwargs={"a": 1})` becomes `{"role": "assistant", "content": "", "tool_calls": [{"id":
    "call_1", "type": "function", "function": {"name": "add", "arguments": "{\\"a\\": 1}"}}]}`.
    """
    role = _ROLES.get(_role_value(message.role), "user")
    out: dict[str, Any] = {"role": role, "content": _content(message)}
    if role == "assistant":
        calls = _outgoing_tool_calls(message)
        if calls:
            out["tool_calls"] = calls
            # Some providers 500 on a tool-call turn whose content is null (WIRE.md §5).
            out["content"] = out["content"] or ""
    elif role == "tool":
        call_id = message.additional_kwargs.get("tool_call_id")
        if call_id is not None:
            out["tool_call_id"] = str(call_id)
    name = message.additional_kwargs.get("name")
    if isinstance(name, str) and role in ("user", "system"):
        out["name"] = name
    return out


def _role_value(role: MessageRole | str) -> str:
    return role.value if isinstance(role, MessageRole) else str(role)


def _content(message: ChatMessage) -> str | list[dict[str, Any]]:
    """Text-only content as one string (every provider accepts it), else a list of parts."""
    parts: list[dict[str, Any]] = []
    has_image = False
    for block in message.blocks:
        if isinstance(block, TextBlock):
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ImageBlock):
            has_image = True
            parts.append(_image_part(block))
        elif isinstance(block, ThinkingBlock | ToolCallBlock | CachePoint):
            # Reasoning is not sent back (providers reject or re-tokenise it), tool calls go to
            # `tool_calls`, and cache points are an Anthropic-only hint.
            continue
        else:
            raise ValueError(
                f"{type(block).__name__} is not supported by the chat completion API; "
                "convert it to text or an image first."
            )
    if has_image:
        return parts
    return "\n".join(part["text"] for part in parts)


def _image_part(block: ImageBlock) -> dict[str, Any]:
    url = str(block.url) if block.url is not None else block.inline_url()
    image_url: dict[str, Any] = {"url": url}
    if block.detail:
        image_url["detail"] = block.detail
    return {"type": "image_url", "image_url": image_url}


def _arguments_json(arguments: Mapping[str, Any] | str | None) -> str:
    """Tool-call arguments always travel as a JSON string (WIRE.md §5)."""
    if arguments is None:
        return "{}"
    if isinstance(arguments, str):
        return arguments if arguments.strip() else "{}"
    return json.dumps(arguments, ensure_ascii=False)


def _outgoing_tool_calls(message: ChatMessage) -> list[dict[str, Any]]:
    blocks = [block for block in message.blocks if isinstance(block, ToolCallBlock)]
    if blocks:
        return [
            _tool_call_dict(block.tool_call_id, block.tool_name, _arguments_json(block.tool_kwargs))
            for block in blocks
        ]
    # Messages built by older code (or other LLM classes) carry them in additional_kwargs,
    # as dicts or as OpenAI SDK objects.
    legacy = message.additional_kwargs.get("tool_calls") or []
    return [_legacy_tool_call(call) for call in legacy]


def _legacy_tool_call(call: Any) -> dict[str, Any]:
    if isinstance(call, Mapping):
        function = call.get("function") or {}
        call_id, name, arguments = call.get("id"), function.get("name"), function.get("arguments")
    else:
        function = getattr(call, "function", None)
        call_id = getattr(call, "id", None)
        name = getattr(function, "name", None)
        arguments = getattr(function, "arguments", None)
    return _tool_call_dict(call_id, str(name or ""), _arguments_json(arguments))


def _tool_call_dict(call_id: str | None, name: str, arguments: str) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "function", "function": {"name": name, "arguments": arguments}}
    if call_id:
        out["id"] = call_id
    return out


def prompt_messages(prompt: str) -> list[dict[str, Any]]:
    """A completion prompt as the single user message of a chat request."""
    return [{"role": "user", "content": prompt}]


def tool_specs(tools: Sequence[BaseTool]) -> list[dict[str, Any]]:
    """OpenAI tool specs for LlamaIndex tools (no `strict`: many providers reject it)."""
    return [_tool_spec(tool.metadata) for tool in tools]


# Rendered specs by tool schema class, then (name, description). LlamaIndex renders a tool's
# JSON schema from its pydantic class on every call (`model_json_schema`, about a millisecond,
# a quarter of a tool call here); a class's schema does not change, so it is rendered once per
# class (weakly held: tools made on the fly take their entry with them) and copied per call.
_SPECS: weakref.WeakKeyDictionary[type, dict[tuple[str | None, str], dict[str, Any]]] = (
    weakref.WeakKeyDictionary()
)
_SPECS_PER_SCHEMA = 16


def _tool_spec(metadata: ToolMetadata) -> dict[str, Any]:
    schema = metadata.fn_schema
    if type(metadata) is not ToolMetadata or schema is None:  # a subclass may render its own
        return metadata.to_openai_tool(skip_length_check=True)
    specs = _SPECS.get(schema)
    if specs is None or len(specs) >= _SPECS_PER_SCHEMA:
        specs = _SPECS[schema] = {}
    key = (metadata.name, metadata.description)
    spec = specs.get(key)
    if spec is None:
        spec = specs[key] = metadata.to_openai_tool(skip_length_check=True)
    copied: dict[str, Any] = _json_copy(spec)
    return copied


def _json_copy(value: Any) -> Any:
    """A copy of JSON-shaped data (dicts and lists copied, the rest shared: it is immutable)."""
    if isinstance(value, dict):
        return {key: _json_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_copy(item) for item in value]
    return value


def tool_choice_param(
    tool_choice: str | Mapping[str, Any] | None, tool_required: bool
) -> str | dict[str, Any]:
    """Resolve LlamaIndex's `tool_choice` / `tool_required` to the OpenAI `tool_choice` value.

    `"auto" | "none" | "required"` pass through, any other string names a tool, a dict is sent
    as given; with nothing set, `tool_required` picks `"required"` over `"auto"`.
    """
    if isinstance(tool_choice, Mapping):
        return dict(tool_choice)
    if tool_choice is None:
        return "required" if tool_required else "auto"
    if tool_choice in ("auto", "none", "required"):
        return tool_choice
    return {"type": "function", "function": {"name": tool_choice}}


def json_schema_response_format(output_cls: type[BaseModel]) -> dict[str, Any]:
    """`response_format` asking for JSON that matches `output_cls`.

    `strict` is left out: several providers behind the router reject `strict: true`.
    """
    name = _SCHEMA_NAME_RE.sub("_", output_cls.__name__)[:64] or "output"
    return {
        "type": "json_schema",
        "json_schema": {"name": name, "schema": output_cls.model_json_schema()},
    }


def parse_structured_content(content: str | None, output_cls: type[_M]) -> _M:
    """Validate a JSON answer against `output_cls`, tolerating a Markdown code fence around it."""
    text = (content or "").strip()
    if text.startswith("```"):
        text = _CODE_FENCE_RE.sub("", text).strip()
    return output_cls.model_validate_json(text)


# --------------------------------------------------------------------------- incoming


def usage_dict(usage: Usage | None) -> dict[str, int]:
    """Token counts as LlamaIndex reads them (`prompt_tokens`, `completion_tokens`, …)."""
    if usage is None:
        return {}
    out = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if usage.reasoning_tokens is not None:
        out["reasoning_tokens"] = usage.reasoning_tokens
    if usage.cached_tokens is not None:
        out["cached_tokens"] = usage.cached_tokens
    return out


def _served_by(meta: ResponseMeta | None) -> dict[str, Any]:
    """Who served the call; after a failover, who failed first; whether the cache answered."""
    if meta is None:
        return {"provider": None, "request_id": None}
    out: dict[str, Any] = {"provider": meta.provider, "request_id": meta.request_id}
    if meta.failed_providers:
        out["failed_providers"] = [
            f"{error.provider or '?'}: {type(error).__name__}" for error in meta.failed_providers
        ]
    if meta.cached:
        out["cached"] = True
    return out


def _response_kwargs(
    usage: Usage | None, meta: ResponseMeta | None, finish_reason: str | None
) -> dict[str, Any]:
    out: dict[str, Any] = usage_dict(usage)
    out.update(_served_by(meta))
    if finish_reason is not None:
        out["finish_reason"] = finish_reason
    return out


def _message(
    content: str | None,
    reasoning: str | None,
    tool_calls: Sequence[ToolCall],
    reasoning_tokens: int | None = None,
) -> ChatMessage:
    blocks: list[Any] = []
    if reasoning:
        blocks.append(ThinkingBlock(content=reasoning, num_tokens=reasoning_tokens))
    if content or not tool_calls:
        blocks.append(TextBlock(text=content or ""))
    kwargs: dict[str, Any] = {}
    if tool_calls:
        blocks.extend(
            ToolCallBlock(
                tool_call_id=call.id,
                tool_name=call.function.name,
                tool_kwargs=call.function.arguments,
            )
            for call in tool_calls
        )
        kwargs["tool_calls"] = [
            _tool_call_dict(call.id, call.function.name, call.function.arguments)
            for call in tool_calls
        ]
    return ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks, additional_kwargs=kwargs)


def _logprobs(raw: Mapping[str, Any] | None) -> list[list[LogProb]] | None:
    """OpenAI `logprobs.content` → one list of top alternatives per generated token."""
    if not raw or not isinstance(raw.get("content"), list):
        return None
    out: list[list[LogProb]] = []
    for token in raw["content"]:
        alternatives = token.get("top_logprobs") or [token]
        out.append(
            [
                LogProb(
                    token=str(alt.get("token", "")),
                    logprob=float(alt.get("logprob", 0.0)),
                    bytes=list(alt.get("bytes") or []),
                )
                for alt in alternatives
            ]
        )
    return out


def _raw_with_usage(raw: Mapping[str, Any], usage: Usage | None) -> dict[str, Any]:
    """The body as received, with a `usage` dict guaranteed when usage is known.

    TokenCountingHandler reads `raw["usage"]`; responses assembled by the core (from a cache or
    a stream) may come without a raw body.
    """
    out = dict(raw)
    if usage is not None and not isinstance(out.get("usage"), Mapping):
        out["usage"] = usage_dict(usage)
    return out


def chat_response(completion: ChatCompletion) -> ChatResponse:
    """Convert a core `ChatCompletion` (first choice) to a LlamaIndex `ChatResponse`."""
    choice = completion.choices[0] if completion.choices else None
    usage = completion.usage
    if choice is None:
        message = ChatMessage(role=MessageRole.ASSISTANT, blocks=[TextBlock(text="")])
        finish, logprobs = None, None
    else:
        reasoning_tokens = usage.reasoning_tokens if usage is not None else None
        core = choice.message
        message = _message(core.content, core.reasoning, core.tool_calls, reasoning_tokens)
        finish, logprobs = choice.finish_reason, _logprobs(choice.logprobs)
    return ChatResponse(
        message=message,
        raw=_raw_with_usage(completion.raw, usage),
        logprobs=logprobs,
        additional_kwargs=_response_kwargs(usage, completion.meta, finish),
    )


def completion_response(completion: ChatCompletion) -> CompletionResponse:
    """Convert a core `ChatCompletion` to a `CompletionResponse` (text of the first choice)."""
    response = chat_response(completion)
    return CompletionResponse(
        text=completion.text,
        raw=response.raw,
        logprobs=response.logprobs,
        additional_kwargs=response.additional_kwargs,
    )


def _chunk_raw(chunk: ChatCompletionChunk) -> dict[str, Any]:
    """A small dict view of a normalised chunk (LlamaIndex code expects `raw` to be a dict)."""
    raw: dict[str, Any] = {"id": chunk.id, "model": chunk.model, "created": chunk.created}
    raw["choices"] = [
        {
            "index": choice.index,
            "delta": {"content": choice.delta.content, "reasoning": choice.delta.reasoning},
            "finish_reason": choice.finish_reason,
        }
        for choice in chunk.choices
    ]
    raw["usage"] = usage_dict(chunk.usage) if chunk.usage is not None else None
    return raw


def stream_chat_response(
    chunk: ChatCompletionChunk, snapshot: ChatCompletion | None, meta: ResponseMeta | None
) -> ChatResponse:
    """One streamed `ChatResponse`: the cumulative message, this chunk's text as `delta`.

    `snapshot` is the core's accumulated view after this chunk (text, reasoning, tool calls with
    their arguments so far); the reasoning piece of this chunk goes to
    `additional_kwargs["thinking_delta"]`, as FunctionAgent's `AgentStream` reads it.
    """
    choice = chunk.choices[0] if chunk.choices else None
    delta = choice.delta if choice is not None else None
    current = snapshot.choices[0] if snapshot is not None and snapshot.choices else None
    usage = chunk.usage
    if current is None:
        message = ChatMessage(role=MessageRole.ASSISTANT, blocks=[TextBlock(text="")])
        finish = None
    else:
        reasoning_tokens = usage.reasoning_tokens if usage is not None else None
        core = current.message
        message = _message(core.content, core.reasoning, core.tool_calls, reasoning_tokens)
        finish = choice.finish_reason if choice is not None else None
    kwargs = _response_kwargs(usage, meta, finish)
    if delta is not None and delta.reasoning:
        kwargs["thinking_delta"] = delta.reasoning
    return ChatResponse(
        message=message,
        delta=(delta.content or "") if delta is not None else "",
        raw=_chunk_raw(chunk),
        logprobs=_logprobs(current.logprobs) if current is not None else None,
        additional_kwargs=kwargs,
    )


def stream_completion_response(
    chunk: ChatCompletionChunk, snapshot: ChatCompletion | None, meta: ResponseMeta | None
) -> CompletionResponse:
    """One streamed `CompletionResponse` of the chat API: cumulative `text`, new `delta`."""
    response = stream_chat_response(chunk, snapshot, meta)
    return CompletionResponse(
        text=snapshot.text if snapshot is not None else "",
        delta=response.delta,
        raw=response.raw,
        additional_kwargs=response.additional_kwargs,
    )


def _text_piece(chunk: ChatCompletionChunk) -> str | None:
    """The chunk's text if it carries nothing else (one choice, 0, no usage), else None."""
    if chunk.usage is not None or len(chunk.choices) != 1:
        return None
    choice = chunk.choices[0]
    delta = choice.delta
    if (
        choice.index
        or choice.finish_reason
        or choice.logprobs is not None
        or delta.reasoning
        or delta.tool_calls
    ):
        return None
    return delta.content or None


def streamed_chat_response(
    chunk: ChatCompletionChunk, stream: ChatStream | AsyncChatStream
) -> ChatResponse:
    """`stream_chat_response` for the chunk `stream` just handed out, with a short way for text.

    Most chunks of most answers are text added to text: for those the cumulative text is read
    from the stream (`text_only`, no completion built), and the response is the one
    `stream_chat_response` would return, field for field.
    """
    piece = _text_piece(chunk)
    text = stream.text_only() if piece is not None else None
    if piece is None or text is None:
        return stream_chat_response(chunk, stream.completion, stream.meta)
    return text_chat_response(text, piece, _chunk_raw(chunk), _served_by(stream.meta))


def streamed_completion_response(
    chunk: ChatCompletionChunk, stream: ChatStream | AsyncChatStream
) -> CompletionResponse:
    """`stream_completion_response` for the chunk `stream` just handed out (see above)."""
    piece = _text_piece(chunk)
    text = stream.text_only() if piece is not None else None
    if piece is None or text is None:
        return stream_completion_response(chunk, stream.completion, stream.meta)
    return text_completion_response(text, piece, _chunk_raw(chunk), _served_by(stream.meta))


def text_generation_response(result: TextGeneration) -> CompletionResponse:
    """Convert a text-generation (TGI) result to a `CompletionResponse`."""
    kwargs = _served_by(result.meta)
    if result.finish_reason is not None:
        kwargs["finish_reason"] = result.finish_reason
    raw = result.raw if isinstance(result.raw, dict) else {"generated_text": result.generated_text}
    return CompletionResponse(text=result.generated_text, raw=raw, additional_kwargs=kwargs)


def text_generation_chunk_response(
    chunk: TextGenerationChunk, text: str, meta: ResponseMeta | None
) -> CompletionResponse:
    """One streamed text-generation token as a `CompletionResponse`.

    `text` is the core's text so far (the server's `generated_text` on the last event). Special
    tokens (end of sequence, …) are not part of the answer, so their `delta` is empty.
    """
    delta = "" if chunk.token.special else chunk.token.text
    kwargs = _served_by(meta)
    if chunk.details is not None and chunk.details.get("finish_reason") is not None:
        kwargs["finish_reason"] = chunk.details["finish_reason"]
    raw: dict[str, Any] = {
        "index": chunk.index,
        "token": {"id": chunk.token.id, "text": chunk.token.text, "special": chunk.token.special},
        "generated_text": chunk.generated_text,
        "details": chunk.details,
    }
    return CompletionResponse(text=text, delta=delta, raw=raw, additional_kwargs=kwargs)


class InvalidToolArgumentsError(OutputParserException, ValueError):
    """A finished (non-streamed) tool call whose arguments are not a JSON object."""


def tool_selections(response: ChatResponse, error_on_no_tool_call: bool) -> list[ToolSelection]:
    """The tool calls of a response, with arguments parsed from a dict or a (partial) JSON string.

    While streaming, arguments are incomplete JSON: the core's `parse_partial_json` closes what
    is open, so FunctionAgent can show the call as it grows; unparseable ones become `{}`. A
    finished non-streamed response (`delta is None`) is read strictly: arguments that are not a
    JSON object raise `InvalidToolArgumentsError`, so structured output never gets a repaired
    or empty object silently.
    """
    blocks = [block for block in response.message.blocks if isinstance(block, ToolCallBlock)]
    calls = [(b.tool_call_id, b.tool_name, b.tool_kwargs) for b in blocks]
    if not calls:
        calls = [
            _legacy_selection(call)
            for call in response.message.additional_kwargs.get("tool_calls") or []
        ]
    if not calls:
        if error_on_no_tool_call:
            raise ValueError("Expected at least one tool call, but the response has none.")
        return []
    strict = response.delta is None
    return [
        ToolSelection(
            tool_id=call_id or "",
            tool_name=name,
            tool_kwargs=_strict_arguments(name, arguments)
            if strict
            else _parse_arguments(arguments),
        )
        for call_id, name, arguments in calls
    ]


def _strict_arguments(name: str, arguments: Mapping[str, Any] | str | None) -> dict[str, Any]:
    if isinstance(arguments, Mapping):
        return dict(arguments)
    try:
        value = json.loads(arguments or "{}")
    except ValueError as exc:
        raise InvalidToolArgumentsError(
            f"The model called {name!r} with arguments that are not valid JSON ({exc}): "
            f"{(arguments or '')[:200]!r}"
        ) from None
    if not isinstance(value, dict):
        raise InvalidToolArgumentsError(
            f"The model called {name!r} with arguments that are not a JSON object: "
            f"{(arguments or '')[:200]!r}"
        )
    return value


def _legacy_selection(call: Any) -> tuple[str | None, str, Any]:
    as_dict = _legacy_tool_call(call)
    return as_dict.get("id"), as_dict["function"]["name"], as_dict["function"]["arguments"]


def _parse_arguments(arguments: Mapping[str, Any] | str | None) -> dict[str, Any]:
    if isinstance(arguments, Mapping):
        return dict(arguments)
    # The core's parser keeps a half-streamed string value ('{"city": "Par' → "Par"), where
    # llama_index's own helper turns it into None.
    from hfproviders import parse_partial_json  # loaded with the core by the first model

    value = parse_partial_json(arguments or "")
    return value if isinstance(value, dict) else {}


# --------------------------------------------------------------------------- parameters

_TOOL_ONLY_PARAMS = ("tool_choice", "parallel_tool_calls")


def chat_params(
    defaults: Mapping[str, Any], additional: Mapping[str, Any], call: Mapping[str, Any]
) -> dict[str, Any]:
    """Merge the model's settings, `additional_kwargs` and per-call kwargs (later wins).

    Unset (`None`) values are not sent. Without tools, `tool_choice` and `parallel_tool_calls`
    are dropped: LlamaIndex's structured-output programs pass a `tool_choice` even when they send
    no tools, which OpenAILike forwards and providers reject (ANCHORS: #16526, #20790).
    """
    params = {**defaults, **additional, **call}
    params = {key: value for key, value in params.items() if value is not None}
    if not params.get("tools"):
        params.pop("tools", None)
        for key in _TOOL_ONLY_PARAMS:
            params.pop(key, None)
    return params


def text_generation_params(defaults: Mapping[str, Any], call: Mapping[str, Any]) -> dict[str, Any]:
    """Map the chat-style settings onto TGI's names (`max_tokens` → `max_new_tokens`)."""
    params = {key: value for key, value in defaults.items() if value is not None}
    if "max_tokens" in params:
        params["max_new_tokens"] = params.pop("max_tokens")
    params.update(call)
    return params


def keep_first_tool_call(response: ChatResponse) -> ChatResponse:
    """Drop every tool call but the first (for `allow_parallel_tool_calls=False`).

    Providers differ in honouring `parallel_tool_calls: false`, so the rule is also enforced here.
    """
    message = response.message
    calls = [block for block in message.blocks if isinstance(block, ToolCallBlock)]
    if len(calls) > 1:
        message.blocks = [b for b in message.blocks if not isinstance(b, ToolCallBlock)] + calls[:1]
        legacy = message.additional_kwargs.get("tool_calls")
        if isinstance(legacy, list):
            message.additional_kwargs["tool_calls"] = legacy[:1]
    return response
