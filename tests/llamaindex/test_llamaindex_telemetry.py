"""HFProviders under a LlamaIndex OpenTelemetry span handler: our span is the LLM span's child."""

from __future__ import annotations

from typing import Any

import pytest

from tests.framework_runs import assert_one_model_span_per_framework_run, traced_runs

SCENARIOS = ["chat", "achat", "complete", "stream_chat", "astream_chat"]


@pytest.fixture(scope="module")
def spans() -> dict[str, list[dict[str, Any]]]:
    return traced_runs("llamaindex", *SCENARIOS)  # one subprocess: a tracer provider is set once


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_model_span_is_a_child_of_the_llamaindex_span(
    spans: dict[str, list[dict[str, Any]]], scenario: str
) -> None:
    # A stream's span opens on first iteration, after LlamaIndex has closed its own span (it
    # closes when the generator is returned): it is still the child of the span it was asked in.
    assert_one_model_span_per_framework_run(
        spans[scenario], f"llamaindex HFProviders.{scenario}", 1
    )
