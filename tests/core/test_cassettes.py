"""The core's happy paths, replayed from cassettes/core (re-record: see README, "Cassettes")."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from hfproviders import AsyncHFClient, HFClient
from tests.cassette_tools import SECRET_REQUEST_HEADERS, scrub_response
from tests.conftest import FAKE_TOKEN

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes" / "core"
MODEL = "meta-llama/Llama-3.3-70B-Instruct"
ENDPOINT = "https://abc123xyz.us-east-1.aws.endpoints.huggingface.cloud"


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTES)


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return {
        "filter_headers": SECRET_REQUEST_HEADERS,
        "before_record_response": scrub_response,
        "decode_compressed_response": True,
        "match_on": ["method", "scheme", "host", "port", "path", "query"],
    }


def token() -> str:
    # Re-recording (HFPROVIDERS_RECORDING=1) uses the real token; replay uses an obvious fake.
    return os.environ["HF_TOKEN"] if os.environ.get("HFPROVIDERS_RECORDING") == "1" else FAKE_TOKEN


HELLO = [{"role": "user", "content": "Say hello in French."}]


@pytest.mark.vcr
def test_chat_nonstream() -> None:
    with HFClient(api_key=token()) as client:
        result = client.chat(f"{MODEL}:together", HELLO, max_tokens=32)
    assert result.text.startswith("Bonjour")
    assert result.provider == "together" and result.request_id
    assert (
        result.usage is not None
        and result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens
    )
    assert result.meta.rate_limit is not None and result.meta.rate_limit.limit_requests


@pytest.mark.vcr
async def test_chat_stream() -> None:
    async with AsyncHFClient(api_key=token()) as client:
        stream = client.stream(f"{MODEL}:together", HELLO, max_tokens=32)
        chunks = [c async for c in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("Bonjour")
    assert [c for c in chunks if c.usage] == [chunks[-1]] and chunks[-1].choices == []
    assert stream.completion is not None and stream.completion.choices[0].finish_reason == "stop"
    assert stream.meta.provider == "together" and stream.meta.ttft_s is not None


@pytest.mark.vcr
def test_chat_tools() -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather in a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    with HFClient(api_key=token()) as client:
        result = client.chat(
            "meta-llama/Llama-4-Scout-17B-16E-Instruct:together",
            [{"role": "user", "content": "What is the weather in Paris?"}],
            tools=tools,
            tool_choice="auto",
        )
    choice = result.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather" and call.function.parsed_arguments() == {
        "city": "Paris"
    }
    assert call.id.startswith("call_")


@pytest.mark.vcr
def test_chat_json_schema() -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
        "additionalProperties": False,
    }
    with HFClient(api_key=token()) as client:
        result = client.chat(
            "Qwen/Qwen3-235B-A22B-Instruct-2507:fireworks-ai",
            [{"role": "user", "content": "Largest city in France, as JSON."}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "City", "schema": schema, "strict": True},
            },
        )
    import json

    data = json.loads(result.text)
    assert set(data) == {"city", "population"} and isinstance(data["population"], int)
    assert result.provider == "fireworks-ai"
    assert (
        result.meta.rate_limit is not None and result.meta.rate_limit.remaining_requests is not None
    )


@pytest.mark.vcr
def test_text_generation() -> None:
    with HFClient(api_key=token()) as client:
        result = client.text_generation(
            "openai-community/gpt2", "The capital of France is", max_new_tokens=5, temperature=0
        )
    assert result.generated_text.strip() and result.meta.request_id


@pytest.mark.vcr
async def test_text_generation_stream() -> None:
    async with AsyncHFClient(api_key=token(), base_url=ENDPOINT) as client:
        stream = client.text_generation_stream(
            "tgi", "The capital of France is", max_new_tokens=3, details=True
        )
        tokens = [t async for t in stream]
    assert len(tokens) == 3 and tokens[-1].details is not None
    assert stream.generated_text == "".join(t.token.text for t in tokens)


def test_no_cassette_holds_anything_token_like() -> None:
    """Every cassette in the repo, all areas: no HF token, no bearer value, no cookie."""
    import re

    root = CASSETTES.parent
    files = sorted(root.rglob("*.yaml")) + sorted(root.rglob("*.json"))
    assert files, "no cassettes found"
    token_like = re.compile(
        r"hf_[A-Za-z0-9]{30,}|Bearer\s+[A-Za-z0-9_\-.]{12,}|(?i:^\s*(authorization|cookie|set-cookie):)",
        re.M,
    )
    for path in files:
        text = path.read_text(encoding="utf-8")
        match = token_like.search(text)
        assert match is None, f"{path.relative_to(root)} holds {match.group(0)[:12]!r}..."
        if path.suffix == ".yaml":
            first = text.splitlines()[0].lower() if text else ""
            # vcrpy's own recordings start with "interactions:"; anything else says what it is.
            if not first.startswith("interactions:"):
                assert first.startswith("#") and (
                    "hand-written" in first or "synthesized" in first
                ), path
