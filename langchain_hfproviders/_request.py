"""What a `ChatHFProviders` call sends, and how LangChain identifies it (pure, no I/O).

`chat_request` merges the model's fields, `model_kwargs` and call-time keyword arguments into the
core's `chat` parameters. `identifying_params` is what LangChain's caches and traces key on, and
`ls_params` is what LangSmith shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from langchain_core.language_models.base import LangSmithParams

from langchain_hfproviders._convert import MODEL_PROVIDER, messages_to_openai

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

    from langchain_hfproviders.chat_models import ChatHFProviders

__all__ = ["SAMPLING_FIELDS", "chat_request", "identifying_params", "ls_params"]

#: Sampling fields sent with every request when set (None means "the server's default").
SAMPLING_FIELDS = (
    "temperature",
    "max_tokens",
    "top_p",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "logprobs",
    "top_logprobs",
    "n",
    "reasoning_effort",
)


def chat_request(
    model: ChatHFProviders,
    messages: list[BaseMessage],
    stop: list[str] | None,
    kwargs: Mapping[str, Any],
) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """The model id, the OpenAI messages, and the core parameters of one call."""
    call = dict(kwargs)
    call.pop("stream", None)  # LangChain's own switch, not a request parameter
    call.pop("ls_structured_output_format", None)
    model_id = call.pop("model", None) or model.model
    params = {
        name: value for name in SAMPLING_FIELDS if (value := getattr(model, name)) is not None
    }
    params.update(model.model_kwargs)
    params.update(call)
    stops = stop if stop is not None else params.pop("stop", model.stop)
    params.pop("stop", None)
    if stops:
        params["stop"] = stops
    if model.extra_body:
        params["extra_body"] = {**model.extra_body, **(params.get("extra_body") or {})}
    return model_id, messages_to_openai(messages), params


def identifying_params(model: ChatHFProviders) -> dict[str, Any]:
    """Everything that changes the answer: LangChain's cache keys and traces use it."""
    return {
        "model": model.model,
        "base_url": model.base_url,
        "provider": model.provider,
        "bill_to": model.bill_to,
        **{name: getattr(model, name) for name in SAMPLING_FIELDS},
        "stop": model.stop,
        "model_kwargs": model.model_kwargs,
        "extra_body": model.extra_body,
    }


def ls_params(
    model: ChatHFProviders, stop: list[str] | None, kwargs: Mapping[str, Any]
) -> LangSmithParams:
    """LangSmith's view of a call (a per-call `model`, `temperature` or `max_tokens` wins)."""
    params = LangSmithParams(
        ls_provider=MODEL_PROVIDER,
        ls_model_name=kwargs.get("model") or model.model,
        ls_model_type="chat",
    )
    temperature = kwargs.get("temperature", model.temperature)
    if temperature is not None:
        params["ls_temperature"] = temperature
    max_tokens = kwargs.get("max_tokens", model.max_tokens)
    if max_tokens is not None:
        params["ls_max_tokens"] = max_tokens
    stops = stop if stop is not None else model.stop
    if stops:
        params["ls_stop"] = [stops] if isinstance(stops, str) else list(stops)
    return params
