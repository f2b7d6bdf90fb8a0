"""ChatHFProviders where LangChain users put it: an agent, an LCEL chain with batch, a cache.

Replayed from `cassettes/langchain/test_agents_and_chains/` (synthesized by the cassette
generator; recordable from the router with the command in docs/langchain.md). The assertions
hold for any faithful answer, synthesized or recorded: they check the shape of the run (which
tools ran, what was fed back, how many requests went out), not the model's wording.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.caches import InMemoryCache
from langchain_core.globals import set_llm_cache
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool

from langchain_hfproviders import ChatHFProviders
from tests.langchain.conftest import SentRequests, model_params

pytestmark = pytest.mark.vcr

MODEL = "meta-llama/Llama-4-Scout-17B-16E-Instruct"
OTHER_MODEL = "Qwen/Qwen2.5-VL-7B-Instruct"
QUESTION = "What is the weather in Paris, and what time is it there?"


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"It is sunny and 22 degrees in {city}."


@tool
def get_time(city: str) -> str:
    """Get the current local time in a city."""
    return f"It is 14:05 in {city}."


def _agent(sent: SentRequests) -> Any:
    model = ChatHFProviders(**model_params(model=MODEL, **sent.clients()))
    return create_agent(model, [get_weather, get_time])


def _check_run(messages: list[Any], streamed: list[Any], sent: SentRequests) -> None:
    """Both tools ran, their results went back to the model, and it answered in text."""
    calls = [c["name"] for m in messages if isinstance(m, AIMessage) for c in m.tool_calls]
    assert sorted(set(calls)) == ["get_time", "get_weather"]
    results = [m for m in messages if isinstance(m, ToolMessage)]
    assert {r.name for r in results} == {"get_time", "get_weather"}
    assert all("Paris" in str(r.content) for r in results)
    final = messages[-1]
    assert isinstance(final, AIMessage)
    assert final.text and not final.tool_calls
    assert final.response_metadata["model_provider"] == "huggingface"
    assert final.usage_metadata is not None
    # Tokens really streamed: the model's words arrived as several chunks.
    text_chunks = [c for c in streamed if isinstance(c, AIMessageChunk) and c.text]
    assert len(text_chunks) > 1
    # One request per model turn, each a stream, each carrying the whole history so far.
    model_turns = sum(isinstance(m, AIMessage) for m in messages)
    assert sent.count == model_turns >= 2
    assert all(body["stream"] for body in sent.bodies)
    last = sent.bodies[-1]["messages"]
    fed_back = [m for m in last if m["role"] == "tool"]
    assert len(fed_back) == len(results)
    assert {m["tool_call_id"] for m in fed_back} == {r.tool_call_id for r in results}


def test_agent_two_tools_sync_streamed(sent: SentRequests) -> None:
    """create_agent: call a tool, feed the result back, call the other, answer (streamed)."""
    streamed: list[Any] = []
    state: dict[str, Any] = {}
    for mode, payload in _agent(sent).stream(
        {"messages": [HumanMessage(QUESTION)]}, stream_mode=["messages", "values"]
    ):
        if mode == "messages":
            streamed.append(payload[0])
        else:
            state = payload
    _check_run(state["messages"], streamed, sent)


async def test_agent_two_tools_async_streamed(sent: SentRequests) -> None:
    """The same run on the native async path (`_astream`)."""
    streamed: list[Any] = []
    state: dict[str, Any] = {}
    async for mode, payload in _agent(sent).astream(
        {"messages": [HumanMessage(QUESTION)]}, stream_mode=["messages", "values"]
    ):
        if mode == "messages":
            streamed.append(payload[0])
        else:
            state = payload
    _check_run(state["messages"], streamed, sent)


_PROMPT = ChatPromptTemplate.from_messages(
    [("system", "Answer in one short sentence."), ("human", "Tell me a fact about {animal}.")]
)
_ANIMALS = [{"animal": "cats"}, {"animal": "owls"}, {"animal": "otters"}]


def _asked_about(body: dict[str, Any]) -> str:
    return str(body["messages"][-1]["content"])


def test_chain_batch(sent: SentRequests) -> None:
    """prompt | model | StrOutputParser over several inputs, in order, one request each."""
    model = ChatHFProviders(**model_params(model=MODEL, **sent.clients()))
    chain = _PROMPT | model | StrOutputParser()
    answers = chain.batch(_ANIMALS, config={"max_concurrency": 3})
    assert len(answers) == len(_ANIMALS)
    assert all(isinstance(a, str) and a for a in answers)
    assert sent.count == len(_ANIMALS)
    asked = sorted(_asked_about(body) for body in sent.bodies)
    assert asked == sorted(f"Tell me a fact about {a['animal']}." for a in _ANIMALS)


async def test_chain_abatch(sent: SentRequests) -> None:
    """The same chain on the native async path."""
    model = ChatHFProviders(**model_params(model=MODEL, **sent.clients()))
    chain = _PROMPT | model | StrOutputParser()
    answers = await chain.abatch(_ANIMALS)
    assert len(answers) == len(_ANIMALS)
    assert all(isinstance(a, str) and a for a in answers)
    assert sent.count == len(_ANIMALS)


@pytest.fixture
def llm_cache() -> Iterator[InMemoryCache]:
    cache = InMemoryCache()
    set_llm_cache(cache)
    yield cache
    set_llm_cache(None)


def test_cache_hits_per_model_and_misses_across_models(
    sent: SentRequests, llm_cache: InMemoryCache
) -> None:
    """A repeated call is served from LangChain's cache; another model never gets its answer."""
    first = ChatHFProviders(**model_params(model=MODEL, temperature=0, **sent.clients()))
    second = ChatHFProviders(**model_params(model=OTHER_MODEL, temperature=0, **sent.clients()))
    question = "Name one famous cat."

    a1 = first.invoke(question)
    assert sent.count == 1
    a2 = first.invoke(question)
    assert sent.count == 1  # hit: no request
    assert a2.content == a1.content

    b1 = second.invoke(question)
    assert sent.count == 2  # miss: the other model was asked
    assert b1.response_metadata["model_name"] == OTHER_MODEL
    assert a1.response_metadata["model_name"] == MODEL

    # Different sampling settings are different cache entries too.
    third = ChatHFProviders(**model_params(model=MODEL, temperature=0.7, **sent.clients()))
    third.invoke(question)
    assert sent.count == 3
    assert [body["model"] for body in sent.bodies] == [MODEL, OTHER_MODEL, MODEL]
