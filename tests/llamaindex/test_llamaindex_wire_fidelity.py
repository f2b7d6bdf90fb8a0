"""Issue 10 through the LlamaIndex adapter: logprobs as LogProb, strict structured tool calls,
thinking models, empty streams. Both twins, chat and stream, on a MockTransport router."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx
import pytest
from llama_index.core.base.llms.types import ChatMessage, LogProb
from llama_index.core.prompts import PromptTemplate
from pydantic import BaseModel

from llamaindex_hfproviders import HFProviders
from llamaindex_hfproviders._convert import InvalidToolArgumentsError
from tests.llamaindex.llamaindex_support import FAKE_TOKEN, MODEL

HEADERS = {"x-inference-provider": "novita", "x-request-id": "N0v1t4L0gPr0b5xx"}
both = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
USER = [ChatMessage(role="user", content="Hi")]


def b64(token: str) -> str:
    return base64.b64encode(token.encode()).decode()


def body(content: str | None, **message: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-wf",
        "object": "chat.completion",
        "created": 1764000000,
        "model": "meta-llama/llama-3.3-70b-instruct",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, **message},
                "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
    }


def event(finish: str | None = None, logprobs: Any = None, **fields: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-wf",
        "object": "chat.completion.chunk",
        "created": 1764000000,
        "model": "m",
        "choices": [{"index": 0, "delta": fields, "finish_reason": finish, "logprobs": logprobs}],
    }


def sse(*events: dict[str, Any]) -> bytes:
    return ("".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n").encode()


def llm(*replies: httpx.Response, **kwargs: Any) -> HFProviders:
    queue = list(replies)

    def handle(request: httpx.Request) -> httpx.Response:
        return queue.pop(0)

    transport = httpx.MockTransport(handle)
    kwargs.setdefault("model", MODEL)
    return HFProviders(
        api_key=FAKE_TOKEN,
        max_retries=0,
        http_client=httpx.Client(transport=transport),
        http_async_client=httpx.AsyncClient(transport=transport),
        **kwargs,
    )


def json_reply(data: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json=data, headers=HEADERS)


def sse_reply(*events: dict[str, Any]) -> httpx.Response:
    return httpx.Response(
        200, content=sse(*events), headers={"content-type": "text/event-stream", **HEADERS}
    )


def chat(model: HFProviders, is_async: bool) -> Any:
    return asyncio.run(model.achat(USER)) if is_async else model.chat(USER)


def stream(model: HFProviders, is_async: bool) -> list[Any]:
    if not is_async:
        return list(model.stream_chat(USER))

    async def drain() -> list[Any]:
        return [r async for r in await model.astream_chat(USER)]

    return asyncio.run(drain())


TOKENS = [("Bon", -0.1), ("jour", -0.2)]


@both
def test_novita_base64_logprobs_become_llamaindex_logprobs(is_async: bool) -> None:
    content = [{"token": t, "logprob": p, "bytes": b64(t)} for t, p in TOKENS]
    whole = body("Bonjour")
    whole["choices"][0]["logprobs"] = {"content": content}
    events = [
        event(logprobs={"content": [content[0]]}, content="Bon"),
        event("stop", logprobs={"content": [content[1]]}, content="jour"),
    ]
    model = llm(json_reply(whole), sse_reply(*events), logprobs=True)
    response = chat(model, is_async)
    last = stream(model, is_async)[-1]
    expected = [[LogProb(token=t, logprob=p, bytes=list(t.encode()))] for t, p in TOKENS]
    assert response.logprobs == expected
    assert last.logprobs == expected


class Person(BaseModel):
    name: str
    age: int = 0


def predict(model: HFProviders, prompt: PromptTemplate, is_async: bool) -> Any:
    if is_async:
        return asyncio.run(model.astructured_predict(Person, prompt, who="Ann"))
    return model.structured_predict(Person, prompt, who="Ann")


@both
def test_function_calling_structured_output_with_invalid_arguments_raises(is_async: bool) -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "Person", "arguments": '{"name": "Ann", "age": '},
    }
    model = llm(json_reply(body(None, tool_calls=[call])), structured_output="function_calling")
    prompt = PromptTemplate("Who is {who}?")
    with pytest.raises(InvalidToolArgumentsError, match="not valid JSON"):
        predict(model, prompt, is_async)


@both
def test_function_calling_structured_output_with_valid_arguments(is_async: bool) -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "Person", "arguments": '{"name": "Ann", "age": 3}'},
    }
    model = llm(json_reply(body(None, tool_calls=[call])), structured_output="function_calling")
    prompt = PromptTemplate("Who is {who}?")
    assert predict(model, prompt, is_async) == Person(name="Ann", age=3)


@both
def test_thinking_model_keeps_its_streamed_answer(is_async: bool) -> None:
    events = [
        event(reasoning_content="2 + 2 is 4."),
        event(content="The answer"),
        event("stop", content=" is 4."),
    ]
    model = llm(sse_reply(*events), model="deepseek-ai/DeepSeek-R1")
    responses = stream(model, is_async)
    assert responses[-1].message.content == "The answer is 4."
    assert "".join(r.delta or "" for r in responses) == "The answer is 4."
    assert (
        "".join(r.additional_kwargs.get("thinking_delta", "") for r in responses) == "2 + 2 is 4."
    )


@both
def test_empty_stream_is_an_empty_finished_answer(is_async: bool) -> None:
    responses = stream(llm(sse_reply()), is_async)
    assert responses[-1].message.content == ""
    assert responses[-1].additional_kwargs["finish_reason"] == "stop"


def capturing(*replies: httpx.Response) -> tuple[HFProviders, list[dict[str, Any]]]:
    bodies: list[dict[str, Any]] = []
    queue = list(replies)

    def handle(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return queue.pop(0)

    transport = httpx.MockTransport(handle)
    model = HFProviders(
        model=MODEL,
        api_key=FAKE_TOKEN,
        max_retries=0,
        http_client=httpx.Client(transport=transport),
        http_async_client=httpx.AsyncClient(transport=transport),
    )
    return model, bodies


WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object"}},
}
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}


def send(model: HFProviders, is_async: bool, **kwargs: Any) -> Any:
    return asyncio.run(model.achat(USER, **kwargs)) if is_async else model.chat(USER, **kwargs)


@both
def test_request_shapes_servers_accept_go_out_in_the_standard_form(is_async: bool) -> None:
    model, bodies = capturing(json_reply(body("ok")), json_reply(body('{"city": "Paris"}')))
    inline = {"type": "json_schema", "json_schema": {"name": "place", **SCHEMA}}
    send(model, is_async, tools=[WEATHER], tool_choice="get_weather")
    with pytest.warns(UserWarning, match="inline"):
        send(model, is_async, response_format=inline)
    assert bodies[0]["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert bodies[1]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "place", "schema": SCHEMA},
    }
