"""Cost of a call, the spend ledger and SpendLimit (pure, fixed clock)."""

from __future__ import annotations

import pickle
import threading

import pytest

from hfproviders import BudgetExceededError, InvalidParameterError, SpendLimit, Usage
from hfproviders._catalog import ProviderInfo
from hfproviders._spend import Prices, SpendLedger, call_cost, period_key, worst_case_cost

DAY = 1_800_000_000.0  # 2027-01-15 08:00 UTC


class Clock:
    def __init__(self, now: float = DAY) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_cost_is_usage_times_the_catalogue_prices() -> None:
    prices = Prices.of(ProviderInfo("together", "live", pricing_input=2.0, pricing_output=4.0))
    usage = Usage(prompt_tokens=1000, completion_tokens=500, total_tokens=1500)
    assert call_cost(prices, usage) == pytest.approx((1000 * 2.0 + 500 * 4.0) / 1e6)


def test_cached_input_uses_its_price_where_listed_else_the_input_price() -> None:
    usage = Usage(prompt_tokens=1000, completion_tokens=0, total_tokens=1000, cached_tokens=600)
    listed = Prices(input=2.0, output=4.0, cached_input=0.5)
    assert call_cost(listed, usage) == pytest.approx((400 * 2.0 + 600 * 0.5) / 1e6)
    unlisted = Prices(input=2.0, output=4.0)
    assert call_cost(unlisted, usage) == pytest.approx(1000 * 2.0 / 1e6)


@pytest.mark.parametrize(
    ("prices", "expected"),
    [
        (None, None),
        (Prices(), None),
        (Prices(input=1.0), None),  # output tokens but no output price: unknown, not 0
        (Prices(output=1.0), None),
        (Prices(free=True), 0.0),
    ],
)
def test_unknown_price_is_none_never_guessed(prices: Prices | None, expected: object) -> None:
    usage = Usage(prompt_tokens=10, completion_tokens=10, total_tokens=20)
    assert call_cost(prices, usage) == expected
    assert call_cost(Prices(input=1.0, output=1.0), None) is None


def test_worst_case() -> None:
    assert worst_case_cost(Prices(input=1.0, output=10.0), 100, 1000) == pytest.approx(0.0101)
    assert worst_case_cost(Prices(input=1.0), 100, 1000) is None
    assert worst_case_cost(Prices(free=True), 100, 1000) == 0.0


def test_ledger_totals_per_model_and_provider() -> None:
    ledger = SpendLedger()
    usage = Usage(prompt_tokens=100, completion_tokens=50, total_tokens=150)
    ledger.record("m1", "a", 0.25, usage)
    ledger.record("m1", "a", 0.5, usage)
    ledger.record("m1", "b", None, usage)
    ledger.record("m2", "b", 1.0, usage)
    report = ledger.report()
    line = next(x for x in report.lines if (x.model, x.provider) == ("m1", "a"))
    assert (line.calls, line.input_tokens, line.output_tokens) == (2, 200, 100)
    assert line.cost_usd == pytest.approx(0.75)
    unpriced = next(x for x in report.lines if (x.model, x.provider) == ("m1", "b"))
    assert (unpriced.calls, unpriced.unpriced_calls, unpriced.cost_usd) == (1, 1, 0.0)
    assert report.total_usd == pytest.approx(1.75)
    assert report.by_model() == pytest.approx({"m1": 0.75, "m2": 1.0})
    assert report.by_provider() == pytest.approx({"a": 0.75, "b": 1.0})


def test_limit_refuses_a_call_whose_worst_case_crosses_it() -> None:
    limit = SpendLimit(usd=1.0, period="day", clock=Clock())
    usage = Usage(prompt_tokens=1, completion_tokens=1, total_tokens=2)
    held = limit.reserve(0.6, "m")
    with pytest.raises(BudgetExceededError) as info:
        limit.reserve(0.5, "m")  # 0.6 held by a call in flight + 0.5 > 1.0
    assert info.value.spent_usd == pytest.approx(0.6)
    assert info.value.estimate_usd == 0.5
    assert info.value.limit_usd == 1.0
    limit.settle(held, "m", "a", 0.1, usage)  # the call cost far less than its worst case
    assert limit.spent() == pytest.approx(0.1)
    assert limit.reserve(0.5, "m") is not None
    copy = pickle.loads(pickle.dumps(info.value))
    assert (copy.limit_usd, copy.spent_usd, str(copy)) == (1.0, 0.6, str(info.value))


def test_unknown_worst_case_is_let_through_and_not_counted() -> None:
    limit = SpendLimit(usd=0.0)
    assert limit.reserve(None, "m") is None
    limit.settle(None, "m", "a", None, Usage(prompt_tokens=5, completion_tokens=5))
    assert limit.spent() == 0.0


def test_periods_reset_at_utc_day_and_month() -> None:
    clock = Clock()
    daily = SpendLimit(usd=1.0, period="day", clock=clock)
    monthly = SpendLimit(usd=1.0, period="month", clock=clock)
    total = SpendLimit(usd=1.0, clock=clock)
    usage = Usage(prompt_tokens=1, completion_tokens=1)
    for limit in (daily, monthly, total):
        limit.settle(limit.reserve(0.9, "m"), "m", "a", 0.9, usage)
        with pytest.raises(BudgetExceededError):
            limit.reserve(0.2, "m")
    clock.now += 86_400
    assert daily.reserve(0.2, "m") is not None
    with pytest.raises(BudgetExceededError):
        monthly.reserve(0.2, "m")
    clock.now += 31 * 86_400
    assert monthly.reserve(0.2, "m") is not None
    with pytest.raises(BudgetExceededError):
        total.reserve(0.2, "m")
    assert period_key("day", DAY) == "2027-01-15"
    assert period_key("month", DAY) == "2027-01"


def test_limit_holds_under_concurrent_reservations() -> None:
    limit = SpendLimit(usd=1.0)
    granted: list[object] = []
    refused: list[object] = []

    def worker() -> None:
        for _ in range(50):
            try:
                granted.append(limit.reserve(1 / 128, "m"))
            except BudgetExceededError as exc:
                refused.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(granted) == 128  # 1.0 / (1/128): exact in binary, and never more
    assert len(refused) == 400 - 128


@pytest.mark.parametrize(
    "kwargs",
    [
        {"usd": -1},
        {"usd": float("inf")},
        {"usd": True},
        {"usd": 1, "period": "week"},
        {"usd": 1, "assumed_max_tokens": 0},
    ],
)
def test_limit_rejects_bad_settings(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidParameterError):
        SpendLimit(**kwargs)  # type: ignore[arg-type]


def _info() -> object:
    from hfproviders._catalog import ModelInfo

    return ModelInfo(
        id="m",
        providers=(
            ProviderInfo("cheap", "live", pricing_input=1.0, pricing_output=1.0),
            ProviderInfo("dear", "live", pricing_input=10.0, pricing_output=100.0),
            ProviderInfo("unpriced", "live"),
        ),
    )


def test_control_reserves_the_priciest_reachable_worst_case_and_records_cost() -> None:
    from hfproviders._spend import SpendControl

    info = _info()
    body = {"messages": [{"role": "user", "content": "x" * 300}], "max_tokens": 1000}
    limit = SpendLimit(usd=0.1)
    control = SpendControl(limit)
    held = control.reserve("m", ["cheap"], info, body)  # type: ignore[arg-type]
    assert held is not None
    assert held.amount_usd == pytest.approx((106 * 1.0 + 1000 * 1.0) / 1e6)
    with pytest.raises(BudgetExceededError):  # "dear" may be reached: 0.101 + 0.0011 held
        control.reserve("m", ["cheap", "dear"], info, body)  # type: ignore[arg-type]
    usage = Usage(prompt_tokens=100, completion_tokens=20, total_tokens=120)
    cost = control.settle(held, "m", "cheap", info, usage)  # type: ignore[arg-type]
    assert cost == pytest.approx(120 / 1e6)
    assert control.ledger.report().total_usd == pytest.approx(120 / 1e6)
    assert limit.spent() == pytest.approx(120 / 1e6)
    assert control.settle(None, "m", "unpriced", info, usage) is None  # type: ignore[arg-type]
    failed = control.reserve("m", ["cheap", "unpriced"], info, body)  # type: ignore[arg-type]
    control.release(failed)
    assert limit.remaining() == pytest.approx(0.1 - 120 / 1e6)
    assert control.reserve("m", ["cheap"], info, body) is not None  # type: ignore[arg-type]
