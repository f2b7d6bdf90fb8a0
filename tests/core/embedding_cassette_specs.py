"""Specs of the embeddings cassettes; `python -m tests.core.embedding_cassette_specs` renders them.

Hand-written, not recorded. The shapes follow what the public recordings and sources show:
- hf-inference: `POST /hf-inference/models/{id}/pipeline/feature-extraction` with
  `{"inputs": [...]}` answering nested float lists, `x-compute-type`/`x-compute-time`, served by
  uvicorn (huggingface.js tapes of 2025-04, keys 0f1f1218…, cfcdec98…); its errors are TEI's
  `{"error", "error_type"}` (413 Validation for input too long; TEI `router/src/lib.rs`), and the
  2023 loading 503 `{"error": "Model … is currently loading", "estimated_time": 20.0}`.
- OpenAI-style providers (together `/v1/embeddings`, deepinfra `/v1/openai/embeddings`, routes of
  huggingface_hub 2.4): `{"model": providerId, "input": [...]}` answering
  `{"object": "list", "data": [{"object": "embedding", "embedding", "index"}], "model", "usage"}`
  (the sambanova tape 3e681e3a… has exactly this shape); together's rate-limit headers as in
  the together recordings (WIRE.md §7).
- The Hub mapping lookup as in WIRE.md §1, with `task: "feature-extraction"` entries.
Vectors are seeded pseudo-random unit vectors of the model's real width, not real embeddings.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

from hfproviders._hub import hub_model_info_request
from tests.cassette_tools import ROUTER_RESPONSE_HEADERS, Exchange, render

ROOT = Path(__file__).resolve().parents[2] / "cassettes" / "core" / "embeddings"
ROUTER = "https://router.huggingface.co"
HUB = "https://huggingface.co/api/models"
# The lookup's query as the client sends it (the fields `model_providers` asks the Hub for).
HUB_QUERY = "?" + "&".join(f"{k}={v}" for k, v in hub_model_info_request("x")[1])
NOTE = (
    "hand-written, not recorded: embeddings wire shapes of huggingface_hub 2.4 providers, "
    "huggingface.js tapes and TEI; rendered by tests/core/embedding_cassette_specs.py"
)
BGE_SMALL = "BAAI/bge-small-en-v1.5"  # 384 dimensions
BGE_BASE = "BAAI/bge-base-en-v1.5"  # 768
BGE_M3 = "BAAI/bge-m3"  # 1024
DOCS = ["The capital of France is Paris.", "Bonjour means hello in French."]
QUERY = "What is the capital of France?"


def unit_vector(seed: int, width: int) -> list[float]:
    """A seeded unit vector whose values print like float32 JSON from a real server."""
    rng = random.Random(seed)
    raw = [rng.gauss(0.0, 1.0) for _ in range(width)]
    norm = math.sqrt(math.fsum(x * x for x in raw))
    return [float(f"{x / norm:.8g}") for x in raw]


HF_INFERENCE_HEADERS = {
    **ROUTER_RESPONSE_HEADERS,
    "Access-Control-Allow-Credentials": "true",
    "Access-Control-Allow-Origin": "*",
    "Content-Type": "application/json",
    "Server": "uvicorn",
    "Vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
    "X-Request-Id": "Vq3nR8aXkLm2pT7w",
    "x-compute-type": "cpu",
    "x-compute-time": "0.024",
}
TOGETHER_HEADERS = {
    **ROUTER_RESPONSE_HEADERS,
    "Content-Type": "application/json; charset=utf-8",
    "X-Request-Id": "Hq8mZc1pWfT4nB6s",
    "x-ratelimit-limit": "100",
    "x-ratelimit-remaining": "99",
    "x-ratelimit-reset": "1",
    "retry-after": "1",
}
DEEPINFRA_HEADERS = {
    **ROUTER_RESPONSE_HEADERS,
    "Content-Type": "application/json",
    "X-Request-Id": "Dn5kP2xQwR9vY3hL",
    "x-robots-tag": "noindex",
}
HUB_HEADERS = {
    "Content-Type": "application/json; charset=utf-8",
    "RateLimit": '"api";r=997;t=241',
    "RateLimit-Policy": '"fixed window";"api";q=1000;w=300',
    "X-Request-Id": "hwHubEmbedMapping",
}


def hub_mapping(model: str, *entries: tuple[str, str, str]) -> Exchange:
    """The Hub's model info with feature-extraction mappings: (provider, status, providerId)."""
    return Exchange(
        "GET",
        f"{HUB}/{model}{HUB_QUERY}",
        None,
        200,
        {
            "_id": "hand-written-embed-0001",
            "id": model,
            "gated": False,
            "pipeline_tag": "feature-extraction",
            "inferenceProviderMapping": {
                provider: {
                    "status": status,
                    "providerId": pid,
                    "task": "feature-extraction",
                    "isModelAuthor": False,
                }
                for provider, status, pid in entries
            },
        },
        HUB_HEADERS,
        {"Accept": "application/json"},
    )


def hf_inference_post(
    model: str, inputs: list[str], answer: Any, status: int = 200, **extra: Any
) -> Exchange:
    return Exchange(
        "POST",
        f"{ROUTER}/hf-inference/models/{model}/pipeline/feature-extraction",
        {"inputs": inputs, **extra},
        status,
        answer,
        HF_INFERENCE_HEADERS,
    )


def openai_answer(model: str, vectors: list[list[float]], usage: dict[str, Any] | None) -> Any:
    answer: dict[str, Any] = {
        "object": "list",
        "data": [
            {"object": "embedding", "embedding": v, "index": i} for i, v in enumerate(vectors)
        ],
        "model": model,
    }
    if usage is not None:
        answer["usage"] = usage
    return answer


def embed_hf_inference() -> list[Exchange]:
    vectors = [unit_vector(i, 384) for i in range(2)]
    return [hf_inference_post(BGE_SMALL, DOCS, vectors, normalize=True)]


def embed_together() -> list[Exchange]:
    vectors = [unit_vector(10 + i, 768) for i in range(2)]
    return [
        hub_mapping(
            BGE_BASE,
            ("together", "live", BGE_BASE),
            ("hf-inference", "live", BGE_BASE),
        ),
        Exchange(
            "POST",
            f"{ROUTER}/together/v1/embeddings",
            {"model": BGE_BASE, "input": DOCS},
            200,
            openai_answer(BGE_BASE, vectors, {"prompt_tokens": 19, "total_tokens": 19}),
            TOGETHER_HEADERS,
        ),
    ]


def embed_deepinfra() -> list[Exchange]:
    vectors = [unit_vector(20, 1024)]
    usage = {"prompt_tokens": 9, "total_tokens": 9, "estimated_cost": 9e-08}
    return [
        hub_mapping(BGE_M3, ("deepinfra", "live", BGE_M3), ("hf-inference", "error", BGE_M3)),
        Exchange(
            "POST",
            f"{ROUTER}/deepinfra/v1/openai/embeddings",
            {"model": BGE_M3, "input": [QUERY], "dimensions": 1024},
            200,
            {**openai_answer(BGE_M3, vectors, usage), "id": "embd-5f0c1a7e9b2d4c3a8e6f1b0d"},
            DEEPINFRA_HEADERS,
        ),
    ]


def embed_not_supported_fails_over() -> list[Exchange]:
    vectors = [unit_vector(30, 768)]
    return [
        hub_mapping(
            BGE_BASE,
            ("together", "live", BGE_BASE),
            ("hf-inference", "live", BGE_BASE),
        ),
        Exchange(
            "POST",
            f"{ROUTER}/together/v1/embeddings",
            {"model": BGE_BASE, "input": [QUERY]},
            400,
            {
                "error": {
                    "message": f"The requested model '{BGE_BASE}' is not supported by this "
                    "provider for feature-extraction.",
                    "type": "invalid_request_error",
                    "param": "model",
                    "code": "model_not_supported",
                }
            },
            {**TOGETHER_HEADERS, "X-Error-Code": "model_not_supported"},
        ),
        hf_inference_post(BGE_BASE, [QUERY], vectors),
    ]


def embed_413_too_long() -> list[Exchange]:
    text = "token " * 600
    return [
        hf_inference_post(
            BGE_SMALL,
            [text.strip()],
            {
                "error": "Input validation error: `inputs` must have less than 512 tokens. "
                "Given: 601",
                "error_type": "Validation",
            },
            413,
        )
    ]


def embed_422_too_long() -> list[Exchange]:
    text = "token " * 600
    return [
        hub_mapping(BGE_BASE, ("deepinfra", "live", BGE_BASE)),
        Exchange(
            "POST",
            f"{ROUTER}/deepinfra/v1/openai/embeddings",
            {"model": BGE_BASE, "input": [text.strip()]},
            422,
            {
                "error": {
                    "message": "This model's maximum context length is 512 tokens. However, "
                    "you requested 601 tokens in the input. Please reduce the length of the "
                    "input.",
                    "type": "invalid_request_error",
                    "param": "input",
                    "code": None,
                }
            },
            DEEPINFRA_HEADERS,
        ),
    ]


def embed_429_then_ok() -> list[Exchange]:
    vectors = [unit_vector(40 + i, 768) for i in range(2)]
    limited = {
        **TOGETHER_HEADERS,
        "x-ratelimit-remaining": "0",
        "retry-after": "2",
    }
    return [
        hub_mapping(BGE_BASE, ("together", "live", BGE_BASE)),
        Exchange(
            "POST",
            f"{ROUTER}/together/v1/embeddings",
            {"model": BGE_BASE, "input": DOCS},
            429,
            {
                "error": {
                    "message": "You have reached the rate limit specific to this model "
                    f"{BGE_BASE}. The maximum rate limit for this model is 100.0 queries per "
                    "second.",
                    "type": "model_rate_limit",
                    "param": None,
                    "code": None,
                }
            },
            limited,
        ),
        Exchange(
            "POST",
            f"{ROUTER}/together/v1/embeddings",
            {"model": BGE_BASE, "input": DOCS},
            200,
            openai_answer(BGE_BASE, vectors, {"prompt_tokens": 19, "total_tokens": 19}),
            TOGETHER_HEADERS,
        ),
    ]


def embed_503_loading_then_ok() -> list[Exchange]:
    return [
        hf_inference_post(
            BGE_SMALL,
            [QUERY],
            {"error": f"Model {BGE_SMALL} is currently loading", "estimated_time": 20.0},
            503,
        ),
        hf_inference_post(BGE_SMALL, [QUERY], [unit_vector(50, 384)]),
    ]


ALL = {
    "embed_hf_inference": embed_hf_inference,
    "embed_together": embed_together,
    "embed_deepinfra": embed_deepinfra,
    "embed_not_supported_fails_over": embed_not_supported_fails_over,
    "embed_413_too_long": embed_413_too_long,
    "embed_422_too_long": embed_422_too_long,
    "embed_429_then_ok": embed_429_then_ok,
    "embed_503_loading_then_ok": embed_503_loading_then_ok,
}


def render_all(root: Path = ROOT) -> None:
    for name, spec in ALL.items():
        render(root / f"{name}.yaml", NOTE, spec())


if __name__ == "__main__":
    render_all()
