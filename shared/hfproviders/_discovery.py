"""Discovery: the router's model catalogue, capability-aware routing helpers, and a TTL cache.

The router's `GET {base_url}/models` (WIRE.md §1) lists every chat model with the providers that
serve it: status, context length, prices, tool and structured-output support, speed.
`parse_models_response` reads it into `ModelInfo` / `ProviderInfo`; the HTTP call belongs to the
client (`HFClient.list_models`). The routing helpers (`providers_supporting`, `pick_provider`,
`check_capabilities`, `context_length_for`) are pure functions over a `ModelInfo`.

The Hub's view (provider mapping, gating, access) lives in `_hub`. `DiscoveryCache` keeps both
kinds of result in memory for a TTL. Nothing here touches the network.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

if TYPE_CHECKING:
    from hfproviders._hub import ModelAvailability

__all__ = [
    "CapabilityMismatch",
    "DiscoveryCache",
    "ModelInfo",
    "ProviderInfo",
    "RoutingPolicy",
    "check_capabilities",
    "context_length_for",
    "find_model",
    "opt_bool",
    "opt_float",
    "opt_int",
    "opt_str",
    "parse_models_response",
    "pick_provider",
    "providers_supporting",
    "strip_model_suffix",
]

RoutingPolicy = Literal["fastest", "cheapest", "preferred"]


# ---------------------------------------------------------------------------------------------
# Lenient field readers: the router adds and drops optional fields, so a wrong type is "unknown".


def opt_str(value: object) -> str | None:
    """A non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def opt_bool(value: object) -> bool | None:
    """A JSON boolean, else None."""
    return value if isinstance(value, bool) else None


def opt_float(value: object) -> float | None:
    """A finite number (or a numeric string), else None."""
    # bool is an int subclass; `true` is not a price.
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an int too large for a float (`10**400`)
            return None
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def opt_int(value: object) -> int | None:
    """A whole number (`8192.0` counts), else None."""
    number = opt_float(value)
    if number is None or not number.is_integer():
        return None
    return int(number)


def _str_tuple(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        return ()
    return tuple(item for item in value if isinstance(item, str))


# ---------------------------------------------------------------------------------------------
# The router's /v1/models


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """One provider serving a model, as listed by the router's `/v1/models`.

    Only `provider` and `status` are always present; every other field is None when the router
    did not send it (WIRE.md §1 shows a provider with nothing but a status). Prices are USD per
    million tokens; `throughput` is tokens per second.
    """

    provider: str
    status: str
    context_length: int | None = None
    pricing_input: float | None = None
    pricing_output: float | None = None
    is_free: bool | None = None
    supports_tools: bool | None = None
    supports_structured_output: bool | None = None
    first_token_latency_ms: float | None = None
    throughput: float | None = None
    is_model_author: bool | None = None

    @property
    def is_live(self) -> bool:
        """True when the router reports the provider as live."""
        return self.status == "live"

    def cost_usd(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """Cost of a call in USD from the listed prices; None when a needed price is unknown.

        A free provider costs 0 whatever its listed prices.
        """
        if self.is_free:
            return 0.0
        if self.pricing_input is None or self.pricing_output is None:
            return None
        return (prompt_tokens * self.pricing_input + completion_tokens * self.pricing_output) / 1e6


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model listed by the router, with the providers that serve it (in the router's order)."""

    id: str
    owned_by: str | None = None
    created: int | None = None
    input_modalities: tuple[str, ...] = ()
    output_modalities: tuple[str, ...] = ()
    providers: tuple[ProviderInfo, ...] = ()

    def provider(self, name: str) -> ProviderInfo | None:
        """Return the entry for provider `name` (case-insensitive), or None."""
        wanted = name.casefold()
        return next((p for p in self.providers if p.provider.casefold() == wanted), None)

    @property
    def live_providers(self) -> tuple[ProviderInfo, ...]:
        """The providers currently reported live."""
        return tuple(p for p in self.providers if p.is_live)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (tuples become lists when dumped)."""
        return asdict(self)


def _parse_provider_info(data: Mapping[str, Any]) -> ProviderInfo | None:
    name = opt_str(data.get("provider"))
    if name is None:
        return None
    pricing = data.get("pricing")
    pricing = pricing if isinstance(pricing, Mapping) else {}
    return ProviderInfo(
        provider=name,
        status=opt_str(data.get("status")) or "unknown",
        context_length=opt_int(data.get("context_length")),
        pricing_input=opt_float(pricing.get("input")),
        pricing_output=opt_float(pricing.get("output")),
        is_free=opt_bool(data.get("is_free")),
        supports_tools=opt_bool(data.get("supports_tools")),
        supports_structured_output=opt_bool(data.get("supports_structured_output")),
        first_token_latency_ms=opt_float(data.get("first_token_latency_ms")),
        throughput=opt_float(data.get("throughput")),
        is_model_author=opt_bool(data.get("is_model_author")),
    )


def _parse_model_info(data: Mapping[str, Any]) -> ModelInfo | None:
    model_id = opt_str(data.get("id"))
    if model_id is None:
        return None
    architecture = data.get("architecture")
    architecture = architecture if isinstance(architecture, Mapping) else {}
    raw_providers = data.get("providers")
    providers = tuple(
        info
        for item in (raw_providers if isinstance(raw_providers, list) else [])
        if isinstance(item, Mapping) and (info := _parse_provider_info(item)) is not None
    )
    return ModelInfo(
        id=model_id,
        owned_by=opt_str(data.get("owned_by")),
        created=opt_int(data.get("created")),
        input_modalities=_str_tuple(architecture.get("input_modalities")),
        output_modalities=_str_tuple(architecture.get("output_modalities")),
        providers=providers,
    )


def parse_models_response(data: object) -> list[ModelInfo]:
    """Parse the JSON of `GET /v1/models` (`{"data": [...]}`) or `GET /v1/models/{id}` (one object).

    Entries without an `id` and providers without a name are skipped; optional fields of the
    wrong type read as unknown (None). Raises `ValueError` when the shape is not recognised at
    all (e.g. an HTML page or an error object), so a broken answer is not mistaken for "no models".
    """
    if isinstance(data, Mapping):
        if isinstance(data.get("data"), list):
            items: list[Any] = data["data"]
        elif "id" in data:
            items = [data]
        else:
            raise ValueError(f"unrecognised /models response: keys {sorted(data)[:10]}")
    elif isinstance(data, list):
        items = data
    else:
        raise ValueError(f"unrecognised /models response of type {type(data).__name__}")
    return [
        model
        for item in items
        if isinstance(item, Mapping) and (model := _parse_model_info(item)) is not None
    ]


def strip_model_suffix(model: str) -> str:
    """`"org/name:groq"` -> `"org/name"` (Hub repo ids never contain a colon)."""
    return model.split(":", 1)[0]


def find_model(models: Iterable[ModelInfo], model: str) -> ModelInfo | None:
    """Return the entry for `model` (any `:provider` suffix ignored), exact id first.

    A case-insensitive match is the fallback, as the Hub resolves ids that way.
    """
    wanted = strip_model_suffix(model)
    candidates = list(models)
    exact = next((m for m in candidates if m.id == wanted), None)
    if exact is not None:
        return exact
    folded = wanted.casefold()
    return next((m for m in candidates if m.id.casefold() == folded), None)


# ---------------------------------------------------------------------------------------------
# Capability-aware routing helpers (pure)


def _supports(flag: bool | None, required: bool, include_unknown: bool) -> bool:
    if not required:
        return True
    return flag is True or (include_unknown and flag is None)


def providers_supporting(
    model_info: ModelInfo,
    *,
    tools: bool = False,
    structured_output: bool = False,
    live_only: bool = True,
    include_unknown: bool = False,
) -> list[ProviderInfo]:
    """Return the providers of `model_info` that support what is asked, in the router's order.

    A provider whose flag is missing counts as unsupported unless `include_unknown=True`.
    """
    return [
        p
        for p in model_info.providers
        if (p.is_live or not live_only)
        and _supports(p.supports_tools, tools, include_unknown)
        and _supports(p.supports_structured_output, structured_output, include_unknown)
    ]


def _fastest_key(p: ProviderInfo) -> tuple[bool, float, float]:
    # Unknown throughput sorts last; ties go to the lower time to first token.
    return (
        p.throughput is None,
        -(p.throughput or 0.0),
        p.first_token_latency_ms if p.first_token_latency_ms is not None else math.inf,
    )


def _output_price(p: ProviderInfo) -> float | None:
    return 0.0 if p.is_free else p.pricing_output


def _cheapest_key(p: ProviderInfo) -> tuple[bool, float, float]:
    output = _output_price(p)
    input_price = 0.0 if p.is_free else p.pricing_input
    return (
        output is None,
        output if output is not None else math.inf,
        input_price if input_price is not None else math.inf,
    )


def pick_provider(
    model_info: ModelInfo,
    policy: RoutingPolicy = "fastest",
    *,
    requires_tools: bool = False,
    requires_structured: bool = False,
    preference: Sequence[str] = (),
) -> ProviderInfo | None:
    """Choose a live provider for `model_info` the way the router's policies do, or None.

    - `fastest`: highest `throughput` (the router's definition); unknown throughput last.
    - `cheapest`: lowest output price (free counts as 0), then lowest input price; unknown last.
    - `preferred`: the first provider in `preference`, else the router's listing order. The
      router's own `:preferred` follows the account settings, which only the server knows, so
      prefer sending the suffix when no capability forces a client-side choice.

    Only providers that are live and known to support the required capabilities qualify.
    Ties keep the router's order.
    """
    candidates = providers_supporting(
        model_info, tools=requires_tools, structured_output=requires_structured
    )
    if not candidates:
        return None
    if policy == "fastest":
        return min(candidates, key=_fastest_key)
    if policy == "cheapest":
        return min(candidates, key=_cheapest_key)
    if policy == "preferred":
        ranked = [name.casefold() for name in preference]

        def rank(p: ProviderInfo) -> int:
            name = p.provider.casefold()
            return ranked.index(name) if name in ranked else len(ranked)

        return min(candidates, key=rank)
    raise ValueError(f"unknown routing policy {policy!r}; use fastest, cheapest or preferred")


def context_length_for(model_info: ModelInfo, provider: str | None = None) -> int | None:
    """Context window in tokens for `provider`, or for whichever live provider the router picks.

    With `provider=None` this is the smallest known window among live providers (falling back to
    every provider), because the router may pick any of them: the safe value for trimming.
    """
    if provider is not None:
        entry = model_info.provider(provider)
        return entry.context_length if entry is not None else None
    for pool in (model_info.live_providers, model_info.providers):
        lengths = [p.context_length for p in pool if p.context_length is not None]
        if lengths:
            return min(lengths)
    return None


@dataclass(frozen=True, slots=True)
class CapabilityMismatch:
    """A provider is known not to support what a request needs; `alternatives` do."""

    model: str
    provider: str
    missing: tuple[str, ...]
    alternatives: tuple[str, ...]

    @property
    def message(self) -> str:
        """A message for the error the client raises, naming the providers that would work."""
        needs = " and ".join(self.missing)
        text = f"Provider {self.provider!r} does not support {needs} for {self.model}."
        if self.alternatives:
            return f"{text} Providers that do: {', '.join(self.alternatives)}."
        return f"{text} No live provider is known to support it."


def check_capabilities(
    model_info: ModelInfo,
    provider: str,
    *,
    requires_tools: bool = False,
    requires_structured: bool = False,
) -> CapabilityMismatch | None:
    """Return a mismatch when `provider` is *known* not to support a required capability.

    Missing flags and providers not listed for the model give None: only the server can say.
    """
    entry = model_info.provider(provider)
    if entry is None:
        return None
    missing: list[str] = []
    if requires_tools and entry.supports_tools is False:
        missing.append("tool calling")
    if requires_structured and entry.supports_structured_output is False:
        missing.append("structured output")
    if not missing:
        return None
    alternatives = providers_supporting(
        model_info, tools=requires_tools, structured_output=requires_structured
    )
    return CapabilityMismatch(
        model=model_info.id,
        provider=entry.provider,
        missing=tuple(missing),
        alternatives=tuple(p.provider for p in alternatives),
    )


# ---------------------------------------------------------------------------------------------
# In-memory cache


@dataclass(slots=True)
class _Entry:
    value: Any
    expires_at: float


@dataclass(slots=True)
class DiscoveryCache:
    """Discovery results kept in memory for `ttl_s` seconds (thread-safe).

    One cache belongs to one client, so to one token: availability depends on the token and is
    keyed by model only. `clock` is injectable (monotonic seconds) for tests.

    >>> cache = DiscoveryCache(ttl_s=600)
    >>> cache.get_models("https://router.huggingface.co/v1") is None
    True
    """

    ttl_s: float = 600.0
    clock: Callable[[], float] = time.monotonic
    _entries: dict[tuple[str, str], _Entry] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.ttl_s <= 0:
            raise ValueError("ttl_s must be positive")

    def _get(self, key: tuple[str, str]) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self.clock() >= entry.expires_at:
                del self._entries[key]
                return None
            return entry.value

    def _put(self, key: tuple[str, str], value: Any) -> None:
        with self._lock:
            self._entries[key] = _Entry(value, self.clock() + self.ttl_s)

    def get_models(self, base_url: str) -> list[ModelInfo] | None:
        """Return the cached model list of `base_url` (a fresh list), or None if absent/expired."""
        models = self._get(("models", base_url.rstrip("/")))
        return list(models) if models is not None else None

    def put_models(self, base_url: str, models: Sequence[ModelInfo]) -> None:
        """Cache the model list of `base_url`."""
        self._put(("models", base_url.rstrip("/")), tuple(models))

    def get_availability(self, model: str) -> ModelAvailability | None:
        """Return the cached Hub availability of `model`, or None when absent or expired."""
        value = self._get(("availability", strip_model_suffix(model)))
        return cast("ModelAvailability | None", value)

    def put_availability(self, availability: ModelAvailability) -> None:
        """Cache a Hub availability (errors that raised are never passed here)."""
        self._put(("availability", availability.model), availability)

    def clear(self) -> None:
        """Forget everything (e.g. after the user changed provider settings)."""
        with self._lock:
            self._entries.clear()
