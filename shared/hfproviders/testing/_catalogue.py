"""The fake router's catalogue: models, the providers serving them, and the Hub's view of them.

`FakeModel` is one model as `/v1/models` lists it and as the Hub's model info (with
`inferenceProviderMapping`) describes it; `default_models()` is the small catalogue a
`FakeRouter()` starts with (illustrative prices and speeds, not the real ones).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from hfproviders.testing._script import Provider, Quirks

__all__ = ["FakeModel", "default_models"]


@dataclass
class FakeModel:
    """A model in the catalogue and on the Hub, with the providers that serve it."""

    id: str
    providers: list[Provider]
    pipeline_tag: str = "text-generation"
    gated: bool | str = False
    access: bool = True
    embedding_dim: int = 384
    created: int = 1764000000

    def provider(self, name: str) -> Provider | None:
        """The provider called `name`, if it serves this model."""
        return next((p for p in self.providers if p.name == name), None)

    def catalogue_entry(self) -> dict[str, Any]:
        """The model's entry in `/v1/models`."""
        return {
            "id": self.id,
            "object": "model",
            "created": self.created,
            "owned_by": self.id.split("/")[0],
            "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
            "providers": [p.catalogue_entry() for p in self.providers],
        }

    def hub_info(self) -> dict[str, Any]:
        """The Hub's `/api/models/{id}?expand[]=inferenceProviderMapping` answer."""
        mapping = {
            p.name: {
                "isModelAuthor": False,
                "providerId": p.provider_model_id or self.id,
                "status": "live" if p.status == "live" else p.status,
                "task": p.task,
            }
            for p in self.providers
        }
        return {
            "_id": hashlib.sha256(self.id.encode()).hexdigest()[:24],
            "id": self.id,
            "gated": self.gated,
            "pipeline_tag": self.pipeline_tag,
            "inferenceProviderMapping": mapping,
        }


def default_models() -> list[FakeModel]:
    """Llama 3.3 70B, gpt-oss-120b and DeepSeek-R1 on three providers each, two embedders."""
    groq = Provider(
        "groq",
        pricing_input=0.59,
        pricing_output=0.79,
        throughput=280.0,
        first_token_latency_ms=180.0,
    )
    together = Provider(
        "together",
        pricing_input=0.88,
        pricing_output=0.88,
        throughput=90.0,
        first_token_latency_ms=420.0,
    )
    novita = Provider(
        "novita",
        pricing_input=0.14,
        pricing_output=0.4,
        throughput=35.0,
        first_token_latency_ms=900.0,
        supports_structured_output=False,
        provider_model_id="meta-llama/llama-3.3-70b-instruct",
    )
    cerebras = Provider(
        "cerebras",
        pricing_input=0.25,
        pricing_output=0.69,
        throughput=2100.0,
        first_token_latency_ms=150.0,
        provider_model_id="gpt-oss-120b",
    )
    fireworks = Provider(
        "fireworks-ai",
        pricing_input=0.15,
        pricing_output=0.6,
        throughput=200.0,
        first_token_latency_ms=300.0,
        provider_model_id="accounts/fireworks/models/gpt-oss-120b",
    )
    r1_fireworks = Provider(
        "fireworks-ai",
        pricing_input=3.0,
        pricing_output=8.0,
        throughput=60.0,
        first_token_latency_ms=700.0,
        provider_model_id="accounts/fireworks/models/deepseek-r1",
    )
    r1_together = Provider(
        "together",
        pricing_input=3.0,
        pricing_output=7.0,
        throughput=45.0,
        first_token_latency_ms=800.0,
        quirks=Quirks(think_inline=True),
        provider_model_id="deepseek-ai/DeepSeek-R1",
    )
    embed_hf = Provider(
        "hf-inference",
        task="feature-extraction",
        pricing_input=None,
        pricing_output=None,
        context_length=512,
        supports_tools=None,
        supports_structured_output=None,
    )
    embed_scw = Provider(
        "scaleway",
        task="feature-extraction",
        pricing_input=0.1,
        pricing_output=0.0,
        context_length=32768,
        supports_tools=None,
        supports_structured_output=None,
        provider_model_id="qwen3-embedding-8b",
    )
    return [
        FakeModel("meta-llama/Llama-3.3-70B-Instruct", [groq, together, novita]),
        FakeModel("openai/gpt-oss-120b", [cerebras, groq, fireworks]),
        FakeModel("deepseek-ai/DeepSeek-R1", [r1_fireworks, r1_together]),
        FakeModel(
            "sentence-transformers/all-MiniLM-L6-v2",
            [embed_hf],
            pipeline_tag="feature-extraction",
            embedding_dim=384,
        ),
        FakeModel(
            "Qwen/Qwen3-Embedding-8B",
            [embed_scw, embed_hf],
            pipeline_tag="feature-extraction",
            embedding_dim=1024,
        ),
    ]
