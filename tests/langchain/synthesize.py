"""Synthesize the LangChain cassettes from the fake router of `hfproviders.testing`.

LangChain's standard integration suite sends ~100 different prompts. Without network access we
cannot record them from Hugging Face, so the fake router answers them the way the router does
(WIRE.md): the router's header names and SSE framing, together's body shapes (fireworks' with
`reasoning_content` for DeepSeek-R1), and content scripted where a test checks it (tool calls
from the prompt, JSON that fits the requested schema, answers built from tool results).

Run it (from the repository root):

    .venv/bin/python -m tests.langchain.synthesize [pytest arguments, default tests/langchain]

It serves the fake router on 127.0.0.1, runs pytest in rewrite mode with
`HFPROVIDERS_SYNTH_BASE_URL` pointing the models at it; the VCR config in conftest.py rewrites
the loopback host to router.huggingface.co and labels every cassette it writes on line 1.
Deterministic: running the same tests twice writes the same bytes. To record from the real router,
see docs/langchain.md.
"""

from __future__ import annotations

import os
import sys

from hfproviders.testing import FakeRouter, Provider

SYNTH_ENV = "HFPROVIDERS_SYNTH_BASE_URL"
COMMAND = ".venv/bin/python -m tests.langchain.synthesize"
LABEL = (
    f"# synthesized by the fake router of hfproviders.testing (`{COMMAND}`): faithful to "
    "WIRE.md, not recorded from Hugging Face\n"
)


def synth_router() -> FakeRouter:
    """Every model served by together, DeepSeek-R1 by fireworks-ai (its own model id)."""
    router = FakeRouter(models=[], default_provider="together")
    r1 = Provider("fireworks-ai", provider_model_id="accounts/fireworks/models/deepseek-r1")
    router.add_model("deepseek-ai/DeepSeek-R1", [r1, Provider("together")])
    return router


def main(argv: list[str]) -> int:
    """Serve, run the LangChain tests in rewrite mode against the fake router, and stop."""
    import pytest

    router = synth_router()
    with router.serve() as server:
        os.environ[SYNTH_ENV] = server.base_url
        return int(pytest.main([*(argv or ["tests/langchain"]), "--record-mode=rewrite", "-q"]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
