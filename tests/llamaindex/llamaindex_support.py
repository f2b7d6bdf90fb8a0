"""Helpers shared by the LlamaIndex adapter tests (a uniquely named module, unlike conftest)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent

CASSETTE_DIR = Path(__file__).resolve().parents[2] / "cassettes" / "llamaindex"
FAKE_TOKEN = "hf_test_FAKE_TOKEN_do_not_use"
MODEL = "meta-llama/Llama-3.3-70B-Instruct"


class SentRequests:
    """httpx clients whose request hooks keep every request the adapter sends."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def _keep(self, request: httpx.Request) -> None:
        self.requests.append(request)

    async def _akeep(self, request: httpx.Request) -> None:
        self.requests.append(request)

    def client(self) -> httpx.Client:
        """A sync client for `HFProviders(http_client=...)`."""
        return httpx.Client(event_hooks={"request": [self._keep]})

    def async_client(self) -> httpx.AsyncClient:
        """An async client for `HFProviders(http_async_client=...)`."""
        return httpx.AsyncClient(event_hooks={"request": [self._akeep]})

    @property
    def bodies(self) -> list[dict[str, Any]]:
        """The JSON bodies sent, in order."""
        return [json.loads(request.content) for request in self.requests]


class Recorded:
    """What the cassette's responses say (text, usage), read back for assertions.

    Reading expectations from the cassette keeps the recordable tests valid after a live
    re-recording, where the model's words differ from the synthesized ones.
    """

    def __init__(self, cassette: Any) -> None:
        self._cassette = cassette

    def _body(self, index: int) -> str:
        body = self._cassette.responses[index]["body"]["string"]
        return body.decode("utf-8") if isinstance(body, bytes) else str(body)

    def events(self, index: int = 0) -> list[dict[str, Any]]:
        """The JSON events of a streamed response (or the one JSON body)."""
        text = self._body(index)
        if not text.lstrip().startswith("data:"):
            return [json.loads(text)]
        events = []
        for block in text.split("\n\n"):
            data = block.strip()[len("data:") :].strip()
            if data and data != "[DONE]":
                events.append(json.loads(data))
        return events

    def text(self, index: int = 0) -> str:
        """The answer text as sent on the wire (joined deltas, or message content)."""
        pieces = []
        for event in self.events(index):
            for choice in event.get("choices") or []:
                part = (choice.get("delta") or choice.get("message") or {}).get("content")
                pieces.append(part or "")
        return "".join(pieces)

    def usage(self, index: int = 0) -> dict[str, int]:
        """The last usage the server reported in this response."""
        usage: dict[str, int] = {}
        for event in self.events(index):
            if event.get("usage"):
                usage = event["usage"]
        return usage

    def request_body(self, index: int = 0) -> dict[str, Any]:
        """The JSON request body stored in the cassette."""
        body = self._cassette.requests[index].body
        return dict(json.loads(body.decode("utf-8") if isinstance(body, bytes) else body))

    def header(self, name: str, index: int = 0) -> str | None:
        """A response header as recorded (case-insensitive name)."""
        for key, values in self._cassette.responses[index]["headers"].items():
            if key.lower() == name.lower():
                return str(values[0])
        return None

    @property
    def all_played(self) -> bool:
        """Every interaction in the cassette was used (no step was skipped)."""
        return bool(self._cassette.all_played)


class EventLog(BaseEventHandler):
    """Keeps the instrumentation events it sees."""

    events: list[BaseEvent] = []

    @classmethod
    def class_name(cls) -> str:
        return "EventLog"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)


class CountingLimiter:
    """Stands in for LlamaIndex's rate limiters (`acquire` / `async_acquire`): counts calls."""

    def __init__(self) -> None:
        self.calls = 0

    def acquire(self) -> None:
        self.calls += 1

    async def async_acquire(self) -> None:
        self.calls += 1
