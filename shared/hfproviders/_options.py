"""The client options, declared once.

`HFClient(**options)`, `AsyncHFClient(**options)` and both framework adapters take the same
`ClientOptions`; a new option is added here (and read in `ClientConfig.create`), nowhere else.
The adapters map their fields of the same names with `OPTION_NAMES`.

A testing switch, `set_testing`, removes the sleeps between retries (as stamina's does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal, TypedDict

if TYPE_CHECKING:
    from hfproviders._cache import ResponseCache
    from hfproviders._catalog import DiscoveryCache
    from hfproviders._health import CircuitBreaker, HealthTracker, ProviderConstraints
    from hfproviders._observe import AttemptHook, HealthHook, Observer, SpendHook
    from hfproviders._ratelimit import RateLimiter
    from hfproviders._retry import RetryPolicy
    from hfproviders._spend import SpendLimit
    from hfproviders._state import SharedRateLimiter, StateBackend
    from hfproviders._telemetry import GenAITelemetry

__all__ = ["OPTION_NAMES", "ClientOptions", "Testing", "is_testing", "set_testing"]


class ClientOptions(TypedDict, total=False):
    """Options of `HFClient`, `AsyncHFClient` and the adapters (all optional, keyword only).

    - `api_key`: the token. Default: `HF_TOKEN`, then `hf auth login`, for Hugging Face hosts
      only; `HFPROVIDERS_API_KEY` for any other `base_url`.
    - `base_url`: default `https://router.huggingface.co/v1`; any OpenAI-compatible or TGI server.
    - `router`: treat a custom `base_url` (gateway, proxy, the fake router) as the HF router.
    - `provider`: a provider, a policy (`fastest`, `cheapest`, `preferred`, `lowest-latency`) or
      a failover list.
    - `bill_to`: organisation billed (`X-HF-Bill-To`, inference only). Default `HF_BILL_TO`.
    - `timeout`: seconds; bounds each attempt, and the whole call unless `retry.budget` is set.
    - `max_retries` or `retry=RetryPolicy(...)`: retries after the first attempt, backoff, budget.
    - `stream_idle_timeout`: most seconds between two stream reads (default 60, within timeout).
    - `max_response_bytes`: cap on a success body once decoded (default 64 MB).
    - `default_headers`, `max_input_chars`.
    - `on_attempt`: a hook called after every HTTP attempt; `observer`: an `Observer`.
    - `cache`, `rate_limiter`: opt-in response cache and client-side rate limiter.
    - `routing` (`"off"`, `"cached"`, `"auto"`), `discovery_ttl`, `discovery`: capability routing
      from the router's catalogue, and the lookup cache (share one between clients).
    - `breaker`: a `CircuitBreaker` per (model, provider), on by default; None turns it off.
    - `health`: a `HealthTracker` shared by several clients (breaker state, latency statistics),
      or your own `HealthHook` (see `_observe`). Default: one tracker per client.
    - `constraints`: `ProviderConstraints` (prices, throughput, only/ignore) for
      `provider="lowest-latency"`.
    - `hedge_after`: seconds, or `"p90"` of the measured time to first token, before a slow
      first attempt is raced on the next provider (default None: no hedging).
    - `budget`: a `SpendLimit` (pass one object to several clients to share it); `spend`: your
      own `SpendHook` instead of the built-in cost ledger.
    - `telemetry`: OpenTelemetry GenAI spans and metrics (None: on once a provider is
      configured; False: never; True or a `GenAITelemetry`: always).
    - `state`: where the limiter and cache live (`"redis://…"` shares them between workers).
    """

    api_key: str | None
    base_url: str | None
    router: bool
    provider: str | Sequence[str] | None
    bill_to: str | None
    timeout: float | None
    max_retries: int | None
    retry: RetryPolicy | None
    stream_idle_timeout: float | None
    max_response_bytes: int | None
    default_headers: Mapping[str, str] | None
    max_input_chars: int | None
    on_attempt: AttemptHook | None
    observer: Observer | None
    cache: ResponseCache | None
    rate_limiter: RateLimiter | SharedRateLimiter | None
    routing: Literal["off", "cached", "auto"]
    discovery_ttl: float
    discovery: DiscoveryCache | None
    breaker: CircuitBreaker | None
    health: HealthTracker | HealthHook | None
    constraints: ProviderConstraints | None
    hedge_after: float | str | None
    budget: SpendLimit | None
    spend: SpendHook | None
    telemetry: GenAITelemetry | bool | None
    state: str | StateBackend | None


#: Every option name, for adapters that map fields of the same names onto the core.
OPTION_NAMES: frozenset[str] = frozenset(ClientOptions.__annotations__)


class Testing:
    """The state `set_testing` switches; also a context manager that restores the previous one."""

    __slots__ = ("_previous",)
    enabled = False

    def __init__(self, previous: bool) -> None:
        self._previous = previous

    def __enter__(self) -> Testing:
        return self

    def __exit__(self, *exc: object) -> None:
        Testing.enabled = self._previous


def set_testing(testing: bool = True) -> Testing:
    """Turn retry sleeps off (`True`) or back on, for tests.

    Decisions are unchanged (the same retries, the same waits reported to observers); only the
    sleeping is skipped. Usable as a context manager, which restores the previous setting:

    >>> import hfproviders
    >>> with hfproviders.set_testing(True):
    ...     pass  # retries here do not sleep
    """
    previous = Testing.enabled
    Testing.enabled = bool(testing)
    return Testing(previous)


def is_testing() -> bool:
    """Whether `set_testing(True)` is in force."""
    return Testing.enabled
