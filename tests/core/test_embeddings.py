"""`embed()` on both twins: routes, bodies, batching, failover, typed errors (MockTransport)."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import pytest

from hfproviders import (
    AllProvidersFailedError,
    AuthenticationError,
    BadRequestError,
    ContextLengthError,
    EmbeddingResponseError,
    InMemoryCache,
    InvalidParameterError,
    ModelNotSupportedError,
    PartialEmbeddingError,
    PromptTooLongError,
    RateLimitError,
    RetryPolicy,
    ServiceUnavailableError,
)
from tests.conftest import FAKE_TOKEN
from tests.core.embed_kit import (
    EMBED_MODEL,
    EmbedRouter,
    embed,
    mapping,
    status,
    vector,
)

ROOT = "https://router.huggingface.co"
DOCS = [f"document number {i}" + "!" * (i % 7) for i in range(100)]


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --- routes and bodies ------------------------------------------------------------------------


async def test_hf_inference_needs_no_hub_lookup_and_sends_tei_body(mode: str) -> None:
    router = EmbedRouter()
    client = router.make(mode)
    result = await embed(
        mode,
        client,
        EMBED_MODEL,
        ["a", "bb"],
        provider="hf-inference",
        normalize=True,
        truncate=True,
        prompt_name="query",
    )
    assert result.embeddings == [vector("a"), vector("bb")]
    assert result.provider == "hf-inference" and result.meta.request_id == "req-1"
    assert result.usage is None  # hf-inference reports none
    [request] = router.requests  # no Hub lookup
    assert str(request.url) == (
        f"{ROOT}/hf-inference/models/{EMBED_MODEL}/pipeline/feature-extraction"
    )
    assert json.loads(request.content) == {
        "inputs": ["a", "bb"],
        "normalize": True,
        "truncate": True,
        "prompt_name": "query",
    }
    assert request.headers["authorization"] == f"Bearer {FAKE_TOKEN}"


async def test_auto_picks_first_live_feature_extraction_provider_from_the_hub(mode: str) -> None:
    router = EmbedRouter(
        mapping(
            ("groq", "live", "conversational", "bge"),  # chat only: not an embeddings provider
            ("nscale", "staging", "feature-extraction", "bge-staging"),  # not live
            ("together", "live", "feature-extraction", "BAAI/bge-small-en-v1.5-together"),
        )
    )
    client = router.make(mode)
    result = await embed(mode, client, EMBED_MODEL, "hello world", dimensions=3)
    assert result.embeddings == [vector("hello world")]
    assert result.provider == "together" and result.model == "BAAI/bge-small-en-v1.5-together"
    assert result.usage is not None and result.usage.prompt_tokens == len("hello world")
    hub, post = router.requests
    assert hub.url.host == "huggingface.co" and "inferenceProviderMapping" in str(hub.url)
    assert str(post.url) == f"{ROOT}/together/v1/embeddings"
    assert json.loads(post.content) == {
        "model": "BAAI/bge-small-en-v1.5-together",
        "input": ["hello world"],
        "dimensions": 3,
    }


async def test_openai_style_routes_per_provider_and_client_side_normalize(mode: str) -> None:
    router = EmbedRouter()
    client = router.make(mode)
    result = await embed(mode, client, f"{EMBED_MODEL}:deepinfra", ["abc"], normalize=True)
    [post] = router.posts()
    assert str(post.url) == f"{ROOT}/deepinfra/v1/openai/embeddings"
    assert "normalize" not in json.loads(post.content)  # not an OpenAI option: done here
    assert math.isclose(math.fsum(x * x for x in result.embeddings[0]), 1.0)


async def test_hub_mapping_is_looked_up_once_per_ttl(mode: str) -> None:
    router = EmbedRouter()
    client = router.make(mode)
    await embed(mode, client, EMBED_MODEL, "a")
    await embed(mode, client, EMBED_MODEL, "b")
    assert [r.method for r in router.requests] == ["GET", "POST", "POST"]


async def test_named_provider_not_mapped_for_the_task_fails_before_sending(mode: str) -> None:
    router = EmbedRouter()
    client = router.make(mode)
    with pytest.raises(ModelNotSupportedError, match="together, deepinfra, hf-inference"):
        await embed(mode, client, EMBED_MODEL, "a", provider="scaleway")
    assert router.posts() == []


async def test_tei_endpoint_root_uses_embed_and_v1_uses_openai_shape(mode: str) -> None:
    router = EmbedRouter()
    client = router.make(mode, base_url="https://tei.example.com")
    result = await embed(mode, client, "tei", ["x", "yy"])
    assert result.embeddings == [vector("x"), vector("yy")] and result.provider is None
    assert str(router.requests[0].url) == "https://tei.example.com/embed"
    v1 = EmbedRouter()
    client = v1.make(mode, base_url="https://tei.example.com/v1")
    await embed(mode, client, "BAAI/bge-m3", ["x"])
    assert str(v1.requests[0].url) == "https://tei.example.com/v1/embeddings"
    assert json.loads(v1.requests[0].content) == {"model": "BAAI/bge-m3", "input": ["x"]}


async def test_implicit_token_never_goes_to_a_foreign_endpoint(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    router = EmbedRouter()
    transport = httpx.MockTransport(router.handle)
    from hfproviders import AsyncHFClient, HFClient

    if mode == "async":
        client: Any = AsyncHFClient(
            base_url="https://tei.example.com",
            http_async_client=httpx.AsyncClient(transport=transport),
        )
    else:
        client = HFClient(
            base_url="https://tei.example.com", http_client=httpx.Client(transport=transport)
        )
    await embed(mode, client, "tei", "x")
    assert "authorization" not in router.requests[0].headers


# --- batching -------------------------------------------------------------------------------


async def test_100_inputs_in_order_with_ceil_requests(mode: str) -> None:
    router = EmbedRouter()
    client = router.make(mode)
    result = await embed(mode, client, EMBED_MODEL, DOCS, provider="together", batch_size=32)
    assert result.embeddings == [vector(d) for d in DOCS]
    assert len(router.posts()) == math.ceil(100 / 32)
    sent = [t for body in router.bodies() for t in body["input"]]
    assert sorted(sent) == sorted(DOCS) and all(len(b["input"]) <= 32 for b in router.bodies())
    assert len(result.batches) == 4 and result.meta.attempts == 4
    assert result.usage is not None and result.usage.total_tokens == sum(len(d) for d in DOCS)


async def test_batch_never_exceeds_what_the_provider_accepts(mode: str) -> None:
    router = EmbedRouter()
    client = router.make(mode)
    await embed(mode, client, EMBED_MODEL, DOCS, provider="hf-inference", batch_size=64)
    assert [len(b["inputs"]) for b in router.bodies()] == [32, 32, 32, 4]


async def test_a_refused_batch_size_is_learned_and_split(mode: str) -> None:
    router = EmbedRouter()

    def tei_limit(request: httpx.Request, body: dict[str, Any]) -> httpx.Response | None:
        if len(body["inputs"]) > 8:
            return status(
                413,
                {
                    "error": f"batch size {len(body['inputs'])} > maximum allowed batch size 8",
                    "error_type": "Validation",
                },
            )
        return None

    router.faults[None] = tei_limit
    client = router.make(mode, base_url="https://tei.example.com")
    result = await embed(mode, client, "tei", DOCS, max_concurrency=1)
    assert result.embeddings == [vector(d) for d in DOCS]
    # one refusal, then batches of 8: 4 for the first 32, and every later batch split up front
    assert len(router.posts()) == 1 + math.ceil(100 / 8)


async def test_a_failing_batch_fails_over_without_touching_the_others(mode: str) -> None:
    router = EmbedRouter()
    router.faults["together"] = lambda request, body: (
        status(503, {"error": "overloaded"}) if DOCS[40] in body["input"] else None
    )
    client = router.make(mode, retry=RetryPolicy(max_retries=1))
    result = await embed(mode, client, EMBED_MODEL, DOCS, batch_size=32)
    assert result.embeddings == [vector(d) for d in DOCS]
    served = [m.provider for m in result.batches]
    assert served == ["together", "deepinfra", "together", "together"]
    failed = result.batches[1].failed_providers
    assert [type(e) for e in failed] == [ServiceUnavailableError] and failed[
        0
    ].provider == "together"
    urls = [str(r.url) for r in router.posts()]
    assert urls.count(f"{ROOT}/deepinfra/v1/openai/embeddings") == 1  # only the failed batch moved


async def test_a_failing_batch_raises_but_keeps_every_other_vector(mode: str) -> None:
    router = EmbedRouter()
    router.faults["together"] = lambda request, body: (
        status(
            400,
            {
                "error": {
                    "message": "Input contains a forbidden token",
                    "type": "invalid_request_error",
                }
            },
        )
        if DOCS[40] in body["input"]
        else None
    )
    client = router.make(mode)
    with pytest.raises(PartialEmbeddingError) as caught:
        await embed(mode, client, EMBED_MODEL, DOCS, provider="together", batch_size=32)
    error = caught.value
    assert error.failed_indices == list(range(32, 64))
    assert [e for e in error.embeddings[:32]] == [vector(d) for d in DOCS[:32]]
    assert error.embeddings[64:] == [vector(d) for d in DOCS[64:]]
    assert list(error.errors) == [32] and isinstance(error.errors[32], BadRequestError)
    assert error.status_code == 400 and error.provider == "together"
    assert len(router.posts()) == 4  # a 400 is never retried nor failed over


async def test_every_batch_failing_raises_the_typed_error_itself(mode: str) -> None:
    router = EmbedRouter()
    router.faults["together"] = lambda request, body: status(
        401, {"error": "Invalid credentials in Authorization header"}
    )
    client = router.make(mode)
    with pytest.raises(AuthenticationError):
        await embed(mode, client, EMBED_MODEL, DOCS, provider="together", batch_size=50)


async def test_every_provider_failing_gives_all_providers_failed(mode: str) -> None:
    router = EmbedRouter()
    for name in ("together", "deepinfra", "hf-inference"):
        router.faults[name] = lambda request, body: status(503, {"error": "busy"})
    client = router.make(mode, retry=RetryPolicy(max_retries=0))
    with pytest.raises(AllProvidersFailedError) as caught:
        await embed(mode, client, EMBED_MODEL, ["a"])
    assert [e.provider for e in caught.value.errors] == ["together", "deepinfra", "hf-inference"]


# --- retries and typed errors ---------------------------------------------------------------


async def test_429_and_503_loading_are_retried(mode: str) -> None:
    router = EmbedRouter()
    answers = [
        status(429, {"error": "Rate limit reached"}, **{"retry-after": "1"}),
        status(
            503,
            {"error": "Model BAAI/bge-small-en-v1.5 is currently loading", "estimated_time": 2.0},
        ),
    ]
    router.faults["hf-inference"] = lambda request, body: answers.pop(0) if answers else None
    client = router.make(mode)
    result = await embed(mode, client, EMBED_MODEL, "a", provider="hf-inference")
    assert result.embeddings == [vector("a")] and result.meta.attempts == 3


async def test_429_over_budget_raises_rate_limit_error(mode: str) -> None:
    router = EmbedRouter()
    router.faults["hf-inference"] = lambda request, body: status(429, {"error": "slow down"})
    client = router.make(mode, retry=RetryPolicy(max_retries=0))
    with pytest.raises(RateLimitError):
        await embed(mode, client, EMBED_MODEL, "a", provider="hf-inference")


async def test_tei_input_too_long_is_a_context_length_error(mode: str) -> None:
    router = EmbedRouter()
    router.faults["hf-inference"] = lambda request, body: status(
        413,
        {
            "error": "Input validation error: `inputs` must have less than 512 tokens. Given: 733",
            "error_type": "Validation",
        },
    )
    client = router.make(mode)
    with pytest.raises(ContextLengthError):
        await embed(mode, client, EMBED_MODEL, "long " * 700, provider="hf-inference")
    assert len(router.posts()) == 1


@pytest.mark.parametrize(
    ("inputs", "kwargs", "match"),
    [
        (5, {}, "string or a list"),
        ([], {}, "empty"),
        (["a", 3], {}, r"inputs\[1\]"),
        (b"bytes", {}, "string or a list"),
        (["a"], {"dimensions": 0}, "dimensions"),
        (["a"], {"dimensions": True}, "dimensions"),
        (["a"], {"normalize": "yes"}, "normalize"),
        (["a"], {"batch_size": 0}, "embed_batch_size"),
        (["a"], {"max_concurrency": 1.5}, "max_concurrency"),
        (["a"], {"prompt_name": float("nan")}, "JSON"),
        (["a"], {"input": ["b"]}, "set by embed"),
    ],
)
async def test_bad_input_fails_before_any_request(
    mode: str, inputs: Any, kwargs: dict[str, Any], match: str
) -> None:
    router = EmbedRouter()
    client = router.make(mode)
    with pytest.raises(InvalidParameterError, match=match):
        await embed(mode, client, EMBED_MODEL, inputs, **kwargs)
    assert router.requests == []


async def test_text_over_max_input_chars_fails_before_sending(mode: str) -> None:
    router = EmbedRouter()
    client = router.make(mode, max_input_chars=10)
    with pytest.raises(PromptTooLongError):
        await embed(mode, client, EMBED_MODEL, ["short", "x" * 11], provider="hf-inference")
    assert router.requests == []


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        ([[1.0, "x"]], "not a list of finite numbers"),
        ([[1.0, None]], "not a list of finite numbers"),
        (b"[[1.0, 1" + b"0" * 400 + b"]]", "not a list of finite numbers"),
        (b"[[1.0, NaN]]", "not finite"),
        (b"[[1e400, 1.0]]", "not finite"),
        ([[[0.1, 0.2], [0.3, 0.4]]], "token-level"),
        ([[1.0], [2.0]], "2 vectors for 1 inputs"),
        ([[]], "empty"),
        (
            {"data": [{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [2.0]}]},
            "repeated index",
        ),
        ({"data": [{"vector": [1.0]}]}, "no 'embedding'"),
        ({"object": "list"}, "not embeddings"),
        ("oops", "not embeddings"),
    ],
)
async def test_bad_server_data_is_a_typed_error(mode: str, answer: Any, match: str) -> None:
    router = EmbedRouter()
    router.faults["hf-inference"] = lambda request, body: (
        httpx.Response(200, content=answer)
        if isinstance(answer, bytes)
        else httpx.Response(200, json=answer)
    )
    client = router.make(mode)
    with pytest.raises(EmbeddingResponseError, match=match):
        await embed(mode, client, EMBED_MODEL, "a", provider="hf-inference")


async def test_dimension_mismatch_is_a_typed_error(mode: str) -> None:
    router = EmbedRouter()
    client = router.make(mode)
    with pytest.raises(EmbeddingResponseError, match="Asked for 8 dimensions"):
        await embed(mode, client, EMBED_MODEL, "a", provider="together", dimensions=8)


# --- cache and limiter ----------------------------------------------------------------------


async def test_cached_batches_are_not_sent_again(mode: str) -> None:
    router = EmbedRouter()
    client = router.make(mode, cache=InMemoryCache())
    first = await embed(mode, client, EMBED_MODEL, DOCS[:40], provider="hf-inference")
    again = await embed(mode, client, EMBED_MODEL, DOCS[:40], provider="hf-inference")
    assert again.embeddings == first.embeddings and again.meta.cached and not first.meta.cached
    assert len(router.posts()) == 2  # two batches, each once


async def test_the_rate_limiter_is_taken_per_batch(mode: str) -> None:
    from hfproviders import RateLimiter

    limiter = RateLimiter(requests_per_minute=600)
    router = EmbedRouter()
    client = router.make(mode, rate_limiter=limiter)
    taken: list[int] = []
    real_acquire, real_aacquire = limiter.acquire, limiter.aacquire

    def acquire(tokens: int = 1) -> None:
        taken.append(tokens)
        real_acquire(tokens)

    async def aacquire(tokens: int = 1) -> None:
        taken.append(tokens)
        await real_aacquire(tokens)

    limiter.acquire = acquire  # type: ignore[method-assign]
    limiter.aacquire = aacquire  # type: ignore[method-assign]
    await embed(mode, client, EMBED_MODEL, DOCS[:40], provider="hf-inference")
    assert len(taken) == 2 and all(t >= 1 for t in taken)


async def test_one_deadline_for_the_whole_call_keeps_what_arrived(mode: str) -> None:
    import time

    router = EmbedRouter()

    def slow(request: httpx.Request, body: dict[str, Any]) -> httpx.Response | None:
        time.sleep(0.06)
        return None

    router.faults["hf-inference"] = slow
    client = router.make(mode, retry=RetryPolicy(max_retries=0, budget=0.1))
    started = time.monotonic()
    with pytest.raises(PartialEmbeddingError) as caught:
        await embed(
            mode,
            client,
            EMBED_MODEL,
            DOCS,
            provider="hf-inference",
            batch_size=10,
            max_concurrency=1,
        )
    assert time.monotonic() - started < 1.0  # not ten batches of 60 ms each
    error = caught.value
    assert error.embeddings[:10] == [vector(d) for d in DOCS[:10]]
    assert all(type(e).__name__ == "APITimeoutError" for e in error.errors.values())
    assert len(router.posts()) < 10


async def test_one_embeddings_span_per_request_with_its_attempts(mode: str) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from hfproviders import GenAITelemetry

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    router = EmbedRouter()
    answers = [status(503, {"error": "busy"})]
    router.faults["together"] = lambda request, body: answers.pop() if answers else None
    client = router.make(mode, telemetry=GenAITelemetry(tracer_provider=provider))
    await embed(
        mode,
        client,
        EMBED_MODEL,
        DOCS[:40],
        provider="together",
        batch_size=20,
        max_concurrency=1,
        dimensions=3,
    )
    spans = [s for s in exporter.get_finished_spans() if s.name.startswith("embeddings")]
    assert [s.name for s in spans] == [f"embeddings {EMBED_MODEL}"] * 2  # one per batch request
    tokens = [sum(len(d) for d in DOCS[:20]), sum(len(d) for d in DOCS[20:40])]
    for span, expected in zip(spans, tokens, strict=True):
        attributes = dict(span.attributes or {})
        assert attributes["gen_ai.operation.name"] == "embeddings"
        assert attributes["gen_ai.embeddings.dimension.count"] == 3
        assert attributes["huggingface.provider.served"] == "together"
        assert attributes["gen_ai.usage.input_tokens"] == expected
    attempts = [len([e for e in s.events if e.name == "huggingface.attempt"]) for s in spans]
    assert sorted(attempts) == [1, 2]  # the first batch was retried once
