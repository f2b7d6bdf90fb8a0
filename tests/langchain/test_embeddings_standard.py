"""LangChain's standard embeddings suites for HFProvidersEmbeddings.

`EmbeddingsUnitTests` runs as is. `EmbeddingsIntegrationTests` replays hand-written cassettes
(`cassettes/langchain/test_embeddings_standard/`, from `embedding_cassette_specs.py`), so it is
offline; nothing is skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from langchain_hfproviders import HFProvidersEmbeddings
from tests.conftest import FAKE_TOKEN
from tests.langchain.embedding_cassette_specs import ROOT, render_all

MODEL = "BAAI/bge-small-en-v1.5"


class TestHFProvidersEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[HFProvidersEmbeddings]:
        return HFProvidersEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": MODEL, "api_key": FAKE_TOKEN}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return {"HF_TOKEN": FAKE_TOKEN}, {"model": MODEL}, {"api_key": FAKE_TOKEN}


@pytest.mark.vcr(record_mode="none")
class TestHFProvidersEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[HFProvidersEmbeddings]:
        return HFProvidersEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": MODEL, "provider": "hf-inference", "api_key": FAKE_TOKEN}


def test_cassettes_are_rendered_from_their_specs(tmp_path: Path) -> None:
    render_all(tmp_path)
    stale = [p.name for p in tmp_path.iterdir() if p.read_text() != (ROOT / p.name).read_text()]
    assert stale == [] and len(list(tmp_path.iterdir())) == 4
