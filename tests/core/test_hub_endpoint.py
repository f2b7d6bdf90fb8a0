"""Hub lookups honour `HF_ENDPOINT`, and a Hub at a non-HF client's own host gets its own key.

Both twins, against the fake router, which serves `/api/models/{id}` beside `/v1`.
"""

from __future__ import annotations

from typing import Any

import pytest

from hfproviders import AsyncHFClient, HFClient
from hfproviders.testing import FakeRouter

MODEL = "meta-llama/Llama-3.3-70B-Instruct"
HF_ENV_TOKEN = "hf_" + "e" * 34  # built at run time: obviously fake


async def providers(twin: str, **options: Any) -> Any:
    if twin == "sync":
        with HFClient(**options) as client:
            return client.model_providers(MODEL)
    async with AsyncHFClient(**options) as aclient:
        return await aclient.model_providers(MODEL)


@pytest.mark.parametrize("twin", ["sync", "async"])
async def test_hf_endpoint_moves_hub_lookups(
    twin: str, hf_fake_router: FakeRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", hf_fake_router.url)
    monkeypatch.setenv("HF_TOKEN", HF_ENV_TOKEN)
    availability = await providers(twin)  # the router by default; the Hub at HF_ENDPOINT
    assert availability.exists and [p.provider for p in availability.providers] == [
        "groq",
        "together",
        "novita",
    ]
    (lookup,) = hf_fake_router.requests_to(kind="hub")
    assert lookup.path == f"/api/models/{MODEL}" and "inferenceProviderMapping" in lookup.query
    assert lookup.headers["authorization"] == f"Bearer {HF_ENV_TOKEN}"  # huggingface_hub's rule


@pytest.mark.parametrize("twin", ["sync", "async"])
async def test_a_hub_at_the_clients_own_host_gets_its_own_key(
    twin: str, hf_fake_router: FakeRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", hf_fake_router.url)
    monkeypatch.setenv("HF_TOKEN", HF_ENV_TOKEN)
    options = {"base_url": hf_fake_router.base_url, "api_key": "gateway-key", "router": True}
    availability = await providers(twin, **options)
    assert availability.exists
    (lookup,) = hf_fake_router.requests_to(kind="hub")
    assert lookup.headers["authorization"] == "Bearer gateway-key"
    assert all(HF_ENV_TOKEN not in str(r.headers) for r in hf_fake_router.requests)
