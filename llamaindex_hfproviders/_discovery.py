"""What the router's catalogue (`/v1/models`) says about the provider(s) an LLM will use (pure).

`metadata` fills `context_window` and `is_function_calling_model` from it when the user set
neither. The catalogue entry comes from the core client's `cached_model_info`, which never touches
the network. Which entries may serve a call depends on the provider setting:

- a named provider (option, fallback-list entry or `:suffix`): that provider's entry;
- a policy (`fastest`, `cheapest`, `preferred`) or no provider: any live provider.

The window is the smallest known one among them, since a failover may land on any. Tools count
as unsupported only when every candidate is known not to support them ("unknown" is not "no").

This repeats the core's chain logic; it moves to the core once the core exposes it (requested in
/tmp/core-requests.md, "serving_capabilities").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hfproviders import HFProvidersError, ModelInfo
from hfproviders._discovery import context_length_for
from hfproviders._providers import resolve_chain

__all__ = ["Serving", "serving"]

_POLICIES = ("fastest", "cheapest", "preferred")


@dataclass(frozen=True, slots=True)
class Serving:
    """The catalogue's answer for one provider setting."""

    context_window: int | None
    """The smallest known window among the candidate providers (None: none known)."""
    tools_unsupported: bool
    """Every candidate provider is known not to support tool calling."""


def _chain(model: str, provider: str | Sequence[str] | None) -> tuple[str | None, ...]:
    try:
        return resolve_chain(model, provider, router=True)[1]
    except HFProvidersError:  # a setting the core will reject at the call: the router's choice
        return (None,)


def _tools_flags(info: ModelInfo, chain: tuple[str | None, ...]) -> list[bool | None]:
    flags: list[bool | None] = []
    for name in chain:
        if name is None or name in _POLICIES:
            flags.extend(p.supports_tools for p in info.live_providers)
        else:
            entry = info.provider(name)
            flags.append(entry.supports_tools if entry is not None else None)
    return flags


def serving(info: ModelInfo, model: str, provider: str | Sequence[str] | None) -> Serving:
    """Context window and tool support of `info` for this model id and provider setting."""
    chain = _chain(model, provider)
    windows = [
        window
        for name in chain
        if (window := context_length_for(info, None if name in _POLICIES else name)) is not None
    ]
    flags = _tools_flags(info, chain)
    return Serving(
        context_window=min(windows) if windows else None,
        tools_unsupported=bool(flags) and all(flag is False for flag in flags),
    )
