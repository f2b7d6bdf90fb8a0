"""Specs of the core's hand-written cassettes; `python -m tests.core.cassette_specs` renders them.

Every shape here follows ../shared/reference/WIRE.md and the real recordings it cites: router
headers (x-inference-provider, x-request-id, X-Powered-By), provider pass-through headers
(together's x-ratelimit-* and retry-after on a 200), OpenAI bodies, SSE framing with a final
`choices: []` usage chunk and `[DONE]`, and TGI's `data:{...}` token stream without a space.
"""

from __future__ import annotations

from pathlib import Path

from tests.cassette_tools import ROUTER_RESPONSE_HEADERS, Exchange, render, sse_body

ROOT = Path(__file__).resolve().parents[2] / "cassettes" / "core"
CHAT_URL = "https://router.huggingface.co/v1/chat/completions"
MODEL = "meta-llama/Llama-3.3-70B-Instruct"
NOTE = "hand-written, not recorded: faithful to WIRE.md {where}; rendered by tests/core/cassette_specs.py"

TOGETHER_HEADERS = {
    **ROUTER_RESPONSE_HEADERS,
    "Content-Type": "application/json; charset=utf-8",
    "x-inference-provider": "together",
    "X-Request-Id": "TtpPGx80uP3e6pgl",
    "x-ratelimit-limit": "60",
    "x-ratelimit-remaining": "59",
    "x-ratelimit-reset": "1",
    "x-ratelimit-limit-tokens": "180000",
    "x-ratelimit-remaining-tokens": "179950",
    "retry-after": "1",
}
SSE_HEADERS = {
    **TOGETHER_HEADERS,
    "Content-Type": "text/event-stream;charset=utf-8",
    "Cache-Control": "no-cache",
}


def chat_nonstream() -> list[Exchange]:
    return [
        Exchange(
            "POST",
            CHAT_URL,
            {
                "model": f"{MODEL}:together",
                "messages": [{"role": "user", "content": "Say hello in French."}],
                "max_tokens": 32,
            },
            200,
            {
                "id": "o4Lq2xS-2j9zxn-9a1f7c3e8b2d4f60",
                "object": "chat.completion",
                "created": 1764000000,
                "model": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
                "prompt": [],
                "choices": [
                    {
                        "finish_reason": "stop",
                        "seed": 1234567890123,
                        "logprobs": None,
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": "Bonjour !",
                            "tool_calls": [],
                            "reasoning": None,
                        },
                    }
                ],
                "usage": {
                    "prompt_tokens": 42,
                    "completion_tokens": 4,
                    "total_tokens": 46,
                    "cached_tokens": 0,
                },
            },
            TOGETHER_HEADERS,
        )
    ]


def chat_stream() -> list[Exchange]:
    base = {
        "id": "o4Lr7aB-2j9zxn-9a1f7c3e8b2d4f61",
        "object": "chat.completion.chunk",
        "created": 1764000001,
        "model": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "system_fingerprint": None,
    }
    events = [
        {
            **base,
            "choices": [
                {
                    "index": 0,
                    "text": "",
                    "logprobs": None,
                    "finish_reason": None,
                    "seed": None,
                    "delta": {
                        "token_id": None,
                        "role": "assistant",
                        "content": "",
                        "tool_calls": None,
                    },
                }
            ],
        },
        {
            **base,
            "choices": [
                {
                    "index": 0,
                    "text": "Bon",
                    "logprobs": None,
                    "finish_reason": None,
                    "seed": None,
                    "delta": {
                        "token_id": 33,
                        "role": "assistant",
                        "content": "Bon",
                        "tool_calls": None,
                    },
                }
            ],
        },
        {
            **base,
            "choices": [
                {
                    "index": 0,
                    "text": "jour",
                    "logprobs": None,
                    "finish_reason": None,
                    "seed": None,
                    "delta": {
                        "token_id": 34,
                        "role": "assistant",
                        "content": "jour",
                        "tool_calls": None,
                    },
                }
            ],
        },
        {
            **base,
            "choices": [
                {
                    "index": 0,
                    "text": " !",
                    "logprobs": None,
                    "finish_reason": "stop",
                    "seed": 98765,
                    "delta": {
                        "token_id": 35,
                        "role": "assistant",
                        "content": " !",
                        "tool_calls": None,
                    },
                }
            ],
        },
        {
            **base,
            "choices": [],
            "usage": {
                "prompt_tokens": 42,
                "completion_tokens": 4,
                "total_tokens": 46,
                "cached_tokens": 0,
            },
        },
    ]
    return [
        Exchange(
            "POST",
            CHAT_URL,
            {
                "model": f"{MODEL}:together",
                "messages": [{"role": "user", "content": "Say hello in French."}],
                "max_tokens": 32,
                "stream": True,
                "stream_options": {"include_usage": True},
            },
            200,
            sse_body(events),
            SSE_HEADERS,
        )
    ]


def chat_tools() -> list[Exchange]:
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
    return [
        Exchange(
            "POST",
            CHAT_URL,
            {
                "model": "meta-llama/Llama-4-Scout-17B-16E-Instruct:together",
                "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
                "tools": tools,
                "tool_choice": "auto",
            },
            200,
            {
                "id": "oBxy3pQ-4Yz1kd-9a1f7c3e8b2d4f62",
                "object": "chat.completion",
                "created": 1764000002,
                "model": "meta-llama/Llama-4-Scout-17B-16E-Instruct",
                "prompt": [],
                "choices": [
                    {
                        "finish_reason": "tool_calls",
                        "seed": 4455667788,
                        "logprobs": None,
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": None,
                            "reasoning": None,
                            "tool_calls": [
                                {
                                    "index": 0,
                                    "id": "call_8r5kq2mzt3x9yv0wq1e4",
                                    "type": "function",
                                    "function": {
                                        "name": "get_weather",
                                        "arguments": '{"city":"Paris"}',
                                    },
                                }
                            ],
                        },
                    }
                ],
                "usage": {
                    "prompt_tokens": 187,
                    "completion_tokens": 17,
                    "total_tokens": 204,
                    "cached_tokens": 0,
                },
                "metadata": {"weight_version": "default"},
            },
            TOGETHER_HEADERS,
        )
    ]


def chat_json_schema() -> list[Exchange]:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
        "additionalProperties": False,
    }
    headers = {
        **ROUTER_RESPONSE_HEADERS,
        "Content-Type": "application/json",
        "x-inference-provider": "fireworks-ai",
        "X-Request-Id": "Rk2mP9xq7LwZ1aBc",
        "fireworks-prompt-tokens": "61",
        "fireworks-sampling-options": "{}",
        "x-ratelimit-limit-requests": "6000",
        "x-ratelimit-remaining-requests": "5999",
        "x-ratelimit-over-limit": "no",
    }
    return [
        Exchange(
            "POST",
            CHAT_URL,
            {
                "model": "Qwen/Qwen3-235B-A22B-Instruct-2507:fireworks-ai",
                "messages": [{"role": "user", "content": "Largest city in France, as JSON."}],
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "City", "schema": schema, "strict": True},
                },
            },
            200,
            {
                "id": "c8f1a2b3-44d5-4e6f-8a9b-0c1d2e3f4a5b",
                "object": "chat.completion",
                "created": 1764000003,
                "model": "accounts/fireworks/models/qwen3-235b-a22b-instruct-2507",
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": '{"city": "Paris", "population": 2102650}',
                        },
                        "finish_reason": "stop",
                        "raw_output": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": 61,
                    "total_tokens": 78,
                    "completion_tokens": 17,
                    "prompt_tokens_details": {"cached_tokens": 0},
                },
            },
            headers,
        )
    ]


TGI_HEADERS = {
    "Content-Type": "application/json",
    "x-compute-type": "cpu",
    "x-compute-time": "0.412",
    "x-compute-characters": "11",
    "x-sha": "607a30d783dfa663caf39e06633721c8d4cfcd7e",
    "X-Request-Id": "Yq7Lm3Pz0aB2cD4e",
    "X-Powered-By": "huggingface-moon",
    "x-inference-provider": "hf-inference",
}


def text_generation() -> list[Exchange]:
    return [
        Exchange(
            "POST",
            "https://router.huggingface.co/hf-inference/models/openai-community/gpt2",
            {
                "inputs": "The capital of France is",
                "parameters": {"max_new_tokens": 5, "do_sample": False},
            },
            200,
            [{"generated_text": " Paris, and the capital"}],
            TGI_HEADERS,
        )
    ]


def text_generation_stream() -> list[Exchange]:
    tokens = [(12366, " Paris", -0.21), (11, ",", -1.02), (290, " and", -0.83)]
    events = []
    for n, (tid, text, logprob) in enumerate(tokens, start=1):
        last = n == len(tokens)
        events.append(
            {
                "index": n,
                "token": {"id": tid, "text": text, "logprob": logprob, "special": False},
                "generated_text": " Paris, and" if last else None,
                "details": {"finish_reason": "length", "generated_tokens": 3, "seed": None}
                if last
                else None,
            }
        )
    headers = {
        "Content-Type": "text/event-stream",
        "x-compute-type": "2-a10-g",
        "x-accel-buffering": "no",
        "Cache-Control": "no-cache",
        "x-compute-characters": "24",
        "X-Request-Id": "Zr8Mn4Qa1bC3dE5f",
    }
    return [
        Exchange(
            "POST",
            "https://abc123xyz.us-east-1.aws.endpoints.huggingface.cloud",
            {
                "inputs": "The capital of France is",
                "parameters": {"max_new_tokens": 3, "details": True},
                "stream": True,
            },
            200,
            sse_body(events, done=False, space=False),
            headers,
        )
    ]


SPECS = {
    "test_chat_nonstream": (chat_nonstream, "§1 (router /v1, together headers)"),
    "test_chat_stream": (chat_stream, "§4 (together SSE + final choices:[] usage chunk)"),
    "test_chat_tools": (chat_tools, "§5 (together tool call, string arguments)"),
    "test_chat_json_schema": (chat_json_schema, "§5 (json_schema response_format, fireworks-ai)"),
    "test_text_generation": (text_generation, "§1 (hf-inference text-generation)"),
    "test_text_generation_stream": (
        text_generation_stream,
        "§4 (TGI token stream, data: without space)",
    ),
}


def main() -> None:
    for name, (build, where) in SPECS.items():
        render(ROOT / f"{name}.yaml", NOTE.format(where=where), build())


if __name__ == "__main__":
    main()
