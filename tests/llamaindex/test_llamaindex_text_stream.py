"""The short way for streamed text: the same responses as the general path, field for field.

Text-only chunks are answered from `stream.text_only()` and objects filled from validated
templates (`_prebuilt`); everything else goes the general way. Every streamed chat cassette of
the corpus (reasoning fields, inline `<think>` and lone `</think>`, tool calls, logprobs, usage,
finish-only chunks) is replayed, and each chunk's response is compared with the general path's.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, TextBlock

from hfproviders import HFClient
from llamaindex_hfproviders import _convert, _prebuilt
from tests.test_wire_corpus import CASES, Case, call_of, read_chat, replay


def state(obj: Any) -> Any:
    """Everything pydantic keeps for an object, nested models included, in field order."""
    if isinstance(obj, list):
        return [state(item) for item in obj]
    if not hasattr(obj, "__pydantic_fields_set__"):
        return obj
    return (
        type(obj),
        [(name, state(value)) for name, value in obj.__dict__.items()],
        obj.model_fields_set,
        obj.__pydantic_extra__,
        obj.__pydantic_private__,
    )


STREAMED = [
    case
    for case in CASES["chat"]
    if read_chat(case, call_of(case)[0]).error_status is None
    and ("event-stream" in case.headers.get("content-type", "") or "data:" in case.body[:20])
]


@pytest.mark.parametrize("case", STREAMED, ids=[c.id for c in STREAMED])
def test_streamed_responses_equal_the_general_path(case: Case) -> None:
    model, messages, params, options = call_of(case)
    http = httpx.Client(transport=replay(case))
    with HFClient(http_client=http, **options) as client:
        stream = client.stream(model, messages, **params)
        with stream:
            for position, chunk in enumerate(stream):
                where = f"{case.id} chunk {position}"
                snapshot, meta = stream.completion, stream.meta
                fast = _convert.streamed_chat_response(chunk, stream)
                slow = _convert.stream_chat_response(chunk, snapshot, meta)
                assert state(fast) == state(slow), where
                assert fast == slow, where
                fast_text = _convert.streamed_completion_response(chunk, stream)
                slow_text = _convert.stream_completion_response(chunk, snapshot, meta)
                assert state(fast_text) == state(slow_text), where


def test_the_corpus_takes_the_short_way_and_the_general_one() -> None:
    # Both paths are exercised above: plain text chunks, and chunks or answers that are not.
    taken = {"short": 0, "general": 0}
    for case in STREAMED:
        model, messages, params, options = call_of(case)
        client = HFClient(http_client=httpx.Client(transport=replay(case)), **options)
        with client, client.stream(model, messages, **params) as stream:
            for chunk in stream:
                plain = _convert._text_piece(chunk) is not None
                short = plain and stream.text_only() is not None
                taken["short" if short else "general"] += 1
    assert taken["short"] > 100
    assert taken["general"] > 100


def test_text_responses_equal_validated_ones() -> None:
    kwargs = {"provider": "together", "request_id": "r1"}
    fast = _prebuilt.text_chat_response("Hello wor", "wor", {"id": "c"}, dict(kwargs))
    slow = ChatResponse(
        message=ChatMessage(role="assistant", blocks=[TextBlock(text="Hello wor")]),
        delta="wor",
        raw={"id": "c"},
        logprobs=None,
        additional_kwargs=dict(kwargs),
    )
    assert _prebuilt._templates is not None
    assert _prebuilt._templates.enabled
    assert fast == slow
    assert fast.message.content == "Hello wor"
    assert fast.model_dump() == slow.model_dump()
    assert fast.model_dump_json() == slow.model_dump_json()
    assert ChatResponse.model_validate(fast.model_dump()) == fast  # round-trips like any other


def test_text_responses_own_their_containers() -> None:
    # LlamaIndex code edits responses (keep_first_tool_call, memory stores): nothing is shared.
    first = _prebuilt.text_chat_response("a", "a", {}, {})
    second = _prebuilt.text_chat_response("b", "b", {}, {})
    first.message.blocks.append(TextBlock(text="x"))
    first.message.additional_kwargs["tool_calls"] = []
    first.message.blocks[0].text = "changed"
    first.model_fields_set.discard("raw")
    assert [b.text for b in second.message.blocks if isinstance(b, TextBlock)] == ["b"]
    assert second.message.additional_kwargs == {}
    assert "raw" in second.model_fields_set
    second.message.content = "replaced"  # the legacy setter works on them like on any message
    assert second.message.content == "replaced"


def test_text_responses_fall_back_to_validation_when_the_models_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A llama-index-core whose models hold a container the templates do not renew: validate.
    monkeypatch.setattr(_prebuilt._Templates, "renewed", frozenset({"raw"}))
    monkeypatch.setattr(_prebuilt, "_templates", None)
    response = _prebuilt.text_chat_response("Hi", "Hi", {}, {"provider": None})
    completion = _prebuilt.text_completion_response("Hi", "Hi", {}, {})
    assert _prebuilt._templates is not None
    assert not _prebuilt._templates.enabled
    assert response == _prebuilt._validated_chat("Hi", "Hi", {}, {"provider": None})
    assert completion == _prebuilt._validated_completion("Hi", "Hi", {}, {})
