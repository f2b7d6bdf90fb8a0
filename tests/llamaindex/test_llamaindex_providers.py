"""HFProviders with the core's provider features: failover, routing, discovery (`metadata`),
the response cache, the two rate limiters, concurrency on one async client, thread-safe pools.

Everything runs on `httpx.MockTransport` (the router of tests/langchain/provider_router.py,
shared by both adapters' tests; it imports no framework), sync and async.
"""

from __future__ import annotations

import asyncio
import copy
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, ChatResponse
from llama_index.core.tools import FunctionTool
from llamaindex_support import FAKE_TOKEN, CountingLimiter
from pydantic import ValidationError

import hfproviders
import llamaindex_hfproviders
from llamaindex_hfproviders import DEFAULT_CONTEXT_WINDOW, HFProviders, HFProvidersEmbedding
from tests.langchain.provider_router import MODEL, ProviderRouter

MODES = ["chat", "achat", "stream_chat", "astream_chat"]


def make(router: ProviderRouter, /, **kwargs: Any) -> HFProviders:
    kwargs.setdefault("max_retries", 0)  # a 503 fails over at once (no backoff sleep)
    return HFProviders(model=MODEL, api_key=FAKE_TOKEN, **router.clients(), **kwargs)


def ask(text: str = "Hi") -> list[ChatMessage]:
    return [ChatMessage(role="user", content=text)]


async def call(llm: HFProviders, mode: str, text: str = "Hi", **kwargs: Any) -> ChatResponse:
    """The last response of one call through `mode` (a stream's last carries the usage)."""
    messages = ask(text)
    if mode == "chat":
        return llm.chat(messages, **kwargs)
    if mode == "achat":
        return await llm.achat(messages, **kwargs)
    if mode == "stream_chat":
        return list(llm.stream_chat(messages, **kwargs))[-1]
    return [r async for r in await llm.astream_chat(messages, **kwargs)][-1]


def weather(city: str) -> str:
    """Get the weather in a city."""
    return f"Sunny in {city}."


WEATHER = FunctionTool.from_defaults(fn=weather)


# -- failover


@pytest.mark.parametrize("mode", MODES)
async def test_failover_to_the_next_provider(mode: str) -> None:
    router = ProviderRouter(failing={"novita": 503})
    response = await call(make(router, provider=["novita", "groq"]), mode)
    assert response.message.content == "echo: Hi"
    assert [body["model"] for body in router.chats] == [f"{MODEL}:novita", f"{MODEL}:groq"]
    assert response.additional_kwargs["provider"] == "groq"
    assert response.additional_kwargs["failed_providers"] == ["novita: ServiceUnavailableError"]


@pytest.mark.parametrize("mode", MODES)
async def test_router_true_fails_over_on_a_gateway(mode: str) -> None:
    router = ProviderRouter(failing={"novita": 503})
    gateway = {"base_url": "http://127.0.0.1:8765/v1", "router": True}
    llm = make(router, provider=["novita", "groq"], **gateway)
    response = await call(llm, mode)
    assert response.message.content == "echo: Hi"
    assert {str(r.url) for r in router.requests} == {"http://127.0.0.1:8765/v1/chat/completions"}
    assert [body["model"] for body in router.chats] == [f"{MODEL}:novita", f"{MODEL}:groq"]


async def test_no_failover_on_a_request_error() -> None:
    router = ProviderRouter()
    with pytest.raises(hfproviders.BadRequestError):
        await make(router, provider=["novita", "groq"]).achat(ask("bad"))
    assert len(router.chats) == 1


# -- routing and discovery_ttl pass through


@pytest.mark.parametrize(
    ("routing", "loads", "served_by"),
    [("off", 0, "novita"), ("cached", 0, "novita"), ("auto", 1, "groq")],
)
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_routing_reaches_the_core(
    routing: str, loads: int, served_by: str, is_async: bool
) -> None:
    """A tool call to a chain whose first provider cannot call tools: only routing skips it."""
    router = ProviderRouter()
    llm = make(router, provider=["novita", "groq"], routing=routing)
    if is_async:
        await llm.achat_with_tools([WEATHER], user_msg="Hi")
    else:
        llm.chat_with_tools([WEATHER], user_msg="Hi")
    assert router.catalogue_loads == loads
    assert [body["model"] for body in router.chats] == [f"{MODEL}:{served_by}"]


async def test_cached_routing_uses_a_catalogue_loaded_on_the_same_side() -> None:
    router = ProviderRouter()
    llm = make(router, provider=["novita", "groq"])
    await llm.aload_model_info()
    await llm.achat_with_tools([WEATHER], user_msg="Hi")
    assert [body["model"] for body in router.chats] == [f"{MODEL}:groq"]


@pytest.mark.parametrize("loaded_by_async", [False, True], ids=["sync-load", "async-load"])
async def test_a_catalogue_loaded_on_one_side_routes_the_other(loaded_by_async: bool) -> None:
    """The sync and async clients share one catalogue: one GET /v1/models serves both."""
    router = ProviderRouter()
    llm = make(router, provider=["novita", "groq"])
    if loaded_by_async:
        await llm.aload_model_info()
        llm.chat_with_tools([WEATHER], user_msg="Hi")  # rerouted past novita
        with pytest.raises(hfproviders.ModelNotSupportedError):  # refused before it is sent
            llm.chat_with_tools([WEATHER], user_msg="Hi", provider="novita")
    else:
        llm.load_model_info()
        await llm.achat_with_tools([WEATHER], user_msg="Hi")
        with pytest.raises(hfproviders.ModelNotSupportedError):
            await llm.achat_with_tools([WEATHER], user_msg="Hi", provider="novita")
    assert router.catalogue_loads == 1
    assert [body["model"] for body in router.chats] == [f"{MODEL}:groq"]
    assert llm.metadata.context_window == 16384  # whichever client answers, it knows novita's


def test_discovery_ttl_reaches_the_core() -> None:
    router = ProviderRouter()
    llm = make(router, provider=["novita", "groq"], routing="auto", discovery_ttl=0.001)
    llm.chat_with_tools([WEATHER], user_msg="Hi")
    time.sleep(0.01)  # the catalogue expired: the next tool call loads it again
    llm.chat_with_tools([WEATHER], user_msg="Hi")
    assert router.catalogue_loads == 2


def test_bad_settings_fail_at_construction() -> None:
    with pytest.raises(ValidationError):
        HFProviders(model=MODEL, routing="sometimes")
    with pytest.raises(ValidationError):
        HFProviders(model=MODEL, discovery_ttl=0)
    with pytest.raises(ValidationError, match="ResponseCache"):
        HFProviders(model=MODEL, cache=object())
    with pytest.raises(ValidationError, match="RateLimiter"):
        HFProviders(model=MODEL, request_rate_limiter="60/min")
    with pytest.raises(ValidationError, match="ResponseCache"):
        HFProvidersEmbedding(model_name=MODEL, cache={})
    with pytest.raises(ValidationError, match="RateLimiter"):
        HFProvidersEmbedding(model_name=MODEL, request_rate_limiter=CountingLimiter())


def test_the_cores_cache_and_limiters_are_accepted_as_they_are() -> None:
    cache, limiter = hfproviders.InMemoryCache(), CountingRateLimiter()
    llm = HFProviders(model=MODEL, cache=cache, request_rate_limiter=limiter)
    assert llm.cache is cache and llm.request_rate_limiter is limiter
    assert isinstance(llm.breaker, hfproviders.CircuitBreaker)
    embedder = HFProvidersEmbedding(model_name=MODEL, cache=cache, request_rate_limiter=limiter)
    assert embedder.cache is cache and embedder.request_rate_limiter is limiter


def test_import_leaves_the_core_and_embeddings_for_first_use() -> None:
    # `from llamaindex_hfproviders import HFProviders` costs LlamaIndex's import and little
    # more: the core loads when a model is first made, the embedding class when asked for.
    code = (
        "import sys\n"
        "from llamaindex_hfproviders import HFProviders\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'hfproviders'))\n"
        "print('llamaindex_hfproviders.embeddings' in sys.modules)\n"
        "llm = HFProviders(model='m/m', api_key='hf_x')\n"
        "print(type(llm.breaker).__name__, type(llm._pools).__name__)\n"
        "from llamaindex_hfproviders import HFProvidersEmbedding\n"
        "import llamaindex_hfproviders.embeddings as module\n"
        "print(HFProvidersEmbedding is module.HFProvidersEmbedding)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "False", "CircuitBreaker ClientPair", "True"]
    with pytest.raises(AttributeError, match="HFProvidersEmbeddings"):
        _ = llamaindex_hfproviders.HFProvidersEmbeddings  # type: ignore[attr-defined]


# -- discovery: metadata


@pytest.mark.parametrize(
    ("provider", "window"),
    [
        ("groq", 131072),
        (None, 16384),  # the router picks among live providers: the smallest is the safe one
        (["groq", "together"], 32768),  # a failover may land on either
        ("cerebras", DEFAULT_CONTEXT_WINDOW),  # not in the catalogue: unknown
    ],
)
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_context_window_from_the_loaded_catalogue(
    provider: Any, window: int, is_async: bool
) -> None:
    router = ProviderRouter()
    llm = make(router, provider=provider)
    assert llm.metadata.context_window == DEFAULT_CONTEXT_WINDOW
    assert router.requests == []  # construction and metadata never touch the network
    info = await llm.aload_model_info() if is_async else llm.load_model_info()
    assert info is not None
    assert info.id == MODEL
    assert llm.metadata.context_window == window
    assert router.catalogue_loads == 1
    assert router.chats == []


def test_settings_you_give_win_over_the_catalogue() -> None:
    llm = make(
        ProviderRouter(), provider="novita", context_window=4096, is_function_calling_model=True
    )
    llm.load_model_info()
    assert llm.metadata.context_window == 4096
    assert llm.metadata.is_function_calling_model is True


@pytest.mark.parametrize(
    ("provider", "routing", "function_calling"),
    [
        ("novita", "cached", False),  # the catalogue says novita cannot call tools
        ("groq", "cached", True),
        ("together", "cached", True),  # unknown: keep the default
        (None, "cached", True),  # routing skips novita for tool calls: groq can take them
        (None, "off", False),  # unrouted, the router may pick novita, which cannot
    ],
)
def test_function_calling_flag_from_the_catalogue(
    provider: str | None, routing: str, function_calling: bool
) -> None:
    llm = make(ProviderRouter(), provider=provider, routing=routing)
    llm.load_model_info()
    assert llm.metadata.is_function_calling_model is function_calling


def test_auto_routing_loads_what_metadata_reads() -> None:
    router = ProviderRouter()
    llm = make(router, provider="groq", routing="auto")
    llm.chat(ask())  # no tools: nothing to route, nothing loaded
    assert llm.metadata.context_window == DEFAULT_CONTEXT_WINDOW
    llm.chat_with_tools([WEATHER], user_msg="Hi")
    assert router.catalogue_loads == 1
    assert llm.metadata.context_window == 131072


# -- response cache


@pytest.fixture(params=["memory", "sqlite"])
def cache(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "memory":
        return hfproviders.InMemoryCache()
    return hfproviders.SQLiteCache(path=tmp_path / "responses.sqlite3")


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_cache_hit_sends_nothing(cache: Any, is_async: bool) -> None:
    router = ProviderRouter()
    llm = make(router, cache=cache)
    first = await call(llm, "achat" if is_async else "chat")
    second = await call(llm, "achat" if is_async else "chat")
    assert len(router.chats) == 1
    assert second.message.content == first.message.content == "echo: Hi"
    assert "cached" not in first.additional_kwargs
    assert second.additional_kwargs["cached"] is True
    await call(llm, "achat" if is_async else "chat", "Other question")
    assert len(router.chats) == 2  # another request is another entry
    completions = [llm.complete("Third") for _ in range(2)]  # the chat API with one message
    assert len(router.chats) == 3
    assert completions[1].text == completions[0].text == "echo: Third"


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_cached_stream_replays_as_a_stream(cache: Any, is_async: bool) -> None:
    router = ProviderRouter()
    llm = make(router, cache=cache)

    async def deltas() -> list[tuple[str | None, str | None]]:
        if is_async:
            responses = [r async for r in await llm.astream_chat(ask())]
        else:
            responses = list(llm.stream_chat(ask()))
        return [(r.delta, r.message.content) for r in responses]

    live = await deltas()
    replayed = await deltas()
    assert len(router.chats) == 1
    assert replayed == live
    assert live[-1][1] == "echo: Hi"


# -- rate limiting: ours per HTTP attempt, LlamaIndex's per call


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


@pytest.mark.parametrize("mode", MODES)
async def test_both_limiters_count_their_own_unit(mode: str) -> None:
    """A failover call is one LLM call (LlamaIndex's limiter) and two HTTP attempts (ours)."""
    router = ProviderRouter(failing={"novita": 503})
    ours, theirs = CountingRateLimiter(), CountingLimiter()
    llm = make(router, provider=["novita", "groq"], request_rate_limiter=ours, rate_limiter=theirs)
    await call(llm, mode)
    assert len(router.chats) == 2
    assert ours.slots == 2
    assert theirs.calls == 1


def test_limiter_and_cache_stay_out_of_serialisation() -> None:
    llm = HFProviders(
        model=MODEL, request_rate_limiter=CountingRateLimiter(), cache=hfproviders.InMemoryCache()
    )
    data = llm.to_dict()
    assert "request_rate_limiter" not in data
    assert "cache" not in data
    assert HFProviders.from_dict(data).request_rate_limiter is None


# -- concurrency: many async calls share one client


async def test_gathered_achat_calls_run_concurrently_on_one_client() -> None:
    router = ProviderRouter(delay=0.05)
    llm = make(router)
    questions = ["q0", "q1", "bad", "q3", "q4", "q5"]
    first = await llm.achat(ask("warm-up"))
    client = llm._pools._async
    results = await asyncio.gather(*(llm.achat(ask(q)) for q in questions), return_exceptions=True)
    assert router.peak == len(questions)  # all in flight at once, none serialised
    assert llm._pools._async is client
    assert first.message.content == "echo: warm-up"
    for question, result in zip(questions, results, strict=True):
        if question == "bad":
            assert isinstance(result, hfproviders.BadRequestError)
        else:
            assert isinstance(result, ChatResponse)
            assert result.message.content == f"echo: {question}"


async def test_request_rate_limiter_spaces_concurrent_calls() -> None:
    """One limiter shared by gathered calls: the burst goes at once, the rest wait their turn."""
    router = ProviderRouter()
    limiter = hfproviders.RateLimiter(requests_per_minute=60 * 50, burst=2)  # 50/s after 2
    llm = make(router, request_rate_limiter=limiter)
    started = time.monotonic()
    await asyncio.gather(*(llm.achat(ask(f"q{i}")) for i in range(6)))
    elapsed = time.monotonic() - started
    assert len(router.chats) == 6
    assert elapsed >= 4 / 50 * 0.9  # 4 requests beyond the burst, 20 ms apart


# -- lazy clients are created once, even when threads race the first call


class SlowToBuild:
    """Wraps a client class: counts constructions and widens the race window."""

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.built = 0

    def __call__(self, **kwargs: Any) -> Any:
        self.built += 1
        time.sleep(0.05)
        return self.cls(**kwargs)


def race(target: Any, threads: int = 4) -> None:
    barrier = threading.Barrier(threads)

    def go() -> None:
        barrier.wait()
        target()

    workers = [threading.Thread(target=go) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def test_threads_racing_the_first_call_build_one_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    slow_sync = SlowToBuild(hfproviders.HFClient)
    slow_async = SlowToBuild(hfproviders.AsyncHFClient)
    monkeypatch.setattr(hfproviders._client, "HFClient", slow_sync)  # what ClientPair builds
    monkeypatch.setattr(hfproviders._client, "AsyncHFClient", slow_async)
    router = ProviderRouter()
    llm = make(router)
    race(lambda: llm.chat(ask()))
    assert slow_sync.built == 1
    assert len(router.chats) == 4
    clients: list[Any] = []
    race(lambda: clients.append(llm._async_client()))
    assert slow_async.built == 1
    assert all(client is clients[0] for client in clients)


def test_a_copy_sends_with_its_own_settings() -> None:
    router = ProviderRouter()
    llm = make(router, provider="groq")
    llm.chat(ask())
    copied = llm.model_copy(update={"provider": "together"})
    copied.chat(ask())
    llm.chat(ask())
    assert [body["model"] for body in router.chats] == [
        f"{MODEL}:groq",
        f"{MODEL}:together",
        f"{MODEL}:groq",
    ]


async def test_a_deep_copy_gets_its_own_clients_and_shares_cache_and_limiters(cache: Any) -> None:
    """LlamaIndex and user code deep-copy LLMs: clients, locks and connections must not be."""
    router = ProviderRouter()
    ours, theirs = CountingRateLimiter(), CountingLimiter()
    llm = make(router, cache=cache, request_rate_limiter=ours, rate_limiter=theirs)
    llm.load_model_info()
    llm.chat(ask())
    await llm.achat(ask("async"))
    copied = copy.deepcopy(llm)
    assert (copied._pools._sync, copied._pools._async) == (None, None)
    assert copied.cache is cache
    assert copied.request_rate_limiter is ours
    assert copied.rate_limiter is theirs
    assert copied.metadata.context_window == DEFAULT_CONTEXT_WINDOW  # its catalogue: not loaded
    assert copied.chat(ask()).additional_kwargs["cached"] is True  # the shared cache answers
    await copied.achat(ask("from the copy"))  # through your own httpx client, shared too
    assert copied._pools._sync is not llm._pools._sync
    assert copied._pools._async is not llm._pools._async
    assert len(router.chats) == 3
    assert ours.slots == 3
    assert llm.chat(ask("original")).message.content == "echo: original"  # still its own
    assert llm.model_copy(deep=True)._pools._sync is None


def test_a_pickled_model_comes_back_with_its_settings_and_clients_of_its_own() -> None:
    """The adapter's types load the core on first use; pickling is unchanged by that."""
    import pickle

    llm = HFProviders(model=MODEL, provider=["novita", "groq"], temperature=0.2)
    llm._sync_client()  # its core client made (no request)
    copied = pickle.loads(pickle.dumps(llm))
    assert isinstance(copied, HFProviders) and copied is not llm
    assert (copied.model, copied.provider, copied.temperature) == (MODEL, ["novita", "groq"], 0.2)
    assert isinstance(copied.breaker, hfproviders.CircuitBreaker)
    assert copied._pools is not llm._pools and copied._pools.any is None
    embedder = HFProvidersEmbedding(model_name=MODEL, dimensions=8)
    back = pickle.loads(pickle.dumps(embedder))
    assert isinstance(back, HFProvidersEmbedding) and back.dimensions == 8
