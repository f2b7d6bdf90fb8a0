"""Provider quirks, normalised once (WIRE.md §4–5), so adapters never see them.

- tool-call `arguments` as a dict or a string (and old TGI's `parameters`) → always a JSON string;
- missing, integer, numeric (`"0"`) or repeated tool-call ids → stable, unique `call_…` ids;
- `index: -1` or a missing index → a real index (merge by index, else by id, else a new call);
- `finish_reason: "stop"` (or TGI's `eos_token`) with tool calls → `tool_calls`;
- reasoning from `reasoning_content`, `reasoning`, or inline `<think>…</think>` (also when only the
  closing tag arrives because the chat template opened the block) → `reasoning`, never content;
- usage in every chunk (running totals) or in one final `choices: []` chunk → one usage, last;
- a stream that never sends a finish_reason gets one at the end.

Everything here is pure: dicts in, result types out. The per-chunk path avoids allocations that a
plain parse would not need.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
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
    "ChunkAccumulator",
    "StreamNormalizer",
    "ThinkSplitter",
    "opens_think_block",
    "completion_to_chunks",
    "parse_chat_completion",
    "parse_partial_json",
    "parse_text_generation",
    "parse_text_generation_event",
    "parse_usage",
    "split_think",
]

_OPEN = "<think>"
_CLOSE = "</think>"
_FINISH_ALIASES = {"eos_token": "stop", "stop_sequence": "stop"}
# Chat templates of these families open the <think> block themselves, so the answer starts
# inside it and only the closing tag arrives.
_TEMPLATE_OPENS_THINK = re.compile(r"deepseek-r1|qwq|thinking|-r1-distill", re.IGNORECASE)


def opens_think_block(model: str) -> bool:
    """Whether the model's chat template opens a `<think>` block before the answer starts."""
    return bool(_TEMPLATE_OPENS_THINK.search(model))


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


def split_think(content: str, template_opens: bool = False) -> tuple[str | None, str]:
    """Split inline reasoning out of an answer: returns (reasoning, answer).

    Handles `<think>…</think>answer`, `…</think>answer` (template opened the block), and a
    `<think>` never closed (output cut by max_tokens: all of it is reasoning).
    """
    stripped = content.lstrip()
    if stripped.startswith(_OPEN):
        body = stripped[len(_OPEN) :]
        end = body.find(_CLOSE)
        if end == -1:
            return body.strip() or None, ""
        return body[:end].strip() or None, body[end + len(_CLOSE) :].lstrip()
    end = content.find(_CLOSE)
    if end != -1 and _OPEN not in content[:end]:
        return content[:end].strip() or None, content[end + len(_CLOSE) :].lstrip()
    if template_opens and _CLOSE not in content:
        return None, content
    return None, content


def _join_reasoning(first: str | None, second: str | None) -> str | None:
    if first and second:
        return f"{first}\n{second}"
    return first or second


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
    data: Mapping[str, Any],
    meta: ResponseMeta,
    *,
    template_opens_think: bool = False,
    tool_names: frozenset[str] | None = None,
) -> ChatCompletion:
    """Build a normalised ChatCompletion from a non-streamed response body."""
    response_id = str(data.get("id") or "")
    model = str(data.get("model") or "")
    created = _whole(data.get("created"))
    ids = _IdAllocator(f"{response_id}|{created}|{model}")
    choices: list[Choice] = []
    for position, raw in enumerate(data.get("choices") or ()):
        if not isinstance(raw, Mapping):
            continue
        message = raw.get("message") or {}
        content = _text_of(message.get("content"))
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        if not isinstance(reasoning, str):
            reasoning = None
        if content and (_CLOSE in content or content.lstrip().startswith(_OPEN)):
            inline, content = split_think(content, template_opens_think)
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
        choices.append(
            Choice(
                index=index if isinstance(index, int) and index >= 0 else position,
                message=ChatMessage(content=content, reasoning=reasoning, tool_calls=tool_calls),
                finish_reason=finish,
                logprobs=raw.get("logprobs"),
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

    Tags may be cut between chunks (`<thi` + `nk>`), so a possible tag prefix at the end of a
    piece is held back until the next one. `orphan_close` becomes True when a `</think>` arrives
    without an opening tag: everything streamed before it as answer was in fact reasoning.
    """

    __slots__ = ("_held", "_no_tag_state", "_state", "orphan_close")

    def __init__(self, template_opens: bool = False) -> None:
        # "start": nothing seen yet; "think": inside the block; "answer": no block seen (a lone
        # closing tag may still come); "after_close": the block has just closed (skip the
        # whitespace after it); "done": the rest is answer.
        self._state = "start"
        # Where text goes when the answer does not start with <think>: a template that opened
        # the block itself means we are already inside it.
        self._no_tag_state = "think" if template_opens else "answer"
        self._held = ""
        self.orphan_close = False

    def feed(self, text: str) -> tuple[str | None, str | None]:
        """Return (reasoning, answer) pieces for this content piece (None when empty)."""
        if self._state in ("answer", "done") and not self._held and "<" not in text:
            return None, text
        text = self._held + text
        self._held = ""
        if self._state == "start":
            stripped = text.lstrip()
            if not stripped or _OPEN.startswith(stripped):
                self._held = text  # whitespace so far, or maybe the start of "<think>"
                return None, None
            if stripped.startswith(_OPEN):
                self._state = "think"
                text = stripped[len(_OPEN) :]
            else:
                self._state = self._no_tag_state
        if self._state == "after_close":
            # The answer starts after the whitespace that follows </think>.
            text = text.lstrip()
            if not text:
                return None, None
            self._state = "done"
        if self._state == "done":
            return None, text or None
        end = text.find(_CLOSE)
        if end != -1:
            if self._state == "answer":
                self.orphan_close = True  # what was streamed as answer was reasoning
            after = text[end + len(_CLOSE) :].lstrip()
            self._state = "done" if after else "after_close"
            return text[:end] or None, after or None
        keep = _partial_suffix(text, _CLOSE)
        if keep:
            self._held = text[-keep:]
            text = text[:-keep]
        if self._state == "think":
            return text or None, None
        return None, text or None

    def flush(self) -> tuple[str | None, str | None]:
        """End of stream: release any held-back text."""
        held, self._held = self._held, ""
        if not held:
            return None, None
        if self._state == "think" or (self._state == "start" and self._no_tag_state == "think"):
            return held, None
        return None, held


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

    __slots__ = ("finish_reason", "slots", "splitter", "tool_calls")

    def __init__(self, template_opens: bool) -> None:
        self.tool_calls: dict[int, list[Any]] = {}  # index -> [id, name, [argument pieces]]
        self.slots: dict[tuple[str, Any], int] = {}
        self.finish_reason: str | None = None
        self.splitter = ThinkSplitter(template_opens)


class _MergedChoice:
    """One choice as merged so far: text kept as growing strings, not lists re-joined per read."""

    __slots__ = ("calls", "finish_reason", "reasoning", "role", "text", "tool_calls")

    def __init__(self) -> None:
        self.text = ""
        self.reasoning = ""
        self.role: str | None = None
        self.finish_reason: str | None = None
        self.tool_calls: dict[int, list[Any]] = {}  # index -> [id, name, arguments so far]
        self.calls: list[ToolCall] | None = None  # built on read, until the next tool delta


class ChunkAccumulator:
    """Merge normalised stream chunks into one ChatCompletion (what the streams use, too).

    Reading `result()` after every chunk is cheap: text grows in place and tool calls are only
    rebuilt when a tool-call delta arrived.
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
                state.text += delta.content
            if delta.reasoning:
                state.reasoning += delta.reasoning
            if delta.role and state.role is None:
                state.role = delta.role
            for call in delta.tool_calls:
                state.calls = None
                slot = state.tool_calls.get(call.index)
                if slot is None:
                    slot = state.tool_calls[call.index] = [call.id, call.function.name, ""]
                else:
                    slot[0] = slot[0] or call.id
                    slot[1] = slot[1] or call.function.name
                if call.function.arguments:
                    slot[2] += call.function.arguments
            if choice.finish_reason:
                state.finish_reason = choice.finish_reason

    def reclassify_answer_as_reasoning(self, index: int) -> None:
        """Move the answer streamed so far to reasoning (a lone `</think>` arrived)."""
        state = self._state(index)
        state.reasoning += state.text
        state.text = ""

    def _calls(self, state: _MergedChoice) -> list[ToolCall]:
        if state.calls is None:
            seed = f"{self._id}|{self._created}|{self._model}"
            state.calls = [
                ToolCall(
                    id=slot[0] or synthesize_tool_call_id(seed, position),
                    function=FunctionCall(name=slot[1] or "", arguments=slot[2] or "{}"),
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
            choices.append(
                Choice(
                    index=index,
                    message=ChatMessage(
                        content=state.text if state.text or not calls else None,
                        reasoning=state.reasoning or None,
                        tool_calls=calls,
                    ),
                    finish_reason=state.finish_reason,
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
        "_reclassify",
        "_template_opens",
        "_usage",
    )

    def __init__(self, template_opens_think: bool = False) -> None:
        self._template_opens = template_opens_think
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
            self._acc.reclassify_answer_as_reasoning(self._reclassify.pop(0)[1])
        self._acc.add(chunk)

    def feed(self, event: Mapping[str, Any]) -> list[ChatCompletionChunk]:
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
        for raw in raw_choices:
            index = raw.get("index")
            if not isinstance(index, int) or index < 0:
                index = 0
            state = self._choices.get(index)
            if state is None:
                state = self._choices[index] = _ChoiceState(self._template_opens)
            delta = raw.get("delta") or {}
            content = delta.get("content")
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if not isinstance(reasoning, str):
                reasoning = None  # null, or a shape no provider documents
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
                    raw.get("logprobs"),
                )
            )
        chunk = ChatCompletionChunk(self._id, self._model, self._created, choices)
        self._reclassify.extend((chunk, index) for index in reclassify)
        return [chunk]

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

    def finish(self) -> list[ChatCompletionChunk]:
        """The tail chunks: held-back text, missing finish reasons, then the usage chunk."""
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
