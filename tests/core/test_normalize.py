"""Provider quirks (WIRE.md §4–5) are normalised once, in the core."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hfproviders import ChunkAccumulator, ResponseMeta, parse_partial_json
from hfproviders._normalize import (
    ChatReading,
    StreamNormalizer,
    ThinkSplitter,
    completion_to_chunks,
    parse_chat_completion,
    split_think,
)
from tests.core.conftest import completion


def parse(data: dict[str, Any], *args: Any) -> Any:
    return parse_chat_completion(data, ResponseMeta(), *args)


def run_stream(events: list[dict[str, Any]], template_opens: bool = False) -> tuple[list[Any], Any]:
    normalizer = StreamNormalizer(ChatReading(template_opens_think=template_opens))
    chunks = [c for e in events for c in normalizer.feed(e)]
    chunks += normalizer.finish()
    for c in chunks:
        normalizer.deliver(c)
    return chunks, normalizer.accumulator.result()


def ev(
    delta: dict[str, Any] | None = None,
    finish: str | None = None,
    usage: dict[str, int] | None = None,
    index: int = 0,
    choices: bool = True,
) -> dict[str, Any]:
    event: dict[str, Any] = {"id": "c1", "model": "m", "created": 1}
    event["choices"] = (
        [{"index": index, "delta": delta or {}, "finish_reason": finish}] if choices else []
    )
    if usage is not None:
        event["usage"] = usage
    return event


USAGE = {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}


# --- non-stream ------------------------------------------------------------------------------


def test_tgi_dict_arguments_and_integer_id() -> None:
    data = completion(
        None,
        "eos_token",
        tool_calls=[
            {
                "id": 0,
                "type": "function",
                "function": {
                    "description": None,
                    "name": "get_weather",
                    "arguments": {"location": "Paris", "unit": "c"},
                },
            }
        ],
    )
    result = parse(data)
    call = result.choices[0].message.tool_calls[0]
    assert json.loads(call.function.arguments) == {"location": "Paris", "unit": "c"}
    assert isinstance(call.function.arguments, str)
    assert call.id.startswith("call_") and call.id != "0"
    assert result.choices[0].finish_reason == "tool_calls"
    assert parse(data).choices[0].message.tool_calls[0].id == call.id  # stable


def test_old_tgi_parameters_field_and_missing_arguments() -> None:
    data = completion(
        None,
        "stop",
        tool_calls=[
            {"id": "call_a", "function": {"name": "f", "parameters": {"x": 1}}},
            {"id": "call_a", "function": {"name": "g"}},
        ],
    )
    calls = parse(data).choices[0].message.tool_calls
    assert calls[0].function.parsed_arguments() == {"x": 1}
    assert calls[1].function.arguments == "{}"
    assert calls[0].id == "call_a" and calls[1].id != "call_a"  # repeated ids made unique


def test_stop_with_tool_calls_becomes_tool_calls() -> None:
    data = completion(
        "", "stop", tool_calls=[{"id": "call_1", "function": {"name": "f", "arguments": "{}"}}]
    )
    assert parse(data).choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize(
    ("message", "reasoning", "content"),
    [
        ({"content": "<think>Let me see.</think>\n\nParis."}, "Let me see.", "Paris."),
        ({"content": "Let me see.\n</think>\n\nParis."}, "Let me see.", "Paris."),
        ({"content": "<think>cut short by max_tokens"}, "cut short by max_tokens", ""),
        ({"content": "Paris.", "reasoning_content": "Capital."}, "Capital.", "Paris."),
        ({"content": "Paris.", "reasoning": "Capital."}, "Capital.", "Paris."),
        ({"content": "<think>a</think>b", "reasoning": None}, "a", "b"),
        ({"content": "No tags, 2 < 3."}, None, "No tags, 2 < 3."),
    ],
)
def test_reasoning_forms(message: dict[str, Any], reasoning: str | None, content: str) -> None:
    result = parse(completion(**message))
    assert result.choices[0].message.reasoning == reasoning
    assert result.choices[0].message.content == content


def test_usage_details() -> None:
    data = completion("x")
    data["usage"] = {
        "prompt_tokens": 10,
        "completion_tokens": 20,
        "total_tokens": 30,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 15},
    }
    usage = parse(data).usage
    assert usage is not None
    assert (usage.cached_tokens, usage.reasoning_tokens, usage.total_tokens) == (4, 15, 30)


def test_tool_call_sent_as_text_under_required_is_recovered() -> None:
    data = completion('[{"name": "get_weather", "parameters": {"city": "Paris"}}]')
    result = parse(data, ChatReading(tool_names=frozenset({"get_weather"})))
    call = result.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and call.function.parsed_arguments() == {
        "city": "Paris"
    }
    assert result.choices[0].message.content is None
    assert result.choices[0].finish_reason == "tool_calls"
    assert parse(data).choices[0].message.tool_calls == []  # not without tools in the request


# --- stream ----------------------------------------------------------------------------------


def test_tgi_fragments_with_repeated_id_zero() -> None:
    events = [
        ev(
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "0",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"lo'},
                    }
                ],
            }
        ),
        ev(
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "0",
                        "type": "function",
                        "function": {"name": None, "arguments": 'cation": "Paris"}'},
                    }
                ],
            }
        ),
        ev({}, "stop"),
    ]
    chunks, result = run_stream(events)
    deltas = [d for c in chunks for ch in c.choices for d in ch.delta.tool_calls]
    assert (
        deltas[0].id
        and deltas[0].id.startswith("call_")
        and deltas[0].function.name == "get_weather"
    )
    assert deltas[1].id is None and deltas[1].function.name is None
    assert {d.index for d in deltas} == {0}
    call = result.choices[0].message.tool_calls[0]
    assert call.function.parsed_arguments() == {"location": "Paris"}
    assert result.choices[0].finish_reason == "tool_calls"


def test_together_index_minus_one_full_arguments() -> None:
    events = [
        ev(
            {
                "tool_calls": [
                    {
                        "index": -1,
                        "id": "call_x1",
                        "type": "function",
                        "function": {"name": "a", "arguments": '{"q": 1}'},
                    }
                ]
            }
        ),
        ev(
            {
                "tool_calls": [
                    {
                        "index": -1,
                        "id": "call_x2",
                        "type": "function",
                        "function": {"name": "b", "arguments": "{}"},
                    }
                ]
            },
            "tool_calls",
        ),
    ]
    chunks, result = run_stream(events)
    deltas = [d for c in chunks for ch in c.choices for d in ch.delta.tool_calls]
    assert [(d.index, d.id) for d in deltas] == [(0, "call_x1"), (1, "call_x2")]
    assert [c.function.name for c in result.choices[0].message.tool_calls] == ["a", "b"]


def test_nebius_call_without_id_and_no_finish_reason() -> None:
    events = [ev({"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": "{}"}}]})]
    chunks, result = run_stream(events)
    first = chunks[0].choices[0].delta.tool_calls[0]
    assert first.id and first.id.startswith("call_")
    assert chunks[-1].choices[0].finish_reason == "tool_calls"  # inferred at the end
    assert result.choices[0].message.tool_calls[0].id == first.id


def test_usage_in_every_chunk_is_emitted_once_at_the_end() -> None:
    events = [
        ev({"content": "a"}, usage={"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}),
        ev({"content": "b"}, usage={"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}),
        ev({}, "stop", usage={"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}),
    ]
    chunks, result = run_stream(events)
    with_usage = [c for c in chunks if c.usage is not None]
    assert len(with_usage) == 1 and with_usage[0] is chunks[-1] and chunks[-1].choices == []
    assert with_usage[0].usage.completion_tokens == 3
    assert result.usage.total_tokens == 8


def test_final_usage_chunk_is_kept_once() -> None:
    events = [ev({"content": "hi"}), ev({}, "stop"), ev(choices=False, usage=USAGE)]
    chunks, result = run_stream(events)
    assert [c.usage.total_tokens for c in chunks if c.usage] == [12]
    assert result.usage.total_tokens == 12 and result.choices[0].finish_reason == "stop"


def test_reasoning_fields_in_deltas() -> None:
    events = [
        ev({"reasoning_content": "think "}),
        ev({"reasoning": "more"}),
        ev({"content": "42"}, "stop"),
    ]
    chunks, result = run_stream(events)
    assert result.choices[0].message.reasoning == "think more"
    assert result.choices[0].message.content == "42"
    assert all(not (ch.delta.content or "").startswith("think") for c in chunks for ch in c.choices)


THINK_STREAMS = {
    "open-and-close": ("<think>I should say hi.</think>\n\nHello!", "I should say hi.", "Hello!"),
    "only-close": ("I should say hi.\n</think>\n\nHello!", "I should say hi.", "Hello!"),
    "no-tags": ("Hello, 1 < 2 and <b>ok</b>!", None, "Hello, 1 < 2 and <b>ok</b>!"),
    "leading-space": ("  <think>x</think>y", "x", "y"),
}


@pytest.mark.parametrize("name", sorted(THINK_STREAMS))
def test_inline_think_split_at_every_offset(name: str) -> None:
    text, reasoning, answer = THINK_STREAMS[name]
    for cut in range(len(text) + 1):
        pieces = [p for p in (text[:cut], text[cut:]) if p]
        _, result = run_stream([ev({"content": p}) for p in pieces] + [ev({}, "stop")])
        message = result.choices[0].message
        assert (message.reasoning, message.content) == (reasoning, answer), f"cut at {cut}"
    assert split_think(text) == (reasoning, answer)  # the non-streamed split agrees


def test_template_opened_think_streams_reasoning_from_the_start() -> None:
    chunks, result = run_stream(
        [ev({"content": "Hmm, "}), ev({"content": "ok.</think>"}), ev({"content": "Yes."}, "stop")],
        template_opens=True,
    )
    streamed_reasoning = "".join(ch.delta.reasoning or "" for c in chunks for ch in c.choices)
    assert streamed_reasoning == "Hmm, ok."
    assert result.choices[0].message.content == "Yes."


def test_splitter_holds_back_a_split_tag() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("<thi") == (None, None)
    assert splitter.feed("nk>abc</th") == ("abc", None)
    assert splitter.feed("ink>done") == (None, "done")


def test_split_think_function() -> None:
    assert split_think("<think>r</think> a") == ("r", "a")
    assert split_think("plain") == (None, "plain")


def test_accumulator_merges_and_replays() -> None:
    chunks, result = run_stream(
        [
            ev({"role": "assistant", "content": "Hel"}),
            ev({"content": "lo"}, "stop"),
            ev(choices=False, usage=USAGE),
        ]
    )
    acc = ChunkAccumulator()
    for c in chunks:
        acc.add(c)
    merged = acc.result()
    assert merged.text == "Hello" and merged.usage.total_tokens == 12
    replay = completion_to_chunks(merged)
    assert replay[-1].usage is not None and replay[0].choices[0].delta.content == "Hello"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"city": "Par', {"city": "Par"}),
        ('{"a": [1, 2', {"a": [1, 2]}),
        ('{"a": 1, "b', {"a": 1}),
        ('{"a": 1,', {"a": 1}),
        ('{"a":', {}),
        ("", None),
        ('{"done": true}', {"done": True}),
        ('{"s": "quote \\" inside', {"s": 'quote " inside'}),
    ],
)
def test_parse_partial_json(text: str, expected: Any) -> None:
    assert parse_partial_json(text) == expected


def test_template_opened_think_still_drops_a_literal_open_tag() -> None:
    splitter = ThinkSplitter(template_opens=True)
    pieces = ["<thi", "nk>\nTwo plus two", " is four.\n</th", "ink>\n\nThe answer"]
    out = [splitter.feed(p) for p in pieces]
    reasoning = "".join(r or "" for r, _ in out)
    answer = "".join(a or "" for _, a in out)
    assert reasoning == "Two plus two is four." and answer == "The answer"


def test_odd_usage_values_are_tolerated() -> None:
    from hfproviders._normalize import parse_usage

    usage = parse_usage({"prompt_tokens": "", "completion_tokens": [1], "total_tokens": "7"})
    assert usage is not None and (
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.total_tokens,
    ) == (0, 0, 7)
