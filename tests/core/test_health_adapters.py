"""Both adapters pass the health and spend options to both of their core clients."""

from __future__ import annotations

from typing import Any

import pytest

from hfproviders import CircuitBreaker, HealthTracker, ProviderConstraints, SpendLimit
from tests.conftest import FAKE_TOKEN

MODEL = "meta-llama/Llama-3.3-70B-Instruct"


def _models() -> list[Any]:
    pytest.importorskip("langchain_core")
    pytest.importorskip("llama_index.core")
    from langchain_hfproviders import ChatHFProviders
    from llamaindex_hfproviders import HFProviders

    return [ChatHFProviders, HFProviders]


@pytest.mark.parametrize("index", [0, 1], ids=["langchain", "llamaindex"])
async def test_options_reach_both_core_clients(index: int) -> None:
    budget = SpendLimit(usd=1.0)
    tracker = HealthTracker(CircuitBreaker(min_calls=3))
    constraints = ProviderConstraints(max_output_price=1.0)
    model = _models()[index](
        model=MODEL,
        api_key=FAKE_TOKEN,
        provider="lowest-latency",
        health=tracker,
        constraints=constraints,
        hedge_after="p90",
        budget=budget,
    )
    for client in (model._sync_client(), model._async_client()):
        config = client._config
        assert config.health.tracker is tracker  # shared, not copied
        assert config.health.constraints is constraints
        assert config.health.hedge_after == "p90"
        assert config.spend.control.budget is budget
    copy = model.model_copy(deep=True)
    assert copy._sync_client()._config.spend.control.budget is budget


@pytest.mark.parametrize("index", [0, 1], ids=["langchain", "llamaindex"])
def test_breaker_is_on_by_default_and_none_turns_it_off(index: int) -> None:
    cls = _models()[index]
    on = cls(model=MODEL, api_key=FAKE_TOKEN)._sync_client()._config.health.tracker
    off = cls(model=MODEL, api_key=FAKE_TOKEN, breaker=None)._sync_client()._config.health.tracker
    assert on.breaker == CircuitBreaker()
    assert off.breaker is None
