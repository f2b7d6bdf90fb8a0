"""LangChain's standard integration suite for ChatHFProviders, replayed from cassettes.

Every test replays `cassettes/langchain/test_standard_integration/`. Those cassettes are
synthesized by the fake router (`tests/langchain/synthesize.py`, see its docstring) and can be recorded
from the real router with one command (docs/langchain.md); line 1 of each says which.

The capability flags are what the adapter and the model below really support:
meta-llama/Llama-4-Scout-17B-16E-Instruct is multimodal (images), and its providers support
tools, `tool_choice` and JSON output. Usage details: cache-read tokens and reasoning tokens are
mapped when providers report them (`invoke_with_*` below use a long shared prefix and an R1
model, whose providers report those details).
"""

from __future__ import annotations

import struct
import zlib
from types import SimpleNamespace
from typing import Any, Literal

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.integration_tests import chat_models as standard_module

from langchain_hfproviders import ChatHFProviders
from tests.langchain.conftest import model_params

pytestmark = pytest.mark.vcr

MODEL = "meta-llama/Llama-4-Scout-17B-16E-Instruct"
REASONING_MODEL = "deepseek-ai/DeepSeek-R1:fireworks-ai"
# A shared prefix long enough for providers' prompt caches (they report cached tokens).
LONG_SYSTEM_PROMPT = "You are a careful assistant for a cat shelter. " + " ".join(
    f"Rule {n}: answer kindly, briefly, and only about cats and their care." for n in range(40)
)


def _diagram_png(size: int = 64) -> bytes:
    """A small, valid RGB PNG (a coloured diagram-like pattern), made without Pillow."""
    rows = []
    for y in range(size):
        row = bytearray([0])  # filter type: none
        for x in range(size):
            box = (x // 16 + y // 16) % 2
            row += bytes((40 + 180 * box, 90, 200 - 150 * box))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


class _OfflineImageFetch:
    """Stands in for the `httpx` module of the standard suite, which downloads a test image.

    The suite fetches a PNG from raw.githubusercontent.com with `httpx.get` (inside the VCR
    cassette, so replay would fail on it). The image is only test *input*; we hand it a local
    PNG instead, so the request under test (the model call) is the only HTTP exchange.
    """

    png = _diagram_png()

    def get(self, url: str, **_: Any) -> SimpleNamespace:
        assert url.endswith(".png"), f"the standard suite fetched something new: {url}"
        return SimpleNamespace(content=self.png)


@pytest.fixture(autouse=True)
def _offline_image(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(standard_module, "httpx", _OfflineImageFetch())


class TestChatHFProvidersIntegration(ChatModelIntegrationTests):
    """Every test of `ChatModelIntegrationTests`, replayed."""

    @property
    def chat_model_class(self) -> type[ChatHFProviders]:
        return ChatHFProviders

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return model_params(model=MODEL)

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_anthropic_inputs(self) -> bool:
        # The converter maps Anthropic blocks (tool_use, thinking, image `source`,
        # cache_control) onto the OpenAI shape the router takes.
        return True

    @property
    def enable_vcr_tests(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "Qwen/Qwen2.5-VL-7B-Instruct"

    @property
    def supported_usage_metadata_details(
        self,
    ) -> dict[
        Literal["invoke", "stream"],
        list[
            Literal[
                "audio_input",
                "audio_output",
                "reasoning_output",
                "cache_read_input",
                "cache_creation_input",
            ]
        ],
    ]:
        return {
            "invoke": ["reasoning_output", "cache_read_input"],
            "stream": ["reasoning_output", "cache_read_input"],
        }

    def _call(self, model: ChatHFProviders, messages: list[Any], *, stream: bool) -> AIMessage:
        if not stream:
            result = model.invoke(messages)
            assert isinstance(result, AIMessage)
            return result
        full: AIMessageChunk | None = None
        for chunk in model.stream(messages):
            full = chunk if full is None else full + chunk
        assert full is not None
        return full

    def invoke_with_reasoning_output(self, *, stream: bool = False) -> AIMessage:
        model = ChatHFProviders(**model_params(model=REASONING_MODEL))
        return self._call(
            model, [HumanMessage("What is 17 * 23? Think it through.")], stream=stream
        )

    def invoke_with_cache_read_input(self, *, stream: bool = False) -> AIMessage:
        model = ChatHFProviders(**model_params(model=MODEL))
        # The first call fills the provider's prompt cache; the second reads the shared prefix.
        warm = [
            SystemMessage(LONG_SYSTEM_PROMPT),
            HumanMessage("How often should I feed a kitten?"),
        ]
        self._call(model, warm, stream=stream)
        question = [SystemMessage(LONG_SYSTEM_PROMPT), HumanMessage("Why do cats purr?")]
        return self._call(model, question, stream=stream)
