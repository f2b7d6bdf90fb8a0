"""The fault benchmark in a reduced, bounded form: its guarantees, not its timings.

`benchmarks/faults.py` runs 2,000 requests per client at concurrency 20; here 200 at
concurrency 2 (the same 100 rounds, so the run meets the same episodes) go through each client
against the same simulated router (four providers, error rates, 503 storms, a slow episode),
ten times faster. Asserted: the share of calls answered and the requests sent per answer (at
most 1.15 with health on, the issue's bound), and that the client's cost never counts a loser.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(120)
BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "faults.py"
CALLS = 200
CONCURRENCY = 2


def _faults() -> ModuleType:
    spec = importlib.util.spec_from_file_location("faults_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["faults_bench"] = module
    spec.loader.exec_module(module)
    return module


def _run(name: str, scale: float = 0.1) -> dict[str, Any]:
    faults = _faults()
    router = faults.build_router(True, 7, scale)
    with router.serve() as server:
        usage = faults._usage_of_one_answer(server.url)
        result = faults.run_client(name, server.url, CALLS, CONCURRENCY, 10 * scale + 2, scale)
        stats = faults.bill(router, usage)
    row: dict[str, Any] = faults.summarise(result.pop("outcomes"), stats)
    row.update(result)
    return row


def test_with_health_every_call_is_answered_with_few_extra_requests() -> None:
    row = _run("ours (health)")
    assert row["success_rate"] >= 0.995, row
    assert row["requests_per_success"] <= 1.15, row  # the bound, hedges included
    assert row["meta_cost_usd"] == pytest.approx(row["billed_usd"], rel=0.35)
    assert row["meta_cost_usd"] <= row["billed_usd"] + 1e-12  # a hedge's loser is never counted
    assert row["billed_usd"] <= row["billed_usd_upper"] + 1e-12  # cancelled: billed in part


def test_plain_failover_answers_too_but_sends_more() -> None:
    row = _run("ours (failover)")
    assert row["success_rate"] >= 0.995, row
    assert row["requests"] >= CALLS


def test_a_single_provider_client_loses_calls_in_the_storm() -> None:
    row = _run("raw httpx")
    assert row["success_rate"] < 0.95, row  # the simulation does hurt a client without failover
