"""The router's model catalogue (`GET /v1/models`) and the TTL cache of lookups.

The router's `GET {base_url}/models` (WIRE.md §1) lists every chat model with the providers that
serve it: status, context length, prices, tool and structured-output support, speed.
`parse_models_response` reads it into `ModelInfo` / `ProviderInfo`; the HTTP call belongs to the
clients (`HFClient.list_models`). Choosing providers from it is `_routing`'s job; the Hub's view
(provider mapping, gating, access) is `_hub`'s. `DiscoveryCache` keeps both kinds of result in
memory for a TTL. Nothing here touches the network.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from hfproviders._hub import ModelAvailability

__all__ = [
    "DiscoveryCache",
    "ModelInfo",
    "ProviderInfo",
    "find_model",
    "models_from_json",
    "opt_bool",
    "opt_float",
    "opt_int",
    "opt_str",
    "parse_models_response",
    "strip_model_suffix",
]


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


def models_from_json(data: object, url: str) -> list[ModelInfo]:
    """`parse_models_response` for a client: an unrecognised answer is a typed `APIError`."""
    try:
        return parse_models_response(data)
    except ValueError as exc:
        from hfproviders._errors import APIError

        raise APIError(f"Unexpected answer from {url}: {exc}") from None


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
