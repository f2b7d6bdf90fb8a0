"""The CLI end to end with the real client, against the fake router (issue 11, items 1-7).

Every command runs through `main(argv)` with the default client factory, so what is tested is
what a user gets from `hfproviders ... --base-url http://127.0.0.1:PORT/v1 --router`.
"""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

import pytest

from hfproviders.cli import EXIT_API_ERROR, EXIT_NETWORK, EXIT_OK, EXIT_USAGE, build_parser, main
from hfproviders.testing import FakeRouter, FakeRouterProcess, Fault

MODEL = "meta-llama/Llama-3.3-70B-Instruct"
ROOT = Path(__file__).resolve().parents[2]


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


def cli(*argv: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return Run(code, out.getvalue(), err.getvalue())


def at(router: FakeRouter, *more: str) -> list[str]:
    return ["--base-url", router.base_url, "--router", "--api-key", "test", *more]


# --- 1. --api-key and HFPROVIDERS_API_KEY; a 401 from another server says so ------------------


def test_api_key_option_and_env(
    hf_fake_router: FakeRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    hf_fake_router.token = "sk-gateway"
    base = ["--base-url", hf_fake_router.base_url, "--router"]
    refused = cli("chat", MODEL, "Hi", *base)
    assert refused.code == EXIT_USAGE
    assert "not Hugging Face's: pass its key with --api-key" in refused.err
    assert "huggingface.co/settings/tokens" not in refused.err
    assert "authorization" not in hf_fake_router.requests[-1].headers
    assert cli("chat", MODEL, "Hi", *base, "--api-key", "sk-gateway").code == EXIT_OK
    monkeypatch.setenv("HFPROVIDERS_API_KEY", "sk-gateway")
    assert cli("chat", MODEL, "Hi", *base).code == EXIT_OK
    assert hf_fake_router.requests[-1].headers["authorization"] == "Bearer sk-gateway"


# --- 2. --router: providers, policies and chains on a custom base URL -------------------------


def test_router_flag_enables_providers_and_chains(hf_fake_router: FakeRouter) -> None:
    hf_fake_router.on(provider="groq").respond(Fault.status(503))
    plain = cli(
        "chat",
        MODEL,
        "Hi",
        "--base-url",
        hf_fake_router.base_url,
        "--api-key",
        "k",
        "--provider",
        "groq",
    )
    assert plain.code == EXIT_USAGE and "--router" not in plain.out
    chain = cli("chat", MODEL, "Hi", *at(hf_fake_router, "--provider", "groq,together"))
    assert chain.code == EXIT_OK, chain.err
    assert chain.out == "Hello! How can I help you today?\n"
    assert "provider: together" in chain.err
    assert [r.provider for r in hf_fake_router.requests if r.kind == "chat"][-1] == "together"


def test_bench_against_the_fake_router(hf_fake_router: FakeRouter) -> None:
    result = cli("bench", MODEL, *at(hf_fake_router, "--runs", "2", "--json"))
    assert result.code == EXIT_OK, result.err
    targets = {t["target"]: t for t in json.loads(result.out)["targets"]}
    assert set(targets) == {"chat:groq", "chat:together", "chat:novita"}
    assert all(t["errors"] == 0 and t["cost_per_run_usd"] > 0 for t in targets.values())


# --- 3. check --json always prints JSON --------------------------------------------------------


def test_check_json_prints_an_error_object_on_failure(hf_fake_router: FakeRouter) -> None:
    result = cli(
        "check",
        MODEL,
        "--json",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--api-key",
        "k",
        "--timeout",
        "2",
    )
    assert result.code == EXIT_NETWORK
    error = json.loads(result.out)["error"]
    assert error["type"] in ("APIConnectionError", "APITimeoutError")
    assert error["exit_code"] == EXIT_NETWORK


# --- 5. errors and exit codes ------------------------------------------------------------------


def test_error_after_partial_output_starts_on_a_new_line(hf_fake_router: FakeRouter) -> None:
    hf_fake_router.on().respond(Fault.error_event(after_chunks=3))
    result = cli("chat", MODEL, "Hi", *at(hf_fake_router))
    assert result.code == EXIT_API_ERROR
    assert result.out.endswith("\n") and result.out.strip()  # the partial answer, line ended
    assert result.err.startswith("Error: ")


def test_read_timeout_says_timed_out(hf_fake_router: FakeRouter) -> None:
    hf_fake_router.on().respond(Fault.stall(limit_s=5))
    started = time.monotonic()
    result = cli("chat", MODEL, "Hi", *at(hf_fake_router, "--timeout", "0.5"))
    assert result.code == EXIT_NETWORK
    assert "timed out after 0.5 s" in result.err and "Could not reach" not in result.err
    assert time.monotonic() - started < 4


def test_chain_of_connection_failures_exits_3(hf_fake_router: FakeRouter) -> None:
    hf_fake_router.on().respond(Fault.reset())
    result = cli("chat", MODEL, "Hi", *at(hf_fake_router, "--provider", "groq,together"))
    assert result.code == EXIT_NETWORK, result.err
    hf_fake_router.on(provider="together").respond(Fault.status(400))
    mixed = cli("chat", MODEL, "Hi", *at(hf_fake_router, "--provider", "groq,together"))
    assert mixed.code == EXIT_API_ERROR


def test_models_unknown_provider_is_an_error(hf_fake_router: FakeRouter) -> None:
    result = cli("models", *at(hf_fake_router, "--provider", "grok"))
    assert result.code == EXIT_USAGE
    assert "Unknown provider 'grok'. Did you mean 'groq'?" in result.err
    assert cli("models", *at(hf_fake_router, "--provider", "groq")).code == EXIT_OK


@pytest.mark.parametrize(
    ("model", "prompt", "needle"),
    [
        (MODEL, "", "the prompt is empty"),
        (MODEL, "  \n", "the prompt is empty"),
        ("Llama-3.3-70B-Instruct", "Hi", "needs its organisation"),
    ],
)
def test_refused_before_sending(
    hf_fake_router: FakeRouter, model: str, prompt: str, needle: str
) -> None:
    result = cli("chat", model, prompt, *at(hf_fake_router))
    assert result.code == EXIT_USAGE and needle in result.err
    assert list(hf_fake_router.requests) == []


# --- 7. the README's synopsis lists every flag --help shows --------------------------------------


def _help_flags() -> dict[str, set[str]]:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    flags: dict[str, set[str]] = {}
    for name, sub in commands.choices.items():  # type: ignore[union-attr]
        flags[name] = {
            option
            for action in sub._actions
            for option in action.option_strings
            if option.startswith("--") and option != "--help"
        }
    return flags


def test_readme_synopsis_lists_every_flag() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Command line", 1)[1].split("\n## ", 1)[0]
    synopsis = section.split("```", 2)[1]
    for command, flags in _help_flags().items():
        line = next(
            (ln for ln in synopsis.splitlines() if ln.startswith(f"hfproviders {command} ")), ""
        )
        shown = set(re.findall(r"--[a-z][a-z-]*", line))
        assert flags <= shown, f"{command}: missing {sorted(flags - shown)} in the README synopsis"


# --- fake-router, as a user runs it ------------------------------------------------------------


def test_fake_router_command() -> None:
    server = FakeRouterProcess("--fail", "groq=503", "--quirk", "together=no_done")
    with server:
        opts = ["--base-url", server.base_url, "--router", "--api-key", "test"]
        assert cli("chat", f"{MODEL}:groq", "Hi", *opts).code == EXIT_API_ERROR
        served = cli("chat", MODEL, "Say hi", *opts, "--provider", "together", "--json")
        assert json.loads(served.out)["provider"] == "together"
        assert server.stats()["by_status"] == {"503": 3, "200": 1}  # groq retried twice
    assert f"fake router listening on {server.base_url}" in server.stderr


def test_fake_router_refuses_a_public_address() -> None:
    result = cli("fake-router", "--host", "0.0.0.0", "--port", "0")
    assert result.code == EXIT_USAGE and "loopback" in result.err


def test_check_asks_the_hub_at_base_url(hf_fake_router: FakeRouter) -> None:
    result = cli("check", MODEL, *at(hf_fake_router))
    assert result.code == EXIT_OK, result.err
    assert "exists: yes" in result.out and "novita" in result.out
    hub = hf_fake_router.requests_to(kind="hub")
    assert hub and hub[0].path == f"/api/models/{MODEL}"
    assert hub[0].headers["authorization"] == "Bearer test"  # its own key, never an HF token
    as_json = cli("check", MODEL, "--json", *at(hf_fake_router))
    assert json.loads(as_json.out)[0]["providers"][0]["provider"] == "groq"


def test_check_honours_hf_endpoint(
    hf_fake_router: FakeRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", hf_fake_router.url)
    monkeypatch.setenv("HF_TOKEN", "hf_" + "x" * 34)
    result = cli("check", MODEL)
    assert result.code == EXIT_OK, result.err
    assert hf_fake_router.requests_to(kind="hub")[0].path == f"/api/models/{MODEL}"
