"""Issue 9, item 9 (LangChain): a token read from the environment stays withheld from other hosts.

However the model is rebuilt (`loads(dumps(m), secrets_from_env=True)`, `secrets_map`,
`model_copy`, `ChatHFProviders(**m.model_dump())`), the HF_TOKEN it read is never sent to a
non-Hugging Face `base_url`; an `api_key` the user gives still is. Checked on the wire: the fake
router records every request's headers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.load import dumps, loads

from hfproviders.testing import FakeRouter
from langchain_hfproviders import ChatHFProviders

ENV_TOKEN = "hf_" + "EnvironmentSecret" * 2


def reload_from_env(model: ChatHFProviders) -> Any:
    return loads(
        dumps(model),
        valid_namespaces=["langchain_hfproviders"],
        allowed_objects=[ChatHFProviders],
        secrets_from_env=True,
    )


def reload_with_secrets_map(model: ChatHFProviders) -> Any:
    return loads(
        dumps(model),
        valid_namespaces=["langchain_hfproviders"],
        allowed_objects=[ChatHFProviders],
        secrets_map={"HF_TOKEN": ENV_TOKEN},
    )


REBUILDS: dict[str, Callable[[ChatHFProviders], Any]] = {
    "as built": lambda m: m,
    "loads(dumps, secrets_from_env)": reload_from_env,
    "loads(dumps, secrets_map)": reload_with_secrets_map,
    "model_copy": lambda m: m.model_copy(),
    "model_copy(update)": lambda m: m.model_copy(update={"temperature": 0.5}),
    "ChatHFProviders(**model_dump())": lambda m: ChatHFProviders(**m.model_dump()),
}


@pytest.fixture
def env_token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("HF_TOKEN", ENV_TOKEN)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    return ENV_TOKEN


@pytest.mark.parametrize("rebuild", list(REBUILDS), ids=list(REBUILDS))
async def test_an_environment_token_is_never_sent_to_another_host(
    env_token: str, hf_fake_router: FakeRouter, rebuild: str
) -> None:
    model = ChatHFProviders(
        model="test-org/test-model", base_url=hf_fake_router.base_url, max_retries=0
    )
    rebuilt = REBUILDS[rebuild](model)
    assert isinstance(rebuilt, ChatHFProviders)
    rebuilt.invoke("Hello?")
    await rebuilt.ainvoke("Hello?")
    sent = [r.headers.get("authorization", "") for r in hf_fake_router.requests]
    assert len(sent) == 2
    assert not any(env_token in value for value in sent), rebuild


async def test_an_explicit_key_still_goes_to_the_host_it_was_given_for(
    env_token: str, hf_fake_router: FakeRouter
) -> None:
    model = ChatHFProviders(
        model="test-org/test-model",
        base_url=hf_fake_router.base_url,
        api_key="gateway-key-0123456789",  # type: ignore[arg-type]
        max_retries=0,
    )
    model.invoke("Hello?")
    await model.model_copy().ainvoke("Hello?")
    sent = [r.headers.get("authorization", "") for r in hf_fake_router.requests]
    assert sent == ["Bearer gateway-key-0123456789"] * 2
