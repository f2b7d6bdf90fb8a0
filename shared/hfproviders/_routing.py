"""Routing, written once (pure): provider names, policies, failover chains, capability routing.

- Provider names and policies: the router's provider set changes; the built-in list below is
  the one huggingface_hub and huggingface.js shipped in 2026 (WIRE.md §2). Providers learned
  from `/v1/models` are accepted too, so a new provider works as soon as the router lists it.
- `resolve_chain`: the bare model id and the ordered providers to try (a failover chain).
- Capability routing: a provider *known* (from the catalogue) not to support tool calling or
  structured output for the model is dropped from the chain, or, when that leaves nothing, the
  request fails before it is sent with an error naming providers that would work. A policy is
  replaced by the best provider that supports the request when some live providers do not.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from hfproviders._catalog import ModelInfo, ProviderInfo
from hfproviders._errors import (
    InvalidModelError,
    InvalidParameterError,
    ModelNotSupportedError,
    UnknownProviderError,
)

__all__ = [
    "KNOWN_PROVIDERS",
    "CLIENT_POLICIES",
    "POLICIES",
    "REMOVED_PROVIDERS",
    "CapabilityMismatch",
    "ProviderChain",
    "RoutingPolicy",
    "ServingCapabilities",
    "check_capabilities",
    "concrete_provider",
    "context_length_for",
    "needs_of",
    "pick_provider",
    "providers_supporting",
    "remember_providers",
    "resolve_chain",
    "route_chain",
    "serving_capabilities",
    "split_model",
]

logger = logging.getLogger("hfproviders")

RoutingPolicy = Literal["fastest", "cheapest", "preferred"]
#: The router's routing policies (`auto` is accepted as an alias of `fastest`).
POLICIES: frozenset[str] = frozenset({"fastest", "cheapest", "preferred"})
#: Policies the client applies itself (`_health`): expanded to providers before the first attempt.
CLIENT_POLICIES: frozenset[str] = frozenset({"lowest-latency"})
KNOWN_PROVIDERS = frozenset(
    {
        "baseten",
        "cerebras",
        "cohere",
        "deepinfra",
        "fal-ai",
        "featherless-ai",
        "fireworks-ai",
        "groq",
        "hf-inference",
        "novita",
        "nscale",
        "openai",
        "ovhcloud",
        "publicai",
        "replicate",
        "scaleway",
        "together",
        "wavespeed",
        "zai-org",
    }
)
REMOVED_PROVIDERS = frozenset(
    {"black-forest-labs", "clarifai", "hyperbolic", "nebius", "nvidia", "sambanova"}
)
_discovered: set[str] = set()
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*(/[A-Za-z0-9][A-Za-z0-9._\-]*)?$")

ProviderChain = tuple[str | None, ...]


def remember_providers(names: Iterable[str]) -> None:
    """Accept provider names seen in the router's `/v1/models` from now on."""
    _discovered.update(names)


def _check_provider(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise UnknownProviderError(f"provider must be a non-empty string, got {name!r}")
    lowered = name.strip().lower()
    known = POLICIES | CLIENT_POLICIES | KNOWN_PROVIDERS | _discovered
    if lowered == "auto" or lowered in known:
        return "fastest" if lowered == "auto" else lowered
    if lowered in REMOVED_PROVIDERS:
        raise UnknownProviderError(
            f"Provider {name!r} was removed from Hugging Face Inference Providers (July 2026). "
            "Run `hfproviders models` to see who serves your model now."
        )
    import difflib

    options = sorted(known | {"auto"})
    close = difflib.get_close_matches(lowered, options, n=3)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise UnknownProviderError(
        f"Unknown provider or policy {name!r}.{hint} Known: {', '.join(options)}."
    )


def split_model(model: str, *, strict: bool) -> tuple[str, str | None]:
    """Split `org/name:provider` into (`org/name`, `provider`); check the id when `strict`."""
    if not isinstance(model, str) or not model.strip():
        raise InvalidModelError(
            "model must be a non-empty string such as 'meta-llama/Llama-3.3-70B-Instruct'"
        )
    base, sep, suffix = model.partition(":") if strict else (model, "", "")
    if strict:
        if not _MODEL_ID.match(base):
            raise InvalidModelError(
                f"Malformed model id {model!r}: expected 'org/name' (letters, digits, . _ -), "
                "optionally followed by ':provider' or ':fastest'/':cheapest'/':preferred'."
            )
        if sep and not suffix:
            raise InvalidModelError(f"Malformed model id {model!r}: empty suffix after ':'")
    return base, (suffix or None)


def resolve_chain(
    model: str, provider: str | Sequence[str] | None, *, router: bool
) -> tuple[str, ProviderChain]:
    """Return the bare model id and the ordered providers to try (None: let the router choose).

    The provider may come from the `model` suffix or the `provider` option, not both with
    different values. A list is a failover chain.
    """
    base, suffix = split_model(model, strict=router)
    if not router:
        if provider is not None:
            raise InvalidParameterError(
                "provider only applies to the Hugging Face router; this base_url is one server "
                "(pass router=True if it is a gateway that speaks the router's protocol)"
            )
        return base, (None,)
    if provider is None:
        return base, ((_check_provider(suffix),) if suffix else (None,))
    chain = (provider,) if isinstance(provider, str) else tuple(provider)
    if not chain:
        raise InvalidParameterError("provider list must not be empty")
    checked = tuple(_check_provider(p) for p in chain)
    if suffix and (len(checked) != 1 or _check_provider(suffix) != checked[0]):
        raise InvalidParameterError(
            f"model suffix ':{suffix}' conflicts with provider={provider!r}; give one of them"
        )
    if len(set(checked)) != len(checked):
        raise InvalidParameterError(f"provider list has duplicates: {list(chain)}")
    return base, checked


def concrete_provider(provider: str | None) -> str | None:
    """A provider name, or None for "the router chooses" (no provider, or a policy)."""
    return None if provider is None or provider in POLICIES else provider


def needs_of(body: Mapping[str, object]) -> tuple[bool, bool]:
    """(needs tool calling, needs structured output) for a chat body."""
    fmt = body.get("response_format")
    structured = isinstance(fmt, Mapping) and fmt.get("type") in ("json_schema", "json_object")
    return bool(body.get("tools")), structured


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


def route_chain(
    model: str, chain: ProviderChain, info: ModelInfo, tools: bool, structured: bool
) -> ProviderChain:
    """Return the chain to use, or raise ModelNotSupportedError naming providers that work."""
    if not (tools or structured):
        return chain
    kept: list[str | None] = []
    mismatches = []
    for provider in chain:
        if provider is None or provider in POLICIES:
            all_live = info.live_providers
            able = providers_supporting(info, tools=tools, structured_output=structured)
            if able and len(able) < len(all_live):
                picked = pick_provider(
                    info,
                    provider or "fastest",  # type: ignore[arg-type]
                    requires_tools=tools,
                    requires_structured=structured,
                )
                if picked is not None:
                    logger.info(
                        "routing %s to %s: not every live provider supports this request",
                        model,
                        picked.provider,
                    )
                    kept.append(picked.provider)
                    continue
            kept.append(provider)
            continue
        mismatch = check_capabilities(
            info, provider, requires_tools=tools, requires_structured=structured
        )
        if mismatch is None:
            kept.append(provider)
        else:
            mismatches.append(mismatch)
    if not kept:
        raise ModelNotSupportedError(mismatches[0].message, provider=mismatches[0].provider)
    if mismatches:
        logger.info(
            "skipping %s for %s: %s",
            ", ".join(m.provider for m in mismatches),
            model,
            mismatches[0].message,
        )
    deduped: list[str | None] = []
    for provider in kept:
        if provider not in deduped:
            deduped.append(provider)
    return tuple(deduped)


@dataclass(frozen=True, slots=True)
class ServingCapabilities:
    """What the providers that may serve a call can do (None: not known from the catalogue).

    `context_length` is the smallest window among them: the safe value for trimming a prompt.
    """

    context_length: int | None
    supports_tools: bool | None
    supports_structured_output: bool | None


def _flag(values: list[bool | None], routing: str) -> bool | None:
    if not values:
        return None
    if routing != "off":
        # Routing drops providers known not to support a need, so one capable one is enough.
        if any(v is True for v in values):
            return True
        return False if all(v is False for v in values) else None
    if all(v is True for v in values):
        return True
    return False if any(v is False for v in values) else None


def serving_capabilities(
    info: ModelInfo, chain: ProviderChain, routing: str
) -> ServingCapabilities:
    """Capabilities of the providers `chain` may reach for the model `info` describes (pure)."""
    if any(p is None or p in POLICIES for p in chain):
        candidates = list(info.live_providers) or list(info.providers)
    else:
        candidates = [e for p in chain if p is not None and (e := info.provider(p)) is not None]
    lengths = [c.context_length for c in candidates if c.context_length is not None]
    return ServingCapabilities(
        context_length=min(lengths) if lengths else None,
        supports_tools=_flag([c.supports_tools for c in candidates], routing),
        supports_structured_output=_flag(
            [c.supports_structured_output for c in candidates], routing
        ),
    )
