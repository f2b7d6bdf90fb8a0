"""A loopback server that answers like router.huggingface.co/v1, to synthesize cassettes.

LangChain's standard integration suite sends ~100 different prompts. Without network access
we cannot record them from Hugging Face, so this server answers each request the way the router
does (WIRE.md): the same header names (`x-inference-provider`, `x-request-id`, provider
`x-ratelimit-*`), the same body shapes (together's for chat, fireworks' `reasoning_content` for
R1), SSE framed as `data: {...}\\n\\n` with a final `{"choices": [], "usage": …}` chunk when
`stream_options.include_usage` is set, then `data: [DONE]`. The *content* is scripted where a
test checks it: tool calls whose arguments come from the prompt, JSON that fits the requested
schema, answers built from tool results.

Run it (from the repository root):

    .venv/bin/python -m tests.langchain.cassette_generator

It starts the server on 127.0.0.1, runs `pytest tests/langchain --record-mode=rewrite` with
`HFPROVIDERS_SYNTH_BASE_URL` pointing the models at it, and the VCR config in conftest.py
rewrites the loopback host to router.huggingface.co and labels every cassette it writes on
line 1. Everything is deterministic: running it twice writes the same bytes.
To record from the real router instead, see docs/langchain.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SYNTH_ENV = "HFPROVIDERS_SYNTH_BASE_URL"
COMMAND = ".venv/bin/python -m tests.langchain.cassette_generator"
LABEL = (
    "# synthesized by tests/langchain/cassette_generator.py "
    f"(`{COMMAND}`): a loopback server faithful to WIRE.md answered; not recorded from "
    "Hugging Face\n"
)
CREATED = 1764000000  # fixed, so regenerating writes the same bytes
_DEFAULT_PROVIDER = "together"
_REASONING_MODELS = re.compile(r"deepseek-r1|gpt-oss|qwq", re.IGNORECASE)
_CACHE_MIN_CHARS = 1500  # prompt caching only pays off (and is reported) for long prefixes


# --------------------------------------------------------------------------------------------
# What to answer (pure)
# --------------------------------------------------------------------------------------------


@dataclass
class Reply:
    """The scripted answer to one request."""

    content: str = ""
    reasoning: str = ""
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    finish_reason: str = "stop"


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _has_image(message: dict[str, Any]) -> bool:
    content = message.get("content")
    return isinstance(content, list) and any(
        isinstance(p, dict) and p.get("type") == "image_url" for p in content
    )


_STOP_WORDS = frozenset({"get", "tool", "function", "my", "the", "generator", "picker"})


def _mentions(text: str, tool_name: str) -> bool:
    lowered = text.lower()
    if tool_name.lower() in lowered:
        return True
    parts = [p for p in tool_name.lower().split("_") if len(p) >= 4 and p not in _STOP_WORDS]
    return any(part in lowered for part in parts)


def _place(text: str) -> str:
    match = re.search(r"\bin ([A-Z][\w .'-]*?(?:, [A-Z]{2})?)(?:[?.!]|,| and|$)", text)
    return match.group(1).strip() if match else "San Francisco, CA"


_JOKE = {
    "setup": "Why was the cat sitting on the computer?",
    "punchline": "To keep an eye on the mouse!",
}


def _string_value(name: str, text: str) -> str:
    quoted = re.search(r"'([^']+)'", text)
    values = {
        "location": _place(text),
        "city": _place(text).split(",")[0],
        "timezone": "Europe/Paris" if "Paris" in text else "America/Los_Angeles",
        "answer_style": "pirate" if "pirate" in text.lower() else "friendly",
        "customer_name": quoted.group(1) if quoted else "Example Corp",
        "description": text.split(" - ", 1)[1].strip() if " - " in text else "A new customer",
        "fav_color": "purple",
        **_JOKE,
    }
    return values.get(name, "example")


def fill_schema(schema: dict[str, Any], text: str) -> dict[str, Any]:
    """Arguments that fit `schema`, taken from the prompt where it says what they are."""
    numbers = iter(int(n) for n in re.findall(r"-?\d+", text))
    skip_optional = "no punchline" in text.lower()
    out: dict[str, Any] = {}
    required = set(schema.get("required") or ())
    for name, spec in (schema.get("properties") or {}).items():
        if skip_optional and name not in required:
            continue
        kinds = {spec.get("type")} | {s.get("type") for s in spec.get("anyOf") or ()}
        if spec.get("enum"):
            out[name] = spec["enum"][0]
        elif "integer" in kinds or "number" in kinds:
            out[name] = next(numbers, 1)
        elif "boolean" in kinds:
            out[name] = False
        elif "array" in kinds:
            out[name] = []
        elif "object" in kinds:
            out[name] = fill_schema(spec, text)
        else:
            out[name] = _string_value(name, text)
    return out


def _first_user_text(messages: list[dict[str, Any]]) -> str:
    return next((_text(m.get("content")) for m in messages if m.get("role") == "user"), "")


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    return next((_text(m.get("content")) for m in reversed(messages) if m["role"] == "user"), "")


def _called(messages: list[dict[str, Any]]) -> set[str]:
    return {
        call["function"]["name"]
        for m in messages
        if m.get("role") == "assistant"
        for call in m.get("tool_calls") or ()
    }


def _answer_text(messages: list[dict[str, Any]]) -> str:
    """A plain answer to the conversation so far."""
    last = messages[-1]
    if last.get("role") == "tool":
        results = [_text(m.get("content")) for m in messages if m.get("role") == "tool"]
        return "Here is what the tools returned: " + " ".join(r.strip() for r in results)
    text = _last_user_text(messages).lower()
    if _has_image(last):
        return "The image is a diagram: labelled boxes joined by arrows that show a workflow."
    if "haiku" in text:
        return (
            "Morning light on snow,\nfootprints lead to the old pond,\na frog breaks the ice.\n\n"
            "Autumn wind rises,\nred leaves spin above the road,\nthe cat watches them."
        )
    if "story" in text:
        return (
            "Once upon a time, a small grey cat named Pixel lived in a lighthouse by the sea. "
            "Every night she watched the beam sweep across the waves, counting the ships that "
            "passed. One stormy evening the light flickered and went out. Pixel climbed the "
            "spiral stairs, found the keeper asleep, and knocked his lantern off the table until "
            "he woke. Together they relit the lamp just as a fishing boat turned toward the "
            "rocks. The boat saw the beam, changed course, and reached the harbour safely. From "
            "then on, the fishermen left a fresh sardine on the lighthouse steps every morning."
        )
    if fact := re.search(r"fact about (\w+)", text):
        return f"A fun fact about {fact.group(1)}: they spend a surprising part of the day resting."
    if "famous cat" in text:
        return "Garfield, the lasagna-loving cat from the comic strip."
    if "joke" in text:
        return f"{_JOKE['setup']} {_JOKE['punchline']}"
    if "17 * 23" in text or "17*23" in text:
        return "17 * 23 = 391."
    if "how are you" in text:
        return "I'm doing well, thank you for asking! How can I help you today?"
    if "color" in text or "colour" in text:
        return "My favourite colour here is purple: it stands out against the background."
    return "Hello! How can I help you today?"


def _reasoning_for(model: str, messages: list[dict[str, Any]]) -> str:
    if not _REASONING_MODELS.search(model):
        return ""
    question = _last_user_text(messages).strip() or "the request"
    return f"The user asks: {question} Let me work it out step by step before answering."


def _choose_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The tool to call now, or None to answer in text."""
    tools = [t["function"] for t in body.get("tools") or ()]
    choice = body.get("tool_choice", "auto")
    if not tools or choice == "none":
        return None
    messages = body["messages"]
    if isinstance(choice, dict):
        name = choice["function"]["name"]
        return next(t for t in tools if t["name"] == name)
    forced = choice == "required"
    if messages[-1].get("role") == "tool" and not forced:
        # After a tool result, call the next tool the user asked about, if any.
        wanted = _first_user_text(messages)
        done = _called(messages)
        return next(
            (t for t in tools if t["name"] not in done and _mentions(wanted, t["name"])), None
        )
    text = _last_user_text(messages)
    mentioned = next((t for t in tools if _mentions(text, t["name"])), None)
    return mentioned or (tools[0] if forced else None)


def _json_reply(body: dict[str, Any]) -> str:
    response_format = body["response_format"]
    text = _last_user_text(body["messages"])
    if response_format.get("type") == "json_schema":
        value = fill_schema(response_format["json_schema"]["schema"], text)
    elif "setup" in text and "punchline" in text:
        value = dict(_JOKE)
    else:
        value = {"answer": _answer_text(body["messages"])}
    return json.dumps(value, ensure_ascii=False)


def _apply_stop(content: str, stop: Any) -> tuple[str, bool]:
    stops = [stop] if isinstance(stop, str) else list(stop or ())
    cut = min((content.find(s) for s in stops if s and s in content), default=-1)
    return (content[:cut], True) if cut >= 0 else (content, False)


def script_reply(body: dict[str, Any]) -> Reply:
    """Decide what a capable chat model would answer to `body` (deterministic)."""
    messages = body["messages"]
    tool = _choose_tool(body)
    if tool is not None:
        args = fill_schema(tool.get("parameters") or {}, _last_user_text(messages))
        return Reply(tool_calls=[(tool["name"], args)], finish_reason="tool_calls")
    reasoning = _reasoning_for(body["model"], messages)
    if body.get("response_format", {}).get("type") in ("json_object", "json_schema"):
        return Reply(content=_json_reply(body), reasoning=reasoning)
    content, stopped = _apply_stop(_answer_text(messages), body.get("stop"))
    max_tokens = body.get("max_tokens")
    if max_tokens and _tokens(content) > max_tokens:
        return Reply(content=content[: max_tokens * 4], reasoning=reasoning, finish_reason="length")
    del stopped  # a stop sequence ends the answer with finish_reason "stop", as OpenAI does
    return Reply(content=content, reasoning=reasoning)


# --------------------------------------------------------------------------------------------
# How the router frames it (pure)
# --------------------------------------------------------------------------------------------


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4)) if text else 0


def _digest(body: dict[str, Any]) -> str:
    """A hash of the request, blind to the spelling of tool-call ids (some tests use uuid4)."""
    names: dict[str, str] = {}
    messages = []
    for message in body.get("messages") or ():
        message = dict(message)
        if message.get("tool_calls"):
            message["tool_calls"] = [
                {**c, "id": names.setdefault(str(c.get("id")), f"id-{len(names)}")}
                for c in message["tool_calls"]
            ]
        if "tool_call_id" in message:
            message["tool_call_id"] = names.setdefault(
                str(message["tool_call_id"]), f"id-{len(names)}"
            )
        messages.append(message)
    canonical = {**body, "messages": messages}
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def request_id(body: dict[str, Any]) -> str:
    """A router-style short request id (`TtpPGx80uP3e6pgl`), stable for the same request."""
    raw = base64.b64encode(hashlib.sha256(_digest(body).encode()).digest()).decode()
    return re.sub(r"[^A-Za-z0-9]", "", raw)[:16]


def served_by(model: str) -> tuple[str, str]:
    """(provider, the `model` field the provider returns) for a requested model id."""
    base, _, suffix = model.partition(":")
    provider = suffix if suffix and suffix not in ("fastest", "cheapest", "preferred") else ""
    if _REASONING_MODELS.search(base) and "r1" in base.lower():
        return provider or "fireworks-ai", "accounts/fireworks/models/deepseek-r1"
    return provider or _DEFAULT_PROVIDER, base


class PromptCache:
    """Which long system prompts were seen before (providers report those tokens as cached)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def cached_tokens(self, messages: list[dict[str, Any]]) -> int | None:
        system = "".join(_text(m.get("content")) for m in messages if m.get("role") == "system")
        if len(system) < _CACHE_MIN_CHARS:
            return None
        key = hashlib.sha256(system.encode()).hexdigest()
        with self._lock:
            seen = key in self._seen
            self._seen.add(key)
        return (_tokens(system) // 64) * 64 if seen else 0


def usage(body: dict[str, Any], reply: Reply, cached: int | None) -> dict[str, Any]:
    """OpenAI-style usage, with the details providers add."""
    prompt = sum(8 + _tokens(json.dumps(m.get("content"))) for m in body["messages"])
    args = "".join(json.dumps(a) for _, a in reply.tool_calls)
    reasoning = _tokens(reply.reasoning)
    completion = _tokens(reply.content) + _tokens(args) + reasoning
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if cached is not None:
        out["prompt_tokens_details"] = {"cached_tokens": cached}
    if reply.reasoning:
        out["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return out


def _call_id(digest: str, index: int) -> str:
    return "call_" + hashlib.sha256(f"{digest}#{index}".encode()).hexdigest()[:24]


def completion_body(body: dict[str, Any], reply: Reply, cached: int | None) -> dict[str, Any]:
    """A non-streamed answer in together's shape (fireworks' for R1)."""
    digest = _digest(body)
    _, served_model = served_by(body["model"])
    message: dict[str, Any] = {"role": "assistant", "content": reply.content or None}
    if reply.reasoning:
        message["reasoning_content"] = reply.reasoning
    if reply.tool_calls:
        message["content"] = ""
        message["tool_calls"] = [
            {
                "id": _call_id(digest, i),
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args, ensure_ascii=False)},
            }
            for i, (name, args) in enumerate(reply.tool_calls)
        ]
    return {
        "id": f"chatcmpl-{digest[:24]}",
        "object": "chat.completion",
        "created": CREATED,
        "model": served_model,
        "prompt": [],
        "choices": [
            {
                "index": 0,
                "logprobs": None,
                "finish_reason": reply.finish_reason,
                "message": message,
            }
        ],
        "usage": usage(body, reply, cached),
    }


def _pieces(text: str, size: int = 12) -> Iterator[str]:
    """Split like a tokenizer-driven stream would: short pieces, words kept mostly whole."""
    words = re.findall(r"\S+\s*|\s+", text)
    piece = ""
    for word in words:
        piece += word
        if len(piece) >= size:
            yield piece
            piece = ""
    if piece:
        yield piece


def stream_events(body: dict[str, Any], reply: Reply, cached: int | None) -> list[dict[str, Any]]:
    """The SSE events of a streamed answer (OpenAI chunk shape, final usage chunk)."""
    digest = _digest(body)
    _, served_model = served_by(body["model"])
    head = {
        "id": f"chatcmpl-{digest[:24]}",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": served_model,
    }

    def event(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return {**head, "choices": [choice]}

    events = [event({"role": "assistant", "content": ""})]
    events += [event({"reasoning_content": piece}) for piece in _pieces(reply.reasoning)]
    events += [event({"content": piece}) for piece in _pieces(reply.content)]
    for i, (name, args) in enumerate(reply.tool_calls):
        opening = {"index": i, "id": _call_id(digest, i), "type": "function"}
        events.append(
            event({"tool_calls": [{**opening, "function": {"name": name, "arguments": ""}}]})
        )
        events += [
            event({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
            for piece in _pieces(json.dumps(args, ensure_ascii=False), size=8)
        ]
    events.append(event({}, reply.finish_reason))
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append({**head, "choices": [], "usage": usage(body, reply, cached)})
    return events


def sse(events: list[dict[str, Any]]) -> bytes:
    """Frame events as the router does, ending with `data: [DONE]`."""
    lines = [f"data: {json.dumps(e, ensure_ascii=False)}\n\n" for e in events]
    return ("".join(lines) + "data: [DONE]\n\n").encode()


def response_headers(body: dict[str, Any], *, streaming: bool) -> dict[str, str]:
    """Router plus provider pass-through headers (WIRE.md §1, §7)."""
    provider, _ = served_by(body["model"])
    return {
        "content-type": "text/event-stream" if streaming else "application/json; charset=utf-8",
        "x-inference-provider": provider,
        "x-request-id": request_id(body),
        "x-powered-by": "huggingface-moon",
        "x-ratelimit-limit": "600",
        "x-ratelimit-remaining": "599",
        "x-ratelimit-reset": "1",
    }


# --------------------------------------------------------------------------------------------
# The loopback server
# --------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    cache = PromptCache()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet: pytest output is what matters."""

    def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        # send_response_only: no `Server: BaseHTTP/…` header, and a fixed Date (determinism).
        self.send_response_only(status)
        self.send_header("date", self.date_time_string(CREATED))
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        """Answer `/v1/chat/completions` like the router; anything else is a router 404."""
        payload = self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path.rstrip("/") != "/v1/chat/completions":
            error = {"error": "Not Found"}
            self._send(404, {"content-type": "application/json"}, json.dumps(error).encode())
            return
        body = json.loads(payload)
        reply = script_reply(body)
        cached = self.cache.cached_tokens(body["messages"])
        streaming = bool(body.get("stream"))
        if streaming:
            data = sse(stream_events(body, reply, cached))
        else:
            data = json.dumps(completion_body(body, reply, cached), ensure_ascii=False).encode()
        self._send(200, response_headers(body, streaming=streaming), data)


def serve() -> tuple[ThreadingHTTPServer, str]:
    """Start the server on a free loopback port; returns it and its `/v1` base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    return server, f"http://{host!s}:{port}/v1"


def main(argv: list[str]) -> int:
    """Serve, run the LangChain tests in rewrite mode against the server, and stop.

    Extra arguments go to pytest (e.g. a test file or `-k`); the default is tests/langchain.
    """
    import os

    import pytest

    server, base_url = serve()
    os.environ[SYNTH_ENV] = base_url
    try:
        return int(pytest.main([*(argv or ["tests/langchain"]), "--record-mode=rewrite", "-q"]))
    finally:
        server.shutdown()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
