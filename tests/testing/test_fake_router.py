"""The fake router (`hfproviders.testing`): wire format, scripts, faults, quirks, health, forms.

Scenarios run through our own clients (both twins) on both forms of the router (the loopback
server and the in-process httpx transport); byte-level checks read the socket with the stdlib's
`http.client`, so they do not depend on the client under test.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from hfproviders import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AsyncHFClient,
    AuthenticationError,
    HFClient,
    ModelNotFoundError,
    ModelNotSupportedError,
    RateLimitError,
    RetryPolicy,
    StreamError,
)
from hfproviders.testing import (
    Episode,
    Exchange,
    FakeRouter,
    Fault,
    Latency,
    Provider,
    Quirks,
    Reply,
    ToolCall,
    parse_step,
    render_cassette,
)
from tests.conftest import FAKE_TOKEN

MODEL = "meta-llama/Llama-3.3-70B-Instruct"
USER = [{"role": "user", "content": "Hello"}]
WEATHER = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


@pytest.fixture
def router() -> Iterator[FakeRouter]:
    fake = FakeRouter()
    server = fake.serve()
    yield fake
    server.stop()


@pytest.fixture(params=["sync", "async"])
def twin(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["loopback", "transport"])
def form(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make_client(twin: str, form: str, router: FakeRouter, **options: Any) -> Any:
    """A client of either twin on either form of the router (fast retries)."""
    options.setdefault("retry", RetryPolicy(max_retries=2, wait_initial=0.01, wait_max=0.02))
    options.setdefault("timeout", 5.0)
    if form == "transport":
        transport = router.transport()
        key = "http_client" if twin == "sync" else "http_async_client"
        timeout = options["timeout"]
        options[key] = (
            transport.client(timeout=timeout)
            if twin == "sync"
            else transport.async_client(timeout=timeout)
        )
        base_url = "http://fake-router.test/v1"
    else:
        base_url = router.base_url
    cls = HFClient if twin == "sync" else AsyncHFClient
    return cls(base_url=base_url, api_key=FAKE_TOKEN, **options)


async def chat(client: Any, model: str = MODEL, **params: Any) -> Any:
    if isinstance(client, HFClient):
        return client.chat(model, params.pop("messages", USER), **params)
    return await client.chat(model, params.pop("messages", USER), **params)


async def stream(client: Any, model: str = MODEL, **params: Any) -> Any:
    """Stream to the end; return the stream (its `.completion` and `.meta`)."""
    messages = params.pop("messages", USER)
    if isinstance(client, HFClient):
        with client.stream(model, messages, **params) as s:
            for _ in s:
                pass
        return s
    async with client.stream(model, messages, **params) as a:
        async for _ in a:
            pass
    return a


async def close(client: Any) -> None:
    if isinstance(client, HFClient):
        client.close()
    else:
        await client.aclose()


def raw(router: FakeRouter, method: str, path: str, body: Any = None, **headers: str) -> Any:
    """One request with the stdlib client: (status, headers, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", router.server.port, timeout=5)  # type: ignore[union-attr]
    try:
        payload = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, payload, {"content-type": "application/json", **headers})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------
# The wire format


def test_stream_bytes_are_router_framed(router: FakeRouter) -> None:
    body = {
        "model": f"{MODEL}:together",
        "messages": USER,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    status, headers, data = raw(router, "POST", "/v1/chat/completions", body)
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["transfer-encoding"] == "chunked"
    assert headers["x-inference-provider"] == "together"
    assert len(headers["x-request-id"]) == 16 and headers["x-request-id"].isalnum()
    assert int(headers["x-ratelimit-remaining"]) < int(headers["x-ratelimit-limit"])
    events = data.split(b"\n\n")
    assert events[-1] == b"" and events[-2] == b"data: [DONE]"
    chunks = [json.loads(e.removeprefix(b"data: ")) for e in events[:-2]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks[:-1])
    assert text == "Hello! How can I help you today?"


def test_router_level_errors_name_no_provider(router: FakeRouter) -> None:
    fake = FakeRouter(strict=True, token="hf_right")
    with fake.serve():
        status, headers, data = raw(
            fake,
            "POST",
            "/v1/chat/completions",
            {"model": MODEL, "messages": USER},
            authorization="Bearer hf_wrong",
        )
        assert status == 401 and "x-inference-provider" not in headers
        assert json.loads(data) == {"error": "Invalid credentials in Authorization header"}
        assert headers["x-error-message"] == "Invalid credentials in Authorization header"
        assert headers["www-authenticate"].startswith("Bearer realm=")
        status, headers, data = raw(
            fake,
            "POST",
            "/v1/chat/completions",
            {"model": "no/such-model", "messages": USER, "stream": True},
            authorization="Bearer hf_right",
        )
        assert status == 400 and headers["content-type"].startswith("application/json")
        assert json.loads(data)["error"]["code"] == "model_not_found"


def test_catalogue_hub_mapping_and_info(router: FakeRouter) -> None:
    status, _, data = raw(router, "GET", "/v1/models")
    models = {m["id"]: m for m in json.loads(data)["data"]}
    groq = models[MODEL]["providers"][0]
    assert groq["provider"] == "groq" and groq["pricing"] == {"input": 0.59, "output": 0.79}
    status, headers, data = raw(
        router, "GET", f"/api/models/{MODEL}?expand[]=inferenceProviderMapping"
    )
    mapping = json.loads(data)["inferenceProviderMapping"]
    assert status == 200 and headers["ratelimit"].startswith('"api"')
    assert mapping["novita"] == {
        "isModelAuthor": False,
        "status": "live",
        "providerId": "meta-llama/llama-3.3-70b-instruct",
        "task": "conversational",
    }
    strict = FakeRouter(strict=True)
    with strict.serve():
        status, headers, _ = raw(strict, "GET", "/api/models/no/such")
        assert status == 404 and headers["x-error-code"] == "RepoNotFound"


def test_embeddings_routes(router: FakeRouter) -> None:
    status, headers, data = raw(
        router,
        "POST",
        "/hf-inference/models/sentence-transformers/all-MiniLM-L6-v2/pipeline/feature-extraction",
        {"inputs": ["a cat", "a dog", "a cat"]},
    )
    vectors = json.loads(data)
    assert status == 200 and headers["x-inference-provider"] == "hf-inference"
    assert len(vectors) == 3 and len(vectors[0]) == 384 and vectors[0] == vectors[2]
    assert vectors[0] != vectors[1]
    assert abs(sum(v * v for v in vectors[0]) - 1.0) < 1e-3
    _, _, data = raw(
        router,
        "POST",
        "/scaleway/v1/embeddings",
        {"model": "qwen3-embedding-8b", "input": ["x", "y"], "dimensions": 64},
    )
    answer = json.loads(data)
    assert [d["index"] for d in answer["data"]] == [0, 1]
    assert len(answer["data"][1]["embedding"]) == 64 and answer["model"] == "qwen3-embedding-8b"
    assert answer["usage"]["prompt_tokens"] == 2
    assert router.requests_to(kind="embeddings")[-1].model == "Qwen/Qwen3-Embedding-8B"


# ---------------------------------------------------------------------------------------------
# Through our clients, both twins, both forms


async def test_policies_and_suffixes_pick_providers(
    twin: str, form: str, router: FakeRouter
) -> None:
    client = make_client(twin, form, router)
    try:
        assert (await chat(client, f"{MODEL}:fastest")).provider == "groq"
        assert (await chat(client, f"{MODEL}:cheapest")).provider == "novita"
        assert (await chat(client, f"{MODEL}:together")).provider == "together"
        with pytest.raises(ModelNotSupportedError):
            await chat(client, f"{MODEL}:cerebras")
        strict = FakeRouter(strict=True)
        if form == "transport":
            await close(client)
            client = make_client(twin, form, strict)
            with pytest.raises(ModelNotFoundError):
                await chat(client, "no-org/no-model")
    finally:
        await close(client)


async def test_scripted_steps_and_recorded_requests(
    twin: str, form: str, router: FakeRouter
) -> None:
    router.on(provider="groq").respond(Fault.status(503), Fault.status(503), Reply("Bonjour !"))
    client = make_client(twin, form, router)
    try:
        answer = await chat(client, f"{MODEL}:groq", temperature=0)
    finally:
        await close(client)
    assert answer.text == "Bonjour !" and answer.provider == "groq"
    groq = router.requests_to(provider="groq")
    assert len(groq) == 3  # two 503s, then the answer
    assert groq[0].json["model"] == f"{MODEL}:groq" and groq[0].json["temperature"] == 0
    assert groq[0].headers["authorization"] == f"Bearer {FAKE_TOKEN}"
    assert router.stats()["by_status"] == {"503": 2, "200": 1}


async def test_retry_after_and_loading_are_retried(
    twin: str, form: str, router: FakeRouter
) -> None:
    router.on(provider="groq").respond(Fault.rate_limited(0.05), Fault.loading(0.05), Reply("ok"))
    client = make_client(twin, form, router)
    try:
        answer = await chat(client, f"{MODEL}:groq")
    finally:
        await close(client)
    assert answer.text == "ok" and answer.meta.attempts == 3
    first, second, _ = router.requests
    assert first.status == 429 and second.status == 503


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.status(429), RateLimitError),
        (Fault.status(401), AuthenticationError),
        (Fault.status(502), APIError),
        (Fault.reset(), APIConnectionError),
    ],
)
async def test_status_faults_raise_typed_errors(
    twin: str, form: str, router: FakeRouter, fault: Fault, error: type[Exception]
) -> None:
    router.on().respond(fault)
    client = make_client(twin, form, router, max_retries=0, retry=None)
    try:
        with pytest.raises(error):
            await chat(client)
    finally:
        await close(client)


async def test_stream_faults(twin: str, form: str, router: FakeRouter) -> None:
    router.on().respond(Fault.error_event(after_chunks=1), Fault.disconnect(after_chunks=3))
    client = make_client(twin, form, router, max_retries=0, retry=None)
    try:
        with pytest.raises(APIError) as info:
            await stream(client)
        assert info.value.status_code == 422 and "grammar" in info.value.message
        assert info.value.provider == "groq"
        with pytest.raises((APIConnectionError, StreamError)):
            await stream(client)
    finally:
        await close(client)


async def test_stall_ends_in_a_timeout(twin: str, form: str, router: FakeRouter) -> None:
    router.on().respond(Fault.stall(limit_s=5.0))
    client = make_client(twin, form, router, max_retries=0, retry=None, timeout=0.3)
    started = time.monotonic()
    try:
        with pytest.raises(APITimeoutError):
            await chat(client)
    finally:
        await close(client)
    assert time.monotonic() - started < 3.0


async def test_quirks_are_served(twin: str, form: str, router: FakeRouter) -> None:
    router.set_provider(
        Provider(
            "together",
            quirks=Quirks(
                tool_call_index_minus_one=True,
                missing_tool_call_ids=True,
                stop_with_tool_calls=True,
                no_done=True,
            ),
        )
    )
    router.on(provider="together").respond(
        Reply(tool_calls=[ToolCall("get_weather", {"city": "Paris"})])
    )
    client = make_client(twin, form, router)
    try:
        s = await stream(client, f"{MODEL}:together", tools=WEATHER)
    finally:
        await close(client)
    call = s.completion.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {
        "city": "Paris"
    }
    assert call.id  # the client made one up
    sent = router.last_request
    assert sent.provider == "together"


async def test_reasoning_styles(twin: str, form: str, router: FakeRouter) -> None:
    router.on(provider="fireworks-ai").respond(Reply("42", reasoning="Think.", chunk_chars=1))
    router.on(provider="together").respond(Reply("42", reasoning="Think.", reasoning_style="think"))
    client = make_client(twin, form, router)
    try:
        separate = await stream(client, "openai/gpt-oss-120b:fireworks-ai")
        inline = await chat(client, "deepseek-ai/DeepSeek-R1:together")
    finally:
        await close(client)
    assert separate.completion.text == "42"
    assert separate.completion.choices[0].message.reasoning == "Think."
    assert inline.text == "42" and inline.choices[0].message.reasoning.strip() == "Think."


async def test_auto_reply_drives_a_tool_loop_and_json(
    twin: str, form: str, router: FakeRouter
) -> None:
    client = make_client(twin, form, router)
    try:
        first = await chat(
            client,
            messages=[{"role": "user", "content": "What's the weather in Paris?"}],
            tools=WEATHER,
        )
        schema = {
            "type": "object",
            "properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
        }
        structured = await chat(
            client,
            messages=[{"role": "user", "content": "A movie from 1982"}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "Movie", "schema": schema},
            },
        )
    finally:
        await close(client)
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert json.loads(structured.text) == {"title": "Blade Runner", "year": 1982}


async def test_text_generation_tgi(twin: str, form: str, router: FakeRouter) -> None:
    client = make_client(twin, form, router)
    try:
        if isinstance(client, HFClient):
            result = client.text_generation("tgi", "The capital of France is", max_new_tokens=40)
        else:
            result = await client.text_generation(
                "tgi", "The capital of France is", max_new_tokens=40
            )
    finally:
        await close(client)
    assert result.generated_text == " The capital of France is Paris."
    assert router.last_request.kind == "text_generation"


# ---------------------------------------------------------------------------------------------
# Provider health: seeded latency, error rates, episodes, rate limits


def test_latency_is_seeded_per_provider() -> None:
    def draws(seed: int) -> list[float]:
        fake = FakeRouter(seed=seed)
        fake.set_provider(Provider("groq", latency=Latency(ttft_s=0.2, sigma=0.8)))
        return [fake.handle(_chat_request(f"{MODEL}:groq")).delay_s for _ in range(20)]

    first, again, other = draws(1), draws(1), draws(2)
    assert first == again and first != other
    assert len(set(first)) == 20 and all(d > 0 for d in first)
    median = sorted(first)[10]
    assert 0.05 < median < 0.8


def test_outage_episode_and_error_rate() -> None:
    fake = FakeRouter(seed=3)
    fake.set_provider(Provider("groq", episodes=[Episode(2, 5, unit="requests")]))
    fake.set_provider(Provider("together", error_rate=0.5, error_status=500))
    statuses = [fake.handle(_chat_request(f"{MODEL}:groq")).status for _ in range(7)]
    assert statuses == [200, 200, 503, 503, 503, 200, 200]
    errors = [fake.handle(_chat_request(f"{MODEL}:together")).status for _ in range(200)]
    assert 60 < errors.count(500) < 140 and set(errors) == {200, 500}


def test_clocked_episode_and_rate_limit() -> None:
    now = [0.0]
    fake = FakeRouter(clock=lambda: now[0])
    fake.set_provider(
        Provider(
            "groq",
            episodes=[Episode(10, 20, slow_factor=4)],
            latency=Latency(ttft_s=0.1),
            ratelimit=2,
        )
    )
    assert fake.handle(_chat_request(f"{MODEL}:groq")).delay_s == pytest.approx(0.1)
    now[0] = 12.0
    assert fake.handle(_chat_request(f"{MODEL}:groq")).delay_s == pytest.approx(0.4)
    limited = fake.handle(_chat_request(f"{MODEL}:groq"))
    headers = dict(limited.headers)
    assert limited.status == 429 and headers["retry-after"] == "48"
    now[0] = 61.0
    assert fake.handle(_chat_request(f"{MODEL}:groq")).status == 200


def _chat_request(model: str, **headers: str) -> Any:
    from hfproviders.testing import RecordedRequest

    body = json.dumps({"model": model, "messages": USER}).encode()
    return RecordedRequest("POST", "/v1/chat/completions", "", dict(headers), body)


def test_header_steps_play_in_order_per_key() -> None:
    fake = FakeRouter()
    steps = {"x-fake-steps": "429:1,503:0.5,ok", "x-fake-key": "k1"}
    plans = [fake.handle(_chat_request(MODEL, **steps)) for _ in range(4)]
    assert [p.status for p in plans] == [429, 503, 200, 200]
    assert ("retry-after", "1") in plans[0].headers
    assert json.loads(plans[1].body)["estimated_time"] == 0.5
    assert fake.stats()["by_key"] == {"k1": 4}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ok", Reply()),
        ("503", Fault.status(503)),
        ("429:2", Fault.status(429, retry_after=2)),
        ("429ms:20", Fault.status(429, retry_after_ms=20)),
        ("503:0.3", Fault.loading(0.3)),
        ("slow:0.2", Reply(delay_s=0.2)),
        ("reset_after", Fault.reset(after_headers=True)),
        ("disconnect:5", Fault.disconnect(after_chunks=5)),
    ],
)
def test_parse_step(text: str, expected: Any) -> None:
    assert parse_step(text) == expected


def test_parse_step_refuses_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown fake-router step"):
        parse_step("explode")


# ---------------------------------------------------------------------------------------------
# Lifecycle, fixture, cassettes


def test_server_stops_cleanly() -> None:
    before = set(threading.enumerate())
    fake = FakeRouter()
    with fake.serve() as server:
        port = server.port
        with HFClient(base_url=server.base_url, api_key=FAKE_TOKEN) as client:
            assert client.chat(MODEL, USER).text
    assert set(threading.enumerate()) <= before
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1)


def test_server_binds_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        FakeRouter().serve(host="0.0.0.0")


def test_pytest_fixture_is_registered(hf_fake_router: FakeRouter) -> None:
    hf_fake_router.on(provider="groq").respond(Reply("from the fixture"))
    with HFClient(base_url=hf_fake_router.base_url, api_key=FAKE_TOKEN) as client:
        assert client.chat(f"{MODEL}:groq", USER).text == "from the fixture"
    assert len(hf_fake_router.requests) == 1


def test_cassette_renderer(tmp_path: Any) -> None:
    path = tmp_path / "c.yaml"
    render_cassette(
        path,
        "hand-written, not recorded",
        [
            Exchange(
                "POST",
                "https://router.huggingface.co/v1/chat/completions",
                {"model": MODEL},
                503,
                {"error": "Model x is currently loading"},
                {"Content-Type": "application/json"},
            ),
        ],
    )
    text = path.read_text()
    assert text.startswith("# hand-written, not recorded\n")
    cassette = yaml.safe_load(text)
    response = cassette["interactions"][0]["response"]
    assert response["status"] == {"code": 503, "message": "Service Unavailable"}
    assert json.loads(response["body"]["string"]) == {"error": "Model x is currently loading"}


def test_readme_example(hf_fake_router: FakeRouter) -> None:
    hf_fake_router.on(provider="groq").respond(
        Fault.rate_limited(retry_after=0.1), Reply("Bonjour !")
    )
    with HFClient(base_url=hf_fake_router.base_url, api_key="test") as client:
        answer = client.chat(
            "meta-llama/Llama-3.3-70B-Instruct:groq", [{"role": "user", "content": "Hi"}]
        )
    assert answer.text == "Bonjour !" and len(hf_fake_router.requests) == 2


def test_respond_with_decides_per_request() -> None:
    fake = FakeRouter()
    seen: list[str] = []

    def decide(request: Any) -> Any:
        seen.append(request.headers.get("x-fake-chunks", ""))
        return Reply(chunks=["a", "b"]) if request.headers.get("x-fake-chunks") else None

    fake.on(kind="chat").respond_with(decide)
    scripted = fake.handle(_chat_request(MODEL, **{"x-fake-chunks": "2"}))
    default = fake.handle(_chat_request(MODEL))
    assert json.loads(scripted.body)["choices"][0]["message"]["content"] == "ab"
    assert json.loads(default.body)["choices"][0]["message"]["content"].startswith("Hello!")
    assert seen == ["2", ""]


def test_memoize_answers_identical_requests_once() -> None:
    fake = FakeRouter(memoize=True)
    calls: list[int] = []
    fake.on().respond_with(lambda request: calls.append(1) or Reply("same"))
    first, second = (fake.handle(_chat_request(MODEL)) for _ in range(2))
    other = fake.handle(_chat_request(MODEL, **{"x-fake-delay-ms": "5"}))
    assert first is second and other is not first and len(calls) == 2
    assert fake.stats()["by_route"] == {"chat": 3}
    assert [r.provider for r in fake.requests] == ["groq"] * 3


async def collect(client: Any, headers: dict[str, str], received: list[str]) -> None:
    """Stream on either twin, keeping each content piece as it arrives."""
    if isinstance(client, HFClient):
        with client.stream(MODEL, USER, extra_headers=headers) as s:
            for c in s:
                received.append(c.choices[0].delta.content or "" if c.choices else "")
        return
    async with client.stream(MODEL, USER, extra_headers=headers) as a:
        async for c in a:
            received.append(c.choices[0].delta.content or "" if c.choices else "")


async def test_ok_and_faults_play_the_scripted_answer(twin: str, router: FakeRouter) -> None:
    words = [f"w{i} " for i in range(20)]
    router.on(kind="chat").respond(Reply(chunks=words))
    client = make_client(twin, "loopback", router, max_retries=0, retry=None)
    headers = {"x-fake-steps": "ok,disconnect", "x-fake-key": "k"}
    try:
        whole = await stream(client, extra_headers=headers)
        received: list[str] = []
        with pytest.raises((APIConnectionError, StreamError)) as info:
            await collect(client, headers, received)
    finally:
        await close(client)
    assert whole.completion.text == "".join(words)
    assert "".join(received) == "".join(words[:3])  # the role chunk, then three words
    assert info.value is not None and router.count(key="k") == 2


def test_raw_responses_are_written_as_is(router: FakeRouter) -> None:
    raw_response = (
        b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 9\r\n\r\n{"a": 1}\n'
    )
    step = router.add_raw("tiny", raw_response)
    status, headers, data = raw(
        router,
        "POST",
        "/v1/chat/completions",
        {"model": MODEL, "messages": USER},
        **{"x-fake-steps": step},
    )
    assert (status, data) == (200, b'{"a": 1}\n') and "x-request-id" not in headers
    transport_client = httpx.Client(transport=router.transport())
    with pytest.raises(NotImplementedError, match="loopback"):
        transport_client.post(
            "http://fake/v1/chat/completions",
            json={"model": MODEL, "messages": USER},
            headers={"x-fake-steps": step},
        )


async def test_set_testing_retries_without_sleeping(
    twin: str, form: str, router: FakeRouter
) -> None:
    from hfproviders import set_testing as core_switch
    from hfproviders.testing import set_testing

    assert set_testing is core_switch
    router.on(provider="groq").respond(Fault.rate_limited(retry_after=3), Reply("after the wait"))
    client = make_client(twin, form, router, retry=RetryPolicy(max_retries=2, budget=30))
    started = time.monotonic()
    try:
        with set_testing(True):
            answer = await chat(client, f"{MODEL}:groq")
    finally:
        await close(client)
    assert answer.text == "after the wait" and answer.meta.attempts == 2
    assert time.monotonic() - started < 2.5  # the 3 s Retry-After was not slept


def test_a_client_that_leaves_before_its_answer_is_recorded_and_sent_nothing() -> None:
    fake = FakeRouter()
    fake.set_provider(Provider("groq", latency=Latency(ttft_s=30.0)))
    fake.set_provider(Provider("together"))
    with fake.serve() as server:
        body = json.dumps({"model": f"{MODEL}:groq", "messages": USER})
        headers = {"authorization": f"Bearer {FAKE_TOKEN}", "content-type": "application/json"}
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("POST", "/v1/chat/completions", body, headers)
        deadline = time.monotonic() + 10
        while not fake.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        conn.close()  # a cancelled request: the client goes before the answer is ready
        while fake.requests[0].left_after_s is None and time.monotonic() < deadline:
            time.sleep(0.01)
        left = fake.requests[0]
        assert left.left_after_s is not None and 0 <= left.left_after_s < 10
        assert left.answer_s == pytest.approx(30.0)
        answered = httpx.post(
            f"{server.url}/v1/chat/completions",
            json={"model": f"{MODEL}:together", "messages": USER},
            headers={"authorization": f"Bearer {FAKE_TOKEN}"},
        )
        assert answered.status_code == 200
        assert fake.requests[1].left_after_s is None
