"""ChatHFProviders behaviour on `httpx.MockTransport`: what is sent, what comes back, errors.

Each test states a behaviour users rely on (and that ANCHORS.md says others get wrong), sync
and async where both exist.
"""

from __future__ import annotations

import asyncio
import copy
import json
import runpy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core import exceptions as lc_errors
from langchain_core.load import dumpd, dumps
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage
from pydantic import BaseModel, Field, ValidationError
from typing_extensions import TypedDict

import hfproviders
from hfproviders import testing
from langchain_hfproviders import ChatHFProviders
from tests.conftest import FAKE_TOKEN

MODEL = "meta-llama/Llama-3.3-70B-Instruct"
HEADERS = {"x-inference-provider": "together", "x-request-id": "TtpPGx80uP3e6pgl"}


def completion(content: str | None = "Hello!", **message: Any) -> dict[str, Any]:
    finish = "tool_calls" if message.get("tool_calls") else "stop"
    return testing.completion(content, finish, **message)


def sse(*events: dict[str, Any]) -> bytes:
    return testing.sse(events)


def delta(finish: str | None = None, **fields: Any) -> dict[str, Any]:
    return testing.chunk(fields, finish, model="m")


USAGE_CHUNK = testing.usage_chunk(
    {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}, model="m"
)


class FakeRouter:
    """A MockTransport router: records requests, answers with the queued (or default) reply."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.replies: list[httpx.Response] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.replies:
            return self.replies.pop(0)
        if json.loads(request.content).get("stream"):
            return self.stream_reply(delta(content="Hel"), delta("stop", content="lo"), USAGE_CHUNK)
        return httpx.Response(200, json=completion(), headers=HEADERS)

    @staticmethod
    def stream_reply(*events: dict[str, Any]) -> httpx.Response:
        return httpx.Response(
            200, content=sse(*events), headers={"content-type": "text/event-stream", **HEADERS}
        )

    def reply(self, response: httpx.Response) -> None:
        self.replies.append(response)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]

    def model(self, **kwargs: Any) -> ChatHFProviders:
        transport = httpx.MockTransport(self.handle)
        kwargs.setdefault("model", MODEL)
        kwargs.setdefault("api_key", FAKE_TOKEN)
        kwargs.setdefault("max_retries", 0)
        return ChatHFProviders(
            http_client=httpx.Client(transport=transport),
            http_async_client=httpx.AsyncClient(transport=transport),
            **kwargs,
        )


@pytest.fixture
def router() -> FakeRouter:
    return FakeRouter()


def run(is_async: bool, sync: Callable[[], Any], coro: Callable[[], Any]) -> Any:
    """One test body for both twins."""
    return asyncio.run(coro()) if is_async else sync()


both = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])


# -- what is sent --------------------------------------------------------------------------------


def test_parameters_are_sent_as_given(router: FakeRouter) -> None:
    """temperature=0 is sent; max_tokens is never invented; every sampling field goes out."""
    router.model(temperature=0).invoke("hi")
    assert router.bodies[0] == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.0,
    }
    router.model(
        max_tokens=50,
        top_p=0.9,
        seed=7,
        frequency_penalty=0.5,
        presence_penalty=-0.5,
        logprobs=True,
        top_logprobs=2,
        n=2,
        reasoning_effort="low",
        stop=["END"],
        model_kwargs={"logit_bias": {"42": -100}},
        extra_body={"top_k": 40},
    ).invoke("hi")
    body = router.bodies[1]
    assert {k: body[k] for k in body if k not in ("model", "messages")} == {
        "max_tokens": 50,
        "top_p": 0.9,
        "seed": 7,
        "frequency_penalty": 0.5,
        "presence_penalty": -0.5,
        "logprobs": True,
        "top_logprobs": 2,
        "n": 2,
        "reasoning_effort": "low",
        "stop": ["END"],
        "logit_bias": {"42": -100.0},
        "top_k": 40,
    }


def test_call_time_options_win(router: FakeRouter) -> None:
    """`stop` and `model` given at call time override the instance's."""
    model = router.model(stop=["A"], temperature=0.2)
    model.invoke("hi", stop=["B"], model="Qwen/Qwen3-32B", temperature=0.9)
    assert router.bodies[0]["stop"] == ["B"]
    assert router.bodies[0]["model"] == "Qwen/Qwen3-32B"
    assert router.bodies[0]["temperature"] == 0.9


@both
def test_streams_ask_for_usage(router: FakeRouter, is_async: bool) -> None:
    """stream_usage=True (default) sends stream_options; False does not."""
    for stream_usage in (True, False):
        model = router.model(stream_usage=stream_usage)

        async def consume(model: ChatHFProviders = model) -> None:
            async for _ in model.astream("hi"):
                pass

        run(is_async, lambda model=model: list(model.stream("hi")), consume)
    with_usage, without = router.bodies
    assert with_usage["stream"] is True
    assert with_usage["stream_options"] == {"include_usage": True}
    assert "stream_options" not in without


def test_streaming_flag_streams_invoke(router: FakeRouter) -> None:
    message = router.model(streaming=True).invoke("hi")
    assert router.bodies[0]["stream"] is True
    assert message.content == "Hello"
    assert message.usage_metadata == {"input_tokens": 9, "output_tokens": 3, "total_tokens": 12}


def test_bind_tools_with_several_tools_and_every_choice(router: FakeRouter) -> None:
    """Any number of tools with any tool_choice (ChatHuggingFace fails on two or more)."""

    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    def mul(a: int, b: int) -> int:
        """Multiply two integers."""
        return a * b

    model = router.model()
    for choice, expected in [
        ("auto", "auto"),
        ("any", "required"),
        ("required", "required"),
        ("none", "none"),
        ("mul", {"type": "function", "function": {"name": "mul"}}),
    ]:
        model.bind_tools([add, mul, Weather], tool_choice=choice).invoke("hi")
        body = router.bodies[-1]
        assert [t["function"]["name"] for t in body["tools"]] == ["add", "mul", "Weather"]
        assert body["tool_choice"] == expected
        assert "parallel_tool_calls" not in body  # never forced
    model.bind_tools([add], parallel_tool_calls=False, strict=True).invoke("hi")
    body = router.bodies[-1]
    assert body["parallel_tool_calls"] is False
    assert body["tools"][0]["function"]["strict"] is True
    assert "tool_choice" not in body


# -- structured output ---------------------------------------------------------------------------


class Weather(BaseModel):
    """The weather in a city."""

    city: str = Field(description="City name")
    degrees: int


class WeatherDict(TypedDict):
    """The weather in a city."""

    city: str
    degrees: int


ARGS = '{"city": "Paris", "degrees": 22}'
TOOL_CALL = [
    {"id": "call_1", "type": "function", "function": {"name": "Weather", "arguments": ARGS}}
]


@both
def test_structured_output_default_is_forced_function_call(
    router: FakeRouter, is_async: bool
) -> None:
    """Pydantic in, Pydantic instance out (ChatHuggingFace raises NotImplementedError)."""
    router.reply(httpx.Response(200, json=completion(None, tool_calls=TOOL_CALL), headers=HEADERS))
    chat = router.model().with_structured_output(Weather)
    result = run(is_async, lambda: chat.invoke("Paris?"), lambda: chat.ainvoke("Paris?"))
    assert result == Weather(city="Paris", degrees=22)
    body = router.bodies[0]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "Weather"}}
    assert "response_format" not in body
    assert "strict" not in body["tools"][0]["function"]


def test_structured_output_json_schema_and_typeddict(router: FakeRouter) -> None:
    router.reply(httpx.Response(200, json=completion(ARGS), headers=HEADERS))
    result = router.model().with_structured_output(WeatherDict, method="json_schema").invoke("?")
    assert result == {"city": "Paris", "degrees": 22}
    response_format = router.bodies[0]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "WeatherDict"
    assert "strict" not in response_format["json_schema"]  # the default breaks many providers

    router.reply(httpx.Response(200, json=completion(ARGS), headers=HEADERS))
    router.model().with_structured_output(Weather, method="json_schema", strict=True).invoke("?")
    assert router.bodies[1]["response_format"]["json_schema"]["strict"] is True


def test_structured_output_json_mode(router: FakeRouter) -> None:
    router.reply(httpx.Response(200, json=completion(ARGS), headers=HEADERS))
    result = router.model().with_structured_output(Weather, method="json_mode").invoke("JSON?")
    assert result == Weather(city="Paris", degrees=22)
    assert router.bodies[0]["response_format"] == {"type": "json_object"}
    router.reply(httpx.Response(200, json=completion(ARGS), headers=HEADERS))
    assert router.model().with_structured_output(method="json_mode").invoke("JSON?") == {
        "city": "Paris",
        "degrees": 22,
    }


def test_structured_output_include_raw_keeps_parse_errors(router: FakeRouter) -> None:
    router.reply(httpx.Response(200, json=completion("not json"), headers=HEADERS))
    chat = router.model().with_structured_output(Weather, method="json_mode", include_raw=True)
    result = chat.invoke("JSON?")
    assert isinstance(result["raw"], AIMessage)
    assert result["raw"].content == "not json"
    assert result["parsed"] is None
    assert result["parsing_error"] is not None


def test_structured_output_rejects_unknown_method(router: FakeRouter) -> None:
    with pytest.raises(ValueError, match="method must be"):
        router.model().with_structured_output(Weather, method="xml")  # type: ignore[arg-type]


# -- what comes back -----------------------------------------------------------------------------


@both
def test_stream_chunks_contract(router: FakeRouter, is_async: bool) -> None:
    """Usage on exactly one chunk, chunk_position="last" on the final one, metadata merged once."""
    model = router.model()

    async def collect() -> list[AIMessageChunk]:
        return [c async for c in model.astream("hi")]

    chunks = run(is_async, lambda: list(model.stream("hi")), collect)
    assert [c.content for c in chunks] == ["Hel", "lo", ""]
    assert [bool(c.usage_metadata) for c in chunks] == [False, False, True]
    assert chunks[-1].chunk_position == "last"
    full = chunks[0] + chunks[1] + chunks[2]
    assert full.content == "Hello"
    assert full.response_metadata["model_name"] == MODEL
    assert full.response_metadata["model_provider"] == "huggingface"
    assert full.response_metadata["finish_reason"] == "stop"
    assert full.response_metadata["inference_provider"] == "together"
    assert full.response_metadata["request_id"] == "TtpPGx80uP3e6pgl"


def test_v1_stream_keeps_text_and_tool_call_apart(router: FakeRouter) -> None:
    """Text then a tool call in one streamed turn: two v1 blocks, not one fused block."""
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "Weather"}}
    router.reply(
        FakeRouter.stream_reply(
            delta(content="Let me check."),
            delta(tool_calls=[{**call, "function": {"name": "Weather", "arguments": ""}}]),
            delta(tool_calls=[{"index": 0, "function": {"arguments": ARGS}}]),
            delta("tool_calls"),
            USAGE_CHUNK,
        )
    )
    model = router.model(output_version="v1").bind_tools([Weather])
    full: Any = None
    for chunk in model.stream("Paris?"):
        full = chunk if full is None else full + chunk
    assert [block["type"] for block in full.content] == ["text", "tool_call"]
    assert full.content[0]["text"] == "Let me check."
    assert full.tool_calls[0]["args"] == {"city": "Paris", "degrees": 22}


def test_response_metadata_and_usage_on_invoke(router: FakeRouter) -> None:
    router.reply(
        httpx.Response(
            200,
            json=completion("Hi"),
            headers={**HEADERS, "x-ratelimit-limit": "60", "x-ratelimit-remaining": "0"},
        )
    )
    message = router.model().invoke("hi")
    assert message.usage_metadata == {"input_tokens": 9, "output_tokens": 3, "total_tokens": 12}
    metadata = message.response_metadata
    assert metadata["model_name"] == MODEL
    assert metadata["served_model"] == "meta-llama/Llama-3.3-70B-Instruct-Turbo"
    assert metadata["id"] == "chatcmpl-1"
    assert metadata["finish_reason"] == "stop"
    assert metadata["rate_limit"] == {"limit_requests": 60, "remaining_requests": 0}


# -- errors --------------------------------------------------------------------------------------

ERROR_CASES = [
    (
        401,
        {"error": "Invalid credentials in Authorization header"},
        lc_errors.ModelAuthenticationError,
        hfproviders.AuthenticationError,
    ),
    (
        402,
        {"error": "You have depleted your monthly included credits."},
        lc_errors.ModelError,
        hfproviders.PaymentRequiredError,
    ),
    (
        403,
        {"error": {"message": "no permission", "type": "permission_error"}},
        lc_errors.ModelPermissionDeniedError,
        hfproviders.PermissionDeniedError,
    ),
    (
        400,
        {
            "error": {
                "message": "The requested model 'x' does not exist.",
                "code": "model_not_found",
            }
        },
        lc_errors.ModelNotFoundError,
        hfproviders.ModelNotFoundError,
    ),
    (
        400,
        {"error": {"message": "This model's maximum context length is 8192 tokens"}},
        lc_errors.ContextOverflowError,
        hfproviders.ContextLengthError,
    ),
    (
        422,
        {"error": "Input validation error", "error_type": "validation"},
        lc_errors.ModelInvalidRequestError,
        hfproviders.BadRequestError,
    ),
    (
        429,
        {"error": "Too many requests"},
        lc_errors.ModelRateLimitError,
        hfproviders.RateLimitError,
    ),
    (
        500,
        {"error": {"message": "Internal server error", "type": "server_error"}},
        lc_errors.ModelAPIError,
        hfproviders.ServerError,
    ),
    (
        503,
        {"error": "Model is loading", "estimated_time": 20.0},
        lc_errors.ModelAPIError,
        hfproviders.ServiceUnavailableError,
    ),
]


@both
@pytest.mark.parametrize(("status", "body", "lc_family", "core_class"), ERROR_CASES)
def test_errors_fit_both_trees(
    router: FakeRouter,
    is_async: bool,
    status: int,
    body: dict[str, Any],
    lc_family: type[Exception],
    core_class: type[Exception],
) -> None:
    router.reply(httpx.Response(status, json=body, headers={"x-request-id": "Req1"}))
    model = router.model()
    with pytest.raises(core_class) as caught:
        run(is_async, lambda: model.invoke("hi"), lambda: model.ainvoke("hi"))
    error = caught.value
    assert isinstance(error, lc_family)
    assert type(error).__name__ == core_class.__name__
    assert error.status_code == status  # type: ignore[attr-defined]
    assert error.request_id == "Req1"  # type: ignore[attr-defined]
    assert error.__cause__ is not None


def test_context_overflow_is_also_an_invalid_request(router: FakeRouter) -> None:
    body = {"error": {"message": "This model's maximum context length is 8192 tokens"}}
    router.reply(httpx.Response(400, json=body))
    with pytest.raises(lc_errors.ModelInvalidRequestError):
        router.model().invoke("hi")


def test_connection_and_input_errors_are_typed() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    model = ChatHFProviders(
        model=MODEL,
        api_key=FAKE_TOKEN,
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(refuse)),
    )
    with pytest.raises(lc_errors.ModelConnectionError):
        model.invoke("hi")
    with pytest.raises(lc_errors.ModelInvalidRequestError) as caught:
        model.invoke("hi", temperature=5)  # out of range: refused before sending
    assert isinstance(caught.value, ValueError)


def test_missing_token_says_how_to_get_one() -> None:
    """No api_key, no HF_TOKEN, no login: a typed error that explains what to do."""
    with pytest.raises(lc_errors.ModelAuthenticationError, match="HF_TOKEN"):
        ChatHFProviders(model=MODEL).invoke("hi")


# -- secrets -------------------------------------------------------------------------------------

SECRET = (
    "hf_" + "FAKE" * 8 + "00"
)  # real-token shaped (so redaction must catch it), built at run time


def test_token_never_in_repr_dumps_or_errors(router: FakeRouter) -> None:
    model = router.model(api_key=SECRET)
    assert SECRET not in repr(model)
    assert SECRET not in str(model)
    assert SECRET not in dumps(model)
    assert SECRET not in json.dumps(dumpd(model))
    # A server that echoes the token back in its error must not leak it into the exception.
    router.reply(httpx.Response(401, json={"error": f"Invalid token {SECRET}"}))
    with pytest.raises(lc_errors.ModelAuthenticationError) as caught:
        model.invoke("hi")
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value)
    assert SECRET not in (caught.value.body or "")  # type: ignore[attr-defined]
    assert router.requests[-1].headers["authorization"] == f"Bearer {SECRET}"


def test_env_token_is_not_sent_to_a_foreign_host(
    router: FakeRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HF_TOKEN found in the environment goes only to Hugging Face hosts."""
    monkeypatch.setenv("HF_TOKEN", SECRET)
    transport = httpx.MockTransport(router.handle)
    model = ChatHFProviders(
        model="my-model",
        base_url="https://llm.example.com/v1",
        http_client=httpx.Client(transport=transport),
    )
    assert model.api_key is not None  # read for LangChain's sake...
    model.invoke("hi")
    assert "authorization" not in router.requests[0].headers  # ...but not sent there
    # A key given for that host is sent there; HF_TOKEN's own value, even passed explicitly
    # (as loads/model_dump rebuilds do), stays the environment's: Hugging Face hosts only.
    explicit = ChatHFProviders(
        model="my-model",
        base_url="https://llm.example.com/v1",
        api_key="gateway-key-for-llm-example",
        http_client=httpx.Client(transport=transport),
    )
    explicit.invoke("hi")
    assert router.requests[1].headers["authorization"] == "Bearer gateway-key-for-llm-example"


# -- clients -------------------------------------------------------------------------------------


def test_one_pool_reused_and_never_closed_behind_your_back(router: FakeRouter) -> None:
    model = router.model()
    model.invoke("a")
    first = model._sync_client()
    model.invoke("b")
    list(model.stream("c"))
    assert model._sync_client() is first
    assert model.http_client is not None
    assert not model.http_client.is_closed
    model.close()
    assert not model.http_client.is_closed  # a pool you passed in stays yours
    assert model._sync_client() is not first  # a closed client is not reused


def test_copies_do_not_share_clients() -> None:
    """A deep copy (LangChain and LangGraph copy models) gets its own clients, lazily."""
    model = ChatHFProviders(model=MODEL, api_key=FAKE_TOKEN)
    client = model._sync_client()
    copied = copy.deepcopy(model)
    assert copied.model == MODEL
    assert copied._sync_client() is not client
    assert model._sync_client() is client


def test_async_pool_per_event_loop() -> None:
    """Two asyncio.run() calls with one model both work: a pool is bound to the loop that made it.

    Real sockets (the fake router on loopback), since that is where a pool reused from a closed
    loop breaks.
    """
    server = testing.FakeRouter().serve()
    try:
        model = ChatHFProviders(model=MODEL, api_key=FAKE_TOKEN, base_url=server.base_url)
        seen: list[Any] = []

        async def call() -> Any:
            answer = await model.ainvoke("hi")
            seen.append(model._async_client()._transport._client)
            assert model._async_client()._transport._client is seen[-1]  # reused in one loop
            return answer  # not closed: the next loop must not try to reuse it

        assert asyncio.run(call()).text
        assert asyncio.run(call()).text
        assert seen[0] is not seen[1]
    finally:
        server.stop()


# -- LangChain identity --------------------------------------------------------------------------


def test_identifying_and_tracing_params() -> None:
    a = ChatHFProviders(model=MODEL, api_key=FAKE_TOKEN, temperature=0)
    b = ChatHFProviders(model="Qwen/Qwen3-32B", api_key=FAKE_TOKEN, temperature=0)
    assert a._identifying_params != b._identifying_params
    assert a._get_llm_string() != b._get_llm_string()
    assert a._get_llm_string() != a._get_llm_string(tools=[{"type": "function"}])
    ls = a._get_ls_params(stop=["x"])
    assert ls == {
        "ls_provider": "huggingface",
        "ls_model_name": MODEL,
        "ls_model_type": "chat",
        "ls_temperature": 0,
        "ls_stop": ["x"],
    }
    assert a._get_ls_params(model="other/model")["ls_model_name"] == "other/model"


def test_constructor_aliases_and_typos() -> None:
    assert ChatHFProviders(model_name=MODEL).model == MODEL
    with pytest.raises(ValidationError):
        ChatHFProviders(model=MODEL, temprature=0.5)  # a typo is an error, not ignored


def test_request_rate_limiter_must_be_the_cores() -> None:
    limiter = hfproviders.RateLimiter(requests_per_minute=60)
    assert (
        ChatHFProviders(model=MODEL, request_rate_limiter=limiter).request_rate_limiter is limiter
    )
    with pytest.raises(ValidationError, match="RateLimiter"):
        ChatHFProviders(model=MODEL, request_rate_limiter="60/min")


def test_import_leaves_the_core_for_the_first_model() -> None:
    # `from langchain_hfproviders import ChatHFProviders` costs LangChain's import and little
    # more: the core loads when a model is first made, and every model still gets its clients.
    code = (
        "import sys\n"
        "from langchain_hfproviders import ChatHFProviders\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'hfproviders'))\n"
        "model = ChatHFProviders(model='m/m', api_key='hf_x')\n"
        "print(type(model.breaker).__name__, 'hfproviders._client' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "CircuitBreaker True"]


def test_token_counting_without_transformers() -> None:
    model = ChatHFProviders(model=MODEL)
    messages = [SystemMessage("You are terse."), HumanMessage("What is the capital of France?")]
    count = model.get_num_tokens_from_messages(messages)
    assert 15 <= count <= 40
    with_tools = model.get_num_tokens_from_messages(messages, tools=[Weather])
    assert with_tools > count
    custom = ChatHFProviders(model=MODEL, custom_get_token_ids=lambda text: [0] * len(text))
    assert custom.get_num_tokens("abcd") == 4


# -- the example ---------------------------------------------------------------------------------


def test_quickstart_example_without_token_explains(monkeypatch: pytest.MonkeyPatch) -> None:
    path = Path(__file__).parents[2] / "examples" / "langchain_quickstart.py"
    monkeypatch.setattr("sys.argv", [str(path)])
    with pytest.raises(SystemExit) as caught:
        runpy.run_path(str(path), run_name="__main__")
    assert "HF_TOKEN" in str(caught.value.code)
