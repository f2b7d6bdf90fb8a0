"""Pure parsers for response headers: Retry-After and the many rate-limit header dialects.

They read into `RateLimitInfo` (defined here; `_types` re-exports it with the result types).

Header mappings passed here have lower-case keys. Servers send anything, so every number is
read defensively: NaN, infinities and absurd magnitudes (`1e999`, a 400-digit integer) read as
absent, never as an `OverflowError`; waits and resets are clamped to `MAX_WAIT_S`. A reset
value may be a duration (`12`, `6m0s`), an epoch timestamp in seconds, or one in milliseconds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "MAX_WAIT_S",
    "RateLimitInfo",
    "parse_duration",
    "parse_rate_limit",
    "parse_retry_after",
    "parse_retry_after_ms",
]

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
# Values above this are absolute epoch timestamps, not durations (providers send both) ...
_EPOCH_THRESHOLD = 1_000_000_000
# ... and above this, epoch timestamps in milliseconds (read as seconds: a 57,000-year wait).
_EPOCH_MS_THRESHOLD = 100_000_000_000
# No rate-limit window or Retry-After is longer than a day; anything above is clamped to it.
MAX_WAIT_S = 86_400.0
# Counts beyond this are not counts (a header of `1e999` or 400 digits): read as absent.
_MAX_COUNT = 10**15


@dataclass(slots=True)
class RateLimitInfo:
    """Rate-limit state read from the response headers (every field None when not sent).

    Providers name these headers differently (WIRE.md §7); this is the normalised view.
    Reset times are seconds from the moment the response arrived.
    """

    limit_requests: int | None = None
    remaining_requests: int | None = None
    reset_requests_s: float | None = None
    limit_tokens: int | None = None
    remaining_tokens: int | None = None
    reset_tokens_s: float | None = None
    retry_after_s: float | None = None
    raw: dict[str, str] = field(default_factory=dict)

    @property
    def exhausted(self) -> bool:
        """True when the server says no request is left in the current window."""
        return self.remaining_requests == 0 or self.remaining_tokens == 0


def _number(text: str) -> float | None:
    """A finite float from header text, else None (never raises)."""
    try:
        number = float(text)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _seconds(value: float) -> float:
    """A wait, clamped to [0, MAX_WAIT_S]."""
    return min(max(0.0, value), MAX_WAIT_S)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` value: delta-seconds or an HTTP date.

    `now` is the current epoch time, passed in so the function stays pure and testable.
    Returns None for a missing or unparseable value; never a negative number.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value[:1].isdigit() or value[:1] in "+-.":
        seconds = _number(value)
        return None if seconds is None else _seconds(seconds)
    from email.utils import parsedate_to_datetime  # rare path; keeps the import cheap

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return _seconds(when.timestamp() - now)


def parse_retry_after_ms(value: str | None) -> float | None:
    """Seconds from a `retry-after-ms` header value (milliseconds)."""
    if value is None:
        return None
    ms = _number(value.strip())
    return None if ms is None else _seconds(ms / 1000.0)


def parse_duration(value: str | None, now: float) -> float | None:
    """Seconds from a reset value: `12`, `1.5`, `250ms`, `6m0s`, `1h2m`, or an epoch timestamp.

    Epoch timestamps may be in seconds or in milliseconds; the result is clamped to
    [0, MAX_WAIT_S]. None for anything unreadable (NaN, infinities, negative numbers).
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value[-1:].isalpha():
        parts = _DURATION_PART.findall(value)
        if not parts or "".join(n + u for n, u in parts) != value.replace(" ", ""):
            return None
        factor = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
        total = sum((_number(n) or 0.0) * factor[u] for n, u in parts)
        return _seconds(total) if math.isfinite(total) else None
    number = _number(value)
    if number is None or number < 0:
        return None
    if number > _EPOCH_MS_THRESHOLD:
        return _seconds(number / 1000.0 - now)
    if number > _EPOCH_THRESHOLD:
        return _seconds(number - now)
    return _seconds(number)


def _int(value: str | None) -> int | None:
    """A count from header text; None when unreadable or absurd (never raises)."""
    if value is None:
        return None
    number = _number(value.strip())
    if number is None or abs(number) > _MAX_COUNT:
        return None
    return int(number)


def _first(headers: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = headers.get(name)
        if value is not None:
            return value
    return None


def _parse_ietf(value: str) -> tuple[int | None, int | None, float | None]:
    """`"api";r=999;t=242` (draft-ietf-httpapi-ratelimit-headers-08+) or `limit=…, remaining=…`."""
    remaining = limit = None
    reset: float | None = None
    for match in re.finditer(r"\b(r|t|q|remaining|reset|limit)\s*=\s*(\d+(?:\.\d+)?)", value):
        key, number = match.group(1), match.group(2)
        if key in ("t", "reset"):
            seconds = _number(number)  # the IETF draft's reset is always delta-seconds
            reset = None if seconds is None else _seconds(seconds)
        elif key in ("r", "remaining"):
            remaining = _int(number)
        else:
            limit = _int(number)
    return limit, remaining, reset


def parse_rate_limit(headers: Mapping[str, str], now: float) -> RateLimitInfo | None:
    """Normalise provider rate-limit headers (WIRE.md §7); None when there are none.

    Dialects: together (`x-ratelimit-limit`, `-remaining`, `-reset`, `-limit-tokens`,
    `-remaining-tokens`), OpenAI/fireworks (`-limit-requests`, `-remaining-requests`,
    `-reset-requests`, `-tokens`), cerebras (`-requests-day`, `-tokens-minute`), and the IETF
    `RateLimit` / `RateLimit-Policy` pair of the Hub. `retry-after` is kept too (together sends
    it on successes).
    """
    raw = {
        k: v
        for k, v in headers.items()
        if k.startswith(("x-ratelimit", "ratelimit")) or k in ("retry-after", "retry-after-ms")
    }
    if not raw:
        return None
    info = RateLimitInfo(raw=raw)
    info.limit_requests = _int(
        _first(
            raw, "x-ratelimit-limit-requests", "x-ratelimit-limit", "x-ratelimit-limit-requests-day"
        )
    )
    info.remaining_requests = _int(
        _first(
            raw,
            "x-ratelimit-remaining-requests",
            "x-ratelimit-remaining",
            "x-ratelimit-remaining-requests-day",
        )
    )
    info.reset_requests_s = parse_duration(
        _first(
            raw, "x-ratelimit-reset-requests", "x-ratelimit-reset", "x-ratelimit-reset-requests-day"
        ),
        now,
    )
    info.limit_tokens = _int(
        _first(raw, "x-ratelimit-limit-tokens", "x-ratelimit-limit-tokens-minute")
    )
    info.remaining_tokens = _int(
        _first(raw, "x-ratelimit-remaining-tokens", "x-ratelimit-remaining-tokens-minute")
    )
    info.reset_tokens_s = parse_duration(
        _first(raw, "x-ratelimit-reset-tokens", "x-ratelimit-reset-tokens-minute"), now
    )
    ietf = raw.get("ratelimit")
    if ietf:
        limit, remaining, reset = _parse_ietf(ietf)
        policy_limit, _, _ = _parse_ietf(raw.get("ratelimit-policy", ""))
        info.limit_requests = info.limit_requests or limit or policy_limit
        if info.remaining_requests is None:
            info.remaining_requests = remaining
        if info.reset_requests_s is None:
            info.reset_requests_s = reset
    retry_after_ms = parse_retry_after_ms(raw.get("retry-after-ms"))
    info.retry_after_s = (
        retry_after_ms
        if retry_after_ms is not None
        else parse_retry_after(raw.get("retry-after"), now)
    )
    return info
