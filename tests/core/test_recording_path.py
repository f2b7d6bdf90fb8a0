"""The re-recording path works and scrubs secrets: record against a loopback router, then replay.

The real command (README, "Tests and cassettes") records against router.huggingface.co with a
real token; this test runs the same vcrpy configuration against a local server, so the
scrubbing and the replay are proven offline.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import vcr

from hfproviders import HFClient
from tests.conftest import FAKE_TOKEN
from tests.core.test_cassettes import vcr_config as cassette_config

SSE = (
    b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Bon"},"finish_reason":null}]}\n\n'
    b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"jour"},"finish_reason":"stop"}]}\n\n'
    b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}\n\n'
    b"data: [DONE]\n\n"
)


class Router(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen_auth: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's API
        self.rfile.read(int(self.headers["content-length"]))
        Router.seen_auth.append(self.headers.get("authorization", ""))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("x-inference-provider", "together")
        self.send_header("set-cookie", f"session={FAKE_TOKEN}; Path=/")
        self.send_header("x-debug-echo", f"Bearer {FAKE_TOKEN}")  # a server echoing the token
        body = f": echo {FAKE_TOKEN}\n\n".encode() + SSE
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def router() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Router)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()
    server.server_close()


def run(base_url: str) -> str:
    with HFClient(api_key=FAKE_TOKEN, base_url=base_url) as client:
        return (
            client.stream("meta-llama/Llama-3.3-70B-Instruct", [{"role": "user", "content": "hi"}])
            .until_done()
            .text
        )


def test_record_scrubs_then_replays_offline(
    router: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)  # as when recording: the token is in the env
    config = cassette_config.__wrapped__()  # type: ignore[attr-defined]
    recorder = vcr.VCR(**config)
    cassette = tmp_path / "recorded.yaml"
    with recorder.use_cassette(str(cassette), record_mode="all"):
        assert run(router) == "Bonjour"
    assert Router.seen_auth[-1] == f"Bearer {FAKE_TOKEN}"  # the server did get the token
    text = cassette.read_text()
    assert FAKE_TOKEN not in text
    assert "authorization" not in text.lower() and "set-cookie" not in text.lower()
    assert text.startswith("interactions:")
    Router.seen_auth.clear()
    with recorder.use_cassette(str(cassette), record_mode="none"):
        assert run(router) == "Bonjour"
    assert Router.seen_auth == []  # replayed: the server was not asked again
