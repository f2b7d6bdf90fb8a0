"""A VectorStoreIndex query engine and structured output through HFProviders, from cassettes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from llama_index.core import Document, MockEmbedding, VectorStoreIndex
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.prompts import PromptTemplate
from llama_index.core.types import PydanticProgramMode
from llamaindex_support import Recorded, SentRequests
from pydantic import BaseModel

pytestmark = pytest.mark.vcr

DOCUMENTS = [
    Document(text="The Eiffel Tower stands on the Champ de Mars in Paris, France."),
    Document(text="The Colosseum is an ancient amphitheatre in the centre of Rome."),
]
QUERY = "Where is the Eiffel Tower?"


class Person(BaseModel):
    """A person from history."""

    name: str
    born: int


def cassette(name: str) -> pytest.MarkDecorator:
    return pytest.mark.default_cassette(f"{name}.yaml")


def index() -> VectorStoreIndex:
    # MockEmbedding keeps retrieval offline; only the LLM call goes over the (replayed) wire.
    return VectorStoreIndex.from_documents(DOCUMENTS, embed_model=MockEmbedding(embed_dim=8))


# -- query engine


@cassette("query_engine")
def test_query_engine_answers_through_hfproviders(
    make_llm: Any, sent: SentRequests, recorded: Recorded
) -> None:
    engine = index().as_query_engine(llm=make_llm(capture=True), similarity_top_k=2)
    response = engine.query(QUERY)
    assert str(response) == recorded.text()
    assert len(response.source_nodes) == 2
    prompt = json.dumps(sent.bodies[0]["messages"])
    assert "Champ de Mars" in prompt  # the retrieved context reached the model
    assert QUERY in prompt


@cassette("query_engine_stream")
async def test_streaming_query_engine(make_llm: Any, recorded: Recorded) -> None:
    engine = index().as_query_engine(llm=make_llm(), streaming=True, similarity_top_k=2)
    response = await engine.aquery(QUERY)
    pieces = [piece async for piece in response.async_response_gen()]
    assert len(pieces) > 1
    assert "".join(pieces) == recorded.text()


@cassette("query_engine_stream")
def test_streaming_query_engine_sync(make_llm: Any, recorded: Recorded) -> None:
    engine = index().as_query_engine(llm=make_llm(), streaming=True, similarity_top_k=2)
    response = engine.query(QUERY)
    assert "".join(response.response_gen) == recorded.text()


# -- structured output


def assert_person(person: Any, recorded: Recorded) -> None:
    assert isinstance(person, Person)
    assert person == Person.model_validate_json(recorded.text())


def assert_json_schema_request(body: dict[str, Any]) -> None:
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["name"] == "Person"
    assert body["response_format"]["json_schema"]["schema"] == Person.model_json_schema()
    # A response_format request carries no tools, so no tool_choice either.
    assert "tools" not in body
    assert "tool_choice" not in body


@cassette("structured_predict")
def test_structured_predict_uses_json_schema(
    make_llm: Any, sent: SentRequests, recorded: Recorded
) -> None:
    prompt = PromptTemplate("Name the {what}.")
    person = make_llm(capture=True).structured_predict(Person, prompt, what="first programmer")
    assert_person(person, recorded)
    assert sent.bodies == [recorded.request_body()]
    assert_json_schema_request(sent.bodies[0])


@cassette("structured_predict")
async def test_astructured_predict(make_llm: Any, sent: SentRequests, recorded: Recorded) -> None:
    prompt = PromptTemplate("Name the {what}.")
    llm = make_llm(capture=True)
    person = await llm.astructured_predict(Person, prompt, what="first programmer")
    assert_person(person, recorded)
    assert_json_schema_request(sent.bodies[0])


@cassette("structured_llm_chat")
def test_as_structured_llm_chat_returns_the_model(
    make_llm: Any, sent: SentRequests, recorded: Recorded
) -> None:
    structured = make_llm(capture=True).as_structured_llm(Person)
    response = structured.chat([ChatMessage(role="user", content="Who broke Enigma?")])
    assert_person(response.raw, recorded)
    assert Person.model_validate_json(response.message.content or "") == response.raw
    assert sent.bodies == [recorded.request_body()]
    assert_json_schema_request(sent.bodies[0])


@cassette("structured_stream")
def test_stream_structured_predict_grows_to_the_model(
    make_llm: Any, sent: SentRequests, recorded: Recorded
) -> None:
    prompt = PromptTemplate("Who wrote the first compiler?")
    parts = list(make_llm(capture=True).stream_structured_predict(Person, prompt))
    assert sent.bodies == [recorded.request_body()]
    assert len(parts) > 1
    assert_person(parts[-1], recorded)


@cassette("structured_stream")
async def test_astream_structured_predict(make_llm: Any, recorded: Recorded) -> None:
    prompt = PromptTemplate("Who wrote the first compiler?")
    stream = await make_llm().astream_structured_predict(Person, prompt)
    parts = [part async for part in stream]
    assert_person(parts[-1], recorded)


@cassette("structured_function")
@pytest.mark.parametrize(
    "settings",
    [
        {"structured_output": "function_calling"},
        {"pydantic_program_mode": PydanticProgramMode.FUNCTION},
    ],
)
def test_structured_predict_by_function_calling(
    make_llm: Any, sent: SentRequests, recorded: Recorded, settings: dict[str, Any]
) -> None:
    prompt = PromptTemplate("Name the first programmer.")
    person = make_llm(capture=True, **settings).structured_predict(Person, prompt)
    call = recorded.events(0)[0]["choices"][0]["message"]["tool_calls"][0]
    assert person == Person.model_validate_json(call["function"]["arguments"])
    assert sent.bodies == [recorded.request_body()]
    body = sent.bodies[0]
    assert [tool["function"]["name"] for tool in body["tools"]] == ["Person"]
    assert body["tool_choice"] == "required"
    assert "response_format" not in body
