"""ChatHFProviders with the core's provider features: failover, routing, discovery (`profile`),
LangChain's cache, the two rate limiters, and `batch` / `abatch`.

Everything runs on `httpx.MockTransport` (tests/langchain/provider_router.py), sync and async.
"""

from __future__ import annotations

import asyncio
import copy
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from langchain_core import exceptions as lc_errors
from langchain_core.caches import InMemoryCache
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.globals import set_llm_cache
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.rate_limiters import BaseRateLimiter, InMemoryRateLimiter
from langchain_core.tools import tool
from pydantic import ValidationError

import hfproviders
from langchain_hfproviders import ChatHFProviders, HFProvidersLLM
from tests.conftest import FAKE_TOKEN
from tests.langchain.provider_router import MODEL, ProviderRouter

both = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])


def run(is_async: bool, sync: Callable[[], Any], coro: Callable[[], Any]) -> Any:
    """One test body for both twins."""
    return asyncio.run(coro()) if is_async else sync()


def make(router: ProviderRouter, /, **kwargs: Any) -> ChatHFProviders:
    kwargs.setdefault("model", MODEL)
    kwargs.setdefault("api_key", FAKE_TOKEN)
    kwargs.setdefault("max_retries", 0)  # a 503 fails over at once (no backoff sleep)
    return ChatHFProviders(**router.clients(), **kwargs)


def invoke(model: Any, is_async: bool, text: str = "Hi") -> AIMessage:
    answer = run(is_async, lambda: model.invoke(text), lambda: model.ainvoke(text))
    assert isinstance(answer, AIMessage)
    return answer


def stream(model: ChatHFProviders, is_async: bool, text: str = "Hi") -> AIMessageChunk:
    async def collect() -> list[AIMessageChunk]:
        return [chunk async for chunk in model.astream(text)]

    chunks = run(is_async, lambda: list(model.stream(text)), collect)
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert isinstance(total, AIMessageChunk)
    return total


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"Sunny in {city}."


@tool
def get_time(city: str) -> str:
    """Get the current local time in a city."""
    return f"14:05 in {city}."


# -- failover --------------------------------------------------------------------------------------


@both
@pytest.mark.parametrize("streamed", [False, True], ids=["invoke", "stream"])
def test_failover_to_the_next_provider(is_async: bool, streamed: bool) -> None:
    router = ProviderRouter(failing={"novita": 503})
    model = make(router, provider=["novita", "groq"])
    answer = stream(model, is_async) if streamed else invoke(model, is_async)
    assert answer.text == "echo: Hi"
    assert [body["model"] for body in router.chats] == [f"{MODEL}:novita", f"{MODEL}:groq"]
    assert answer.response_metadata["inference_provider"] == "groq"
    assert answer.response_metadata["failed_providers"] == ["novita: ServiceUnavailableError"]


@both
@pytest.mark.parametrize("streamed", [False, True], ids=["invoke", "stream"])
def test_router_true_fails_over_on_a_gateway(is_async: bool, streamed: bool) -> None:
    router = ProviderRouter(failing={"novita": 503})
    gateway = {"base_url": "http://127.0.0.1:8765/v1", "router": True}
    model = make(router, provider=["novita", "groq"], **gateway)
    answer = stream(model, is_async) if streamed else invoke(model, is_async)
    assert answer.text == "echo: Hi"
    assert [str(r.url) for r in router.requests] == [
        "http://127.0.0.1:8765/v1/chat/completions"
    ] * 2
    assert [body["model"] for body in router.chats] == [f"{MODEL}:novita", f"{MODEL}:groq"]
    llm = HFProvidersLLM(model=MODEL, **gateway, **router.clients())
    assert llm._sync_client().base_url == "http://127.0.0.1:8765/v1"
    assert llm._sync_client()._config.is_router


@both
def test_no_failover_on_a_request_error(is_async: bool) -> None:
    router = ProviderRouter()
    model = make(router, provider=["novita", "groq"])
    with pytest.raises(hfproviders.BadRequestError) as caught:
        invoke(model, is_async, "bad")
    assert isinstance(caught.value, lc_errors.ModelInvalidRequestError)
    assert len(router.chats) == 1


# -- routing and discovery_ttl pass through -----------------------------------------------------------


@both
@pytest.mark.parametrize(
    ("routing", "loads", "served_by"),
    [("off", 0, "novita"), ("cached", 0, "novita"), ("auto", 1, "groq")],
)
def test_routing_reaches_the_core(is_async: bool, routing: str, loads: int, served_by: str) -> None:
    """A tool call to a chain whose first provider cannot call tools: only routing skips it."""
    router = ProviderRouter()
    model = make(router, provider=["novita", "groq"], routing=routing)
    invoke(model.bind_tools([get_weather]), is_async)
    assert router.catalogue_loads == loads
    assert [body["model"] for body in router.chats] == [f"{MODEL}:{served_by}"]


@both
def test_cached_routing_uses_a_loaded_catalogue(is_async: bool) -> None:
    router = ProviderRouter()
    model = make(router, provider=["novita", "groq"])

    def sync() -> None:
        model.load_model_profile()
        model.bind_tools([get_weather]).invoke("Hi")

    async def coro() -> None:
        await model.aload_model_profile()
        await model.bind_tools([get_weather]).ainvoke("Hi")

    run(is_async, sync, coro)
    assert router.catalogue_loads == 1
    assert [body["model"] for body in router.chats] == [f"{MODEL}:groq"]


@pytest.mark.parametrize("loaded_by_async", [False, True], ids=["sync-load", "async-load"])
def test_a_catalogue_loaded_on_one_side_routes_the_other(loaded_by_async: bool) -> None:
    """The sync client and every async one share the model's catalogue: one GET serves all."""
    router = ProviderRouter()
    model = make(router, provider=["novita", "groq"])
    run(loaded_by_async, model.load_model_profile, model.aload_model_profile)
    calls_async = not loaded_by_async
    invoke(model.bind_tools([get_weather]), calls_async)  # rerouted past novita
    with pytest.raises(hfproviders.ModelNotSupportedError):  # refused before it is sent
        invoke(model.bind_tools([get_weather], provider="novita"), calls_async)
    assert router.catalogue_loads == 1
    assert [body["model"] for body in router.chats] == [f"{MODEL}:groq"]


def test_discovery_ttl_reaches_the_core() -> None:
    router = ProviderRouter()
    model = make(router, provider=["novita", "groq"], routing="auto", discovery_ttl=0.001)
    tools_model = model.bind_tools([get_weather])
    tools_model.invoke("Hi")
    time.sleep(0.01)  # the catalogue expired: the next tool call loads it again
    tools_model.invoke("Hi")
    assert router.catalogue_loads == 2
    kept = make(ProviderRouter(), provider=["novita", "groq"], routing="auto")
    kept.bind_tools([get_weather]).invoke("Hi")
    kept.bind_tools([get_weather]).invoke("Hi")
    assert kept.profile is not None  # loaded once, by the first call


def test_bad_routing_is_rejected_at_construction() -> None:
    with pytest.raises(ValidationError):
        ChatHFProviders(model=MODEL, routing="sometimes")
    with pytest.raises(ValidationError):
        ChatHFProviders(model=MODEL, discovery_ttl=0)


# -- discovery: `profile` ------------------------------------------------------------------------


GROQ_PROFILE = {
    "max_input_tokens": 131072,
    "tool_calling": True,
    "tool_call_streaming": True,
    "structured_output": True,
    "text_inputs": True,
    "image_inputs": False,
    "text_outputs": True,
}


@both
def test_load_model_profile_fills_an_unset_profile(is_async: bool) -> None:
    router = ProviderRouter()
    model = make(router, provider="groq")
    assert model.profile is None  # construction never touches the network
    assert router.requests == []
    loaded = run(is_async, model.load_model_profile, model.aload_model_profile)
    assert loaded == model.profile == GROQ_PROFILE
    assert router.catalogue_loads == 1
    assert router.chats == []


def test_a_profile_you_set_is_kept() -> None:
    router = ProviderRouter()
    model = make(router, provider="groq", profile={"max_input_tokens": 1000})
    assert model.load_model_profile() == {"max_input_tokens": 1000}
    assert model.profile == {"max_input_tokens": 1000}


def test_auto_routing_fills_the_profile_after_the_call_that_loaded_the_catalogue() -> None:
    router = ProviderRouter()
    model = make(router, provider="groq", routing="auto")
    model.invoke("Hi")  # no tools: nothing to route, nothing loaded
    assert model.profile is None
    list(model.bind_tools([get_weather]).stream("Hi"))
    assert model.profile == GROQ_PROFILE
    assert router.catalogue_loads == 1


def test_loading_the_profile_does_not_change_the_cache_key() -> None:
    model = make(ProviderRouter(), provider="groq")
    before = model._get_llm_string()
    model.load_model_profile()
    assert model._get_llm_string() == before


@pytest.mark.parametrize(
    ("provider", "routing", "expected"),
    [
        # The router picks among live providers: the smallest window is the safe one.
        (
            None,
            "cached",
            {"max_input_tokens": 16384, "tool_calling": True, "structured_output": True},
        ),
        # Routing off: the router may pick novita, which can do neither.
        (
            None,
            "off",
            {"max_input_tokens": 16384, "tool_calling": False, "structured_output": False},
        ),
        ("fastest", "auto", {"max_input_tokens": 16384, "tool_calling": True}),
        ("novita", "cached", {"max_input_tokens": 16384, "tool_calling": False}),
        (["groq", "together"], "cached", {"max_input_tokens": 32768, "tool_calling": True}),
        (["groq", "together"], "off", {"max_input_tokens": 32768, "structured_output": None}),
        ("cerebras", "cached", {"tool_calling": None, "max_input_tokens": None}),
    ],
)
def test_profile_follows_the_provider_setting(
    provider: Any, routing: str, expected: dict[str, Any]
) -> None:
    """None in `expected` means the key must be absent (unknown is not False)."""
    profile = make(ProviderRouter(), provider=provider, routing=routing).load_model_profile()
    assert profile is not None
    assert profile["text_inputs"] is True  # the model's own modalities, whatever the provider
    for key, value in expected.items():
        assert profile.get(key) == value, key
        if value is None:
            assert key not in profile


def test_profile_reads_a_model_suffix() -> None:
    profile = make(ProviderRouter(), model=f"{MODEL}:novita").load_model_profile()
    assert profile is not None
    assert profile["max_input_tokens"] == 16384
    assert profile["tool_calling"] is False


def test_no_profile_for_a_model_the_catalogue_does_not_list() -> None:
    model = make(ProviderRouter(), model="Qwen/Qwen2.5-7B-Instruct")
    assert model.load_model_profile() is None
    assert model.profile is None


def test_a_bad_provider_suffix_leaves_capabilities_unknown_and_fails_the_call() -> None:
    model = make(ProviderRouter(), model=f"{MODEL}:not-a-provider")
    profile = model.load_model_profile()  # never raises for what only the call would send
    assert profile is not None
    assert "tool_calling" not in profile
    assert "max_input_tokens" not in profile
    with pytest.raises(hfproviders.UnknownProviderError):
        model.invoke("Hi")


# -- cache: LangChain's own; the core's is never passed ----------------------------------------------


@pytest.fixture
def llm_cache() -> Iterator[InMemoryCache]:
    cache = InMemoryCache()
    set_llm_cache(cache)
    yield cache
    set_llm_cache(None)


def test_no_core_cache_behind_langchain() -> None:
    """Without LangChain's cache every call is sent; the core's cache is not an option."""
    router = ProviderRouter()
    model = make(router)
    model.invoke("Hi")
    model.invoke("Hi")
    assert len(router.chats) == 2
    with pytest.raises(ValidationError):
        ChatHFProviders(model=MODEL, cache=hfproviders.InMemoryCache())


_VARIANTS: dict[str, Callable[[ChatHFProviders], Any]] = {
    "model": lambda m: m.model_copy(update={"model": "Qwen/Qwen2.5-7B-Instruct"}),
    "provider": lambda m: m.model_copy(update={"provider": "together"}),
    "provider list": lambda m: m.model_copy(update={"provider": ["groq", "together"]}),
    "model suffix": lambda m: m.model_copy(update={"model": f"{MODEL}:together", "provider": None}),
    "temperature": lambda m: m.model_copy(update={"temperature": 0.7}),
    "max_tokens": lambda m: m.model_copy(update={"max_tokens": 10}),
    "base_url": lambda m: m.model_copy(
        update={"base_url": "https://tgi.example.test/v1", "provider": None}
    ),
    "bill_to": lambda m: m.model_copy(update={"bill_to": "my-org"}),
    "extra_body": lambda m: m.model_copy(update={"extra_body": {"top_k": 40}}),
    "stop": lambda m: m.model_copy(update={"stop": ["\n"]}),
    "model_kwargs": lambda m: m.model_copy(update={"model_kwargs": {"logit_bias": {"1": 5}}}),
    "routing": lambda m: m.model_copy(update={"routing": "off"}),
    "tools": lambda m: m.bind_tools([get_weather]),
    "other tools": lambda m: m.bind_tools([get_time]),
    "tool_choice": lambda m: m.bind_tools([get_weather], tool_choice="get_weather"),
    "call-time temperature": lambda m: m.bind(temperature=1.0),
}


def test_langchain_cache_key_differs_on_every_field(llm_cache: InMemoryCache) -> None:
    """Each variant is a miss (a request goes out), and each repeat a hit (nothing goes out)."""
    router = ProviderRouter()
    base = make(router, temperature=0, provider="groq")
    base.invoke("Hi")
    base.invoke("Hi")
    assert len(router.chats) == 1
    for name, variant in _VARIANTS.items():
        runnable = variant(base)
        sent = len(router.chats)
        runnable.invoke("Hi")
        assert len(router.chats) == sent + 1, f"{name}: served from another request's entry"
        runnable.invoke("Hi")
        assert len(router.chats) == sent + 1, f"{name}: repeat not served from the cache"
    # A field assigned in place is a new key too (langchain-core would keep a stale one).
    base.temperature = 0.9
    sent = len(router.chats)
    base.invoke("Hi")
    assert len(router.chats) == sent + 1
    # A copy sends with its own settings, not the clients of the model it was copied from.
    copied = base.model_copy(update={"provider": "together", "temperature": 0.3})
    copied.invoke("Hi")
    assert router.chats[-1]["model"] == f"{MODEL}:together"
    assert [r.url.host for r in router.requests].count("tgi.example.test") == 1


async def test_langchain_cache_hits_on_the_async_path(llm_cache: InMemoryCache) -> None:
    router = ProviderRouter()
    model = make(router, temperature=0)
    first = await model.ainvoke("Hi")
    second = await model.ainvoke("Hi")
    assert len(router.chats) == 1
    assert second.content == first.content


# -- rate limiting: ours per HTTP attempt, LangChain's per model call ------------------------------


class CountingRateLimiter(hfproviders.RateLimiter):
    """The core limiter, counting the slots it hands out."""

    def __init__(self) -> None:
        super().__init__(requests_per_minute=6000, burst=100)
        self.slots = 0

    def acquire(self, tokens: int = 1) -> float:
        self.slots += 1
        return super().acquire(tokens)

    async def aacquire(self, tokens: int = 1) -> float:
        self.slots += 1
        return await super().aacquire(tokens)


class CountingLangChainLimiter(BaseRateLimiter):
    """LangChain's limiter interface, counting model calls."""

    def __init__(self) -> None:
        self.calls = 0

    def acquire(self, *, blocking: bool = True) -> bool:
        self.calls += 1
        return True

    async def aacquire(self, *, blocking: bool = True) -> bool:
        self.calls += 1
        return True


@both
def test_both_limiters_count_their_own_unit(is_async: bool) -> None:
    """A failover call is one model call (LangChain's limiter) and two HTTP attempts (ours)."""
    router = ProviderRouter(failing={"novita": 503})
    ours, theirs = CountingRateLimiter(), CountingLangChainLimiter()
    model = make(
        router, provider=["novita", "groq"], request_rate_limiter=ours, rate_limiter=theirs
    )
    invoke(model, is_async)
    assert len(router.chats) == 2
    assert ours.slots == 2
    assert theirs.calls == 1


def test_a_deep_copy_has_its_own_clients_and_shares_limiters_and_pools() -> None:
    """LangGraph deep-copies models: locks and connections are shared, never duplicated."""
    router = ProviderRouter()
    ours, theirs = CountingRateLimiter(), CountingLangChainLimiter()
    model = make(router, request_rate_limiter=ours, rate_limiter=theirs)
    model.invoke("Hi")
    copied = copy.deepcopy(model)
    assert copied.request_rate_limiter is ours
    assert copied.rate_limiter is theirs
    assert copied.http_client is model.http_client
    copied.invoke("from the copy")
    assert copied._sync_client() is not model._sync_client()
    assert len(router.chats) == 2
    assert (ours.slots, theirs.calls) == (2, 2)
    llm = HFProvidersLLM(
        model="tgi",
        base_url="https://tgi.example.test",
        request_rate_limiter=ours,
        **router.clients(),
    )
    llm_copy = copy.deepcopy(llm)
    assert llm_copy.request_rate_limiter is ours
    assert llm_copy.http_client is llm.http_client


def test_limiters_are_not_mixed_up_or_serialized() -> None:
    with pytest.raises(ValidationError):
        ChatHFProviders(model=MODEL, request_rate_limiter=InMemoryRateLimiter())
    model = ChatHFProviders(
        model=MODEL, api_key=FAKE_TOKEN, request_rate_limiter=CountingRateLimiter()
    )
    assert "request_rate_limiter" not in model._get_llm_string()


# -- batch: LangChain's batch over the native invoke / ainvoke ------------------------------------


class Calls(BaseCallbackHandler):
    """Counts the callbacks each batch item fires."""

    def __init__(self) -> None:
        self.starts = 0
        self.ends = 0
        self.errors = 0

    def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:
        self.starts += 1

    def on_llm_end(self, *args: Any, **kwargs: Any) -> None:
        self.ends += 1

    def on_llm_error(self, *args: Any, **kwargs: Any) -> None:
        self.errors += 1


QUESTIONS = ["q0", "q1", "bad", "q3", "q4", "q5"]


@both
def test_batch_in_order_with_typed_errors_in_place_under_max_concurrency(is_async: bool) -> None:
    router = ProviderRouter(delay=0.05)
    model = make(router)
    calls = Calls()
    config: Any = {"max_concurrency": 2, "callbacks": [calls]}
    results = run(
        is_async,
        lambda: model.batch(QUESTIONS, config, return_exceptions=True),
        lambda: model.abatch(QUESTIONS, config, return_exceptions=True),
    )
    assert router.peak == 2  # concurrent, and never more than asked
    assert len(router.chats) == len(QUESTIONS)
    for question, result in zip(QUESTIONS, results, strict=True):
        if question == "bad":
            assert isinstance(result, hfproviders.BadRequestError)
            assert isinstance(result, lc_errors.ModelInvalidRequestError)
        else:
            assert isinstance(result, AIMessage)
            assert result.text == f"echo: {question}"
    assert (calls.starts, calls.ends, calls.errors) == (6, 5, 1)


def test_batch_threads_share_one_pool() -> None:
    router = ProviderRouter()
    router.barrier = threading.Barrier(4)  # all four in flight at once, or the batch fails
    model = make(router)
    answers = model.batch(["a", "b", "c", "d"], {"max_concurrency": 4})
    assert [a.content for a in answers] == ["echo: a", "echo: b", "echo: c", "echo: d"]
    assert router.peak == 4
    router.barrier = None
    assert model._pools._sync is not None
    pool = model._pools._sync
    model.batch(["e", "f"], {"max_concurrency": 2})
    assert model._pools._sync is pool
