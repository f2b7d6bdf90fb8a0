"""Capability-aware routing (pure): fit a provider chain to what a request needs.

It only acts on what the router's catalogue (`/v1/models`) says: a provider *known* not to support
tool calling or structured output for the model is dropped from the chain, or, when that leaves
nothing, the request fails before it is sent with an error naming providers that would work.
A policy (`fastest`, `cheapest`, `preferred`) is replaced by the best provider that supports the
request when some live providers do not; otherwise the router's own choice is kept.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from hfproviders._discovery import (
    ModelInfo,
    check_capabilities,
    pick_provider,
    providers_supporting,
)
from hfproviders._errors import ModelNotSupportedError
from hfproviders._plan import needs_of
from hfproviders._providers import ProviderChain

__all__ = ["ServingCapabilities", "needs_of", "route_chain", "serving_capabilities"]

logger = logging.getLogger("hfproviders")
_POLICIES = ("fastest", "cheapest", "preferred")


def route_chain(
    model: str, chain: ProviderChain, info: ModelInfo, tools: bool, structured: bool
) -> ProviderChain:
    """Return the chain to use, or raise ModelNotSupportedError naming providers that work."""
    if not (tools or structured):
        return chain
    kept: list[str | None] = []
    mismatches = []
    for provider in chain:
        if provider is None or provider in _POLICIES:
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
    if any(p is None or p in _POLICIES for p in chain):
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
