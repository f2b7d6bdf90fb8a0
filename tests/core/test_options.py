"""Client options for other servers: `router=True`, `HFPROVIDERS_API_KEY`, `HF_BILL_TO`.

Both twins, on `httpx.MockTransport` (the `h` harness).
"""

from __future__ import annotations

import httpx
import pytest

from hfproviders import (
    AllProvidersFailedError,
    AuthenticationError,
    InvalidParameterError,
    ServiceUnavailableError,
)
from tests.conftest import FAKE_TOKEN
from tests.core.conftest import USER, Harness, completion, ok_json

GATEWAY = "http://127.0.0.1:8765/v1"
GATEWAY_KEY = "gw-key-not-hf-0123456789"


def unavailable() -> httpx.Response:
    return httpx.Response(503, json={"error": "overloaded"})


async def test_router_true_lets_a_gateway_take_provider_suffixes_and_chains(h: Harness) -> None:
    h.make(base_url=GATEWAY, router=True, max_retries=0)
    h.queue(ok_json(completion()))
    await h.chat("org/model:groq", USER)
    assert str(h.requests[-1].url) == f"{GATEWAY}/chat/completions"
    assert h.body()["model"] == "org/model:groq"
    h.queue(unavailable(), ok_json(completion()))
    answer = await h.chat("org/model", USER, provider=["novita", "fastest"])
    assert [h.body(i)["model"] for i in (-2, -1)] == ["org/model:novita", "org/model:fastest"]
    assert [type(e) for e in answer.meta.failed_providers] == [ServiceUnavailableError]


async def test_router_true_on_a_bare_host_adds_v1(h: Harness) -> None:
    h.make(base_url="http://127.0.0.1:8765", router=True)
    h.queue(ok_json(completion()))
    await h.chat("org/model:cheapest", USER)
    assert str(h.requests[-1].url) == "http://127.0.0.1:8765/v1/chat/completions"


async def test_router_true_chain_that_fails_everywhere_is_typed(h: Harness) -> None:
    h.make(base_url=GATEWAY, router=True, max_retries=0)
    h.queue(unavailable(), unavailable())
    with pytest.raises(AllProvidersFailedError):
        await h.chat("org/model", USER, provider=["novita", "groq"])


async def test_without_router_a_custom_server_refuses_providers(h: Harness) -> None:
    h.make(base_url=GATEWAY)
    with pytest.raises(InvalidParameterError, match="router=True"):
        await h.chat("org/model", USER, provider="groq")
    assert h.requests == []


def test_router_must_be_a_bool() -> None:
    from hfproviders import ConfigurationError, HFClient

    with pytest.raises(ConfigurationError):
        HFClient(base_url=GATEWAY, router="yes")  # type: ignore[arg-type]


async def test_hfproviders_api_key_goes_to_a_custom_server_never_hf_token(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    monkeypatch.setenv("HFPROVIDERS_API_KEY", GATEWAY_KEY)
    h.make(base_url=GATEWAY, api_key=None)
    h.queue(ok_json(completion()))
    await h.chat("org/model", USER)
    assert h.requests[-1].headers["authorization"] == f"Bearer {GATEWAY_KEY}"


async def test_hf_hosts_ignore_hfproviders_api_key(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    monkeypatch.setenv("HFPROVIDERS_API_KEY", GATEWAY_KEY)
    h.make(api_key=None)
    h.queue(ok_json(completion()))
    await h.chat("org/model", USER)
    assert h.requests[-1].headers["authorization"] == f"Bearer {FAKE_TOKEN}"


async def test_a_401_from_a_server_we_sent_no_key_says_so(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)  # never sent to a foreign host
    h.make(base_url=GATEWAY, api_key=None)
    h.queue(httpx.Response(401, json={"error": "missing key"}))
    with pytest.raises(AuthenticationError, match="No key was sent to 127.0.0.1") as caught:
        await h.chat("org/model", USER)
    assert "authorization" not in h.requests[-1].headers
    assert "HFPROVIDERS_API_KEY" in caught.value.message
    assert "huggingface.co/settings/tokens" not in str(caught.value)


async def test_a_401_after_sending_a_key_does_not_claim_none_was_sent(h: Harness) -> None:
    h.make(base_url=GATEWAY, api_key=GATEWAY_KEY)
    h.queue(httpx.Response(401, json={"error": "bad key"}))
    with pytest.raises(AuthenticationError) as caught:
        await h.chat("org/model", USER)
    assert "No key was sent" not in caught.value.message


async def test_hf_bill_to_is_read_from_the_environment_for_inference_only(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_BILL_TO", "my-org")
    h.make()
    h.queue(ok_json(completion()))
    await h.chat("org/model", USER)
    assert h.requests[-1].headers["x-hf-bill-to"] == "my-org"
    h.queue(ok_json({"object": "list", "data": []}))
    models = h.client.list_models()
    if h.is_async:
        await models
    assert "x-hf-bill-to" not in h.requests[-1].headers
    h.queue(ok_json({"id": "org/model", "inferenceProviderMapping": {}}))
    availability = h.client.model_providers("org/model")
    if h.is_async:
        await availability
    assert "x-hf-bill-to" not in h.requests[-1].headers


async def test_an_explicit_bill_to_wins_over_hf_bill_to(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_BILL_TO", "env-org")
    h.make(bill_to="explicit-org")
    h.queue(ok_json(completion()))
    await h.chat("org/model", USER)
    assert h.requests[-1].headers["x-hf-bill-to"] == "explicit-org"
