"""`embed()` against `hfproviders.testing.FakeRouter` (in process): the shipped fake and the client agree."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from hfproviders import (
    AsyncHFClient,
    CircuitBreaker,
    HFClient,
    HFProvidersError,
    ProvidersUnavailableError,
    RetryPolicy,
)
from hfproviders.testing import FakeRouter, Fault

MODEL = "Qwen/Qwen3-Embedding-8B"  # mapped to scaleway, then hf-inference, in the fake's Hub


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def embed(mode: str, router: FakeRouter, *args: Any, **kwargs: Any) -> Any:
    transport = router.transport()
    if mode == "async":
        async with AsyncHFClient(
            api_key="test",
            retry=RetryPolicy(max_retries=0),
            http_async_client=httpx.AsyncClient(transport=transport),
        ) as client:
            return await client.embed(*args, **kwargs)
    with HFClient(
        api_key="test",
        retry=RetryPolicy(max_retries=0),
        http_client=httpx.Client(transport=transport),
    ) as client:
        return client.embed(*args, **kwargs)


async def test_auto_uses_the_hub_order_and_the_provider_model_id(mode: str) -> None:
    router = FakeRouter()
    result = await embed(mode, router, MODEL, ["a", "b", "c"])
    assert result.provider == "scaleway" and result.model == "qwen3-embedding-8b"
    assert result.dimensions == 1024 and len(result) == 3
    assert [r.path for r in router.requests] == [f"/api/models/{MODEL}", "/scaleway/v1/embeddings"]


async def test_a_failing_provider_fails_over_per_batch(mode: str) -> None:
    router = FakeRouter()
    router.on(provider="scaleway", kind="embeddings").respond(Fault.status(503))
    texts = [f"text {i}" for i in range(40)]
    result = await embed(mode, router, MODEL, texts, batch_size=20)
    assert result.provider == "hf-inference" and len(result) == 40
    assert all(m.provider == "hf-inference" and m.failed_providers for m in result.batches)
    again = await embed(mode, FakeRouter(), MODEL, texts, provider="hf-inference", batch_size=20)
    assert result.embeddings == again.embeddings  # the same vectors, in the same order


async def test_an_open_circuit_is_skipped_and_all_open_raises_unavailable(mode: str) -> None:
    # Like a chat chain: a provider whose breaker is open is skipped (nothing sent to it), and
    # `ProvidersUnavailableError` comes only when every provider serving the model is open.
    router = FakeRouter()
    router.on(provider="scaleway", kind="embeddings").respond(Fault.status(503))
    breaker = CircuitBreaker(min_calls=2, failure_rate=0.5, cooldown_s=60.0)
    kwargs: dict[str, Any] = {"api_key": "test", "retry": RetryPolicy(max_retries=0)}
    sync = mode == "sync"
    client: Any = (
        HFClient(**kwargs, breaker=breaker, http_client=httpx.Client(transport=router.transport()))
        if sync
        else AsyncHFClient(
            **kwargs,
            breaker=breaker,
            http_async_client=httpx.AsyncClient(transport=router.transport()),
        )
    )

    async def call() -> Any:
        return client.embed(MODEL, ["a"]) if sync else await client.embed(MODEL, ["a"])

    for _ in range(2):  # scaleway fails twice: its circuit opens
        assert (await call()).provider == "hf-inference"
    sent = len(router.requests_to(provider="scaleway", kind="embeddings"))
    result = await call()
    assert result.provider == "hf-inference"
    assert not result.batches[0].failed_providers  # skipped, not failed
    assert len(router.requests_to(provider="scaleway", kind="embeddings")) == sent

    router.on(provider="hf-inference", kind="embeddings").respond(Fault.status(503))
    for _ in range(3):  # now hf-inference's circuit opens too (3 of its 6 calls failed)
        with pytest.raises(HFProvidersError):
            await call()
    before = len(router.requests)
    with pytest.raises(ProvidersUnavailableError) as caught:
        await call()
    assert {name for name, _ in caught.value.unavailable} == {"scaleway", "hf-inference"}
    assert len(router.requests) == before  # nothing sent
    if sync:
        client.close()
    else:
        await client.aclose()
