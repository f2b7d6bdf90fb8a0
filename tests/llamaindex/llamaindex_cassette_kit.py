"""Compact builders for the LlamaIndex cassette specs, on `hfproviders.testing`'s wire kit.

The bytes follow WIRE.md and the real recordings: SSE framing from the wire kit (`sse`; TGI
without the space), a final `choices: []` usage chunk, and the router's response headers
(`x-inference-provider`, `x-request-id`); files are written by the shared cassette renderer in
its readable form (SSE bodies as literal blocks). Every file says on line 1 that it was
synthesized, and by what.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hfproviders.testing import ChatStreamBuilder, Exchange, cassette_text, dumps
from hfproviders.testing import sse as wire_sse
from hfproviders.testing import usage_chunk as wire_usage_chunk

ROUTER_CHAT_URL = "https://router.huggingface.co/v1/chat/completions"
GENERATOR = "tests/llamaindex/llamaindex_cassette_specs.py"
LABEL_PREFIX = f"# synthesized by {GENERATOR}"
DATE = "Thu, 26 Nov 2026 10:00:00 GMT"
USER_AGENT = "hfproviders/0.1.0"


def _json(value: Any) -> str:
    return dumps(value)  # compact separators, like the providers' own streams


def sse(events: Iterable[Mapping[str, Any] | str], *, done: bool = True, space: bool = True) -> str:
    """An SSE body: one `data:` event per item, then `data: [DONE]` unless `done=False`."""
    return wire_sse(events, done=done, space=space).decode()


@dataclass
class Stream(ChatStreamBuilder):
    """Builds the chunks of one streamed chat completion with shared id/model/created."""

    id: str = "chatcmpl-li-0001"
    created: int = 1795687200

    def text(self, pieces: Sequence[str], finish_reason: str = "stop") -> list[dict[str, Any]]:
        """A role chunk, then one chunk per piece; the last piece carries the finish reason."""
        chunks = [self.chunk({"role": "assistant", "content": ""})]
        for position, piece in enumerate(pieces):
            last = position == len(pieces) - 1
            chunks.append(self.chunk({"content": piece}, finish_reason if last else None))
        return chunks

    def usage_chunk(self, prompt: int, completion: int, **extra: Any) -> dict[str, Any]:  # type: ignore[override]
        """The final `choices: []` chunk sent for `stream_options.include_usage`."""
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        usage.update(extra)
        return wire_usage_chunk(usage, model=self.model, id=self.id, created=self.created)


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
) -> Exchange:
    """One request/response pair."""
    is_stream = bool(request_body.get("stream")) if stream is None else stream
    body = response_body if isinstance(response_body, str) else _json(response_body)
    headers = response_headers(
        stream=is_stream and status == 200,
        provider=provider,
        request_id=request_id,
        extra=extra_headers,
    )
    return Exchange(
        "POST",
        url,
        dict(request_body),
        status,
        body,
        response_headers={name: values[0] for name, values in headers.items()},
        request_headers={
            "Accept": "text/event-stream" if is_stream else "application/json",
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        },
    )


def render(label: str, interactions: Sequence[Exchange]) -> str:
    """The cassette text: the provenance label on line 1, then vcrpy's YAML."""
    note = f"{LABEL_PREFIX[2:]}: {label}; not recorded"
    return cassette_text(note, interactions, readable=True)
