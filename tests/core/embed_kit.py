"""A small loopback-free fake of the router's embeddings routes and the Hub mapping lookup.

Answers by URL (so concurrent batches can arrive in any order), with a deterministic vector per
text, so a test can check that every vector landed at its input's position.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import httpx

from hfproviders import AsyncHFClient, HFClient
from tests.conftest import FAKE_TOKEN

EMBED_MODEL = "BAAI/bge-small-en-v1.5"
HUB_URL = f"https://huggingface.co/api/models/{EMBED_MODEL}"


def vector(text: str) -> list[float]:
    """The fake model: three numbers that identify the text."""
    return [float(len(text)), float(sum(map(ord, text)) % 997), 0.5]


def mapping(*entries: tuple[str, str, str, str]) -> dict[str, Any]:
    """A Hub model-info answer with `inferenceProviderMapping` (provider, status, task, id)."""
    return {
        "_id": "65a1b2c3d4e5f60718293a4b",
        "id": EMBED_MODEL,
        "pipeline_tag": "feature-extraction",
        "gated": False,
        "inferenceProviderMapping": {
            provider: {"isModelAuthor": False, "providerId": pid, "status": status, "task": task}
            for provider, status, task, pid in entries
        },
    }


DEFAULT_MAPPING = mapping(
    ("together", "live", "feature-extraction", "BAAI/bge-small-en-v1.5-together"),
    ("deepinfra", "live", "feature-extraction", "BAAI/bge-small-en-v1.5"),
    ("hf-inference", "live", "feature-extraction", EMBED_MODEL),
)

Fault = Callable[[httpx.Request, dict[str, Any]], httpx.Response | None]


class EmbedRouter:
    """Serves `/api/models/{id}`, `/hf-inference/…/pipeline/feature-extraction`, `/{p}/…/embeddings`.

    `faults[provider]` is called before answering; a response it returns is sent instead.
    """

    def __init__(self, hub: dict[str, Any] | None = None) -> None:
        self.hub = hub if hub is not None else DEFAULT_MAPPING
        self.requests: list[httpx.Request] = []
        self.faults: dict[str | None, Fault] = {}
        self.lock = threading.Lock()
        self.client: Any = None

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
        url = request.url
        if url.host == "huggingface.co":
            return httpx.Response(200, json=self.hub)
        body = json.loads(request.content)
        provider = url.path.split("/")[1] if url.host == "router.huggingface.co" else None
        fault = self.faults.get(provider)
        if fault is not None:
            answer = fault(request, body)
            if answer is not None:
                return answer
        headers = {"x-request-id": f"req-{len(self.requests)}"}
        if provider is not None:
            headers["x-inference-provider"] = provider
        if "inputs" in body:
            return httpx.Response(200, json=[vector(t) for t in body["inputs"]], headers=headers)
        items = [
            {"object": "embedding", "index": i, "embedding": vector(t)}
            for i, t in enumerate(body["input"])
        ]
        items.reverse()  # the index decides the order, not the position
        tokens = sum(len(t) for t in body["input"])
        answer = {
            "object": "list",
            "data": items,
            "model": body.get("model", "tei"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return httpx.Response(200, json=answer, headers=headers)

    def posts(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == "POST"]

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.posts()]

    def make(self, mode: str, **kwargs: Any) -> Any:
        kwargs.setdefault("api_key", FAKE_TOKEN)
        transport = httpx.MockTransport(self.handle)
        if mode == "async":
            self.client = AsyncHFClient(
                http_async_client=httpx.AsyncClient(transport=transport), **kwargs
            )

            async def no_sleep(seconds: float) -> None:
                return None

            self.client._sleep = no_sleep
        else:
            self.client = HFClient(http_client=httpx.Client(transport=transport), **kwargs)
            self.client._sleep = lambda seconds: None
        return self.client


async def embed(mode: str, client: Any, *args: Any, **kwargs: Any) -> Any:
    """Call `embed` on either twin."""
    if mode == "async":
        return await client.embed(*args, **kwargs)
    return client.embed(*args, **kwargs)


def status(code: int, body: Any, **headers: str) -> httpx.Response:
    if isinstance(body, bytes):
        return httpx.Response(code, content=body, headers=headers)
    return httpx.Response(code, json=body, headers=headers)
