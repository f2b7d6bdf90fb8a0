"""From a decided step to the bytes on the wire: a `Plan` the server or the transport plays.

A `Plan` is the status, the headers and the body parts, with pauses between parts and how the
connection ends (cleanly, FIN mid-body, RST, silence until the client leaves, or held open).
Nothing here does I/O; both the loopback server and the in-process httpx transport play plans.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from hfproviders.testing._auto import message_text, tokens
from hfproviders.testing._script import Fault, Provider, Quirks, Reply
from hfproviders.testing._wire import (
    CREATED,
    dumps,
    error_body,
    ratelimit_headers,
    router_headers,
    sse_event,
    tgi_event,
    usage,
)

__all__ = ["Pause", "Plan", "digest", "request_id"]

SSE_TYPE = "text/event-stream; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    410: "Gone",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def reason(status: int) -> str:
    """The reason phrase of a status code."""
    return _REASONS.get(status, "")


@dataclass(frozen=True)
class Pause:
    """Sleep this long before the next body part."""

    seconds: float


End = Literal["done", "close", "reset", "stall", "hold"]


@dataclass
class Plan:
    """One response: status, headers, body parts (bytes and pauses), and how it ends.

    A `status` of -1 means `parts` hold a whole raw HTTP response, written as is.
    `streamed` bodies use chunked transfer encoding, one HTTP chunk per part (real servers
    flush each SSE event); other bodies carry a `content-length` of their full size. `end`:
    `done` (complete), `close` (FIN before the body is complete), `reset` (RST), `stall` (send
    nothing more until the client leaves or `limit_s`), `hold` (body complete but the chunked
    terminator never sent, connection kept open up to `limit_s`). `reset_first` resets the
    connection before any byte.
    """

    status: int
    headers: list[tuple[str, str]]
    parts: list[bytes | Pause] = field(default_factory=list)
    streamed: bool = False
    end: End = "done"
    delay_s: float = 0.0
    limit_s: float = 10.0
    reset_first: bool = False

    @property
    def body(self) -> bytes:
        """All body bytes, without the pauses."""
        return b"".join(p for p in self.parts if isinstance(p, bytes))

    @property
    def content_length(self) -> int:
        """The declared size of a non-streamed body (its full size, even when cut short)."""
        return self.full_length if self.full_length is not None else len(self.body)

    full_length: int | None = None
    facts: tuple[str, str | None, str | None] = ("", None, None)
    wire: bytes | None = None  # the whole response, once rendered by the server (no pauses)


def digest(body: Mapping[str, Any]) -> str:
    """A hash of a request body, blind to the spelling of tool-call ids (tests use uuid4)."""
    names: dict[str, str] = {}
    messages = []
    raw_messages = body.get("messages")
    for message in raw_messages if isinstance(raw_messages, list) else ():
        if not isinstance(message, Mapping):
            continue
        message = dict(message)
        if isinstance(message.get("tool_calls"), list):
            message["tool_calls"] = [
                {**c, "id": names.setdefault(str(c.get("id")), f"id-{len(names)}")}
                for c in message["tool_calls"]
                if isinstance(c, Mapping)
            ]
        if "tool_call_id" in message:
            message["tool_call_id"] = names.setdefault(
                str(message["tool_call_id"]), f"id-{len(names)}"
            )
        messages.append(message)
    canonical = {**body, "messages": messages}
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, default=str).encode()).hexdigest()


def request_id(key: str) -> str:
    """A router-style short request id (`TtpPGx80uP3e6pgl`), stable for the same key."""
    import base64

    raw = base64.b64encode(hashlib.sha256(key.encode()).digest()).decode()
    return re.sub(r"[^A-Za-z0-9]", "", raw)[:16]


def pieces(text: str, size: int) -> Iterator[str]:
    """Split like a tokenizer-driven stream: short pieces, words kept mostly whole."""
    piece = ""
    for word in re.findall(r"\S+\s*|\s+", text):
        piece += word
        if len(piece) >= size:
            yield piece
            piece = ""
    if piece:
        yield piece


# ---------------------------------------------------------------------------------------------
# Chat


@dataclass
class ChatContext:
    """What a chat answer needs to know about its request and its provider."""

    body: Mapping[str, Any]
    provider: Provider
    rid: str
    cached_tokens: int | None = None
    served_model: str = ""
    key: str = ""  # the request's digest (computed when not given)

    def __post_init__(self) -> None:
        if not self.key:
            self.key = digest(self.body)

    @property
    def stream(self) -> bool:
        return self.body.get("stream") is True

    @property
    def include_usage(self) -> bool:
        options = self.body.get("stream_options")
        return isinstance(options, Mapping) and options.get("include_usage") is True

    @property
    def quirks(self) -> Quirks:
        return self.provider.quirks


def _arguments(arguments: Mapping[str, Any] | str) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)


def _call_id(key: str, index: int) -> str:
    return "call_" + hashlib.sha256(f"{key}#{index}".encode()).hexdigest()[:24]


def chat_usage(ctx: ChatContext, reply: Reply) -> dict[str, Any]:
    """Usage for a reply: the given one, else an estimate from the text sizes."""
    if reply.usage is not None:
        return dict(reply.usage)
    messages = ctx.body.get("messages")
    prompt = sum(
        8 + tokens(json.dumps(m.get("content")))
        for m in (messages if isinstance(messages, list) else ())
        if isinstance(m, Mapping)
    )
    args = "".join(_arguments(c.arguments) for c in reply.tool_calls)
    reasoning = tokens(reply.reasoning)
    return usage(
        prompt,
        tokens(reply.content) + tokens(args) + reasoning,
        cached_tokens=ctx.cached_tokens,
        reasoning_tokens=reasoning if reply.reasoning else None,
    )


def _inline_think(ctx: ChatContext, reply: Reply) -> bool:
    return bool(reply.reasoning) and (reply.reasoning_style == "think" or ctx.quirks.think_inline)


def _finish(ctx: ChatContext, reply: Reply) -> str | None:
    if reply.tool_calls and ctx.quirks.stop_with_tool_calls:
        return "stop"
    return reply.finish


def success_headers(ctx: ChatContext, content_type: str, remaining: int) -> list[tuple[str, str]]:
    """Router headers plus the serving provider's pass-through rate-limit headers."""
    headers = router_headers(ctx.provider.name, ctx.rid, content_type=content_type)
    headers += ratelimit_headers(
        ctx.provider.name, remaining=remaining, limit=ctx.provider.ratelimit
    )
    return headers


def chat_completion(ctx: ChatContext, reply: Reply) -> dict[str, Any]:
    """The non-streamed `chat.completion` body of a reply."""
    content = reply.content
    message: dict[str, Any] = {"role": "assistant", "content": content or None}
    if _inline_think(ctx, reply):
        message["content"] = f"<think>\n{reply.reasoning}\n</think>\n\n{content}"
    elif reply.reasoning:
        message[reply.reasoning_style] = reply.reasoning
    if reply.tool_calls:
        message["content"] = content or ""
        calls = []
        for i, call in enumerate(reply.tool_calls):
            arguments: Any = _arguments(call.arguments)
            if ctx.quirks.arguments_as_object:
                arguments = json.loads(arguments)
            entry: dict[str, Any] = {
                "id": 0 if ctx.quirks.int_tool_call_id else call.id or _call_id(ctx.key, i),
                "type": "function",
                "function": {"name": call.name, "arguments": arguments},
            }
            if ctx.quirks.missing_tool_call_ids:
                del entry["id"]
            calls.append(entry)
        message["tool_calls"] = calls
    return {
        "id": f"chatcmpl-{ctx.key[:24]}",
        "object": "chat.completion",
        "created": CREATED,
        "model": ctx.served_model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": _finish(ctx, reply)}
        ],
        "usage": chat_usage(ctx, reply),
    }


def chat_events(ctx: ChatContext, reply: Reply) -> list[dict[str, Any]]:
    """The stream chunks of a reply, quirks applied (no `[DONE]`)."""
    head = {
        "id": f"chatcmpl-{ctx.key[:24]}",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": ctx.served_model,
    }

    def event(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {**head, "choices": [choice]}

    size = max(1, reply.chunk_chars)
    content = reply.content
    events = [event({"role": "assistant", "content": ""})]
    if _inline_think(ctx, reply):
        content = f"<think>\n{reply.reasoning}\n</think>\n\n{content}"
    elif reply.reasoning:
        field_name = reply.reasoning_style
        events += [event({field_name: p}) for p in pieces(reply.reasoning, size)]
    text_pieces = list(reply.chunks) if reply.chunks is not None else list(pieces(content, size))
    events += [event({"content": p}) for p in text_pieces]
    for i, call in enumerate(reply.tool_calls):
        call_id: Any = 0 if ctx.quirks.int_tool_call_id else call.id or _call_id(ctx.key, i)
        arguments = _arguments(call.arguments)
        if ctx.quirks.tool_call_index_minus_one:
            opening = {"index": -1, "id": call_id, "type": "function"}
            delta = {**opening, "function": {"name": call.name, "arguments": arguments}}
            if ctx.quirks.missing_tool_call_ids:
                del delta["id"]
            events.append(event({"tool_calls": [delta]}))
            continue
        opening = {"index": i, "id": call_id, "type": "function"}
        if ctx.quirks.missing_tool_call_ids:
            del opening["id"]
        events.append(
            event({"tool_calls": [{**opening, "function": {"name": call.name, "arguments": ""}}]})
        )
        events += [
            event({"tool_calls": [{"index": i, "function": {"arguments": p}}]})
            for p in pieces(arguments, 8)
        ]
    finish = None if ctx.quirks.no_finish_reason else _finish(ctx, reply)
    events.append(event({}, finish))
    total = chat_usage(ctx, reply)
    if ctx.include_usage:
        events.append({**head, "choices": [], "usage": total})
    elif ctx.quirks.usage_every_chunk:
        for e in events:
            e["usage"] = total
    else:
        events[-1]["usage"] = total  # together and fireworks: on the finish chunk
    return events


def _paced(events: Sequence[bytes], reply: Reply, per_chunk_s: float) -> list[bytes | Pause]:
    gap = reply.chunk_delay_s or per_chunk_s
    parts: list[bytes | Pause] = []
    for i, e in enumerate(events):
        if gap and i:
            parts.append(Pause(gap))
        parts.append(e)
    return parts


def chat_plan(ctx: ChatContext, reply: Reply, *, remaining: int, per_chunk_s: float) -> Plan:
    """The plan of a successful chat answer, streamed or not."""
    extra = list(reply.headers.items())
    if not ctx.stream:
        body = dumps(chat_completion(ctx, reply)).encode()
        headers = success_headers(ctx, JSON_TYPE, remaining) + extra
        return Plan(200, headers, [body], delay_s=reply.delay_s)
    space = not ctx.quirks.data_no_space
    events = [sse_event(e, space=space) for e in chat_events(ctx, reply)]
    if not ctx.quirks.no_done:
        events.append(sse_event("[DONE]", space=space))
    headers = success_headers(ctx, SSE_TYPE, remaining) + [("cache-control", "no-cache")] + extra
    return Plan(200, headers, _paced(events, reply, per_chunk_s), True, delay_s=reply.delay_s)


# ---------------------------------------------------------------------------------------------
# Faults


def status_plan(
    fault: Fault, *, provider: str | None, rid: str, model: str, router_level: bool = False
) -> Plan:
    """An HTTP error with the real body shape; router-level errors name no provider."""
    if fault.body is not None:
        body, ctype = fault.body, fault.content_type or "application/json"
    else:
        body, ctype = error_body(fault.status_code, model=model, provider=provider)
        if fault.estimated_time is not None:
            loading = {"error": f"Model {model} is currently loading"}
            body = dumps({**loading, "estimated_time": fault.estimated_time}).encode()
    shown = None if router_level or fault.status_code in (401, 402, 502) else provider
    headers = router_headers(shown, rid, content_type=ctype)
    if fault.status_code in (401, 402):
        headers.append(("x-error-message", json.loads(body)["error"]))
    if fault.status_code == 401:
        headers.append(
            ("www-authenticate", 'Bearer realm="Authentication required", charset="UTF-8"')
        )
    headers += list(fault.headers.items())
    return Plan(fault.status_code, headers, [body])


def fault_plan(
    fault: Fault, ctx: ChatContext, *, remaining: int, authorization: str, good: Reply
) -> Plan:
    """The plan of a fault on a chat request (`good`: the answer it breaks)."""
    model = str(ctx.body.get("model", "")).partition(":")[0]
    if fault.kind == "status":
        return status_plan(fault, provider=ctx.provider.name, rid=ctx.rid, model=model)
    if fault.kind == "reset" and fault.after_chunks == 0:
        return Plan(0, [], reset_first=True)
    if fault.kind == "echo_token":
        return _echo_plan(fault, ctx, authorization)
    if fault.kind == "raw":
        end: End = "hold" if fault.where == "hold" else "close"
        return Plan(-1, [], [fault.body or b""], end=end, limit_s=fault.limit_s)
    answer = chat_plan(ctx, good, remaining=remaining, per_chunk_s=0.0)
    return _broken(fault, ctx, answer)


def _broken(fault: Fault, ctx: ChatContext, good: Plan) -> Plan:
    if not ctx.stream:
        body = good.body
        if fault.kind in ("disconnect", "reset"):
            end: End = "close" if fault.kind == "disconnect" else "reset"
            return Plan(
                200, good.headers, [body[:-40], Pause(0.05)], end=end, full_length=len(body)
            )
        if fault.kind == "dribble":
            parts: list[bytes | Pause] = []
            for i in range(len(body)):
                parts += [body[i : i + 1], Pause(fault.interval_s)]
            return Plan(200, good.headers, parts, limit_s=fault.limit_s)
        if fault.kind == "stall":
            return Plan(0, [], end="stall", limit_s=fault.limit_s)
        return good
    events = [p for p in good.parts if isinstance(p, bytes)]
    return _stream_fault_plan(fault, good.headers, events)


def _stream_fault_plan(fault: Fault, headers: list[tuple[str, str]], events: list[bytes]) -> Plan:
    # `after_chunks` counts the answer's chunks after the role chunk that opens every stream.
    head: list[bytes | Pause] = list(events[: 1 + fault.after_chunks])
    if fault.kind == "stall":
        return Plan(0, [], end="stall", limit_s=fault.limit_s)
    if fault.kind == "reset":
        return Plan(200, headers, [*head, Pause(0.05)], True, end="reset")
    if fault.kind == "disconnect":
        return Plan(200, headers, [*head, Pause(0.05)], True, end="close")
    if fault.kind == "drip":
        return Plan(200, headers, head, True, end="stall", limit_s=fault.limit_s)
    if fault.kind == "pings":
        count = max(1, int(fault.limit_s / max(fault.interval_s, 1e-3)))
        parts: list[bytes | Pause] = []
        for _ in range(count):
            parts += [b": ping\n\n", Pause(fault.interval_s)]
        return Plan(200, headers, parts, True)
    if fault.kind == "truncated":  # two chunks, then an event cut mid-JSON
        return Plan(200, headers, [*events[:3], b'data: {"id":"chatcmpl-fault","cho'], True)
    if fault.kind == "malformed":  # two chunks, then an event that is not JSON
        return Plan(200, headers, [*events[:3], b"data: {not json at all}\n\n", *events[3:]], True)
    if fault.kind == "error_event":
        error = {"error": {"message": fault.message, "http_status_code": fault.status_code}}
        return Plan(200, headers, [*head, sse_event(error), sse_event("[DONE]")], True)
    if fault.kind == "hold_open":
        return Plan(200, headers, list(events), True, end="hold", limit_s=fault.limit_s)
    if fault.kind == "dribble":
        body = b"".join(events)
        dribbled: list[bytes | Pause] = []
        for i in range(len(body)):
            dribbled += [body[i : i + 1], Pause(fault.interval_s)]
        return Plan(200, headers, dribbled, True)
    return Plan(200, headers, list(events), True)


def _echo_plan(fault: Fault, ctx: ChatContext, authorization: str) -> Plan:
    token = authorization.removeprefix("Bearer ").strip()
    rid = ctx.rid
    if fault.where == "header":
        headers = router_headers(None, rid, content_type="application/json")
        headers.append(("x-error-message", f"Invalid token {token}"))
        return Plan(401, headers, [b'{"error":"denied"}'])
    if fault.where == "stream":
        error = {"error": f"upstream rejected key {token}", "error_type": "validation"}
        head = router_headers(ctx.provider.name, rid, content_type=SSE_TYPE)
        first = {"choices": [{"index": 0, "delta": {"content": "one "}, "finish_reason": None}]}
        return Plan(200, head, [sse_event(first), sse_event(error)], True)
    body = dumps(
        {"error": f"Invalid credentials {token} in Authorization header ({authorization})"}
    )
    return Plan(401, router_headers(None, rid, content_type="application/json"), [body.encode()])


# ---------------------------------------------------------------------------------------------
# Text generation (TGI) and embeddings


def text_generation_plan(
    body: Mapping[str, Any], reply: Reply, provider: Provider, rid: str, remaining: int
) -> Plan:
    """TGI's answer: `[{"generated_text": …}]`, or its `data:{…}` token stream (no `[DONE]`)."""
    params = body.get("parameters") if isinstance(body.get("parameters"), Mapping) else {}
    assert isinstance(params, Mapping)
    text = reply.content
    finish = "eos_token"
    limit = params.get("max_new_tokens")
    if isinstance(limit, int) and limit > 0 and tokens(text) > limit:
        text, finish = text[: limit * 4], "length"
    stream = body.get("stream") is True
    ctype = SSE_TYPE if stream else JSON_TYPE
    headers = router_headers(provider.name, rid, content_type=ctype)
    headers += [("x-compute-type", "cpu"), ("x-sha", "0" * 40)]
    headers += ratelimit_headers(provider.name, remaining=remaining, limit=provider.ratelimit)
    if not stream:
        result: dict[str, Any] = {"generated_text": text}
        if params.get("details"):
            result["details"] = {
                "finish_reason": finish,
                "generated_tokens": tokens(text),
                "seed": None,
            }
        return Plan(200, headers, [dumps([result]).encode()], delay_s=reply.delay_s)
    parts = list(pieces(text, max(1, reply.chunk_chars))) or [""]
    events = [
        tgi_event(
            i + 1,
            piece,
            generated_text=text if i == len(parts) - 1 else None,
            finish_reason=finish if i == len(parts) - 1 else None,
            generated_tokens=len(parts),
        )
        for i, piece in enumerate(parts)
    ]
    raw = [sse_event(e, space=False) for e in events]
    return Plan(200, headers, _paced(raw, reply, 0.0), True, delay_s=reply.delay_s)


def embedding(text: str, dimensions: int, *, normalize: bool = True) -> list[float]:
    """A deterministic vector for `text` (equal texts, equal vectors; unit length by default)."""
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        block = hashlib.sha256(f"{counter}|{text}".encode()).digest()
        values += [v / 2**31 for v in struct.unpack(">8i", block)]
        counter += 1
    vector = values[:dimensions]
    if normalize:
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        vector = [v / norm for v in vector]
    return [round(v, 6) for v in vector]


def embeddings_body(
    body: Mapping[str, Any], *, openai_style: bool, dimensions: int, served_model: str
) -> Any:
    """hf-inference's nested float lists, or an OpenAI `/v1/embeddings` list object."""
    raw = body.get("input") if openai_style else body.get("inputs")
    texts = [raw] if isinstance(raw, str) else [str(t) for t in raw or ()]
    if not openai_style:
        normalize = body.get("normalize") is not False
        vectors = [embedding(t, dimensions, normalize=normalize) for t in texts]
        return vectors[0] if isinstance(raw, str) else vectors
    wanted = body.get("dimensions")
    size = wanted if isinstance(wanted, int) and 0 < wanted <= dimensions else dimensions
    used = sum(tokens(t) for t in texts)
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": embedding(t, size)}
            for i, t in enumerate(texts)
        ],
        "model": served_model,
        "usage": {"prompt_tokens": used, "total_tokens": used},
    }


def prompt_of(body: Mapping[str, Any]) -> str:
    """The text of a text-generation request's `inputs`."""
    return message_text(body.get("inputs"))
