"""Issue 10 through the LangChain adapter: logprobs, structured output, thinking, empty streams.

Both twins, invoke and stream, on a MockTransport router (see test_chat_model.FakeRouter).
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx
import pytest
from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage, AIMessageChunk
from pydantic import BaseModel

from tests.langchain.test_chat_model import HEADERS, FakeRouter, completion, delta

both = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])


def invoke(model: Any, is_async: bool, prompt: Any = "Hi") -> Any:
    return asyncio.run(model.ainvoke(prompt)) if is_async else model.invoke(prompt)


def stream(model: Any, is_async: bool, prompt: Any = "Hi") -> list[AIMessageChunk]:
    if not is_async:
        return list(model.stream(prompt))

    async def drain() -> list[AIMessageChunk]:
        return [c async for c in model.astream(prompt)]

    return asyncio.run(drain())


def merged(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    return total


def b64(token: str) -> str:
    return base64.b64encode(token.encode()).decode()


@both
def test_novita_logprobs_in_response_metadata(is_async: bool) -> None:
    router = FakeRouter()
    body = completion("Bonjour")
    body["choices"][0]["logprobs"] = {
        "content": [
            {"token": "Bon", "logprob": -0.1, "bytes": b64("Bon")},
            {"token": "jour", "logprob": -0.2, "bytes": b64("jour")},
        ]
    }
    router.reply(httpx.Response(200, json=body, headers=HEADERS))
    first = delta(content="Bon")
    first["choices"][0]["logprobs"] = {
        "content": [{"token": "Bon", "logprob": -0.1, "bytes": b64("Bon")}]
    }
    last = delta("stop", content="jour")
    last["choices"][0]["logprobs"] = {
        "content": [{"token": "jour", "logprob": -0.2, "bytes": b64("jour")}]
    }
    router.reply(FakeRouter.stream_reply(first, last))
    model = router.model(logprobs=True)
    message = invoke(model, is_async)
    whole = merged(stream(model, is_async))
    for meta in (message.response_metadata, whole.response_metadata):
        tokens = meta["logprobs"]["content"]
        assert [(t["token"], t["bytes"], t["top_logprobs"]) for t in tokens] == [
            ("Bon", list(b"Bon"), []),
            ("jour", list(b"jour"), []),
        ]


class Person(BaseModel):
    name: str
    age: int


def broken_call() -> dict[str, Any]:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "Person", "arguments": '{"name": "Ann", "age": '},
    }
    return completion(None, tool_calls=[call])


@both
@pytest.mark.parametrize("schema", [Person, Person.model_json_schema()], ids=["pydantic", "dict"])
def test_function_calling_with_invalid_arguments_raises(is_async: bool, schema: Any) -> None:
    router = FakeRouter()
    router.reply(httpx.Response(200, json=broken_call(), headers=HEADERS))
    chat = router.model().with_structured_output(schema)  # method="function_calling"
    with pytest.raises(OutputParserException, match="not valid JSON"):
        invoke(chat, is_async)


@both
def test_function_calling_include_raw_records_the_parsing_error(is_async: bool) -> None:
    router = FakeRouter()
    router.reply(httpx.Response(200, json=broken_call(), headers=HEADERS))
    chat = router.model().with_structured_output(Person, include_raw=True)
    result = invoke(chat, is_async)
    assert isinstance(result["raw"], AIMessage) and result["raw"].invalid_tool_calls
    assert result["parsed"] is None
    assert isinstance(result["parsing_error"], OutputParserException)


@both
def test_function_calling_with_valid_arguments_still_parses(is_async: bool) -> None:
    router = FakeRouter()
    call = {
        "id": "c",
        "type": "function",
        "function": {"name": "Person", "arguments": '{"name": "Ann", "age": 3}'},
    }
    router.reply(httpx.Response(200, json=completion(None, tool_calls=[call]), headers=HEADERS))
    assert invoke(router.model().with_structured_output(Person), is_async) == Person(
        name="Ann", age=3
    )


@both
def test_thinking_model_reasoning_field_keeps_the_streamed_answer(is_async: bool) -> None:
    router = FakeRouter()
    router.reply(
        FakeRouter.stream_reply(
            delta(reasoning_content="2 + 2 is 4."),
            delta(content="The answer"),
            delta("stop", content=" is 4."),
        )
    )
    whole = merged(stream(router.model(model="deepseek-ai/DeepSeek-R1"), is_async))
    assert whole.content == "The answer is 4."
    assert whole.additional_kwargs["reasoning_content"] == "2 + 2 is 4."


@both
def test_empty_stream_is_an_empty_answer(is_async: bool) -> None:
    router = FakeRouter()
    router.reply(FakeRouter.stream_reply())
    whole = merged(stream(router.model(), is_async))
    assert whole.content == ""
    assert whole.response_metadata["finish_reason"] == "stop"


@both
def test_a_bare_tool_name_is_accepted(is_async: bool) -> None:
    router = FakeRouter()
    router.reply(httpx.Response(200, json=completion("ok"), headers=HEADERS))
    weather = {
        "type": "function",
        "function": {"name": "get_weather", "parameters": {"type": "object"}},
    }
    invoke(router.model().bind_tools([weather], tool_choice="get_weather"), is_async)
    assert router.bodies[0]["tool_choice"] == {
        "type": "function",
        "function": {"name": "get_weather"},
    }


@both
def test_json_schema_with_the_schema_inline_is_sent_in_the_standard_form(is_async: bool) -> None:
    router = FakeRouter()
    router.reply(httpx.Response(200, json=completion('{"city": "Paris"}'), headers=HEADERS))
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    inline = {"type": "json_schema", "json_schema": {"name": "place", **schema}}
    with pytest.warns(UserWarning, match="inline"):
        invoke(router.model().bind(response_format=inline), is_async)
    assert router.bodies[0]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "place", "schema": schema},
    }
