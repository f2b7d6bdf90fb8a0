"""ChatHFProviders under a LangChain OpenTelemetry instrumentation: our span is the run's child."""

from __future__ import annotations

from typing import Any

import pytest

from tests.framework_runs import assert_one_model_span_per_framework_run, traced_runs

RUNS = {"invoke": 1, "ainvoke": 1, "stream": 1, "astream": 1, "batch": 2}


@pytest.fixture(scope="module")
def spans() -> dict[str, list[dict[str, Any]]]:
    return traced_runs("langchain", *RUNS)  # one subprocess: a tracer provider is set once


@pytest.mark.parametrize("scenario", list(RUNS))
def test_model_span_is_a_child_of_the_langchain_run(
    spans: dict[str, list[dict[str, Any]]], scenario: str
) -> None:
    assert_one_model_span_per_framework_run(
        spans[scenario], "langchain ChatHFProviders", RUNS[scenario]
    )
    ours = [s for s in spans[scenario] if s["name"].startswith("chat ")]
    assert {s["attributes"]["gen_ai.request.stream"] for s in ours} == {"stream" in scenario}
