"""Provider quirks, normalised once (WIRE.md §4–5), so adapters never see them.

- tool-call `arguments` as a dict or a string (and old TGI's `parameters`) → always a JSON string;
- missing, integer, numeric (`"0"`) or repeated tool-call ids → stable, unique `call_…` ids;
- `index: -1` or a missing index → a real index (merge by index, else by id, else a new call);
- `finish_reason: "stop"` (or TGI's `eos_token`) with tool calls → `tool_calls`;
- reasoning from `reasoning_content`, `reasoning`, or inline `<think>…</think>` (also when only the
  closing tag arrives because the chat template opened the block) → `reasoning`, never content;
  once a reasoning field has been seen, content is the answer; under a JSON `response_format` an
  answer that starts as JSON is the answer; stream and non-stream split the same bytes the same way;
- logprobs: token `bytes` as a list of ints (novita sends base64), `top_logprobs` always a list;
- one choice per chunk and `n` not asked: choice 0, whatever `index` says (TGI 1.4 counts tokens);
- a 200 stream with only `[DONE]`: an empty answer with `finish_reason: "stop"`;
- usage in every chunk (running totals) or in one final `choices: []` chunk → one usage, last;
- a stream that never sends a finish_reason gets one at the end.

Everything here is pure: dicts in, result types out. The per-chunk path avoids allocations that a
plain parse would not need.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from hfproviders._types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    Choice,
    ChoiceDelta,
    ChunkChoice,
    FunctionCall,
    FunctionDelta,
    ResponseMeta,
    TextGeneration,
    TextGenerationChunk,
    TokenInfo,
    ToolCall,
    ToolCallDelta,
    Usage,
)

__all__ = [
    "ChatReading",
    "ChunkAccumulator",
    "StreamNormalizer",
    "ThinkSplitter",
    "chat_reading",
    "completion_to_chunks",
    "normalize_logprobs",
    "opens_think_block",
    "parse_chat_completion",
    "parse_partial_json",
    "parse_text_generation",
    "parse_text_generation_event",
    "parse_usage",
    "split_think",
    "template_opens_think",
]

_OPEN = "<think>"
_CLOSE = "</think>"
_FINISH_ALIASES = {"eos_token": "stop", "stop_sequence": "stop"}
# Chat templates of these families open the <think> block themselves, so the answer starts
# inside it and only the closing tag arrives.
_TEMPLATE_OPENS_THINK = re.compile(r"deepseek-r1|qwq|thinking|-r1-distill", re.IGNORECASE)


_JSON_FORMATS = frozenset({"json_object", "json_schema", "json"})


def opens_think_block(model: str, from_template: bool | None = None) -> bool:
    """Whether the model's chat template opens a `<think>` block before the answer starts.

    `from_template` is what the model's own chat template says (`template_opens_think`), when
    it is known; the model name is only the fallback guess.
    """
    if from_template is not None:
        return from_template
    return _name_opens_think(model)


@lru_cache(maxsize=256)
def _name_opens_think(model: str) -> bool:
    return bool(_TEMPLATE_OPENS_THINK.search(model))


def template_opens_think(chat_template: Any) -> bool | None:
    r"""Whether a Jinja chat template's generation prompt opens a `<think>` block (None: unknown).

    DeepSeek-R1 and QwQ end the generation prompt with `<think>\n`; Qwen3's hybrid template only
    writes `<think>\n\n</think>` to turn thinking off, which leaves the model to open its own.
    `chat_template` is the Hub's `tokenizer_config.chat_template`: a string, or a list of
    `{"name", "template"}` with a "default" entry.
    """
    if isinstance(chat_template, list):
        named = {
            item.get("name"): item.get("template")
            for item in chat_template
            if isinstance(item, Mapping)
        }
        chat_template = named.get("default", next(iter(named.values()), None))
    if not isinstance(chat_template, str) or not chat_template:
        return None
    start = chat_template.rfind("add_generation_prompt")
    if start == -1:
        return False
    prompt = chat_template[start:]
    opened = prompt.rfind(_OPEN)
    return opened != -1 and _CLOSE not in prompt[opened:]


@dataclass(frozen=True, slots=True)
class ChatReading:
    """What the request tells the reader of its answer (one per call, built by `chat_reading`).

    - `template_opens_think`: the answer starts inside a `<think>` block the template opened;
    - `tool_names`: the tools offered (to recover calls a provider wrote as text);
    - `structured`: a JSON `response_format` was asked (an answer that starts as JSON is one);
    - `single_choice`: `n` was not asked, so a one-choice chunk is choice 0 whatever its index.
    """

    template_opens_think: bool = False
    tool_names: frozenset[str] | None = None
    structured: bool = False
    single_choice: bool = True


def chat_reading(
    model: str, body: Mapping[str, Any], template_opens: bool | None = None
) -> ChatReading:
    """How to read the answer to the chat request `body` for `model`.

    `template_opens` is what the model's chat template says (from the discovery cache), when
    known; otherwise the model name decides (`opens_think_block`).
    """
    tools = body.get("tools") or ()
    opens = opens_think_block(model, template_opens)
    if not tools and body.get("response_format") is None and body.get("n") is None:
        return _PLAIN_READINGS[opens]  # most calls: one of two readings, made once
    names = frozenset(
        t["function"]["name"]
        for t in tools
        if isinstance(t, Mapping)
        and isinstance(t.get("function"), Mapping)
        and isinstance(t["function"].get("name"), str)
    )
    fmt = body.get("response_format")
    n = body.get("n")
    return ChatReading(
        template_opens_think=opens,
        tool_names=names or None,
        structured=isinstance(fmt, Mapping) and fmt.get("type") in _JSON_FORMATS,
        single_choice=not isinstance(n, int) or n <= 1,
    )


_PLAIN_READINGS = {False: ChatReading(), True: ChatReading(template_opens_think=True)}


def synthesize_tool_call_id(seed: str, index: int) -> str:
    """A stable id for a tool call that came without a usable one (same input, same id)."""
    import hashlib  # only for calls that came without a usable id

    digest = hashlib.sha1(f"{seed}#{index}".encode(), usedforsecurity=False).hexdigest()
    return f"call_{digest[:24]}"


def _usable_id(value: Any, used: set[str]) -> bool:
    return isinstance(value, str) and bool(value) and not value.isdigit() and value not in used


def _arguments_text(function: Mapping[str, Any]) -> str | None:
    value = function.get("arguments")
    if value is None:
        value = function.get("parameters")  # very old TGI
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _text_of(content: Any) -> str | None:
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return str(content)


def parse_usage(raw: Any) -> Usage | None:
    """Read an OpenAI-style usage object, with cached and reasoning token details."""
    if not isinstance(raw, Mapping):
        return None
    prompt = _count(raw.get("prompt_tokens")) or 0
    completion = _count(raw.get("completion_tokens")) or 0
    total = _count(raw.get("total_tokens"))
    prompt_details = raw.get("prompt_tokens_details")
    completion_details = raw.get("completion_tokens_details")
    cached = prompt_details.get("cached_tokens") if isinstance(prompt_details, Mapping) else None
    reasoning = (
        completion_details.get("reasoning_tokens")
        if isinstance(completion_details, Mapping)
        else None
    )
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=total if total is not None else prompt + completion,
        reasoning_tokens=_count(reasoning),
        cached_tokens=_count(cached),
        raw=raw if isinstance(raw, dict) else dict(raw),
    )


# A count or timestamp beyond this is not one (`1e400`, `Infinity`, 400 digits): read as absent.
_MAX_WHOLE = 2**53


def _count(value: Any) -> int | None:
    """A token count as sent (int, float or numeric string); None for anything else.

    NaN, infinities and absurd magnitudes read as None, never as an OverflowError.
    """
    if type(value) is int:  # the common case (a bool is not an int here)
        return value if -_MAX_WHOLE <= value <= _MAX_WHOLE else None
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value.isdigit() or len(value) > 16:
            return None
        value = int(value)
    if isinstance(value, int | float) and -_MAX_WHOLE <= value <= _MAX_WHOLE:
        return int(value)  # NaN fails the comparison above
    return None


def _whole(value: Any) -> int:
    """An id, index or timestamp as sent; 0 when missing or unreadable (never raises)."""
    return _count(value) or 0


def normalize_logprobs(raw: Any) -> dict[str, Any] | None:
    """OpenAI-shaped logprobs whatever the provider sent, or None.

    Each token of `content` (and `refusal`) has a string `token`, a float `logprob`, `bytes` as
    a list of ints (novita sends a base64 string; missing bytes are the token's UTF-8) and
    `top_logprobs` as a list (missing → `[]`). Entries without a token or a number are dropped.
    """
    if not isinstance(raw, Mapping):
        return None
    out = dict(raw)
    for key in ("content", "refusal"):
        items = raw.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            out[key] = None
            continue
        out[key] = [t for item in items if (t := _token_logprob(item, nested=True)) is not None]
    return out


def _token_logprob(item: Any, *, nested: bool) -> dict[str, Any] | None:
    if not isinstance(item, Mapping):
        return None
    token = item.get("token")
    logprob = item.get("logprob")
    if (
        not isinstance(token, str)
        or isinstance(logprob, bool)
        or not isinstance(logprob, int | float)
        or math.isnan(logprob)
    ):
        return None
    out = dict(item)
    out["logprob"] = float(logprob)
    out["bytes"] = _token_bytes(item.get("bytes"), token)
    if nested:
        top = item.get("top_logprobs")
        out["top_logprobs"] = (
            [t for alt in top if (t := _token_logprob(alt, nested=False)) is not None]
            if isinstance(top, list)
            else []
        )
    return out


def _token_bytes(value: Any, token: str) -> list[int]:
    if isinstance(value, list) and all(
        isinstance(b, int) and not isinstance(b, bool) and 0 <= b < 256 for b in value
    ):
        return value
    if isinstance(value, str) and value:
        import base64  # only for providers that send bytes as base64 (novita)
        import binascii

        try:
            return list(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            pass
    return list(token.encode("utf-8", "surrogatepass"))


def split_think(
    content: str, template_opens: bool = False, structured: bool = False
) -> tuple[str | None, str]:
    """Split inline reasoning out of an answer: returns (reasoning, answer).

    Handles `<think>…</think>answer`, `…</think>answer` (template opened the block), and a
    `<think>` never closed (output cut by max_tokens: all of it is reasoning). With
    `template_opens` and no `</think>` at all, the whole text is reasoning, except an answer that
    starts as JSON under a JSON `response_format` (`structured`). `ThinkSplitter` streams the
    same split.
    """
    stripped = content.lstrip()
    if stripped.startswith(_OPEN):
        body = stripped[len(_OPEN) :]
        end = body.find(_CLOSE)
        if end == -1:
            return body.strip() or None, ""
        return body[:end].strip() or None, body[end + len(_CLOSE) :].lstrip()
    end = content.find(_CLOSE)
    if end != -1:
        return content[:end].strip() or None, content[end + len(_CLOSE) :].lstrip()
    if template_opens and stripped and not (structured and stripped[0] in "{["):
        return stripped.rstrip(), ""
    return None, content


def _join_reasoning(first: str | None, second: str | None) -> str | None:
    if first and second:
        return f"{first}\n{second}"
    return first or second


_DEFAULT_READING = ChatReading()


class _IdAllocator:
    """Hands out unique tool-call ids within one response."""

    __slots__ = ("seed", "used")

    def __init__(self, seed: str) -> None:
        self.seed = seed
        self.used: set[str] = set()

    def assign(self, candidate: Any, index: int) -> str:
        if _usable_id(candidate, self.used):
            value: str = candidate
        else:
            value = synthesize_tool_call_id(self.seed, index)
            while value in self.used:
                value = synthesize_tool_call_id(value, index)
        self.used.add(value)
        return value


def _tool_calls_from_content(
    content: str | None, tool_names: frozenset[str] | None
) -> list[tuple[str, str]] | None:
    """Recover tool calls that together sent as text (`[{"name": …, "parameters": …}]`)."""
    if not content or not tool_names:
        return None
    text = content.strip()
    if not text.startswith(("[", "{")):
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    items = value if isinstance(value, list) else [value]
    calls: list[tuple[str, str]] = []
    for item in items:
        if not isinstance(item, Mapping) or item.get("name") not in tool_names:
            return None
        args = item.get("arguments", item.get("parameters", {}))
        calls.append((str(item["name"]), args if isinstance(args, str) else json.dumps(args)))
    return calls or None


def parse_chat_completion(
    data: Mapping[str, Any], meta: ResponseMeta, reading: ChatReading | None = None
) -> ChatCompletion:
    """Build a normalised ChatCompletion from a non-streamed response body."""
    reading = reading or _DEFAULT_READING
    tool_names = reading.tool_names
    response_id = str(data.get("id") or "")
    model = str(data.get("model") or "")
    created = _whole(data.get("created"))
    ids = _IdAllocator(f"{response_id}|{created}|{model}")
    choices: list[Choice] = []
    raw_choices = [raw for raw in data.get("choices") or () if isinstance(raw, Mapping)]
    one_choice = reading.single_choice and len(raw_choices) == 1
    for position, raw in enumerate(raw_choices):
        message = raw.get("message") or {}
        content = _text_of(message.get("content"))
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        if not isinstance(reasoning, str):
            reasoning = None
        if content:
            # A provider that sends reasoning in its own field sends the answer as content.
            opens = reading.template_opens_think and not reasoning
            inline, content = split_think(content, opens, reading.structured)
            reasoning = _join_reasoning(reasoning, inline)
        tool_calls: list[ToolCall] = []
        for number, call in enumerate(message.get("tool_calls") or ()):
            if not isinstance(call, Mapping):
                continue
            function = call.get("function") or {}
            tool_calls.append(
                ToolCall(
                    id=ids.assign(call.get("id"), number),
                    function=FunctionCall(
                        name=str(function.get("name") or ""),
                        arguments=_arguments_text(function) or "{}",
                    ),
                )
            )
        if not tool_calls:
            recovered = _tool_calls_from_content(content, tool_names)
            if recovered:
                tool_calls = [
                    ToolCall(id=ids.assign(None, n), function=FunctionCall(name, args))
                    for n, (name, args) in enumerate(recovered)
                ]
                content = None
        finish = raw.get("finish_reason")
        if isinstance(finish, str):
            finish = _FINISH_ALIASES.get(finish, finish)
        if tool_calls and finish in (None, "stop"):
            finish = "tool_calls"
        index = raw.get("index")
        if one_choice or not isinstance(index, int) or index < 0:
            index = position
        choices.append(
            Choice(
                index=index,
                message=ChatMessage(content=content, reasoning=reasoning, tool_calls=tool_calls),
                finish_reason=finish,
                logprobs=normalize_logprobs(raw.get("logprobs")),
            )
        )
    return ChatCompletion(
        id=response_id,
        model=model,
        created=created,
        choices=choices,
        usage=parse_usage(data.get("usage")),
        system_fingerprint=data.get("system_fingerprint"),
        meta=meta,
        raw=data if isinstance(data, dict) else dict(data),
    )


class ThinkSplitter:
    """Streaming twin of `split_think`: routes each content piece to reasoning or answer.

    The pieces it returns join to exactly what `split_think` gives for the whole text. Tags may
    be cut between chunks (`<thi` + `nk>`), so a possible tag prefix at the end of a piece is
    held back until the next one, and so is whitespace at the end of reasoning (dropped if the
    block closes). `orphan_close` becomes True when a `</think>` arrives without an opening tag:
    everything streamed before it as answer was in fact reasoning.
    """

    __slots__ = (
        "_held",
        "_no_tag_state",
        "_skip_space",
        "_state",
        "_structured",
        "_tagged",
        "orphan_close",
    )

    def __init__(self, template_opens: bool = False, structured: bool = False) -> None:
        # "start": nothing seen yet; "think": inside the block; "answer": no block seen (a lone
        # closing tag may still come); "done": the block has closed, the rest is answer.
        self._state = "start"
        # Where text goes when the answer does not start with <think>: a template that opened
        # the block itself means we are already inside it.
        self._no_tag_state = "think" if template_opens else "answer"
        self._structured = structured
        self._tagged = False  # the block was opened by a <think> in the content
        self._skip_space = False  # drop the whitespace that starts the current section
        self._held = ""
        self.orphan_close = False

    def separate_reasoning(self) -> None:
        """The provider sends reasoning in its own field: content is the answer from now on."""
        self._no_tag_state = "answer"
        if self._state == "think" and not self._tagged:
            self._state = "answer"
            self._skip_space = False

    @property
    def passes_through(self) -> bool:
        """Whether a piece without `<` is answer as it stands (what `feed` returns for it)."""
        return (
            (self._state == "answer" or self._state == "done")
            and not self._held
            and not self._skip_space
        )

    def feed(self, text: str) -> tuple[str | None, str | None]:
        """Return (reasoning, answer) pieces for this content piece (None when empty)."""
        state = self._state
        if (
            (state == "answer" or state == "done")
            and not self._held
            and not self._skip_space
            and "<" not in text
        ):
            return None, text
        text = self._held + text
        self._held = ""
        if state == "start":
            stripped = text.lstrip()
            if not stripped or _OPEN.startswith(stripped):
                self._held = text  # whitespace so far, or maybe the start of "<think>"
                return None, None
            if stripped.startswith(_OPEN):
                state = "think"
                self._tagged = True
                text = stripped[len(_OPEN) :]
            elif self._structured and stripped[0] in "{[":
                state = "answer"  # JSON asked for and JSON coming: the answer
            else:
                state = self._no_tag_state
            self._skip_space = state == "think"
            self._state = state
        if state == "done":
            return None, self._skip(text) or None
        end = text.find(_CLOSE)
        if end != -1:
            if state == "answer":
                self.orphan_close = True  # what was streamed as answer was reasoning
            reasoning = self._skip(text[:end].rstrip())
            self._state = "done"
            self._skip_space = True
            return reasoning or None, self._skip(text[end + len(_CLOSE) :]) or None
        keep = _partial_suffix(text, _CLOSE)
        if keep:
            self._held = text[-keep:]
            text = text[:-keep]
        if state == "think":
            body = text.rstrip()  # trailing whitespace waits: it is dropped if the block closes
            self._held = text[len(body) :] + self._held
            return self._skip(body) or None, None
        return None, text or None

    def _skip(self, text: str) -> str:
        if self._skip_space and text:
            text = text.lstrip()
            self._skip_space = not text
        return text

    def flush(self) -> tuple[str | None, str | None]:
        """End of stream: release any held-back text."""
        held, self._held = self._held, ""
        if not held:
            return None, None
        thinking = self._state == "think" or (
            self._state == "start" and self._no_tag_state == "think" and held.strip()
        )
        if thinking:
            return self._skip(held.rstrip()) or None, None
        return None, self._skip(held) or None


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `tag`."""
    if "<" not in text[-len(tag) :]:
        return 0
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class _ChoiceState:
    """What the normaliser tracks per choice: tool-call slots, finish reason, the think splitter."""

    __slots__ = ("finish_reason", "reasoning_field", "slots", "splitter", "tool_calls")

    def __init__(self, reading: ChatReading) -> None:
        self.tool_calls: dict[int, list[Any]] = {}  # index -> [id, name, [argument pieces]]
        self.slots: dict[tuple[str, Any], int] = {}
        self.finish_reason: str | None = None
        self.reasoning_field = False
        self.splitter = ThinkSplitter(reading.template_opens_think, reading.structured)


def _joined(pieces: list[str]) -> str:
    """The text of `pieces`, which are collapsed into that one string (so a re-read is free)."""
    if len(pieces) > 1:
        pieces[:] = ["".join(pieces)]
    return pieces[0] if pieces else ""


class _MergedChoice:
    """One choice as merged so far.

    Text arrives as pieces appended to lists and is joined only when read: `str +=` on an
    attribute copies the whole string every time, which made a 200k-chunk stream quadratic.
    """

    __slots__ = ("calls", "finish_reason", "logprobs", "reasoning", "role", "text", "tool_calls")

    def __init__(self) -> None:
        self.logprobs: dict[str, Any] | None = None
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.role: str | None = None
        self.finish_reason: str | None = None
        # index -> [id, name, argument pieces so far]
        self.tool_calls: dict[int, list[Any]] = {}
        self.calls: list[ToolCall] | None = None  # built on read, until the next tool delta


def _merge_logprobs(merged: dict[str, Any] | None, piece: dict[str, Any]) -> dict[str, Any]:
    """Append a chunk's token logprobs to those merged so far (lists grow, in place)."""
    if merged is None:
        return {
            key: list(value) if isinstance(value, list) else value for key, value in piece.items()
        }
    for key, value in piece.items():
        if isinstance(value, list) and isinstance(merged.get(key), list):
            merged[key].extend(value)
        elif merged.get(key) is None:
            merged[key] = list(value) if isinstance(value, list) else value
    return merged


class ChunkAccumulator:
    """Merge normalised stream chunks into one ChatCompletion (what the streams use, too).

    Linear in the stream's size: `add` appends each piece (no copy of what came before), and
    `result()` joins the pieces that arrived since the last read, then keeps the joined text; tool
    calls are rebuilt only after a tool-call delta.
    """

    __slots__ = ("_choices", "_created", "_id", "_model", "_usage")

    def __init__(self) -> None:
        self._choices: dict[int, _MergedChoice] = {}
        self._id = ""
        self._model = ""
        self._created = 0
        self._usage: Usage | None = None

    def _state(self, index: int) -> _MergedChoice:
        state = self._choices.get(index)
        if state is None:
            state = self._choices[index] = _MergedChoice()
        return state

    def add(self, chunk: ChatCompletionChunk) -> None:
        """Fold one chunk in."""
        if chunk.id and not self._id:
            self._id = chunk.id
        if chunk.model and not self._model:
            self._model = chunk.model
        if chunk.created and not self._created:
            self._created = chunk.created
        if chunk.usage is not None:
            self._usage = chunk.usage
        for choice in chunk.choices:
            state = self._state(choice.index)
            delta = choice.delta
            if delta.content:
                state.text.append(delta.content)
            if delta.reasoning:
                state.reasoning.append(delta.reasoning)
            if delta.role and state.role is None:
                state.role = delta.role
            for call in delta.tool_calls:
                state.calls = None
                slot = state.tool_calls.get(call.index)
                if slot is None:
                    slot = state.tool_calls[call.index] = [call.id, call.function.name, []]
                else:
                    slot[0] = slot[0] or call.id
                    slot[1] = slot[1] or call.function.name
                if call.function.arguments:
                    slot[2].append(call.function.arguments)
            if choice.finish_reason:
                state.finish_reason = choice.finish_reason
            if choice.logprobs:
                state.logprobs = _merge_logprobs(state.logprobs, choice.logprobs)

    def reclassify_answer_as_reasoning(self, index: int, continued: bool = False) -> None:
        """Move the answer streamed so far to reasoning (a lone `</think>` arrived).

        `continued`: the chunk that closed the block carries more reasoning, so the moved text's
        trailing whitespace is inside the reasoning; otherwise it is trimmed, as `split_think` does.
        """
        state = self._state(index)
        text = _joined(state.text)
        moved = text.lstrip() if continued else text.strip()
        if moved:
            state.reasoning.append(moved)
        state.text.clear()

    def _calls(self, state: _MergedChoice) -> list[ToolCall]:
        if state.calls is None:
            seed = f"{self._id}|{self._created}|{self._model}"
            state.calls = [
                ToolCall(
                    id=slot[0] or synthesize_tool_call_id(seed, position),
                    function=FunctionCall(name=slot[1] or "", arguments=_joined(slot[2]) or "{}"),
                )
                for position, slot in sorted(state.tool_calls.items())
            ]
        return list(state.calls)

    def result(self, meta: ResponseMeta | None = None) -> ChatCompletion:
        """The completion accumulated so far."""
        choices: list[Choice] = []
        for index in sorted(self._choices) if len(self._choices) > 1 else self._choices:
            state = self._choices[index]
            calls = self._calls(state) if state.tool_calls else []
            text = _joined(state.text)
            choices.append(
                Choice(
                    index=index,
                    message=ChatMessage(
                        content=text if text or not calls else None,
                        reasoning=_joined(state.reasoning) or None,
                        tool_calls=calls,
                    ),
                    finish_reason=state.finish_reason,
                    logprobs=state.logprobs,
                )
            )
        return ChatCompletion(
            id=self._id,
            model=self._model,
            created=self._created,
            choices=choices,
            usage=self._usage,
            meta=meta if meta is not None else ResponseMeta(),
        )

    def text_only(self, index: int = 0) -> str | None:
        """Choice `index`'s text so far if that is all it holds, else None; nothing is built.

        None as soon as the choice has reasoning, tool calls or logprobs (read `result()` then).
        """
        state = self._choices.get(index)
        if state is None:
            return ""
        if state.reasoning or state.tool_calls or state.logprobs is not None:
            return None
        return _joined(state.text)


class StreamNormalizer:
    """Turn raw chat-stream event dicts into normalised chunks, and remember the whole answer.

    `feed(event)` returns the chunks to yield for one event (usually one); `finish()` returns the
    tail: flushed text, inferred finish reasons, and the single usage chunk.
    """

    __slots__ = (
        "_acc",
        "_choices",
        "_created",
        "_id",
        "_ids",
        "_model",
        "_reading",
        "_reclassify",
        "_usage",
    )

    def __init__(self, reading: ChatReading | None = None) -> None:
        self._reading = reading or _DEFAULT_READING
        self._choices: dict[int, _ChoiceState] = {}
        self._acc = ChunkAccumulator()
        self._ids: _IdAllocator | None = None
        self._usage: Usage | None = None
        self._id = ""
        self._model = ""
        self._created = 0
        # (chunk, choice index): when that chunk is delivered, the answer delivered before it
        # turns out to have been reasoning (a lone </think>).
        self._reclassify: list[tuple[ChatCompletionChunk, int]] = []

    @property
    def accumulator(self) -> ChunkAccumulator:
        """What has been delivered so far (for partial results on errors)."""
        return self._acc

    def deliver(self, chunk: ChatCompletionChunk) -> None:
        """Record that `chunk` was handed to the caller, so the accumulated view follows it."""
        while self._reclassify and self._reclassify[0][0] is chunk:
            index = self._reclassify.pop(0)[1]
            continued = any(c.index == index and c.delta.reasoning for c in chunk.choices)
            self._acc.reclassify_answer_as_reasoning(index, continued)
        self._acc.add(chunk)

    def feed(self, event: Mapping[str, Any]) -> list[ChatCompletionChunk]:
        """The chunks to hand out for one raw event (usually one)."""
        plain = self._plain_content(event)
        if plain is not None:
            return [plain]
        raw_usage = event.get("usage")
        if raw_usage:
            self._usage = parse_usage(raw_usage)
        raw_choices = event.get("choices")
        if not raw_choices:
            return []  # a usage-only chunk: its usage is re-emitted once, at the end
        if not self._id:
            self._id = str(event.get("id") or "")
            self._model = str(event.get("model") or "")
            self._created = _whole(event.get("created"))
        choices: list[ChunkChoice] = []
        reclassify: list[int] = []
        # n not asked and one choice per chunk: choice 0 (TGI 1.4 numbers it per token).
        one_choice = self._reading.single_choice and len(raw_choices) == 1
        for raw in raw_choices:
            index = 0 if one_choice else raw.get("index")
            if not isinstance(index, int) or index < 0:
                index = 0
            state = self._choices.get(index)
            if state is None:
                state = self._choices[index] = _ChoiceState(self._reading)
            delta = raw.get("delta") or {}
            content = delta.get("content")
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if not isinstance(reasoning, str):
                reasoning = None  # null, or a shape no provider documents
            elif not state.reasoning_field and reasoning:
                state.reasoning_field = True
                state.splitter.separate_reasoning()
            if content:
                if not isinstance(content, str):
                    content = _text_of(content) if isinstance(content, list) else None
                inline, content = state.splitter.feed(content or "")
                if state.splitter.orphan_close:
                    state.splitter.orphan_close = False
                    reclassify.append(index)
                reasoning = _join_reasoning(reasoning, inline) if inline else reasoning
            raw_calls = delta.get("tool_calls")
            calls = self._tool_call_deltas(state, raw_calls) if raw_calls else ()
            finish = raw.get("finish_reason")
            if finish is not None:
                finish = _FINISH_ALIASES.get(finish, finish)
                if finish == "stop" and state.tool_calls:
                    finish = "tool_calls"
                state.finish_reason = finish
            choices.append(
                ChunkChoice(
                    index,
                    ChoiceDelta(content or None, reasoning or None, calls, delta.get("role")),
                    finish,
                    normalize_logprobs(raw.get("logprobs")) if raw.get("logprobs") else None,
                )
            )
        chunk = ChatCompletionChunk(self._id, self._model, self._created, choices)
        self._reclassify.extend((chunk, index) for index in reclassify)
        return [chunk]

    def _plain_content(self, event: Mapping[str, Any]) -> ChatCompletionChunk | None:
        """The chunk for the common event under way (None: `feed` reads it in full).

        One choice of a single-choice answer, a text delta that is plain answer (no tag, the
        think splitter passing text through), and nothing else: no usage, finish reason, tool
        call, reasoning or logprobs. The chunk is the one the full reading gives.
        """
        state = self._choices.get(0)
        raw_choices = event.get("choices")
        if (
            state is None
            or not self._reading.single_choice
            or type(raw_choices) is not list
            or len(raw_choices) != 1
            or event.get("usage")
        ):
            return None
        raw = raw_choices[0]
        delta = raw.get("delta") if type(raw) is dict else None
        if type(delta) is not dict:
            return None
        content = delta.get("content")
        if (
            type(content) is not str
            or not content
            or "<" in content
            or raw.get("finish_reason") is not None
            or raw.get("logprobs")
            or delta.get("tool_calls")
            or delta.get("reasoning_content")
            or delta.get("reasoning")
            or not state.splitter.passes_through
        ):
            return None
        delta_out = ChoiceDelta(content, None, (), delta.get("role"))
        return ChatCompletionChunk(
            self._id, self._model, self._created, [ChunkChoice(0, delta_out, None, None)]
        )

    def _tool_call_deltas(
        self, state: _ChoiceState, raw_calls: Sequence[Any]
    ) -> list[ToolCallDelta]:
        if self._ids is None:
            self._ids = _IdAllocator(f"{self._id}|{self._created}|{self._model}")
        out: list[ToolCallDelta] = []
        for raw in raw_calls:
            if not isinstance(raw, Mapping):
                continue
            function = raw.get("function") or {}
            raw_index = raw.get("index")
            raw_id = raw.get("id")
            name = function.get("name") or None
            key: tuple[str, Any] | None
            if isinstance(raw_index, int) and raw_index >= 0:
                key = ("index", raw_index)
            elif isinstance(raw_id, str | int) and raw_id != "":
                key = ("id", raw_id)
            elif name is None and state.tool_calls:
                key = None  # a continuation without index or id: the latest call
            else:
                key = ("new", len(state.tool_calls))
            if key is None:
                index = max(state.tool_calls)
                slot_new = False
            else:
                found = state.slots.get(key)
                slot_new = found is None
                index = len(state.tool_calls) if found is None else found
                if found is None:
                    state.slots[key] = index
            arguments = _arguments_text(function) or ""
            if slot_new:
                call_id = self._ids.assign(raw_id, index)
                state.tool_calls[index] = [call_id, name, []]
                out.append(ToolCallDelta(index, FunctionDelta(name, arguments), call_id))
            else:
                slot = state.tool_calls[index]
                if slot[1] is None and name:
                    slot[1] = name
                else:
                    name = None
                out.append(ToolCallDelta(index, FunctionDelta(name, arguments), None, None))
        return out

    def finish(self, empty: bool = False) -> list[ChatCompletionChunk]:
        """The tail chunks: held-back text, missing finish reasons, then the usage chunk.

        `empty`: the stream ended properly (`[DONE]`) without a single event; that is an empty
        answer, finished (novita does this under `json_object`).
        """
        if empty and not self._choices:
            self._choices[0] = _ChoiceState(self._reading)
        tail: list[ChunkChoice] = []
        for index, state in sorted(self._choices.items()):
            reasoning, answer = state.splitter.flush()
            finish = None
            if state.finish_reason is None:
                finish = "tool_calls" if state.tool_calls else "stop"
                state.finish_reason = finish
            if reasoning or answer or finish:
                tail.append(ChunkChoice(index, ChoiceDelta(answer, reasoning), finish))
        chunks: list[ChatCompletionChunk] = []
        if tail:
            chunks.append(ChatCompletionChunk(self._id, self._model, self._created, tail))
        if self._usage is not None:
            chunks.append(
                ChatCompletionChunk(self._id, self._model, self._created, [], self._usage)
            )
        return chunks


def parse_text_generation(data: Any, meta: ResponseMeta) -> TextGeneration:
    """Read a TGI / hf-inference text-generation body: `[{"generated_text": …}]` or the dict."""
    item = data[0] if isinstance(data, list) and data else data
    if not isinstance(item, Mapping) or "generated_text" not in item:
        raise ValueError("not a text-generation response")
    details = item.get("details")
    return TextGeneration(
        generated_text=str(item.get("generated_text") or ""),
        details=dict(details) if isinstance(details, Mapping) else None,
        meta=meta,
        raw=data,
    )


def parse_text_generation_event(event: Mapping[str, Any]) -> TextGenerationChunk:
    """Read one TGI token-stream event."""
    token = event.get("token") or {}
    details = event.get("details")
    return TextGenerationChunk(
        index=_whole(event.get("index")),
        token=TokenInfo(
            id=_whole(token.get("id")),
            text=str(token.get("text") or ""),
            logprob=token.get("logprob"),
            special=bool(token.get("special")),
        ),
        generated_text=event.get("generated_text"),
        details=dict(details) if isinstance(details, Mapping) else None,
    )


def parse_partial_json(text: str) -> Any:
    """Parse JSON that may be cut short (tool arguments mid-stream): close what is open.

    Returns None when nothing sensible can be recovered. `'{"city": "Par'` gives
    `{"city": "Par"}`; `'{"a": [1, 2'` gives `{"a": [1, 2]}`.
    """
    text = text.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except RecursionError:
        return None
    except ValueError:
        pass
    closers: list[str] = []
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            closers.append("}" if char == "{" else "]")
        elif char in "}]" and closers:
            closers.pop()
    candidate = text + ('"' if in_string else "")
    # Drop a dangling key, colon or comma that cannot be completed.
    for _ in range(3):
        attempt = candidate + "".join(reversed(closers))
        try:
            return json.loads(attempt)
        except RecursionError:
            return None
        except ValueError:
            stripped = candidate.rstrip()
            if stripped.endswith((",", ":")):
                candidate = stripped[:-1]
            elif stripped.endswith('"') and closers and closers[-1] == "}":
                # a key without its value: cut back to the previous comma or brace
                cut = max(stripped.rfind(","), stripped.rfind("{"))
                candidate = stripped[: cut + 1] if stripped[cut] == "{" else stripped[:cut]
            else:
                break
    return None


def completion_to_chunks(completion: ChatCompletion) -> list[ChatCompletionChunk]:
    """A finished completion as stream chunks (for replaying cached answers)."""
    choices = [
        ChunkChoice(
            choice.index,
            ChoiceDelta(
                choice.message.content,
                choice.message.reasoning,
                [
                    ToolCallDelta(n, FunctionDelta(c.function.name, c.function.arguments), c.id)
                    for n, c in enumerate(choice.message.tool_calls)
                ],
                "assistant",
            ),
            choice.finish_reason,
            choice.logprobs,
        )
        for choice in completion.choices
    ]
    chunks = [ChatCompletionChunk(completion.id, completion.model, completion.created, choices)]
    if completion.usage is not None:
        chunks.append(
            ChatCompletionChunk(
                completion.id, completion.model, completion.created, [], completion.usage
            )
        )
    return chunks
