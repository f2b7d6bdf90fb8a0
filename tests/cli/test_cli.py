"""The `hfproviders` CLI through `main(argv)`: a fake client for each command, the real client on
`httpx.MockTransport` for chat, models and check (the discovery cassettes replayed), and a
subprocess for `python -m hfproviders`.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

import hfproviders._config
from hfproviders import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ChatCompletionChunk,
    ChoiceDelta,
    ChunkChoice,
    HFClient,
    InvalidParameterError,
    MissingTokenError,
    PaymentRequiredError,
    ResponseMeta,
    ServerError,
    TextGenerationChunk,
    TokenInfo,
    Usage,
)
from hfproviders._catalog import ModelInfo, parse_models_response
from hfproviders._hub import (
    ModelAvailability,
    availability_from_hub_error,
    availability_from_hub_json,
)
from hfproviders.cli import _plot
from hfproviders.cli._app import (
    EXIT_API_ERROR,
    EXIT_NETWORK,
    EXIT_OK,
    EXIT_USAGE,
    filter_models,
    main,
    render_table,
)
from hfproviders.cli._bench import BenchRun, percentile
from hfproviders.testing import chunk, sse
from hfproviders.testing import usage_chunk as wire_usage_chunk
from tests.conftest import FAKE_TOKEN
from tests.core.test_discovery import interactions, recorded_response

ROOT = Path(__file__).resolve().parents[2]
CASSETTES = ROOT / "cassettes" / "core" / "discovery"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


def cassette_json(name: str, index: int = 0) -> Any:
    data = yaml.safe_load((CASSETTES / name).read_text())
    return json.loads(data["interactions"][index]["response"]["body"]["string"])


def listed_models() -> list[ModelInfo]:
    return parse_models_response(cassette_json("router_models.yaml"))


def availability(cassette: str, model: str, *, access: bool | None = True) -> ModelAvailability:
    return availability_from_hub_json(
        model, cassette_json(cassette), token_given=True, access_granted=access
    )


# --- a fake client built from the real result types --------------------------------------------


def text_chunk(
    content: str | None = None, reasoning: str | None = None, finish: str | None = None
) -> ChatCompletionChunk:
    delta = ChoiceDelta(content=content, reasoning=reasoning)
    return ChatCompletionChunk("c1", "m", 0, [ChunkChoice(0, delta, finish)])


def usage_chunk(prompt: int, completion: int) -> ChatCompletionChunk:
    return ChatCompletionChunk("c1", "m", 0, [], Usage(prompt, completion, prompt + completion))


class FakeStream:
    """Iterates chunks, then fills `meta` the way ChatStream does; may raise part-way."""

    def __init__(
        self,
        chunks: Sequence[Any],
        meta: ResponseMeta,
        error: Exception | None = None,
    ) -> None:
        self.chunks = list(chunks)
        self.meta = ResponseMeta()
        self.final_meta = meta
        self.error = error
        self.closed = False

    def __iter__(self) -> Iterator[Any]:
        if self.error is not None:
            raise self.error
        self.meta.provider = self.final_meta.provider
        self.meta.request_id = self.final_meta.request_id
        yield from self.chunks
        self.meta.ttft_s = self.final_meta.ttft_s
        self.meta.latency_s = self.final_meta.latency_s

    @property
    def completion(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True


def answer(
    *pieces: str,
    provider: str = "together",
    usage: tuple[int, int] | None = (9, 2),
    ttft: float | None = 0.25,
    latency: float = 1.5,
    reasoning: str | None = None,
) -> FakeStream:
    chunks: list[Any] = []
    if reasoning:
        chunks.append(text_chunk(reasoning=reasoning))
    chunks += [text_chunk(p) for p in pieces]
    chunks.append(text_chunk(finish="stop"))
    if usage:
        chunks.append(usage_chunk(*usage))
    meta = ResponseMeta(provider=provider, request_id="req-1", ttft_s=ttft, latency_s=latency)
    return FakeStream(chunks, meta)


Reply = Callable[..., Any] | Exception | Any


class FakeClient:
    """Plays scripted replies and records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.streams: list[Any] = []
        self.chat_replies: dict[str | None, Reply] = {}
        self.tg_stream: Any = None
        self.models: list[ModelInfo] | Exception = listed_models()
        self.availabilities: dict[str, ModelAvailability | Exception] = {}
        self.closed = False

    def _play(self, reply: Reply, *args: Any, **kwargs: Any) -> Any:
        if isinstance(reply, Exception):
            raise reply
        return reply(*args, **kwargs) if callable(reply) else reply

    def stream(self, model: str, messages: Any, **params: Any) -> Any:
        self.calls.append(("stream", (model, messages), params))
        reply = self.streams.pop(0)
        return self._play(reply) if isinstance(reply, Exception) else reply

    def chat(self, model: str, messages: Any, **params: Any) -> Any:
        self.calls.append(("chat", (model, messages), params))
        return self._play(self.chat_replies.get(params.get("provider"), None))

    def text_generation_stream(self, model: str, prompt: str, **params: Any) -> Any:
        self.calls.append(("text_generation_stream", (model, prompt), params))
        return self._play(self.tg_stream)

    def list_models(self) -> list[ModelInfo]:
        self.calls.append(("list_models", (), {}))
        return self._play(self.models)  # type: ignore[no-any-return]

    def model_providers(self, model: str) -> ModelAvailability:
        self.calls.append(("model_providers", (model,), {}))
        return self._play(self.availabilities[model])  # type: ignore[no-any-return]

    def close(self) -> None:
        self.closed = True


class Run:
    """The outcome of one `main(argv)` call."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


def run(argv: list[str], client: Any) -> Run:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, client_factory=lambda _args: client, stdout=out, stderr=err)
    return Run(code, out.getvalue(), err.getvalue())


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()


# --- chat --------------------------------------------------------------------------------------


def test_chat_streams_answer_and_reports_on_stderr(client: FakeClient) -> None:
    client.streams.append(answer("Hello", " world"))
    result = run(["chat", LLAMA, "Hi"], client)
    assert result.code == EXIT_OK
    assert result.out == "Hello world\n"
    assert "provider: together" in result.err
    assert "tokens: 9 in / 2 out" in result.err
    assert "TTFT 0.25s" in result.err
    assert "total 1.50s" in result.err
    assert "request id req-1" in result.err
    assert client.closed
    assert client.streams == []


def test_chat_passes_options_through(client: FakeClient) -> None:
    client.streams.append(answer("ok"))
    argv = ["chat", LLAMA, "Hi", "--system", "Be brief.", "--provider", "groq,together"]
    argv += ["--max-tokens", "32", "--temperature", "0"]
    assert run(argv, client).code == EXIT_OK
    [(_, (model, messages), params)] = client.calls
    assert model == LLAMA
    assert messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    # temperature 0 is sent, not dropped; a comma list is a failover chain.
    assert params == {"provider": ["groq", "together"], "max_tokens": 32, "temperature": 0.0}


def test_chat_single_provider_and_stdin_prompt(
    client: FakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.streams.append(answer("ok"))
    monkeypatch.setattr(sys, "stdin", io.StringIO("from stdin"))
    assert run(["chat", LLAMA, "-", "--provider", "cheapest"], client).code == EXIT_OK
    [(_, (_model, messages), params)] = client.calls
    assert messages[-1]["content"] == "from stdin"
    assert params == {"provider": "cheapest"}


def test_chat_json_prints_one_object(client: FakeClient) -> None:
    client.streams.append(answer("Hel", "lo", reasoning="thinking"))
    result = run(["chat", LLAMA, "Hi", "--json"], client)
    assert result.code == EXIT_OK
    assert result.err == ""
    data = json.loads(result.out)
    assert data["text"] == "Hello"
    assert data["reasoning"] == "thinking"
    assert data["provider"] == "together"
    assert data["model"] == LLAMA
    assert data["usage"] == {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}
    assert data["latency_s"] == 1.5
    assert data["ttft_s"] == 0.25
    assert data["finish_reason"] == "stop"


def test_chat_reasoning_goes_to_stderr_only_when_asked(client: FakeClient) -> None:
    client.streams.append(answer("42", reasoning="let me think"))
    hidden = run(["chat", LLAMA, "Q"], client)
    assert "let me think" not in hidden.out + hidden.err
    client.streams.append(answer("42", reasoning="let me think"))
    shown = run(["chat", LLAMA, "Q", "--show-reasoning"], client)
    assert shown.out == "42\n"
    assert shown.err.startswith("let me think\n[provider: together")


def test_chat_without_client_timings_measures_its_own(client: FakeClient) -> None:
    client.streams.append(answer("a", "b", usage=None, ttft=None, latency=0.0))
    result = run(["chat", LLAMA, "Hi"], client)
    assert "tokens: 0 in / 2 out" in result.err  # estimated from the chunks
    assert "TTFT" in result.err


@pytest.mark.parametrize(
    ("error", "code", "needle"),
    [
        (MissingTokenError("no token"), EXIT_USAGE, "No Hugging Face token found."),
        (
            AuthenticationError("Invalid credentials in Authorization header", status_code=401),
            EXIT_USAGE,
            "The token was rejected",
        ),
        (APIConnectionError("Name or service not known"), EXIT_NETWORK, "Could not reach"),
        (APITimeoutError("read timeout"), EXIT_NETWORK, "timed out after 120 s"),
        (PaymentRequiredError("You have depleted your monthly included credits."), 1, "depleted"),
        (InvalidParameterError("temperature must be <= 2"), EXIT_USAGE, "temperature"),
    ],
)
def test_chat_errors_map_to_exit_codes(
    client: FakeClient, error: Exception, code: int, needle: str
) -> None:
    client.streams.append(FakeStream([], ResponseMeta(), error=error))
    result = run(["chat", LLAMA, "Hi"], client)
    assert result.code == code
    assert needle in result.err
    assert client.closed


def test_missing_token_message_says_how_to_get_one(client: FakeClient) -> None:
    client.streams.append(FakeStream([], ResponseMeta(), error=MissingTokenError("none")))
    result = run(["chat", LLAMA, "Hi"], client)
    for needle in (
        "https://huggingface.co/settings/tokens",
        "Make calls to Inference Providers",
        "export HF_TOKEN=",
        "hf auth login",
    ):
        assert needle in result.err


def test_interrupt_exits_130(client: FakeClient) -> None:
    client.streams.append(FakeStream([], ResponseMeta(), error=KeyboardInterrupt()))  # type: ignore[arg-type]
    assert run(["chat", LLAMA, "Hi"], client).code == 130


def test_usage_errors_and_help(client: FakeClient, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["chat", LLAMA], client).code == EXIT_USAGE
    assert "required: prompt" in capsys.readouterr().err
    assert run(["chat", LLAMA, "Hi", "--max-tokens", "0"], client).code == EXIT_USAGE
    assert run([], client).code == EXIT_USAGE
    assert run(["--help"], client).code == EXIT_OK
    top = capsys.readouterr().out
    assert all(c in top for c in ("chat", "models", "check", "bench", "exit codes"))
    assert run(["chat", "--help"], client).code == EXIT_OK
    chat_help = capsys.readouterr().out
    assert "--provider" in chat_help
    assert "--json" in chat_help
    assert "3  the server" in chat_help
    assert run(["--version"], client).code == EXIT_OK
    assert capsys.readouterr().out.startswith("hfproviders ")
    assert client.calls == []  # nothing was sent for any of these


def test_empty_provider_list_is_a_usage_error(client: FakeClient) -> None:
    result = run(["chat", LLAMA, "Hi", "--provider", ","], client)
    assert result.code == EXIT_USAGE
    assert "--provider" in result.err


# --- chat through the real client on MockTransport ---------------------------------------------


def real_client(
    handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any
) -> Callable[[Any], Any]:
    def factory(args: Any) -> Any:
        transport = httpx.MockTransport(handler)
        return HFClient(
            http_client=httpx.Client(transport=transport), base_url=args.base_url, **kwargs
        )

    return factory


def test_chat_with_real_client_on_mock_transport() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = sse(
            [
                chunk(content="Bonjour"),
                chunk(content=" !", finish_reason="stop"),
                wire_usage_chunk({"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}),
            ]
        )
        return httpx.Response(
            200,
            content=body,
            headers={
                "content-type": "text/event-stream",
                "x-inference-provider": "groq",
                "x-request-id": "mockReq1",
            },
        )

    out, err = io.StringIO(), io.StringIO()
    factory = real_client(handler, api_key=FAKE_TOKEN)
    code = main(
        ["chat", LLAMA, "Salut", "--provider", "groq"],
        client_factory=factory,
        stdout=out,
        stderr=err,
    )
    assert code == EXIT_OK, err.getvalue()
    assert out.getvalue() == "Bonjour !\n"
    assert "provider: groq" in err.getvalue()
    assert "tokens: 5 in / 3 out" in err.getvalue()
    body = json.loads(seen[0].content)
    assert body["model"].startswith(LLAMA)
    assert body["stream"] is True


def test_chat_with_real_client_and_no_token_sends_nothing() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing may be sent without a token")

    out, err = io.StringIO(), io.StringIO()
    code = main(["chat", LLAMA, "Hi"], client_factory=real_client(handler), stdout=out, stderr=err)
    assert code == EXIT_USAGE
    assert "settings/tokens" in err.getvalue()


def test_chat_with_real_client_when_the_network_is_down() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution")

    out, err = io.StringIO(), io.StringIO()
    factory = real_client(handler, api_key=FAKE_TOKEN, max_retries=0)
    code = main(["chat", LLAMA, "Hi"], client_factory=factory, stdout=out, stderr=err)
    assert code == EXIT_NETWORK
    assert "Could not reach the server. Connection to router.huggingface.co failed" in (
        err.getvalue()
    )


# --- models ------------------------------------------------------------------------------------


def test_models_table(client: FakeClient) -> None:
    result = run(["models"], client)
    assert result.code == EXIT_OK
    lines = result.out.splitlines()
    assert lines[0].split() == [
        "MODEL",
        "PROVIDER",
        "STATUS",
        "IN",
        "$/1M",
        "OUT",
        "$/1M",
        "CONTEXT",
        "TOOLS",
        "JSON",
        "TTFT",
        "ms",
        "TOK/S",
    ]
    groq = next(line for line in lines if " groq " in line)
    assert groq.split() == ["groq", "live", "0.05", "0.08", "131,072", "yes", "yes", "210", "750"]
    featherless = next(line for line in lines if "featherless-ai" in line)
    assert featherless.split() == ["featherless-ai", "live", "-", "-", "-", "?", "?", "-", "-"]
    free = next(line for line in lines if "hf-inference" in line)
    assert free.split()[3:5] == ["free", "free"]  # the first row of its model
    assert sum(LLAMA in line for line in lines) == 1  # the model id heads its group once
    assert "4 model(s)" in result.err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["--tools"],
            {
                LLAMA: ["cerebras", "groq", "nscale"],  # listed with its error status
                "Qwen/Qwen2.5-VL-7B-Instruct": ["together"],
                "zai-org/GLM-4.6": ["zai-org"],
            },
        ),
        (["--structured", "--provider", "groq"], {LLAMA: ["groq"]}),
        (
            ["--provider", "NOVITA"],
            {LLAMA: ["novita"], "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B": ["novita"]},
        ),
        (
            ["--task", "image-text-to-text"],
            {"Qwen/Qwen2.5-VL-7B-Instruct": ["hf-inference", "together"]},
        ),
        (
            ["--search", "qwen", "--live"],
            {"Qwen/Qwen2.5-VL-7B-Instruct": ["hf-inference", "together"]},
        ),
        (["--limit", "1", "--live"], {LLAMA: ["cerebras", "groq", "novita", "featherless-ai"]}),
    ],
)
def test_models_filters_in_json(
    client: FakeClient, argv: list[str], expected: dict[str, list[str]]
) -> None:
    result = run(["models", "--json", *argv], client)
    assert result.code == EXIT_OK
    data = json.loads(result.out)
    assert {m["id"]: [p["provider"] for p in m["providers"]] for m in data} == expected


def test_filter_models_without_provider_filters_keeps_models_without_providers() -> None:
    bare = ModelInfo("a/b")
    assert filter_models([bare]) == [bare]
    assert filter_models([bare], tools=True) == []


def test_models_errors(client: FakeClient) -> None:
    client.models = APIConnectionError("down")
    assert run(["models"], client).code == EXIT_NETWORK
    client.models = ServerError("boom", status_code=502)
    result = run(["models"], client)
    assert result.code == EXIT_API_ERROR
    assert "boom" in result.err


# --- check -------------------------------------------------------------------------------------


def test_check_reports_gating_access_and_mapping(client: FakeClient) -> None:
    client.availabilities["google/gemma-2-2b-it"] = availability(
        "hub_gated_granted.yaml", "google/gemma-2-2b-it"
    )
    result = run(["check", "google/gemma-2-2b-it"], client)
    assert result.code == EXIT_OK
    assert (
        "exists: yes   gated: yes (manual)   access: granted   pipeline: text-generation"
        in result.out
    )
    rows = [line.split() for line in result.out.splitlines() if "conversational" in line]
    assert rows == [
        ["nscale", "live", "conversational", "google/gemma-2-2b-it"],
        ["featherless-ai", "staging", "conversational", "google/gemma-2-2b-it"],
    ]


def test_check_flags_problems_with_exit_1(client: FakeClient) -> None:
    denied = "meta-llama/Meta-Llama-3.1-8B-Instruct"
    client.availabilities[denied] = availability("hub_gated_denied.yaml", denied, access=False)
    client.availabilities["no-such-org/no-such-model"] = availability_from_hub_error(
        "no-such-org/no-such-model", 404, {"X-Error-Code": "RepoNotFound"}, token_given=True
    )  # type: ignore[assignment]
    client.availabilities["tiiuae/falcon-7b-instruct"] = availability(
        "hub_no_providers.yaml", "tiiuae/falcon-7b-instruct"
    )
    client.availabilities["microsoft/phi-4"] = availability(
        "hub_mapping_dict.yaml", "microsoft/phi-4"
    )
    result = run(
        ["check", denied, "no-such-org/no-such-model", "tiiuae/falcon-7b-instruct"], client
    )
    assert result.code == EXIT_API_ERROR
    assert "access: no" in result.out
    assert f"https://huggingface.co/{denied}" in result.out
    assert "exists: no" in result.out
    assert "does not know this model" in result.out
    assert "no Inference Provider serves this model" in result.out
    assert run(["check", "microsoft/phi-4"], client).code == EXIT_OK
    for status in ("live", "staging", "error"):
        assert status in run(["check", "microsoft/phi-4"], client).out


def test_check_probe_sends_one_request_per_live_provider(client: FakeClient) -> None:
    model = "meta-llama/Meta-Llama-3.1-8B-Instruct"
    client.availabilities[model] = availability("hub_gated_denied.yaml", model, access=True)
    client.chat_replies = {"cerebras": "ok", "groq": ServerError("upstream down", status_code=503)}
    result = run(["check", model, "--probe"], client)
    assert result.code == EXIT_API_ERROR
    probes = [(c[2]["provider"], c[2]["max_tokens"]) for c in client.calls if c[0] == "chat"]
    assert probes == [("cerebras", 16), ("groq", 16)]  # nscale is in error: not probed
    assert "FAIL ServerError: upstream down" in result.out
    assert "not probed" in result.out  # the nscale row


def test_check_probe_timeout_is_recorded_not_fatal(client: FakeClient) -> None:
    model = "microsoft/phi-4"
    client.availabilities[model] = availability("hub_mapping_dict.yaml", model)
    client.chat_replies = {"nscale": APITimeoutError("read timeout")}
    result = run(["check", model, "--probe", "--json"], client)
    [report] = json.loads(result.out)
    assert report["probes"] == [
        {
            "provider": "nscale",
            "ok": False,
            "latency_s": None,
            "error": "APITimeoutError: read timeout",
        }
    ]
    assert result.code == EXIT_API_ERROR


def test_check_probe_skipped_without_access_and_needs_a_token(client: FakeClient) -> None:
    model = "meta-llama/Meta-Llama-3.1-8B-Instruct"
    client.availabilities[model] = availability("hub_gated_denied.yaml", model, access=False)
    run(["check", model, "--probe"], client)
    assert not [c for c in client.calls if c[0] == "chat"]
    client.availabilities["microsoft/phi-4"] = availability(
        "hub_mapping_dict.yaml", "microsoft/phi-4"
    )
    client.chat_replies = {"nscale": MissingTokenError("none")}
    result = run(["check", "microsoft/phi-4", "--probe"], client)
    assert result.code == EXIT_USAGE
    assert "settings/tokens" in result.err


def test_check_json(client: FakeClient) -> None:
    client.availabilities["microsoft/phi-4"] = availability(
        "hub_mapping_dict.yaml", "microsoft/phi-4"
    )
    result = run(["check", "microsoft/phi-4", "--json"], client)
    [report] = json.loads(result.out)
    assert report["model"] == "microsoft/phi-4"
    assert report["exists"] is True
    assert [p["status"] for p in report["providers"]] == ["live", "staging", "error"]
    assert report["probes"] == []


def test_check_hub_unreachable_exits_3(client: FakeClient) -> None:
    client.availabilities["microsoft/phi-4"] = APIConnectionError("Could not reach the Hub")
    assert run(["check", "microsoft/phi-4"], client).code == EXIT_NETWORK


# --- models and check through the real client, replaying the discovery cassettes ---------------


class CassetteServer:
    """The network of a real `HFClient`: the router and the Hub answer from cassettes.

    Chat requests (the probes of `check --probe`) go to `chat`, when given.
    """

    def __init__(
        self,
        *cassettes: str,
        chat: Callable[[httpx.Request], httpx.Response] | None = None,
        failure: Exception | None = None,
    ) -> None:
        self.recorded = [item for name in cassettes for item in interactions(name)]
        self.chat = chat
        self.failure = failure
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.failure is not None:
            raise self.failure
        if self.chat is not None and request.url.path == "/v1/chat/completions":
            return self.chat(request)
        return recorded_response(self.recorded, request)

    def run(self, argv: list[str], **client: Any) -> Run:
        """`main(argv)` with a real `HFClient` whose transport is this server."""
        client.setdefault("api_key", FAKE_TOKEN)

        def factory(args: Any) -> Any:
            transport = httpx.MockTransport(self.handle)
            return HFClient(
                http_client=httpx.Client(transport=transport),
                base_url=args.base_url,
                timeout=args.timeout,
                **client,
            )

        out, err = io.StringIO(), io.StringIO()
        code = main(argv, client_factory=factory, stdout=out, stderr=err)
        return Run(code, out.getvalue(), err.getvalue())

    @property
    def paths(self) -> list[str]:
        return [request.url.path for request in self.requests]


@pytest.fixture
def no_stored_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the machine has (HF_TOKEN, `hf auth login`), the client finds no token."""
    monkeypatch.setattr(hfproviders._config, "lookup_token", lambda: None)


def probe_answer(request: httpx.Request) -> httpx.Response:
    provider = json.loads(request.content)["model"].rpartition(":")[2]
    body = {
        "id": "probe",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "OK"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 1, "total_tokens": 13},
    }
    return httpx.Response(200, json=body, headers={"x-inference-provider": provider})


PHI4, GEMMA = "microsoft/phi-4", "google/gemma-2-2b-it"
DENIED, MISSING = "meta-llama/Meta-Llama-3.1-8B-Instruct", "no-such-org/no-such-model"


def test_models_table_from_the_real_client() -> None:
    server = CassetteServer("router_models.yaml")
    result = server.run(["models"])
    assert result.code == EXIT_OK, result.err
    lines = result.out.splitlines()
    assert lines[0].split()[:3] == ["MODEL", "PROVIDER", "STATUS"]
    assert lines[2].split() == [
        LLAMA,
        "cerebras",
        "live",
        "0.10",
        "0.10",
        "32,768",
        "yes",
        "no",
        "180",
        "2100",
    ]
    groq = next(line for line in lines if " groq " in line)
    assert groq.split() == ["groq", "live", "0.05", "0.08", "131,072", "yes", "yes", "210", "750"]
    assert "4 model(s)" in result.err
    [request] = server.requests
    assert (request.method, str(request.url)) == ("GET", "https://router.huggingface.co/v1/models")
    assert request.headers["authorization"] == f"Bearer {FAKE_TOKEN}"


def test_models_json_from_the_real_client() -> None:
    server = CassetteServer("router_models.yaml")
    result = server.run(["models", "--json"])
    assert result.code == EXIT_OK
    expected = [m.to_dict() for m in parse_models_response(cassette_json("router_models.yaml"))]
    assert json.loads(result.out) == json.loads(json.dumps(expected))
    tools = server.run(["models", "--json", "--tools", "--live"])
    assert {m["id"]: [p["provider"] for p in m["providers"]] for m in json.loads(tools.out)} == {
        LLAMA: ["cerebras", "groq"],
        "Qwen/Qwen2.5-VL-7B-Instruct": ["together"],
        "zai-org/GLM-4.6": ["zai-org"],
    }


def test_models_without_a_token_exits_2_and_sends_nothing(no_stored_token: None) -> None:
    server = CassetteServer("router_models.yaml")
    result = server.run(["models"], api_key=None)
    assert result.code == EXIT_USAGE
    assert "No Hugging Face token found." in result.err
    assert "hf auth login" in result.err
    assert result.out == ""
    assert server.requests == []


def test_models_without_network_exits_3() -> None:
    server = CassetteServer(failure=httpx.ConnectError("[Errno -3] name resolution failed"))
    result = server.run(["models"], max_retries=0)
    assert result.code == EXIT_NETWORK
    assert "Connection to router.huggingface.co failed" in result.err
    assert "HTTPS_PROXY" in result.err


def test_check_from_the_real_client() -> None:
    server = CassetteServer("hub_mapping_dict.yaml", "hub_gated_granted.yaml")
    result = server.run(["check", PHI4, GEMMA])
    assert result.code == EXIT_OK, result.out + result.err
    assert "exists: yes   gated: no   access: yes   pipeline: text-generation" in result.out
    assert "exists: yes   gated: yes (manual)   access: granted" in result.out
    rows = [line.split() for line in result.out.splitlines() if "conversational" in line]
    assert [row[:2] for row in rows] == [
        ["nscale", "live"],
        ["featherless-ai", "staging"],
        ["novita", "error"],
        ["nscale", "live"],
        ["featherless-ai", "staging"],
    ]
    assert server.paths == [
        f"/api/models/{PHI4}",
        f"/api/models/{GEMMA}",
        f"/api/models/{GEMMA}/auth-check",
    ]


def test_check_gated_and_missing_models_exit_1() -> None:
    server = CassetteServer("hub_gated_denied.yaml", "hub_not_found.yaml")
    result = server.run(["check", DENIED, MISSING])
    assert result.code == EXIT_API_ERROR
    assert "exists: yes   gated: yes (manual)   access: no" in result.out
    assert f"request it at https://huggingface.co/{DENIED}" in result.out
    assert "exists: no" in result.out
    assert "does not know this model" in result.out
    for cassette, model in (("hub_gated_denied.yaml", DENIED), ("hub_not_found.yaml", MISSING)):
        assert CassetteServer(cassette).run(["check", model]).code == EXIT_API_ERROR


def test_check_json_from_the_real_client() -> None:
    server = CassetteServer("hub_mapping_dict.yaml", "hub_gated_denied.yaml")
    result = server.run(["check", PHI4, DENIED, "--json"])
    assert result.code == EXIT_API_ERROR  # the gated model is not accessible
    phi4, denied = json.loads(result.out)
    assert (phi4["model"], phi4["exists"], phi4["accessible"], phi4["error"]) == (
        PHI4,
        True,
        True,
        None,
    )
    assert [(p["provider"], p["status"]) for p in phi4["providers"]] == [
        ("nscale", "live"),
        ("featherless-ai", "staging"),
        ("novita", "error"),
    ]
    assert (denied["accessible"], denied["error_code"]) == (False, "gated")
    assert phi4["probes"] == denied["probes"] == []


def test_check_probe_from_the_real_client() -> None:
    server = CassetteServer("hub_mapping_dict.yaml", "hub_gated_denied.yaml", chat=probe_answer)
    result = server.run(["check", PHI4, DENIED, "--probe"])
    assert result.code == EXIT_API_ERROR  # the gated model, not the probe
    [probe] = [r for r in server.requests if r.url.path == "/v1/chat/completions"]
    body = json.loads(probe.content)
    assert (body["model"], body["max_tokens"]) == (f"{PHI4}:nscale", 16)
    nscale = next(line for line in result.out.splitlines() if line.split()[0] == "nscale")
    assert nscale.split()[-2] == "ok"
    assert "not probed" in result.out  # the staging and error rows
    alone = CassetteServer("hub_mapping_dict.yaml", chat=probe_answer).run(
        ["check", PHI4, "--probe"]
    )
    assert alone.code == EXIT_OK


def test_check_probe_failure_exits_1() -> None:
    def overloaded(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": "Service Unavailable"})

    server = CassetteServer("hub_mapping_dict.yaml", chat=overloaded)
    result = server.run(["check", PHI4, "--probe", "--json"], max_retries=0)
    assert result.code == EXIT_API_ERROR
    [report] = json.loads(result.out)
    [probe] = report["probes"]
    assert (probe["provider"], probe["ok"]) == ("nscale", False)
    assert probe["error"].startswith("ServiceUnavailableError")


def test_check_without_a_token_asks_anonymously(no_stored_token: None) -> None:
    server = CassetteServer("hub_gated_granted.yaml")
    result = server.run(["check", GEMMA], api_key=None)
    assert result.code == EXIT_OK
    assert "access: unknown (no token)" in result.out
    assert "authorization" not in server.requests[0].headers
    assert len(server.requests) == 1  # no access check without a token


def test_check_probe_without_a_token_exits_2(no_stored_token: None) -> None:
    server = CassetteServer("hub_mapping_dict.yaml", chat=probe_answer)
    result = server.run(["check", PHI4, "--probe"], api_key=None)
    assert result.code == EXIT_USAGE
    assert "No Hugging Face token found." in result.err
    assert server.paths == [f"/api/models/{PHI4}"]  # the probe was never sent


def test_check_with_a_rejected_token_exits_2() -> None:
    result = CassetteServer("hub_invalid_token.yaml").run(["check", PHI4, GEMMA])
    assert result.code == EXIT_USAGE
    assert "The token was rejected" in result.err
    assert "https://huggingface.co/settings/tokens" in result.err


def test_check_without_network_exits_3() -> None:
    server = CassetteServer(failure=httpx.ConnectError("[Errno -3] name resolution failed"))
    result = server.run(["check", PHI4], max_retries=0)
    assert result.code == EXIT_NETWORK
    assert "Connection to huggingface.co failed" in result.err


# --- bench -------------------------------------------------------------------------------------


def test_percentile() -> None:
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 50) == pytest.approx(5.5)
    assert percentile(values, 95) == pytest.approx(9.55)
    assert percentile([3.0], 95) == 3.0
    assert percentile([], 50) is None


def test_tokens_per_second() -> None:
    assert BenchRun(True, latency_s=2.5, ttft_s=0.5, completion_tokens=100).tokens_per_s == 50.0
    assert BenchRun(True, latency_s=0.5, ttft_s=0.5, completion_tokens=100).tokens_per_s is None
    assert BenchRun(False, error="x").tokens_per_s is None


def test_bench_compares_providers(client: FakeClient) -> None:
    latencies = {"groq": [1.0, 2.0, 3.0], "together": [4.0, 4.0]}
    for name in ("groq", "together"):
        for latency in latencies[name]:
            client.streams.append(
                answer("x" * 10, provider=name, usage=(10, 50), ttft=0.5, latency=latency)
            )
        if name == "together":
            client.streams.append(ServerError("overloaded", status_code=503))
    result = run(["bench", LLAMA, "--providers", "groq,together", "--runs", "3"], client)
    assert result.code == EXIT_OK
    rows = {line.split()[0]: line.split() for line in result.out.splitlines()[2:]}
    # TARGET RUNS ERR% TTFTp50 LATp50 LATp95 TOK/S $/RUN
    assert rows["chat:groq"][:6] == ["chat:groq", "3", "0", "0.50s", "2.00s", "2.90s"]
    assert rows["chat:groq"][6] == "51"  # mean of 50/0.5, 50/1.5, 50/2.5 tokens/s
    assert rows["chat:groq"][7] == "0.000005"  # (10 x 0.05 + 50 x 0.08) / 1e6
    assert rows["chat:together"][:3] == ["chat:together", "3", "33"]
    assert "chat:together: ServerError: overloaded" in result.err
    sent = [c[2] for c in client.calls if c[0] == "stream"]
    assert sent[0] == {"max_tokens": 128, "provider": "groq"}


def test_bench_defaults_to_every_live_provider(client: FakeClient) -> None:
    for _ in range(4):
        client.streams.append(answer("x"))
    result = run(["bench", LLAMA, "--runs", "1", "--json"], client)
    data = json.loads(result.out)
    assert [t["target"] for t in data["targets"]] == [
        "chat:cerebras",
        "chat:groq",
        "chat:novita",
        "chat:featherless-ai",
    ]
    assert data["targets"][3]["cost_per_run_usd"] is None  # featherless lists no price


def test_bench_unlisted_model_uses_the_router_default(client: FakeClient) -> None:
    client.streams.append(answer("x"))
    result = run(["bench", "someone/private-model", "--runs", "1", "--json"], client)
    [target] = json.loads(result.out)["targets"]
    assert target["target"] == "chat:auto"
    [stream_call] = [c for c in client.calls if c[0] == "stream"]
    assert "provider" not in stream_call[2]


def test_bench_text_generation_and_both(client: FakeClient) -> None:
    tokens = [
        TextGenerationChunk(i, TokenInfo(i, t, special=t == "</s>"))
        for i, t in enumerate(["a", "b", "</s>"])
    ]

    class TGStream:
        def __init__(self) -> None:
            self.meta = ResponseMeta(provider="hf-inference", latency_s=2.0, ttft_s=1.0)

        def __iter__(self) -> Iterator[TextGenerationChunk]:
            return iter(tokens)

    client.tg_stream = lambda: TGStream()
    result = run(["bench", "gpt2", "--api", "text-generation", "--runs", "2", "--json"], client)
    [target] = json.loads(result.out)["targets"]
    assert target["target"] == "text-generation"
    assert target["tokens_per_s"] == 2.0
    assert [c[2] for c in client.calls if c[0] == "text_generation_stream"] == [
        {"max_new_tokens": 128}
    ] * 2
    client.streams.append(answer("x"))
    both = run(
        ["bench", LLAMA, "--api", "both", "--providers", "groq", "--runs", "1", "--json"], client
    )
    assert [t["target"] for t in json.loads(both.out)["targets"]] == [
        "chat:groq",
        "text-generation",
    ]


def test_bench_all_failed_exits_1_and_token_problems_exit_2(client: FakeClient) -> None:
    client.streams.append(ServerError("down", status_code=500))
    assert (
        run(["bench", LLAMA, "--providers", "groq", "--runs", "1"], client).code == EXIT_API_ERROR
    )
    client.streams.append(MissingTokenError("none"))
    assert run(["bench", LLAMA, "--providers", "groq", "--runs", "3"], client).code == EXIT_USAGE
    client.models = ServerError("no list", status_code=500)
    client.streams.append(answer("x"))
    result = run(["bench", LLAMA, "--runs", "1"], client)
    assert result.code == EXIT_OK
    assert "could not read /models" in result.err


def test_bench_png_without_matplotlib_exits_2_before_sending(
    client: FakeClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(_plot.importlib.util, "find_spec", lambda name: None)
    png = tmp_path / "bench.png"
    result = run(["bench", LLAMA, "--providers", "groq", "--runs", "1", "--png", str(png)], client)
    assert result.code == EXIT_USAGE
    assert 'pip install "hfproviders[plot]"' in result.err
    assert client.calls == [] and not png.exists()


def test_bench_png_is_a_chart_of_every_metric(client: FakeClient, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the `plot` extra is part of `dev`")
    client.streams += [answer("x"), answer("y")]
    png = tmp_path / "bench.png"
    result = run(
        ["bench", LLAMA, "--providers", "groq,together", "--runs", "1", "--png", str(png)], client
    )
    assert result.code == EXIT_OK and f"chart written to {png}" in result.err
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and png.stat().st_size > 10_000


def test_bench_chart_panels_and_no_legend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib", reason="the `plot` extra is part of `dev`")
    import matplotlib.figure

    figures: list[Any] = []
    monkeypatch.setattr(
        matplotlib.figure.Figure, "savefig", lambda fig, *a, **k: figures.append(fig)
    )
    summaries = [
        {
            "target": "chat:groq",
            "ttft_p50_s": 0.2,
            "latency_p50_s": 0.5,
            "latency_p95_s": 0.9,
            "tokens_per_s": 300.0,
            "error_rate": 0.0,
            "cost_per_run_usd": 0.0001,
        },
        {
            "target": "chat:novita",
            "ttft_p50_s": None,
            "latency_p50_s": None,
            "latency_p95_s": None,
            "tokens_per_s": None,
            "error_rate": 1.0,
            "cost_per_run_usd": None,
        },
    ]
    _plot.write_png(str(tmp_path / "x.png"), summaries, "title")
    (figure,) = figures
    axes = figure.axes
    assert [a.get_title() for a in axes] == [name for _, name, _ in _plot.PANELS]
    assert all(a.get_legend() is None for a in axes)
    labels = [t.get_text() for t in axes[0].texts]
    assert labels == ["200 ms", "n/a"]
    assert [t.get_text() for t in axes[4].texts] == ["0 %", "100 %"]
    ticks = [t.get_text() for t in axes[0].get_yticklabels()]
    assert ticks == ["chat:groq", "chat:novita"]
    assert axes[0].get_ylim()[0] > axes[0].get_ylim()[1]  # first target on top


def test_progress_bar_only_on_a_terminal(client: FakeClient) -> None:
    client.streams.append(answer("x"))
    result = run(["bench", LLAMA, "--providers", "groq", "--runs", "1"], client)
    assert "[#" not in result.err and "\r" not in result.err

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    client.streams.append(answer("x"))
    err = Terminal()
    main(
        ["bench", LLAMA, "--providers", "groq", "--runs", "1"],
        client_factory=lambda _a: client,
        stdout=io.StringIO(),
        stderr=err,
    )
    assert "\r[##############################] 1/1" in err.getvalue()


def test_render_table_alignment() -> None:
    table = render_table(["A", "NUM"], [["x", "1"], ["long", "100"]], right={1})
    assert table.splitlines() == ["A     NUM", "----  ---", "x       1", "long  100"]


# --- the module entry point --------------------------------------------------------------------


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
    env.update(
        HF_HOME=str(tmp_path),
        HF_TOKEN_PATH=str(tmp_path / "token"),
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_OFFLINE="1",
    )
    return env


def test_python_m_hfproviders_help(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hfproviders", "--help"],
        capture_output=True,
        text=True,
        env=_clean_env(tmp_path),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "usage: hfproviders" in done.stdout
    assert "exit codes" in done.stdout


def test_python_m_hfproviders_chat_without_token(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hfproviders", "chat", LLAMA, "Hi"],
        capture_output=True,
        text=True,
        env=_clean_env(tmp_path),
        timeout=60,
        check=False,
    )
    assert done.returncode == EXIT_USAGE, done.stderr
    assert "https://huggingface.co/settings/tokens" in done.stderr
    assert done.stdout == ""
