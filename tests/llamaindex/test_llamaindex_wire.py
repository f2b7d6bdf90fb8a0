"""Provider quirks (WIRE.md §3–5), errors, retries and the TGI API through the adapter.

These cassettes are hand-made on purpose (a live re-recording cannot summon a provider quirk),
so the assertions use the exact values written in them.
"""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.tools import FunctionTool
from llamaindex_support import FAKE_TOKEN, Recorded, SentRequests

from hfproviders import AuthenticationError, BadRequestError
from llamaindex_hfproviders import _convert

# Replay-only even in a re-recording session: a live call cannot reproduce these quirks.
pytestmark = pytest.mark.vcr(record_mode="none")

ENDPOINT = "https://llama-8b-li.us-east-1.aws.endpoints.huggingface.cloud"
R1_DISTILL = "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B"
WEATHER_QUESTION = "What's the weather in Paris?"
MATH = [ChatMessage(role="user", content="What is 2+2?")]
DEEP = [ChatMessage(role="user", content="What is deep learning?")]
CAPITAL = [ChatMessage(role="user", content="What is the capital of France?")]


def get_weather(city: str) -> str:
    """Current weather in a city."""
    return f"Sunny in {city}"


WEATHER = FunctionTool.from_defaults(fn=get_weather)


def cassette(name: str) -> pytest.MarkDecorator:
    return pytest.mark.default_cassette(f"{name}.yaml")


@pytest.fixture(autouse=True)
def requests_match_the_cassette(sent: SentRequests, recorded: Recorded) -> Iterator[None]:
    """These cassettes are hand-made: each request in them is exactly what the adapter sends."""
    yield
    for index, body in enumerate(sent.bodies):
        assert body == recorded.request_body(index)


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    """Run a streaming scenario through stream_chat and through astream_chat."""
    return str(request.param)


async def stream(llm: Any, mode: str, messages: list[ChatMessage], **kwargs: Any) -> list[Any]:
    if mode == "sync":
        return list(llm.stream_chat(messages, **kwargs))
    return [response async for response in await llm.astream_chat(messages, **kwargs)]


async def stream_tools(llm: Any, mode: str, **kwargs: Any) -> list[ChatResponse]:
    prepared = llm._prepare_chat_with_tools([WEATHER], user_msg=WEATHER_QUESTION, **kwargs)
    return await stream(llm, mode, prepared.pop("messages"), **prepared)


def tool_blocks(response: ChatResponse) -> list[ToolCallBlock]:
    return [block for block in response.message.blocks if isinstance(block, ToolCallBlock)]


def thinking(response: ChatResponse) -> list[ThinkingBlock]:
    return [block for block in response.message.blocks if isinstance(block, ThinkingBlock)]


def assert_round_trip(response: ChatResponse) -> None:
    """The call goes back with string arguments and its id, and the tool result references it."""
    (block,) = tool_blocks(response)
    tool_result = ChatMessage(
        role="tool", content="Sunny", additional_kwargs={"tool_call_id": block.tool_call_id}
    )
    assistant, tool = _convert.to_openai_messages([response.message, tool_result])
    (call,) = assistant["tool_calls"]
    assert call["id"] == block.tool_call_id
    assert isinstance(call["function"]["arguments"], str)
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert tool == {"role": "tool", "content": "Sunny", "tool_call_id": block.tool_call_id}


# -- tool-call quirks


@cassette("quirk_args_dict_int_id")
def test_dict_arguments_and_integer_id(make_llm: Any) -> None:
    llm = make_llm(capture=True)
    response = llm.chat_with_tools([WEATHER], user_msg=WEATHER_QUESTION)
    (selection,) = llm.get_tool_calls_from_response(response)
    assert selection.tool_kwargs == {"city": "Paris"}  # a dict on the wire, not lost as {}
    assert selection.tool_id.startswith("call_")  # id 0 replaced by a stable unique id
    assert response.additional_kwargs["finish_reason"] == "tool_calls"  # TGI said eos_token
    assert_round_trip(response)


@cassette("quirk_stop_with_tool_calls")
async def test_finish_reason_stop_with_tool_calls(make_llm: Any) -> None:
    llm = make_llm(capture=True)
    response = await llm.achat_with_tools([WEATHER], user_msg=WEATHER_QUESTION)
    assert response.additional_kwargs["finish_reason"] == "tool_calls"
    (selection,) = llm.get_tool_calls_from_response(response)
    assert selection.tool_name == "get_weather"
    assert selection.tool_id == "chatcmpl-tool-4c2a9e1b7d3f"
    assert_round_trip(response)


@cassette("quirk_stream_missing_id")
async def test_streamed_call_without_id_or_finish_reason(make_llm: Any, mode: str) -> None:
    responses = await stream_tools(make_llm(capture=True), mode)
    (block,) = tool_blocks(responses[-1])
    assert block.tool_call_id
    assert block.tool_call_id.startswith("call_")
    finishes = [r.additional_kwargs.get("finish_reason") for r in responses]
    assert "tool_calls" in finishes  # the core supplies the missing finish reason
    assert_round_trip(responses[-1])


@cassette("quirk_stream_repeated_id")
async def test_tgi_fragments_with_repeated_id(make_llm: Any, mode: str) -> None:
    llm = make_llm(capture=True)
    responses = await stream_tools(llm, mode)
    (selection,) = llm.get_tool_calls_from_response(responses[-1])
    assert selection.tool_kwargs == {"city": "Paris"}
    assert selection.tool_id not in ("", "0")
    # Every intermediate response parses (partial JSON tolerated), none raises.
    for response in responses:
        llm.get_tool_calls_from_response(response, error_on_no_tool_call=False)
    assert_round_trip(responses[-1])


@cassette("quirk_stream_index_minus_one")
async def test_whole_calls_with_index_minus_one(make_llm: Any, mode: str) -> None:
    llm = make_llm(capture=True)
    responses = await stream_tools(llm, mode, allow_parallel_tool_calls=True)
    selections = llm.get_tool_calls_from_response(responses[-1])
    assert [(s.tool_id, s.tool_kwargs["city"]) for s in selections] == [
        ("call_a1b2c3d4e5f6a7b8c9d0e1f2", "Paris"),
        ("call_f2e1d0c9b8a7f6e5d4c3b2a1", "Rome"),
    ]


# -- reasoning quirks


@cassette("quirk_reasoning_content_stream")
async def test_reasoning_content_becomes_thinking(make_llm: Any, mode: str) -> None:
    responses = await stream(make_llm(capture=True), mode, MATH)
    final = responses[-1]
    (block,) = thinking(final)
    assert block.content == "The user asks for 2+2. That is 4."
    assert block.num_tokens == 22  # completion_tokens_details.reasoning_tokens
    assert final.message.content == "2 + 2 = 4."
    deltas = [r.additional_kwargs.get("thinking_delta") or "" for r in responses]
    assert "".join(deltas) == block.content
    assert "".join(r.delta or "" for r in responses) == "2 + 2 = 4."
    assert final.additional_kwargs["reasoning_tokens"] == 22


@cassette("quirk_reasoning_field")
def test_reasoning_field_becomes_thinking(make_llm: Any) -> None:
    response = make_llm(capture=True).chat(MATH)
    assert [block.content for block in thinking(response)] == ["Simple arithmetic: 4."]
    assert response.message.content == "2 + 2 = 4."


@cassette("quirk_think_inline_stream")
async def test_inline_think_split_across_chunks(make_llm: Any, mode: str) -> None:
    responses = await stream(make_llm(capture=True, model="deepseek-ai/DeepSeek-R1"), mode, MATH)
    final = responses[-1]
    assert final.message.content == "2 + 2 = 4."
    assert [(block.content or "").strip() for block in thinking(final)] == ["Two plus two is four."]
    for response in responses:
        assert "<thi" not in (response.delta or "")
        assert "<thi" not in (response.additional_kwargs.get("thinking_delta") or "")


@cassette("quirk_think_only_close")
async def test_only_closing_think_tag(make_llm: Any, mode: str) -> None:
    responses = await stream(make_llm(capture=True, model=R1_DISTILL), mode, MATH)
    final = responses[-1]
    assert final.message.content == "The answer is 4."
    assert [(block.content or "").strip() for block in thinking(final)] == ["Okay, 2+2 is 4."]
    assert "2+2" not in "".join(r.delta or "" for r in responses)


# -- usage and stream-end quirks


@cassette("quirk_usage_every_chunk")
async def test_running_usage_counted_once(make_llm: Any, mode: str) -> None:
    counter = TokenCountingHandler(tokenizer=lambda text: text.split())
    llm = make_llm(capture=True, callback_manager=CallbackManager([counter]))
    responses = await stream(llm, mode, DEEP)
    with_usage = [r for r in responses if "prompt_tokens" in r.additional_kwargs]
    assert with_usage == [responses[-1]]  # one usage, the last running total
    assert responses[-1].raw["usage"] == {
        "prompt_tokens": 46,
        "completion_tokens": 9,
        "total_tokens": 55,
    }
    assert (counter.prompt_llm_token_count, counter.completion_llm_token_count) == (46, 9)


@cassette("quirk_no_done")
async def test_stream_without_done(make_llm: Any, mode: str) -> None:
    responses = await stream(make_llm(capture=True), mode, DEEP)
    assert responses[-1].message.content == "Deep learning is machine learning with deep networks."
    assert responses[-1].additional_kwargs["total_tokens"] == 28
    assert "stop" in [r.additional_kwargs.get("finish_reason") for r in responses]


@cassette("quirk_error_in_stream")
async def test_error_event_inside_a_200_stream(make_llm: Any, mode: str) -> None:
    received: list[ChatResponse] = []
    llm = make_llm(capture=True)

    async def consume() -> None:
        # Append one by one: the responses before the error must stay visible.
        if mode == "sync":
            for response in llm.stream_chat(MATH):
                received.append(response)
        else:
            async for response in await llm.astream_chat(MATH):
                received.append(response)

    with pytest.raises(BadRequestError) as caught:
        await consume()
    error = caught.value
    assert error.status_code == 422
    assert "grammar is not supported" in error.message
    assert error.partial is not None
    assert error.partial.text == "The answer"
    assert received[-1].message.content == "The answer"  # what arrived before the error


# -- errors and retries


@cassette("error_401")
def test_authentication_error_is_typed_and_token_free(make_llm: Any, recorded: Recorded) -> None:
    with pytest.raises(AuthenticationError) as caught:
        make_llm(capture=True).chat(CAPITAL)
    error = caught.value
    assert error.status_code == 401
    assert error.request_id == recorded.header("x-request-id")
    assert error.provider is None  # the router answered, no provider was involved
    for text in (str(error), repr(error), str(error.body), error.message):
        assert FAKE_TOKEN not in text


@cassette("error_401")
async def test_errors_surface_typed_from_a_query_engine(make_llm: Any) -> None:
    from llama_index.core import Document, MockEmbedding, VectorStoreIndex

    index = VectorStoreIndex.from_documents(
        [Document(text="The sky is blue.")], embed_model=MockEmbedding(embed_dim=8)
    )
    with pytest.raises(AuthenticationError):
        await index.as_query_engine(llm=make_llm()).aquery("What colour is the sky?")


@cassette("retry_503")
def test_one_retry_layer(make_llm: Any, sent: SentRequests, recorded: Recorded) -> None:
    response = make_llm(capture=True, max_retries=2).chat(CAPITAL)
    assert response.message.content == "Paris."
    assert len(sent.requests) == 2  # one 503, one success: the core's retry only
    assert recorded.all_played


# -- the text-generation (TGI) API


def tgi_llm(make_llm: Any) -> Any:
    return make_llm(
        model="tgi",
        base_url=f"{ENDPOINT}/v1",
        completion_api="text_generation",
        max_tokens=32,
        capture=True,
    )


@cassette("textgen")
def test_complete_on_the_text_generation_api(make_llm: Any, sent: SentRequests) -> None:
    response = tgi_llm(make_llm).complete("The capital of France is", details=True)
    assert response.text == " Paris, the city of light."
    assert response.additional_kwargs["finish_reason"] == "eos_token"
    assert str(sent.requests[0].url).rstrip("/") == ENDPOINT
    assert sent.bodies[0] == {
        "inputs": "The capital of France is",
        "parameters": {"max_new_tokens": 32, "details": True},
    }


@cassette("textgen")
async def test_acomplete_on_the_text_generation_api(make_llm: Any) -> None:
    response = await tgi_llm(make_llm).acomplete("The capital of France is", details=True)
    assert response.text == " Paris, the city of light."


@cassette("textgen_stream")
async def test_stream_complete_on_the_text_generation_api(make_llm: Any, mode: str) -> None:
    llm = tgi_llm(make_llm)
    prompt = "The capital of France is"
    if mode == "sync":
        responses = list(llm.stream_complete(prompt))
    else:
        responses = [r async for r in await llm.astream_complete(prompt)]
    assert [r.delta for r in responses] == [" Paris", ",", " the", " city", ""]
    assert responses[-1].text == " Paris, the city"
    assert responses[-1].additional_kwargs["finish_reason"] == "eos_token"
