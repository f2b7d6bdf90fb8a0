"""One call's plan and its retry/failover state, plus the pure helpers of the stream loops.

A `CallPlan` is a validated request: where it goes, what it sends, how to read the answer.
`AttemptState` decides, after each failed attempt, whether to wait and retry, move to the next
provider of a failover chain, or raise. Neither does I/O.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from hfproviders._errors import (
    AllProvidersFailedError,
    HFProvidersError,
    InvalidParameterError,
)
from hfproviders._normalize import ChatReading, chat_reading
from hfproviders._providers import ProviderChain
from hfproviders._retry import decide_retry, is_failover_eligible
from hfproviders._streaming import (
    ChatStreamDecoder,
    TextGenerationStreamDecoder,
)
from hfproviders._types import (
    ChatCompletion,
    ResponseMeta,
    TextGeneration,
)

if TYPE_CHECKING:
    from hfproviders._base import ClientBase
    from hfproviders._telemetry import CallTrace

logger = logging.getLogger("hfproviders")

_PROVIDER_ID_HEADERS = ("inference-id", "x-inference-id", "x-trace-id", "fireworks-request-id")


class CallPlan:
    """One validated call: where it goes, what it sends, and how to read the answer."""

    __slots__ = (
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
        "trace",
        "url",
    )

    def __init__(
        self,
        kind: Literal["chat", "text_generation", "json"],
        model: str,
        chain: ProviderChain,
        url: str,
        body: dict[str, Any],
        headers: dict[str, str],
        timeout: float | None,
        stream: bool,
    ) -> None:
        self.kind = kind
        self.model = model
        self.chain = chain
        self.url = url
        self.body = body
        self.headers = headers
        self.timeout = timeout
        self.stream = stream
        self.method = "GET" if kind == "json" else "POST"
        self.reading: ChatReading = chat_reading(model, body)
        self.cache_key: str | None = None
        self.token_estimate = 1
        self.secrets: tuple[str, ...] = ()
        self.trace: CallTrace | None = None  # the OpenTelemetry span, when the call is traced

    def content(self, provider: str | None) -> bytes | None:
        """The JSON body for one provider of the chain."""
        if self.method == "GET":
            return None
        if self.kind == "chat" and provider is not None:
            self.body["model"] = f"{self.model}:{provider}"
        return json.dumps(self.body, ensure_ascii=False).encode()


class AttemptState:
    """Retry and failover bookkeeping for one call (pure: the loops sleep, this decides)."""

    __slots__ = ("_client", "attempt", "failures", "plan", "position", "started")

    def __init__(self, client: ClientBase, plan: CallPlan) -> None:
        self._client = client
        self.plan = plan
        self.position = 0
        self.attempt = 0
        self.failures: list[HFProvidersError] = []
        self.started = time.monotonic()

    @property
    def provider(self) -> str | None:
        return self.plan.chain[self.position]

    def begin(self) -> None:
        self.attempt += 1

    def meta(self, status: int, headers: dict[str, str]) -> ResponseMeta:
        """Meta for a successful response (headers in); also reports the attempt."""
        provider = headers.get("x-inference-provider") or self.provider
        if provider in ("fastest", "cheapest", "preferred"):
            provider = None
        meta = ResponseMeta(
            provider=provider,
            request_id=headers.get("x-request-id"),
            provider_request_id=next(
                (headers[h] for h in _PROVIDER_ID_HEADERS if h in headers), None
            ),
            status_code=status,
            attempts=self.attempt,
            received_at=time.time(),  # rate_limit is parsed from the headers when first read
            failed_providers=self.failures,
            headers=headers,
        )
        self._client._report(self, status, None, False, None, meta.request_id)
        if self._client._limiter is not None and self.plan.kind != "json":
            self._client._limiter.observe_rate_limit(meta.rate_limit)
        return meta

    def failed(self, error: HFProvidersError) -> float:
        """Decide after a failed attempt: the wait before retrying (same or next provider).

        Raises the final error when there is nothing left to try.
        """
        if error.provider is None and self.provider not in (
            None,
            "fastest",
            "cheapest",
            "preferred",
        ):
            error.provider = self.provider
        limiter = self._client._limiter
        if limiter is not None and error.rate_limit is not None and self.plan.kind != "json":
            limiter.observe_rate_limit(error.rate_limit, status_code=error.status_code or 0)
        decision = decide_retry(
            self._client._config.retry, error, self.attempt, time.monotonic() - self.started
        )
        self._client._report(
            self, error.status_code, error, decision.retry, decision.wait, error.request_id
        )
        if decision.retry:
            return decision.wait
        if decision.over_budget and error.retry_after is None:
            error.retry_after = decision.wait
        if decision.over_budget:
            error.message = f"{error.message} [not retried: {decision.reason}]"
            error.args = (error.message,)
        if self.position + 1 < len(self.plan.chain) and is_failover_eligible(error):
            self.failures.append(error)
            logger.warning(
                "provider %s failed (%s); failing over to %s",
                self.provider or "auto",
                type(error).__name__,
                self.plan.chain[self.position + 1] or "auto",
            )
            self.position += 1
            self.attempt = 0
            self.started = time.monotonic()
            return 0.0
        if self.failures and is_failover_eligible(error):
            raise AllProvidersFailedError([*self.failures, error]) from error
        raise error


def concrete_provider(provider: str | None) -> str | None:
    return None if provider in (None, "fastest", "cheapest", "preferred") else provider


def is_sse(headers: Mapping[str, str]) -> bool:
    return headers.get("content-type", "").startswith("text/event-stream")


# -- helpers shared by both stream loops (pure) ----------------------------------------------


def fill_meta(target: ResponseMeta, source: ResponseMeta) -> None:
    target.copy_from(source)


def new_decoder(plan: CallPlan, meta: ResponseMeta, started: float) -> Any:
    decoder: Any
    if plan.kind == "chat":
        decoder = ChatStreamDecoder(meta, started, plan.reading)
    else:
        decoder = TextGenerationStreamDecoder(meta, started)
    decoder.secrets = plan.secrets
    return decoder


def mark_in_stream(error: HFProvidersError, decoder: Any) -> HFProvidersError:
    error.in_stream = True
    if error.partial is None and isinstance(decoder, ChatStreamDecoder):
        error.partial = decoder.normalizer.accumulator.result(decoder.meta)
    return error


def whole_body_as_stream(
    client: ClientBase, plan: CallPlan, body: bytes, meta: ResponseMeta, holder: list[Any]
) -> list[Any]:
    """A server that ignored `stream: true` and sent JSON: replay its answer as chunks."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict | list):
        client._parse_body(plan, body, meta)  # raises the typed error for a non-JSON body
    decoder = new_decoder(plan, meta, time.monotonic())
    holder[:] = [decoder]
    chunks: list[Any] = decoder.feed_json(data)
    chunks.extend(decoder.finish())
    for chunk in chunks:
        decoder.deliver(chunk)
    return chunks


def batch_calls(
    requests: Sequence[Mapping[str, Any]], max_concurrency: int
) -> list[tuple[str, Any, dict[str, Any]]]:
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


def replay_cached_stream(
    plan: CallPlan,
    entry: dict[str, Any],
    cached: ResponseMeta,
    meta: ResponseMeta,
    holder: list[Any],
) -> Iterator[Any]:
    """Replay a cached, complete stream through the same decoder a live one uses."""
    fill_meta(meta, cached)
    decoder = new_decoder(plan, meta, time.monotonic())
    holder[:] = [decoder]
    chunks: list[Any] = []
    for event in entry["data"]:
        chunks.extend(decoder.feed_event(event))
    chunks.extend(decoder.finish())
    for chunk in chunks:
        decoder.deliver(chunk)
        yield chunk


def estimate_tokens(body: Mapping[str, Any]) -> int:
    """A rough token count for the limiter's tokens/min budget: ~4 characters a token."""
    chars = 0
    for message in body.get("messages") or ():
        content = message.get("content")
        if isinstance(content, str):
            chars += len(content)
    return chars // 4 + int(body.get("max_tokens") or 0) + 1


def bare_model(model: str) -> str:
    return model.partition(":")[0]


def has_token(plan: CallPlan) -> bool:
    return "Authorization" in plan.headers


def completion_of(holder: list[Any]) -> ChatCompletion | None:
    if not holder:
        return None
    decoder: ChatStreamDecoder = holder[0]
    return decoder.normalizer.accumulator.result(decoder.meta)


def text_of(holder: list[Any]) -> str | None:
    if not holder:
        return None
    decoder: TextGenerationStreamDecoder = holder[0]
    if decoder.generated_text is not None:
        return decoder.generated_text
    return "".join(decoder.pieces)


def generation_of(holder: list[Any], meta: ResponseMeta) -> TextGeneration:
    """What a text-generation stream produced so far, as a result (for its span)."""
    return TextGeneration(text_of(holder) or "", meta=meta)


def needs_of(body: Mapping[str, Any]) -> tuple[bool, bool]:
    """(needs tool calling, needs structured output) for a chat body."""
    fmt = body.get("response_format")
    structured = isinstance(fmt, Mapping) and fmt.get("type") in ("json_schema", "json_object")
    return bool(body.get("tools")), structured
