"""HFProvidersEmbedding: BaseEmbedding on the core, events, Settings, and a RAG query engine offline."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.instrumentation.events.embedding import (
    EmbeddingEndEvent,
    EmbeddingStartEvent,
)
from llamaindex_support import EventLog

import hfproviders
from llamaindex_hfproviders import HFProviders, HFProvidersEmbedding
from tests.conftest import FAKE_TOKEN
from tests.rag_fake import CHAT_MODEL, EMBED_MODEL, FakeRouter, keyword_vector

DOCUMENTS = [
    Document(text="Paris is the capital of France."),
    Document(text="Berlin is the capital of Germany."),
    Document(text="Rome is the capital of Italy."),
]
QUERY = "What is the capital of France?"


@pytest.fixture
def router() -> FakeRouter:
    return FakeRouter()


def embed_model(router: FakeRouter, **kwargs: Any) -> HFProvidersEmbedding:
    kwargs.setdefault("api_key", FAKE_TOKEN)
    kwargs.setdefault("provider", "hf-inference")
    return HFProvidersEmbedding(model_name=EMBED_MODEL, **router.clients(), **kwargs)


def llm(router: FakeRouter) -> HFProviders:
    return HFProviders(
        model=CHAT_MODEL, provider="together", api_key=FAKE_TOKEN, **router.clients()
    )


def test_text_and_query_embeddings_batch_and_send_options(
    router: FakeRouter, event_log: EventLog
) -> None:
    model = embed_model(
        router,
        embed_batch_size=2,
        normalize=True,
        additional_kwargs={"prompt_name": "passage"},
        query_kwargs={"prompt_name": "query"},
    )
    texts = ["Paris", "Rome", "Berlin"]
    assert model.get_text_embedding_batch(texts) == [keyword_vector(t) for t in texts]
    assert model.get_query_embedding("France?") == keyword_vector("France?")
    assert model.get_text_embedding("Italy") == keyword_vector("Italy")
    bodies = router.bodies("/feature-extraction")
    assert [b["inputs"] for b in bodies] == [["Paris", "Rome"], ["Berlin"], ["France?"], ["Italy"]]
    assert [b["prompt_name"] for b in bodies] == ["passage", "passage", "query", "passage"]
    starts = [e for e in event_log.events if isinstance(e, EmbeddingStartEvent)]
    ends = [e for e in event_log.events if isinstance(e, EmbeddingEndEvent)]
    assert len(starts) == len(ends) == 4  # one pair per batch and per single embedding
    assert ends[0].chunks == ["Paris", "Rome"] and ends[0].embeddings == [
        keyword_vector("Paris"),
        keyword_vector("Rome"),
    ]
    assert starts[0].model_dict["model_name"] == EMBED_MODEL
    assert FAKE_TOKEN not in str(starts[0].model_dict)


async def test_async_methods_are_native(router: FakeRouter, event_log: EventLog) -> None:
    model = embed_model(router, provider=None, dimensions=8)
    assert await model.aget_query_embedding("France") == keyword_vector("France")
    assert await model.aget_text_embedding_batch(["Rome", "Paris"]) == [
        keyword_vector("Rome"),
        keyword_vector("Paris"),
    ]
    assert router.bodies("/v1/embeddings")[0] == {
        "model": "bge-small-t",
        "input": ["France"],
        "dimensions": 8,
    }
    assert sum(isinstance(e, EmbeddingEndEvent) for e in event_log.events) == 2
    await model.aclose()


def test_errors_are_the_core_typed_errors(router: FakeRouter) -> None:
    router.embed_status = 429
    model = embed_model(router, max_retries=0)
    with pytest.raises(hfproviders.RateLimitError):
        model.get_query_embedding("x")


def test_token_is_never_serialised(router: FakeRouter) -> None:
    model = embed_model(router)
    assert FAKE_TOKEN not in model.to_json() and FAKE_TOKEN not in repr(model)
    assert model.to_dict()["class_name"] == "HFProvidersEmbedding"


def test_vector_store_query_engine_with_our_llm_and_embeddings(router: FakeRouter) -> None:
    index = VectorStoreIndex.from_documents(DOCUMENTS, embed_model=embed_model(router))
    engine = index.as_query_engine(llm=llm(router), similarity_top_k=1)
    response = engine.query(QUERY)
    assert str(response) == "Paris."
    assert [n.node.get_content() for n in response.source_nodes] == [DOCUMENTS[0].text]
    [chat] = router.bodies("/chat/completions")
    assert "Paris is the capital of France." in str(chat["messages"])
    assert "Berlin" not in str(chat["messages"])


async def test_settings_embed_model_and_async_query_engine(router: FakeRouter) -> None:
    saved_llm, saved_embed = Settings._llm, Settings._embed_model
    Settings.llm = llm(router)
    Settings.embed_model = embed_model(router)
    try:
        index = VectorStoreIndex.from_documents(DOCUMENTS)  # Settings.embed_model
        response = await index.as_query_engine(similarity_top_k=1).aquery(QUERY)
    finally:
        Settings._llm, Settings._embed_model = saved_llm, saved_embed
    assert str(response) == "Paris."
    assert len(router.bodies("/feature-extraction")) == 2  # the documents, then the query


def test_a_server_refusing_the_model_is_typed(router: FakeRouter) -> None:
    def not_served(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400,
            json={
                "error": {
                    "message": "Model is not supported for feature-extraction",
                    "code": "model_not_supported",
                }
            },
        )

    model = HFProvidersEmbedding(
        model_name=EMBED_MODEL,
        provider="hf-inference",
        api_key=FAKE_TOKEN,
        http_client=httpx.Client(transport=httpx.MockTransport(not_served)),
    )
    with pytest.raises(hfproviders.ModelNotSupportedError):
        model.get_text_embedding("x")
