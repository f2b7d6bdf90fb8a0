"""Provider names, routing policies and model ids (pure).

The router's provider set changes; the built-in list below is the one huggingface_hub and
huggingface.js shipped in 2026 (WIRE.md §2). Providers learned from `/v1/models` (discovery) are
accepted too, so a new provider works as soon as the router lists it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from hfproviders._errors import InvalidModelError, InvalidParameterError, UnknownProviderError

__all__ = [
    "KNOWN_PROVIDERS",
    "POLICIES",
    "REMOVED_PROVIDERS",
    "ProviderChain",
    "remember_providers",
    "resolve_chain",
    "split_model",
]

POLICIES = frozenset({"fastest", "cheapest", "preferred", "auto"})
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
    if lowered in POLICIES or lowered in KNOWN_PROVIDERS or lowered in _discovered:
        return "fastest" if lowered == "auto" else lowered
    if lowered in REMOVED_PROVIDERS:
        raise UnknownProviderError(
            f"Provider {name!r} was removed from Hugging Face Inference Providers (July 2026). "
            "Run `hfproviders models` to see who serves your model now."
        )
    import difflib

    options = sorted(POLICIES | KNOWN_PROVIDERS | _discovered)
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
