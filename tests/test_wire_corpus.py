"""The corpus: every interaction of every cassette in cassettes/, replayed through the core (both
twins, streamed and not where the answer allows) and both adapters, against expectations read
from the raw bytes by a minimal reader written here, independently of the product's code.

The reader knows the wire rules as docs/core-api.md states them (reasoning fields, `<think>`
tags, the chat-template guess from the model name, JSON answers under `response_format`, tool
calls merged by index or id, finish-reason aliases, one usage) and nothing of how `_normalize`
implements them. A new cassette anywhere in cassettes/ is picked up without a change here.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from hfproviders._params import CHAT_PARAMS
from tests.conftest import FAKE_TOKEN

# The request-shape cassettes send shapes the client accepts with a warning (asserted in
# tests/core/test_wire_fidelity.py); here only the answers matter.
pytestmark = [
    pytest.mark.filterwarnings("ignore:response_format json_schema has the schema fields inline"),
    pytest.mark.filterwarnings("ignore:messages.*has no tool_call_id"),
]

ROOT = Path(__file__).resolve().parents[1] / "cassettes"
DEFAULT_MODEL = "meta-llama/Llama-3.3-70B-Instruct"
# Documented guess (docs/core-api.md): these names' chat templates open the <think> block.
TEMPLATE_OPENS = re.compile(r"deepseek-r1|qwq|thinking|-r1-distill", re.IGNORECASE)
JSON_FORMATS = ("json_object", "json_schema", "json")
KNOWN_PARAMS = CHAT_PARAMS  # what the replayed request passes as parameters (the rest: extra_body)


# -- the cassettes -----------------------------------------------------------------------------


@dataclass
class Case:
    cassette: str
    index: int
    uri: str
    request: dict[str, Any] | None
    status: int
    headers: dict[str, str]
    body: str

    @property
    def id(self) -> str:
        return f"{self.cassette}#{self.index}"

    @property
    def path(self) -> str:
        return urlsplit(self.uri).path


def kind_of(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.path.endswith("/chat/completions"):
        return "chat"
    if parts.netloc == "huggingface.co":
        return "hub"
    if parts.path.rstrip("/").endswith("/v1/models") or "/v1/models/" in parts.path:
        return "models"
    if "embed" in parts.path or "feature-extraction" in parts.path:
        return "embeddings"
    return "text_generation"


def load_cases() -> dict[str, list[Case]]:
    cases: dict[str, list[Case]] = {}
    for path in sorted(ROOT.rglob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        for index, item in enumerate(data.get("interactions") or ()):
            request, response = item["request"], item["response"]
            raw = request.get("body")
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            string = response["body"]["string"]
            case = Case(
                cassette=str(path.relative_to(ROOT)),
                index=index,
                uri=request["uri"],
                request=body if isinstance(body, dict) else None,
                status=response["status"]["code"],
                headers={k.lower(): v[0] for k, v in (response.get("headers") or {}).items()},
                body=string.decode() if isinstance(string, bytes) else string,
            )
            cases.setdefault(kind_of(case.uri), []).append(case)
    return cases


CASES = load_cases()


def test_the_corpus_covers_every_cassette() -> None:
    files = {str(p.relative_to(ROOT)) for p in ROOT.rglob("*.yaml")}
    seen = {c.cassette for group in CASES.values() for c in group}
    assert files == seen
    assert len(CASES["chat"]) >= 150  # the corpus only grows
    wire = {c.cassette for c in CASES["chat"] if c.cassette.startswith("wire/")}
    assert len(wire) == 9  # at least one hand-written cassette per class of issue 10
    # Every kind has its replay below; a new kind of cassette needs one here.
    assert set(CASES) <= {"chat", "text_generation", "hub", "models", "embeddings"}


if CASES.get("embeddings"):  # defined once such cassettes exist (no empty parameter set)

    @pytest.mark.parametrize("case", CASES["embeddings"], ids=[c.id for c in CASES["embeddings"]])
    def test_embedding_answers_are_json_or_a_typed_error_body(case: Case) -> None:
        # Embeddings have their own replay suite (issue 14); here: the bytes are sane.
        data = json.loads(case.body)
        if case.status < 400:
            assert isinstance(data, list | dict)
        else:
            assert error_text(case.body) is not None or isinstance(data, dict)


# -- the independent reader ----------------------------------------------------------------------


@dataclass
class Expected:
    """What the raw bytes say the answer is (choice 0), or the error they carry."""

    error_status: int | None = None
    error_text: str | None = None
    content: str = ""
    reasoning: str | None = None
    calls: list[tuple[str, Any]] = field(default_factory=list)
    finish: str | None = None
    usage: tuple[int, int, int] | None = None
    lone_close: bool = False  # a </think> with no opening: streamed as answer, then moved
    logprobs: list[tuple[str, float, list[int]]] | None = None


def error_text(body: str) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    error = data.get("error")
    if isinstance(error, str):
        return error
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    for key in ("detail", "message"):
        if isinstance(data.get(key), str):
            return str(data[key])
    return None


def sse_payloads(body: str) -> tuple[list[Any], bool]:
    """The JSON payloads of `data:` lines up to `[DONE]`, and whether `[DONE]` came."""
    payloads: list[Any] = []
    for line in body.splitlines():
        if not line.startswith("data:"):
            continue
        data = line[5:].removeprefix(" ").strip()
        if data == "[DONE]":
            return payloads, True
        if data:
            payloads.append(json.loads(data))
    return payloads, False


def as_arguments(value: Any) -> Any:
    """Tool-call arguments as compared: the JSON value when they parse, else the raw text."""
    if value is None or value == "":
        return {}
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def token_logprobs(raw: Any) -> list[tuple[str, float, list[int]]]:
    """(token, logprob, bytes) of each token; bytes as sent, or decoded from base64, or UTF-8."""
    import base64

    out = []
    for item in (raw or {}).get("content") or ():
        value = item.get("bytes")
        if isinstance(value, str):
            value = list(base64.b64decode(value))
        elif not isinstance(value, list):
            value = list(item["token"].encode())
        out.append((item["token"], float(item["logprob"]), value))
    return out


def text_of(content: Any) -> str:
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def read_chat(case: Case, model: str) -> Expected:
    request = case.request or {}
    if case.status >= 400:
        return Expected(error_status=case.status, error_text=error_text(case.body))
    streamed = "event-stream" in case.headers.get(
        "content-type", ""
    ) or case.body.lstrip().startswith("data:")
    n_asked = isinstance(request.get("n"), int) and request["n"] > 1
    text, reasoning_field = "", ""
    calls: dict[Any, list[Any]] = {}
    order: list[Any] = []
    finish: str | None = None
    usage: Any = None
    logprobs: list[tuple[str, float, list[int]]] = []
    if streamed:
        events, _done = sse_payloads(case.body)
        for event in events:
            if event.get("error"):
                error = event["error"]
                status = error.get("http_status_code") if isinstance(error, dict) else None
                message = error if isinstance(error, str) else error.get("message")
                return Expected(error_status=status or -1, error_text=message)
            usage = event.get("usage") or usage
            choices = event.get("choices") or []
            for choice in choices:
                if n_asked and choice.get("index") != 0:
                    continue
                delta = choice.get("delta") or {}
                logprobs += token_logprobs(choice.get("logprobs"))
                if isinstance(delta.get("content"), str | list):
                    text += text_of(delta["content"])
                piece = delta.get("reasoning_content") or delta.get("reasoning")
                reasoning_field += piece if isinstance(piece, str) else ""
                for raw in delta.get("tool_calls") or ():
                    function = raw.get("function") or {}
                    index = raw.get("index")
                    if isinstance(index, int) and index >= 0:
                        key: Any = ("index", index)
                    elif raw.get("id") not in (None, ""):
                        key = ("id", raw["id"])
                    elif function.get("name") is None and order:
                        key = order[-1]
                    else:
                        key = ("new", len(order))
                    if key not in calls:
                        calls[key] = [function.get("name"), ""]
                        order.append(key)
                    slot = calls[key]
                    slot[0] = slot[0] or function.get("name")
                    args = function.get("arguments", function.get("parameters"))
                    slot[1] += (
                        args
                        if isinstance(args, str)
                        else json.dumps(args)
                        if args is not None
                        else ""
                    )
                finish = choice.get("finish_reason") or finish
    else:
        data = json.loads(case.body)
        if isinstance(data, dict) and data.get("error"):
            return Expected(error_status=-1, error_text=error_text(case.body))
        choice = data["choices"][0]
        message = choice.get("message") or {}
        text = text_of(message.get("content"))
        piece = message.get("reasoning_content") or message.get("reasoning")
        reasoning_field = piece if isinstance(piece, str) else ""
        for number, raw in enumerate(message.get("tool_calls") or ()):
            function = raw.get("function") or {}
            args = function.get("arguments", function.get("parameters"))
            calls[number] = [
                function.get("name"),
                args if isinstance(args, str) else json.dumps(args) if args is not None else "",
            ]
            order.append(number)
        finish = choice.get("finish_reason")
        usage = data.get("usage")
        logprobs = token_logprobs(choice.get("logprobs"))
    expected = Expected(usage=read_usage(usage), logprobs=logprobs or None)
    expected.calls = [(calls[k][0] or "", as_arguments(calls[k][1])) for k in order]
    structured = (request.get("response_format") or {}).get("type") in JSON_FORMATS
    opens = bool(TEMPLATE_OPENS.search(model)) and not reasoning_field
    inline: str | None = None
    opened = re.match(r"\s*<think>", text)
    if opened:
        body = text[opened.end() :]
        inner, closed, after = body.partition("</think>")
        inline, text = inner.strip() or None, after.lstrip() if closed else ""
    elif "</think>" in text:
        before, _, after = text.partition("</think>")
        inline, text = before.strip() or None, after.lstrip()
        expected.lone_close = not opens
    elif opens and text.strip() and not (structured and text.lstrip()[0] in "{["):
        inline, text = text.strip(), ""
    expected.reasoning = "\n".join(p for p in (reasoning_field, inline) if p) or None
    tools = {t["function"]["name"] for t in request.get("tools") or () if "function" in t}
    if not expected.calls and tools and text.strip()[:1] in ("[", "{"):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        items = value if isinstance(value, list) else [value]
        if items and all(isinstance(i, dict) and i.get("name") in tools for i in items):
            expected.calls = [
                (i["name"], as_arguments(i.get("arguments", i.get("parameters", {}))))
                for i in items
            ]
            text = ""
    expected.content = text
    finish = {"eos_token": "stop", "stop_sequence": "stop"}.get(finish or "", finish)
    if expected.calls and finish in (None, "stop"):
        finish = "tool_calls"
    expected.finish = finish or ("stop" if streamed else None)
    return expected


def read_usage(usage: Any) -> tuple[int, int, int] | None:
    if not isinstance(usage, dict):
        return None
    prompt, completion = (
        int(usage.get("prompt_tokens") or 0),
        int(usage.get("completion_tokens") or 0),
    )
    return prompt, completion, int(usage.get("total_tokens") or prompt + completion)


# -- driving the product -------------------------------------------------------------------------


def recorded_response(case: Case) -> httpx.Response:
    """The interaction's recorded response (the body is already decoded: no length/encoding)."""
    headers = [
        (k, v) for k, v in case.headers.items() if k not in ("content-length", "content-encoding")
    ]
    return httpx.Response(case.status, headers=headers, content=case.body.encode())


def replay(case: Case) -> httpx.MockTransport:
    """A transport that answers every request with the interaction's recorded response."""
    return httpx.MockTransport(lambda request: recorded_response(case))


def call_of(case: Case) -> tuple[str, Any, dict[str, Any], dict[str, Any]]:
    """(model, messages, params, client options) to replay the request as it was made."""
    request = dict(case.request or {})
    model = request.pop("model", None) or DEFAULT_MODEL
    messages = request.pop("messages", None) or [{"role": "user", "content": "Hi"}]
    for key in ("stream", "stream_options"):
        request.pop(key, None)
    params = {k: v for k, v in request.items() if k in KNOWN_PARAMS}
    extra = {k: v for k, v in request.items() if k not in KNOWN_PARAMS}
    if extra:
        params["extra_body"] = extra
    options: dict[str, Any] = {"api_key": FAKE_TOKEN, "max_retries": 0}
    parts = urlsplit(case.uri)
    if parts.netloc != "router.huggingface.co" or not parts.path.startswith("/v1/"):
        options["base_url"] = (
            f"{parts.scheme}://{parts.netloc}{parts.path.removesuffix('/chat/completions')}"
        )
    return model, messages, params, options


@dataclass
class Seen:
    """What a product surface returned, reduced to what the reader predicts."""

    content: str = ""
    reasoning: str | None = None
    calls: list[tuple[str, Any]] = field(default_factory=list)
    finish: str | None = None
    usage: tuple[int, int, int] | None = None
    logprobs: list[tuple[str, float, list[int]]] | None = None


def seen_from_completion(completion: Any) -> Seen:
    choice = next(c for c in completion.choices if c.index == 0)
    message = choice.message
    usage = completion.usage
    return Seen(
        content=message.content or "",
        reasoning=message.reasoning or None,
        calls=[(c.function.name, as_arguments(c.function.arguments)) for c in message.tool_calls],
        finish=choice.finish_reason,
        usage=(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) if usage else None,
        logprobs=[(t["token"], t["logprob"], t["bytes"]) for t in choice.logprobs["content"]]
        if choice.logprobs and choice.logprobs.get("content")
        else None,
    )


def check(seen: Seen, expected: Expected, where: str) -> None:
    assert (seen.content, seen.reasoning) == (expected.content, expected.reasoning), where
    assert seen.calls == expected.calls, where
    assert seen.finish == expected.finish, where
    assert seen.usage == expected.usage, where
    assert seen.logprobs == expected.logprobs, where


def check_error(error: BaseException, expected: Expected, where: str) -> None:
    status = getattr(error, "status_code", None)
    if expected.error_status and expected.error_status > 0:
        assert status == expected.error_status, where
    else:
        assert status is not None and status >= 400, where
    if expected.error_text:
        assert expected.error_text[:60] in str(error), where


def run_core(case: Case, is_async: bool, streamed: bool) -> tuple[Any, list[Any]]:
    from hfproviders import AsyncHFClient, HFClient

    model, messages, params, options = call_of(case)
    transport = replay(case)

    if not is_async:
        with HFClient(http_client=httpx.Client(transport=transport), **options) as client:
            if not streamed:
                return client.chat(model, messages, **params), []
            stream = client.stream(model, messages, **params)
            chunks = list(stream)
            return stream.completion, chunks

    async def go() -> tuple[Any, list[Any]]:
        async with AsyncHFClient(
            http_async_client=httpx.AsyncClient(transport=transport), **options
        ) as client:
            if not streamed:
                return await client.chat(model, messages, **params), []
            stream = client.stream(model, messages, **params)
            chunks = [c async for c in stream]
            return stream.completion, chunks

    return asyncio.run(go())


def modes(case: Case) -> list[bool]:
    """Streamed and not where the answer allows: an SSE body can only answer a stream."""
    sse = "event-stream" in case.headers.get("content-type", "") or case.body.lstrip().startswith(
        "data:"
    )
    return [True] if sse else [False, True]


CHAT_IDS = [c.id for c in CASES["chat"]]


@pytest.mark.parametrize("case", CASES["chat"], ids=CHAT_IDS)
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_core_reads_what_the_bytes_say(case: Case, is_async: bool) -> None:
    model = call_of(case)[0]
    expected = read_chat(case, model)
    for streamed in modes(case):
        where = f"{case.id} {'async' if is_async else 'sync'} {'stream' if streamed else 'chat'}"
        if expected.error_status is not None:
            with pytest.raises(Exception) as caught:  # noqa: PT011 - the type is checked below
                run_core(case, is_async, streamed)
            from hfproviders import HFProvidersError

            assert isinstance(caught.value, HFProvidersError), where
            check_error(caught.value, expected, where)
            continue
        completion, chunks = run_core(case, is_async, streamed)
        check(seen_from_completion(completion), expected, where)
        if streamed and not expected.lone_close:
            # The chunks and the merged view agree (a lone </think> moves streamed answer
            # text to reasoning in the merged view only: documented).
            pieces = [ch for c in chunks for ch in c.choices if ch.index == 0]
            assert "".join(ch.delta.content or "" for ch in pieces) == expected.content, where
            joined = "".join(ch.delta.reasoning or "" for ch in pieces) or None
            assert joined == expected.reasoning, where


# -- both adapters ---------------------------------------------------------------------------------


def adapter_call(case: Case) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(model, per-call params, constructor options) for an adapter replaying `case`."""
    model, _messages, params, options = call_of(case)
    params.pop("extra_body", None)  # provider-specific fields do not change how answers read
    transport = replay(case)
    options["http_client"] = httpx.Client(transport=transport)
    options["http_async_client"] = httpx.AsyncClient(transport=transport)
    return model, params, options


def langchain_seen(message: Any) -> Seen:
    usage = message.usage_metadata
    calls = [(c["name"], c["args"]) for c in message.tool_calls]
    calls += [(c["name"], as_arguments(c["args"])) for c in message.invalid_tool_calls]
    logprobs = message.response_metadata.get("logprobs")
    return Seen(
        content=message.content if isinstance(message.content, str) else "",
        reasoning=message.additional_kwargs.get("reasoning_content") or None,
        calls=calls,
        finish=message.response_metadata.get("finish_reason"),
        usage=(usage["input_tokens"], usage["output_tokens"], usage["total_tokens"])
        if usage
        else None,
        logprobs=[(t["token"], t["logprob"], t["bytes"]) for t in logprobs["content"]]
        if logprobs
        else None,
    )


def run_langchain(case: Case, is_async: bool, streamed: bool) -> Any:
    from langchain_hfproviders import ChatHFProviders

    model, params, options = adapter_call(case)
    chat = ChatHFProviders(model=model, **options)
    if not streamed:
        return (
            asyncio.run(chat.ainvoke("Hi", **params)) if is_async else chat.invoke("Hi", **params)
        )

    async def drain() -> list[Any]:
        return [c async for c in chat.astream("Hi", **params)]

    chunks = asyncio.run(drain()) if is_async else list(chat.stream("Hi", **params))
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged = merged + chunk
    return merged


def llamaindex_seen(responses: list[Any]) -> Seen:
    from llama_index.core.base.llms.types import ThinkingBlock

    last = responses[-1]
    message = last.message
    kwargs: dict[str, Any] = {}
    for response in responses:
        kwargs.update(response.additional_kwargs)
    thinking = [b.content for b in message.blocks if isinstance(b, ThinkingBlock)]
    calls = [
        (c["function"]["name"], as_arguments(c["function"]["arguments"]))
        for c in message.additional_kwargs.get("tool_calls") or ()
    ]
    usage = (
        (kwargs["prompt_tokens"], kwargs["completion_tokens"], kwargs["total_tokens"])
        if "prompt_tokens" in kwargs
        else None
    )
    logprobs = [
        (alt.token, alt.logprob, alt.bytes) for token in last.logprobs or () for alt in token[:1]
    ]
    return Seen(
        content=message.content or "",
        reasoning="".join(t or "" for t in thinking) or None,
        calls=calls,
        finish=kwargs.get("finish_reason"),
        usage=usage,
        logprobs=logprobs or None,
    )


def run_llamaindex(case: Case, is_async: bool, streamed: bool) -> list[Any]:
    from llama_index.core.base.llms.types import ChatMessage

    from llamaindex_hfproviders import HFProviders

    model, params, options = adapter_call(case)
    llm = HFProviders(model=model, **options)
    messages = [ChatMessage(role="user", content="Hi")]
    if not streamed:
        response = (
            asyncio.run(llm.achat(messages, **params)) if is_async else llm.chat(messages, **params)
        )
        return [response]

    async def drain() -> list[Any]:
        return [r async for r in await llm.astream_chat(messages, **params)]

    return asyncio.run(drain()) if is_async else list(llm.stream_chat(messages, **params))


@pytest.mark.parametrize("case", CASES["chat"], ids=CHAT_IDS)
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("adapter", ["langchain", "llamaindex"])
def test_adapters_read_what_the_bytes_say(case: Case, is_async: bool, adapter: str) -> None:
    expected = read_chat(case, call_of(case)[0])
    run = run_langchain if adapter == "langchain" else run_llamaindex
    for streamed in modes(case):
        where = f"{case.id} {adapter} {'async' if is_async else 'sync'} {'stream' if streamed else 'chat'}"
        if expected.error_status is not None:
            with pytest.raises(Exception) as caught:  # noqa: PT011 - checked below
                run(case, is_async, streamed)
            check_error(caught.value, expected, where)
            continue
        result = run(case, is_async, streamed)
        seen = langchain_seen(result) if adapter == "langchain" else llamaindex_seen(result)
        if adapter == "langchain" and streamed:
            expected = langchain_stream_view(expected)
            if expected.lone_close:
                # LangChain adds chunks up: answer text handed out before a lone </think>
                # stays in its merged message (docs/core-api.md); the rest must still agree.
                seen.content, seen.reasoning = expected.content, expected.reasoning
        check(seen, expected, where)


def langchain_stream_view(expected: Expected) -> Expected:
    """What LangChain's own chunk merge makes of the answer: it repairs partial tool-call JSON
    (langchain-core's `parse_partial_json`, by design for chunks), so arguments cut short read
    as the object they started."""
    from dataclasses import replace

    from langchain_core.utils.json import parse_partial_json

    calls = []
    for name, args in expected.calls:
        if isinstance(args, str):
            repaired = parse_partial_json(args)
            args = repaired if isinstance(repaired, dict) else args
        calls.append((name, args))
    return replace(expected, calls=calls)


# -- text generation (TGI), through the core and both adapters --------------------------------------


def read_text_generation(case: Case) -> Expected:
    if case.status >= 400:
        return Expected(error_status=case.status, error_text=error_text(case.body))
    if case.body.lstrip().startswith("data:"):
        events, _done = sse_payloads(case.body)
        final = next(
            (e["generated_text"] for e in events if e.get("generated_text") is not None), None
        )
        tokens = "".join(e["token"]["text"] for e in events if not e["token"].get("special"))
        return Expected(content=final if final is not None else tokens)
    data = json.loads(case.body)
    item = data[0] if isinstance(data, list) else data
    return Expected(content=item["generated_text"])


def text_generation_call(case: Case) -> tuple[str, str, dict[str, Any], dict[str, Any], bool]:
    request = case.request or {}
    params = dict(request.get("parameters") or {})
    options: dict[str, Any] = {"api_key": FAKE_TOKEN, "max_retries": 0}
    parts = urlsplit(case.uri)
    if parts.path.startswith("/hf-inference/models/"):
        model = parts.path.removeprefix("/hf-inference/models/")
    else:
        model = "tgi"
        options["base_url"] = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
    return model, request.get("inputs") or "Hi", params, options, bool(request.get("stream"))


def run_text_generation(case: Case, surface: str, is_async: bool) -> str:
    model, prompt, params, options, streamed = text_generation_call(case)
    transport = replay(case)
    if surface == "core":
        from hfproviders import AsyncHFClient, HFClient

        if not is_async:
            with HFClient(http_client=httpx.Client(transport=transport), **options) as client:
                if not streamed:
                    return client.text_generation(model, prompt, **params).generated_text
                stream = client.text_generation_stream(model, prompt, **params)
                list(stream)
                return stream.generated_text or ""

        async def go() -> str:
            async with AsyncHFClient(
                http_async_client=httpx.AsyncClient(transport=transport), **options
            ) as client:
                if not streamed:
                    return (await client.text_generation(model, prompt, **params)).generated_text
                stream = client.text_generation_stream(model, prompt, **params)
                [c async for c in stream]
                return stream.generated_text or ""

        return asyncio.run(go())
    options["http_client"] = httpx.Client(transport=transport)
    options["http_async_client"] = httpx.AsyncClient(transport=transport)
    if surface == "langchain":
        from langchain_hfproviders import HFProvidersLLM

        fields = {k: v for k, v in params.items() if k in HFProvidersLLM.model_fields}
        llm = HFProvidersLLM(model=model, **options, **fields)
        if streamed:
            if is_async:

                async def drain() -> str:
                    return "".join([c async for c in llm.astream(prompt)])

                return asyncio.run(drain())
            return "".join(llm.stream(prompt))
        return asyncio.run(llm.ainvoke(prompt)) if is_async else llm.invoke(prompt)
    from llamaindex_hfproviders import HFProviders

    index_llm = HFProviders(model=model, completion_api="text_generation", **options)
    if streamed:
        if is_async:

            async def adrain() -> str:
                return [r async for r in await index_llm.astream_complete(prompt, **params)][
                    -1
                ].text

            return asyncio.run(adrain())
        return list(index_llm.stream_complete(prompt, **params))[-1].text
    response = (
        asyncio.run(index_llm.acomplete(prompt, **params))
        if is_async
        else index_llm.complete(prompt, **params)
    )
    return response.text


@pytest.mark.parametrize(
    "case", CASES["text_generation"], ids=[c.id for c in CASES["text_generation"]]
)
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("surface", ["core", "langchain", "llamaindex"])
def test_text_generation_reads_what_the_bytes_say(case: Case, is_async: bool, surface: str) -> None:
    expected = read_text_generation(case)
    where = f"{case.id} {surface} {'async' if is_async else 'sync'}"
    if expected.error_status is not None:
        with pytest.raises(Exception) as caught:  # noqa: PT011 - checked below
            run_text_generation(case, surface, is_async)
        check_error(caught.value, expected, where)
        return
    assert run_text_generation(case, surface, is_async) == expected.content, where


# -- the router's catalogue and the Hub's model info, through the core ------------------------------


def cassette_transport(cassette: str) -> httpx.MockTransport:
    """Answers each request with the cassette's interaction for the same method and path."""
    recorded = [c for group in CASES.values() for c in group if c.cassette == cassette]

    def handle(request: httpx.Request) -> httpx.Response:
        return recorded_response(next(c for c in recorded if c.path == request.url.path))

    return httpx.MockTransport(handle)


def lookup(cassette: str, is_async: bool, method: str, *args: Any) -> Any:
    from hfproviders import AsyncHFClient, HFClient

    transport = cassette_transport(cassette)
    if not is_async:
        with HFClient(
            api_key=FAKE_TOKEN, max_retries=0, http_client=httpx.Client(transport=transport)
        ) as client:
            return getattr(client, method)(*args)

    async def go() -> Any:
        async with AsyncHFClient(
            api_key=FAKE_TOKEN,
            max_retries=0,
            http_async_client=httpx.AsyncClient(transport=transport),
        ) as client:
            return await getattr(client, method)(*args)

    return asyncio.run(go())


MODEL_LISTS = [c for c in CASES.get("models", []) if c.path.rstrip("/").endswith("/v1/models")]
HUB_LOOKUPS = [c for c in CASES.get("hub", []) if not c.path.endswith("/auth-check")]


@pytest.mark.parametrize("case", MODEL_LISTS, ids=[c.id for c in MODEL_LISTS])
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_model_catalogue_reads_what_the_bytes_say(case: Case, is_async: bool) -> None:
    data = json.loads(case.body)
    models = lookup(case.cassette, is_async, "list_models")
    assert [m.id for m in models] == [m["id"] for m in data["data"]]
    assert [[p.provider for p in m.providers] for m in models] == [
        [p["provider"] for p in m.get("providers") or ()] for m in data["data"]
    ]


@pytest.mark.parametrize("case", HUB_LOOKUPS, ids=[c.id for c in HUB_LOOKUPS])
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_hub_lookups_read_what_the_bytes_say(case: Case, is_async: bool) -> None:
    model = case.path.removeprefix("/api/models/")
    if case.status >= 500:
        with pytest.raises(Exception) as caught:  # noqa: PT011 - checked below
            lookup(case.cassette, is_async, "model_providers", model)
        check_error(caught.value, Expected(error_status=case.status), case.id)
        return
    availability = lookup(case.cassette, is_async, "model_providers", model)
    if case.status >= 400:
        assert availability.error_code is not None and availability.error, case.id
        return
    mapping = json.loads(case.body).get("inferenceProviderMapping") or {}
    pairs = (
        [(name, m.get("status")) for name, m in mapping.items()]
        if isinstance(mapping, dict)
        else [(m.get("provider"), m.get("status")) for m in mapping]
    )
    assert [(p.provider, p.status) for p in availability.providers] == pairs, case.id


MODEL_ENTRIES = [c for c in CASES.get("models", []) if "/v1/models/" in c.path]


@pytest.mark.parametrize("case", MODEL_ENTRIES, ids=[c.id for c in MODEL_ENTRIES])
def test_one_catalogue_entry_reads_what_the_bytes_say(case: Case) -> None:
    # The clients read one entry out of the whole list; the core's parser reads this answer.
    from hfproviders._catalog import parse_models_response

    data = json.loads(case.body)
    entry = data["data"][0] if isinstance(data.get("data"), list) else data
    [info] = parse_models_response(data)
    assert info.id == entry["id"]
    assert [p.provider for p in info.providers] == [p["provider"] for p in entry["providers"]]
