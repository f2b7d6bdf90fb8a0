"""VCR set-up for the LangChain adapter tests, and the helpers they share.

Replay-only by default: pyproject's addopts say `--record-mode=none`, and nothing here sets a
`record_mode` (langchain-tests' `base_vcr_config()` says `"once"`, which pytest-recording would
let override the command line; we drop it). Cassettes live in the absolute
`cassettes/langchain/<test module>/` (langchain-tests' default dir is relative to the cwd).

Two ways to write cassettes (docs/langchain.md):
- synthesized: `python -m tests.langchain.synthesize` (the fake router of hfproviders.testing);
- recorded: `HFPROVIDERS_RECORDING=1 HF_TOKEN=hf_... pytest tests/langchain --record-mode=rewrite`.
Hand-written cassettes (the quirk matrix) pin `record_mode="none"` on their marker, so neither
way overwrites them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from langchain_tests.conftest import base_vcr_config
from vcr import VCR
from vcr.persisters.filesystem import FilesystemPersister
from vcr.request import Request

from tests.conftest import FAKE_TOKEN
from tests.langchain.synthesize import LABEL as SYNTH_LABEL
from tests.langchain.synthesize import SYNTH_ENV

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes" / "langchain"
ROUTER_HOST = "router.huggingface.co"
_SECRET_REQUEST_HEADERS = ("authorization", "cookie", "x-api-key", "api-key", "x-hf-bill-to")
_SECRET_RESPONSE_HEADERS = ("set-cookie", "x-amz-cf-id")


def synth_base_url() -> str | None:
    """The fake router's URL while `tests.langchain.synthesize` runs, else None."""
    return os.environ.get(SYNTH_ENV) or None


def api_key() -> str:
    """The fake token when replaying or synthesizing; HF_TOKEN only for a real recording."""
    if synth_base_url() is None and os.environ.get("HFPROVIDERS_RECORDING") == "1":
        token = os.environ.get("HF_TOKEN")
        if not token:
            raise RuntimeError("recording from the router needs HF_TOKEN")
        return token
    return FAKE_TOKEN


def model_params(**params: Any) -> dict[str, Any]:
    """Constructor arguments that work in replay, synthesis and real recording alike."""
    params.setdefault("api_key", api_key())
    if (base_url := synth_base_url()) is not None:
        params.setdefault("base_url", base_url)
    return params


def _to_router(request: Request) -> Request:
    """Requests to the loopback fake router are stored (and matched) as router requests."""
    parts = urlsplit(request.uri)
    if parts.hostname == "127.0.0.1":
        request.uri = urlunsplit(("https", ROUTER_HOST, parts.path, parts.query, ""))
        request.headers["host"] = ROUTER_HOST
    return request


def _canonical_body(request: Request) -> Any:
    """The JSON body with tool-call ids renamed by order of appearance.

    Some standard tests build their history with random ids (`tool_example_to_messages` uses
    uuid4), so byte equality would never match; the ids' *pairing* is what must not change.
    """
    if not request.body:
        return None
    try:
        body = json.loads(request.body)
    except ValueError:
        return request.body
    names: dict[str, str] = {}

    def rename(value: str) -> str:
        return names.setdefault(value, f"id-{len(names)}")

    for message in body.get("messages") or () if isinstance(body, dict) else ():
        for call in message.get("tool_calls") or ():
            if isinstance(call.get("id"), str):
                call["id"] = rename(call["id"])
        if isinstance(message.get("tool_call_id"), str):
            message["tool_call_id"] = rename(message["tool_call_id"])
    return body


def json_body(r1: Request, r2: Request) -> None:
    """VCR matcher: same JSON body, up to the spelling of tool-call ids."""
    assert _canonical_body(r1) == _canonical_body(r2)


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in _SECRET_RESPONSE_HEADERS:
            del headers[name]
    return response


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    """`cassettes/langchain/<module>/`, absolute, whatever the working directory."""
    return str(CASSETTES / Path(str(request.node.fspath)).stem)


@pytest.fixture(scope="session")
def vcr_config() -> dict[str, Any]:
    """langchain-tests' config minus its two traps, plus scrubbing, host rewrite, JSON matching."""
    config = base_vcr_config()
    config.pop("record_mode")  # would override --record-mode (replay-only must be the default)
    config.pop("cassette_library_dir")  # relative to the cwd; vcr_cassette_dir is absolute
    config["filter_headers"] = [(name, None) for name in _SECRET_REQUEST_HEADERS]
    config["before_record_request"] = _to_router
    config["before_record_response"] = _scrub_response
    config["match_on"] = ["method", "uri", "json_body"]
    return config


class LabelledPersister(FilesystemPersister):
    """Writes line 1 of each new cassette: how it was made (synthesized or recorded)."""

    @classmethod
    def save_cassette(cls, cassette_path: Any, cassette_dict: Any, serializer: Any) -> None:
        """Save as VCR does, then prepend the label."""
        super().save_cassette(cassette_path, cassette_dict, serializer)
        path = Path(cassette_path)
        if synth_base_url() is not None:
            label = SYNTH_LABEL
        else:
            today = dt.date.today().isoformat()
            label = (
                f"# recorded from {ROUTER_HOST} on {today} with `HFPROVIDERS_RECORDING=1 "
                "HF_TOKEN=... pytest tests/langchain --record-mode=rewrite`\n"
            )
        path.write_text(label + path.read_text(encoding="utf-8"), encoding="utf-8")


def pytest_recording_configure(config: pytest.Config, vcr: VCR) -> None:
    """Label the cassettes this directory writes (other test areas keep their own persister)."""
    if str(vcr.cassette_library_dir or "").startswith(str(CASSETTES)):
        vcr.register_persister(LabelledPersister)
        vcr.register_matcher("json_body", json_body)


class SentRequests:
    """httpx clients whose request hooks keep every request a model sends.

    Counting here works the same in replay and in record mode (VCR's play counts do not).
    """

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def _keep(self, request: httpx.Request) -> None:
        self.requests.append(request)

    async def _akeep(self, request: httpx.Request) -> None:
        self.requests.append(request)

    def clients(self) -> dict[str, Any]:
        """`http_client` and `http_async_client` arguments for a model."""
        return {
            "http_client": httpx.Client(event_hooks={"request": [self._keep]}),
            "http_async_client": httpx.AsyncClient(event_hooks={"request": [self._akeep]}),
        }

    @property
    def count(self) -> int:
        """How many requests went out."""
        return len(self.requests)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        """The JSON bodies sent, in order."""
        return [json.loads(request.content) for request in self.requests]


@pytest.fixture
def sent() -> SentRequests:
    """Captures the requests of models built with `**sent.clients()`."""
    return SentRequests()
