"""The provider-quirk matrix (WIRE.md §3–5), seen through ChatHFProviders.

Each quirk replays a hand-written cassette in `cassettes/langchain/test_quirks/` (line 1 says
what it reproduces) and checks that the LangChain result is what a user expects: the core has
normalised the quirk, and the adapter passes the clean result on. These cassettes pin
`record_mode="none"`: they show provider behaviour that a re-recording would not reproduce.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.exceptions import ModelInvalidRequestError
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.tools import tool

import hfproviders
from langchain_hfproviders import ChatHFProviders
from tests.conftest import FAKE_TOKEN
from tests.langchain.conftest import SentRequests


def quirk(name: str) -> pytest.MarkDecorator:
    """Replay `name`.yaml in order, matching on method and URL (bodies are asserted apart)."""

    def apply(func: Any) -> Any:
        func = pytest.mark.default_cassette(name)(func)
        return pytest.mark.vcr(
            record_mode="none", match_on=["method", "uri"], allow_playback_repeats=False
        )(func)

    return apply  # type: ignore[return-value]


@tool
def get_weather(location: str, unit: str = "celsius") -> str:
    """Get the current weather at a location."""
    return f"It is sunny and 22 degrees in {location}."


@tool
def get_time(city: str) -> str:
    """Get the local time in a city."""
    return f"It is 14:05 in {city}."


def _model(model: str, sent: SentRequests | None = None, **kwargs: Any) -> ChatHFProviders:
    """A model on the router (these cassettes are only ever replayed, whatever the mode)."""
    clients = sent.clients() if sent is not None else {}
    return ChatHFProviders(model=model, api_key=FAKE_TOKEN, **clients, **kwargs)


def _stream(model: Any, prompt: Any) -> tuple[list[AIMessageChunk], AIMessageChunk]:
    chunks = list(model.stream(prompt))
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    return chunks, full


def _check_stream_contract(chunks: list[AIMessageChunk]) -> None:
    """Usage on at most one chunk, and the last chunk closes the stream."""
    assert sum(1 for c in chunks if c.usage_metadata) <= 1
    assert chunks[-1].chunk_position == "last"
    assert sum(1 for c in chunks if c.response_metadata.get("model_name")) == 1


# -- tool calls --------------------------------------------------------------------------------


@quirk("tgi_dict_arguments_int_id")
def test_dict_arguments_and_integer_id_round_trip(sent: SentRequests) -> None:
    """Old TGI: arguments as an object, id 0, finish eos_token; the result goes back intact."""
    model = _model("meta-llama/Meta-Llama-3-70B-Instruct", sent).bind_tools([get_weather])
    question = HumanMessage("What's the weather in Paris?")
    call = model.invoke([question])
    assert isinstance(call, AIMessage)
    assert call.tool_calls == [
        {
            "name": "get_weather",
            "args": {"location": "Paris", "unit": "celsius"},
            "id": call.tool_calls[0]["id"],
            "type": "tool_call",
        }
    ]
    call_id = call.tool_calls[0]["id"]
    assert call_id and not call_id.isdigit()  # a stable, usable id instead of 0
    assert call.response_metadata["finish_reason"] == "tool_calls"
    assert call.response_metadata["inference_provider"] == "hf-inference"

    result = get_weather.invoke(call.tool_calls[0])
    answer = model.invoke([question, call, result])
    assert answer.text == "It is sunny and 22 degrees in Paris."
    # What went back: arguments as a JSON string, and the tool result under the same id.
    history = sent.bodies[1]["messages"]
    assert history[1]["tool_calls"][0]["id"] == call_id
    assert json.loads(history[1]["tool_calls"][0]["function"]["arguments"]) == {
        "location": "Paris",
        "unit": "celsius",
    }
    assert history[2] == {
        "role": "tool",
        "tool_call_id": call_id,
        "content": "It is sunny and 22 degrees in Paris.",
    }


@quirk("together_stream_index_minus_one")
def test_stream_index_minus_one() -> None:
    """together: a single tool-call delta with index -1 still becomes one clean call."""
    model = _model("meta-llama/Llama-3.3-70B-Instruct", provider="together")
    chunks, full = _stream(model.bind_tools([get_weather]), "Weather in Paris?")
    _check_stream_contract(chunks)
    assert all(
        tc["index"] is not None and tc["index"] >= 0 for c in chunks for tc in c.tool_call_chunks
    )
    assert full.tool_calls == [
        {
            "name": "get_weather",
            "args": {"location": "Paris"},
            "id": "call_7x2c9d0e1f2a3b4c5d6e7f8a",
            "type": "tool_call",
        }
    ]
    assert full.response_metadata["finish_reason"] == "tool_calls"
    assert full.usage_metadata == {
        "input_tokens": 214,
        "output_tokens": 21,
        "total_tokens": 235,
    }
    rate_limit = full.response_metadata["rate_limit"]
    assert rate_limit["limit_requests"] == 60
    assert rate_limit["remaining_requests"] == 57
    assert full.response_metadata["request_id"] == "TtpPGx80uP3e6pgl"


@quirk("nebius_stream_missing_id_no_finish")
def test_stream_missing_id_and_finish_reason() -> None:
    """nebius: no tool-call id and no finish_reason; we still get an id and `tool_calls`."""
    # No provider argument: nebius has left the router (July 2026); the router chose it in 2025.
    model = _model("Qwen/Qwen3-32B")
    chunks, full = _stream(model.bind_tools([get_weather]), "Weather in Paris?")
    _check_stream_contract(chunks)
    assert len(full.tool_calls) == 1
    assert full.tool_calls[0]["args"] == {"location": "Paris"}
    assert full.tool_calls[0]["id"]
    assert full.response_metadata["finish_reason"] == "tool_calls"
    assert full.usage_metadata is None  # nebius sent no usage: none is invented


@quirk("tgi_stream_repeated_id_no_space")
def test_stream_repeated_ids_parallel_calls() -> None:
    """TGI: `data:` without a space, id "0" on every delta of two calls: two distinct calls."""
    model = _model("meta-llama/Llama-3.1-8B-Instruct", provider="hf-inference")
    chunks, full = _stream(model.bind_tools([get_weather, get_time]), "Weather and time?")
    _check_stream_contract(chunks)
    assert [(c["name"], c["args"]) for c in full.tool_calls] == [
        ("get_weather", {"location": "Paris"}),
        ("get_time", {"city": "Paris"}),
    ]
    ids = [c["id"] for c in full.tool_calls]
    assert len(set(ids)) == 2
    assert all(i and i != "0" for i in ids)
    assert full.response_metadata["finish_reason"] == "tool_calls"


@quirk("nebius_stop_with_tool_calls")
def test_finish_reason_stop_with_tool_calls() -> None:
    """nebius: finish_reason "stop" next to tool calls is reported as `tool_calls`."""
    model = _model("Qwen/Qwen3-32B").bind_tools([get_weather])
    message = model.invoke("Weather in Paris?")
    assert isinstance(message, AIMessage)
    assert message.response_metadata["finish_reason"] == "tool_calls"
    assert message.tool_calls[0]["args"] == {"location": "Paris"}
    assert message.tool_calls[0]["id"]
    assert message.content == ""


@quirk("together_required_tool_as_text")
def test_required_tool_call_sent_as_text() -> None:
    """together under tool_choice=required: a call written as JSON text becomes a tool call."""
    model = _model("meta-llama/Llama-3.3-70B-Instruct", provider="together")
    message = model.bind_tools([get_weather], tool_choice="any").invoke("Weather in Paris?")
    assert isinstance(message, AIMessage)
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [
        ("get_weather", {"location": "Paris"})
    ]
    assert message.content == ""


# -- reasoning ---------------------------------------------------------------------------------


@quirk("fireworks_reasoning_content_stream")
def test_reasoning_content_stream_v0_and_usage_details() -> None:
    """fireworks: `reasoning_content` deltas; cached and reasoning token details."""
    model = _model("deepseek-ai/DeepSeek-V4-Pro", provider="fireworks-ai")
    chunks, full = _stream(model, "What is 17 * 23?")
    _check_stream_contract(chunks)
    assert full.content == "17 * 23 = 391."
    assert (
        full.additional_kwargs["reasoning_content"]
        == "17 * 23 = 17 * 20 + 17 * 3 = 340 + 51 = 391."
    )
    assert full.usage_metadata == {
        "input_tokens": 14,
        "output_tokens": 34,
        "total_tokens": 48,
        "input_token_details": {"cache_read": 8},
        "output_token_details": {"reasoning": 22},
    }
    assert full.response_metadata["served_model"] == "accounts/fireworks/models/deepseek-v4-pro"


@quirk("fireworks_reasoning_content_stream")
def test_reasoning_content_stream_v1_blocks() -> None:
    """With output_version="v1" the reasoning is a reasoning block before the text block."""
    model = _model("deepseek-ai/DeepSeek-V4-Pro", provider="fireworks-ai", output_version="v1")
    chunks, full = _stream(model, "What is 17 * 23?")
    blocks = [b for b in full.content if isinstance(b, dict)]
    assert [b["type"] for b in blocks] == ["reasoning", "text"]
    assert blocks[0]["reasoning"] == "17 * 23 = 17 * 20 + 17 * 3 = 340 + 51 = 391."
    assert blocks[1]["text"] == "17 * 23 = 391."


@quirk("groq_reasoning_field")
def test_reasoning_field_non_stream() -> None:
    """`message.reasoning` (not `reasoning_content`) is surfaced as well."""
    message = _model("openai/gpt-oss-120b", provider="groq").invoke("Capital of France?")
    assert message.content == "Paris."
    assert message.additional_kwargs["reasoning_content"] == (
        "The user asks for the capital of France. That is Paris."
    )
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_token_details"] == {"reasoning": 27}
    assert message.response_metadata["rate_limit"]["remaining_requests"] == 999


@quirk("groq_reasoning_field")
def test_reasoning_field_v1_blocks() -> None:
    """The same answer in v1 content blocks."""
    model = _model("openai/gpt-oss-120b", provider="groq", output_version="v1")
    message = model.invoke("Capital of France?")
    assert message.content == [
        {
            "type": "reasoning",
            "reasoning": "The user asks for the capital of France. That is Paris.",
        },
        {"type": "text", "text": "Paris."},
    ]


@quirk("together_inline_think_stream")
def test_inline_think_split_across_chunks() -> None:
    """together R1: `<think>…</think>` inline in content, tags cut across chunks."""
    chunks, full = _stream(_model("deepseek-ai/DeepSeek-R1", provider="together"), "2 + 2?")
    _check_stream_contract(chunks)
    assert full.content == "The answer is 4."
    assert "<" not in "".join(str(c.content) for c in chunks)  # no tag ever leaks
    assert full.additional_kwargs["reasoning_content"].strip() == "Two plus two is four."


@quirk("novita_only_closing_think")
def test_only_closing_think_and_usage_in_every_chunk() -> None:
    """R1-distill: only `</think>` arrives (non-stream and stream); running usage per chunk."""
    model = _model("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", provider="novita")
    message = model.invoke("2 + 2?")
    assert message.content == "The answer is 4."
    assert message.additional_kwargs["reasoning_content"] == (
        "Okay, the user wants 2 + 2. That is 4."
    )

    chunks, full = _stream(model, "2 + 2?")
    _check_stream_contract(chunks)
    assert full.content == "The answer is 4."
    assert "Okay, the user wants 2 + 2." in full.additional_kwargs["reasoning_content"]
    # novita repeats running totals in every chunk: the last one counts, once.
    assert full.usage_metadata == {"input_tokens": 10, "output_tokens": 17, "total_tokens": 27}


# -- stream framing and errors -----------------------------------------------------------------


@quirk("cerebras_no_done")
def test_stream_without_done_and_usage_on_finish_chunk() -> None:
    """cerebras: no `[DONE]`, usage on the finish chunk: the answer and usage are complete."""
    chunks, full = _stream(_model("meta-llama/Llama-3.3-70B-Instruct", provider="cerebras"), "DL?")
    _check_stream_contract(chunks)
    assert full.content == "Deep learning is a branch of machine learning."
    assert full.usage_metadata == {"input_tokens": 45, "output_tokens": 9, "total_tokens": 54}
    assert full.response_metadata["finish_reason"] == "stop"
    assert full.response_metadata["inference_provider"] == "cerebras"
    assert full.response_metadata["rate_limit"]["remaining_tokens"] == 59946


@quirk("hf_inference_error_in_200_stream")
def test_error_event_inside_200_stream() -> None:
    """An `{"error": …}` event in a 200 stream raises a typed error after the text so far."""
    model = _model("meta-llama/Llama-3.1-8B-Instruct", provider="hf-inference")
    received: list[str] = []

    def consume() -> None:
        for chunk in model.stream("Give me JSON"):
            received.append(chunk.text)

    with pytest.raises(hfproviders.BadRequestError) as caught:
        consume()
    error = caught.value
    assert isinstance(error, ModelInvalidRequestError)  # langchain-core's family too
    assert error.status_code == 422
    assert "grammar is not supported" in str(error)
    assert error.in_stream
    assert error.provider == "hf-inference"
    assert error.request_id == "Err1nStr34m422ab"
    assert "".join(received) == "Here is the JSON"
    assert error.partial is not None
    assert error.partial.text == "Here is the JSON"
