"""Hand-written cassettes for issue 10's classes; `python -m tests.wire_cassette_specs` renders them.

One cassette per class of wire shape the core once read wrong or refused, written by hand from
what WIRE.md §3-5 and the real recordings it cites teach (fireworks' `reasoning_content`,
together's `reasoning: null` next to content, novita's running usage, `content_filter_results`
and base64 logprob bytes, TGI 1.4's `data:{…}` chat stream numbering its one choice per token).
Nothing here was recorded. Request bodies are what the caller passed, including the unusual
shapes real servers accepted (the client sends their standard form).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from hfproviders.testing import ROUTER_RESPONSE_HEADERS, Exchange, render_cassette, sse

ROOT = Path(__file__).resolve().parents[1] / "cassettes" / "wire"
ROUTER_CHAT = "https://router.huggingface.co/v1/chat/completions"
ENDPOINT = "https://tgi-mistral-7b.us-east-1.aws.endpoints.huggingface.cloud"
NOTE = "hand-written, not recorded: {what}; rendered by tests/wire_cassette_specs.py"
CREATED = 1764000000


def headers(provider: str, request_id: str, *, stream: bool, **extra: str) -> dict[str, str]:
    content_type = "text/event-stream" if stream else "application/json"
    return {
        **ROUTER_RESPONSE_HEADERS,
        "Content-Type": content_type,
        "x-inference-provider": provider,
        "X-Request-Id": request_id,
        **extra,
    }


def chunk(
    cid: str, model: str, delta: dict[str, Any], finish: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, **extra}],
    }


def usage(prompt: int, completion: int, **details: Any) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        **details,
    }


def fireworks_r1_reasoning_content() -> list[Exchange]:
    """Class 1: a thinking model whose provider separates reasoning; content is the answer."""
    model = "accounts/fireworks/models/deepseek-r1-0528"
    ask = {
        "model": "deepseek-ai/DeepSeek-R1-0528:fireworks-ai",
        "messages": [{"role": "user", "content": "What is 17 * 3?"}],
        "max_tokens": 256,
    }
    fw = {"fireworks-prompt-tokens": "12", "fireworks-server-time-to-first-token": "0.212"}
    whole = {
        "id": "0b6c4f0e-2d7a-4f43-9a55-6f1f3c5d7e01",
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "17 * 3 = 51.",
                    "reasoning_content": "17 times 3: 10*3 is 30, 7*3 is 21, so 51.",
                },
                "finish_reason": "stop",
            }
        ],
        "usage": usage(12, 31, completion_tokens_details={"reasoning_tokens": 22}),
    }
    cid = "5d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"
    events = [
        chunk(
            cid, model, {"role": "assistant", "content": None, "reasoning_content": "17 times 3: "}
        ),
        chunk(cid, model, {"reasoning_content": "10*3 is 30, 7*3 is 21, "}),
        chunk(cid, model, {"reasoning_content": "so 51."}),
        chunk(cid, model, {"content": "17 * 3"}),
        chunk(cid, model, {"content": " = 51."}, "stop"),
        {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "choices": [],
            "usage": usage(12, 31, completion_tokens_details={"reasoning_tokens": 22}),
        },
    ]
    return [
        Exchange(
            "POST",
            ROUTER_CHAT,
            ask,
            200,
            whole,
            headers("fireworks-ai", "Fw0R1n0nStr34m01", stream=False, **fw),
        ),
        Exchange(
            "POST",
            ROUTER_CHAT,
            {**ask, "stream": True, "stream_options": {"include_usage": True}},
            200,
            sse(events),
            headers("fireworks-ai", "Fw0R1Str34m00002", stream=True, **fw),
        ),
    ]


def together_qwq_json_object() -> list[Exchange]:
    """Class 1: grammar-constrained JSON from a template-opened thinking model: no think block."""
    model = "Qwen/QwQ-32B"
    ask = {
        "model": "Qwen/QwQ-32B:together",
        "messages": [
            {"role": "user", "content": "Give the capital of France as JSON {city, country}."}
        ],
        "response_format": {"type": "json_object"},
    }
    answer = '{"city": "Paris", "country": "France"}'
    whole = {
        "id": "oA1b2C3-4d5E6f-9b8a7c6d5e4f3a21",
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "prompt": [],
        "choices": [
            {
                "finish_reason": "stop",
                "seed": 4478213509187712000,
                "logprobs": None,
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": answer,
                    "tool_calls": [],
                    "reasoning": None,
                },
            }
        ],
        "usage": usage(24, 12, cached_tokens=0),
    }
    cid = "oA1b2C3-4d5E6f-9b8a7c6d5e4f3a22"
    pieces = ['{"city"', ': "Paris"', ', "country"', ': "France"}']
    events = [
        {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "text": piece,
                    "logprobs": None,
                    "finish_reason": "stop" if n == len(pieces) - 1 else None,
                    "seed": None,
                    "delta": {
                        "token_id": 90 + n,
                        "role": "assistant",
                        "content": piece,
                        "tool_calls": None,
                        "reasoning": None,
                    },
                }
            ],
            "usage": usage(24, 12) if n == len(pieces) - 1 else None,
        }
        for n, piece in enumerate(pieces)
    ]
    rate = {"x-ratelimit-limit": "60", "x-ratelimit-remaining": "59", "retry-after": "1"}
    return [
        Exchange(
            "POST",
            ROUTER_CHAT,
            ask,
            200,
            whole,
            headers("together", "T0g3th3rQwQjs0n1", stream=False, **rate),
        ),
        Exchange(
            "POST",
            ROUTER_CHAT,
            {**ask, "stream": True, "stream_options": {"include_usage": True}},
            200,
            sse(events),
            headers("together", "T0g3th3rQwQjs0n2", stream=True, **rate),
        ),
    ]


FILTER = {
    "hate": {"filtered": False},
    "self_harm": {"filtered": False},
    "sexual": {"filtered": False},
    "violence": {"filtered": False},
}


def novita_r1_distill_cut_in_think() -> list[Exchange]:
    """Class 1: max_tokens ends the answer inside the block the template opened; no </think>."""
    model = "deepseek/deepseek-r1-distill-qwen-14b"
    ask = {
        "model": "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B:novita",
        "messages": [{"role": "user", "content": "Is 91 prime?"}],
        "max_tokens": 16,
    }
    text = "Okay, so I need to figure out if 91 is prime. Let me"
    whole = {
        "id": "chatcmpl-9c8b7a6f5e4d4c3b2a1908f7e6d5c4b3",
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "length",
                "content_filter_results": FILTER,
            }
        ],
        "usage": usage(11, 16),
        "system_fingerprint": "",
    }
    cid = "chatcmpl-9c8b7a6f5e4d4c3b2a1908f7e6d5c4b4"
    parts = ["Okay, so I need", " to figure out if 91", " is prime. Let me"]
    events = []
    for n, part in enumerate(parts):
        delta: dict[str, Any] = {"content": part}
        if n == 0:
            delta["role"] = "assistant"
        event = chunk(
            cid,
            model,
            delta,
            "length" if n == len(parts) - 1 else None,
            content_filter_results=FILTER,
        )
        event["system_fingerprint"] = ""
        event["usage"] = usage(11, 5 * (n + 1) + (1 if n == 2 else 0))
        events.append(event)
    trace = {"x-trace-id": "7e6d5c4b3a2918f7e6d5c4b3a2918f70"}
    return [
        Exchange(
            "POST",
            ROUTER_CHAT,
            ask,
            200,
            whole,
            headers("novita", "N0v1t4Cut1nTh1nk", stream=False, **trace),
        ),
        Exchange(
            "POST",
            ROUTER_CHAT,
            {**ask, "stream": True},
            200,
            sse(events),
            headers("novita", "N0v1t4Cut1nTh1n2", stream=True, **trace),
        ),
    ]


def novita_empty_stream_json_object() -> list[Exchange]:
    """Class 2: 200 with only `data: [DONE]` under json_object: an empty, finished answer."""
    ask = {
        "model": "meta-llama/Llama-3.1-8B-Instruct:novita",
        "messages": [{"role": "user", "content": "Reply with a JSON object."}],
        "response_format": {"type": "json_object"},
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    trace = {"x-trace-id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0"}
    return [
        Exchange(
            "POST",
            ROUTER_CHAT,
            ask,
            200,
            sse([]),
            headers("novita", "N0v1t4Empty5tr3m", stream=True, **trace),
        )
    ]


def _b64(token: str) -> str:
    return base64.b64encode(token.encode()).decode()


def novita_logprobs_base64() -> list[Exchange]:
    """Class 3: token bytes as a base64 string, no top_logprobs."""
    model = "meta-llama/llama-3.1-8b-instruct"
    ask = {
        "model": "meta-llama/Llama-3.1-8B-Instruct:novita",
        "messages": [{"role": "user", "content": "Say hello in French."}],
        "logprobs": True,
        "max_tokens": 8,
    }
    tokens = [("Bon", -0.0123), ("jour", -0.0004), ("!", -0.2513)]
    content = [{"token": t, "logprob": p, "bytes": _b64(t)} for t, p in tokens]
    whole = {
        "id": "chatcmpl-1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6",
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Bonjour!"},
                "finish_reason": "stop",
                "logprobs": {"content": content},
                "content_filter_results": FILTER,
            }
        ],
        "usage": usage(14, 3),
        "system_fingerprint": "",
    }
    cid = "chatcmpl-1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c7"
    events = []
    for n, item in enumerate(content):
        delta: dict[str, Any] = {"content": item["token"]}
        if n == 0:
            delta["role"] = "assistant"
        event = chunk(
            cid,
            model,
            delta,
            "stop" if n == 2 else None,
            logprobs={"content": [item]},
            content_filter_results=FILTER,
        )
        event["usage"] = usage(14, n + 1)
        events.append(event)
    trace = {"x-trace-id": "a0b1c2d3e4f5061728394a5b6c7d8e9f"}
    return [
        Exchange(
            "POST",
            ROUTER_CHAT,
            ask,
            200,
            whole,
            headers("novita", "N0v1t4L0gPr0bs01", stream=False, **trace),
        ),
        Exchange(
            "POST",
            ROUTER_CHAT,
            {**ask, "stream": True},
            200,
            sse(events),
            headers("novita", "N0v1t4L0gPr0bs02", stream=True, **trace),
        ),
    ]


def tgi_14_chat_stream_index() -> list[Exchange]:
    """Class 4: TGI 1.4's chat stream numbers its single choice per token; no `[DONE]`."""
    model = "text-generation-inference/Mistral-7B-Instruct-v0.2-medusa"
    ask = {
        "model": "tgi",
        "messages": [{"role": "user", "content": "Complete the equation 1+1= ,just the answer"}],
        "max_tokens": 20,
        "stream": True,
    }
    pieces = [" The", " answer", " is", " 2", "."]
    events = [
        {
            "id": "",
            "object": "text_completion",
            "created": CREATED,
            "model": model,
            "system_fingerprint": "1.4.3-sha-e6bb3ff",
            "choices": [
                {
                    "index": n + 1,
                    "delta": {"role": "assistant", "content": piece},
                    "logprobs": None,
                    "finish_reason": "eos_token" if n == len(pieces) - 1 else None,
                }
            ],
        }
        for n, piece in enumerate(pieces)
    ]
    tgi = {
        "Content-Type": "text/event-stream",
        "access-control-allow-credentials": "true",
        "vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
    }
    return [
        Exchange(
            "POST",
            f"{ENDPOINT}/v1/chat/completions",
            ask,
            200,
            sse(events, done=False, space=False),
            tgi,
        )
    ]


def tgi_tool_message_without_id() -> list[Exchange]:
    """Class 5: TGI answers a tool result that has no tool_call_id (nor an earlier call)."""
    ask = {
        "model": "tgi",
        "messages": [
            {"role": "user", "content": "What is the weather in Paris?"},
            {"role": "tool", "name": "get_weather", "content": "sunny, 22 C"},
        ],
        "max_tokens": 32,
    }
    whole = {
        "object": "chat.completion",
        "id": "",
        "created": CREATED,
        "model": "mistralai/Mistral-7B-Instruct-v0.3",
        "system_fingerprint": "2.4.1-sha-d2ed52f",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "It is sunny in Paris, 22 C."},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": usage(41, 11),
    }
    tgi = {
        "Content-Type": "application/json",
        "x-compute-type": "1-a10-g",
        "x-compute-time": "0.41",
    }
    return [Exchange("POST", f"{ENDPOINT}/v1/chat/completions", ask, 200, whole, tgi)]


def router_request_shapes() -> list[Exchange]:
    """Class 5: three requests in shapes the servers answered, each with a plain answer."""
    schema_fields = {
        "type": "object",
        "properties": {"title": {"type": "string"}, "author": {"type": "string"}},
        "required": ["title", "author"],
    }
    inline = {
        "model": "meta-llama/Llama-3.1-8B-Instruct:cerebras",
        "messages": [
            {
                "role": "user",
                "content": "Apples are tasty, by Hadley Wickham. Extract title and author.",
            }
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "article", **schema_fields},
        },
    }
    weather = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
    named = {
        "model": "meta-llama/Llama-4-Scout-17B-16E-Instruct:together",
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "tools": [weather],
        "tool_choice": "get_weather",
    }
    bare = {
        "model": "meta-llama/Llama-3.1-8B-Instruct:cerebras",
        "messages": "Say hello in French.",
    }

    def cerebras(cid: str, content: str, prompt: int, completion: int) -> dict[str, Any]:
        return {
            "id": cid,
            "choices": [
                {
                    "finish_reason": "stop",
                    "index": 0,
                    "message": {"content": content, "role": "assistant"},
                }
            ],
            "created": CREATED,
            "model": "llama3.1-8b",
            "system_fingerprint": "fp_2df2c50ce520692a7dce",
            "object": "chat.completion",
            "usage": usage(prompt, completion, prompt_tokens_details={"cached_tokens": 0}),
            "time_info": {
                "queue_time": 0.0021,
                "prompt_time": 0.0042,
                "completion_time": 0.0079,
                "total_time": 0.0151,
                "created": CREATED,
            },
        }

    together = {
        "id": "oT0g3-2j9zxn-9a1f7c3e8b2d4f61",
        "object": "chat.completion",
        "created": CREATED,
        "model": "meta-llama/Llama-4-Scout-17B-16E-Instruct",
        "prompt": [],
        "choices": [
            {
                "finish_reason": "tool_calls",
                "seed": None,
                "logprobs": None,
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_8kq2m1x0v9w7z6y5u4t3s2r1",
                            "type": "function",
                            "index": 0,
                            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                        }
                    ],
                    "reasoning": None,
                },
            }
        ],
        "usage": usage(187, 19),
    }
    cere = {
        "x-ratelimit-remaining-requests-minute": "1999",
        "inference-id": "chatcmpl-c3r3br4-0001",
    }
    return [
        Exchange(
            "POST",
            ROUTER_CHAT,
            inline,
            200,
            cerebras(
                "chatcmpl-c3r3br4-0001",
                '{"title": "Apples are tasty", "author": "Hadley Wickham"}',
                58,
                17,
            ),
            headers("cerebras", "C3r3br4Inl1n3Sc1", stream=False, **cere),
        ),
        Exchange(
            "POST",
            ROUTER_CHAT,
            named,
            200,
            together,
            headers("together", "T0g3th3rN4m3dTc1", stream=False, **{"retry-after": "1"}),
        ),
        Exchange(
            "POST",
            ROUTER_CHAT,
            bare,
            200,
            cerebras("chatcmpl-c3r3br4-0002", "Bonjour !", 14, 4),
            headers("cerebras", "C3r3br4B4r3Str01", stream=False, **cere),
        ),
    ]


def together_function_call_invalid_json() -> list[Exchange]:
    """Class 6: a forced tool call (structured output) whose arguments are cut, not JSON."""
    person = {
        "type": "function",
        "function": {
            "name": "Person",
            "description": "A person.",
            "parameters": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                "required": ["name", "age"],
            },
        },
    }
    ask = {
        "model": "meta-llama/Llama-3.3-70B-Instruct:together",
        "messages": [{"role": "user", "content": "Ann is 31. Extract the person."}],
        "tools": [person],
        "tool_choice": {"type": "function", "function": {"name": "Person"}},
        "max_tokens": 12,
    }
    whole = {
        "id": "oP3rs0n-2j9zxn-9a1f7c3e8b2d4f62",
        "object": "chat.completion",
        "created": CREATED,
        "model": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "prompt": [],
        "choices": [
            {
                "finish_reason": "length",
                "seed": None,
                "logprobs": None,
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_p3rs0nxx0v9w7z6y5u4t3s2r",
                            "type": "function",
                            "index": 0,
                            "function": {"name": "Person", "arguments": '{"name": "Ann", "age": '},
                        }
                    ],
                    "reasoning": None,
                },
            }
        ],
        "usage": usage(96, 12),
    }
    return [
        Exchange(
            "POST",
            ROUTER_CHAT,
            ask,
            200,
            whole,
            headers("together", "T0g3th3rBr0k3nJs", stream=False, **{"retry-after": "1"}),
        )
    ]


CASSETTES = {
    "fireworks_r1_reasoning_content": (
        fireworks_r1_reasoning_content,
        "fireworks-ai DeepSeek-R1 with reasoning_content (WIRE.md §4), non-stream then stream",
    ),
    "together_qwq_json_object": (
        together_qwq_json_object,
        "together QwQ under json_object, JSON answer and reasoning: null (WIRE.md §4-5), non-stream then stream",
    ),
    "novita_r1_distill_cut_in_think": (
        novita_r1_distill_cut_in_think,
        "novita R1-distill cut by max_tokens inside the template-opened think block, usage in every chunk (WIRE.md §4)",
    ),
    "novita_empty_stream_json_object": (
        novita_empty_stream_json_object,
        "novita answering a json_object stream with only [DONE]",
    ),
    "novita_logprobs_base64": (
        novita_logprobs_base64,
        "novita logprobs with base64 token bytes and no top_logprobs, non-stream then stream",
    ),
    "tgi_14_chat_stream_index": (
        tgi_14_chat_stream_index,
        "TGI 1.4 chat stream on an Inference Endpoint: data:{...}, choice index per token, eos_token, no [DONE] (WIRE.md §4)",
    ),
    "tgi_tool_message_without_id": (
        tgi_tool_message_without_id,
        "TGI 2.4 answering a tool message without tool_call_id (request as the caller wrote it)",
    ),
    "router_request_shapes": (
        router_request_shapes,
        "json_schema with the schema inline (cerebras), tool_choice as a tool name (together), messages as one string (cerebras); requests as the caller wrote them",
    ),
    "together_function_call_invalid_json": (
        together_function_call_invalid_json,
        "together forced tool call cut by max_tokens: arguments not valid JSON",
    ),
}


def main() -> None:
    for name, (build, what) in CASSETTES.items():
        render_cassette(ROOT / f"{name}.yaml", NOTE.format(what=what), build())


if __name__ == "__main__":
    main()
