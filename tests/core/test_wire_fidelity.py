"""Wire fidelity (issue 10): thinking models, empty streams, logprobs, old TGI numbering.

Each rule runs on both twins, streamed and not, and the two must read the same bytes the same
way. Shapes follow WIRE.md §4 and the recordings it cites (fireworks `reasoning_content`,
together/novita inline `<think>`, TGI 1.4's per-token choice index, novita's base64 `bytes`).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from hfproviders import InvalidParameterError, StreamError
from hfproviders._normalize import (
    ChatReading,
    StreamNormalizer,
    ThinkSplitter,
    normalize_logprobs,
    split_think,
    template_opens_think,
)
from hfproviders._streaming import ChatStreamDecoder
from hfproviders._types import ResponseMeta
from tests.core.conftest import USER, Harness, chunk, completion, ok_json, ok_sse, sse

R1 = "deepseek-ai/DeepSeek-R1"  # the name heuristic says its template opens <think>
LLAMA = "meta-llama/Llama-3.3-70B-Instruct"


def reasoning_and_text(chunks: list[Any]) -> tuple[str, str]:
    """What the chunks themselves say: reasoning and answer of choice 0, joined."""
    reasoning = "".join(c.choices[0].delta.reasoning or "" for c in chunks if c.choices)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return reasoning, text


async def both_ways(
    h: Harness, model: str, body: dict[str, Any], events: list[dict[str, Any]], **params: Any
) -> tuple[Any, list[Any], Any]:
    """The same answer non-streamed and streamed: (completion, chunks, merged stream view)."""
    h.queue(ok_json(body), ok_sse(sse(*events)))
    result = await h.chat(model, USER, **params)
    chunks, stream = await h.stream(model, USER, **params)
    return result, chunks, stream.completion


def message_of(result: Any) -> tuple[str | None, str | None]:
    message = result.choices[0].message
    return message.reasoning, message.content


# -- 1. thinking models ------------------------------------------------------------------------


async def test_reasoning_field_makes_content_the_answer_on_a_thinking_model(h: Harness) -> None:
    # fireworks / together with DeepSeek-R1: reasoning in its own field, the answer as content.
    body = completion("The answer is 4.", reasoning_content="2 + 2 is 4.")
    events = [
        chunk(role="assistant", reasoning_content="2 + 2"),
        chunk(reasoning_content=" is 4."),
        chunk("The answer"),
        chunk(" is 4.", "stop"),
    ]
    result, chunks, merged = await both_ways(h, R1, body, events)
    assert message_of(result) == ("2 + 2 is 4.", "The answer is 4.")
    assert message_of(merged) == message_of(result)
    assert reasoning_and_text(chunks) == ("2 + 2 is 4.", "The answer is 4.")


async def test_json_answer_under_response_format_is_never_reasoning(h: Harness) -> None:
    # Grammar-constrained JSON from a template-opened thinking model: no think block at all.
    answer = '{"city": "Paris", "country": "France"}'
    body = completion(answer)
    events = [
        chunk(role="assistant", content=""),
        chunk('{"city": "Paris", '),
        chunk('"country": "France"}', "stop"),
    ]
    fmt = {"type": "json_object"}
    result, chunks, merged = await both_ways(h, R1, body, events, response_format=fmt)
    assert message_of(result) == (None, answer)
    assert message_of(merged) == (None, answer)
    assert reasoning_and_text(chunks) == ("", answer)
    assert json.loads(merged.choices[0].message.content) == {"city": "Paris", "country": "France"}


async def test_no_closing_tag_by_the_end_chunks_merged_and_non_stream_agree(h: Harness) -> None:
    # Cut by max_tokens inside the template-opened block: all of it is reasoning, everywhere.
    text = "Okay, the user asks about 2 + 2. Let me"
    body = completion(text, finish="length")
    events = [
        chunk(role="assistant", content="Okay, the user"),
        chunk(" asks about 2 + 2."),
        chunk(" Let me", "length"),
    ]
    result, chunks, merged = await both_ways(h, R1, body, events)
    assert message_of(result) == (text, "")
    assert message_of(merged) == (text, "")
    assert reasoning_and_text(chunks) == (text, "")
    assert merged.choices[0].finish_reason == result.choices[0].finish_reason == "length"


async def test_only_closing_tag_splits_the_same_streamed_and_not(h: Harness) -> None:
    text = "Okay, the user wants 2 + 2.\n</think>\n\nThe answer is 4."
    events = [
        chunk(role="assistant", content="Okay, the user"),
        chunk(" wants 2 + 2.\n</think>"),
        chunk("\n\nThe answer is 4.", "stop"),
    ]
    result, chunks, merged = await both_ways(h, LLAMA, completion(text), events)
    assert message_of(result) == ("Okay, the user wants 2 + 2.", "The answer is 4.")
    assert message_of(merged) == message_of(result)


def hub_model(chat_template: Any) -> dict[str, Any]:
    return {
        "id": "acme/Reasoner-7B-Thinking",
        "pipeline_tag": "text-generation",
        "gated": False,
        "inferenceProviderMapping": {
            "novita": {"providerId": "acme/reasoner-7b", "status": "live", "task": "conversational"}
        },
        "config": {"tokenizer_config": {"chat_template": chat_template}},
    }


QWEN3_HYBRID = (
    "{%- for message in messages %}{{- '<|im_start|>' + message.role }}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}"
    "{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}{%- endif %}"
)
R1_TEMPLATE = (
    "{% for message in messages %}{{ message['content'] }}{% endfor %}"
    "{% if add_generation_prompt %}{{'<｜Assistant｜><think>\\n'}}{% endif %}"
)


async def test_chat_template_from_the_hub_beats_the_name(h: Harness) -> None:
    # The name says "Thinking", but the template does not open the block: plain text is answer.
    model = "acme/Reasoner-7B-Thinking"
    h.queue(ok_json(hub_model(QWEN3_HYBRID)))
    h.make()
    availability = await settle(h.client.model_providers(model))
    assert availability.template_opens_think is False
    h.queue(ok_sse(sse(chunk("Hello", role="assistant"), chunk(" there!", "stop"))))
    chunks, stream = await h.stream(model, USER)
    assert message_of(stream.completion) == (None, "Hello there!")
    assert reasoning_and_text(chunks) == ("", "Hello there!")
    assert "config" in h.requests[0].url.params.get_list("expand[]")


async def test_chat_template_opening_think_routes_a_plain_name_to_reasoning(h: Harness) -> None:
    model = "acme/plain-model"
    h.queue(ok_json({**hub_model(R1_TEMPLATE), "id": model}))
    h.make()
    await settle(h.client.model_providers(model))
    h.queue(ok_json(completion("Hmm, 4.</think>Four.")))
    result = await h.chat(model, USER)
    h.queue(ok_sse(sse(chunk("Hmm, 4.", role="assistant"), chunk("</think>Four.", "stop"))))
    chunks, stream = await h.stream(model, USER)
    assert message_of(result) == message_of(stream.completion) == ("Hmm, 4.", "Four.")
    assert reasoning_and_text(chunks) == ("Hmm, 4.", "Four.")  # reasoning streamed as such


async def settle(value: Any) -> Any:
    import inspect

    return await value if inspect.isawaitable(value) else value


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (R1_TEMPLATE, True),
        (
            "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n<think>\\n' }}{%- endif %}",
            True,
        ),
        (QWEN3_HYBRID, False),
        ("{% for m in messages %}{{ m.content }}{% endfor %}", False),  # no generation prompt
        (
            [{"name": "tool_use", "template": "x"}, {"name": "default", "template": R1_TEMPLATE}],
            True,
        ),
        (None, None),
        ("", None),
        (42, None),
    ],
)
def test_template_opens_think(template: Any, expected: bool | None) -> None:
    assert template_opens_think(template) is expected


THINK_TEXTS = [
    "Okay.\n</think>\n\nFour.",
    "  <think>\n a \n</think>  b ",
    "<think>never closed ",
    "plain answer, 1 < 2",
    '  {"a": [1, 2]}',
    "\n\n",
    "x</think>",
    "<thi",
]


@pytest.mark.parametrize("text", THINK_TEXTS)
@pytest.mark.parametrize("template_opens", [False, True])
@pytest.mark.parametrize("structured", [False, True])
def test_streamed_split_equals_the_whole_split_at_every_cut(
    text: str, template_opens: bool, structured: bool
) -> None:
    expected = split_think(text, template_opens, structured)
    reading = ChatReading(template_opens_think=template_opens, structured=structured)
    for cut in range(len(text) + 1):
        for second in range(cut, len(text) + 1):
            pieces = [p for p in (text[:cut], text[cut:second], text[second:]) if p]
            normalizer = StreamNormalizer(reading)
            events = [{"choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
            chunks = [c for e in events for c in normalizer.feed(e)] + normalizer.finish()
            for c in chunks:
                normalizer.deliver(c)
            message = normalizer.accumulator.result().choices[0].message
            assert (message.reasoning, message.content or "") == (
                expected[0],
                expected[1],
            ), (pieces, template_opens, structured)


def test_reasoning_field_after_template_guess_switches_content_to_answer() -> None:
    splitter = ThinkSplitter(template_opens=True)
    splitter.separate_reasoning()
    assert splitter.feed("The answer.") == (None, "The answer.")


# -- 2. an empty stream ------------------------------------------------------------------------


async def test_done_alone_is_an_empty_finished_answer(h: Harness) -> None:
    # novita under json_object: 200, `data: [DONE]` and nothing else.
    h.queue(ok_sse(sse()))
    chunks, stream = await h.stream(LLAMA, USER, response_format={"type": "json_object"})
    assert [c.choices[0].finish_reason for c in chunks] == ["stop"]
    merged = stream.completion
    assert merged.choices[0].message.content == "" and merged.choices[0].finish_reason == "stop"
    assert merged.usage is None


async def test_a_body_with_nothing_at_all_is_still_a_stream_error(h: Harness) -> None:
    h.queue(ok_sse(b""))
    h.make(max_retries=0)
    with pytest.raises(StreamError):
        await h.stream(LLAMA, USER)


# -- 3. logprobs in provider shapes -------------------------------------------------------------


def novita_token(token: str, logprob: float, top: bool = False) -> dict[str, Any]:
    item: dict[str, Any] = {
        "token": token,
        "logprob": logprob,
        "bytes": base64.b64encode(token.encode()).decode(),
    }
    if top:
        item["top_logprobs"] = [
            {"token": token, "logprob": logprob, "bytes": base64.b64encode(token.encode()).decode()}
        ]
    return item


def test_normalize_logprobs_shapes() -> None:
    raw = {
        "content": [
            novita_token("Bon", -0.25, top=True),
            {"token": "jour", "logprob": -0.5, "bytes": None},  # bytes null, no top_logprobs
            {"token": "é", "logprob": -1, "bytes": [195, 169], "top_logprobs": []},
            {"token": "!", "logprob": "bad"},  # not a number: dropped
            "junk",
        ]
    }
    out = normalize_logprobs(raw)
    assert out is not None
    assert [(t["token"], t["logprob"], t["bytes"]) for t in out["content"]] == [
        ("Bon", -0.25, list(b"Bon")),
        ("jour", -0.5, list(b"jour")),
        ("é", -1.0, [195, 169]),
    ]
    assert out["content"][0]["top_logprobs"] == [
        {"token": "Bon", "logprob": -0.25, "bytes": list(b"Bon")}
    ]
    assert out["content"][1]["top_logprobs"] == []
    assert normalize_logprobs(None) is None and normalize_logprobs("x") is None
    assert normalize_logprobs({"content": "x"}) == {"content": None}


async def test_logprobs_normalised_streamed_and_not(h: Harness) -> None:
    body = completion("Bonjour")
    body["choices"][0]["logprobs"] = {
        "content": [novita_token("Bon", -0.1), novita_token("jour", -0.2)]
    }
    first = chunk("Bon", role="assistant")
    first["choices"][0]["logprobs"] = {"content": [novita_token("Bon", -0.1)]}
    second = chunk("jour", "stop")
    second["choices"][0]["logprobs"] = {"content": [novita_token("jour", -0.2)]}
    result, chunks, merged = await both_ways(h, LLAMA, body, [first, second], logprobs=True)
    expected = [("Bon", -0.1, list(b"Bon"), []), ("jour", -0.2, list(b"jour"), [])]

    def shape(logprobs: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [
            (t["token"], t["logprob"], t["bytes"], t["top_logprobs"]) for t in logprobs["content"]
        ]

    assert shape(result.choices[0].logprobs) == expected
    assert shape(merged.choices[0].logprobs) == expected
    assert chunks[0].choices[0].logprobs["content"][0]["bytes"] == list(b"Bon")


# -- 4. old TGI numbering ------------------------------------------------------------------------


def tgi_chunk(index: int, content: str, finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "",
        "object": "text_completion",
        "created": 1711665438,
        "model": "text-generation-inference/Mistral-7B-Instruct-v0.2-medusa",
        "system_fingerprint": "1.4.3-sha-e6bb3ff",
        "choices": [
            {
                "index": index,
                "delta": {"role": "assistant", "content": content},
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
    }


async def test_tgi_per_token_index_is_one_choice(h: Harness) -> None:
    events = [tgi_chunk(1, " The"), tgi_chunk(2, " answer"), tgi_chunk(3, " is 2", "eos_token")]
    h.queue(ok_sse(sse(*events, space=False)))
    chunks, stream = await h.stream(LLAMA, USER)
    merged = stream.completion
    assert [c.index for c in merged.choices] == [0]
    assert merged.choices[0].message.content == " The answer is 2"
    assert merged.choices[0].finish_reason == "stop"
    assert {c.choices[0].index for c in chunks if c.choices} == {0}


async def test_n_asked_keeps_the_choice_indices(h: Harness) -> None:
    events = [
        {**chunk("A"), "choices": [{"index": 0, "delta": {"content": "A"}, "finish_reason": None}]},
        {**chunk("B"), "choices": [{"index": 1, "delta": {"content": "B"}, "finish_reason": None}]},
        {
            **chunk(),
            "choices": [
                {"index": 0, "delta": {}, "finish_reason": "stop"},
                {"index": 1, "delta": {}, "finish_reason": "stop"},
            ],
        },
    ]
    h.queue(ok_sse(sse(*events)))
    _, stream = await h.stream(LLAMA, USER, n=2)
    assert [(c.index, c.message.content) for c in stream.completion.choices] == [(0, "A"), (1, "B")]


def test_decoder_single_choice_rule_is_per_reading() -> None:
    decoder = ChatStreamDecoder(ResponseMeta(), 0.0, ChatReading(single_choice=False))
    out = decoder.feed(sse(tgi_chunk(2, "x"), space=False))
    assert out[0].choices[0].index == 2  # n was asked: the index is the server's


# -- 5. request shapes real servers answered -------------------------------------------------------

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}


async def sent_both_ways(h: Harness, messages: Any, **params: Any) -> list[dict[str, Any]]:
    """Send the request non-streamed and streamed; return both bodies as sent."""
    h.queue(ok_json(completion("ok")), ok_sse(sse(chunk("ok", "stop"))))
    await h.chat(LLAMA, messages, **params)
    await h.stream(LLAMA, messages, **params)
    return [h.body(0), h.body(1)]


async def test_a_single_string_is_one_user_message(h: Harness) -> None:
    for body in await sent_both_ways(h, "Say hello in French."):
        assert body["messages"] == [{"role": "user", "content": "Say hello in French."}]


async def test_tool_choice_as_a_bare_tool_name(h: Harness) -> None:
    for body in await sent_both_ways(h, USER, tools=[WEATHER, TIME], tool_choice="get_time"):
        assert body["tool_choice"] == {"type": "function", "function": {"name": "get_time"}}


async def test_a_bare_name_that_is_no_tool_is_refused_before_sending(h: Harness) -> None:
    h.make()
    with pytest.raises(InvalidParameterError, match="name of one of the tools"):
        await h.chat(LLAMA, USER, tools=[WEATHER], tool_choice="get_time")
    assert h.requests == []


SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


async def test_json_schema_with_the_schema_inline(h: Harness) -> None:
    inline = {"type": "json_schema", "json_schema": {"name": "place", "strict": True, **SCHEMA}}
    with pytest.warns(UserWarning, match="inline"):
        bodies = await sent_both_ways(h, USER, response_format=inline)
    expected = {
        "type": "json_schema",
        "json_schema": {"name": "place", "strict": True, "schema": SCHEMA},
    }
    assert [b["response_format"] for b in bodies] == [expected, expected]


async def test_json_schema_given_one_level_up(h: Harness) -> None:
    bodies = await sent_both_ways(
        h, USER, response_format={"type": "json_schema", "schema": SCHEMA}
    )
    assert bodies[0]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"schema": SCHEMA, "name": "response"},
    }


async def test_json_schema_without_any_schema_is_still_refused(h: Harness) -> None:
    h.make()
    with pytest.raises(InvalidParameterError):
        await h.chat(
            LLAMA, USER, response_format={"type": "json_schema", "json_schema": {"name": "x"}}
        )
    assert h.requests == []


def history(*tool_messages: dict[str, Any]) -> list[dict[str, Any]]:
    calls = [
        {
            "id": "call_w",
            "type": "function",
            "function": {"name": "get_weather", "arguments": "{}"},
        },
        {"id": "call_t", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
    ]
    return [
        {"role": "user", "content": "Weather and time in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": calls},
        *tool_messages,
    ]


async def test_tool_messages_without_ids_answer_the_calls_by_name_then_order(h: Harness) -> None:
    messages = history(
        {"role": "tool", "name": "get_time", "content": "12:00"},
        {"role": "tool", "content": "sunny"},
    )
    for body in await sent_both_ways(h, messages, tools=[WEATHER, TIME]):
        assert [m.get("tool_call_id") for m in body["messages"][2:]] == ["call_t", "call_w"]
    assert "tool_call_id" not in messages[2]  # the caller's list is left alone


async def test_a_tgi_tool_message_with_no_call_to_answer_is_sent_with_a_warning(h: Harness) -> None:
    messages = [{"role": "user", "content": "Weather?"}, {"role": "tool", "content": "sunny"}]
    with pytest.warns(UserWarning, match="no tool_call_id"):
        bodies = await sent_both_ways(h, messages)
    assert bodies[0]["messages"][1] == {"role": "tool", "content": "sunny"}


async def test_a_tool_call_id_that_is_not_a_string_is_refused(h: Harness) -> None:
    h.make()
    with pytest.raises(InvalidParameterError, match="tool_call_id"):
        await h.chat(LLAMA, history({"role": "tool", "tool_call_id": 0, "content": "x"}))
    assert h.requests == []
