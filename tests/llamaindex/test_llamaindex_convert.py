"""Unit tests of the pure converters in llamaindex_hfproviders._convert (no HTTP)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    CacheControl,
    CachePoint,
    ChatMessage,
    ChatResponse,
    DocumentBlock,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.tools import FunctionTool, ToolMetadata
from pydantic import BaseModel

from hfproviders import (
    ChatCompletion,
    ChatCompletionChunk,
    ChoiceDelta,
    ChunkChoice,
    FunctionCall,
    ResponseMeta,
    ToolCall,
    Usage,
)
from hfproviders import ChatMessage as CoreMessage
from hfproviders import Choice as CoreChoice
from llamaindex_hfproviders import _convert

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


# -- outgoing messages


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (MessageRole.SYSTEM, "system"),
        (MessageRole.DEVELOPER, "system"),
        (MessageRole.USER, "user"),
        (MessageRole.ASSISTANT, "assistant"),
        (MessageRole.CHATBOT, "assistant"),
        (MessageRole.MODEL, "assistant"),
    ],
)
def test_roles(role: MessageRole, expected: str) -> None:
    assert _convert.to_openai_message(ChatMessage(role=role, content="x"))["role"] == expected


def test_text_blocks_become_one_string() -> None:
    message = ChatMessage(role="user", blocks=[TextBlock(text="a"), TextBlock(text="b")])
    assert _convert.to_openai_message(message) == {"role": "user", "content": "a\nb"}


def test_images_become_content_parts() -> None:
    message = ChatMessage(
        role="user",
        blocks=[
            TextBlock(text="What is this?"),
            ImageBlock(url="https://example.com/cat.png", detail="low"),
            ImageBlock(image=PNG_1PX, image_mimetype="image/png"),
        ],
    )
    text, remote, inline = _convert.to_openai_message(message)["content"]
    assert text == {"type": "text", "text": "What is this?"}
    assert remote == {
        "type": "image_url",
        "image_url": {"url": "https://example.com/cat.png", "detail": "low"},
    }
    assert inline["image_url"]["url"].startswith("data:image/png;base64,")


def test_thinking_and_cache_points_are_not_sent() -> None:
    message = ChatMessage(
        role="assistant",
        blocks=[
            ThinkingBlock(content="hmm"),
            CachePoint(cache_control=CacheControl(type="ephemeral")),
            TextBlock(text="4"),
        ],
    )
    assert _convert.to_openai_message(message) == {"role": "assistant", "content": "4"}


def test_unsupported_blocks_fail_clearly() -> None:
    message = ChatMessage(role="user", blocks=[DocumentBlock(data=b"%PDF-1.4")])
    with pytest.raises(ValueError, match="DocumentBlock is not supported"):
        _convert.to_openai_message(message)


def test_assistant_tool_calls_travel_with_string_arguments() -> None:
    message = ChatMessage(
        role="assistant",
        blocks=[
            ToolCallBlock(tool_call_id="call_1", tool_name="add", tool_kwargs={"a": 1, "b": 2}),
            ToolCallBlock(tool_call_id="call_2", tool_name="noop", tool_kwargs=""),
        ],
    )
    out = _convert.to_openai_message(message)
    assert out["content"] == ""
    assert out["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'},
        },
        {"id": "call_2", "type": "function", "function": {"name": "noop", "arguments": "{}"}},
    ]


def test_legacy_tool_calls_in_additional_kwargs() -> None:
    sdk_style = SimpleNamespace(
        id="call_9", function=SimpleNamespace(name="mul", arguments='{"a": 2}')
    )
    dict_style = {"id": "call_8", "function": {"name": "add", "arguments": {"a": 1}}}
    message = ChatMessage(
        role="assistant", content=None, additional_kwargs={"tool_calls": [sdk_style, dict_style]}
    )
    calls = _convert.to_openai_message(message)["tool_calls"]
    assert [(c["id"], c["function"]["arguments"]) for c in calls] == [
        ("call_9", '{"a": 2}'),
        ("call_8", '{"a": 1}'),
    ]


def test_tool_results_keep_their_call_id() -> None:
    message = ChatMessage(role="tool", content="12", additional_kwargs={"tool_call_id": "call_1"})
    assert _convert.to_openai_message(message) == {
        "role": "tool",
        "content": "12",
        "tool_call_id": "call_1",
    }


# -- request parameters


@pytest.mark.parametrize(
    ("choice", "required", "expected"),
    [
        (None, False, "auto"),
        (None, True, "required"),
        ("none", True, "none"),
        ("auto", False, "auto"),
        ("multiply", False, {"type": "function", "function": {"name": "multiply"}}),
        (
            {"type": "function", "function": {"name": "x"}},
            False,
            {"type": "function", "function": {"name": "x"}},
        ),
    ],
)
def test_tool_choice(choice: Any, required: bool, expected: Any) -> None:
    assert _convert.tool_choice_param(choice, required) == expected


def test_chat_params_merge_and_drop_unset() -> None:
    params = _convert.chat_params(
        {"temperature": 0.0, "max_tokens": None},
        {"seed": 1, "top_p": 0.5},
        {"top_p": 0.9, "stop": None},
    )
    assert params == {"temperature": 0.0, "seed": 1, "top_p": 0.9}


def test_chat_params_never_send_tool_choice_without_tools() -> None:
    params = _convert.chat_params(
        {}, {}, {"tools": None, "tool_choice": "required", "parallel_tool_calls": False}
    )
    assert params == {}
    tools = [{"type": "function", "function": {"name": "f"}}]
    kept = _convert.chat_params({}, {}, {"tools": tools, "tool_choice": "required"})
    assert kept["tool_choice"] == "required"


def test_text_generation_params_use_tgi_names() -> None:
    params = _convert.text_generation_params({"temperature": 0.2, "max_tokens": 32}, {"top_k": 5})
    assert params == {"temperature": 0.2, "max_new_tokens": 32, "top_k": 5}


class Recipe(BaseModel):
    """A dish."""

    title: str


def test_json_schema_response_format() -> None:
    fmt = _convert.json_schema_response_format(Recipe)
    assert fmt == {
        "type": "json_schema",
        "json_schema": {"name": "Recipe", "schema": Recipe.model_json_schema()},
    }


@pytest.mark.parametrize(
    "content", ['{"title": "Soup"}', '```json\n{"title": "Soup"}\n```', '  {"title": "Soup"}\n']
)
def test_parse_structured_content(content: str) -> None:
    assert _convert.parse_structured_content(content, Recipe) == Recipe(title="Soup")


# -- tool selections


def response_with(*blocks: Any, **kwargs: Any) -> ChatResponse:
    return ChatResponse(
        message=ChatMessage(role="assistant", blocks=list(blocks), additional_kwargs=kwargs)
    )


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"a": 1}, {"a": 1}),
        ('{"a": 1}', {"a": 1}),
        ('{"a": 1, "b": "tw', {"a": 1, "b": "tw"}),  # partial JSON while streaming
        ("", {}),
        ("[1, 2]", {}),
        ("not json at all", {}),
    ],
)
def test_tool_selections_parse_arguments(arguments: Any, expected: dict[str, Any]) -> None:
    block = ToolCallBlock(tool_call_id="call_1", tool_name="f", tool_kwargs=arguments)
    streamed = response_with(block)
    streamed.delta = ""  # a streamed response: arguments may still be growing
    (selection,) = _convert.tool_selections(streamed, error_on_no_tool_call=True)
    assert (selection.tool_id, selection.tool_name, selection.tool_kwargs) == (
        "call_1",
        "f",
        expected,
    )


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [({"a": 1}, {"a": 1}), ('{"a": 1}', {"a": 1}), ("", {})],
)
def test_finished_tool_call_arguments_read_strictly(
    arguments: Any, expected: dict[str, Any]
) -> None:
    block = ToolCallBlock(tool_call_id="call_1", tool_name="f", tool_kwargs=arguments)
    (selection,) = _convert.tool_selections(response_with(block), error_on_no_tool_call=True)
    assert selection.tool_kwargs == expected


@pytest.mark.parametrize("arguments", ['{"a": 1, "b": "tw', "[1, 2]", "not json at all"])
def test_finished_tool_call_with_invalid_arguments_raises(arguments: str) -> None:
    block = ToolCallBlock(tool_call_id="call_1", tool_name="f", tool_kwargs=arguments)
    with pytest.raises(_convert.InvalidToolArgumentsError, match="'f'") as caught:
        _convert.tool_selections(response_with(block), error_on_no_tool_call=True)
    assert isinstance(caught.value, ValueError)


def test_tool_selections_from_additional_kwargs() -> None:
    legacy = [{"id": "call_7", "function": {"name": "g", "arguments": '{"x": 1}'}}]
    response = response_with(TextBlock(text=""), tool_calls=legacy)
    (selection,) = _convert.tool_selections(response, error_on_no_tool_call=True)
    assert (selection.tool_id, selection.tool_kwargs) == ("call_7", {"x": 1})


def test_no_tool_call() -> None:
    response = response_with(TextBlock(text="hi"))
    assert _convert.tool_selections(response, error_on_no_tool_call=False) == []
    with pytest.raises(ValueError, match="at least one tool call"):
        _convert.tool_selections(response, error_on_no_tool_call=True)


def test_keep_first_tool_call() -> None:
    blocks = [
        ToolCallBlock(tool_call_id=f"c{i}", tool_name="f", tool_kwargs="{}") for i in range(2)
    ]
    legacy = [{"id": "c0"}, {"id": "c1"}]
    response = _convert.keep_first_tool_call(response_with(*blocks, tool_calls=legacy))
    assert [b.tool_call_id for b in response.message.blocks] == ["c0"]
    assert response.message.additional_kwargs["tool_calls"] == [{"id": "c0"}]


# -- incoming results


def completion(**message: Any) -> ChatCompletion:
    usage = Usage(prompt_tokens=5, completion_tokens=7, total_tokens=12, reasoning_tokens=3)
    return ChatCompletion(
        id="c",
        model="m",
        created=1,
        choices=[
            CoreChoice(
                index=0,
                message=CoreMessage(**message),
                finish_reason="stop",
                logprobs={
                    "content": [
                        {"token": "Hi", "logprob": -0.1, "bytes": [72, 105], "top_logprobs": []}
                    ]
                },
            )
        ],
        usage=usage,
        meta=ResponseMeta(provider="groq", request_id="r1"),
        raw={"id": "c"},
    )


def test_chat_response_blocks_usage_and_provenance() -> None:
    call = ToolCall(id="call_1", function=FunctionCall(name="f", arguments='{"a": 1}'))
    response = _convert.chat_response(
        completion(content="Hi", reasoning="think", tool_calls=[call])
    )
    thinking, text, tool = response.message.blocks
    assert isinstance(thinking, ThinkingBlock)
    assert (thinking.content, thinking.num_tokens) == ("think", 3)
    assert text == TextBlock(text="Hi")
    assert isinstance(tool, ToolCallBlock)
    assert (tool.tool_call_id, tool.tool_name, tool.tool_kwargs) == ("call_1", "f", '{"a": 1}')
    assert response.message.additional_kwargs["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    ]
    # The raw body had no usage: it is filled in for TokenCountingHandler.
    assert response.raw["usage"]["prompt_tokens"] == 5
    assert response.additional_kwargs == {
        "prompt_tokens": 5,
        "completion_tokens": 7,
        "total_tokens": 12,
        "reasoning_tokens": 3,
        "provider": "groq",
        "request_id": "r1",
        "finish_reason": "stop",
    }
    assert response.logprobs is not None
    assert response.logprobs[0][0].token == "Hi"
    json.dumps(response.message.model_dump())  # history must be serialisable by memory stores


def test_tool_only_answer_has_no_empty_text_block() -> None:
    call = ToolCall(id="call_1", function=FunctionCall(name="f", arguments="{}"))
    response = _convert.chat_response(completion(content=None, tool_calls=[call]))
    assert [type(b) for b in response.message.blocks] == [ToolCallBlock]


def test_stream_response_before_anything_accumulated() -> None:
    chunk = ChatCompletionChunk(
        id="c",
        model="m",
        created=1,
        choices=[ChunkChoice(index=0, delta=ChoiceDelta(role="assistant"))],
    )
    response = _convert.stream_chat_response(chunk, None, None)
    assert response.message.content == ""
    assert response.delta == ""
    assert response.additional_kwargs == {"provider": None, "request_id": None}


def test_tool_specs_are_rendered_once_per_schema_and_copied() -> None:
    def get_weather(city: str, unit: str = "celsius") -> str:
        """Get the weather in a city."""
        return city

    tool = FunctionTool.from_defaults(fn=get_weather)
    first, second = _convert.tool_specs([tool]), _convert.tool_specs([tool])
    assert first == second == [tool.metadata.to_openai_tool(skip_length_check=True)]
    first[0]["function"]["parameters"]["properties"]["city"]["type"] = "integer"
    assert _convert.tool_specs([tool]) == second  # a caller's edit never reaches the next call
    assert second[0]["function"]["parameters"]["properties"]["city"]["type"] == "string"
    tool.metadata.description = "Get the weather in any city."  # a changed tool is re-rendered
    assert _convert.tool_specs([tool])[0]["function"]["description"] == tool.metadata.description


def test_tool_specs_of_custom_metadata_are_rendered_by_it() -> None:
    class Metadata(ToolMetadata):
        def to_openai_tool(self, skip_length_check: bool = False) -> dict[str, Any]:
            return {"type": "function", "function": {"name": "custom", "parameters": {}}}

    tool = SimpleNamespace(metadata=Metadata(description="d", name="n"))
    assert _convert.tool_specs([tool])[0]["function"]["name"] == "custom"  # type: ignore[list-item]
