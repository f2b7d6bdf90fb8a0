"""Client behaviour on httpx.MockTransport; every test runs against both twins (`h` fixture)."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest

from hfproviders import (
    AllProvidersFailedError,
    APIConnectionError,
    APITimeoutError,
    AsyncHFClient,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    HFClient,
    InvalidModelError,
    InvalidParameterError,
    MissingTokenError,
    ModelNotSupportedError,
    PaymentRequiredError,
    PromptTooLongError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    ServiceUnavailableError,
    StreamError,
    UnknownProviderError,
)
from tests.conftest import FAKE_TOKEN
from tests.core.conftest import (
    MODEL,
    USER,
    Harness,
    chunk,
    completion,
    ok_json,
    ok_sse,
    sse,
    texts,
)

USAGE = {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}
STREAM = sse(
    chunk("Hel", role="assistant"), chunk("lo", "stop"), {"id": "c", "choices": [], "usage": USAGE}
)


def error(status: int, body: Any, **headers: str) -> httpx.Response:
    if isinstance(body, bytes):
        return httpx.Response(status, content=body, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


# --- basic calls and results ----------------------------------------------------------------


async def test_chat_returns_normalised_result_with_meta(h: Harness) -> None:
    h.queue(ok_json(completion("Hello!"), **{"x-ratelimit-remaining": "59", "inference-id": "p-1"}))
    result = await h.chat(MODEL, USER, temperature=0, max_tokens=5)
    assert result.text == "Hello!"
    assert result.provider == "together" and result.request_id == "TtpPGx80uP3e6pgl"
    assert result.meta.provider_request_id == "p-1"
    assert result.meta.attempts == 1 and result.meta.latency_s >= 0
    assert result.meta.rate_limit is not None and result.meta.rate_limit.remaining_requests == 59
    assert result.usage is not None and result.usage.total_tokens == 12
    body = h.body()
    assert body["temperature"] == 0 and body["max_tokens"] == 5  # 0 is sent, not dropped
    assert "stream" not in body
    request = h.requests[0]
    assert str(request.url) == "https://router.huggingface.co/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {FAKE_TOKEN}"
    assert request.headers["user-agent"].startswith("hfproviders/")


async def test_no_silent_max_tokens_default(h: Harness) -> None:
    h.queue(ok_json(completion()))
    await h.chat(MODEL, USER)
    assert set(h.body()) == {"model", "messages"}


async def test_stream_yields_chunks_usage_once_and_completion(h: Harness) -> None:
    h.queue(ok_sse(STREAM))
    chunks, stream = await h.stream(MODEL, USER)
    assert texts(chunks) == "Hello"
    assert [c.usage.total_tokens for c in chunks if c.usage] == [11]
    assert chunks[-1].choices == []
    assert stream.completion.text == "Hello" and stream.completion.usage.total_tokens == 11
    assert stream.meta.provider == "together" and stream.meta.ttft_s is not None
    body = h.body()
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert h.requests[0].headers["accept"] == "text/event-stream"


async def test_chunks_read_together_are_delivered_one_by_one(h: Harness) -> None:
    # The whole body arrives in one read, yet each chunk joins the merged view only when the
    # caller takes it; chunks a caller never takes (it closed the stream) are not in it.
    words = ["one ", "two ", "three ", "four"]
    body = sse(*(chunk(word, role="assistant") for word in words), chunk("", "stop"))
    h.queue(ok_sse(body), ok_sse(body))
    stream = await h.call("stream", MODEL, USER)
    handed, views = "", []
    iterator = aiter(stream) if h.is_async else iter(stream)
    for _ in range(len(words)):
        piece = await anext(iterator) if h.is_async else next(iterator)
        handed += piece.choices[0].delta.content
        views.append((stream.completion.text, stream.text_only()))
    assert views == [(text, text) for text in ("one ", "one two ", "one two three ", handed)]
    await h.drain(stream)
    assert stream.completion.text == "one two three four"
    stream = await h.call("stream", MODEL, USER)
    iterator = aiter(stream) if h.is_async else iter(stream)
    for _ in range(2):
        await anext(iterator) if h.is_async else next(iterator)
    await stream.aclose() if h.is_async else stream.close()
    assert stream.completion.text == "one two "


async def test_text_only_follows_the_answer_while_it_is_plain_text(h: Harness) -> None:
    # What adapters read per chunk instead of `completion`: the same text, None once more.
    h.queue(ok_sse(sse(chunk("Hel"), chunk("lo"), chunk(None, reasoning_content="hm"), chunk("!"))))
    stream = await h.call("stream", MODEL, USER)
    assert stream.text_only() is None  # nothing has arrived yet
    seen = []
    if h.is_async:
        async for _ in stream:
            seen.append(stream.text_only())
    else:
        for _ in stream:
            seen.append(stream.text_only())
    assert seen[:2] == ["Hel", "Hello"]
    assert set(seen[2:]) == {None}  # reasoning arrived: read `completion`
    assert stream.completion.text == "Hello!"


async def test_stream_usage_can_be_turned_off(h: Harness) -> None:
    h.queue(ok_sse(sse(chunk("x", "stop"))))
    await h.stream(MODEL, USER, stream_usage=False)
    assert "stream_options" not in h.body()


async def test_stream_without_done_ends_at_eof(h: Harness) -> None:
    body = sse(
        chunk("a"),
        {**chunk("b", "stop"), "usage": USAGE, "time_info": {"queue_time": 0.1}},
        done=False,
    )
    h.queue(ok_sse(body))
    chunks, stream = await h.stream(MODEL, USER)
    assert texts(chunks) == "ab" and stream.completion.usage.total_tokens == 11


async def test_tgi_framing_without_space(h: Harness) -> None:
    h.queue(ok_sse(sse(chunk("x", role="assistant"), chunk("y", "length"), space=False)))
    chunks, stream = await h.stream(MODEL, USER)
    assert texts(chunks) == "xy" and stream.completion.choices[0].finish_reason == "length"


async def test_nothing_is_sent_before_the_stream_is_iterated(h: Harness) -> None:
    h.queue(ok_sse(STREAM))
    stream = await h.call("stream", MODEL, USER)
    assert h.requests == []
    await h.drain(stream)
    assert len(h.requests) == 1


async def test_server_that_ignores_stream_true_is_replayed_as_chunks(h: Harness) -> None:
    h.queue(ok_json(completion("whole")))
    chunks, stream = await h.stream(MODEL, USER)
    assert texts(chunks) == "whole" and chunks[-1].usage is not None
    assert stream.completion.text == "whole"


# --- pooling and lifecycle --------------------------------------------------------------------


async def test_one_pool_reused_and_user_client_never_closed(h: Harness) -> None:
    h.queue(ok_json(completion()), ok_sse(STREAM), ok_json(completion()))
    client = h.make()
    pool = client._transport._client
    await h.chat(MODEL, USER)
    await h.stream(MODEL, USER)
    await h.chat(MODEL, USER)
    assert client._transport._client is pool and len(h.requests) == 3
    await h.close()
    assert not pool.is_closed  # the caller's client is theirs to close


def test_owned_pool_is_created_lazily_and_closed() -> None:
    client = HFClient(api_key=FAKE_TOKEN)
    assert client._transport._client is None  # no pool, no network at construction
    pool = client._transport._get()
    assert client._transport._get() is pool
    client.close()
    assert pool.is_closed


async def test_async_owned_pool_survives_many_calls() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return (
            ok_sse(STREAM) if json.loads(request.content).get("stream") else ok_json(completion())
        )

    import asyncio

    client = AsyncHFClient(api_key=FAKE_TOKEN)
    pool = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    from hfproviders._transport import _closer, _Direct

    entry = (pool, _Direct(pool, 30.0), _closer(pool, lambda: None))
    client._transport._pools[asyncio.get_running_loop()] = entry  # as if the client had made it
    for _ in range(3):  # LlamaIndex's HF integration dies on the second async call
        await client.chat(MODEL, USER)
        assert (await client.stream(MODEL, USER).until_done()).text == "Hello"
    assert calls == 6 and not pool.is_closed
    await client.aclose()
    assert pool.is_closed


# --- retries ----------------------------------------------------------------------------------


async def test_retries_503_then_succeeds(h: Harness) -> None:
    h.queue(
        error(503, {"error": "Model is currently loading", "estimated_time": 2.0}),
        error(502, b"<html><title>Bad gateway</title></html>", **{"content-type": "text/html"}),
        ok_json(completion()),
    )
    h.make(retry=RetryPolicy(max_retries=3, wait_jitter=False))
    result = await h.chat(MODEL, USER)
    assert result.meta.attempts == 3 and len(h.requests) == 3
    assert h.waits == [2.0, 1.0]  # estimated_time first, then backoff for the 502


async def test_retry_after_is_honoured(h: Harness) -> None:
    h.queue(error(429, {"error": "slow down"}, **{"retry-after": "3"}), ok_json(completion()))
    await h.chat(MODEL, USER)
    assert h.waits == [3.0]


async def test_retry_after_ms_and_spent_window(h: Harness) -> None:
    h.queue(
        error(429, {"error": "x"}, **{"retry-after-ms": "250"}),
        error(429, {"error": "x"}, **{"x-ratelimit-remaining": "0", "x-ratelimit-reset": "4"}),
        ok_json(completion()),
    )
    await h.chat(MODEL, USER)
    assert h.waits == [0.25, 4.0]


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 422])
async def test_caller_errors_are_never_retried(h: Harness, status: int) -> None:
    h.queue(error(status, {"error": "no"}))
    with pytest.raises(Exception) as info:
        await h.chat(MODEL, USER)
    assert info.value.status_code == status  # type: ignore[attr-defined]
    assert len(h.requests) == 1 and h.waits == []


async def test_gives_up_after_max_retries(h: Harness) -> None:
    h.queue(*[error(500, {"error": "boom"}) for _ in range(3)])
    h.make(max_retries=2)
    with pytest.raises(ServerError) as info:
        await h.chat(MODEL, USER)
    assert len(h.requests) == 3 and len(h.waits) == 2
    assert info.value.provider is None and info.value.status_code == 500


async def test_wait_longer_than_budget_raises_at_once_with_the_wait(h: Harness) -> None:
    h.queue(error(429, {"error": "quota"}, **{"retry-after": "600"}))
    h.make(retry=RetryPolicy(max_retries=5, budget=30))
    with pytest.raises(RateLimitError) as info:
        await h.chat(MODEL, USER)
    assert info.value.retry_after == 600 and "600.0s" in str(info.value)
    assert h.waits == [] and len(h.requests) == 1


async def test_connection_errors_are_retried(h: Harness) -> None:
    h.queue(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), ok_json(completion()))
    result = await h.chat(MODEL, USER)
    assert result.meta.attempts == 3


async def test_timeouts_become_typed_errors(h: Harness) -> None:
    h.queue(*[httpx.ReadTimeout("slow") for _ in range(3)])
    with pytest.raises(APITimeoutError):
        await h.chat(MODEL, USER)


async def test_stream_retried_before_first_event_only(h: Harness) -> None:
    h.queue(error(503, {"error": "busy"}), ok_sse(b""), ok_sse(STREAM))
    chunks, stream = await h.stream(MODEL, USER)
    assert texts(chunks) == "Hello" and stream.meta.attempts == 3 and len(h.requests) == 3


async def test_error_event_inside_a_200_stream_raises_typed_error_with_partial(h: Harness) -> None:
    body = sse(
        chunk("Par", role="assistant"),
        {
            "error": {
                "message": "Input validation error: grammar is not supported",
                "http_status_code": 422,
            }
        },
    )
    h.queue(ok_sse(body))
    stream = await h.call("stream", MODEL, USER)
    received: list[Any] = []

    async def consume() -> None:
        if h.is_async:
            async for c in stream:
                received.append(c)
        else:
            received.extend(stream)

    with pytest.raises(BadRequestError) as info:
        await consume()
    assert texts(received) == "Par"
    err = info.value
    assert err.in_stream and err.status_code == 422 and err.provider == "together"
    assert err.partial is not None and err.partial.text == "Par"
    assert len(h.requests) == 1  # never retried once the stream had started


async def test_truncated_and_malformed_streams_raise_stream_error(h: Harness) -> None:
    h.queue(ok_sse(sse(chunk("a"), done=False) + b'data: {"id": "c", "choi'))
    with pytest.raises(StreamError) as info:
        await h.stream(MODEL, USER)
    assert info.value.in_stream and info.value.partial.text == "a"
    h.queue(ok_sse(sse(chunk("a"), done=False) + b"data: {oops}\n\ndata: [DONE]\n\n"))
    h.requests.clear()
    with pytest.raises(StreamError, match="Malformed"):
        await h.stream(MODEL, USER)


async def test_one_retry_layer_only(h: Harness) -> None:
    h.queue(*[error(503, {"error": "busy"}) for _ in range(10)])
    h.make(max_retries=2)
    with pytest.raises(ServiceUnavailableError):
        await h.chat(MODEL, USER)
    assert len(h.requests) == 3  # 1 + max_retries, never multiplied


# --- providers and failover -------------------------------------------------------------------


async def test_provider_suffix_and_option(h: Harness) -> None:
    h.queue(ok_json(completion()), ok_json(completion()), ok_json(completion()))
    h.make(provider="groq")
    await h.chat(MODEL, USER)
    await h.chat(MODEL + ":cheapest", USER, provider=None) if False else None
    assert h.body(0)["model"] == f"{MODEL}:groq"
    await h.chat(MODEL, USER, provider="together")
    assert h.body(1)["model"] == f"{MODEL}:together"
    await h.chat(MODEL, USER, provider="fastest")
    assert h.body(2)["model"] == f"{MODEL}:fastest"


async def test_failover_chain_on_provider_failures(h: Harness) -> None:
    h.queue(
        error(503, {"error": "down"}),
        error(503, {"error": "down"}),
        error(
            400,
            {
                "message": "model features function calling not support",
                "code": 400,
                "reason": "INVALID_REQUEST_BODY",
            },
        ),
        ok_json(completion("from fireworks"), **{"x-inference-provider": "fireworks-ai"}),
    )
    # Without the breaker each provider gets its retries first (with it, a 503 fails over at
    # once: tests/core/test_health_client.py).
    h.make(provider=["groq", "novita", "fireworks-ai"], max_retries=1, breaker=None)
    result = await h.chat(MODEL, USER)
    assert result.text == "from fireworks" and result.provider == "fireworks-ai"
    assert [h.body(i)["model"].split(":")[1] for i in range(4)] == [
        "groq",
        "groq",
        "novita",
        "fireworks-ai",
    ]
    failed = result.meta.failed_providers
    assert [(type(e), e.provider) for e in failed] == [
        (ServiceUnavailableError, "groq"),
        (ModelNotSupportedError, "novita"),
    ]


async def test_no_failover_on_caller_errors(h: Harness) -> None:
    h.queue(error(402, {"error": "You have depleted your monthly included credits."}))
    h.make(provider=["groq", "together"])
    with pytest.raises(PaymentRequiredError):
        await h.chat(MODEL, USER)
    assert len(h.requests) == 1


async def test_all_providers_failed(h: Harness) -> None:
    h.queue(error(503, {"error": "a"}), error(500, {"error": "b"}))
    h.make(provider=["groq", "together"], max_retries=0)
    with pytest.raises(AllProvidersFailedError) as info:
        await h.chat(MODEL, USER)
    assert [e.provider for e in info.value.errors] == ["groq", "together"]


async def test_stream_fails_over_before_the_first_event(h: Harness) -> None:
    h.queue(httpx.ConnectError("refused"), ok_sse(STREAM, **{"x-inference-provider": "cerebras"}))
    h.make(provider=["groq", "cerebras"], max_retries=0)
    chunks, stream = await h.stream(MODEL, USER)
    assert texts(chunks) == "Hello" and stream.meta.provider == "cerebras"
    assert [type(e) for e in stream.meta.failed_providers] == [APIConnectionError]


# --- validation before any request ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"temperature": 3}, InvalidParameterError, "temperature"),
        ({"top_p": 0}, InvalidParameterError, "top_p"),
        ({"max_tokens": 0}, InvalidParameterError, "max_tokens"),
        ({"stop": ["a", "b", "c", "d", "e"]}, InvalidParameterError, "stop"),
        ({"n": 0}, InvalidParameterError, "n"),
        ({"frequency_penalty": 5}, InvalidParameterError, "frequency_penalty"),
        ({"top_logprobs": 3}, InvalidParameterError, "logprobs"),
        ({"reasoning_effort": "max"}, InvalidParameterError, "reasoning_effort"),
        ({"tool_choice": "auto"}, InvalidParameterError, "without tools"),
        (
            {"tools": [{"type": "function", "function": {"name": "bad name"}}]},
            InvalidParameterError,
            "name",
        ),
        ({"response_format": {"type": "json_schema"}}, InvalidParameterError, "json_schema"),
        ({"response_format": {"type": "xml"}}, InvalidParameterError, "response_format"),
        ({"temprature": 0.5}, InvalidParameterError, "extra_body"),
        ({"provider": "togther"}, UnknownProviderError, "together"),
        ({"provider": "nebius"}, UnknownProviderError, "removed"),
        ({"provider": "fastest", "model": MODEL + ":groq"}, InvalidParameterError, "conflicts"),
    ],
)
async def test_bad_input_raises_before_any_request(
    h: Harness, kwargs: dict[str, Any], exc: type, match: str
) -> None:
    kwargs = dict(kwargs)
    model = kwargs.pop("model", MODEL)
    with pytest.raises(exc, match=match) as info:
        await h.chat(model, USER, **kwargs)
    assert isinstance(info.value, ValueError)
    assert h.requests == []


@pytest.mark.parametrize(
    ("model", "messages", "exc"),
    [
        ("bad model", USER, InvalidModelError),
        ("org/name:", USER, InvalidModelError),
        ("", USER, InvalidModelError),
        (MODEL, [], InvalidParameterError),
        (MODEL, "", InvalidParameterError),
        (MODEL, b"hi", InvalidParameterError),
        (MODEL, [{"role": "robot", "content": "x"}], InvalidParameterError),
        (MODEL, [{"role": "tool", "content": "x", "tool_call_id": 7}], InvalidParameterError),
        (MODEL, [{"role": "user", "content": "x" * 101}], PromptTooLongError),
    ],
)
async def test_bad_model_or_messages(h: Harness, model: str, messages: Any, exc: type) -> None:
    h.make(max_input_chars=100)
    with pytest.raises(exc):
        await h.chat(model, messages)
    with pytest.raises(exc):
        await h.call("stream", model, messages)
    assert h.requests == []


def test_bad_options_at_construction() -> None:
    with pytest.raises(UnknownProviderError):
        HFClient(provider="sambanovaa")
    with pytest.raises(ConfigurationError, match="router"):
        HFClient(base_url="https://api-inference.huggingface.co/models/gpt2")
    with pytest.raises(ConfigurationError):
        HFClient(base_url="ftp://x")
    with pytest.raises(ConfigurationError):
        HFClient(default_headers={"Authorization": "Bearer x"})
    with pytest.raises(ConfigurationError):
        HFClient(timeout=0)


async def test_params_are_normalised(h: Harness) -> None:
    h.queue(ok_json(completion()))
    tools = [
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "search"}},
    ]
    await h.chat(
        MODEL,
        USER,
        tools=tools,
        tool_choice={"function": {"name": "search"}},
        parallel_tool_calls=True,
        response_format={"type": "json_schema", "json_schema": {"schema": {}}},
        seed=7,
        stop="END",
        logprobs=True,
        top_logprobs=2,
        reasoning_effort="low",
        extra_body={"top_k": 5},
    )
    body = h.body()
    assert body["tool_choice"] == {"type": "function", "function": {"name": "search"}}
    assert body["parallel_tool_calls"] is True and body["seed"] == 7 and body["top_k"] == 5
    assert body["response_format"]["json_schema"]["name"] == "response"
    assert body["reasoning_effort"] == "low"


async def test_any_maps_to_required(h: Harness) -> None:
    h.queue(ok_json(completion()))
    await h.chat(
        MODEL, USER, tools=[{"type": "function", "function": {"name": "f"}}], tool_choice="any"
    )
    assert h.body()["tool_choice"] == "required"


async def test_assistant_tool_calls_are_resent_safely(h: Harness) -> None:
    h.queue(ok_json(completion()))
    history = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "function": {"name": "w", "arguments": {"city": "Paris"}}},
                {"id": "call_2", "function": {"name": "w"}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": "rainy"},
    ]
    await h.chat(MODEL, history)
    sent = h.body()["messages"][1]
    assert sent["content"] == ""
    assert [c["function"]["arguments"] for c in sent["tool_calls"]] == ['{"city": "Paris"}', "{}"]
    assert all(c["type"] == "function" for c in sent["tool_calls"])


# --- token safety -----------------------------------------------------------------------------


async def test_missing_token_for_hf_host_says_how_to_get_one(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hfproviders._config.lookup_token", lambda: None)
    h.make(api_key=None)
    with pytest.raises(MissingTokenError, match="huggingface.co/settings/tokens") as info:
        await h.chat(MODEL, USER)
    assert isinstance(info.value, ValueError) and h.requests == []


async def test_env_token_goes_to_hf_hosts_only(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    h.queue(ok_json(completion()), ok_json(completion()))
    h.make(api_key=None)
    await h.chat(MODEL, USER)
    assert h.requests[0].headers["authorization"] == f"Bearer {FAKE_TOKEN}"
    local = Harness(h.mode).queue(ok_json(completion()))
    local.make(api_key=None, base_url="http://127.0.0.1:8080/v1")
    await local.chat("tgi", USER)
    assert "authorization" not in local.requests[0].headers
    endpoint = Harness(h.mode).queue(ok_json(completion()))
    endpoint.make(api_key=None, base_url="https://abc123.us-east-1.aws.endpoints.huggingface.cloud")
    await endpoint.chat("tgi", USER)
    assert endpoint.requests[0].headers["authorization"] == f"Bearer {FAKE_TOKEN}"
    assert str(endpoint.requests[0].url).endswith("/v1/chat/completions")


async def test_explicit_key_goes_to_a_custom_server(h: Harness) -> None:
    h.queue(ok_json(completion()))
    h.make(api_key="sk-local", base_url="http://127.0.0.1:8080/v1")
    await h.chat("any-model-name", USER)
    assert h.requests[0].headers["authorization"] == "Bearer sk-local"
    assert h.body()["model"] == "any-model-name"


async def test_token_never_in_repr_logs_or_errors(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="hfproviders")
    echo = {"error": f"Invalid credentials in Authorization header: Bearer {FAKE_TOKEN}"}
    h.queue(
        error(401, echo, **{"x-error-message": f"bad token {FAKE_TOKEN}"}), ok_json(completion())
    )
    client = h.make(bill_to="my-org")
    with pytest.raises(AuthenticationError) as info:
        await h.chat(MODEL, USER)
    await h.chat(MODEL, USER)
    for text in (
        repr(client),
        str(client._config),
        str(info.value),
        repr(info.value),
        info.value.body or "",
        caplog.text,
    ):
        assert FAKE_TOKEN not in text
    assert h.requests[0].headers["x-hf-bill-to"] == "my-org"


# --- observability ----------------------------------------------------------------------------


async def test_logs_and_attempt_hook(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="hfproviders")
    events: list[Any] = []
    h.queue(error(503, {"error": "busy"}, **{"retry-after": "1"}), ok_json(completion()))
    h.make(on_attempt=events.append)
    await h.chat(MODEL, USER)
    assert [(e.attempt, e.status_code, e.will_retry, e.wait_s) for e in events] == [
        (1, 503, True, 1.0),
        (2, 200, False, None),
    ]
    assert events[1].request_id == "TtpPGx80uP3e6pgl" and events[1].provider is None
    assert (
        "retrying in 1.00s" in caplog.text and "-> 200 request_id=TtpPGx80uP3e6pgl" in caplog.text
    )


async def test_a_failing_hook_never_breaks_the_call(h: Harness) -> None:
    def hook(event: Any) -> None:
        raise RuntimeError("metrics down")

    h.queue(ok_json(completion()))
    h.make(on_attempt=hook)
    assert (await h.chat(MODEL, USER)).text == "Hello!"


# --- text generation --------------------------------------------------------------------------

TGI_HEADERS = {"x-compute-type": "2-a10-g", "x-generated-tokens": "3", "x-request-id": "tg-1"}


async def test_text_generation_on_hf_inference(h: Harness) -> None:
    h.queue(httpx.Response(200, json=[{"generated_text": "I am at work"}], headers=TGI_HEADERS))
    result = await h.call("text_generation", "gpt2", "Hello", max_new_tokens=3, temperature=0)
    assert result.generated_text == "I am at work" and result.meta.request_id == "tg-1"
    assert str(h.requests[0].url) == "https://router.huggingface.co/hf-inference/models/gpt2"
    assert h.body() == {"inputs": "Hello", "parameters": {"max_new_tokens": 3, "do_sample": False}}


async def test_text_generation_stream_on_tgi(h: Harness) -> None:
    events = [
        {
            "index": 1,
            "token": {"id": 31, "text": "Hel", "logprob": -0.1, "special": False},
            "generated_text": None,
            "details": None,
        },
        {
            "index": 2,
            "token": {"id": 32, "text": "lo", "logprob": -0.2, "special": False},
            "generated_text": "Hello",
            "details": {"finish_reason": "length", "generated_tokens": 2},
        },
    ]
    h.queue(ok_sse(sse(*events, done=False, space=False)))
    h.make(api_key=None, base_url="http://127.0.0.1:8080")
    stream = await h.call("text_generation_stream", "tgi", "Say", max_new_tokens=2, details=True)
    tokens = await h.drain(stream)
    assert [t.token.text for t in tokens] == ["Hel", "lo"]
    assert tokens[-1].details["finish_reason"] == "length"
    assert stream.generated_text == "Hello"
    assert str(h.requests[0].url) == "http://127.0.0.1:8080" and h.body()["stream"] is True


async def test_text_generation_errors_and_validation(h: Harness) -> None:
    h.queue(
        error(
            422,
            {
                "error": "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 1024",
                "error_type": "validation",
            },
        )
    )
    with pytest.raises(BadRequestError) as info:
        await h.call("text_generation", "gpt2", "x" * 10)
    assert info.value.status_code == 422
    with pytest.raises(InvalidParameterError):
        await h.call("text_generation", "gpt2", "x", top_k=0)
    with pytest.raises(InvalidParameterError, match="hf-inference"):
        await h.call("text_generation", "gpt2:together", "x")
    tg_stream_error = sse(
        {"error": "Input validation error: bad", "error_type": "validation"}, space=False
    )
    h.queue(ok_sse(tg_stream_error))
    with pytest.raises(BadRequestError):
        await h.drain(await h.call("text_generation_stream", "gpt2", "x"))


async def test_completion_follows_the_chunks_handed_out(h: Harness) -> None:
    body = sse(chunk("I think.", role="assistant"), chunk("</think>Hi"), chunk(" there", "stop"))
    h.queue(ok_sse(body))
    stream = await h.call("stream", MODEL, USER)
    seen: list[tuple[str | None, str | None]] = []

    def snapshot() -> None:
        message = stream.completion.choices[0].message
        seen.append((message.reasoning, message.content))

    if h.is_async:
        async for _ in stream:
            snapshot()
    else:
        for _ in stream:
            snapshot()
    assert seen[:3] == [(None, "I think."), ("I think.", "Hi"), ("I think.", "Hi there")]


# --- batch ------------------------------------------------------------------------------------


async def test_batch_keeps_order_and_returns_errors_in_place(h: Harness) -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        prompt = json.loads(request.content)["messages"][0]["content"]
        if prompt == "fail":
            return error(402, {"error": "You have depleted your monthly included credits."})
        return ok_json(completion(f"echo {prompt}"))

    prompts = ["a", "fail", "c", "d", "e"]
    h.queue(*[reply] * len(prompts))
    h.make()
    requests = [
        {"model": MODEL, "messages": [{"role": "user", "content": p}], "max_tokens": 4}
        for p in prompts
    ]
    requests.append({"model": MODEL, "messages": [], "max_tokens": 4})  # invalid: no request sent
    results = await h.call("batch", requests, max_concurrency=3)
    if h.is_async:
        results = await results
    assert [r.text if not isinstance(r, Exception) else type(r).__name__ for r in results] == [
        "echo a",
        "PaymentRequiredError",
        "echo c",
        "echo d",
        "echo e",
        "InvalidParameterError",
    ]
    assert len(h.requests) == 5


def test_batch_rejects_malformed_requests() -> None:
    with pytest.raises(InvalidParameterError):
        HFClient(api_key=FAKE_TOKEN).batch([{"messages": USER}])
    with pytest.raises(InvalidParameterError):
        HFClient(api_key=FAKE_TOKEN).batch([], max_concurrency=0)


@pytest.mark.parametrize(
    "body",
    [
        {"choices": [1]},
        {"choices": [{"message": "x"}]},
        {"choices": [{"message": {"tool_calls": [{"function": 1}]}}]},
    ],
)
async def test_odd_shaped_answers_never_crash_untyped(h: Harness, body: dict[str, Any]) -> None:
    from hfproviders import HFProvidersError

    h.queue(ok_json(body), ok_sse(sse({"id": "x", **body})))
    errors: list[Exception] = []
    for call in (h.chat, h.stream):  # a result, or a typed error; anything else fails the test
        try:
            await call(MODEL, USER)
        except HFProvidersError as error:
            errors.append(error)
    assert all(isinstance(e, StreamError | type(None)) or e.status_code == 200 for e in errors)


def test_async_client_survives_a_new_event_loop() -> None:
    """A second asyncio.run() gets a fresh pool instead of "Event loop is closed"."""
    import asyncio
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    body = json.dumps(completion("hi")).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - http.server's API
            self.rfile.read(int(self.headers["content-length"]))
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = AsyncHFClient(
            api_key=FAKE_TOKEN, base_url=f"http://127.0.0.1:{server.server_port}/v1"
        )
        for _ in range(2):
            assert asyncio.run(client.chat("m", USER)).text == "hi"
        asyncio.run(client.aclose())
    finally:
        server.shutdown()
        server.server_close()


async def test_token_echoed_in_a_stream_error_event_is_scrubbed(h: Harness) -> None:
    event = {
        "error": {"message": f"upstream rejected key Bearer {FAKE_TOKEN}", "http_status_code": 401}
    }
    h.queue(ok_sse(sse(chunk("a"), event)), ok_json({"error": f"bad key {FAKE_TOKEN}"}))
    with pytest.raises(AuthenticationError) as streamed:
        await h.stream(MODEL, USER)
    with pytest.raises(Exception) as whole:
        await h.chat(MODEL, USER)
    for error in (streamed.value, whole.value):
        for text in (str(error), repr(error), getattr(error, "body", "") or ""):
            assert FAKE_TOKEN not in text


def test_owned_pool_keeps_no_cookies() -> None:
    """The router needs no cookies; skipping httpx's jar saves its per-response parsing."""
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return ok_json(completion(), **{"set-cookie": "session=abc; Path=/"})

    client = HFClient(api_key=FAKE_TOKEN)
    client._transport._get()._transport = httpx.MockTransport(handler)
    client.chat(MODEL, USER)
    client.chat(MODEL, USER)
    assert seen == [None, None]
    client.close()
