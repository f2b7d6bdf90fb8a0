"""Every adapter class passes `telemetry=` to both of its core clients (and copies share it)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import FAKE_TOKEN

MODEL = "meta-llama/Llama-3.3-70B-Instruct"


def _classes() -> list[tuple[str, Any, dict[str, Any]]]:
    pytest.importorskip("langchain_core")
    pytest.importorskip("llama_index.core")
    from langchain_hfproviders import ChatHFProviders, HFProvidersEmbeddings, HFProvidersLLM
    from llamaindex_hfproviders import HFProviders, HFProvidersEmbedding

    return [
        ("ChatHFProviders", ChatHFProviders, {"model": MODEL}),
        ("HFProvidersLLM", HFProvidersLLM, {"model": MODEL}),
        ("HFProvidersEmbeddings", HFProvidersEmbeddings, {"model": MODEL}),
        ("HFProviders", HFProviders, {"model": MODEL}),
        ("HFProvidersEmbedding", HFProvidersEmbedding, {"model_name": MODEL}),
    ]


def _telemetry_members(client: Any) -> list[Any]:
    from hfproviders._observe import Observers, TelemetryObserver

    observer = client._config.observer
    members = observer.members if isinstance(observer, Observers) else (observer,)
    return [m for m in members if isinstance(m, TelemetryObserver)]


def _clients(model: Any) -> list[Any]:
    return [model._sync_client(), model._async_client()]


@pytest.mark.parametrize("index", range(5), ids=lambda i: str(i))
def test_telemetry_option_reaches_both_core_clients(index: int) -> None:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace import TracerProvider

    from hfproviders import GenAITelemetry

    name, cls, kwargs = _classes()[index]
    telemetry = GenAITelemetry(tracer_provider=TracerProvider())
    model = cls(api_key=FAKE_TOKEN, telemetry=telemetry, **kwargs)
    for client in _clients(model):
        (member,) = _telemetry_members(client)
        assert member.telemetry is telemetry, name  # the object given, not a copy
    copy = model.model_copy(deep=True)
    for client in _clients(copy):
        assert _telemetry_members(client)[0].telemetry is telemetry, name

    off = cls(api_key=FAKE_TOKEN, telemetry=False, **kwargs)
    for client in _clients(off):
        assert _telemetry_members(client) == [], name


@pytest.mark.parametrize("index", range(5), ids=lambda i: str(i))
def test_deep_copies_share_limiter_and_cache(index: int) -> None:
    from hfproviders import InMemoryCache, RateLimiter

    name, cls, kwargs = _classes()[index]
    limiter, cache = RateLimiter(requests_per_minute=60), InMemoryCache()
    ours = name in ("HFProviders", "HFProvidersEmbedding")  # LangChain's `cache` is its own
    extra = {"cache": cache} if ours else {}
    model = cls(api_key=FAKE_TOKEN, request_rate_limiter=limiter, **extra, **kwargs)
    copy = model.model_copy(deep=True)  # a lock inside the limiter must not be copied
    assert copy.request_rate_limiter is limiter, name
    if ours:
        assert copy.cache is cache, name
