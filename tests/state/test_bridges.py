"""The LangChain and LlamaIndex rate-limiter bridges and `state=` on both adapters."""

from __future__ import annotations

import time

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from llama_index.core.llms import MockLLM

from hfproviders import RateLimiter, RateLimitWaitTooLongError, RedisRateLimiter, RedisState
from langchain_hfproviders import ChatHFProviders
from langchain_hfproviders.rate_limiters import HFProvidersRateLimiter as LangChainLimiter
from llamaindex_hfproviders import HFProviders
from llamaindex_hfproviders.rate_limiter import HFProvidersRateLimiter as LlamaIndexLimiter
from tests.state.conftest import assert_wait


def shared_limiter(url: str, **kwargs: object) -> RedisRateLimiter:
    limiter = RedisState(url).rate_limiter(60, burst=1, **kwargs)  # type: ignore[arg-type]
    slept: list[float] = []
    limiter._sleep = slept.append

    async def record(seconds: float) -> None:
        slept.append(seconds)

    limiter._async_sleep = record
    limiter.slept = slept  # type: ignore[attr-defined]
    return limiter


def fake_chat(limiter: RedisRateLimiter) -> GenericFakeChatModel:
    """Any LangChain chat model (not ours), limited through the bridge."""
    return GenericFakeChatModel(
        messages=iter([AIMessage("one"), AIMessage("two")]), rate_limiter=LangChainLimiter(limiter)
    )


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_langchain_models_in_two_workers_share_one_quota(
    redis_url: str, is_async: bool
) -> None:
    first, second = shared_limiter(redis_url), shared_limiter(redis_url)
    models = fake_chat(first), fake_chat(second)
    since = time.monotonic()
    for model in models:
        answer = await model.ainvoke("hi") if is_async else model.invoke("hi")
        assert answer.content == "one"
    assert first.slept == [] and len(second.slept) == 1
    assert_wait(second.slept[0], 1.0, since)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_langchain_non_blocking_acquire(redis_url: str, is_async: bool) -> None:
    bridge = LangChainLimiter(shared_limiter(redis_url))
    other = LangChainLimiter(shared_limiter(redis_url))
    if is_async:
        assert await bridge.aacquire(blocking=False) is True
        assert await other.aacquire(blocking=False) is False
    else:
        assert bridge.acquire(blocking=False) is True
        assert other.acquire(blocking=False) is False
    local = LangChainLimiter(RateLimiter(60, burst=1))
    assert local.acquire(blocking=False) is True and local.acquire(blocking=False) is False


def test_llamaindex_llms_in_two_workers_share_one_quota(redis_url: str) -> None:
    first, second = shared_limiter(redis_url), shared_limiter(redis_url)
    since = time.monotonic()
    for limiter in (first, second):
        llm = MockLLM(max_tokens=4)  # any LlamaIndex LLM (MockLLM's __init__ takes no limiter)
        llm.rate_limiter = LlamaIndexLimiter(limiter)
        assert llm.complete("hello").text
    assert first.slept == [] and len(second.slept) == 1
    assert_wait(second.slept[0], 1.0, since)


async def test_llamaindex_async_acquire_shares_the_quota(redis_url: str) -> None:
    # MockLLM's acomplete runs its sync complete too (two acquisitions), so the bridge is
    # driven directly, as LlamaIndex's async callback wrapper does.
    first, second = shared_limiter(redis_url), shared_limiter(redis_url)
    since = time.monotonic()
    await LlamaIndexLimiter(first).async_acquire()
    await LlamaIndexLimiter(second).async_acquire(num_tokens=0)
    assert first.slept == [] and len(second.slept) == 1
    assert_wait(second.slept[0], 1.0, since)


def test_llamaindex_bridge_counts_tokens_and_bounds_waits(redis_url: str) -> None:
    limiter = RedisState(redis_url).rate_limiter(6000, tokens_per_minute=600, max_wait=0.5)
    bridge = LlamaIndexLimiter(limiter)
    bridge.acquire(num_tokens=600)
    with pytest.raises(RateLimitWaitTooLongError):
        bridge.acquire(num_tokens=100)  # 10 s of tokens away


def test_state_option_on_both_adapters(redis_url: str) -> None:
    local = RateLimiter(60)
    chat = ChatHFProviders(
        model="org/model", api_key="k", request_rate_limiter=local, state=redis_url
    )
    limiter = chat._sync_client()._config.limiter
    assert isinstance(limiter, RedisRateLimiter) and limiter.requests_per_minute == 60
    llm = HFProviders(model="org/model", api_key="k", request_rate_limiter=local, state=redis_url)
    assert isinstance(llm._sync_client()._config.limiter, RedisRateLimiter)
    assert "state" not in chat.model_dump() and "state" not in llm.to_dict()
