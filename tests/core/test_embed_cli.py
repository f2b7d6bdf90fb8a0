"""`hfproviders embed`: the command through `main()`, on a real client over the fake router."""

from __future__ import annotations

import argparse
import io
import json
from typing import Any

import httpx
import pytest

from hfproviders import HFClient
from hfproviders.cli import EXIT_OK, EXIT_USAGE, main
from hfproviders.testing import FakeRouter


def run(argv: list[str], router: FakeRouter | None = None) -> tuple[int, str, str, FakeRouter]:
    router = router or FakeRouter()

    def factory(args: argparse.Namespace) -> Any:
        return HFClient(api_key="test", http_client=httpx.Client(transport=router.transport()))

    out, err = io.StringIO(), io.StringIO()
    code = main(argv, client_factory=factory, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue(), router


def test_prints_dimensions_provider_and_latency() -> None:
    code, out, err, _ = run(["embed", "Qwen/Qwen3-Embedding-8B", "hello", "world"])
    lines = out.splitlines()
    assert code == EXIT_OK
    assert lines[0].startswith("1024 dimensions, 2 vectors, served by scaleway in ")
    assert lines[1].startswith("  [") and len(lines) == 3
    assert "usage: " in err


def test_json_prints_the_vectors() -> None:
    code, out, _, router = run(
        [
            "embed",
            "sentence-transformers/all-MiniLM-L6-v2",
            "hi",
            "--json",
            "--provider",
            "hf-inference",
        ]
    )
    data = json.loads(out)
    assert code == EXIT_OK and data["provider"] == "hf-inference" and data["dimensions"] == 384
    assert len(data["embeddings"]) == 1 and len(data["embeddings"][0]) == 384
    assert [r.method for r in router.requests] == ["POST"]  # hf-inference needs no Hub lookup


def test_failover_list_and_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("one\n\ntwo\n"))
    code, out, _, _ = run(
        ["embed", "Qwen/Qwen3-Embedding-8B", "-", "--provider", "hf-inference,scaleway", "--json"]
    )
    data = json.loads(out)
    assert code == EXIT_OK and len(data["embeddings"]) == 2 and data["provider"] == "hf-inference"


def test_errors_map_to_exit_codes() -> None:
    code, _, _, _ = run(["embed", "Qwen/Qwen3-Embedding-8B", "x", "--dimensions", "0"])
    assert code == EXIT_USAGE  # argparse refuses it (its message goes to the real stderr)
    code, _, err, _ = run(["embed", "Qwen/Qwen3-Embedding-8B", "x", "--provider", "together"])
    assert code == 1 and "not served for feature-extraction" in err  # the Hub maps it elsewhere
    code, out, _, _ = run(
        ["embed", "Qwen/Qwen3-Embedding-8B", "x", "--provider", "together", "--json"]
    )
    assert json.loads(out)["error"]["type"] == "ModelNotSupportedError"
