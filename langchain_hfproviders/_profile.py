"""`model.profile` from the router's catalogue (`/v1/models`), for models whose user set none.

No I/O: the catalogue entry and what the providers can do come from the core client
(`cached_model_info`, `serving_capabilities`), which reads the catalogue it has loaded and follows
the client's own provider setting and routing mode. Unknown stays absent ("unknown" is not
`False`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_core.language_models import ModelProfile

from hfproviders import HFProvidersError

if TYPE_CHECKING:
    from hfproviders import AsyncHFClient, HFClient, ModelInfo, ServingCapabilities

__all__ = ["catalogue_profile"]


def catalogue_profile(client: HFClient | AsyncHFClient, model: str) -> ModelProfile | None:
    """The `ModelProfile` the catalogue `client` has loaded gives `model`, or None if none."""
    info = client.cached_model_info(model)
    if info is None:
        return None
    try:
        serving = client.serving_capabilities(model)
    except HFProvidersError:  # a bad `:provider` suffix: the call itself reports it
        serving = None
    return _profile(info, serving)


def _profile(info: ModelInfo, serving: ServingCapabilities | None) -> ModelProfile:
    profile = ModelProfile()
    if serving is not None:
        if serving.context_length is not None:
            profile["max_input_tokens"] = serving.context_length
        if serving.supports_tools is not None:
            profile["tool_calling"] = serving.supports_tools
            # The adapter streams tool calls as `tool_call_chunks` whenever the model calls tools.
            profile["tool_call_streaming"] = serving.supports_tools
        if serving.supports_structured_output is not None:
            profile["structured_output"] = serving.supports_structured_output
    if info.input_modalities:
        profile["text_inputs"] = "text" in info.input_modalities
        profile["image_inputs"] = "image" in info.input_modalities
    if info.output_modalities:
        profile["text_outputs"] = "text" in info.output_modalities
    return profile
