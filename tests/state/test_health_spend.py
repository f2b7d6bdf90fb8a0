"""Provider health and spend on a real redis-server, shared by worker processes."""

from __future__ import annotations

import time
from typing import Any

import pytest

from hfproviders import (
    AsyncHFClient,
    CircuitBreaker,
    HealthTracker,
    HFClient,
    InMemoryHealthStore,
    RedisState,
    ServerError,
    SpendLimit,
    StateUnavailableError,
    Usage,
)
from hfproviders._health import CircuitRecord
from hfproviders._redis_stores import RedisSpendStore
from hfproviders._spend import InMemorySpendStore, SpendLedger
from hfproviders.testing import FakeRouter, Fault
from tests.state._workers import MODEL, health_worker, run_workers, spend_worker
from tests.state.conftest import RedisServer

BREAKER = {"failure_rate": 0.5, "min_calls": 4, "window_s": 60.0, "cooldown_s": 0.5}
LLAMA = "meta-llama/Llama-3.3-70B-Instruct"  # in the fake router's catalogue: groq and together
USAGE = Usage(prompt_tokens=10, completion_tokens=20, total_tokens=30)


def test_breaker_opened_by_one_process_skips_the_provider_in_another(server_url: str) -> None:
    run_workers(
        [{"worker": 0, "state": server_url, "breaker": BREAKER, "provider": "groq", "failures": 4}],
        target=health_worker,
    )
    here = HealthTracker(CircuitBreaker(**BREAKER), RedisState(server_url).health_store())
    assert here.state(MODEL, "groq") == "open"
    assert here.available(MODEL, ["groq", "together"]) == ("together",)
    assert here.admit(MODEL, "groq") is False
    report = {h.provider: h for h in here.report()}
    assert (report["groq"].state, report["groq"].calls) == ("open", 4)
    assert report["groq"].last_error == "ServerError 503"


def test_only_one_process_probes_a_half_open_provider(server_url: str) -> None:
    tracker = HealthTracker(CircuitBreaker(**BREAKER), RedisState(server_url).health_store())
    for _ in range(4):
        tracker.record(MODEL, "groq", "groq", ServerError("down", status_code=503))
    time.sleep(0.6)  # past the cooldown: half-open, one probe allowed among all workers
    configs = [
        {"worker": n, "state": server_url, "breaker": BREAKER, "provider": "groq", "admit": True}
        for n in range(4)
    ]
    admitted = [allowed for _, allowed in run_workers(configs, target=health_worker)]
    assert sorted(admitted) == [False, False, False, True]


def test_health_store_round_trips_and_fails_as_configured(own_redis: RedisServer) -> None:
    store = RedisState(own_redis.url, recheck_s=0).health_store()
    key = (MODEL, "together")
    assert store.add_outcome(key, 100, True, 91).calls == 1
    assert store.add_outcome(key, 105, False, 96).failures == 1
    assert store.add_outcome(key, 200, False, 191) == store.window(key, 191)  # old buckets go
    assert store.window(key, 191).calls == 1
    store.put_circuit(key, CircuitRecord(state="open", retry_at=5.0, last_error="503"))
    assert store.get_circuit(key) == CircuitRecord(state="open", retry_at=5.0, last_error="503")
    assert store.any_open(MODEL) and not store.any_open("other/model")
    assert store.claim_probe(key, 10.0, 20.0) and not store.claim_probe(key, 15.0, 25.0)
    store.put_circuit(key, CircuitRecord(state="closed"))
    assert not store.any_open(MODEL)  # closed again, for every worker
    stats = store.update_latency(key, lambda s: s.updated(0.5, ttft_s=0.2))
    assert store.get_latency(key) is None  # written with the next flush, not per call
    store.flush()
    assert store.get_latency(key) == stats and key in store.known_keys()
    own_redis.stop()
    store.add_outcome(key, 300, True, 291)  # a write after a call never raises
    assert store.window(key, 291).calls == 1  # fail-open: the local store took over
    # Health fails open even when the state fails closed: it is advice, read while recording.
    closed = RedisState(own_redis.url, on_failure="closed").health_store()
    tracker = HealthTracker(CircuitBreaker(**BREAKER), closed)
    assert tracker.available(MODEL, ["together"]) == ("together",)
    tracker.record(MODEL, "together", "together", ServerError("x", status_code=500))


def test_spend_limit_holds_across_four_processes(server_url: str) -> None:
    # Worst case $0.02 a call, real cost $0.01: holds are replaced by costs in batches of 3.
    config = {"state": server_url, "usd": 0.5, "worst_case": 0.02, "cost": 0.01, "flush_every": 3}
    reports = run_workers([{"worker": n, **config} for n in range(4)], target=spend_worker)
    settled = sum(count for _, count in reports)
    limit = SpendLimit(usd=0.5, period="day", store=RedisState(server_url).spend_store())
    spent = limit.spent()
    assert spent == pytest.approx(settled * 0.01)
    assert spent <= 0.5  # never over the budget
    # Until a flush other workers still see a worker's holds: at most 4 x 3 pending x $0.02,
    # plus the one hold that did not fit, may be left unspent.
    assert spent >= 0.5 - (4 * 3 + 1) * 0.02
    ledger = SpendLedger(RedisState(server_url).spend_store())
    assert ledger.report().lines == ()  # the ledger's running total is a separate key


def test_spend_store_batches_and_survives_an_outage(own_redis: RedisServer) -> None:
    state = RedisState(own_redis.url, recheck_s=0)
    store = state.spend_store(flush_every=5, flush_s=60)
    other = RedisState(own_redis.url).spend_store()
    assert store.reserve("2026-12-01", 1.0, 3.0) is None
    store.release("2026-12-01", 1.0)
    store.add("2026-12-01", MODEL, "groq", 0.25, 100, 200)
    assert other.total_usd("2026-12-01") == 0.0  # not flushed yet: the hold still counts
    assert other.reserve("2026-12-01", 2.5, 3.0) == pytest.approx(1.0)
    assert store.total_usd("2026-12-01") == pytest.approx(0.25)  # reads flush first
    own_redis.stop()
    store.add("2026-12-01", MODEL, "groq", 0.5, 1, 1)  # kept locally, never raised
    store.flush()
    assert store.reserve("2026-12-01", 0.1, 3.0) is None  # fail-open: a local reservation
    store.release("2026-12-01", 0.1)
    closed = RedisState(own_redis.url, on_failure="closed").spend_store()
    with pytest.raises(StateUnavailableError):
        closed.reserve("2026-12-01", 0.1, 3.0)
    own_redis.start()  # empty again: the pending settlement is written on the next flush
    store.flush()
    lines = other.lines("2026-12-01")
    assert [(x.provider, x.calls, x.cost_usd) for x in lines] == [("groq", 1, 0.5)]


def test_ledger_shared_between_stores(redis_url: str) -> None:
    first = SpendLedger(RedisState(redis_url).spend_store(flush_every=1))
    second = SpendLedger(RedisState(redis_url).spend_store(flush_every=1))
    first.record(MODEL, "groq", 0.1, USAGE)
    second.record(MODEL, "groq", None, USAGE)
    line = second.report().lines[0]
    assert (line.calls, line.unpriced_calls, line.input_tokens) == (2, 1, 20)
    assert line.cost_usd == pytest.approx(0.1)
    assert InMemoryHealthStore().known_keys() == []


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_state_option_shares_breaker_and_ledger_between_clients(
    redis_url: str, hf_fake_router: FakeRouter, is_async: bool
) -> None:
    hf_fake_router.on(provider="groq").respond(Fault.status(503))
    options = {
        "base_url": hf_fake_router.base_url,
        "api_key": "test-key",
        "router": True,
        "max_retries": 0,
        "provider": ["groq", "together"],
        "breaker": CircuitBreaker(failure_rate=0.5, min_calls=2, cooldown_s=60),
        "state": redis_url,
    }

    async def call() -> Any:
        if is_async:
            async with AsyncHFClient(**options) as client:
                answer = await client.chat(LLAMA, [{"role": "user", "content": "Hi"}])
                return answer, client.spend(), client.health()
        with HFClient(**options) as client:
            answer = client.chat(LLAMA, [{"role": "user", "content": "Hi"}])
            return answer, client.spend(), client.health()

    for _ in range(2):  # a first client meets groq failing twice: its circuit opens
        answer, _, _ = await call()
        assert answer.provider == "together"
    groq_before = len(hf_fake_router.requests_to(provider="groq"))
    answer, spend, health = await call()  # a new client skips groq at once
    assert answer.provider == "together"
    assert len(hf_fake_router.requests_to(provider="groq")) == groq_before == 2
    assert {(h.provider, h.state) for h in health} >= {("groq", "open")}
    assert sum(line.calls for line in spend.lines) == 3  # the ledger holds every client's calls


def test_state_option_moves_an_in_memory_budget_to_the_shared_store(redis_url: str) -> None:
    budget = SpendLimit(usd=1.0, period="day")
    HFClient(api_key="k", budget=budget, state=redis_url)
    assert isinstance(budget.store, RedisSpendStore)
    elsewhere = SpendLimit(usd=1.0, store=(shared := RedisState(redis_url).spend_store()))
    HFClient(api_key="k", budget=elsewhere, state=redis_url)
    assert elsewhere.store is shared  # a store that is not in memory is kept
    local = SpendLimit(usd=1.0)
    HFClient(api_key="k", budget=local)
    assert isinstance(local.store, InMemorySpendStore)  # without state=, nothing moves
