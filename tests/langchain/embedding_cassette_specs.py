"""Cassettes of LangChain's standard embeddings suite; `python -m tests.langchain.embedding_cassette_specs`.

Hand-written, not recorded: hf-inference's feature-extraction route and answer shape as in the
core's embeddings cassettes (tests/core/embedding_cassette_specs.py), 384-wide seeded vectors.
"""

from __future__ import annotations

from pathlib import Path

from tests.cassette_tools import Exchange, render
from tests.core.embedding_cassette_specs import BGE_SMALL, hf_inference_post, unit_vector

ROOT = Path(__file__).resolve().parents[2] / "cassettes" / "langchain" / "test_embeddings_standard"
NOTE = (
    "hand-written, not recorded: hf-inference feature-extraction (huggingface_hub 2.4 route, "
    "huggingface.js tape shapes); rendered by tests/langchain/embedding_cassette_specs.py"
)
CLASS = "TestHFProvidersEmbeddingsIntegration"


def _embed(texts: list[str], seed: int) -> Exchange:
    return hf_inference_post(
        BGE_SMALL, texts, [unit_vector(seed + i, 384) for i in range(len(texts))]
    )


def specs() -> dict[str, list[Exchange]]:
    query = [_embed(["foo"], 100), _embed(["bar"], 200)]
    documents = [_embed(["foo", "bar", "baz"], 300)]
    return {
        "test_embed_query": query,
        "test_aembed_query": query,
        "test_embed_documents": documents,
        "test_aembed_documents": documents,
    }


def render_all(root: Path = ROOT) -> None:
    for name, exchanges in specs().items():
        render(root / f"{CLASS}.{name}.yaml", NOTE, exchanges)


if __name__ == "__main__":
    render_all()
