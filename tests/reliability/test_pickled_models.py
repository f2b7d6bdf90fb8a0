"""A token never goes into a pickle of an adapter's model (LangChain and LlamaIndex).

Models are pickled by multiprocessing, Ray, Celery and caches. Whether the key was given
(`api_key=`) or read from HF_TOKEN, the pickle holds no form of it; the model comes back with
its settings and finds its token where it is loaded, as a model made without `api_key` does.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from langchain_hfproviders import ChatHFProviders
from langchain_hfproviders._clients import core_options
from langchain_hfproviders.embeddings import HFProvidersEmbeddings
from langchain_hfproviders.llms import HFProvidersLLM
from llamaindex_hfproviders import HFProviders
from llamaindex_hfproviders.embeddings import HFProvidersEmbedding

SECRET = "hf_Pickled/Secret+Zq9xW2Lm4pR7Tt8uV1"
ENV_TOKEN = "hf_" + "WhereItIsLoaded" * 2
MODEL = "meta-llama/Llama-3.3-70B-Instruct"

MODELS: dict[str, Callable[..., Any]] = {
    "ChatHFProviders": lambda **kw: ChatHFProviders(model=MODEL, temperature=0.3, **kw),
    "HFProvidersLLM": lambda **kw: HFProvidersLLM(model="gpt2", **kw),
    "HFProvidersEmbeddings": lambda **kw: HFProvidersEmbeddings(model=MODEL, **kw),
    "HFProviders (LlamaIndex)": lambda **kw: HFProviders(model=MODEL, temperature=0.3, **kw),
    "HFProvidersEmbedding (LlamaIndex)": lambda **kw: HFProvidersEmbedding(model_name=MODEL, **kw),
}
LANGCHAIN = {"ChatHFProviders", "HFProvidersLLM", "HFProvidersEmbeddings"}


def forms(token: str) -> list[bytes]:
    """The token as a pickle could hold it: plain, escaped, quoted, in UTF-8 and UTF-16."""
    texts = {token, token.replace("/", "\\/"), quote(token, safe="")}
    return [t.encode(codec) for t in texts for codec in ("utf-8", "utf-16-le")]


def settings(model: Any) -> dict[str, Any]:
    return {k: v for k, v in model.model_dump().items() if k != "api_key"}


@pytest.fixture
def loaded_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return monkeypatch


@pytest.mark.parametrize("name", list(MODELS))
def test_an_explicit_key_never_goes_into_a_pickle(
    name: str, loaded_env: pytest.MonkeyPatch
) -> None:
    model = MODELS[name](api_key=SECRET)
    data = pickle.dumps(model)
    assert not [form for form in forms(SECRET) if form in data]
    loaded_env.setenv("HF_TOKEN", ENV_TOKEN)  # the process that loads it has its own token
    back = pickle.loads(data)
    assert type(back) is type(model) and settings(back) == settings(model)
    assert model.api_key is not None and model.api_key.get_secret_value() == SECRET  # untouched
    if name in LANGCHAIN:  # read where loaded, as a new model reads it; and implicit
        assert back.api_key.get_secret_value() == ENV_TOKEN
        assert core_options(back)["api_key"] is None  # the core sends it only to HF hosts
    else:
        assert back.api_key is None  # the core finds HF_TOKEN (or the stored login) itself


@pytest.mark.parametrize("name", list(MODELS))
def test_a_token_read_from_the_environment_never_goes_into_a_pickle(
    name: str, loaded_env: pytest.MonkeyPatch
) -> None:
    loaded_env.setenv("HF_TOKEN", SECRET)
    model = MODELS[name]()
    data = pickle.dumps(model)
    assert not [form for form in forms(SECRET) if form in data]
    loaded_env.delenv("HF_TOKEN")
    back = pickle.loads(data)
    assert settings(back) == settings(model)
    assert back.api_key is None  # none where it is loaded: none made up


def test_copies_keep_their_key_and_a_model_unpickled_twice_keeps_its_settings() -> None:
    # Only pickles lose the key: copies within the process keep it, as before.
    model = ChatHFProviders(model=MODEL, api_key=SECRET)
    assert model.model_copy().api_key.get_secret_value() == SECRET  # type: ignore[union-attr]
    twice = pickle.loads(pickle.dumps(pickle.loads(pickle.dumps(model))))
    assert isinstance(twice, ChatHFProviders) and twice.model == MODEL
    llm = HFProviders(model=MODEL, api_key=SECRET)
    assert llm.model_copy().api_key.get_secret_value() == SECRET  # type: ignore[union-attr]
