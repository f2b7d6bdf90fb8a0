"""Pure parsers for response headers: Retry-After and the many rate-limit header dialects.

Header mappings passed here have lower-case keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from hfproviders._types import RateLimitInfo

__all__ = ["parse_duration", "parse_rate_limit", "parse_retry_after", "parse_retry_after_ms"]

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
# Values above this are absolute epoch timestamps, not durations (providers send both).
_EPOCH_THRESHOLD = 1_000_000_000


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
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN / inf
            return None
        return max(0.0, seconds)
    from email.utils import parsedate_to_datetime  # rare path; keeps the import cheap

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


def parse_retry_after_ms(value: str | None) -> float | None:
    """Seconds from a `retry-after-ms` header value (milliseconds)."""
    if value is None:
        return None
    try:
        ms = float(value.strip())
    except ValueError:
        return None
    if ms != ms or ms in (float("inf"), float("-inf")):
        return None
    return max(0.0, ms / 1000.0)


def parse_duration(value: str | None, now: float) -> float | None:
    """Seconds from a reset value: `12`, `1.5`, `250ms`, `6m0s`, `1h2m`, or an epoch timestamp."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        parts = _DURATION_PART.findall(value)
        if not parts or "".join(n + u for n, u in parts) != value.replace(" ", ""):
            return None
        factor = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
        return sum(float(n) * factor[u] for n, u in parts)
    if number != number or number < 0 or number == float("inf"):
        return None
    if number > _EPOCH_THRESHOLD:
        return max(0.0, number - now)
    return number


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except ValueError:
        return None


def _first(headers: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = headers.get(name)
        if value is not None:
            return value
    return None


def _parse_ietf(value: str) -> tuple[int | None, int | None, float | None]:
    """`"api";r=999;t=242` (draft-ietf-httpapi-ratelimit-headers-08+) or `limit=…, remaining=…`."""
    remaining = reset = limit = None
    for match in re.finditer(r"\b(r|t|q|remaining|reset|limit)\s*=\s*(\d+(?:\.\d+)?)", value):
        key, number = match.group(1), match.group(2)
        if key in ("r", "remaining"):
            remaining = int(float(number))
        elif key in ("t", "reset"):
            reset = float(number)
        else:
            limit = int(float(number))
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
