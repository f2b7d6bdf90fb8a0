"""Run `tests/framework_tracing.py` in a subprocess and read back its spans."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODEL_SPAN = "chat meta-llama/Llama-3.3-70B-Instruct"


def traced_runs(framework: str, *scenarios: str) -> dict[str, list[dict[str, Any]]]:
    """The finished spans of each scenario, as dicts: name, id, parent, attributes."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.framework_tracing", framework, *scenarios],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        },
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    spans: dict[str, list[dict[str, Any]]] = json.loads(done.stdout)
    return spans


def assert_one_model_span_per_framework_run(
    spans: list[dict[str, Any]], run_prefix: str, runs: int
) -> None:
    """Each framework model run has exactly one model span of ours, its child; nothing else."""
    framework = [s for s in spans if s["name"].startswith(run_prefix)]
    ours = [s for s in spans if s["name"] == MODEL_SPAN]
    assert len(framework) == runs and len(ours) == runs, [s["name"] for s in spans]
    assert len(spans) == len(framework) + len(ours), [s["name"] for s in spans]
    framework_ids = {s["id"] for s in framework}
    assert all(s["parent"] in framework_ids for s in ours)
    assert len({s["parent"] for s in ours}) == runs  # one per run, never two under one
    for span in ours:
        assert span["attributes"]["huggingface.provider.served"] == "together"
        assert span["attributes"]["gen_ai.usage.output_tokens"] == 3
