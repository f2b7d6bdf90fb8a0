"""Render VCR cassettes from compact Python specs (used by llamaindex_cassette_specs.py).

The bytes follow WIRE.md and the real recordings: `data: {json}\\n\\n` framing ending with
`data: [DONE]\\n\\n` (TGI: `data:{json}` without the space), a final `choices: []` usage chunk,
and the router's response headers (`x-inference-provider`, `x-request-id`). Every file says on
line 1 that it was synthesized, and by what.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

ROUTER_CHAT_URL = "https://router.huggingface.co/v1/chat/completions"
GENERATOR = "tests/llamaindex/llamaindex_cassette_specs.py"
LABEL_PREFIX = f"# synthesized by {GENERATOR}"
DATE = "Thu, 26 Nov 2026 10:00:00 GMT"
USER_AGENT = "hfproviders/0.1.0"


def _json(value: Any) -> str:
    # Compact separators, like the providers' own streams.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def sse(events: Iterable[Mapping[str, Any] | str], *, done: bool = True, space: bool = True) -> str:
    """An SSE body: one `data:` event per item, then `data: [DONE]` unless `done=False`."""
    prefix = "data: " if space else "data:"
    lines = [f"{prefix}{e if isinstance(e, str) else _json(e)}\n\n" for e in events]
    if done:
        lines.append(f"{prefix}[DONE]\n\n")
    return "".join(lines)


@dataclass
class Stream:
    """Builds the chunks of one streamed chat completion with shared id/model/created."""

    model: str
    id: str = "chatcmpl-li-0001"
    created: int = 1795687200
    extra: dict[str, Any] = field(default_factory=dict)

    def chunk(
        self,
        delta: Mapping[str, Any],
        finish_reason: str | None = None,
        *,
        index: int = 0,
        usage: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One `chat.completion.chunk` with a single choice."""
        out: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "index": index,
                    "delta": dict(delta),
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
        }
        if usage is not None:
            out["usage"] = dict(usage)
        out.update(self.extra)
        return out

    def text(self, pieces: Sequence[str], finish_reason: str = "stop") -> list[dict[str, Any]]:
        """A role chunk, then one chunk per piece; the last piece carries the finish reason."""
        chunks = [self.chunk({"role": "assistant", "content": ""})]
        for position, piece in enumerate(pieces):
            last = position == len(pieces) - 1
            chunks.append(self.chunk({"content": piece}, finish_reason if last else None))
        return chunks

    def usage_chunk(self, prompt: int, completion: int, **extra: Any) -> dict[str, Any]:
        """The final `choices: []` chunk sent for `stream_options.include_usage`."""
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        usage.update(extra)
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": usage,
        }


def completion_body(
    model: str,
    message: Mapping[str, Any],
    *,
    finish_reason: str = "stop",
    prompt: int = 10,
    completion: int = 5,
    id: str = "chatcmpl-li-0001",
    created: int = 1795687200,
    **extra: Any,
) -> dict[str, Any]:
    """A non-streamed `chat.completion` body with one choice and usage."""
    body: dict[str, Any] = {
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", **message},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }
    body.update(extra)
    return body


def response_headers(
    *, stream: bool, provider: str | None, request_id: str, extra: Mapping[str, str] | None = None
) -> dict[str, list[str]]:
    """Router response headers as recorded (WIRE.md §1); no provider header on router errors."""
    headers: dict[str, list[str]] = {
        "Content-Type": ["text/event-stream" if stream else "application/json; charset=utf-8"],
        "Date": [DATE],
        "X-Powered-By": ["huggingface-moon"],
        "x-request-id": [request_id],
    }
    if stream:
        headers["cache-control"] = ["no-cache"]
        headers["Transfer-Encoding"] = ["chunked"]
    if provider is not None:
        headers["x-inference-provider"] = [provider]
    for name, value in (extra or {}).items():
        headers[name] = [value]
    return headers


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 422: "Unprocessable Entity"}


def interaction(
    request_body: Mapping[str, Any],
    response_body: str | Mapping[str, Any] | list[Any],
    *,
    provider: str | None = "together",
    request_id: str = "Li0000000000000a",
    status: int = 200,
    url: str = ROUTER_CHAT_URL,
    stream: bool | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One request/response pair in vcrpy's cassette format."""
    is_stream = bool(request_body.get("stream")) if stream is None else stream
    body = response_body if isinstance(response_body, str) else _json(response_body)
    return {
        "request": {
            "body": json.dumps(request_body, ensure_ascii=False),
            "headers": {
                "Accept": ["text/event-stream" if is_stream else "application/json"],
                "Content-Type": ["application/json"],
                "User-Agent": [USER_AGENT],
            },
            "method": "POST",
            "uri": url,
        },
        "response": {
            "body": {"string": body},
            "headers": response_headers(
                stream=is_stream and status == 200,
                provider=provider,
                request_id=request_id,
                extra=extra_headers,
            ),
            "status": {"code": status, "message": _REASONS.get(status, "")},
        },
    }


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (SSE bodies) as literal blocks, so a cassette reads like the wire."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


def render(label: str, interactions: Sequence[Mapping[str, Any]]) -> str:
    """The cassette text: the provenance label on line 1, then vcrpy's YAML."""
    document = {"interactions": list(interactions), "version": 1}
    text = yaml.dump(document, Dumper=_Dumper, allow_unicode=True, sort_keys=True, width=10_000)
    return f"{LABEL_PREFIX}: {label}; not recorded\n{text}"
