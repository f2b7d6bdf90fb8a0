"""The core, loaded on first use: client pairs, defaults and checks for the adapter's fields.

`from llamaindex_hfproviders import HFProviders` imports LlamaIndex and this adapter, not the
`hfproviders` core: the first model made loads it (a default `breaker`, an empty client
pair), and checks a given `cache` or `request_rate_limiter` against the core's types then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from hfproviders import CircuitBreaker, ClientPair, HFProvidersError

__all__ = [
    "TokenlessPickle",
    "cache_or_none",
    "core_error",
    "default_breaker",
    "new_pair",
    "option_names",
    "rate_limiter_or_none",
    "share_by_reference",
]


def new_pair() -> ClientPair:
    """An empty `hfproviders.ClientPair` (its clients are made on first use)."""
    from hfproviders import ClientPair

    return ClientPair()


def default_breaker() -> CircuitBreaker:
    """The default `breaker`: a fresh `hfproviders.CircuitBreaker`."""
    from hfproviders import CircuitBreaker

    return CircuitBreaker()


def cache_or_none(value: Any) -> Any:
    """Check a `cache`: an `hfproviders.ResponseCache` (InMemoryCache, SQLiteCache...) or None."""
    from hfproviders import ResponseCache

    if value is not None and not isinstance(value, ResponseCache):
        raise ValueError(f"cache must be a hfproviders.ResponseCache, got {type(value).__name__}")
    return value


def rate_limiter_or_none(value: Any) -> Any:
    """Check a `request_rate_limiter`: an `hfproviders.RateLimiter` (or a subclass), or None."""
    from hfproviders import RateLimiter

    if value is not None and not isinstance(value, RateLimiter):
        raise ValueError(
            f"request_rate_limiter must be a hfproviders.RateLimiter, got {type(value).__name__}"
        )
    return value


def core_error() -> type[HFProvidersError]:
    """`hfproviders.HFProvidersError`, for an `except` clause (evaluated only on an exception)."""
    from hfproviders import HFProvidersError

    return HFProvidersError


def option_names() -> frozenset[str]:
    """The core clients' option names (`hfproviders.OPTION_NAMES`)."""
    from hfproviders import OPTION_NAMES

    return OPTION_NAMES


_BY_REFERENCE = (
    "cache",
    "request_rate_limiter",
    "rate_limiter",
    "state",
    "health",
    "budget",
    "telemetry",
    "_http_client",
    "_http_async_client",
)


def share_by_reference(model: Any, memo: dict[int, Any] | None) -> dict[int, Any]:
    """A `copy.deepcopy` memo that makes a copy of `model` share what must not be duplicated."""
    memo = {} if memo is None else memo
    for name in _BY_REFERENCE:
        shared = getattr(model, name, None)
        if shared is not None:
            memo.setdefault(id(shared), shared)
    return memo


class TokenlessPickle:
    """For the models: a pickle never holds the token (`hfproviders.pickle_state_without_token`).

    An unpickled model finds its token where it is loaded (HF_TOKEN, the stored login), as a
    model made without `api_key` does; pass `api_key` again where neither is set.
    """

    def __getstate__(self) -> dict[Any, Any]:
        from hfproviders import pickle_state_without_token

        state = cast("dict[Any, Any]", super().__getstate__())
        return pickle_state_without_token(state)
