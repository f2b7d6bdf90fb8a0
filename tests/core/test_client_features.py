"""Cache, rate limiter, discovery and capability routing wired into both clients."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from hfproviders import (
    InMemoryCache,
    ModelNotSupportedError,
    RateLimiter,
    ServerError,
)
from tests.core.conftest import MODEL, USER, Harness, chunk, completion, ok_json, ok_sse, sse, texts

USAGE = {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}
STREAM = sse(
    chunk("Hel", role="assistant"), chunk("lo", "stop"), {"id": "c", "choices": [], "usage": USAGE}
)
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
]
CATALOGUE = {
    "object": "list",
    "data": [
        {
            "id": MODEL,
            "object": "model",
            "created": 1733000000,
            "owned_by": "meta-llama",
            "providers": [
                {
                    "provider": "groq",
                    "status": "live",
                    "context_length": 131072,
                    "pricing": {"input": 0.59, "output": 0.79},
                    "supports_tools": True,
                    "supports_structured_output": False,
                    "throughput": 300.5,
                },
                {
                    "provider": "novita",
                    "status": "live",
                    "context_length": 131072,
                    "pricing": {"input": 0.13, "output": 0.39},
                    "supports_tools": False,
                    "supports_structured_output": False,
                    "throughput": 40.1,
                },
                {
                    "provider": "together",
                    "status": "live",
                    "context_length": 131072,
                    "pricing": {"input": 0.88, "output": 0.88},
                    "supports_tools": True,
                    "supports_structured_output": True,
                    "throughput": 120.0,
                },
            ],
        }
    ],
}


async def result_of(h: Harness, value: Any) -> Any:
    return await value if h.is_async else value


# --- cache -----------------------------------------------------------------------------------


async def test_cache_serves_repeat_chats_and_keys_on_every_parameter(h: Harness) -> None:
    h.queue(
        ok_json(completion("first")),
        ok_json(completion("other model")),
        ok_json(completion("hotter")),
    )
    cache = InMemoryCache()
    h.make(cache=cache)
    first = await h.chat(MODEL, USER, temperature=0)
    again = await h.chat(MODEL, USER, temperature=0)
    assert again.text == "first" and again.meta.cached and not first.meta.cached
    assert again.provider == "together" and again.request_id == first.request_id
    assert (await h.chat("Qwen/Qwen3-8B", USER, temperature=0)).text == "other model"
    assert (await h.chat(MODEL, USER, temperature=0.5)).text == "hotter"
    assert len(h.requests) == 3 and len(cache) == 3


async def test_cache_never_stores_errors(h: Harness) -> None:
    h.queue(httpx.Response(500, json={"error": "boom"}), ok_json(completion("ok")))
    h.make(cache=InMemoryCache(), max_retries=0)
    with pytest.raises(ServerError):
        await h.chat(MODEL, USER)
    assert (await h.chat(MODEL, USER)).text == "ok"
    assert len(h.requests) == 2


async def test_cache_replays_complete_streams_as_streams(h: Harness) -> None:
    h.queue(ok_sse(STREAM))
    h.make(cache=InMemoryCache())
    live, _ = await h.stream(MODEL, USER)
    replayed, stream = await h.stream(MODEL, USER)
    assert texts(replayed) == texts(live) == "Hello"
    assert [c.usage.total_tokens for c in replayed if c.usage] == [11]
    assert stream.meta.cached and stream.completion.text == "Hello"
    assert len(h.requests) == 1


async def test_cache_skips_incomplete_streams(h: Harness) -> None:
    h.queue(ok_sse(STREAM), ok_sse(STREAM))
    h.make(cache=InMemoryCache())
    stream = await h.call("stream", MODEL, USER)
    if h.is_async:
        await stream.__anext__()
        await stream.aclose()
    else:
        next(stream)
        stream.close()
    await h.stream(MODEL, USER)
    assert len(h.requests) == 2


# --- rate limiter ----------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


async def test_limiter_paces_every_attempt_and_adapts_to_headers(h: Harness) -> None:
    clock = FakeClock()
    limiter = RateLimiter(
        60, burst=1, clock=clock, sleep=clock.sleep, async_sleep=clock.async_sleep, max_wait=None
    )
    spent = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "30"}
    h.queue(ok_json(completion()), ok_json(completion(), **spent), ok_json(completion()))
    h.make(rate_limiter=limiter)
    await h.chat(MODEL, USER)
    await h.chat(MODEL, USER)  # one request a second: waits 1s
    assert clock.slept == [1.0]
    await h.chat(MODEL, USER)  # the server said the window is spent: waits for its reset
    assert 30.0 <= clock.slept[-1] <= 31.0  # the reset, then the bucket's own pace
    assert len(h.requests) == 3


# --- discovery and routing -------------------------------------------------------------------


async def test_list_models_is_fetched_once_and_cached(h: Harness) -> None:
    h.queue(httpx.Response(200, json=CATALOGUE))
    h.make()
    models = await result_of(h, h.client.list_models())
    again = await result_of(h, h.client.list_models())
    assert [m.id for m in models] == [MODEL] and again == models
    assert [p.provider for p in models[0].providers] == ["groq", "novita", "together"]
    assert len(h.requests) == 1 and h.requests[0].method == "GET"
    assert str(h.requests[0].url) == "https://router.huggingface.co/v1/models"
    info = h.client.cached_model_info(MODEL + ":groq")
    assert info is not None and info.provider("together").supports_structured_output


async def test_routing_refuses_a_provider_known_not_to_support_tools(h: Harness) -> None:
    h.queue(httpx.Response(200, json=CATALOGUE))
    h.make(provider="novita")
    await result_of(h, h.client.list_models())
    with pytest.raises(ModelNotSupportedError, match="groq, together"):
        await h.chat(MODEL, USER, tools=TOOLS)
    assert len(h.requests) == 1  # only the catalogue: nothing was sent to novita


async def test_routing_drops_unable_providers_from_a_chain_and_fixes_a_policy(h: Harness) -> None:
    h.queue(httpx.Response(200, json=CATALOGUE), ok_json(completion()), ok_json(completion()))
    h.make(provider=["novita", "groq"])
    await result_of(h, h.client.list_models())
    await h.chat(MODEL, USER, tools=TOOLS)
    assert h.body(1)["model"] == f"{MODEL}:groq"
    schema = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    policy = Harness(h.mode).queue(httpx.Response(200, json=CATALOGUE), ok_json(completion()))
    policy.make()
    await result_of(policy, policy.client.list_models())
    await policy.chat(MODEL + ":cheapest", USER, response_format=schema)
    assert policy.body(1)["model"] == f"{MODEL}:together"  # the only one with structured output


async def test_auto_routing_loads_the_catalogue_on_first_need(h: Harness) -> None:
    h.queue(ok_json(completion()), httpx.Response(200, json=CATALOGUE))
    h.make(routing="auto", provider="fastest")
    await h.chat(MODEL, USER)  # no capability needed: no catalogue
    assert h.requests[0].url.path == "/v1/chat/completions"
    h.queue(ok_json(completion()))
    await h.chat(MODEL, USER, tools=TOOLS)
    assert [r.url.path for r in h.requests] == [
        "/v1/chat/completions",
        "/v1/models",
        "/v1/chat/completions",
    ]


async def test_routing_off_sends_as_asked(h: Harness) -> None:
    h.queue(httpx.Response(200, json=CATALOGUE), ok_json(completion()))
    h.make(provider="novita", routing="off")
    await result_of(h, h.client.list_models())
    await h.chat(MODEL, USER, tools=TOOLS)
    assert h.body(1)["model"] == f"{MODEL}:novita"


HUB = {
    "_id": "67ed0000000000000000abcd",
    "id": "meta-llama/Llama-4-Scout-17B-16E-Instruct",
    "gated": "manual",
    "pipeline_tag": "image-text-to-text",
    "inferenceProviderMapping": {
        "groq": {
            "isModelAuthor": False,
            "providerId": "meta-llama/llama-4-scout-17b-16e-instruct",
            "status": "live",
            "task": "conversational",
        },
        "sambanova": {
            "isModelAuthor": False,
            "providerId": "Llama-4-Scout-17B-16E-Instruct",
            "status": "error",
            "task": "conversational",
        },
    },
}


async def test_model_providers_reads_the_hub_mapping_and_access(h: Harness) -> None:
    h.queue(httpx.Response(200, json=HUB), httpx.Response(200, json={}))
    h.make()
    availability = await result_of(
        h, h.client.model_providers("meta-llama/Llama-4-Scout-17B-16E-Instruct")
    )
    assert availability.exists and availability.gated and availability.accessible
    assert [(p.provider, p.status) for p in availability.providers] == [
        ("groq", "live"),
        ("sambanova", "error"),
    ]
    hub = h.requests[0]
    assert (
        hub.url.host == "huggingface.co"
        and hub.url.path == "/api/models/meta-llama/Llama-4-Scout-17B-16E-Instruct"
    )
    assert "inferenceProviderMapping" in str(hub.url)
    assert h.requests[1].url.path.endswith("/auth-check")
    cached = await result_of(
        h, h.client.model_providers("meta-llama/Llama-4-Scout-17B-16E-Instruct")
    )
    assert cached == availability and len(h.requests) == 2


async def test_model_providers_gated_and_missing(h: Harness) -> None:
    gated = httpx.Response(
        403,
        json={"error": "Access to model x is restricted."},
        headers={"x-error-code": "GatedRepo"},
    )
    missing = httpx.Response(
        404, json={"error": "Repository not found"}, headers={"x-error-code": "RepoNotFound"}
    )
    h.queue(gated, missing)
    h.make()
    first = await result_of(h, h.client.model_providers("org/gated"))
    assert first.gated and first.accessible is False and first.error_code == "gated"
    second = await result_of(h, h.client.model_providers("org/nope"))
    assert second.exists is False and second.error_code == "not_found"


async def test_hub_outage_is_a_typed_error(h: Harness) -> None:
    h.queue(*[httpx.Response(500, json={"error": "boom"}) for _ in range(3)])
    h.make()
    with pytest.raises(ServerError):
        await result_of(h, h.client.model_providers("org/model"))


async def test_batch_under_the_cache(h: Harness) -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        return ok_json(completion(json.loads(request.content)["messages"][0]["content"]))

    h.queue(reply, reply)
    h.make(cache=InMemoryCache())
    requests = [{"model": MODEL, "messages": [{"role": "user", "content": p}]} for p in ["a", "b"]]
    await result_of(h, h.client.batch(requests))
    results = await result_of(h, h.client.batch(requests + requests))
    assert [r.text for r in results] == ["a", "b", "a", "b"]
    assert all(r.meta.cached for r in results) and len(h.requests) == 2


async def test_hub_lookups_neither_spend_nor_throttle_the_inference_budget(h: Harness) -> None:
    clock = FakeClock()
    limiter = RateLimiter(
        60, burst=1, clock=clock, sleep=clock.sleep, async_sleep=clock.async_sleep, max_wait=5
    )
    spent_hub_quota = {
        "RateLimit": '"api";r=0;t=242',
        "RateLimit-Policy": '"fixed window";"api";q=1000;w=300',
    }
    h.queue(
        httpx.Response(
            200,
            json={"id": "a/b", "gated": False, "inferenceProviderMapping": {}},
            headers=spent_hub_quota,
        ),
        ok_json(completion("hi")),
    )
    h.make(rate_limiter=limiter)
    await result_of(h, h.client.model_providers("a/b"))
    assert (await h.chat(MODEL, USER)).text == "hi"
    assert clock.slept == []


async def test_serving_capabilities_follow_the_provider_setting(h: Harness) -> None:
    from hfproviders import DiscoveryCache

    shared = DiscoveryCache()
    h.queue(httpx.Response(200, json=CATALOGUE))
    h.make(provider="novita", discovery=shared)
    assert h.client.serving_capabilities(MODEL) is None  # nothing loaded: no network either
    await result_of(h, h.client.list_models())
    novita = h.client.serving_capabilities(MODEL)
    assert (novita.context_length, novita.supports_tools, novita.supports_structured_output) == (
        131072,
        False,
        False,
    )
    anyone = h.client.serving_capabilities(MODEL, provider="fastest")
    assert (anyone.supports_tools, anyone.supports_structured_output) == (True, True)
    other = Harness(h.mode)
    other.make(discovery=shared)  # a twin sharing the catalogue sees it without a request
    assert other.client.cached_model_info(MODEL) is not None and other.requests == []
