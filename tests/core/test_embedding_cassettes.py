"""`embed()` replayed from cassettes/core/embeddings (hand-written; see embedding_cassette_specs)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from hfproviders import (
    AsyncHFClient,
    ContextLengthError,
    HFClient,
    ModelNotSupportedError,
)
from tests.core import test_cassettes
from tests.core.embedding_cassette_specs import (
    ALL,
    BGE_BASE,
    BGE_M3,
    BGE_SMALL,
    DOCS,
    NOTE,
    QUERY,
    ROOT,
    unit_vector,
)
from tests.core.test_cassettes import token


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(ROOT)


vcr_config = test_cassettes.vcr_config  # the core cassettes' VCR set-up (scrubbing, matching)


@pytest.fixture
def default_cassette_name(request: pytest.FixtureRequest) -> str:
    """One cassette per test for both twins: `test_embed_x[sync]` replays `embed_x.yaml`."""
    return str(request.node.originalname).removeprefix("test_")


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def embed(mode: str, *args: Any, **kwargs: Any) -> Any:
    if mode == "async":
        async with AsyncHFClient(api_key=token()) as client:
            client._sleep = _no_sleep
            return await client.embed(*args, **kwargs)
    with HFClient(api_key=token()) as client:
        client._sleep = lambda seconds: None
        return client.embed(*args, **kwargs)


async def _no_sleep(seconds: float) -> None:
    return None


def is_unit(vector: list[float]) -> bool:
    return math.isclose(math.fsum(x * x for x in vector), 1.0, rel_tol=1e-5)


@pytest.mark.vcr
async def test_embed_hf_inference(mode: str) -> None:
    result = await embed(mode, BGE_SMALL, DOCS, provider="hf-inference", normalize=True)
    assert result.dimensions == 384 and len(result) == 2
    assert result.embeddings[1] == unit_vector(1, 384) and all(map(is_unit, result.embeddings))
    assert result.provider == "hf-inference" and result.meta.request_id == "Vq3nR8aXkLm2pT7w"
    assert result.usage is None and result.meta.attempts == 1


@pytest.mark.vcr
async def test_embed_together(mode: str) -> None:
    result = await embed(mode, BGE_BASE, DOCS)  # auto: the first live provider of the mapping
    assert result.provider == "together" and result.model == BGE_BASE
    assert result.dimensions == 768 and result.embeddings[0] == unit_vector(10, 768)
    assert result.usage is not None and result.usage.total_tokens == 19
    assert result.meta.rate_limit is not None and result.meta.rate_limit.remaining_requests == 99


@pytest.mark.vcr
async def test_embed_deepinfra(mode: str) -> None:
    result = await embed(mode, f"{BGE_M3}:deepinfra", QUERY, dimensions=1024)
    assert result.provider == "deepinfra" and result.dimensions == 1024
    assert result.embeddings == [unit_vector(20, 1024)]
    assert result.usage is not None and result.usage.prompt_tokens == 9


@pytest.mark.vcr
async def test_embed_not_supported_fails_over(mode: str) -> None:
    result = await embed(mode, BGE_BASE, [QUERY])
    assert result.provider == "hf-inference" and result.embeddings == [unit_vector(30, 768)]
    [failed] = result.meta.failed_providers
    assert isinstance(failed, ModelNotSupportedError) and failed.provider == "together"


@pytest.mark.vcr
async def test_embed_413_too_long(mode: str) -> None:
    with pytest.raises(ContextLengthError) as caught:
        await embed(mode, BGE_SMALL, ("token " * 600).strip(), provider="hf-inference")
    assert caught.value.status_code == 413 and "512 tokens" in caught.value.message


@pytest.mark.vcr
async def test_embed_422_too_long(mode: str) -> None:
    with pytest.raises(ContextLengthError) as caught:
        await embed(mode, BGE_BASE, [("token " * 600).strip()], provider="deepinfra")
    assert caught.value.status_code == 422 and caught.value.provider == "deepinfra"


@pytest.mark.vcr
async def test_embed_429_then_ok(mode: str) -> None:
    result = await embed(mode, BGE_BASE, DOCS, provider="together")
    assert result.meta.attempts == 2 and result.dimensions == 768


@pytest.mark.vcr
async def test_embed_503_loading_then_ok(mode: str) -> None:
    result = await embed(mode, BGE_SMALL, QUERY, provider="hf-inference")
    assert result.meta.attempts == 2 and result.embeddings == [unit_vector(50, 384)]


def test_cassettes_are_rendered_from_their_specs(tmp_path: Path) -> None:
    from tests.core.embedding_cassette_specs import render_all

    render_all(tmp_path)
    stale = [
        name
        for name in ALL
        if (tmp_path / f"{name}.yaml").read_text() != (ROOT / f"{name}.yaml").read_text()
    ]
    assert stale == [], "run: python -m tests.core.embedding_cassette_specs"
    assert all((ROOT / f"{n}.yaml").read_text().startswith(f"# {NOTE}") for n in ALL)
