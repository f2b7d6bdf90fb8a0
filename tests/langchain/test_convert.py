"""The pure converters: LangChain messages/tools <-> OpenAI dicts, and core results -> LangChain."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    ChatMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.tool import invalid_tool_call
from pydantic import BaseModel, Field

from hfproviders import (
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChoiceDelta,
    ChunkChoice,
    FunctionCall,
    FunctionDelta,
    RateLimitInfo,
    ResponseMeta,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from hfproviders import (
    ChatMessage as CoreMessage,
)
from langchain_hfproviders import _convert
from langchain_hfproviders._convert import (
    _validated_text_chunk,
    chat_result,
    estimate_message_tokens,
    estimate_tokens,
    generation_chunk,
    message_to_openai,
    messages_to_openai,
    response_format_for,
    text_chunk,
    tool_choice_to_openai,
    tools_to_openai,
    translate_content_chunk,
    usage_to_metadata,
)

PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


# -- messages ------------------------------------------------------------------------------------


def test_plain_conversation() -> None:
    messages = [
        SystemMessage("Be brief."),
        HumanMessage("Hi", name="ana"),
        AIMessage("Hello!"),
        ChatMessage(role="developer", content="No emojis."),
    ]
    assert messages_to_openai(messages) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi", "name": "ana"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "developer", "content": "No emojis."},
    ]


def test_all_text_blocks_become_one_string() -> None:
    """Some providers accept only string content; text-only lists are joined."""
    message = HumanMessage([{"type": "text", "text": "one"}, "two", {"type": "text", "text": "3"}])
    assert message_to_openai(message) == {"role": "user", "content": "one\ntwo\n3"}


@pytest.mark.parametrize(
    ("block", "url"),
    [
        ({"type": "image_url", "image_url": "https://x.test/a.png"}, "https://x.test/a.png"),
        (
            {"type": "image_url", "image_url": {"url": "https://x.test/a.png", "detail": "low"}},
            "https://x.test/a.png",
        ),
        (
            {"type": "image", "base64": PNG_B64, "mime_type": "image/png"},
            f"data:image/png;base64,{PNG_B64}",
        ),
        ({"type": "image", "url": "https://x.test/b.jpg"}, "https://x.test/b.jpg"),
        (
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64},
            },
            f"data:image/png;base64,{PNG_B64}",
        ),
        (
            {"type": "image", "source": {"type": "url", "url": "https://x.test/c.png"}},
            "https://x.test/c.png",
        ),
    ],
    ids=["openai-str", "openai-dict", "v1-base64", "v1-url", "anthropic-base64", "anthropic-url"],
)
def test_image_blocks_become_image_url_parts(block: dict[str, Any], url: str) -> None:
    converted = message_to_openai(HumanMessage([{"type": "text", "text": "Describe"}, block]))
    assert converted["content"][0] == {"type": "text", "text": "Describe"}
    image = converted["content"][1]
    assert image["type"] == "image_url"
    assert image["image_url"]["url"] == url


def test_text_blocks_lose_provider_extras() -> None:
    """Anthropic's cache_control (and other extras) are not sent to OpenAI-style servers."""
    block = {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}
    image = {"type": "image", "url": "https://x.test/b.jpg"}
    assert message_to_openai(HumanMessage([block, image]))["content"][0] == {
        "type": "text",
        "text": "hi",
    }


def test_unknown_user_parts_pass_through() -> None:
    part = {"type": "video_url", "video_url": {"url": "https://x.test/v.mp4"}}
    assert message_to_openai(HumanMessage([part]))["content"] == [part]


def test_assistant_tool_calls_are_sent_with_string_arguments() -> None:
    message = AIMessage(
        "",
        tool_calls=[
            {"name": "add", "args": {"a": 1, "b": "二"}, "id": "call_1", "type": "tool_call"}
        ],
    )
    assert message_to_openai(message) == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "add", "arguments": '{"a": 1, "b": "二"}'},
            }
        ],
    }


def test_assistant_content_blocks_keep_only_text() -> None:
    """tool_use, thinking and reasoning blocks are not sent back; tool calls go in tool_calls."""
    message = AIMessage(
        [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "t1", "name": "pick", "input": {"x": 1}},
        ],
        tool_calls=[{"name": "pick", "args": {"x": 1}, "id": "t1", "type": "tool_call"}],
    )
    converted = message_to_openai(message)
    assert converted["content"] == "Let me check."
    assert [c["id"] for c in converted["tool_calls"]] == ["t1"]


def test_invalid_tool_calls_are_sent_back_as_written() -> None:
    message = AIMessage(
        "",
        invalid_tool_calls=[invalid_tool_call(name="f", args="{not json", id="c9", error="bad")],
    )
    assert message_to_openai(message)["tool_calls"] == [
        {"id": "c9", "type": "function", "function": {"name": "f", "arguments": "{not json"}}
    ]


def test_tool_message_has_no_name_and_keeps_its_id() -> None:
    message = ToolMessage("3", tool_call_id="call_1", name="add", status="error")
    assert message_to_openai(message) == {"role": "tool", "tool_call_id": "call_1", "content": "3"}


def test_unsupported_message_type_is_refused() -> None:
    with pytest.raises(TypeError, match="RemoveMessage"):
        message_to_openai(RemoveMessage(id="x"))


# -- tools ---------------------------------------------------------------------------------------


class Weather(BaseModel):
    """Get the weather."""

    city: str = Field(description="The city")


@pytest.mark.parametrize(
    ("choice", "names", "expected"),
    [
        (None, ["a"], None),
        (False, ["a"], None),
        ("auto", ["a", "b"], "auto"),
        ("none", ["a", "b"], "none"),
        ("required", ["a", "b"], "required"),
        ("any", ["a", "b"], "required"),
        (True, ["a", "b"], "required"),
        (True, ["a"], {"type": "function", "function": {"name": "a"}}),
        ("b", ["a", "b"], {"type": "function", "function": {"name": "b"}}),
        (
            {"type": "function", "function": {"name": "a"}},
            ["a"],
            {"type": "function", "function": {"name": "a"}},
        ),
    ],
)
def test_tool_choice_forms(choice: Any, names: list[str], expected: Any) -> None:
    assert tool_choice_to_openai(choice, names) == expected


def test_tool_choice_naming_an_unbound_tool_is_an_error() -> None:
    with pytest.raises(ValueError, match="neither"):
        tool_choice_to_openai("c", ["a", "b"])


def test_tools_strict() -> None:
    [tool] = tools_to_openai([Weather], strict=True)
    assert tool["function"]["strict"] is True
    assert tool["function"]["parameters"]["additionalProperties"] is False
    [loose] = tools_to_openai([Weather])
    assert "strict" not in loose["function"]


def test_response_formats() -> None:
    assert response_format_for(None, "json_mode") == {"type": "json_object"}
    schema = response_format_for(Weather, "json_schema")
    assert schema["type"] == "json_schema"
    spec = schema["json_schema"]
    assert spec["name"] == "Weather"
    assert spec["description"] == "Get the weather."
    assert spec["schema"]["required"] == ["city"]
    assert "strict" not in spec  # many providers reject strict: only sent when asked for
    assert response_format_for(Weather, "json_schema", strict=True)["json_schema"]["strict"] is True
    with pytest.raises(ValueError, match="needs a schema"):
        response_format_for(None, "json_schema")


# -- results -------------------------------------------------------------------------------------


def _meta(**kwargs: Any) -> ResponseMeta:
    return ResponseMeta(
        provider="together",
        request_id="TtpPGx80uP3e6pgl",
        status_code=200,
        latency_s=0.42,
        attempts=1,
        **kwargs,
    )


def test_usage_details_only_when_reported() -> None:
    assert usage_to_metadata(Usage(3, 4, 7)) == {
        "input_tokens": 3,
        "output_tokens": 4,
        "total_tokens": 7,
    }
    assert usage_to_metadata(Usage(30, 40, 70, reasoning_tokens=25, cached_tokens=16)) == {
        "input_tokens": 30,
        "output_tokens": 40,
        "total_tokens": 70,
        "input_token_details": {"cache_read": 16},
        "output_token_details": {"reasoning": 25},
    }


def test_chat_result_maps_everything() -> None:
    completion = ChatCompletion(
        id="chatcmpl-1",
        model="provider/model-id",
        created=1,
        choices=[
            Choice(
                0,
                CoreMessage(
                    content="Sure.",
                    reasoning="Thinking.",
                    tool_calls=[
                        ToolCall("call_a", FunctionCall("add", '{"a": 1}')),
                        ToolCall("call_b", FunctionCall("add", "[1, 2]")),
                    ],
                ),
                "tool_calls",
            ),
            Choice(1, CoreMessage(content="Other."), "stop"),
        ],
        usage=Usage(5, 6, 11),
        meta=_meta(
            rate_limit=RateLimitInfo(limit_requests=60, remaining_requests=59, raw={"x": "y"})
        ),
    )
    result = chat_result(completion, model_name="org/model")
    assert len(result.generations) == 2
    message = result.generations[0].message
    assert isinstance(message, AIMessage)
    assert message.content == "Sure."
    assert message.additional_kwargs == {"reasoning_content": "Thinking."}
    assert message.tool_calls == [
        {"name": "add", "args": {"a": 1}, "id": "call_a", "type": "tool_call"}
    ]
    assert [c["id"] for c in message.invalid_tool_calls] == ["call_b"]
    assert message.usage_metadata == {"input_tokens": 5, "output_tokens": 6, "total_tokens": 11}
    assert message.id == "chatcmpl-1"
    assert message.response_metadata == {
        "model_name": "org/model",
        "model_provider": "huggingface",
        "id": "chatcmpl-1",
        "served_model": "provider/model-id",
        "inference_provider": "together",
        "request_id": "TtpPGx80uP3e6pgl",
        "rate_limit": {"limit_requests": 60, "remaining_requests": 59},
        "attempts": 1,
        "latency_s": 0.42,
        "finish_reason": "tool_calls",
    }
    assert result.generations[1].message.content == "Other."
    assert result.llm_output is not None
    assert result.llm_output["token_usage"] == {
        "prompt_tokens": 5,
        "completion_tokens": 6,
        "total_tokens": 11,
    }


def _chunk(
    delta: ChoiceDelta | None, finish: str | None = None, usage: Usage | None = None
) -> ChatCompletionChunk:
    choices = [] if delta is None else [ChunkChoice(0, delta, finish)]
    return ChatCompletionChunk("chatcmpl-1", "m", 1, choices, usage)


def test_generation_chunks() -> None:
    assert generation_chunk(_chunk(None, usage=Usage(1, 2, 3))) is None  # usage: final_chunk's job
    assert generation_chunk(_chunk(ChoiceDelta(role="assistant"))) is None  # adds nothing
    text = generation_chunk(_chunk(ChoiceDelta(content="Hel")))
    assert text is not None
    assert text.message.content == "Hel"
    assert text.message.response_metadata == {"model_provider": "huggingface"}
    reasoning = generation_chunk(_chunk(ChoiceDelta(reasoning="hmm")))
    assert reasoning is not None
    assert reasoning.message.additional_kwargs == {"reasoning_content": "hmm"}
    call = generation_chunk(
        _chunk(
            ChoiceDelta(tool_calls=[ToolCallDelta(1, FunctionDelta("add", '{"a"'), "call_x")]),
            finish="tool_calls",
        )
    )
    assert call is not None
    assert isinstance(call.message, AIMessageChunk)
    assert call.message.tool_call_chunks == [
        {"name": "add", "args": '{"a"', "id": "call_x", "index": 1, "type": "tool_call_chunk"}
    ]
    assert call.generation_info == {"finish_reason": "tool_calls"}


def _model_state(obj: Any) -> tuple[Any, ...]:
    return (
        type(obj),
        list(obj.__dict__.items()),
        obj.model_fields_set,
        obj.__pydantic_extra__,
        obj.__pydantic_private__,
    )


@pytest.mark.parametrize(("content", "response_id"), [("Hel", "chatcmpl-1"), ("é 🙂\n", None)])
def test_text_chunks_equal_validated_ones(content: str, response_id: str | None) -> None:
    # Text-only chunks skip pydantic validation: they must be indistinguishable from validated.
    fast = text_chunk(content, response_id)
    slow = _validated_text_chunk(content, response_id)
    assert _convert._text_chunks is not None
    assert _convert._text_chunks.enabled
    assert _model_state(fast) == _model_state(slow)
    assert _model_state(fast.message) == _model_state(slow.message)
    assert fast == slow
    assert fast.model_dump() == slow.model_dump()
    assert fast.message.model_dump_json() == slow.message.model_dump_json()
    via_stream = generation_chunk(_chunk(ChoiceDelta(content=content)))
    assert via_stream is not None
    assert via_stream.message.content == content


def test_text_chunks_own_their_containers() -> None:
    # Chunks are filled from a template: LangChain mutates chunks, so nothing may be shared.
    first, second = text_chunk("a", "id"), text_chunk("b", "id")
    first.message.additional_kwargs["x"] = 1
    first.message.response_metadata["y"] = 2
    first.message.tool_call_chunks.append({"name": "f", "args": "", "id": None, "index": 0})
    first.message.model_fields_set.add("name")
    assert second.message.additional_kwargs == {}
    assert second.message.response_metadata == {"model_provider": "huggingface"}
    assert second.message.tool_call_chunks == []
    assert "name" not in second.message.model_fields_set
    merged = text_chunk("Hel", "id") + text_chunk("lo", "id")
    assert merged.message.content == "Hello"
    assert merged.text == "Hello"
    second.message.id = "run-1"  # what LangChain's stream() does: an ordinary model still
    assert second.message.id == "run-1"


def test_text_chunks_fall_back_to_validation_when_the_models_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A langchain-core whose message holds a container the template does not renew: validate.
    monkeypatch.setattr(_convert, "_MESSAGE_CONTAINERS", frozenset({"additional_kwargs"}))
    monkeypatch.setattr(_convert, "_text_chunks", None)
    chunk = text_chunk("Hel", "id")
    assert _convert._text_chunks is not None
    assert not _convert._text_chunks.enabled
    assert _model_state(chunk.message) == _model_state(_validated_text_chunk("Hel", "id").message)


def test_v1_tool_call_chunks_do_not_collide_with_text_blocks() -> None:
    chunk = AIMessageChunk(
        content="",
        tool_call_chunks=[
            {"name": "f", "args": "{}", "id": "c", "index": 0, "type": "tool_call_chunk"}
        ],
    )
    [block] = translate_content_chunk(chunk)
    assert block["type"] == "tool_call_chunk"
    assert block["index"] == "lc_tc_0"


# -- token estimates -----------------------------------------------------------------------------


def test_token_estimates() -> None:
    assert estimate_tokens("") == 0
    english = "The quick brown fox jumps over the lazy dog. " * 20
    assert 180 <= estimate_tokens(english) <= 260  # ~225 with BPE vocabularies
    assert 8 <= estimate_tokens("你好啊集团，欢迎光临") <= 14  # ~1 token per CJK character


def test_message_estimate_counts_images_flat() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 200_000}}
    message = {"role": "user", "content": [{"type": "text", "text": "What is this?"}, image]}
    assert estimate_message_tokens(message, estimate_tokens) < 300
