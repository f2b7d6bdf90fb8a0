"""Circuit breaker, latency statistics and lowest-latency ranking (pure, fixed clock)."""

from __future__ import annotations

import json
import math
import pickle
from functools import partial
from types import SimpleNamespace

import pytest

from hfproviders import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CircuitBreaker,
    HealthTracker,
    HedgeBudget,
    InvalidParameterError,
    PaymentRequiredError,
    ProviderConstraints,
    ProvidersUnavailableError,
    RateLimitError,
    ServerError,
    ServiceUnavailableError,
    StreamError,
)
from hfproviders._catalog import ModelInfo, ProviderInfo
from hfproviders._health import CircuitRecord, HealthHook, LatencyStats, failure_kind

MODEL = "org/model"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def tracker(clock: Clock, **breaker: float) -> HealthTracker:
    settings = {"failure_rate": 0.5, "min_calls": 4, "window_s": 60.0, "cooldown_s": 30.0}
    settings.update(breaker)
    return HealthTracker(CircuitBreaker(**settings), clock=clock)  # type: ignore[arg-type]


def fail(t: HealthTracker, provider: str, times: int = 1) -> None:
    for _ in range(times):
        t.record(MODEL, provider, provider, ServiceUnavailableError("down", status_code=503))


def ok(t: HealthTracker, provider: str, times: int = 1) -> None:
    for _ in range(times):
        t.record(MODEL, provider, provider, None, ttft_s=0.2, latency_s=1.0, output_tokens=80)


@pytest.mark.parametrize(
    ("error", "counted"),
    [
        (ServerError("x", status_code=500), True),
        (ServiceUnavailableError("x", status_code=503), True),
        (APITimeoutError("x"), True),
        (APIConnectionError("x"), True),
        (StreamError("cut", status_code=200), True),
        (RateLimitError("x", status_code=429), True),
        (RateLimitError("x", status_code=429, retry_after=2.0), False),
        (RateLimitError("x", status_code=429, retry_after=3600.0), True),
        (BadRequestError("x", status_code=400), False),
        (AuthenticationError("x", status_code=401), False),
        (PaymentRequiredError("x", status_code=402), False),
        (StreamError("bad request in stream", status_code=400), False),
        (None, False),
    ],
)
def test_failure_kind_counts_provider_faults_only(error: object, counted: bool) -> None:
    assert (failure_kind(error) is not None) is counted  # type: ignore[arg-type]


def test_opens_at_failure_rate_over_min_calls() -> None:
    clock = Clock()
    t = tracker(clock)
    fail(t, "a", 3)
    assert t.state(MODEL, "a") == "closed"  # 3 calls < min_calls
    ok(t, "a")
    assert t.state(MODEL, "a") == "closed"  # 3/4 failed, but the last call succeeded
    fail(t, "a")
    assert t.state(MODEL, "a") == "open"  # 4/5 failed
    assert t.available(MODEL, ["a", "b"]) == ("b",)


def test_below_failure_rate_stays_closed() -> None:
    clock = Clock()
    t = tracker(clock)
    for _ in range(10):
        clock.now += 1.5  # each success below was sent after the failure before it
        ok(t, "a", 2)
        fail(t, "a")
    assert t.state(MODEL, "a") == "closed"


def test_request_caused_errors_never_open_the_circuit() -> None:
    t = tracker(Clock())
    for _ in range(20):
        t.record(MODEL, "a", "a", BadRequestError("bad", status_code=400))
    assert t.state(MODEL, "a") == "closed"
    assert all(row.calls == 0 for row in t.report())


def test_old_failures_leave_the_sliding_window() -> None:
    clock = Clock()
    t = tracker(clock)
    fail(t, "a", 3)
    clock.now += 61  # the three failures are out of the 60 s window
    fail(t, "a")
    ok(t, "a", 3)
    assert t.state(MODEL, "a") == "closed"
    assert t.report()[0].calls == 4


def test_half_open_after_cooldown_lets_one_probe_through() -> None:
    clock = Clock()
    t = tracker(clock)
    fail(t, "a", 4)
    assert not t.admit(MODEL, "a")
    clock.now += 30
    assert t.state(MODEL, "a") == "half_open"
    assert t.available(MODEL, ["a"]) == ("a",)
    assert t.admit(MODEL, "a")  # the probe
    assert not t.admit(MODEL, "a")  # a second caller waits for the probe's outcome
    with pytest.raises(ProvidersUnavailableError):
        t.available(MODEL, ["a"])
    ok(t, "a")
    assert t.state(MODEL, "a") == "closed"
    assert t.admit(MODEL, "a")
    fail(t, "a", 3)
    assert t.state(MODEL, "a") == "closed"  # the window restarted when the circuit closed


def test_failed_probe_opens_again_for_a_full_cooldown() -> None:
    clock = Clock()
    t = tracker(clock)
    fail(t, "a", 4)
    clock.now += 30
    assert t.admit(MODEL, "a")
    fail(t, "a")
    assert t.state(MODEL, "a") == "open"
    clock.now += 29
    assert t.state(MODEL, "a") == "open"
    clock.now += 1
    assert t.state(MODEL, "a") == "half_open"


def test_lost_probe_lease_expires() -> None:
    clock = Clock()
    t = tracker(clock)
    fail(t, "a", 4)
    clock.now += 30
    assert t.admit(MODEL, "a")
    clock.now += 31  # the probe never reported (process killed): another may probe
    assert t.admit(MODEL, "a")


def test_all_open_fails_fast_naming_each_provider_and_retry_time() -> None:
    clock = Clock()
    t = tracker(clock)
    fail(t, "a", 4)
    clock.now += 10
    fail(t, "b", 4)
    with pytest.raises(ProvidersUnavailableError) as info:
        t.available(MODEL, ["a", "b"])
    error = info.value
    assert "a (retried in 20.0s)" in str(error)
    assert "b (retried in 30.0s)" in str(error)
    assert error.unavailable == [("a", clock.now + 20), ("b", clock.now + 30)]
    copy = pickle.loads(pickle.dumps(error))
    assert copy.unavailable == error.unavailable
    assert str(copy) == str(error)


def test_outcome_is_keyed_on_served_and_asked_provider() -> None:
    t = tracker(Clock())
    # The router's own choice ("auto") was served by "b", four times failing.
    for _ in range(4):
        t.record(MODEL, None, "b", ServerError("x", status_code=502))
    assert t.state(MODEL, "b") == "open"
    assert t.state(MODEL, "auto") == "closed"  # a policy with a known server: the server
    for _ in range(4):
        t.record(MODEL, "a", "c", ServerError("x", status_code=502))
    assert t.state(MODEL, "a") == "open"
    assert t.state(MODEL, "c") == "open"
    for _ in range(4):
        t.record(MODEL, None, None, APITimeoutError("slow"))
    assert t.available(MODEL, [None, "d"]) == ("d",)


def test_breaker_off_never_skips() -> None:
    t = HealthTracker(None, clock=Clock())
    fail(t, "a", 50)
    assert t.available(MODEL, ["a"]) == ("a",)
    assert t.admit(MODEL, "a")
    (row,) = t.report()
    assert (row.state, row.last_error) == ("closed", "ServiceUnavailableError 503")


def test_report_gives_state_error_rate_latency_and_last_error() -> None:
    clock = Clock()
    t = tracker(clock)
    ok(t, "a", 2)
    fail(t, "b", 4)
    rows = {r.provider: r for r in t.report()}
    assert rows["a"].state == "closed"
    assert rows["a"].error_rate == 0.0
    assert rows["a"].ttft_s == pytest.approx(0.2)
    assert rows["a"].throughput == pytest.approx(100.0)  # 80 tokens in 0.8 s
    assert rows["b"].state == "open"
    assert rows["b"].error_rate == 1.0
    assert rows["b"].last_error == "ServiceUnavailableError 503"
    assert rows["b"].retry_at == clock.now + 30


def test_shared_store_shares_what_clients_learn() -> None:
    clock = Clock()
    first = tracker(clock)
    second = HealthTracker(CircuitBreaker(min_calls=4), first.store, clock=clock)
    fail(first, "a", 4)
    assert second.available(MODEL, ["a", "b"]) == ("b",)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"failure_rate": 0}, "failure_rate"),
        ({"failure_rate": 1.5}, "failure_rate"),
        ({"min_calls": 0}, "min_calls"),
        ({"min_calls": 2.5}, "min_calls"),
        ({"window_s": float("nan")}, "window_s"),
        ({"cooldown_s": -1}, "cooldown_s"),
        ({"consecutive_failures": 0}, "consecutive_failures"),
        ({"consecutive_failures": True}, "consecutive_failures"),
    ],
)
def test_breaker_rejects_bad_settings(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        CircuitBreaker(**kwargs)  # type: ignore[arg-type]


def test_records_and_stats_round_trip_through_json() -> None:
    record = CircuitRecord("open", 12.5, 3.0, "ServerError 500", 11.0)
    assert CircuitRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == record
    stats = LatencyStats().updated(0.2, 0.3, 1.0, 50.0).updated(0.2, 0.5, 2.0, 40.0)
    assert LatencyStats.from_dict(json.loads(json.dumps(stats.to_dict()))) == stats


# -- latency -----------------------------------------------------------------------------------


def catalogue() -> ModelInfo:
    return ModelInfo(
        id=MODEL,
        providers=(
            ProviderInfo("slow", "live", pricing_input=0.1, pricing_output=0.2,
                         first_token_latency_ms=900, throughput=30.0),
            ProviderInfo("fast", "live", pricing_input=2.0, pricing_output=6.0,
                         first_token_latency_ms=200, throughput=200.0),
            ProviderInfo("mid", "live", pricing_input=0.5, pricing_output=1.0,
                         first_token_latency_ms=400, throughput=90.0),
            ProviderInfo("bare", "live"),
            ProviderInfo("gone", "error", first_token_latency_ms=10, throughput=999.0),
        ),
    )  # fmt: skip


def test_seeded_from_catalogue_then_learns_from_calls() -> None:
    t = tracker(Clock())
    t.seed(catalogue())
    assert t.rank_lowest_latency(catalogue()) == ["fast", "mid", "slow", "bare"]
    for _ in range(30):  # "fast" turns out slow in practice
        t.record(MODEL, "fast", "fast", None, ttft_s=3.0, latency_s=30.0, output_tokens=200)
    assert t.rank_lowest_latency(catalogue()) == ["mid", "slow", "fast", "bare"]
    t.seed(catalogue())  # re-seeding never overwrites measurements
    assert t.rank_lowest_latency(catalogue())[:2] == ["mid", "slow"]


def test_constraints_filter_the_ranking() -> None:
    t = tracker(Clock())
    t.seed(catalogue())
    info = catalogue()
    assert t.rank_lowest_latency(info, ProviderConstraints(max_output_price=1.0)) == [
        "mid",
        "slow",
    ]
    assert t.rank_lowest_latency(info, ProviderConstraints(min_throughput=50)) == ["fast", "mid"]
    assert t.rank_lowest_latency(info, ProviderConstraints(only=["SLOW", "bare"])) == [
        "slow",
        "bare",
    ]
    assert t.rank_lowest_latency(info, ProviderConstraints(ignore=["fast"]))[0] == "mid"
    assert t.rank_lowest_latency(info, ProviderConstraints(max_input_price=1.0)) == [
        "mid",
        "slow",
    ]


def test_constraints_reject_bad_values() -> None:
    with pytest.raises(InvalidParameterError):
        ProviderConstraints(max_input_price=-1)
    with pytest.raises(InvalidParameterError):
        ProviderConstraints(only="groq")  # type: ignore[arg-type]


def test_p90_hedge_delay_from_measurements() -> None:
    t = tracker(Clock())
    assert t.hedge_delay(MODEL, "fast", "p90") is None  # nothing known: no hedge
    assert t.hedge_delay(MODEL, "fast", 1.5) == 1.5
    t.seed(catalogue())
    assert t.hedge_delay(MODEL, "fast", "p90") == pytest.approx(0.4)  # 2x the catalogue TTFT
    for value in [0.2, 0.3, 0.25, 0.4, 0.22, 0.35, 0.28, 0.31] * 4:
        t.record(MODEL, "fast", "fast", None, ttft_s=value, latency_s=1.0)
    p90 = t.hedge_delay(MODEL, "fast", "p90")
    assert p90 is not None
    assert 0.3 < p90 < 0.6


def test_plan_chain_expands_lowest_latency_and_avoids_open_providers() -> None:
    t = tracker(Clock())
    info = catalogue()
    assert t.plan_chain(MODEL, ["lowest-latency"], info) == ("fast", "mid", "slow", "bare")
    fail(t, "fast", 4)
    assert t.plan_chain(MODEL, ["lowest-latency"], info) == ("mid", "slow", "bare")
    only = ProviderConstraints(only=["fast"])
    with pytest.raises(ProvidersUnavailableError, match="circuit open for fast"):
        t.plan_chain(MODEL, ["lowest-latency"], info, only)
    with pytest.raises(ProvidersUnavailableError, match="constraints"):
        t.plan_chain(MODEL, ["lowest-latency"], info, ProviderConstraints(only=["nobody"]))
    # Without the catalogue, the router chooses.
    assert t.plan_chain(MODEL, ["lowest-latency"], None) == (None,)


def test_plan_chain_replaces_a_router_policy_that_may_pick_an_open_provider() -> None:
    t = tracker(Clock())
    info = catalogue()
    assert t.plan_chain(MODEL, [None], info) == (None,)  # nothing open: the router chooses
    fail(t, "fast", 4)  # "fast" has the highest throughput: the router's `fastest` pick
    assert t.plan_chain(MODEL, [None], info) == ("mid",)
    assert t.plan_chain(MODEL, ["cheapest"], info) == ("slow",)
    assert t.plan_chain(MODEL, ["fast", "mid"], info) == ("mid",)


def test_a_sudden_outage_after_a_healthy_spell_opens_within_a_tenth_of_the_window() -> None:
    clock = Clock()
    t = tracker(clock)  # 50 % over 60 s (and over its last 6 s), 4 calls at least
    for _ in range(50):  # a long healthy spell fills the window with successes
        ok(t, "a", 10)
        clock.now += 1
    clock.now += 6  # the outage starts: a new 6 s bucket
    fail(t, "a", 3)
    assert t.state(MODEL, "a") == "closed"  # fewer than min_calls
    fail(t, "a")  # 4/4 in the bucket, 4/464 over the whole window
    assert t.state(MODEL, "a") == "open"


# -- failures in a row, and what an answer to an old request says --------------------------------


def sent_ok(t: HealthTracker, provider: str, took_s: float) -> None:
    """A success whose request was sent `took_s` seconds ago."""
    t.record(MODEL, provider, provider, None, ttft_s=took_s, latency_s=took_s)


def test_failures_in_a_row_open_the_circuit_before_the_rate_does() -> None:
    clock = Clock()
    t = HealthTracker(CircuitBreaker(min_calls=10, consecutive_failures=3), clock=clock)
    for _ in range(20):  # a healthy spell: 20 successes in the window
        sent_ok(t, "a", 0.1)
        clock.now += 0.5
    fail(t, "a", 2)
    assert t.state(MODEL, "a") == "closed"
    fail(t, "a")  # 3 in a row, 3/23 over the window
    assert t.state(MODEL, "a") == "open"
    clock.now += 30
    assert t.admit(MODEL, "a")  # the probe
    sent_ok(t, "a", 0.1)
    assert t.state(MODEL, "a") == "closed"
    fail(t, "a", 2)  # the run starts afresh after the circuit closed
    assert t.state(MODEL, "a") == "closed"


def test_without_a_run_limit_only_the_rate_opens_the_circuit() -> None:
    clock = Clock()
    t = HealthTracker(CircuitBreaker(min_calls=10, consecutive_failures=None), clock=clock)
    for _ in range(20):
        sent_ok(t, "a", 0.1)
        clock.now += 0.5
    fail(t, "a", 4)  # 4 in a row, 4 of the last 6 s's 16 calls
    assert t.state(MODEL, "a") == "closed"


def test_an_answer_to_a_request_sent_before_the_failures_does_not_end_the_run() -> None:
    clock = Clock()
    t = HealthTracker(CircuitBreaker(min_calls=100, consecutive_failures=3), clock=clock)
    fail(t, "a", 2)
    clock.now += 0.2
    sent_ok(t, "a", 1.0)  # sent 1 s ago, before the outage: it says nothing about now
    fail(t, "a")
    assert t.state(MODEL, "a") == "open"
    u = HealthTracker(CircuitBreaker(min_calls=100, consecutive_failures=3), clock=clock)
    fail(u, "a", 2)
    clock.now += 0.2
    sent_ok(u, "a", 0.1)  # sent after the last failure: the provider answers again
    fail(u, "a")
    assert u.state(MODEL, "a") == "closed"


def test_an_answer_to_a_request_sent_before_the_circuit_opened_leaves_it_open() -> None:
    clock = Clock()
    t = tracker(clock, consecutive_failures=2)
    fail(t, "a", 2)
    assert t.state(MODEL, "a") == "open"
    clock.now += 0.5
    sent_ok(t, "a", 2.0)  # in flight since before the outage
    assert t.state(MODEL, "a") == "open"
    assert t.closings == {}
    clock.now += 30
    assert t.admit(MODEL, "a")  # the probe, sent now
    clock.now += 0.3
    sent_ok(t, "a", 0.3)
    assert t.state(MODEL, "a") == "closed"
    assert t.closings == {MODEL: 1}


def test_a_probe_that_lost_a_hedged_race_is_released() -> None:
    clock = Clock()
    t = tracker(clock, consecutive_failures=2)
    fail(t, "a", 2)
    clock.now += 30
    assert t.admit(MODEL, "a")
    assert not t.admit(MODEL, "a")  # the probe is in flight
    t.record_wait(MODEL, "a", 0.5)  # it lost the race and was cancelled: it never reports
    assert t.admit(MODEL, "a")  # the next call probes at once, not a cooldown later


# -- measurements: the first ones, the tail, staleness --------------------------------------------


def test_the_first_measurements_are_averaged_plainly() -> None:
    seeded = LatencyStats(ttft_s=0.9, throughput=30.0)
    first = seeded.updated(0.2, ttft_s=0.2, latency_s=0.2, at=5.0)
    assert first.ttft_s == pytest.approx(0.2)  # the catalogue's seed is replaced
    assert (first.latency_s, first.measured_at) == (0.2, 5.0)
    second = first.updated(0.2, ttft_s=0.8, latency_s=0.8)
    assert second.ttft_s == pytest.approx(0.5)
    assert second.measured_at == 5.0
    # ln(0.2) and ln(0.8): the population variance of two values is (difference / 2) ** 2.
    assert second.log_ttft_var == pytest.approx((math.log(0.8 / 0.2) / 2) ** 2)
    stats = LatencyStats()
    for value in [0.1, 0.2, 0.4] * 20:
        stats = stats.updated(0.2, ttft_s=value, latency_s=value)
    assert stats.log_ttft_var > 0.2  # not the near-zero start of a plain EWMA of the variance


def test_a_provider_with_a_long_tail_ranks_behind_a_steady_one() -> None:
    t = tracker(Clock())
    info = ModelInfo(
        id=MODEL, providers=(ProviderInfo("spiky", "live"), ProviderInfo("steady", "live"))
    )
    for i in range(40):
        spiky = [1.5, 0.05, 0.1, 0.2][i % 4]  # average 0.46, a 1.5 s tail
        t.record(MODEL, "spiky", "spiky", None, ttft_s=spiky, latency_s=spiky)
        t.record(MODEL, "steady", "steady", None, ttft_s=0.6, latency_s=0.6)
    spiky_stats, steady_stats = t.latency(MODEL, "spiky"), t.latency(MODEL, "steady")
    assert spiky_stats is not None and steady_stats is not None
    assert spiky_stats.expected_s(64) < steady_stats.expected_s(64)  # faster on average
    assert t.rank_lowest_latency(info) == ["steady", "spiky"]


def test_few_measurements_rank_by_twice_their_average() -> None:
    stats = LatencyStats(ttft_s=0.15).updated(0.2, ttft_s=0.1, latency_s=0.1)
    assert stats.rank_s(64) == pytest.approx(0.2)
    assert LatencyStats(ttft_s=0.15, throughput=150.0).rank_s(60) == pytest.approx(0.55)


def test_a_stale_provider_is_measured_again_once_per_interval() -> None:
    clock = Clock()
    t = HealthTracker(CircuitBreaker(cooldown_s=30), clock=clock)
    assert t.remeasure_s == 30
    info = ModelInfo(
        id=MODEL,
        providers=(ProviderInfo("a", "live"), ProviderInfo("b", "live"), ProviderInfo("c", "live")),
    )
    sent_ok(t, "b", 0.5)  # measured once, slow; "c" is never measured
    for _ in range(20):
        sent_ok(t, "a", 0.1)
    plan = partial(t.plan_chain, MODEL, ["lowest-latency"], info, claim=True)
    assert plan() == ("a", "b", "c")
    clock.now += 31
    sent_ok(t, "a", 0.1)
    assert plan() == ("b", "a", "c")  # nothing measured "b" for 30 s: this call does
    assert plan() == ("a", "b", "c")  # once
    clock.now += 31
    fail(t, "b", 5)  # its circuit is open: not re-measured
    assert plan() == ("a", "c")
    assert t.plan_chain(MODEL, ["lowest-latency"], info) == ("a", "c")  # without claim: never
    assert HealthTracker(None).remeasure_s == 30.0
    assert HealthTracker(CircuitBreaker(cooldown_s=3)).remeasure_s == 3


def test_a_hedge_goes_to_a_closed_circuit_never_to_a_probe() -> None:
    clock = Clock()
    t = tracker(clock, consecutive_failures=2)
    hook = HealthHook(t, lambda model: None)
    call = SimpleNamespace(model=MODEL, request=SimpleNamespace(body={}, chain=("a", "b", "c")))
    fail(t, "a", 2)
    clock.now += 31  # "a" is half-open: its probe is free
    assert hook.hedge_order(call, ("a", "b", "c")) == ("b", "c")
    assert t.admit(MODEL, "a")  # the hedge's plan never claimed the probe
    assert hook.order(call, ("a", "b", "c")) == ("b", "c")  # a call's own plan: probe in flight


def test_a_hedge_starts_early_once_a_provider_of_the_model_has_recovered() -> None:
    clock = Clock()
    t = tracker(clock, consecutive_failures=2)
    hook = HealthHook(t, lambda model: None)
    call = SimpleNamespace(
        model=MODEL, provider="b", request=SimpleNamespace(body={}, chain=("a", "b"))
    )
    assert hook.hedge_early(call) is None  # nothing is open: nothing can recover
    fail(t, "a", 2)
    for _ in range(2):
        t.record("other/model", "a", "a", ServiceUnavailableError("down", status_code=503))
    early = hook.hedge_early(call)
    assert early is not None
    assert not early()
    clock.now += 31
    t.record("other/model", "a", "a", None, ttft_s=0.1, latency_s=0.1)  # another model's
    assert not early()
    sent_ok(t, "a", 0.1)  # "a" came back for this model
    assert early()
    assert HealthHook(HealthTracker(None), lambda model: None).hedge_early(call) is None


def test_calls_earn_hedges_and_hedges_spend_them() -> None:
    t = HealthTracker(CircuitBreaker(), hedge_budget=HedgeBudget(ratio=0.5, burst=1))
    hook = HealthHook(t, lambda model: None, hedge_after="p90")
    call = SimpleNamespace(model=MODEL, request=SimpleNamespace(body={}, chain=("a",)))
    assert hook.hedge_allowed()  # the burst
    assert not hook.hedge_allowed()
    hook.order(call, ("a",))
    hook.order(call, ("a",))
    assert hook.hedge_allowed()  # two calls earned one hedge
    assert not hook.hedge_allowed()
    unhedged = HealthHook(t, lambda model: None)  # without hedge_after, calls earn nothing
    unhedged.order(call, ("a",))
    unhedged.order(call, ("a",))
    assert not hook.hedge_allowed()
