"""Discovery: which providers serve a model, what each supports and costs, and who may use it.

Two sources (WIRE.md §1):

- the router's `GET {base_url}/models` (and `/models/{id}`), parsed by `parse_models_response`
  into `ModelInfo` / `ProviderInfo` (capabilities, pricing, speed). The HTTP call belongs to the
  client's transport; this module only parses the JSON.
- the Hub's model API with `expand=inferenceProviderMapping`, read into `ModelAvailability` /
  `ProviderMapping` (live / staging / error per provider, task, provider's model id, whether the
  model exists, is gated and whether this token may use it). `fetch_model_availability` does the
  sync lookup through `huggingface_hub` (imported lazily); the pieces it is built from
  (`hub_model_info_request`, `availability_from_hub_json`, `classify_hub_error`) are sans-I/O so an
  async client can do the same lookup on its own transport.

Everything here is pure except `fetch_model_availability`; nothing touches the network at import
or construction time. `DiscoveryCache` keeps results in memory for a TTL.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, Protocol, cast

from hfproviders._errors import (
    APIConnectionError,
    APITimeoutError,
    HFProvidersError,
    error_from_response,
)

__all__ = [
    "HUB_ENDPOINT",
    "HUB_EXPAND",
    "CapabilityMismatch",
    "DiscoveryCache",
    "HubAPI",
    "HubErrorKind",
    "ModelAvailability",
    "ModelInfo",
    "ProviderInfo",
    "ProviderMapping",
    "RoutingPolicy",
    "availability_after_access_check",
    "availability_from_hub_error",
    "availability_from_hub_json",
    "check_capabilities",
    "classify_hub_error",
    "context_length_for",
    "deny_access",
    "fetch_model_availability",
    "find_model",
    "hub_auth_check_url",
    "hub_model_info_request",
    "needs_access_check",
    "parse_models_response",
    "parse_provider_mapping",
    "pick_provider",
    "providers_supporting",
    "strip_model_suffix",
]

HUB_ENDPOINT = "https://huggingface.co"
# What `model_providers` asks the Hub for: the mapping plus the fields `check` reports.
HUB_EXPAND: tuple[str, ...] = ("inferenceProviderMapping", "gated", "pipeline_tag")

RoutingPolicy = Literal["fastest", "cheapest", "preferred"]
HubErrorKind = Literal["not_found", "gated", "unauthorized", "forbidden", "disabled"]


# ---------------------------------------------------------------------------------------------
# Lenient field readers: the router adds and drops optional fields, so a wrong type is "unknown".


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _opt_bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _opt_float(value: object) -> float | None:
    # bool is an int subclass; `true` is not a price.
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _opt_int(value: object) -> int | None:
    number = _opt_float(value)
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
    name = _opt_str(data.get("provider"))
    if name is None:
        return None
    pricing = data.get("pricing")
    pricing = pricing if isinstance(pricing, Mapping) else {}
    return ProviderInfo(
        provider=name,
        status=_opt_str(data.get("status")) or "unknown",
        context_length=_opt_int(data.get("context_length")),
        pricing_input=_opt_float(pricing.get("input")),
        pricing_output=_opt_float(pricing.get("output")),
        is_free=_opt_bool(data.get("is_free")),
        supports_tools=_opt_bool(data.get("supports_tools")),
        supports_structured_output=_opt_bool(data.get("supports_structured_output")),
        first_token_latency_ms=_opt_float(data.get("first_token_latency_ms")),
        throughput=_opt_float(data.get("throughput")),
        is_model_author=_opt_bool(data.get("is_model_author")),
    )


def _parse_model_info(data: Mapping[str, Any]) -> ModelInfo | None:
    model_id = _opt_str(data.get("id"))
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
        owned_by=_opt_str(data.get("owned_by")),
        created=_opt_int(data.get("created")),
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
# The Hub's provider mapping


@dataclass(frozen=True, slots=True)
class ProviderMapping:
    """One entry of the Hub's `inferenceProviderMapping` for a model.

    `status` is `live`, `staging` or `error` (the last is real though undocumented, WIRE.md §1);
    `provider_model_id` is the id the provider itself uses for the model.
    """

    provider: str
    status: str
    task: str | None = None
    provider_model_id: str | None = None
    is_model_author: bool | None = None
    adapter: str | None = None
    adapter_weights_path: str | None = None
    mapping_type: str | None = None

    @property
    def is_live(self) -> bool:
        """True when the Hub reports the mapping as live."""
        return self.status == "live"


def _mapping_from_fields(provider: str | None, fields: Mapping[str, Any]) -> ProviderMapping | None:
    name = provider or _opt_str(fields.get("provider"))
    if name is None:
        return None
    return ProviderMapping(
        provider=name,
        status=_opt_str(fields.get("status")) or "unknown",
        task=_opt_str(fields.get("task")),
        provider_model_id=_opt_str(fields.get("providerId")),
        is_model_author=_opt_bool(fields.get("isModelAuthor")),
        adapter=_opt_str(fields.get("adapter")),
        adapter_weights_path=_opt_str(fields.get("adapterWeightsPath")),
        mapping_type=_opt_str(fields.get("type")),
    )


def parse_provider_mapping(data: object) -> list[ProviderMapping]:
    """Parse `inferenceProviderMapping`: the dict form `{provider: {...}}` or the legacy list form.

    The whole model JSON (with an `inferenceProviderMapping` key) is accepted too. Entries that
    are not objects or have no provider name are skipped; a missing mapping gives `[]`.
    """
    if isinstance(data, Mapping) and "inferenceProviderMapping" in data:
        data = data["inferenceProviderMapping"]
    if isinstance(data, Mapping):
        pairs: Iterable[tuple[str | None, object]] = ((str(k), v) for k, v in data.items())
    elif isinstance(data, list):
        pairs = ((None, v) for v in data)
    else:
        return []
    return [
        mapping
        for name, fields in pairs
        if isinstance(fields, Mapping) and (mapping := _mapping_from_fields(name, fields))
    ]


@dataclass(frozen=True, slots=True)
class ModelAvailability:
    """What the Hub says about a model for this token.

    - `exists`: False when the Hub does not know the model, or it is private and the token cannot
      see it (the Hub does not tell those apart); None when the answer was about the token instead.
    - `gated` / `gate_mode` (`"auto"` or `"manual"` approval).
    - `accessible`: whether the token may use the repo (for a gated model: access was granted);
      None when no token was given. It does not prove the token has the "Make calls to Inference
      Providers" permission; only a real request (`hfproviders check --probe`) proves that.
    - `providers`: the mapping, in the Hub's order (the account's preference order when the lookup
      is authenticated).
    - `error_code` (a `HubErrorKind`) and `error` (a sentence) when something is wrong.
    """

    model: str
    exists: bool | None
    gated: bool | None = None
    gate_mode: str | None = None
    accessible: bool | None = None
    pipeline_tag: str | None = None
    providers: tuple[ProviderMapping, ...] = ()
    error_code: HubErrorKind | None = None
    error: str | None = None

    @property
    def live_providers(self) -> tuple[ProviderMapping, ...]:
        """The mappings whose status is live."""
        return tuple(p for p in self.providers if p.is_live)

    def provider(self, name: str) -> ProviderMapping | None:
        """Return the mapping for provider `name` (case-insensitive), or None."""
        wanted = name.casefold()
        return next((p for p in self.providers if p.provider.casefold() == wanted), None)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)


def hub_model_info_request(
    model: str, endpoint: str = HUB_ENDPOINT
) -> tuple[str, list[tuple[str, str]]]:
    """URL and query parameters of the Hub lookup (for a client doing it on its own transport)."""
    url = f"{endpoint.rstrip('/')}/api/models/{strip_model_suffix(model)}"
    return url, [("expand[]", name) for name in HUB_EXPAND]


def hub_auth_check_url(model: str, endpoint: str = HUB_ENDPOINT) -> str:
    """URL of the Hub's access check for `model` (200 when the token may read the repo)."""
    return f"{endpoint.rstrip('/')}/api/models/{strip_model_suffix(model)}/auth-check"


def _gate_fields(gated: object) -> tuple[bool | None, str | None]:
    if gated is False:
        return False, None
    if isinstance(gated, str) and gated:
        return True, gated
    if gated is True:
        return True, None
    return None, None


def availability_from_hub_json(
    model: str,
    data: Mapping[str, Any],
    *,
    token_given: bool,
    access_granted: bool | None = None,
) -> ModelAvailability:
    """Build the availability from the Hub's model JSON (an existing model).

    `access_granted` is the result of the access check for a gated model (None when not made).
    A public model is accessible to any token; with no token, access is unknown (None).
    """
    gated, gate_mode = _gate_fields(data.get("gated"))
    accessible: bool | None
    if not token_given:
        accessible = None
    elif gated:
        accessible = access_granted
    else:
        accessible = True
    availability = ModelAvailability(
        # The requested name, not the Hub's canonical id: it is the cache key callers look up.
        model=strip_model_suffix(model),
        exists=True,
        gated=gated,
        gate_mode=gate_mode,
        accessible=accessible,
        pipeline_tag=_opt_str(data.get("pipeline_tag")),
        providers=tuple(parse_provider_mapping(data.get("inferenceProviderMapping"))),
    )
    if accessible is False:
        return deny_access(availability, "gated")
    return availability


def classify_hub_error(status_code: int, headers: Mapping[str, str]) -> HubErrorKind | None:
    """Say what a Hub error means for the model, or None when it is not about it (5xx…).

    Follows huggingface_hub's reading: `X-Error-Code` first, then the status. A 401 is an
    invalid token only when the Hub says so; otherwise it is how the Hub hides private, gated
    and missing repos from anonymous callers, so it reads as not found.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    error_code = lowered.get("x-error-code", "")
    error_message = lowered.get("x-error-message", "")
    if error_code == "GatedRepo":
        return "gated"
    if error_code == "DisabledRepo":
        return "disabled"
    if error_code == "RepoNotFound" or status_code == 404:
        return "not_found"
    if status_code == 401:
        # The Hub answers 401 both for a bad token and to hide private, gated or missing repos
        # from callers it does not know; only the message tells the two apart.
        if "invalid credentials" in error_message.lower():
            return "unauthorized"
        return "not_found"
    if status_code == 403:
        return "forbidden"
    if status_code == 451:
        return "disabled"
    return None


_HUB_ERROR_SENTENCES: dict[HubErrorKind, str] = {
    "not_found": "The Hub does not know this model "
    "(or it is private and this token cannot see it).",
    "gated": "The model is gated and this token has not been granted access; "
    "request it at https://huggingface.co/{model}.",
    "unauthorized": "The Hub rejected the token (invalid or expired); "
    "create one at https://huggingface.co/settings/tokens.",
    "forbidden": "The token is not allowed to read this model.",
    "disabled": "Access to this model has been disabled on the Hub.",
}


def _sentence(kind: HubErrorKind, model: str, token_given: bool) -> str:
    text = _HUB_ERROR_SENTENCES[kind].format(model=strip_model_suffix(model))
    if kind == "not_found" and not token_given:
        text += " No token was sent."
    return text


def deny_access(
    availability: ModelAvailability, kind: HubErrorKind, *, token_given: bool = True
) -> ModelAvailability:
    """Return the same availability, marked as not accessible for the reason `kind`."""
    return replace(
        availability,
        accessible=False,
        error_code=kind,
        error=_sentence(kind, availability.model, token_given),
    )


def availability_from_hub_error(
    model: str, status_code: int, headers: Mapping[str, str], *, token_given: bool
) -> ModelAvailability | None:
    """Availability for a failed model lookup, or None when the error is not about the model."""
    kind = classify_hub_error(status_code, headers)
    if kind is None:
        return None
    name = strip_model_suffix(model)
    exists: bool | None = {"not_found": False, "gated": True, "disabled": True}.get(kind)
    return ModelAvailability(
        model=name,
        exists=exists,
        gated=True if kind == "gated" else None,
        accessible=False,
        error_code=kind,
        error=_sentence(kind, name, token_given),
    )


def needs_access_check(availability: ModelAvailability, *, token_given: bool) -> bool:
    """Whether the Hub's access check is needed: a gated model looked up with a token."""
    return token_given and availability.exists is True and availability.gated is True


def availability_after_access_check(
    availability: ModelAvailability, status_code: int, headers: Mapping[str, str]
) -> ModelAvailability | None:
    """Fold the answer of `hub_auth_check_url` into `availability`.

    2xx grants access. A refusal denies it: any "not found" for a model we just saw means this
    token may not see it, which for a gated model is the gate. None when the status says nothing
    about access (5xx, 429): the caller raises the typed error for it.
    """
    if 200 <= status_code < 300:
        return replace(availability, accessible=True)
    kind = classify_hub_error(status_code, headers)
    if kind is None:
        return None
    return deny_access(availability, "gated" if kind == "not_found" else kind)


# ---------------------------------------------------------------------------------------------
# The sync lookup through huggingface_hub


class HubAPI(Protocol):
    """The two `huggingface_hub.HfApi` methods the lookup uses (inject a fake in tests)."""

    def model_info(self, repo_id: str, *, expand: list[str], token: str | bool) -> Any:
        """Return a `huggingface_hub.ModelInfo` (or anything with the same attributes)."""
        ...

    def auth_check(self, repo_id: str, *, token: str | bool) -> None:
        """Return when the token may read the repo; raise a Hub HTTP error otherwise."""
        ...


def _default_hub_api(endpoint: str | None) -> HubAPI:
    # Lazy: huggingface_hub costs ~100 ms to import and only discovery needs it.
    from huggingface_hub import HfApi

    from hfproviders import __version__

    api = HfApi(endpoint=endpoint, library_name="hfproviders", library_version=__version__)
    return cast(HubAPI, api)


def _response_of(exc: BaseException) -> Any | None:
    """Return the HTTP response carried by a huggingface_hub HTTP error, if any."""
    response = getattr(exc, "response", None)
    return response if response is not None and hasattr(response, "status_code") else None


def _is_network_error(exc: BaseException) -> bool:
    # huggingface_hub raises httpx2/httpx transport errors or its own OfflineModeIsEnabled
    # (a ConnectionError); we match by class name so this module never imports an HTTP stack.
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"TransportError", "TimeoutException", "ConnectionError", "TimeoutError"})


def _translate_hub_failure(exc: BaseException) -> HFProvidersError:
    """Map a Hub failure that is not about the model onto our error tree."""
    response = _response_of(exc)
    if response is not None:
        headers = {str(k).lower(): str(v) for k, v in dict(response.headers).items()}
        body = getattr(response, "content", b"")
        return error_from_response(
            int(response.status_code), headers, body if isinstance(body, bytes) else b""
        )
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & {"TimeoutException", "TimeoutError"}:
        return APITimeoutError(f"Timed out talking to the Hub: {exc}")
    return APIConnectionError(f"Could not reach the Hub: {exc}")


def _hub_object_to_json(info: Any) -> dict[str, Any]:
    """Put the fields we read from a `huggingface_hub.ModelInfo` back in the Hub's JSON shape."""
    raw_mapping = getattr(info, "inference_provider_mapping", None)
    mapping: list[dict[str, Any]] = []
    items: Iterable[tuple[str | None, Any]]
    if isinstance(raw_mapping, Mapping):  # huggingface_hub < 0.31 kept the dict
        items = raw_mapping.items()
    else:
        items = ((None, m) for m in raw_mapping or [])
    for name, entry in items:
        mapping.append(
            {
                "provider": name or getattr(entry, "provider", None),
                "status": getattr(entry, "status", None),
                "task": getattr(entry, "task", None),
                "providerId": getattr(entry, "provider_id", None),
                # huggingface_hub leaves unknown keys under their wire names.
                "isModelAuthor": getattr(entry, "isModelAuthor", None),
                "adapter": getattr(entry, "adapter", None),
                "adapterWeightsPath": getattr(entry, "adapter_weights_path", None),
                "type": getattr(entry, "type", None),
            }
        )
    return {
        "id": getattr(info, "id", None),
        "gated": getattr(info, "gated", None),
        "pipeline_tag": getattr(info, "pipeline_tag", None),
        "inferenceProviderMapping": mapping,
    }


def fetch_model_availability(
    model: str,
    *,
    token: str | None,
    hub_api: HubAPI | None = None,
    endpoint: str | None = None,
) -> ModelAvailability:
    """Ask the Hub whether `model` exists, is gated, is usable with `token`, and who serves it.

    Blocking (huggingface_hub is sync). `token=None` makes an anonymous lookup: huggingface_hub
    is told not to look for a token of its own, so the answer matches the client's token.
    Model-level answers (not found, gated, invalid token, disabled) come back as fields of the
    result; anything else raises: `APIConnectionError` / `APITimeoutError` when the Hub cannot be
    reached, the typed `APIError` for its status otherwise.
    """
    api = hub_api if hub_api is not None else _default_hub_api(endpoint)
    name = strip_model_suffix(model)
    token_given = bool(token)
    auth: str | bool = token if token else False
    try:
        info = api.model_info(name, expand=list(HUB_EXPAND), token=auth)
    except Exception as exc:
        response = _response_of(exc)
        if response is not None:
            lookup = availability_from_hub_error(
                name, int(response.status_code), dict(response.headers), token_given=token_given
            )
            if lookup is not None:
                return lookup
        if response is not None or _is_network_error(exc):
            raise _translate_hub_failure(exc) from exc
        raise
    availability = availability_from_hub_json(
        name, _hub_object_to_json(info), token_given=token_given
    )
    if not needs_access_check(availability, token_given=token_given):
        return availability
    try:
        api.auth_check(name, token=auth)
    except Exception as exc:
        response = _response_of(exc)
        if response is None:
            if _is_network_error(exc):
                raise _translate_hub_failure(exc) from exc
            raise
        checked = availability_after_access_check(
            availability, int(response.status_code), dict(response.headers)
        )
        if checked is None:
            raise _translate_hub_failure(exc) from exc
        return checked
    return availability_after_access_check(availability, 200, {}) or availability


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
        return cast(ModelAvailability | None, value)

    def put_availability(self, availability: ModelAvailability) -> None:
        """Cache a Hub availability (errors that raised are never passed here)."""
        self._put(("availability", availability.model), availability)

    def clear(self) -> None:
        """Forget everything (e.g. after the user changed provider settings)."""
        with self._lock:
            self._entries.clear()
