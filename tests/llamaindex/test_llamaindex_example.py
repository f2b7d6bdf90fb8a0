"""examples/llamaindex_quickstart.py imports cleanly and explains a missing token (no HTTP)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import huggingface_hub
import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "llamaindex_quickstart.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("llamaindex_quickstart", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quickstart_without_a_token_says_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    # No token file either: the core must stop before sending anything.
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    assert load_example().main() == 1
    assert "huggingface.co/settings/tokens" in capsys.readouterr().err
