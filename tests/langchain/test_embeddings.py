"""HFProvidersEmbeddings: options reach the core, typed errors, secrets, and a RAG chain offline."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.exceptions import ModelRateLimitError
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough
from langchain_core.vectorstores import InMemoryVectorStore

import hfproviders
from langchain_hfproviders import ChatHFProviders, HFProvidersEmbeddings
from tests.conftest import FAKE_TOKEN
from tests.rag_fake import CHAT_MODEL, EMBED_MODEL, FakeRouter, keyword_vector


@pytest.fixture
def router() -> FakeRouter:
    return FakeRouter()


def embeddings(router: FakeRouter, **kwargs: Any) -> HFProvidersEmbeddings:
    kwargs.setdefault("api_key", FAKE_TOKEN)
    kwargs.setdefault("provider", "hf-inference")
    return HFProvidersEmbeddings(model=EMBED_MODEL, **router.clients(), **kwargs)


def test_documents_are_batched_and_options_reach_the_wire(router: FakeRouter) -> None:
    model = embeddings(
        router,
        embed_batch_size=2,
        normalize=True,
        truncate=True,
        model_kwargs={"prompt_name": "passage"},
        query_kwargs={"prompt_name": "query"},
    )
    texts = ["Paris", "Berlin", "Rome"]
    assert model.embed_documents(texts) == [keyword_vector(t) for t in texts]
    assert model.embed_query("Rome?") == keyword_vector("Rome?")
    assert model.embed_documents([]) == []
    bodies = router.bodies("/feature-extraction")
    assert [b["inputs"] for b in bodies] == [["Paris", "Berlin"], ["Rome"], ["Rome?"]]
    assert [b["prompt_name"] for b in bodies] == ["passage", "passage", "query"]
    assert all(b["normalize"] is True and b["truncate"] is True for b in bodies)


async def test_async_methods_are_native_and_use_the_hub_mapping(router: FakeRouter) -> None:
    model = embeddings(router, provider=None, dimensions=8)
    vectors = await model.aembed_documents(["Paris is nice", "Rome"])
    assert vectors == [keyword_vector("Paris is nice"), keyword_vector("Rome")]
    assert await model.aembed_query("France") == keyword_vector("France")
    [first, *_] = router.bodies("/v1/embeddings")
    assert first == {"model": "bge-small-t", "input": ["Paris is nice", "Rome"], "dimensions": 8}
    assert sum(1 for r in router.requests if r.url.host == "huggingface.co") == 1
    await model.aclose()


async def test_errors_are_core_and_langchain_typed(router: FakeRouter) -> None:
    router.embed_status = 429
    model = embeddings(router, max_retries=0)
    with pytest.raises(hfproviders.RateLimitError) as caught:
        model.embed_query("x")
    assert isinstance(caught.value, ModelRateLimitError)
    with pytest.raises(ModelRateLimitError):
        await model.aembed_documents(["x"])


def test_token_stays_secret(router: FakeRouter) -> None:
    model = embeddings(router)
    assert FAKE_TOKEN not in repr(model) and FAKE_TOKEN not in str(model.model_dump())
    copy = model.model_copy(update={"embed_batch_size": 8})
    assert copy.embed_batch_size == 8 and copy._pools is not model._pools


def test_retriever_chain_with_our_llm_and_our_embeddings(router: FakeRouter) -> None:
    store = InMemoryVectorStore(embedding=embeddings(router))
    store.add_documents(
        [
            Document(page_content="Paris is the capital of France."),
            Document(page_content="Berlin is the capital of Germany."),
            Document(page_content="Rome is the capital of Italy."),
        ]
    )
    retriever = store.as_retriever(search_kwargs={"k": 1})
    prompt = ChatPromptTemplate.from_messages(
        [
            ("system", "Answer from the context only."),
            ("human", "Context: {context}\nQuestion: {question}"),
        ]
    )
    llm = ChatHFProviders(
        model=CHAT_MODEL, provider="together", api_key=FAKE_TOKEN, **router.clients()
    )
    chain = (
        {
            "context": retriever | (lambda docs: "\n".join(d.page_content for d in docs)),
            "question": RunnablePassthrough(),
        }
        | prompt
        | llm
        | StrOutputParser()
    )
    assert chain.invoke("What is the capital of France?") == "Paris."
    [chat] = router.bodies("/chat/completions")
    assert "Paris is the capital of France." in chat["messages"][-1]["content"]
    assert "Berlin" not in chat["messages"][-1]["content"]  # the retriever picked one document


async def test_retriever_chain_async(router: FakeRouter) -> None:
    store = InMemoryVectorStore(embedding=embeddings(router))
    await store.aadd_texts(["Rome is the capital of Italy.", "Paris is the capital of France."])
    docs = await store.as_retriever(search_kwargs={"k": 1}).ainvoke("capital of France?")
    assert [d.page_content for d in docs] == ["Paris is the capital of France."]
