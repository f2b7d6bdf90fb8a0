"""Result types: plain slotted dataclasses, OpenAI-shaped and already normalised.

They are built by the parsers in `_normalize.py` without validation: the wire data has been
checked and cleaned there, and per-chunk validation would cost more than the HTTP stack.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hfproviders._headers import RateLimitInfo, parse_rate_limit

if TYPE_CHECKING:
    from hfproviders._errors import HFProvidersError

__all__ = [
    "AttemptEvent",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatMessage",
    "Choice",
    "ChoiceDelta",
    "ChunkChoice",
    "FunctionCall",
    "FunctionDelta",
    "RateLimitInfo",
    "ResponseMeta",
    "TextGeneration",
    "TextGenerationChunk",
    "TokenInfo",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
]


class ResponseMeta:
    """Facts about how a call was served: who, how fast, how many attempts.

    `rate_limit` is parsed from `headers` the first time it is read: most callers never look,
    and the parse costs more than the rest of this object. `cost` is the call's price in USD
    from the catalogue (None when unknown); `hedged` says a hedged request was started
    (`provider` is then the one that won).
    """

    __slots__ = (
        "_rate_limit",
        "_received_at",
        "attempts",
        "cached",
        "cost",
        "failed_providers",
        "headers",
        "hedged",
        "latency_s",
        "provider",
        "provider_request_id",
        "request_id",
        "status_code",
        "ttft_s",
    )

    def __init__(
        self,
        provider: str | None = None,
        request_id: str | None = None,
        provider_request_id: str | None = None,
        status_code: int = 0,
        latency_s: float = 0.0,
        ttft_s: float | None = None,
        attempts: int = 0,
        rate_limit: RateLimitInfo | None = None,
        failed_providers: list[HFProvidersError] | None = None,
        headers: dict[str, str] | None = None,
        cached: bool = False,
        received_at: float | None = None,
    ) -> None:
        self.provider = provider
        self.request_id = request_id
        self.provider_request_id = provider_request_id
        self.status_code = status_code
        self.latency_s = latency_s
        self.ttft_s = ttft_s
        self.attempts = attempts
        self.failed_providers = failed_providers if failed_providers is not None else []
        self.headers = headers if headers is not None else {}
        self.cached = cached
        self.cost: float | None = None
        self.hedged = False
        # With `received_at` (epoch seconds) and no explicit value, parse on first read.
        self._received_at = received_at
        self._rate_limit: RateLimitInfo | None | bool = (
            rate_limit if rate_limit is not None or received_at is None else False
        )

    @property
    def rate_limit(self) -> RateLimitInfo | None:
        """The parsed rate-limit headers of the response (None when there were none)."""
        if self._rate_limit is False:  # not parsed yet
            self._rate_limit = parse_rate_limit(self.headers, self._received_at or 0.0)
        return self._rate_limit if isinstance(self._rate_limit, RateLimitInfo) else None

    @rate_limit.setter
    def rate_limit(self, value: RateLimitInfo | None) -> None:
        self._rate_limit = value

    def copy_from(self, other: ResponseMeta) -> None:
        """Take every field of `other` (a stream's meta is filled when its headers arrive)."""
        for name in ResponseMeta.__slots__:
            setattr(self, name, getattr(other, name))

    def __repr__(self) -> str:
        return (
            f"ResponseMeta(provider={self.provider!r}, request_id={self.request_id!r}, "
            f"status_code={self.status_code}, latency_s={self.latency_s:.3f}, "
            f"ttft_s={self.ttft_s!r}, attempts={self.attempts}, cached={self.cached})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ResponseMeta):
            return NotImplemented
        return (
            all(
                getattr(self, n) == getattr(other, n) for n in ResponseMeta.__slots__ if n[0] != "_"
            )
            and self.rate_limit == other.rate_limit
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass(slots=True)
class Usage:
    """Token usage; `reasoning_tokens` and `cached_tokens` when the provider reports them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class FunctionCall:
    """A function call: `arguments` is always a JSON string."""

    name: str
    arguments: str

    def parsed_arguments(self) -> dict[str, Any]:
        """Return the arguments as a dict (`{}` for empty arguments).

        Raises ValueError when the model produced arguments that are not a JSON object.
        """
        if not self.arguments.strip():
            return {}
        try:
            value = json.loads(self.arguments)
        except RecursionError:
            raise ValueError("tool arguments are nested too deeply to read") from None
        if not isinstance(value, dict):
            raise ValueError(f"tool arguments are not a JSON object: {self.arguments[:200]!r}")
        return value


@dataclass(slots=True)
class ToolCall:
    """One tool call; `id` is always present and unique within its response."""

    id: str
    function: FunctionCall
    type: str = "function"


@dataclass(slots=True)
class ChatMessage:
    """The assistant message of a choice; reasoning is kept apart from the answer."""

    content: str | None = None
    reasoning: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    role: str = "assistant"


@dataclass(slots=True)
class Choice:
    """One choice of a chat completion."""

    index: int
    message: ChatMessage
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None


@dataclass(slots=True)
class ChatCompletion:
    """A chat completion, OpenAI-shaped, with how it was served in `meta`."""

    id: str
    model: str
    created: int
    choices: list[Choice]
    usage: Usage | None = None
    system_fingerprint: str | None = None
    meta: ResponseMeta = field(default_factory=ResponseMeta)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def provider(self) -> str | None:
        """The provider that served the call (the router's `x-inference-provider`)."""
        return self.meta.provider

    @property
    def request_id(self) -> str | None:
        """The router's request id (`x-request-id`)."""
        return self.meta.request_id

    @property
    def text(self) -> str:
        """The first choice's answer text ('' when there is none)."""
        return (self.choices[0].message.content or "") if self.choices else ""


@dataclass(slots=True)
class FunctionDelta:
    """A piece of a streamed function call: `name` on the first delta only."""

    name: str | None = None
    arguments: str = ""


@dataclass(slots=True)
class ToolCallDelta:
    """A piece of a streamed tool call; `index` is always >= 0, `id` is set on the first piece."""

    index: int
    function: FunctionDelta
    id: str | None = None
    type: str | None = "function"


_NO_TOOL_CALLS: tuple[ToolCallDelta, ...] = ()


@dataclass(slots=True)
class ChoiceDelta:
    """What one chunk adds to a choice."""

    content: str | None = None
    reasoning: str | None = None
    tool_calls: Sequence[ToolCallDelta] = _NO_TOOL_CALLS
    role: str | None = None


@dataclass(slots=True)
class ChunkChoice:
    """One choice inside a stream chunk."""

    index: int
    delta: ChoiceDelta
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None


@dataclass(slots=True)
class ChatCompletionChunk:
    """One streamed chunk. Usage arrives once, on the last chunk, whose `choices` is empty."""

    id: str
    model: str
    created: int
    choices: list[ChunkChoice]
    usage: Usage | None = None


@dataclass(slots=True)
class TokenInfo:
    """One generated token of the text-generation API."""

    id: int
    text: str
    logprob: float | None = None
    special: bool = False


@dataclass(slots=True)
class TextGeneration:
    """A text-generation (TGI) result."""

    generated_text: str
    details: dict[str, Any] | None = None
    meta: ResponseMeta = field(default_factory=ResponseMeta)
    raw: Any = None

    @property
    def finish_reason(self) -> str | None:
        """TGI's finish reason (`length`, `eos_token`, `stop_sequence`) when details were asked."""
        return (self.details or {}).get("finish_reason")


@dataclass(slots=True)
class TextGenerationChunk:
    """One token event of a TGI token stream; the last one carries `generated_text`."""

    index: int
    token: TokenInfo
    generated_text: str | None = None
    details: dict[str, Any] | None = None


@dataclass(slots=True)
class AttemptEvent:
    """Passed to the `on_attempt` hook after every HTTP attempt, for your own metrics.

    A failed attempt is reported when it fails; a successful one once its answer was read (a
    stream: at its end), so `elapsed_s` is the whole attempt and `ttft_s` its first event.
    `provider` is the provider asked (None: the router chose), `served_by` the one that
    answered (`x-inference-provider`).
    """

    attempt: int
    model: str
    provider: str | None
    url: str
    status_code: int | None
    elapsed_s: float
    error: HFProvidersError | None = None
    will_retry: bool = False
    wait_s: float | None = None
    request_id: str | None = None
    served_by: str | None = None
    ttft_s: float | None = None
    output_tokens: int | None = None
