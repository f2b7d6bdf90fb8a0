"""A fake router for RAG tests: embeddings (hf-inference, together, Hub lookup) and chat.

The embedding model is a keyword counter, so retrieval is predictable; the chat model answers
"Paris." only when the retrieved context it was sent says so. Answers by URL, on MockTransport.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

EMBED_MODEL = "BAAI/bge-small-en-v1.5"
CHAT_MODEL = "meta-llama/Llama-3.3-70B-Instruct"
VOCABULARY = ("paris", "france", "berlin", "germany", "rome", "italy", "capital")


def keyword_vector(text: str) -> list[float]:
    """A fake embedding model: one dimension per vocabulary word, plus a bias."""
    words = text.lower().replace("?", " ").replace(".", " ").split()
    return [float(words.count(w)) for w in VOCABULARY] + [0.1]


class FakeRouter:
    """Embeddings (hf-inference and together routes, Hub lookup) and chat, by URL."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.embed_status = 200

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if request.url.host == "huggingface.co":
            return httpx.Response(
                200,
                json={
                    "id": EMBED_MODEL,
                    "inferenceProviderMapping": {
                        "together": {
                            "status": "live",
                            "providerId": "bge-small-t",
                            "task": "feature-extraction",
                        },
                    },
                },
            )
        body = json.loads(request.content)
        if path.endswith("/chat/completions"):
            context = body["messages"][-1]["content"]
            answer = "Paris." if "Paris is the capital of France" in context else "I do not know."
            return httpx.Response(
                200,
                json={
                    "id": "c1",
                    "object": "chat.completion",
                    "created": 1764000000,
                    "model": CHAT_MODEL,
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": answer},
                        }
                    ],
                    "usage": {"prompt_tokens": 30, "completion_tokens": 2, "total_tokens": 32},
                },
                headers={"x-inference-provider": "together"},
            )
        if self.embed_status != 200:
            return httpx.Response(self.embed_status, json={"error": "Rate limit reached"})
        if "inputs" in body:
            return httpx.Response(200, json=[keyword_vector(t) for t in body["inputs"]])
        return httpx.Response(
            200,
            json={
                "object": "list",
                "model": body["model"],
                "data": [
                    {"object": "embedding", "index": i, "embedding": keyword_vector(t)}
                    for i, t in enumerate(body["input"])
                ],
            },
        )

    def clients(self) -> dict[str, Any]:
        transport = httpx.MockTransport(self.handle)
        return {
            "http_client": httpx.Client(transport=transport),
            "http_async_client": httpx.AsyncClient(transport=transport),
        }

    def bodies(self, suffix: str) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.url.path.endswith(suffix)]
