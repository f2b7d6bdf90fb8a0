"""HFProvidersLLM on the text-generation (TGI) API, over `httpx.MockTransport`.

Bodies and streams follow WIRE.md §1 and §4: `{"inputs", "parameters"}` in, `[{"generated_text"}]`
or TGI's token stream (`data:{…}` without a space, the last event with `generated_text` and
`details`) out.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from langchain_core.exceptions import ModelInvalidRequestError
from langchain_core.load import dumps

import hfproviders
from langchain_hfproviders import HFProvidersLLM
from tests.conftest import FAKE_TOKEN

MODEL = "HuggingFaceTB/SmolLM3-3B"
ENDPOINT = "https://abc123.us-east-1.aws.endpoints.huggingface.cloud"


def token_event(i: int, text: str, *, special: bool = False, last: str | None = None) -> str:
    event = {
        "index": i,
        "token": {"id": 100 + i, "text": text, "logprob": -0.1, "special": special},
        "generated_text": last,
        "details": {"finish_reason": "eos_token", "generated_tokens": i, "seed": None}
        if last is not None
        else None,
    }
    return f"data:{json.dumps(event)}\n\n"


TOKEN_STREAM = (
    token_event(1, "Once")
    + token_event(2, " upon")
    + token_event(3, " a time")
    + token_event(4, "</s>", special=True, last="Once upon a time")
).encode()


class Endpoint:
    """Records requests and answers like TGI."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = json.loads(request.content)
        if body.get("stream"):
            return httpx.Response(
                200,
                content=TOKEN_STREAM,
                headers={
                    "content-type": "text/event-stream",
                    "x-inference-provider": "hf-inference",
                },
            )
        details = {"finish_reason": "length", "generated_tokens": 4}
        return httpx.Response(
            200,
            json=[{"generated_text": " upon a time", "details": details}],
            headers={"x-request-id": "TgiReq1"},
        )

    def llm(self, **kwargs: Any) -> HFProvidersLLM:
        transport = httpx.MockTransport(self.handle)
        kwargs.setdefault("model", MODEL)
        kwargs.setdefault("api_key", FAKE_TOKEN)
        return HFProvidersLLM(
            http_client=httpx.Client(transport=transport),
            http_async_client=httpx.AsyncClient(transport=transport),
            **kwargs,
        )


@pytest.fixture
def endpoint() -> Endpoint:
    return Endpoint()


def test_invoke_sends_tgi_payload(endpoint: Endpoint) -> None:
    llm = endpoint.llm(max_new_tokens=20, temperature=0.5, top_k=40, repetition_penalty=1.1)
    result = llm.generate(["Once"], stop=["\n"])
    assert result.generations[0][0].text == " upon a time"
    assert result.generations[0][0].generation_info == {
        "finish_reason": "length",
        "details": {"finish_reason": "length", "generated_tokens": 4},
        "request_id": "TgiReq1",
    }
    request = endpoint.requests[0]
    assert str(request.url) == f"https://router.huggingface.co/hf-inference/models/{MODEL}"
    body = json.loads(request.content)
    assert body["inputs"] == "Once"
    assert body["parameters"] == {
        "max_new_tokens": 20,
        "temperature": 0.5,
        "top_k": 40,
        "repetition_penalty": 1.1,
        "return_full_text": False,
        "stop": ["\n"],
    }


def test_dedicated_endpoint_url(endpoint: Endpoint) -> None:
    endpoint.llm(model="tgi", base_url=ENDPOINT).invoke("Once")
    assert str(endpoint.requests[0].url).rstrip("/") == ENDPOINT


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_stream_tokens_skip_special_ones(endpoint: Endpoint, is_async: bool) -> None:
    llm = endpoint.llm()

    async def collect() -> list[str]:
        return [t async for t in llm.astream("Tell me a story")]

    tokens = asyncio.run(collect()) if is_async else list(llm.stream("Tell me a story"))
    assert "".join(tokens) == "Once upon a time"
    assert "</s>" not in tokens
    assert json.loads(endpoint.requests[0].content)["stream"] is True


def test_async_invoke(endpoint: Endpoint) -> None:
    assert asyncio.run(endpoint.llm().ainvoke("Once")) == " upon a time"


def test_streaming_flag_collects_the_stream(endpoint: Endpoint) -> None:
    result = endpoint.llm(streaming=True).generate(["Tell me a story"])
    generation = result.generations[0][0]
    assert generation.text == "Once upon a time"
    assert generation.generation_info == {
        "finish_reason": "eos_token",
        "inference_provider": "hf-inference",
    }


def test_error_event_in_token_stream_is_typed() -> None:
    """TGI's `data:{"error": …, "error_type": "validation"}` inside a 200 stream."""

    def handle(request: httpx.Request) -> httpx.Response:
        body = (
            token_event(1, "Once")
            + 'data:{"error":"Input validation error: bad","error_type":"validation"}\n\n'
        )
        return httpx.Response(
            200, content=body.encode(), headers={"content-type": "text/event-stream"}
        )

    llm = HFProvidersLLM(
        model=MODEL,
        api_key=FAKE_TOKEN,
        http_client=httpx.Client(transport=httpx.MockTransport(handle)),
    )
    with pytest.raises(hfproviders.BadRequestError) as caught:
        list(llm.stream("Once"))
    assert isinstance(caught.value, ModelInvalidRequestError)
    assert "Input validation error" in str(caught.value)


def test_identity_and_secrets() -> None:
    secret = "hf_" + "FAKE" * 8 + "00"  # real-token shaped, built at run time
    llm = HFProvidersLLM(model=MODEL, api_key=secret, max_new_tokens=5)
    assert secret not in repr(llm)
    assert secret not in dumps(llm)
    assert llm._get_ls_params() == {
        "ls_provider": "huggingface",
        "ls_model_name": MODEL,
        "ls_model_type": "llm",
        "ls_max_tokens": 5,
    }
    assert llm._identifying_params["model"] == MODEL
    assert HFProvidersLLM(model="other")._identifying_params != llm._identifying_params
    assert llm.get_num_tokens("hello world, this is a test") > 0
