"""The one error tree of hfproviders, and the parser that maps HTTP error bodies onto it.

```
HFProvidersError                      every error we raise
├── InvalidRequestInputError (+ValueError)   bad input, raised before any network call
│   ├── InvalidParameterError         out-of-range or unknown parameter, empty messages, bad tools
│   ├── InvalidModelError             malformed model id
│   ├── UnknownProviderError          provider or policy we do not know
│   ├── PromptTooLongError            prompt over max_input_chars
│   ├── ConfigurationError            bad client options (retired host, token for a foreign host, …)
│   └── MissingTokenError             no token found for a Hugging Face host
├── APIError                          the server answered with an error
│   ├── RedirectError                 3xx: we never follow redirects (set base_url to the target)
│   ├── BadRequestError               400 / 422
│   │   ├── ContextLengthError        the prompt does not fit the model
│   │   ├── ModelNotFoundError        model_not_found
│   │   └── ModelNotSupportedError    model not served by (this) provider, capability not supported
│   ├── AuthenticationError           401
│   ├── PaymentRequiredError          402: credits depleted
│   ├── PermissionDeniedError         403: token scope, gated model
│   ├── NotFoundError                 404
│   ├── GoneError                     410: retired endpoint
│   ├── RateLimitError                429
│   ├── ServerError                   5xx
│   │   └── ServiceUnavailableError   503 (model loading carries `estimated_time`)
│   ├── StreamError                   the stream broke: malformed event, cut mid-event
│   │   └── IncompleteStreamError     the connection closed with no [DONE] and no finish_reason
│   └── EmbeddingResponseError        a 200 that is not the embeddings asked for (`_embeddings`)
├── APIConnectionError                could not talk to the server (connect, reset, protocol)
│   └── APITimeoutError               a connect/read/write/pool timeout
├── ClientClosedError                 the client was closed while the call was in flight
├── RateLimitWaitTooLongError         the client-side rate limiter would wait past its bound
├── StateUnavailableError             shared state (Redis) unreachable and the state fails closed
├── AllProvidersFailedError           every provider of a failover chain failed (`.errors`)
├── PartialEmbeddingError             some batches of an `embed` call failed (`.embeddings` kept)
├── ProvidersUnavailableError         every provider's circuit breaker is open (`.unavailable`)
└── BudgetExceededError               the call's worst-case cost would cross the SpendLimit
```

An error raised from inside a 200 stream (`data: {"error": …}`) is the same typed error as the
status code it names, with `in_stream=True` and `partial` holding what arrived before it.
No error ever holds the token: messages and bodies pass through `redact` when created, and
`scrub_error` removes the client's own secret (whatever its form) from everything an error
carries (message, body, headers, rate-limit snapshot, partial answer) where it leaves a call, so
pickles and logs of it are clean too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hfproviders._types import ChatCompletion, RateLimitInfo

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AllProvidersFailedError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "ClientClosedError",
    "ConfigurationError",
    "ContextLengthError",
    "GoneError",
    "HFProvidersError",
    "IncompleteStreamError",
    "InvalidModelError",
    "InvalidParameterError",
    "InvalidRequestInputError",
    "MissingTokenError",
    "ModelNotFoundError",
    "ModelNotSupportedError",
    "NotFoundError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "PromptTooLongError",
    "ProvidersUnavailableError",
    "RateLimitError",
    "RateLimitWaitTooLongError",
    "RedirectError",
    "ServerError",
    "ServiceUnavailableError",
    "StateUnavailableError",
    "StreamError",
    "UnknownProviderError",
    "error_from_response",
    "error_from_stream_event",
    "parse_error_body",
    "redact",
    "redact_headers",
    "scrub_error",
]

_TOKEN_RE = re.compile(r"hf_[A-Za-z0-9]{30,}")
_BEARER_RE = re.compile(r"(?i)(bearer\s+)[^\s\"',]+")
_MAX_BODY_IN_MESSAGE = 300
# Cap what we read of an error body: a provider's HTML error page can be megabytes.
MAX_ERROR_BODY = 64 * 1024


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """Remove tokens from `text`: the given secrets, HF-token-shaped strings, bearer values."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _TOKEN_RE.sub("hf_***", text)
    return _BEARER_RE.sub(r"\1***", text)


def _secret_forms(secrets: Sequence[str]) -> list[str]:
    """Each secret as it may appear in a body: as is, JSON-escaped, URL-encoded."""
    from urllib.parse import quote

    forms: list[str] = []
    for secret in secrets:
        if secret:
            for form in (secret, secret.replace("/", "\\/"), quote(secret, safe="")):
                if form not in forms:
                    forms.append(form)
    return forms


def redact_headers(headers: dict[str, str], secrets: Sequence[str]) -> dict[str, str]:
    """`headers` with every secret scrubbed from the values (the same dict when none holds one)."""
    if not secrets:
        return headers
    values = "\n".join(headers.values())  # one scan per secret, not one per header
    if not any(secret and secret in values for secret in secrets):
        return headers
    return {name: redact(value, secrets) for name, value in headers.items()}


def scrub_error(error: HFProvidersError, secrets: Sequence[str]) -> HFProvidersError:
    """Remove the client's secrets from everything an error carries (in place; returns it).

    Message and args, body, warnings, captured headers, the rate-limit snapshot's raw headers, the
    partial answer's headers, and the errors of providers that failed before (`failed_providers`,
    `errors`). Idempotent, so a pipeline may call it at every exit. Whatever form the
    secret has: not only `hf_…` tokens. Called once where errors leave a call.
    """
    forms = _secret_forms(secrets)
    if not forms:
        return error
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        current.message = redact(current.message, forms)
        current.args = tuple(redact(a, forms) if isinstance(a, str) else a for a in current.args)
        if current.body is not None:
            current.body = redact(current.body, forms)
        current.warnings = [redact(w, forms) for w in current.warnings]
        current.headers = redact_headers(current.headers, forms)
        if current.rate_limit is not None:
            current.rate_limit.raw = redact_headers(current.rate_limit.raw, forms)
        if current.partial is not None:
            meta = current.partial.meta
            meta.headers = redact_headers(meta.headers, forms)
            pending.extend(meta.failed_providers)
        pending.extend(getattr(current, "errors", ()))
        pending.extend(current.failed_providers)
        cause = current.__cause__ or current.__context__
        if isinstance(cause, HFProvidersError):
            pending.append(cause)
    return error


def _restore_error(cls: type[HFProvidersError], args: tuple[Any, ...]) -> HFProvidersError:
    """Unpickle an error without calling `__init__` (subclasses take other arguments)."""
    error = cls.__new__(cls)
    error.args = args
    return error


class HFProvidersError(Exception):
    """Base class of every error raised by hfproviders.

    Every instance exposes the same fields (None when not applicable), so handlers can log
    `err.status_code`, `err.provider` and `err.request_id` without checking the subclass.
    """

    status_code: int | None = None
    code: str | None = None
    provider: str | None = None
    request_id: str | None = None
    body: str | None = None
    estimated_time: float | None = None
    retry_after: float | None = None
    warnings: list[str]
    rate_limit: RateLimitInfo | None = None
    in_stream: bool = False
    partial: ChatCompletion | None = None
    partial_text: str | None = None  # a text-generation stream's text before the error
    failed_providers: Sequence[HFProvidersError] = ()  # providers of a chain that failed first
    deadline_exceeded: bool = False  # the call's own time budget ran out

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        provider: str | None = None,
        request_id: str | None = None,
        body: str | None = None,
        estimated_time: float | None = None,
        retry_after: float | None = None,
        warnings: Sequence[str] = (),
        rate_limit: RateLimitInfo | None = None,
    ) -> None:
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.status_code = status_code if status_code is not None else self.status_code
        self.code = code
        self.provider = provider
        self.request_id = request_id
        self.body = redact(body) if body is not None else None
        self.estimated_time = estimated_time
        self.retry_after = retry_after
        self.warnings = list(warnings)
        self.rate_limit = rate_limit
        self.headers: dict[str, str] = {}  # response headers, when there was a response

    def __str__(self) -> str:
        parts = [self.message]
        context = [
            f"{name}={value}"
            for name, value in (
                ("status", self.status_code),
                ("provider", self.provider),
                ("request_id", self.request_id),
                ("code", self.code),
            )
            if value is not None
        ]
        if context:
            parts.append(f"({', '.join(context)})")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status_code={self.status_code!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Field by field, so every subclass round-trips (AllProvidersFailedError's __init__ takes
        # the errors, not a message); what is pickled was scrubbed where the error left its call.
        return (_restore_error, (type(self), self.args), dict(self.__dict__))


class InvalidRequestInputError(HFProvidersError, ValueError):
    """Bad input, detected before anything is sent."""


class InvalidParameterError(InvalidRequestInputError):
    """A parameter is out of range, of the wrong type, unknown, or inconsistent with another."""


class InvalidModelError(InvalidRequestInputError):
    """The model id is malformed (spaces, empty parts, a bad suffix)."""


class UnknownProviderError(InvalidRequestInputError):
    """The provider or routing policy is not one we know."""


class PromptTooLongError(InvalidRequestInputError):
    """The prompt is longer than the client's `max_input_chars`."""


class ConfigurationError(InvalidRequestInputError):
    """The client options cannot work (a retired host, a token for a foreign host, …)."""


class MissingTokenError(ConfigurationError):
    """No Hugging Face token was found for a Hugging Face host."""


class APIError(HFProvidersError):
    """The server answered with an error status (or an error event inside a stream)."""


class RedirectError(APIError):
    """3xx: the server redirected; `location` says where (redirects are never followed)."""

    location: str | None = None


class BadRequestError(APIError):
    """400 or 422: the request was rejected as invalid."""


class ContextLengthError(BadRequestError):
    """The prompt (plus max_tokens) does not fit the model's context window."""


class ModelNotFoundError(BadRequestError):
    """The router does not know the model (`code: model_not_found`)."""


class ModelNotSupportedError(BadRequestError):
    """The model is not served by the chosen provider(s), or the provider lacks a capability."""


class AuthenticationError(APIError):
    """401: the token is invalid or lacks the Inference Providers permission."""


class PaymentRequiredError(APIError):
    """402: the account's Inference Providers credits are depleted."""


class PermissionDeniedError(APIError):
    """403: the token may not do this (scope, gated model, organisation billing)."""


class NotFoundError(APIError):
    """404: the route or model does not exist on this server."""


class GoneError(APIError):
    """410: the endpoint is retired (api-inference.huggingface.co)."""


class RateLimitError(APIError):
    """429: too many requests; `retry_after` says how long the server asked to wait, if it did."""


class ServerError(APIError):
    """5xx: the provider or the router failed."""


class ServiceUnavailableError(ServerError):
    """503: overloaded or the model is loading (`estimated_time`)."""


class StreamError(APIError):
    """The stream broke: a malformed event, or the connection ended in the middle of an event."""


class IncompleteStreamError(StreamError):
    """The stream stopped (connection closed) with no `[DONE]` and no finish_reason.

    `partial` holds what arrived; it is never cached and never given a made-up finish reason.
    """


class APIConnectionError(HFProvidersError):
    """The server could not be reached, or the connection broke."""


class APITimeoutError(APIConnectionError):
    """A connect/read/write/pool timeout, or the retry time budget ran out."""


class ClientClosedError(HFProvidersError):
    """The client was closed (`close()` from another thread or task) while this call was in flight.

    Never retried: a retry would open a new pool behind the caller's back. A closed client may
    still make new calls (it opens a new pool); it is the calls it was in the middle of that end.
    """


class RateLimitWaitTooLongError(HFProvidersError):
    """The client-side rate limiter would have to wait longer than its `max_wait`."""


class StateUnavailableError(HFProvidersError):
    """The shared state store (e.g. Redis) is unreachable and the state fails closed."""


class AllProvidersFailedError(HFProvidersError):
    """Every provider in a failover chain failed; `.errors` holds each one, in order."""

    def __init__(self, errors: Sequence[HFProvidersError]) -> None:
        last = errors[-1]
        summary = "; ".join(f"{e.provider or '?'}: {type(e).__name__}" for e in errors)
        super().__init__(
            f"All providers failed ({summary})",
            status_code=last.status_code,
            code=last.code,
            provider=last.provider,
            request_id=last.request_id,
            body=last.body,
            retry_after=last.retry_after,
            rate_limit=last.rate_limit,
        )
        self.errors = list(errors)


class ProvidersUnavailableError(HFProvidersError):
    """Every provider that could serve the call has an open circuit breaker; nothing was sent.

    `.unavailable` lists `(provider, retry_at)`: when (epoch seconds) each will be tried again.
    """

    def __init__(
        self, message: str, *, unavailable: Sequence[tuple[str, float]] = (), **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.unavailable = list(unavailable)

    @classmethod
    def for_providers(
        cls, model: str, unavailable: Sequence[tuple[str, float]], now: float
    ) -> ProvidersUnavailableError:
        """The error naming each provider and when it will be retried."""
        parts = [f"{name} (retried in {max(at - now, 0.0):.1f}s)" for name, at in unavailable]
        message = f"No provider available for {model}: circuit open for {', '.join(parts)}"
        return cls(message, unavailable=unavailable)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, {"unavailable": self.unavailable}))


class BudgetExceededError(HFProvidersError):
    """The call's worst-case cost would take spending over its `SpendLimit`; nothing was sent.

    `.limit_usd`, `.spent_usd` (including calls in flight) and `.estimate_usd` say by how much.
    """

    def __init__(
        self,
        message: str,
        *,
        limit_usd: float = 0.0,
        spent_usd: float = 0.0,
        estimate_usd: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.limit_usd = limit_usd
        self.spent_usd = spent_usd
        self.estimate_usd = estimate_usd

    def __reduce__(self) -> tuple[Any, ...]:
        fields = {
            "limit_usd": self.limit_usd,
            "spent_usd": self.spent_usd,
            "estimate_usd": self.estimate_usd,
        }
        return (_rebuild, (type(self), self.message, fields))


def _rebuild(cls: type[HFProvidersError], message: str, fields: dict[str, Any]) -> Any:
    return cls(message, **fields)


_STATUS_CLASSES: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: PermissionDeniedError,
    404: NotFoundError,
    410: GoneError,
    422: BadRequestError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}

_CONTEXT_PATTERNS = re.compile(
    r"context length|context_length|context window|maximum context|too many tokens"
    r"|tokens \+ `max_new_tokens` must be|must be <= \d+|input is too long|prompt is too long"
    r"|reduce the length|must have less than \d+ tokens",  # the last: TEI (embeddings)
    re.IGNORECASE,
)
_NOT_SUPPORTED_PATTERNS = re.compile(
    r"not supported by any provider|not support|is not a multimodal model|"
    r"does not support|unsupported model",
    re.IGNORECASE,
)


def _as_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


# A server's `estimated_time` beyond a day is not an estimate (`10**400`, `Infinity`): clamped.
_MAX_ESTIMATED_TIME = 86_400.0


def _wait_seconds(value: Any) -> float | None:
    """A wait in seconds from server JSON, clamped to [0, a day]; None when not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int) and value > _MAX_ESTIMATED_TIME:
        return _MAX_ESTIMATED_TIME  # float(10**400) would raise OverflowError
    seconds = float(value)
    if seconds != seconds:
        return None
    return min(max(0.0, seconds), _MAX_ESTIMATED_TIME)


class ParsedErrorBody:
    """What `parse_error_body` found in an error body."""

    __slots__ = ("code", "error_type", "estimated_time", "http_status", "message", "warnings")

    def __init__(
        self,
        message: str,
        code: str | None = None,
        error_type: str | None = None,
        estimated_time: float | None = None,
        warnings: list[str] | None = None,
        http_status: int | None = None,
    ) -> None:
        self.message = message
        self.code = code
        self.error_type = error_type
        self.estimated_time = estimated_time
        self.warnings = warnings or []
        self.http_status = http_status


def _parse_error_object(data: Mapping[str, Any]) -> ParsedErrorBody | None:
    """Read the JSON shapes of WIRE.md §3, in the order that disambiguates them."""
    error = data.get("error")
    message: str | None = None
    code: str | None = None
    error_type = _as_str(data.get("error_type") or data.get("type") or data.get("reason"))
    http_status: int | None = None
    if isinstance(error, str):
        message = error
    elif isinstance(error, Mapping):
        message = _as_str(error.get("message")) or _as_str(error.get("msg"))
        code = _as_str(error.get("code"))
        error_type = _as_str(error.get("type")) or error_type
        status = error.get("http_status_code") or error.get("status")
        http_status = status if isinstance(status, int) else None
        if message is None:
            message = _as_str(error)
    elif isinstance(error, list) and error:
        message = "; ".join(str(e) for e in error)
    if message is None:
        detail = data.get("detail")
        if isinstance(detail, str):
            message = detail
        elif isinstance(detail, list) and detail:
            # FastAPI validation errors: [{"loc": [...], "msg": "...", "type": "..."}]
            message = "; ".join(
                str(d.get("msg", d)) if isinstance(d, Mapping) else str(d) for d in detail
            )
        elif isinstance(detail, Mapping):
            message = _as_str(detail.get("message")) or _as_str(detail)
    if message is None and isinstance(data.get("message"), str):
        message = data["message"]
    if message is None:
        return None
    if code is None:
        raw_code = data.get("code")
        code = raw_code if isinstance(raw_code, str) else None
    if code is None and error_type is not None and error_type.isupper():
        code = error_type  # novita: "reason": "INVALID_REQUEST_BODY"
    estimated = data.get("estimated_time")
    warnings = data.get("warnings")
    return ParsedErrorBody(
        message=message,
        code=code,
        error_type=error_type,
        estimated_time=_wait_seconds(estimated),
        warnings=[str(w) for w in warnings] if isinstance(warnings, list) else [],
        http_status=http_status,
    )


def parse_error_body(body: bytes | str, content_type: str | None = None) -> ParsedErrorBody:
    """Extract a message, code and hints from any error body shape seen on the wire.

    Order (WIRE.md §3): `error` as a string, `error` as an object, `detail`, `message`,
    then a plain-text or HTML body, summarised so a 502 page never floods a log line.
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except (ValueError, RecursionError):
            data = None
        if isinstance(data, Mapping):
            parsed = _parse_error_object(data)
            if parsed is not None:
                return parsed
    is_html = (content_type or "").startswith("text/html") or stripped[:15].lower().startswith(
        ("<!doctype", "<html")
    )
    if is_html:
        title = re.search(r"<title>(.*?)</title>", stripped, re.IGNORECASE | re.DOTALL)
        summary = title.group(1).strip() if title else "an HTML page"
        return ParsedErrorBody(message=f"The server returned an HTML page ({summary})")
    if not stripped:
        return ParsedErrorBody(message="(empty body)")
    if len(stripped) > _MAX_BODY_IN_MESSAGE:
        stripped = stripped[:_MAX_BODY_IN_MESSAGE] + "…"
    return ParsedErrorBody(message=stripped)


def _class_for(status: int, parsed: ParsedErrorBody) -> type[APIError]:
    code = (parsed.code or "").lower()
    if code == "model_not_found":
        return ModelNotFoundError
    if code == "model_not_supported":
        return ModelNotSupportedError
    if status in (400, 422) or (status >= 400 and status < 500 and status not in _STATUS_CLASSES):
        if _CONTEXT_PATTERNS.search(parsed.message) or "context_length" in code:
            return ContextLengthError
        if _NOT_SUPPORTED_PATTERNS.search(parsed.message):
            return ModelNotSupportedError
        if status not in (400, 422):
            return APIError
    if status in _STATUS_CLASSES:
        return _STATUS_CLASSES[status]
    if status >= 500:
        return ServerError
    return APIError


def error_from_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    provider: str | None = None,
    rate_limit: RateLimitInfo | None = None,
    retry_after: float | None = None,
    secrets: Sequence[str] = (),
) -> APIError:
    """Build the typed error for an HTTP error response (`headers` keys are lower-case)."""
    if 300 <= status < 400:
        return _redirect_error(status, headers, body, provider, secrets)
    parsed = parse_error_body(body, headers.get("content-type"))
    header_message = headers.get("x-error-message")
    message = parsed.message
    if header_message and header_message not in message:
        message = (
            f"{message} ({header_message})" if parsed.message != "(empty body)" else header_message
        )
    if status == 410 and "api-inference" in message:
        message += " Use base_url='https://router.huggingface.co/v1' instead."
    cls = _class_for(status, parsed)
    text = body.decode("utf-8", "replace")
    error = cls(
        redact(message, secrets),
        status_code=status,
        code=parsed.code or headers.get("x-error-code"),
        provider=provider or headers.get("x-inference-provider"),
        request_id=headers.get("x-request-id"),
        body=redact(text, secrets),
        estimated_time=parsed.estimated_time,
        retry_after=retry_after,
        warnings=parsed.warnings,
        rate_limit=rate_limit,
    )
    error.headers = dict(headers)
    return error


def _redirect_error(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    provider: str | None,
    secrets: Sequence[str],
) -> RedirectError:
    location = headers.get("location")
    target = f" to {location[:300]}" if location else ""
    error = RedirectError(
        redact(
            f"The server answered {status}, a redirect{target}. Redirects are never followed "
            "(a token must not travel to another host): set base_url to the final URL.",
            secrets,
        ),
        status_code=status,
        provider=provider or headers.get("x-inference-provider"),
        request_id=headers.get("x-request-id"),
        body=redact(body.decode("utf-8", "replace"), secrets),
    )
    error.location = redact(location, secrets) if location else None
    error.headers = dict(headers)
    return error


def error_from_stream_event(
    event: Mapping[str, Any],
    *,
    provider: str | None,
    request_id: str | None,
    partial: ChatCompletion | None = None,
    secrets: Sequence[str] = (),
) -> APIError:
    """Build the typed error for a `data: {"error": …}` event inside a 200 stream."""
    parsed = _parse_error_object(event) or ParsedErrorBody(message=json.dumps(event))
    status = parsed.http_status
    if status is None:
        kind = (parsed.error_type or "").lower()
        status = 422 if kind in ("validation", "template_error") else 500
        if kind == "overloaded":
            status = 503
    cls = _class_for(status, parsed)
    error = cls(
        redact(parsed.message, secrets),
        status_code=status,
        code=parsed.code or parsed.error_type,
        provider=provider,
        request_id=request_id,
        body=redact(json.dumps(event, ensure_ascii=False), secrets),
        estimated_time=parsed.estimated_time,
        warnings=parsed.warnings,
    )
    error.in_stream = True
    error.partial = partial
    return error
