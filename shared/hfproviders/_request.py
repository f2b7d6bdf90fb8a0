"""Requests (pure): what one call sends, and how its answer is read.

A `Request` is a validated call: its `kind`, where it goes, the body, the headers, the provider
chain. The builders below check the caller's input (through `_params`) before anything is sent.
A `RequestKind` says how a kind of request is read (a whole body; a stream decoder) and whether it
is inference (rate limited, billed, health-tracked, cached) or a lookup. `CHAT`, `TEXT_GENERATION`
and `LOOKUP` are built in; another kind (embeddings) is one more `RequestKind`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from hfproviders._errors import (
    MAX_ERROR_BODY,
    APIError,
    InvalidParameterError,
    error_from_stream_event,
)
from hfproviders._normalize import (
    ChatReading,
    chat_reading,
    parse_chat_completion,
    parse_text_generation,
)
from hfproviders._params import (
    build_chat_body,
    build_text_generation_body,
    check_timeout,
    encode_body,
)
from hfproviders._routing import ProviderChain, resolve_chain
from hfproviders._streaming import ChatStreamDecoder, TextGenerationStreamDecoder
from hfproviders._types import ResponseMeta

if TYPE_CHECKING:
    from hfproviders._config import ClientConfig

__all__ = [
    "CHAT",
    "LOOKUP",
    "TEXT_GENERATION",
    "Request",
    "RequestKind",
    "batch_calls",
    "chat_request",
    "estimate_tokens",
    "lookup_request",
    "text_generation_request",
]


class RequestKind:
    """How one kind of request is read, and whether it is inference or a lookup.

    - `parse(request, data, meta)`: the result of a whole JSON answer (raise on a bad shape:
      `AttributeError`, `TypeError`, `ValueError`, `KeyError`, `IndexError`, `OverflowError`
      become a typed error);
    - `decoder(request, meta, started)`: a stream decoder (None: this kind does not stream);
    - `inference`: rate limited, billed, health-tracked and cacheable (lookups are not).
    """

    __slots__ = ("decoder", "describe", "inference", "name", "parse")

    def __init__(
        self,
        name: str,
        *,
        parse: Callable[[Request, Any, ResponseMeta], Any],
        decoder: Callable[[Request, ResponseMeta, float], Any] | None,
        inference: bool,
        describe: str,
    ) -> None:
        self.name = name
        self.parse = parse
        self.decoder = decoder
        self.inference = inference
        self.describe = describe

    def __repr__(self) -> str:
        return f"RequestKind({self.name!r})"


def _parse_chat(request: Request, data: Any, meta: ResponseMeta) -> Any:
    if not isinstance(data, dict) or "choices" not in data:
        raise ValueError("no choices")
    return parse_chat_completion(data, meta, request.reading)


def _chat_decoder(request: Request, meta: ResponseMeta, started: float) -> Any:
    decoder = ChatStreamDecoder(meta, started, request.reading)
    if request.cache_key is not None:
        decoder.raw_events = []
    return decoder


CHAT = RequestKind(
    "chat",
    parse=_parse_chat,
    decoder=_chat_decoder,
    inference=True,
    describe="chat completion",
)
TEXT_GENERATION = RequestKind(
    "text_generation",
    parse=lambda request, data, meta: parse_text_generation(data, meta),
    decoder=lambda request, meta, started: TextGenerationStreamDecoder(meta, started),
    inference=True,
    describe="text-generation result",
)
LOOKUP = RequestKind(
    "json",
    parse=lambda request, data, meta: data,
    decoder=None,
    inference=False,
    describe="JSON document",
)


class Request:
    """One validated call: where it goes, what it sends, and how to read the answer."""

    __slots__ = (
        "_encoded",
        "body",
        "cache_key",
        "chain",
        "headers",
        "kind",
        "method",
        "model",
        "reading",
        "secrets",
        "stream",
        "timeout",
        "token_estimate",
        "url",
    )

    def __init__(
        self,
        kind: RequestKind,
        model: str,
        chain: ProviderChain,
        url: str,
        body: dict[str, Any] | None,
        headers: dict[str, str],
        *,
        timeout: float | None = None,
        stream: bool = False,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.kind = kind
        self.model = model
        self.chain = chain
        self.url = url
        self.body = body
        self.headers = headers
        self.timeout = timeout
        self.stream = stream
        self.secrets = secrets
        self.method = "GET" if body is None else "POST"
        self.reading: ChatReading | None = None  # how to read a chat answer
        self.cache_key: str | None = None
        self.token_estimate = 1
        self._encoded: tuple[str | None, bytes] | None = None

    def content(self, provider: str | None) -> bytes | None:
        """The JSON body for one provider of the chain."""
        if self.body is None:
            return None
        if self._encoded is not None and self._encoded[0] == provider:
            return self._encoded[1]  # encoded (and checked) when the request was built
        if provider is not None and self.kind is CHAT:
            self.body["model"] = f"{self.model}:{provider}"
        content = encode_body(self.body)  # NaN, a set, bytes… raise a typed input error
        self._encoded = (provider, content)
        return content

    def parse(self, body: bytes, meta: ResponseMeta) -> Any:
        """Read a whole success body into this kind's result, or raise a typed error."""

        def unexpected(what: str) -> APIError:
            return APIError(
                what,
                status_code=meta.status_code,
                provider=meta.provider,
                request_id=meta.request_id,
                body=body[:MAX_ERROR_BODY].decode("utf-8", "replace"),
            )

        try:
            data = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            raise unexpected(
                f"The server answered {meta.status_code} with a body that is not JSON: "
                f"{body[:200]!r}"
            ) from None
        if self.kind.inference and isinstance(data, dict) and data.get("error"):
            error = error_from_stream_event(
                data, provider=meta.provider, request_id=meta.request_id, secrets=self.secrets
            )
            error.in_stream = False
            raise error
        try:
            return self.kind.parse(self, data, meta)
        except (AttributeError, TypeError, ValueError, KeyError, IndexError, OverflowError):
            # Valid JSON of a shape no provider sends: a typed error, never a crash.
            raise unexpected(f"The server's answer is not a {self.kind.describe}") from None


def chat_request(
    config: ClientConfig,
    model: str,
    messages: Sequence[Mapping[str, Any]],
    params: dict[str, Any],
    *,
    stream: bool,
) -> Request:
    """A chat completion request, validated (raises before any I/O on bad input)."""
    provider = params.pop("provider", None) or config.provider
    extra_body = params.pop("extra_body", None)
    extra_headers = params.pop("extra_headers", None)
    timeout = check_timeout(params.pop("timeout", None))
    stream_usage = params.pop("stream_usage", True)
    base, chain = resolve_chain(model, provider, router=config.is_router)
    body = build_chat_body(
        base,
        messages,
        params,
        stream=stream,
        stream_usage=bool(stream_usage),
        extra_body=extra_body,
        max_input_chars=config.max_input_chars,
    )
    if not config.is_router:
        body["model"] = model
    headers = config.headers(stream=stream, extra=extra_headers)
    request = Request(
        CHAT,
        base,
        chain,
        config.chat_url(),
        body,
        headers,
        timeout=timeout,
        stream=stream,
        secrets=config.secrets(),
    )
    request.content(chain[0])  # checks the body can be sent, before the cache key or any I/O
    cache = config.discovery_cache
    known = cache.get_availability(base) if cache is not None else None
    # The model's chat template, when a Hub lookup has read it, beats a guess from the name.
    request.reading = chat_reading(base, body, known.template_opens_think if known else None)
    if config.limiter is not None:
        request.token_estimate = estimate_tokens(body)
    if config.cache is not None:
        from hfproviders._cache import cache_key

        request.cache_key = cache_key(
            {
                "base_url": config.base_url,
                "kind": "chat",
                "model": base,
                "provider": list(chain),
                "body": body,
            }
        )
    return request


def text_generation_request(
    config: ClientConfig, model: str, prompt: str, params: dict[str, Any], *, stream: bool
) -> Request:
    """A text-generation (TGI) request: hf-inference on the router, or the server itself."""
    extra_body = params.pop("extra_body", None)
    extra_headers = params.pop("extra_headers", None)
    timeout = check_timeout(params.pop("timeout", None))
    provider = params.pop("provider", None)
    base = model
    if config.is_router:
        base, chain = resolve_chain(model, provider, router=True)
        if chain not in ((None,), ("hf-inference",)):
            raise InvalidParameterError(
                "The text-generation API runs on hf-inference (or your own endpoint / TGI); "
                f"got provider {chain!r}. Use chat() for other providers."
            )
    body = build_text_generation_body(
        prompt,
        params,
        stream=stream,
        extra_body=extra_body,
        max_input_chars=config.max_input_chars,
    )
    headers = config.headers(stream=stream, extra=extra_headers)
    request = Request(
        TEXT_GENERATION,
        base,
        (None,),
        config.text_generation_url(base),
        body,
        headers,
        timeout=timeout,
        stream=stream,
        secrets=config.secrets(),
    )
    request.content(None)  # checks the body can be sent, before any I/O
    return request


def lookup_request(config: ClientConfig, url: str, what: str, *, hub: bool = False) -> Request:
    """A JSON lookup (`GET`): the catalogue, or the Hub (`hub=True`: the Hub's token rules)."""
    host = urlsplit(url).hostname if hub else None
    headers = config.lookup_headers(hub=hub, hub_host=host)
    return Request(LOOKUP, what, (None,), url, None, headers, secrets=config.secrets())


def batch_calls(
    requests: Sequence[Mapping[str, Any]], max_concurrency: int
) -> list[tuple[str, Any, dict[str, Any]]]:
    """Check a batch's requests and concurrency before anything runs: (model, messages, params)."""
    if not isinstance(max_concurrency, int) or max_concurrency < 1:
        raise InvalidParameterError("max_concurrency must be an integer >= 1")
    calls = []
    for position, request in enumerate(requests):
        if not isinstance(request, Mapping) or "model" not in request or "messages" not in request:
            raise InvalidParameterError(
                f"requests[{position}] must be a dict with 'model', 'messages' and parameters"
            )
        params = {k: v for k, v in request.items() if k not in ("model", "messages")}
        calls.append((request["model"], request["messages"], params))
    return calls


def estimate_tokens(body: Mapping[str, Any]) -> int:
    """A rough token count for the limiter's tokens/min budget: ~4 characters a token."""
    chars = 0
    for message in body.get("messages") or ():
        content = message.get("content")
        if isinstance(content, str):
            chars += len(content)
    return chars // 4 + int(body.get("max_tokens") or 0) + 1
