"""Capability-aware routing (pure): fit a provider chain to what a request needs.

It only acts on what the router's catalogue (`/v1/models`) says: a provider *known* not to support
tool calling or structured output for the model is dropped from the chain, or, when that leaves
nothing, the request fails before it is sent with an error naming providers that would work.
A policy (`fastest`, `cheapest`, `preferred`) is replaced by the best provider that supports the
request when some live providers do not; otherwise the router's own choice is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from hfproviders._discovery import (
    ModelInfo,
    check_capabilities,
    pick_provider,
    providers_supporting,
)
from hfproviders._errors import ModelNotSupportedError
from hfproviders._providers import ProviderChain

__all__ = ["needs_of", "route_chain"]

logger = logging.getLogger("hfproviders")
_POLICIES = ("fastest", "cheapest", "preferred")


def needs_of(body: Mapping[str, Any]) -> tuple[bool, bool]:
    """(needs tool calling, needs structured output) for a chat body."""
    fmt = body.get("response_format")
    structured = isinstance(fmt, Mapping) and fmt.get("type") in ("json_schema", "json_object")
    return bool(body.get("tools")), structured


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
