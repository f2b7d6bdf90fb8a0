"""Streamed text responses built from validated templates instead of validated one by one.

A stream yields a `ChatResponse` per chunk, holding a `ChatMessage` and a `TextBlock`: building
the three through pydantic validation cost about as much as the core's whole per-chunk work.
For a chunk of a text-only answer the values are already valid (strings, and dicts this adapter
just made), and no validator derives anything from them (`ChatMessage`'s only acts on an
`images` key, which we never pass). So `text_chat_response` and `text_completion_response` fill
the objects the way validation would: each field in declaration order, the defaults of the
others, the same `model_fields_set`, no extra and no private state.

Proven once, at first use: the templates come from validated builds, and a build is compared
with a validated one field by field. Any difference (a llama-index-core with other fields or
validators) turns the shortcut off, and every response is validated as usual: a change costs
speed, never correctness.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    MessageRole,
    TextBlock,
)

__all__ = ["text_chat_response", "text_completion_response"]

_new = object.__new__
_set = object.__setattr__


def _validated_chat(text: str, delta: str, raw: Any, kwargs: dict[str, Any]) -> ChatResponse:
    message = ChatMessage(
        role=MessageRole.ASSISTANT, blocks=[TextBlock(text=text)], additional_kwargs={}
    )
    return ChatResponse(
        message=message, delta=delta, raw=raw, logprobs=None, additional_kwargs=kwargs
    )


def _validated_completion(
    text: str, delta: str, raw: Any, kwargs: dict[str, Any]
) -> CompletionResponse:
    return CompletionResponse(text=text, delta=delta, raw=raw, additional_kwargs=kwargs)


def _same(a: Any, b: Any) -> bool:
    """Whether two models hold the same pydantic state (values in order, fields set, the rest)."""
    return (
        type(a) is type(b)
        and list(a.__dict__.items()) == list(b.__dict__.items())
        and a.model_fields_set == b.model_fields_set
        and (a.__pydantic_extra__, a.__pydantic_private__)
        == (b.__pydantic_extra__, b.__pydantic_private__)
    )


def _template(obj: Any) -> tuple[dict[str, Any], frozenset[str]] | None:
    """An instance's values and fields set, or None if it cannot serve as a template."""
    if obj.__pydantic_extra__ is not None or obj.__pydantic_private__ is not None:
        return None
    return dict(obj.__dict__), frozenset(obj.model_fields_set)


def _instance(cls: type[Any], values: dict[str, Any], fields_set: frozenset[str]) -> Any:
    obj = _new(cls)
    _set(obj, "__dict__", values)
    _set(obj, "__pydantic_fields_set__", set(fields_set))
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj


class _Templates:
    """The validated templates, and whether building from them gives validated objects."""

    # The container fields filled afresh on every build (a template's own would be shared).
    renewed = frozenset({"blocks", "additional_kwargs", "raw"})
    block: dict[str, Any]
    block_set: frozenset[str]
    message: dict[str, Any]
    message_set: frozenset[str]
    chat: dict[str, Any]
    chat_set: frozenset[str]
    completion: dict[str, Any]
    completion_set: frozenset[str]

    def __init__(self) -> None:
        self.enabled = False
        chat = _validated_chat("probe", "p", {"id": "probe"}, {"provider": None})
        completion = _validated_completion("probe", "p", {"id": "probe"}, {"provider": None})
        block_t, message_t = _template(chat.message.blocks[0]), _template(chat.message)
        chat_t, completion_t = _template(chat), _template(completion)
        if block_t is None or message_t is None or chat_t is None or completion_t is None:
            return
        self.block, self.block_set = block_t
        self.message, self.message_set = message_t
        self.chat, self.chat_set = chat_t
        self.completion, self.completion_set = completion_t
        shared = [
            name
            for values in (self.block, self.message, self.chat, self.completion)
            for name, value in values.items()
            if isinstance(value, list | dict | set) and name not in self.renewed
        ]
        args = ("a b", "b", {"x": 1}, {"provider": "p"})
        fast_chat, slow_chat = self.chat_response(*args), _validated_chat(*args)
        pairs = [
            (fast_chat, slow_chat),
            (fast_chat.message, slow_chat.message),
            (fast_chat.message.blocks[0], slow_chat.message.blocks[0]),
            (self.completion_response(*args), _validated_completion(*args)),
        ]
        self.enabled = not shared and all(_same(a, b) for a, b in pairs)

    def chat_response(
        self, text: str, delta: str, raw: Any, kwargs: dict[str, Any]
    ) -> ChatResponse:
        block = self.block.copy()
        block["text"] = text
        message = self.message.copy()
        message["blocks"] = [_instance(TextBlock, block, self.block_set)]
        message["additional_kwargs"] = {}
        values = self.chat.copy()
        values["message"] = _instance(ChatMessage, message, self.message_set)
        values["delta"] = delta
        values["raw"] = raw
        values["additional_kwargs"] = kwargs
        response: ChatResponse = _instance(ChatResponse, values, self.chat_set)
        return response

    def completion_response(
        self, text: str, delta: str, raw: Any, kwargs: dict[str, Any]
    ) -> CompletionResponse:
        values = self.completion.copy()
        values["text"] = text
        values["delta"] = delta
        values["raw"] = raw
        values["additional_kwargs"] = kwargs
        response: CompletionResponse = _instance(CompletionResponse, values, self.completion_set)
        return response


_templates: _Templates | None = None


def _ready() -> _Templates:
    global _templates
    if _templates is None:
        _templates = _Templates()
    return _templates


def text_chat_response(
    text: str, delta: str, raw: Any, additional_kwargs: dict[str, Any]
) -> ChatResponse:
    """`ChatResponse(message=<assistant, one TextBlock(text)>, delta, raw, logprobs=None, ...)`.

    `raw` and `additional_kwargs` must be new objects (they are not copied).
    """
    templates = _templates or _ready()
    if templates.enabled:
        return templates.chat_response(text, delta, raw, additional_kwargs)
    return _validated_chat(text, delta, raw, additional_kwargs)


def text_completion_response(
    text: str, delta: str, raw: Any, additional_kwargs: dict[str, Any]
) -> CompletionResponse:
    """`CompletionResponse(text=text, delta=delta, raw=raw, additional_kwargs=...)`."""
    templates = _templates or _ready()
    if templates.enabled:
        return templates.completion_response(text, delta, raw, additional_kwargs)
    return _validated_completion(text, delta, raw, additional_kwargs)
