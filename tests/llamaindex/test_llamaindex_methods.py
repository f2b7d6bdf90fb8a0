"""The eight LLM methods (sync and async) from cassettes; settings on the wire; callbacks."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.instrumentation.events.llm import (
    LLMChatEndEvent,
    LLMChatInProgressEvent,
    LLMChatStartEvent,
    LLMCompletionEndEvent,
    LLMCompletionStartEvent,
)
from llamaindex_support import (
    FAKE_TOKEN,
    MODEL,
    CountingLimiter,
    EventLog,
    Recorded,
    SentRequests,
)

from hfproviders import InvalidParameterError
from llamaindex_hfproviders import DEFAULT_CONTEXT_WINDOW, HFProviders

pytestmark = pytest.mark.vcr
QUESTION = [ChatMessage(role="user", content="What is the capital of France?")]
USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")


def cassette(name: str) -> pytest.MarkDecorator:
    return pytest.mark.default_cassette(f"{name}.yaml")


def assert_usage(response: ChatResponse | CompletionResponse, recorded: Recorded) -> None:
    usage = recorded.usage()
    assert usage, "the cassette reports usage"
    for key in USAGE_KEYS:
        assert response.raw["usage"][key] == usage[key]
        assert response.additional_kwargs[key] == usage[key]


def assert_served_by(response: ChatResponse | CompletionResponse, recorded: Recorded) -> None:
    assert response.additional_kwargs["provider"] == recorded.header("x-inference-provider")
    assert response.additional_kwargs["request_id"] == recorded.header("x-request-id")


def assert_stream(responses: list[Any], recorded: Recorded, text_of: Any) -> None:
    """Cumulative text grows by exactly each delta; nothing is dropped; usage comes last."""
    assert len(responses) > 2
    so_far = ""
    for response in responses:
        so_far += response.delta or ""
        assert (text_of(response) or "") == so_far
    assert so_far == recorded.text()
    assert_usage(responses[-1], recorded)
    assert_served_by(responses[-1], recorded)


# -- chat


@cassette("chat")
def test_chat(make_llm: Any, sent: SentRequests, recorded: Recorded) -> None:
    response = make_llm(capture=True).chat(QUESTION)
    assert sent.bodies == [recorded.request_body()]  # the cassette holds what is really sent
    assert response.message.role == "assistant"
    assert response.message.content == recorded.text()
    assert_usage(response, recorded)
    assert_served_by(response, recorded)


@cassette("chat")
async def test_achat(make_llm: Any, recorded: Recorded) -> None:
    response = await make_llm().achat(QUESTION)
    assert response.message.content == recorded.text()
    assert_usage(response, recorded)
    assert_served_by(response, recorded)


@cassette("chat_stream")
def test_stream_chat(make_llm: Any, recorded: Recorded) -> None:
    responses = list(make_llm().stream_chat(QUESTION))
    assert_stream(responses, recorded, lambda r: r.message.content)


@cassette("chat_stream")
async def test_astream_chat_keeps_the_final_chunks_text(make_llm: Any, recorded: Recorded) -> None:
    responses = [r async for r in await make_llm().astream_chat(QUESTION)]
    assert_stream(responses, recorded, lambda r: r.message.content)


# -- completion (chat API)


@cassette("complete")
def test_complete(make_llm: Any, sent: SentRequests, recorded: Recorded) -> None:
    response = make_llm(capture=True).complete("Say hello.")
    assert sent.bodies == [recorded.request_body()]
    assert response.text == recorded.text()
    assert_usage(response, recorded)
    assert_served_by(response, recorded)


@cassette("complete")
async def test_acomplete(make_llm: Any, recorded: Recorded) -> None:
    response = await make_llm().acomplete("Say hello.")
    assert response.text == recorded.text()
    assert_usage(response, recorded)


@cassette("complete_stream")
def test_stream_complete(make_llm: Any, sent: SentRequests, recorded: Recorded) -> None:
    responses = list(make_llm(capture=True).stream_complete("Say hello."))
    assert sent.bodies == [recorded.request_body()]
    assert_stream(responses, recorded, lambda r: r.text)


@cassette("complete_stream")
async def test_astream_complete(make_llm: Any, recorded: Recorded) -> None:
    responses = [r async for r in await make_llm().astream_complete("Say hello.")]
    assert_stream(responses, recorded, lambda r: r.text)


# -- what goes on the wire


@cassette("chat")
@pytest.mark.vcr(allow_playback_repeats=True)
def test_settings_on_the_wire(make_llm: Any, sent: SentRequests) -> None:
    make_llm(capture=True).chat(QUESTION)
    make_llm(
        capture=True,
        temperature=0.0,
        max_tokens=64,
        provider="together",
        additional_kwargs={"seed": 7},
        bill_to="my-org",
    ).chat(QUESTION, top_p=0.9)
    plain, tuned = sent.bodies
    # No silent cap and no default temperature: only what the user set is sent.
    assert "max_tokens" not in plain
    assert "temperature" not in plain
    assert plain["model"] == MODEL
    assert tuned["temperature"] == 0.0  # zero is a real value, not "unset"
    assert tuned["max_tokens"] == 64
    assert tuned["seed"] == 7
    assert tuned["top_p"] == 0.9
    assert tuned["model"] == f"{MODEL}:together"
    assert sent.requests[1].headers["x-hf-bill-to"] == "my-org"
    assert sent.requests[0].url == "https://router.huggingface.co/v1/chat/completions"


@cassette("chat")
def test_provider_specific_fields_go_in_extra_body(make_llm: Any, sent: SentRequests) -> None:
    llm = make_llm(capture=True, additional_kwargs={"extra_body": {"top_k": 5}})
    llm.chat(QUESTION)
    assert sent.bodies[0]["top_k"] == 5
    with pytest.raises(InvalidParameterError, match="extra_body"):
        llm.chat(QUESTION, top_kk=5)  # a typo fails loudly, before any request
    assert len(sent.requests) == 1


@cassette("chat")
def test_provider_fallback_list_starts_with_the_first(make_llm: Any, sent: SentRequests) -> None:
    make_llm(capture=True, provider=["groq", "together"]).chat(QUESTION)
    assert sent.bodies[0]["model"] == f"{MODEL}:groq"


@cassette("chat_stream")
def test_streams_ask_for_usage(make_llm: Any, sent: SentRequests, recorded: Recorded) -> None:
    list(make_llm(capture=True).stream_chat(QUESTION))
    assert sent.bodies == [recorded.request_body()]
    assert sent.bodies[0]["stream"] is True
    assert sent.bodies[0]["stream_options"] == {"include_usage": True}


@cassette("chat")
def test_token_comes_from_hf_token_when_not_given(
    monkeypatch: pytest.MonkeyPatch, sent: SentRequests, recording: bool
) -> None:
    if not recording:
        monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    llm = HFProviders(model=MODEL, http_client=sent.client())
    llm.chat(QUESTION)
    assert sent.requests[0].headers["authorization"].startswith("Bearer hf_")
    if not recording:
        assert sent.requests[0].headers["authorization"] == f"Bearer {FAKE_TOKEN}"


# -- one pooled client per LLM, reused, never closed between calls


@cassette("chat_twice")
def test_sync_client_is_reused(make_llm: Any) -> None:
    llm = make_llm()
    first = llm.chat([ChatMessage(role="user", content="Say hello.")])
    client = llm._pools._sync
    second = llm.chat([ChatMessage(role="user", content="Say hello.")])
    assert client is not None
    assert llm._pools._sync is client
    assert first.message.content
    assert second.message.content


@cassette("chat_twice")
async def test_async_client_survives_consecutive_calls(make_llm: Any) -> None:
    llm = make_llm()
    first = await llm.achat([ChatMessage(role="user", content="Say hello.")])
    client = llm._pools._async
    second = await llm.achat([ChatMessage(role="user", content="Say hello.")])
    assert client is not None
    assert llm._pools._async is client
    assert first.message.content
    assert second.message.content
    await llm.aclose()
    assert llm._pools._async is None


# -- metadata and serialisation (no HTTP)


def test_metadata_defaults() -> None:
    metadata = HFProviders(model=MODEL).metadata
    assert metadata.is_chat_model is True
    assert metadata.is_function_calling_model is True
    assert metadata.context_window == DEFAULT_CONTEXT_WINDOW != 3900
    assert metadata.num_output == 256  # room reserved for the answer, never sent
    assert metadata.model_name == MODEL


def test_metadata_follows_settings() -> None:
    llm = HFProviders(
        model=MODEL, context_window=131_072, max_tokens=512, is_function_calling_model=False
    )
    metadata = llm.metadata
    assert metadata.context_window == 131_072
    assert metadata.num_output == 512
    assert metadata.is_function_calling_model is False


def test_token_never_serialised_or_shown() -> None:
    llm = HFProviders(
        model=MODEL, api_key=FAKE_TOKEN, default_headers={"X-Extra": f"Bearer {FAKE_TOKEN}"}
    )
    for text in (repr(llm), str(llm), llm.to_json(), str(llm.to_dict()), str(llm.to_payload())):
        assert FAKE_TOKEN not in text
    assert "api_key" not in llm.to_dict()
    assert llm.to_dict()["model"] == MODEL
    assert HFProviders.from_dict(llm.to_dict()).model == MODEL


def test_construction_does_no_io() -> None:
    llm = HFProviders(model=MODEL)
    assert llm._pools._sync is None
    assert llm._pools._async is None


# -- callbacks: token counting, instrumentation events, rate limiter


@cassette("chat")
def test_token_counting_handler_reads_real_usage(make_llm: Any, recorded: Recorded) -> None:
    counter = TokenCountingHandler(tokenizer=lambda text: text.split())
    llm = make_llm(callback_manager=CallbackManager([counter]))
    llm.chat(QUESTION)
    usage = recorded.usage()
    assert counter.prompt_llm_token_count == usage["prompt_tokens"]
    assert counter.completion_llm_token_count == usage["completion_tokens"]


@cassette("chat_stream")
async def test_token_counting_handler_reads_streamed_usage(
    make_llm: Any, recorded: Recorded
) -> None:
    counter = TokenCountingHandler(tokenizer=lambda text: text.split())
    llm = make_llm(callback_manager=CallbackManager([counter]))
    async for _ in await llm.astream_chat(QUESTION):
        pass
    usage = recorded.usage()
    assert counter.prompt_llm_token_count == usage["prompt_tokens"]
    assert counter.completion_llm_token_count == usage["completion_tokens"]


@cassette("chat_stream")
def test_instrumentation_events_for_streamed_chat(make_llm: Any, event_log: EventLog) -> None:
    responses = list(make_llm().stream_chat(QUESTION))
    kinds = [type(event) for event in event_log.events]
    assert kinds[0] is LLMChatStartEvent
    assert kinds.count(LLMChatInProgressEvent) == len(responses)
    assert kinds[-1] is LLMChatEndEvent
    start = event_log.events[0]
    assert isinstance(start, LLMChatStartEvent)
    assert start.model_dict["model_name"] == MODEL
    assert FAKE_TOKEN not in str(start.model_dict)


@cassette("complete")
async def test_instrumentation_events_for_completion(make_llm: Any, event_log: EventLog) -> None:
    await make_llm().acomplete("Say hello.")
    kinds = [type(event) for event in event_log.events]
    assert kinds == [LLMCompletionStartEvent, LLMCompletionEndEvent]


@cassette("chat")
@pytest.mark.vcr(allow_playback_repeats=True)
async def test_rate_limiter_is_applied_sync_and_async(make_llm: Any) -> None:
    limiter = CountingLimiter()
    llm = make_llm(rate_limiter=limiter)
    llm.chat(QUESTION)
    await llm.achat(QUESTION)
    assert limiter.calls == 2
