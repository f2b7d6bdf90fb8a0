"""Every example runs end to end offline, against the fake router, as the README's command runs it.

Each example is a subprocess given `--base-url http://127.0.0.1:PORT/v1 --api-key test`, with no
token in its environment: exit code 0 and each step's output are checked.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hfproviders.testing import FakeRouter

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXPECTED = {
    "langchain_quickstart.py": [
        "served by groq",
        "1 2 3 4 5",
        "Movie(title=",
        "It is sunny and 22 degrees in Paris.",
    ],
    "llamaindex_quickstart.py": [
        "chat: The capital of France is Paris.",
        "served by groq",
        "structured: City(",
        "agent tool: multiply({'a': 7, 'b': 6}) = 42",
    ],
}


def test_every_example_is_covered() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_offline(name: str, hf_fake_router: FakeRouter, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
    env.update(
        HF_HOME=str(tmp_path),
        HF_TOKEN_PATH=str(tmp_path / "token"),
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_OFFLINE="1",
    )
    done = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / name),
            "--base-url",
            hf_fake_router.base_url,
            "--api-key",
            "test",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for needle in EXPECTED[name]:
        assert needle in done.stdout, f"{needle!r} missing from:\n{done.stdout}"
    assert all(r.headers.get("authorization") == "Bearer test" for r in hf_fake_router.requests)
    assert {r.kind for r in hf_fake_router.requests} == {"chat"}
