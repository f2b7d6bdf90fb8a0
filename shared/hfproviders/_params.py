"""Request validation and body building (pure): bad input fails here, before any I/O.

Parameters are checked with pydantic models that are built on first use, so
`import hfproviders` does not pay for pydantic. Messages are checked by hand (a loop is cheaper
than a model per message) and re-shaped where providers are picky (WIRE.md §5).

Shapes that real servers answer are accepted and put in the standard form (with a warning where
the shape is unusual): a single string as the messages, `tool_choice` as a bare tool name, a
`json_schema` response format with the schema inline, a tool message without `tool_call_id`.
Only what could not work anywhere is refused.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from hfproviders._errors import (
    ConfigurationError,
    InvalidModelError,
    InvalidParameterError,
    InvalidRequestInputError,
    PromptTooLongError,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = [
    "CHAT_PARAMS",
    "TEXT_GENERATION_PARAMS",
    "build_chat_body",
    "build_text_generation_body",
    "check_base_url",
    "check_count",
    "check_header_value",
    "check_headers",
    "check_hub_model_id",
    "check_timeout",
    "check_token",
    "encode_body",
    "prepare_messages",
]

CHAT_PARAMS = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "stop",
        "seed",
        "frequency_penalty",
        "presence_penalty",
        "logprobs",
        "top_logprobs",
        "n",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "reasoning_effort",
        "user",
        "logit_bias",
    }
)
TEXT_GENERATION_PARAMS = frozenset(
    {
        "max_new_tokens",
        "temperature",
        "top_p",
        "top_k",
        "do_sample",
        "return_full_text",
        "stop",
        "seed",
        "repetition_penalty",
        "frequency_penalty",
        "details",
        "decoder_input_details",
        "truncate",
        "typical_p",
        "watermark",
        "grammar",
        "top_n_tokens",
        "best_of",
        "adapter_id",
    }
)
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


@cache
def _chat_model() -> type[BaseModel]:
    from typing import Annotated, Literal

    from pydantic import BaseModel, ConfigDict, Field

    class ChatParams(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=False)

        temperature: Annotated[float, Field(ge=0.0, le=2.0)] | None = None
        top_p: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
        max_tokens: Annotated[int, Field(ge=1)] | None = None
        stop: str | Annotated[list[str], Field(max_length=4)] | None = None
        seed: int | None = None
        frequency_penalty: Annotated[float, Field(ge=-2.0, le=2.0)] | None = None
        presence_penalty: Annotated[float, Field(ge=-2.0, le=2.0)] | None = None
        logprobs: bool | None = None
        top_logprobs: Annotated[int, Field(ge=0, le=20)] | None = None
        n: Annotated[int, Field(ge=1, le=128)] | None = None
        tools: list[dict[str, Any]] | None = None
        tool_choice: str | dict[str, Any] | None = None
        parallel_tool_calls: bool | None = None
        response_format: dict[str, Any] | None = None
        reasoning_effort: Literal["none", "minimal", "low", "medium", "high"] | None = None
        user: str | None = None
        logit_bias: dict[str, float] | None = None

    return ChatParams


@cache
def _text_generation_model() -> type[BaseModel]:
    from typing import Annotated

    from pydantic import BaseModel, ConfigDict, Field

    class TextGenerationParams(BaseModel):
        model_config = ConfigDict(extra="forbid")

        max_new_tokens: Annotated[int, Field(ge=1)] | None = None
        temperature: Annotated[float, Field(ge=0.0, le=100.0)] | None = None
        top_p: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
        top_k: Annotated[int, Field(ge=1)] | None = None
        do_sample: bool | None = None
        return_full_text: bool | None = None
        stop: list[str] | None = None
        seed: int | None = None
        repetition_penalty: Annotated[float, Field(gt=0.0)] | None = None
        frequency_penalty: Annotated[float, Field(ge=-2.0, le=2.0)] | None = None
        details: bool | None = None
        decoder_input_details: bool | None = None
        truncate: Annotated[int, Field(ge=1)] | None = None
        typical_p: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
        watermark: bool | None = None
        grammar: dict[str, Any] | None = None
        top_n_tokens: Annotated[int, Field(ge=0)] | None = None
        best_of: Annotated[int, Field(ge=1)] | None = None
        adapter_id: str | None = None

    return TextGenerationParams


def _validate(model: type[BaseModel], params: Mapping[str, Any], what: str) -> dict[str, Any]:
    from pydantic import ValidationError

    try:
        validated = model.model_validate(params)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or what}: {err['msg']}" for err in exc.errors()
        )
        raise InvalidParameterError(f"Invalid {what} parameters: {problems}") from None
    return validated.model_dump(exclude_none=True)


# The chat parameters most calls send, with what `ChatParams` accepts of them as they are:
# (kind, low, low inclusive, high). Declared in `ChatParams`' field order, which is the order
# `model_dump` writes them in (the body's bytes, and cache keys, stay the same).
_PLAIN_CHAT: dict[str, tuple[str, float, bool, float]] = {
    "temperature": ("float", 0.0, True, 2.0),
    "top_p": ("float", 0.0, False, 1.0),
    "max_tokens": ("int", 1, True, math.inf),
    "seed": ("int", -math.inf, True, math.inf),
    "frequency_penalty": ("float", -2.0, True, 2.0),
    "presence_penalty": ("float", -2.0, True, 2.0),
    "logprobs": ("bool", 0, True, 0),
    "top_logprobs": ("int", 0, True, 20),
    "n": ("int", 1, True, 128),
    "tools": ("tools", 0, True, 0),
    "parallel_tool_calls": ("bool", 0, True, 0),
    "user": ("str", 0, True, 0),
}


def _plain_chat_values(params: Mapping[str, Any]) -> dict[str, Any] | None:
    """What `_validate(ChatParams)` returns, when every parameter is a plain value it takes.

    Plain: a finite int or float in range for a float, an int in range for an int, a bool, a
    str, a list of dicts for `tools`, or None (dropped). Anything else (another parameter, a
    numeric string, a value out of range) returns None: pydantic then decides, and words the
    error. Skips about two thirds of the cost of a call's validation.
    """
    for name, value in params.items():
        if value is None and name in CHAT_PARAMS:
            continue
        spec = _PLAIN_CHAT.get(name)
        if spec is None:
            return None
        kind, low, inclusive, high = spec
        cls = type(value)
        if kind == "float" or kind == "int":
            if not (cls is int or (cls is float and kind == "float" and math.isfinite(value))):
                return None
            if not (low <= value <= high if inclusive else low < value <= high):
                return None
        elif kind == "bool" or kind == "str":
            if cls is not (bool if kind == "bool" else str):
                return None
        elif cls is not list or not all(
            type(tool) is dict and all(type(key) is str for key in tool) for tool in value
        ):
            return None
    values: dict[str, Any] = {}
    for name, (kind, _, _, _) in _PLAIN_CHAT.items():
        value = params.get(name)
        if value is not None:
            values[name] = (
                float(value) if kind == "float" else list(value) if kind == "tools" else value
            )
    return values


def _check_unknown(params: Mapping[str, Any], known: frozenset[str], what: str) -> None:
    unknown = sorted(set(params) - known)
    if unknown:
        raise InvalidParameterError(
            f"Unknown {what} parameter(s) {unknown}. Known: {sorted(known)}. "
            "Send provider-specific fields with extra_body={...}."
        )


def _normalize_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for position, tool in enumerate(tools):
        function = tool.get("function") if tool.get("type", "function") == "function" else None
        if not isinstance(function, Mapping):
            raise InvalidParameterError(
                f"tools[{position}] must be {{'type': 'function', 'function': {{'name': …}}}}"
            )
        name = function.get("name")
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            raise InvalidParameterError(
                f"tools[{position}].function.name must match {_TOOL_NAME.pattern}, got {name!r}"
            )
        parameters = function.get("parameters")
        if parameters is not None and not isinstance(parameters, Mapping):
            raise InvalidParameterError(f"tools[{position}].function.parameters must be an object")
        out.append({"type": "function", "function": dict(function)})
    return out


def _normalize_tool_choice(choice: str | dict[str, Any], tool_names: set[str]) -> Any:
    if isinstance(choice, str):
        if choice == "any":
            return "required"
        if choice in ("auto", "none", "required"):
            return choice
        if choice in tool_names:  # a bare tool name: the named form every provider reads
            return {"type": "function", "function": {"name": choice}}
        raise InvalidParameterError(
            f"tool_choice must be 'auto', 'none', 'required' (or 'any'), the name of one of the "
            f"tools, or {{'type': 'function', 'function': {{'name': …}}}}, got {choice!r}"
        )
    function = choice.get("function")
    name = function.get("name") if isinstance(function, Mapping) else None
    if not isinstance(name, str):
        raise InvalidParameterError("a named tool_choice needs {'function': {'name': …}}")
    if name not in tool_names:
        raise InvalidParameterError(f"tool_choice names {name!r}, which is not in tools")
    return {"type": "function", "function": {"name": name}}


def _check_response_format(fmt: dict[str, Any]) -> dict[str, Any]:
    kind = fmt.get("type")
    if kind in ("text", "json_object"):
        return fmt
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        if spec is None and isinstance(fmt.get("schema"), Mapping):
            spec = {"schema": fmt["schema"]}  # the schema one level up
        if isinstance(spec, Mapping) and "schema" not in spec:
            spec = _schema_inline(spec)
        if not isinstance(spec, Mapping) or not isinstance(spec.get("schema"), Mapping):
            raise InvalidParameterError(
                "response_format json_schema needs {'json_schema': {'name': …, 'schema': {…}}}"
            )
        fmt = {"type": "json_schema", "json_schema": spec}
        if not spec.get("name"):
            spec = {**spec, "name": "response"}
            fmt = {**fmt, "json_schema": spec}
        return fmt
    if kind in ("json", "regex"):  # TGI's native grammar format
        return fmt
    raise InvalidParameterError(
        f"response_format type must be text, json_object or json_schema, got {kind!r}"
    )


_SCHEMA_SPEC_KEYS = frozenset({"name", "description", "strict"})


def _schema_inline(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    """`{"name", "type": "object", "properties": …}` (schema fields inline) → the standard form."""
    schema = {k: v for k, v in spec.items() if k not in _SCHEMA_SPEC_KEYS}
    if not schema:
        return spec
    warnings.warn(
        "response_format json_schema has the schema fields inline; sending them as "
        "{'json_schema': {'name': …, 'schema': {…}}}, the form every provider reads",
        UserWarning,
        stacklevel=2,  # once per process (the default filter)
    )
    return {**{k: v for k, v in spec.items() if k in _SCHEMA_SPEC_KEYS}, "schema": schema}


def _fill_tool_call_ids(messages: list[Any]) -> None:
    """Give tool messages without `tool_call_id` the id of the call they answer (in place).

    TGI takes tool results without ids; OpenAI-compatible providers behind the router need them.
    A tool message answers the call with its `name`, else the next unanswered call of the latest
    assistant turn. With no call to match, it is sent as it is, with a warning.
    """
    pending: list[tuple[str, str | None]] = []  # (id, name) of calls not answered yet
    for position, message in enumerate(messages):
        role = message.get("role")
        if role == "assistant":
            pending = [
                (str(call["id"]), (call.get("function") or {}).get("name"))
                for call in message.get("tool_calls") or ()
                if isinstance(call, Mapping) and isinstance(call.get("id"), str) and call["id"]
            ]
        elif role == "tool":
            call_id = message.get("tool_call_id")
            if call_id:
                pending = [p for p in pending if p[0] != call_id]
                continue
            name = message.get("name")
            match = next((p for p in pending if name and p[1] == name), None)
            match = match or (pending[0] if pending else None)
            if match is None:
                warnings.warn(
                    f"messages[{position}] (role tool) has no tool_call_id and answers no "
                    "earlier tool call; TGI accepts it, most providers behind the router do not",
                    UserWarning,
                    stacklevel=2,  # once per process (the default filter)
                )
                continue
            pending.remove(match)
            messages[position] = {**message, "tool_call_id": match[0]}


def _arguments_as_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "{}"
    return json.dumps(value, ensure_ascii=False)


def _prepare_assistant(message: Mapping[str, Any], position: int) -> dict[str, Any]:
    raw_calls = message.get("tool_calls")
    if not isinstance(raw_calls, list | tuple):
        raise InvalidParameterError(f"messages[{position}].tool_calls must be a list")
    calls = []
    for number, call in enumerate(raw_calls):
        where = f"messages[{position}].tool_calls[{number}]"
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise InvalidParameterError(
                f"{where} must be {{'id': …, 'function': {{'name': …, 'arguments': …}}}}"
            )
        call_id = call.get("id")
        if call_id is not None and not isinstance(call_id, str):
            raise InvalidParameterError(f"{where}.id must be a string, got {call_id!r}")
        function = dict(function)
        arguments = function.get("arguments", function.pop("parameters", None))
        if arguments is not None and not isinstance(arguments, str | Mapping):
            raise InvalidParameterError(
                f"{where}.function.arguments must be a JSON string or an object"
            )
        function["arguments"] = _arguments_as_string(arguments)
        calls.append({"id": call_id, "type": "function", "function": function})
    out = dict(message)
    out["tool_calls"] = calls
    if out.get("content") is None:
        out["content"] = ""
    return out


def prepare_messages(
    messages: Sequence[Mapping[str, Any]], max_input_chars: int | None
) -> list[Any]:
    """Check the messages and re-shape what providers are picky about; count the prompt size.

    A single string is one user message.
    """
    if isinstance(messages, str) and messages:
        messages = [{"role": "user", "content": messages}]
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence):
        raise InvalidParameterError(
            "messages must be a non-empty string or a list of {'role': …, 'content': …} dicts"
        )
    if not messages:
        raise InvalidParameterError("messages must not be empty")
    out: list[Any] = []
    size = 0
    unanswered = False  # a tool message without tool_call_id
    for position, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise InvalidParameterError(
                f"messages[{position}] must be a dict, got {type(message).__name__}"
            )
        role = message.get("role")
        if role not in _ROLES:
            raise InvalidParameterError(
                f"messages[{position}].role {role!r} is not one of {sorted(_ROLES)}"
            )
        content = message.get("content")
        if isinstance(content, str):
            size += len(content)
        elif isinstance(content, list):
            for part in content:
                if not isinstance(part, Mapping):
                    raise InvalidParameterError(
                        f"messages[{position}].content parts must be dicts such as "
                        f"{{'type': 'text', 'text': …}}, got {type(part).__name__}"
                    )
                if isinstance(part.get("text"), str):
                    size += len(part["text"])
        elif content is not None:
            raise InvalidParameterError(
                f"messages[{position}].content must be a string, a list of parts or None"
            )
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id is not None and not isinstance(call_id, str):
                raise InvalidParameterError(
                    f"messages[{position}].tool_call_id must be a string, got {call_id!r}"
                )
            unanswered = unanswered or not call_id
        out.append(
            _prepare_assistant(message, position)
            if role == "assistant" and message.get("tool_calls")
            else message
        )
    if unanswered:
        _fill_tool_call_ids(out)
    if max_input_chars is not None and size > max_input_chars:
        raise PromptTooLongError(
            f"The prompt has {size:,} characters, over max_input_chars={max_input_chars:,}. "
            "Shorten it or raise max_input_chars."
        )
    return out


def build_chat_body(
    model: str,
    messages: Sequence[Mapping[str, Any]],
    params: Mapping[str, Any],
    *,
    stream: bool,
    stream_usage: bool,
    extra_body: Mapping[str, Any] | None,
    max_input_chars: int | None,
) -> dict[str, Any]:
    """Validate everything and return the JSON body for /chat/completions."""
    _check_unknown(params, CHAT_PARAMS, "chat")
    body: dict[str, Any] = {"model": model, "messages": prepare_messages(messages, max_input_chars)}
    if params:
        values = _plain_chat_values(params)
        if values is None:
            values = _validate(_chat_model(), params, "chat")
        tools = values.get("tools")
        if tools is not None:
            values["tools"] = _normalize_tools(tools)
        if "tool_choice" in values:
            if not values.get("tools"):
                raise InvalidParameterError("tool_choice was given without tools")
            names = {t["function"]["name"] for t in values["tools"]}
            values["tool_choice"] = _normalize_tool_choice(values["tool_choice"], names)
        if "parallel_tool_calls" in values and not values.get("tools"):
            del values["parallel_tool_calls"]  # meaningless without tools; some providers reject it
        if "response_format" in values:
            values["response_format"] = _check_response_format(values["response_format"])
        if "top_logprobs" in values and not values.get("logprobs"):
            raise InvalidParameterError("top_logprobs needs logprobs=True")
        body.update(values)
    if stream:
        body["stream"] = True
        if stream_usage:
            body["stream_options"] = {"include_usage": True}
    if extra_body:
        body.update(extra_body)
    return body


def build_text_generation_body(
    prompt: str,
    params: Mapping[str, Any],
    *,
    stream: bool,
    extra_body: Mapping[str, Any] | None,
    max_input_chars: int | None,
) -> dict[str, Any]:
    """Validate and return the TGI body `{"inputs": …, "parameters": {…}, "stream": …}`."""
    if not isinstance(prompt, str) or not prompt:
        raise InvalidParameterError("prompt must be a non-empty string")
    if max_input_chars is not None and len(prompt) > max_input_chars:
        raise PromptTooLongError(
            f"The prompt has {len(prompt):,} characters, over max_input_chars={max_input_chars:,}."
        )
    _check_unknown(params, TEXT_GENERATION_PARAMS, "text-generation")
    values = _validate(_text_generation_model(), params, "text-generation") if params else {}
    if values.get("temperature") == 0:
        # TGI rejects temperature 0; greedy decoding is what the caller means.
        del values["temperature"]
        values["do_sample"] = False
    body: dict[str, Any] = {"inputs": prompt, "parameters": values}
    if stream:
        body["stream"] = True
    if extra_body:
        body.update(extra_body)
    return body


# -- caller input that is not a request parameter: options, headers, tokens, URLs, the body -------

# RFC 9110 token characters: what a header name may be made of.
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_NOT_HEADER_TEXT = re.compile(r"[^\t\x20-\x7e]")
_NOT_TOKEN_TEXT = re.compile(r"[^\x21-\x7e]")
# Only ASCII whitespace is trimmed from a token: a no-break or zero-width space is a mangled paste.
_ASCII_SPACE = " \t\r\n"


def check_timeout(
    value: Any, name: str = "timeout", error: type[InvalidRequestInputError] = InvalidParameterError
) -> float | None:
    """A timeout in seconds: a finite positive number, or None. Strings and NaN are refused."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise error(f"{name} must be a number of seconds (or None), got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise error(f"{name} must be a finite number of seconds > 0, got {value!r}")
    return float(value)


def check_count(
    value: Any, name: str, error: type[InvalidRequestInputError] = InvalidParameterError
) -> int:
    """A whole number >= 0 (1.5, True and "2" are refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise error(f"{name} must be a whole number >= 0, got {value!r}")
    return value


def check_header_value(name: str, value: Any) -> str:
    """A header value we can send as is: a string of visible ASCII (and spaces), no CR/LF.

    The error names the position and the character, never the value (it may be a secret).
    """
    if not isinstance(value, str):
        raise InvalidParameterError(
            f"header {name!r} must have a string value, got {type(value).__name__}"
        )
    bad = _NOT_HEADER_TEXT.search(value)
    if bad is not None:
        raise InvalidParameterError(
            f"header {name!r} has {_describe(bad.group())} at position {bad.start()}, which "
            "HTTP headers cannot carry: header values are ASCII without line breaks"
        )
    return value


def check_headers(headers: Mapping[str, Any] | None, what: str = "headers") -> dict[str, str]:
    """Header names and values as they will be sent; a bad one raises before anything is sent."""
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise InvalidParameterError(
            f"{what} must be a dict of strings, got {type(headers).__name__}"
        )
    out: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise InvalidParameterError(f"{what}: {name!r} is not a valid header name")
        out[name] = check_header_value(name, value)
    return out


def check_token(token: str, source: str) -> str:
    """The token without surrounding whitespace; inner spaces or invisible characters raise.

    The error names the position and the kind of character, never any part of the token.
    """
    token = token.strip(_ASCII_SPACE)  # a trailing newline from a file or a paste is harmless
    if not token:
        raise ConfigurationError(f"The token from {source} is empty")
    bad = _NOT_TOKEN_TEXT.search(token)
    if bad is not None:
        raise ConfigurationError(
            f"The token from {source} has {_describe(bad.group())} at position {bad.start()}: "
            "tokens are visible ASCII only. It was probably mangled when copied; copy it again "
            "(for Hugging Face: https://huggingface.co/settings/tokens)."
        )
    return token


def check_base_url(url: Any) -> str:
    """An http(s) URL with a host and a valid port, without spaces, controls or non-ASCII."""
    if not isinstance(url, str):
        raise ConfigurationError(f"base_url must be a string, got {type(url).__name__}")
    from urllib.parse import urlsplit

    if _NOT_TOKEN_TEXT.search(url):
        raise ConfigurationError(
            "base_url must be an http(s) URL without spaces, control or non-ASCII characters"
        )
    try:
        parts = urlsplit(url)
        port = parts.port  # raises for a port out of range or not a number
    except ValueError as exc:
        raise ConfigurationError(f"base_url {_shown(url)!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"base_url must be an http(s) URL, got {_shown(url)!r}")
    del port
    return url


def _shown(url: str) -> str:
    """`url` for an error message: credentials in it (`user:key@host`) are not shown."""
    scheme, at, rest = url.rpartition("@")
    return f"{scheme.split('//')[0]}//***@{rest}" if at and "//" in scheme else url


def check_hub_model_id(model: Any) -> str:
    """A Hub repo id (`org/name`, any `:provider` suffix ignored) safe to put in a Hub URL.

    No `..`, `--`, `?`, `#` or anything outside letters, digits, `.`, `_`, `-` and one `/`.
    """
    from hfproviders._routing import split_model

    base, _ = split_model(model, strict=True)
    if ".." in base or "--" in base or len(base) > 200:
        raise InvalidModelError(f"Malformed model id {model!r}: not a Hugging Face repo id")
    return base


def encode_body(body: Mapping[str, Any]) -> bytes:
    """The JSON bytes of a request body; anything JSON cannot carry raises before sending.

    NaN and infinities (in any parameter, tool schema or `extra_body`), values JSON has no form
    for (a set, bytes, an object), and absurd nesting raise `InvalidParameterError` naming where.
    """
    try:
        return json.dumps(body, ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        where = _first_unencodable(body, "body", 0)
        raise InvalidParameterError(f"The request cannot be sent as JSON: {where or exc}") from None


def _first_unencodable(value: Any, path: str, depth: int) -> str | None:
    """Where `value` stops being JSON (only walked once encoding failed)."""
    if depth > 200:
        return f"{path} is nested more than 200 levels deep"
    if value is None or isinstance(value, str | bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{path} is {value!r}, which JSON cannot carry"
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str | int | float | bool) and key is not None:
                return f"{path} has a key of type {type(key).__name__}"
            found = _first_unencodable(item, f"{path}.{key}", depth + 1)
            if found:
                return found
        return None
    if isinstance(value, list | tuple):
        for position, item in enumerate(value):
            found = _first_unencodable(item, f"{path}[{position}]", depth + 1)
            if found:
                return found
        return None
    return f"{path} is a {type(value).__name__}, which JSON cannot carry"


def _describe(char: str) -> str:
    import unicodedata

    name = unicodedata.name(char, "")
    label = "a space" if char == " " else "a line break" if char in "\r\n" else "a character"
    return f"{label} U+{ord(char):04X}{f' {name}' if name else ''}"
