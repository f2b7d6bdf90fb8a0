"""`model.profile` from the router's catalogue (`/v1/models`), for models whose user set none.

Pure: the catalogue entry comes from the core client's `cached_model_info`, which never touches
the network. Which catalogue entries may serve a call depends on the model's provider setting:

- a named provider (option, list entry or `:suffix`): that provider's entry;
- a policy (`fastest`, `cheapest`, `preferred`) or no provider: any live provider (the router
  picks).

The context window is the smallest known one among them (a failover may land on any). A capability
is reported when the catalogue settles it: with routing on (`"cached"`/`"auto"`) the core drops
providers known not to support a request, so one supporting candidate is enough; with routing
`"off"` every candidate must. Unknown stays absent ("unknown" is not `False`).

The chain logic duplicates what the core does in `_routing`; it moves there once the core exposes it
(requested in /tmp/core-requests.md, "serving_capabilities").
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.language_models import ModelProfile

from hfproviders import HFProvidersError, ModelInfo, ProviderInfo
from hfproviders._discovery import context_length_for
from hfproviders._providers import resolve_chain

__all__ = ["catalogue_profile"]

_POLICIES = ("fastest", "cheapest", "preferred")


def _chain(model: str, provider: str | Sequence[str] | None) -> tuple[str | None, ...]:
    """The providers the core will try, resolved by the core (a bad setting: router's choice)."""
    try:
        return resolve_chain(model, provider, router=True)[1]
    except HFProvidersError:
        return (None,)


def _candidates(info: ModelInfo, chain: tuple[str | None, ...]) -> list[ProviderInfo | None]:
    """Catalogue entries that may serve the call; None for a named provider it does not list."""
    out: list[ProviderInfo | None] = []
    for name in chain:
        if name is None or name in _POLICIES:
            out.extend(info.live_providers)
        else:
            out.append(info.provider(name))
    return out


def _settled(flags: list[bool | None], routed: bool) -> bool | None:
    """True / False when the catalogue settles a capability for these candidates, else None."""
    if not flags:
        return None
    if all(flag is False for flag in flags):
        return False
    supported = any(f is True for f in flags) if routed else all(f is True for f in flags)
    return True if supported else None


def _context_window(info: ModelInfo, chain: tuple[str | None, ...]) -> int | None:
    windows = [
        window
        for name in chain
        if (window := context_length_for(info, None if name in _POLICIES else name)) is not None
    ]
    return min(windows) if windows else None


def catalogue_profile(
    info: ModelInfo | None,
    model: str,
    provider: str | Sequence[str] | None,
    routing: str,
) -> ModelProfile | None:
    """The `ModelProfile` the catalogue entry `info` gives for this provider setting, or None."""
    if info is None:
        return None
    chain = _chain(model, provider)
    candidates = _candidates(info, chain)
    routed = routing != "off"
    profile = ModelProfile()
    if (window := _context_window(info, chain)) is not None:
        profile["max_input_tokens"] = window
    tools = _settled([c.supports_tools if c else None for c in candidates], routed)
    if tools is not None:
        profile["tool_calling"] = tools
        # The adapter streams tool calls as `tool_call_chunks` whenever the model calls tools.
        profile["tool_call_streaming"] = tools
    structured = _settled([c.supports_structured_output if c else None for c in candidates], routed)
    if structured is not None:
        profile["structured_output"] = structured
    if info.input_modalities:
        profile["text_inputs"] = "text" in info.input_modalities
        profile["image_inputs"] = "image" in info.input_modalities
    if info.output_modalities:
        profile["text_outputs"] = "text" in info.output_modalities
    return profile
