"""Fixtures for the LlamaIndex adapter tests: cassettes, a fake token, and request capture.

Replay-only by default (pyproject sets `--record-mode=none`). To re-record the recordable
cassettes against the live router, see docs/llamaindex.md (needs HF_TOKEN).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from llama_index.core.instrumentation import get_dispatcher
from llamaindex_support import CASSETTE_DIR, FAKE_TOKEN, MODEL, EventLog, Recorded, SentRequests

from llamaindex_hfproviders import HFProviders

_SCRUBBED_RESPONSE_HEADERS = ("set-cookie", "x-amz-cf-id")


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    """All adapter cassettes live in cassettes/llamaindex/ (absolute, whatever the cwd)."""
    return str(CASSETTE_DIR)


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in _SCRUBBED_RESPONSE_HEADERS:
            del headers[name]
    return response


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    """Never store credentials or cookies; match on method and URL (tests check the bodies)."""
    return {
        "filter_headers": ["authorization", "cookie", "x-hf-bill-to"],
        "before_record_response": _scrub_response,
        "decode_compressed_response": True,
        "match_on": ["method", "scheme", "host", "port", "path", "query"],
    }


@pytest.fixture
def recording(record_mode: str, request: pytest.FixtureRequest) -> bool:
    """True when this test talks to the live router (--record-mode other than none).

    Tests marked `vcr(record_mode="none")` (the wire quirks) always replay.
    """
    forced = [
        m.kwargs["record_mode"]
        for m in request.node.iter_markers("vcr")
        if "record_mode" in m.kwargs
    ]
    return (forced[0] if forced else record_mode) != "none"


@pytest.fixture
def api_key(recording: bool) -> str:
    """The fake token in replay; the real HF_TOKEN only when re-recording."""
    if recording:
        token = os.environ.get("HF_TOKEN")
        if not token:
            pytest.fail("re-recording needs HF_TOKEN in the environment")
        return token
    return FAKE_TOKEN


@pytest.fixture
def sent() -> Iterator[SentRequests]:
    """Captures the requests of an LLM built with `make_llm(capture=True)`."""
    return SentRequests()


@pytest.fixture
def make_llm(api_key: str, sent: SentRequests) -> Callable[..., HFProviders]:
    """Build an HFProviders for the cassettes; `capture=True` records what is sent."""

    def factory(*, capture: bool = False, **kwargs: Any) -> HFProviders:
        kwargs.setdefault("model", MODEL)
        if capture:
            kwargs["http_client"] = sent.client()
            kwargs["http_async_client"] = sent.async_client()
        return HFProviders(api_key=api_key, **kwargs)

    return factory


@pytest.fixture
def recorded(vcr: Any) -> Recorded:
    """The active cassette's recorded answers."""
    assert vcr is not None, "mark the test with @pytest.mark.vcr"
    return Recorded(vcr)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After a live re-recording, label every new cassette on line 1 (it says where it came from)."""
    if session.config.getoption("--record-mode", "none") == "none":
        return
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    for path in sorted(CASSETTE_DIR.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        if not text.startswith("#"):
            label = f"# recorded live from router.huggingface.co on {stamp} by pytest tests/llamaindex\n"
            path.write_text(label + text, encoding="utf-8")


@pytest.fixture
def event_log() -> Iterator[EventLog]:
    """An instrumentation handler on LlamaIndex's root dispatcher for the test's duration."""
    log = EventLog(events=[])
    root = get_dispatcher()
    root.add_event_handler(log)
    yield log
    if log in root.event_handlers:
        root.event_handlers.remove(log)
