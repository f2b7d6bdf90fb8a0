"""Compact specs of every cassette in cassettes/llamaindex/, and the script that renders them.

Run `python tests/llamaindex/llamaindex_cassette_specs.py` to (re)write the files (live
recordings are kept unless `--force`);
`test_llamaindex_cassettes.py` fails when a file on disk no longer matches its spec.

Two groups:
- RECORDABLE: what the adapter's everyday paths send to the router. The tests that replay them
  assert invariants that also hold on a real recording (see docs/llamaindex.md to re-record).
- WIRE: provider quirks (WIRE.md §4–5), errors and the TGI API, which a live re-recording could
  not reproduce on demand. Each label names the provider behaviour it reproduces.

Responses follow WIRE.md and the recordings byte for byte. Requests are exactly what the adapter
sends (the tests compare them), except in react_agent and query_engine*, which abbreviate
LlamaIndex's long prompt templates, e.g. "(ReAct system prompt)". Replay matches on method and URL.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from llamaindex_cassette_kit import (  # noqa: E402
    Stream,
    completion_body,
    interaction,
    render,
    sse,
)

CASSETTE_DIR = Path(__file__).resolve().parents[2] / "cassettes" / "llamaindex"
MODEL = "meta-llama/Llama-3.3-70B-Instruct"
SERVED_MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"  # together answers with its own id
R1_DISTILL = "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B"
ENDPOINT = "https://llama-8b-li.us-east-1.aws.endpoints.huggingface.cloud"

Spec = tuple[str, list[dict[str, Any]]]


def _user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def _stream_request(messages: list[dict[str, Any]], **params: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "messages": messages,
        **params,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


CALC_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name}(a: int, b: int) -> int\n{doc}",
            "parameters": {
                "properties": {
                    "a": {"title": "A", "type": "integer"},
                    "b": {"title": "B", "type": "integer"},
                },
                "required": ["a", "b"],
                "type": "object",
            },
        },
    }
    for name, doc in (("multiply", "Multiply two integers."), ("add", "Add two integers."))
]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "get_weather(city: str) -> str\nCurrent weather in a city.",
        "parameters": {
            "properties": {"city": {"title": "City", "type": "string"}},
            "required": ["city"],
            "type": "object",
        },
    },
}
PERSON_SCHEMA = {
    "description": "A person from history.",
    "properties": {
        "name": {"title": "Name", "type": "string"},
        "born": {"title": "Born", "type": "integer"},
    },
    "required": ["name", "born"],
    "title": "Person",
    "type": "object",
}

# FunctionTool sends the model's schema without its title and description (those describe the tool).
PERSON_PARAMETERS = {k: v for k, v in PERSON_SCHEMA.items() if k not in ("title", "description")}


# --------------------------------------------------------------------------- recordable


def chat() -> Spec:
    body = completion_body(
        SERVED_MODEL, {"content": "Paris is the capital of France."}, prompt=14, completion=8
    )
    request = {"model": MODEL, "messages": _user("What is the capital of France?")}
    return "router chat, non-stream, together", [
        interaction(request, body, request_id="Li7Fq2ZkR1sYt0aB")
    ]


def chat_twice() -> Spec:
    first = completion_body(SERVED_MODEL, {"content": "Hello!"}, prompt=9, completion=3)
    second = completion_body(
        SERVED_MODEL, {"content": "Hello again!"}, prompt=9, completion=4, id="chatcmpl-li-0002"
    )
    request = {"model": MODEL, "messages": _user("Say hello.")}
    return "two router chats in a row on one client, together", [
        interaction(request, first, request_id="Li7Fq2ZkR1sYt0aC"),
        interaction(request, second, request_id="Li7Fq2ZkR1sYt0aD"),
    ]


def chat_stream() -> Spec:
    s = Stream("accounts/fireworks/models/llama-v3p3-70b-instruct")
    # The last content chunk also carries finish_reason: its text must not be dropped.
    events = [*s.text(["Paris", " is the", " capital of", " France."]), s.usage_chunk(14, 8)]
    request = _stream_request(_user("What is the capital of France?"))
    return "router chat stream with a final choices:[] usage chunk, fireworks-ai", [
        interaction(request, sse(events), provider="fireworks-ai", request_id="Li9Hc3XwQ0pLm2eE")
    ]


def complete() -> Spec:
    body = completion_body(
        SERVED_MODEL, {"content": "Hello! How can I help you today?"}, prompt=11, completion=10
    )
    request = {"model": MODEL, "messages": _user("Say hello.")}
    return "complete() through router chat, non-stream, together", [interaction(request, body)]


def complete_stream() -> Spec:
    s = Stream(SERVED_MODEL)
    events = [*s.text(["Hello", "! How can", " I help you", " today?"]), s.usage_chunk(11, 10)]
    request = _stream_request(_user("Say hello."))
    return "stream_complete() through router chat stream, together", [
        interaction(request, sse(events))
    ]


def tool_call() -> Spec:
    message = {
        "content": None,
        "tool_calls": [
            {
                "id": "call_8f2b1c9d4e5a6b7c8d9e0f1a",
                "type": "function",
                "function": {"name": "multiply", "arguments": '{"a": 3, "b": 4}'},
            }
        ],
    }
    body = completion_body(
        SERVED_MODEL, message, finish_reason="tool_calls", prompt=310, completion=24
    )
    request = {
        "model": MODEL,
        "messages": _user("What is 3 times 4?"),
        "tools": CALC_TOOLS,
        "tool_choice": "auto",
        "parallel_tool_calls": False,
    }
    return "router chat with tools, one string-arguments call, together", [
        interaction(request, body)
    ]


def _tool_call_chunks(
    s: Stream, call_id: str, name: str, pieces: list[str]
) -> list[dict[str, Any]]:
    first = {
        "index": 0,
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": ""},
    }
    chunks = [s.chunk({"role": "assistant", "content": None, "tool_calls": [first]})]
    for piece in pieces:
        chunks.append(s.chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
    chunks.append(s.chunk({}, "tool_calls"))
    return chunks


AGENT_QUESTION = "What is (3 * 4) + 5? Use the tools."
MULTIPLY_ID = "call_3d9c1e7a5b2f4c6d8e0a1b2c"
ADD_ID = "call_7e1a9c3b5d2f4a6c8e0b1d2f"


def function_agent() -> Spec:
    one = Stream(SERVED_MODEL, id="chatcmpl-li-agent-1")
    two = Stream(SERVED_MODEL, id="chatcmpl-li-agent-2")
    three = Stream(SERVED_MODEL, id="chatcmpl-li-agent-3")
    step1 = [
        *_tool_call_chunks(one, MULTIPLY_ID, "multiply", ['{"a": 3', ', "b": 4}']),
        one.usage_chunk(402, 26),
    ]
    step2 = [
        *_tool_call_chunks(two, ADD_ID, "add", ['{"a": 12,', ' "b": 5}']),
        two.usage_chunk(447, 25),
    ]
    step3 = [*three.text(["(3 * 4) + 5", " = 12 + 5", " = 17."]), three.usage_chunk(489, 14)]
    history: list[dict[str, Any]] = _user(AGENT_QUESTION)
    call1 = {
        "id": MULTIPLY_ID,
        "type": "function",
        "function": {"name": "multiply", "arguments": '{"a": 3, "b": 4}'},
    }
    call2 = {
        "id": ADD_ID,
        "type": "function",
        "function": {"name": "add", "arguments": '{"a": 12, "b": 5}'},
    }
    turn2 = [
        *history,
        {"role": "assistant", "content": "", "tool_calls": [call1]},
        {"role": "tool", "content": "12", "tool_call_id": MULTIPLY_ID},
    ]
    turn3 = [
        *turn2,
        {"role": "assistant", "content": "", "tool_calls": [call2]},
        {"role": "tool", "content": "17", "tool_call_id": ADD_ID},
    ]
    params = {"tools": CALC_TOOLS, "tool_choice": "auto"}
    return "FunctionAgent, streamed tool calls in fragments over three turns, together", [
        interaction(_stream_request(history, **params), sse(step1), request_id="LiAg000000000001"),
        interaction(_stream_request(turn2, **params), sse(step2), request_id="LiAg000000000002"),
        interaction(_stream_request(turn3, **params), sse(step3), request_id="LiAg000000000003"),
    ]


def react_agent() -> Spec:
    one = Stream(SERVED_MODEL, id="chatcmpl-li-react-1")
    two = Stream(SERVED_MODEL, id="chatcmpl-li-react-2")
    step1 = [
        *one.text(
            [
                "Thought: The current language of the user is: English. I need to use a tool",
                " to help me answer the question.\nAction: multiply\n",
                'Action Input: {"a": 3, "b": 4}',
            ]
        ),
        one.usage_chunk(690, 41),
    ]
    step2 = [
        *two.text(
            [
                "Thought: I can answer without using any more tools.",
                " I'll use the user's language to answer\n",
                "Answer: 3 times 4 is 12.",
            ]
        ),
        two.usage_chunk(748, 30),
    ]
    messages = [
        {"role": "system", "content": "(ReAct system prompt)"},
        *_user("What is 3 times 4?"),
    ]
    return "ReActAgent, two streamed text turns, together", [
        interaction(_stream_request(messages), sse(step1), request_id="LiRe000000000001"),
        interaction(_stream_request(messages), sse(step2), request_id="LiRe000000000002"),
    ]


QUERY = "Where is the Eiffel Tower?"
QUERY_ANSWER = "The Eiffel Tower is in Paris, on the Champ de Mars."


def query_engine() -> Spec:
    body = completion_body(SERVED_MODEL, {"content": QUERY_ANSWER}, prompt=212, completion=15)
    messages = [{"role": "system", "content": "(QA system prompt)"}, *_user(f"(context) {QUERY}")]
    return "VectorStoreIndex query engine answer, non-stream, together", [
        interaction({"model": MODEL, "messages": messages}, body)
    ]


def query_engine_stream() -> Spec:
    s = Stream(SERVED_MODEL)
    events = [
        *s.text(["The Eiffel Tower", " is in Paris,", " on the Champ de Mars."]),
        s.usage_chunk(212, 15),
    ]
    messages = [{"role": "system", "content": "(QA system prompt)"}, *_user(f"(context) {QUERY}")]
    return "VectorStoreIndex query engine answer, streamed, together", [
        interaction(_stream_request(messages), sse(events))
    ]


def _schema_request(messages: list[dict[str, Any]], stream: bool = False) -> dict[str, Any]:
    fmt = {"type": "json_schema", "json_schema": {"name": "Person", "schema": PERSON_SCHEMA}}
    if stream:
        return _stream_request(messages, response_format=fmt)
    return {"model": MODEL, "messages": messages, "response_format": fmt}


def structured_predict() -> Spec:
    body = completion_body(
        SERVED_MODEL,
        {"content": '{"name": "Ada Lovelace", "born": 1815}'},
        prompt=95,
        completion=14,
    )
    request = _schema_request(_user("Name the first programmer."))
    return "structured_predict via response_format json_schema, together", [
        interaction(request, body)
    ]


def structured_llm_chat() -> Spec:
    body = completion_body(
        SERVED_MODEL, {"content": '{"name": "Alan Turing", "born": 1912}'}, prompt=90, completion=14
    )
    request = _schema_request(_user("Who broke Enigma?"))
    return "as_structured_llm().chat() via response_format json_schema, together", [
        interaction(request, body)
    ]


def structured_stream() -> Spec:
    s = Stream(SERVED_MODEL)
    pieces = ['{"name": "Grace', ' Hopper", "bo', 'rn": 1906}']
    events = [*s.text(pieces), s.usage_chunk(93, 14)]
    request = _schema_request(_user("Who wrote the first compiler?"), stream=True)
    return "stream_structured_predict, JSON streamed in pieces, together", [
        interaction(request, sse(events))
    ]


def structured_function() -> Spec:
    message = {
        "content": "",
        "tool_calls": [
            {
                "id": "call_5b8e2d4f6a1c3e5b7d9f0a2c",
                "type": "function",
                "function": {
                    "name": "Person",
                    "arguments": '{"name": "Ada Lovelace", "born": 1815}',
                },
            }
        ],
    }
    body = completion_body(
        SERVED_MODEL, message, finish_reason="tool_calls", prompt=160, completion=22
    )
    tool = {
        "type": "function",
        "function": {
            "name": "Person",
            "description": "A person from history.",
            "parameters": PERSON_PARAMETERS,
        },
    }
    request = {
        "model": MODEL,
        "messages": _user("Name the first programmer."),
        "tools": [tool],
        "tool_choice": "required",
        "parallel_tool_calls": False,
    }
    return "structured_predict via function calling (tool_choice required), together", [
        interaction(request, body)
    ]


RECORDABLE = {
    "chat": chat,
    "chat_twice": chat_twice,
    "chat_stream": chat_stream,
    "complete": complete,
    "complete_stream": complete_stream,
    "tool_call": tool_call,
    "function_agent": function_agent,
    "react_agent": react_agent,
    "query_engine": query_engine,
    "query_engine_stream": query_engine_stream,
    "structured_predict": structured_predict,
    "structured_llm_chat": structured_llm_chat,
    "structured_stream": structured_stream,
    "structured_function": structured_function,
}


# --------------------------------------------------------------------------- wire quirks


def _weather_request(stream: bool, parallel: bool = False) -> dict[str, Any]:
    params: dict[str, Any] = {"tools": [WEATHER_TOOL], "tool_choice": "auto"}
    if not parallel:
        params["parallel_tool_calls"] = False
    messages = _user("What's the weather in Paris?")
    if stream:
        return _stream_request(messages, **params)
    return {"model": MODEL, "messages": messages, **params}


def quirk_args_dict_int_id() -> Spec:
    # Old TGI: arguments as a JSON object, id as integer 0, description null, eos_token.
    message = {
        "content": None,
        "tool_calls": [
            {
                "id": 0,
                "type": "function",
                "function": {
                    "description": None,
                    "name": "get_weather",
                    "arguments": {"city": "Paris"},
                },
            }
        ],
    }
    body = completion_body(
        "tgi",
        message,
        finish_reason="eos_token",
        prompt=120,
        completion=19,
        object="text_completion",
    )
    body["system_fingerprint"] = "2.0.1-sha-1b6d0a4"
    return "WIRE.md §5 old TGI tool call (dict arguments, id 0, eos_token)", [
        interaction(_weather_request(False), body, provider="hf-inference")
    ]


def quirk_stop_with_tool_calls() -> Spec:
    message = {
        "content": "",
        "tool_calls": [
            {
                "id": "chatcmpl-tool-4c2a9e1b7d3f",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    }
    body = completion_body(
        "Qwen/Qwen3-32B-fast", message, finish_reason="stop", prompt=180, completion=21
    )
    return "WIRE.md §4 nebius-style finish_reason stop with tool calls", [
        interaction(_weather_request(False), body, provider="nscale")
    ]


def quirk_stream_missing_id() -> Spec:
    s = Stream("Qwen/Qwen3-32B-fast")
    call = {
        "index": 0,
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    # One delta, no id, and no finish_reason anywhere (nebius stream).
    events = [
        s.chunk({"role": "assistant", "content": ""}),
        s.chunk({"tool_calls": [call]}),
        s.usage_chunk(180, 21),
    ]
    return "WIRE.md §4 nebius-style stream, tool call without id, no finish_reason", [
        interaction(_weather_request(True), sse(events), provider="nscale")
    ]


def quirk_stream_repeated_id() -> Spec:
    s = Stream("tgi", id="")
    s.extra = {"system_fingerprint": "3.2.1-native", "usage": None}
    pieces = ['{"', "city", '": "', "Paris", '"}']
    events = [
        s.chunk(
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "0",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": pieces[0]},
                    }
                ],
            }
        )
    ]
    for piece in pieces[1:]:
        events.append(
            s.chunk(
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "0",
                            "type": "function",
                            "function": {"name": None, "arguments": piece},
                        }
                    ],
                }
            )
        )
    events.append(s.chunk({"role": "assistant", "content": ""}, "tool_calls"))
    return "WIRE.md §4 TGI stream, id '0' repeated in every delta, name only first", [
        interaction(_weather_request(True), sse(events), provider="hf-inference")
    ]


def quirk_stream_index_minus_one() -> Spec:
    s = Stream(SERVED_MODEL)
    calls = [
        {
            "index": -1,
            "id": "call_a1b2c3d4e5f6a7b8c9d0e1f2",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        },
        {
            "index": -1,
            "id": "call_f2e1d0c9b8a7f6e5d4c3b2a1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
        },
    ]
    events = [
        s.chunk({"role": "assistant", "content": None}),
        s.chunk({"tool_calls": calls[:1]}),
        s.chunk({"tool_calls": calls[1:]}),
        s.chunk({}, "tool_calls"),
        s.usage_chunk(190, 40),
    ]
    return "WIRE.md §4 together stream, whole calls with index -1", [
        interaction(_weather_request(True, parallel=True), sse(events))
    ]


def quirk_reasoning_content_stream() -> Spec:
    s = Stream("accounts/fireworks/models/deepseek-v4-pro")
    events = [
        s.chunk({"role": "assistant", "content": None, "reasoning_content": "The user asks"}),
        s.chunk({"reasoning_content": " for 2+2. That is 4."}),
        s.chunk({"content": "2 + 2 = 4."}, "stop"),
        s.usage_chunk(12, 30, completion_tokens_details={"reasoning_tokens": 22}),
    ]
    request = _stream_request(_user("What is 2+2?"))
    return "WIRE.md §4 fireworks stream with delta.reasoning_content", [
        interaction(request, sse(events), provider="fireworks-ai")
    ]


def quirk_reasoning_field() -> Spec:
    body = completion_body(
        "openai/gpt-oss-120b",
        {"content": "2 + 2 = 4.", "reasoning": "Simple arithmetic: 4."},
        prompt=70,
        completion=25,
    )
    request = {"model": MODEL, "messages": _user("What is 2+2?")}
    return "WIRE.md §4 message.reasoning field, non-stream", [
        interaction(request, body, provider="groq")
    ]


def quirk_think_inline_stream() -> Spec:
    s = Stream("deepseek-ai/DeepSeek-R1", extra={"prompt": []})
    events = [
        s.chunk({"role": "assistant", "content": "<thi", "reasoning": None}),
        s.chunk({"content": "nk>\nTwo plus two", "reasoning": None}),
        s.chunk({"content": " is four.\n</th", "reasoning": None}),
        s.chunk({"content": "ink>\n\n2 + 2 = 4.", "reasoning": None}, "stop"),
        s.usage_chunk(9, 21),
    ]
    request = {**_stream_request(_user("What is 2+2?")), "model": "deepseek-ai/DeepSeek-R1"}
    return "WIRE.md §4 together DeepSeek-R1, inline <think> split across chunks", [
        interaction(request, sse(events))
    ]


def quirk_think_only_close() -> Spec:
    s = Stream("deepseek/deepseek-r1-distill-qwen-14b")
    events = [
        s.chunk({"role": "assistant"}),
        s.chunk({"content": "Okay, 2+2"}),
        s.chunk({"content": " is 4.\n</think>"}),
        s.chunk({"content": "\n\nThe answer is 4."}, "stop"),
        s.usage_chunk(10, 18),
    ]
    request = {**_stream_request(_user("What is 2+2?")), "model": R1_DISTILL}
    return "WIRE.md §4 novita R1-distill stream, template-opened think (only </think>)", [
        interaction(request, sse(events), provider="novita")
    ]


def quirk_usage_every_chunk() -> Spec:
    s = Stream("meta-llama/llama-3.3-70b-instruct")
    pieces = ["Deep learning", " uses neural", " networks."]
    events = [
        s.chunk(
            {"role": "assistant"},
            usage={"prompt_tokens": 46, "completion_tokens": 0, "total_tokens": 46},
        )
    ]
    for position, piece in enumerate(pieces, start=1):
        finish = "stop" if position == len(pieces) else None
        usage = {
            "prompt_tokens": 46,
            "completion_tokens": position * 3,
            "total_tokens": 46 + position * 3,
        }
        events.append(s.chunk({"content": piece}, finish, usage=usage))
    request = _stream_request(_user("What is deep learning?"))
    return "WIRE.md §4 novita stream, running usage in every chunk, no usage-only chunk", [
        interaction(request, sse(events), provider="novita")
    ]


def quirk_no_done() -> Spec:
    s = Stream("llama-3.3-70b")
    events = [
        *s.text(["Deep learning", " is machine learning", " with deep networks."]),
    ]
    events[-1]["usage"] = {"prompt_tokens": 19, "completion_tokens": 9, "total_tokens": 28}
    events[-1]["time_info"] = {"queue_time": 0.0001, "prompt_time": 0.002, "completion_time": 0.01}
    request = _stream_request(_user("What is deep learning?"))
    return "WIRE.md §4 cerebras stream ending without [DONE], usage on the last chunk", [
        interaction(request, sse(events, done=False), provider="cerebras")
    ]


def quirk_error_in_stream() -> Spec:
    s = Stream("tgi", id="")
    events: list[Any] = [
        s.chunk({"role": "assistant", "content": "The"}),
        s.chunk({"role": "assistant", "content": " answer"}),
        {
            "error": {
                "message": "Input validation error: grammar is not supported",
                "http_status_code": 422,
            }
        },
    ]
    request = _stream_request(_user("What is 2+2?"))
    return "WIRE.md §3 error event inside a 200 stream (hf-inference), after two chunks", [
        interaction(request, sse(events), provider="hf-inference")
    ]


def error_401() -> Spec:
    body = {"error": "Invalid credentials in Authorization header"}
    headers = {
        "X-Error-Message": "Invalid credentials in Authorization header",
        "Www-Authenticate": 'Bearer realm="Authentication required", charset="UTF-8"',
    }
    request = {"model": MODEL, "messages": _user("What is the capital of France?")}
    return "WIRE.md §3 router 401, no x-inference-provider", [
        interaction(
            request,
            body,
            provider=None,
            status=401,
            extra_headers=headers,
            request_id="Li401000000000aa",
        )
    ]


def retry_503() -> Spec:
    busy = {"error": "Service Unavailable"}
    ok = completion_body(SERVED_MODEL, {"content": "Paris."}, prompt=14, completion=3)
    request = {"model": MODEL, "messages": _user("What is the capital of France?")}
    return "WIRE.md §3 a 503 (retry-after 0), then 200", [
        interaction(
            request,
            busy,
            status=503,
            extra_headers={"retry-after": "0"},
            request_id="Li503000000000aa",
        ),
        interaction(request, ok, request_id="Li503000000000ab"),
    ]


def _tgi_headers(generated: int, prompt: int) -> dict[str, str]:
    return {
        "x-compute-type": "1-nvidia-l4",
        "x-generated-tokens": str(generated),
        "x-prompt-tokens": str(prompt),
        "x-compute-time": "0.412",
    }


def textgen() -> Spec:
    body = [
        {
            "generated_text": " Paris, the city of light.",
            "details": {"finish_reason": "eos_token", "generated_tokens": 8, "seed": None},
        }
    ]
    request = {
        "inputs": "The capital of France is",
        "parameters": {"max_new_tokens": 32, "details": True},
    }
    return "WIRE.md §1 TGI text-generation on a dedicated Inference Endpoint", [
        interaction(
            request,
            body,
            provider=None,
            url=ENDPOINT,
            stream=False,
            extra_headers=_tgi_headers(8, 6),
        )
    ]


def textgen_stream() -> Spec:
    tokens = [
        (3681, " Paris", False),
        (29892, ",", False),
        (278, " the", False),
        (4272, " city", False),
        (2, "</s>", True),
    ]
    events = []
    for index, (token_id, text, special) in enumerate(tokens, start=1):
        last = index == len(tokens)
        events.append(
            {
                "index": index,
                "token": {"id": token_id, "text": text, "logprob": -0.25, "special": special},
                "generated_text": " Paris, the city" if last else None,
                "details": {"finish_reason": "eos_token", "generated_tokens": 5, "seed": None}
                if last
                else None,
            }
        )
    request = {
        "inputs": "The capital of France is",
        "parameters": {"max_new_tokens": 32},
        "stream": True,
    }
    # TGI frames events as `data:{…}` (no space) and sends no [DONE].
    return (
        "WIRE.md §4 TGI token stream (data: without space, no [DONE]) on an Inference Endpoint",
        [
            interaction(
                request,
                sse(events, done=False, space=False),
                provider=None,
                url=ENDPOINT,
                stream=True,
            )
        ],
    )


WIRE = {
    "quirk_args_dict_int_id": quirk_args_dict_int_id,
    "quirk_stop_with_tool_calls": quirk_stop_with_tool_calls,
    "quirk_stream_missing_id": quirk_stream_missing_id,
    "quirk_stream_repeated_id": quirk_stream_repeated_id,
    "quirk_stream_index_minus_one": quirk_stream_index_minus_one,
    "quirk_reasoning_content_stream": quirk_reasoning_content_stream,
    "quirk_reasoning_field": quirk_reasoning_field,
    "quirk_think_inline_stream": quirk_think_inline_stream,
    "quirk_think_only_close": quirk_think_only_close,
    "quirk_usage_every_chunk": quirk_usage_every_chunk,
    "quirk_no_done": quirk_no_done,
    "quirk_error_in_stream": quirk_error_in_stream,
    "error_401": error_401,
    "retry_503": retry_503,
    "textgen": textgen,
    "textgen_stream": textgen_stream,
}

ALL = {**RECORDABLE, **WIRE}


def rendered() -> dict[str, str]:
    """Every cassette's text, by file name."""
    out = {}
    for name, build in ALL.items():
        label, interactions = build()
        out[f"{name}.yaml"] = render(label, interactions)
    return out


def main(argv: list[str]) -> None:
    """Write every cassette to cassettes/llamaindex/, keeping live recordings unless --force."""
    force = "--force" in argv
    CASSETTE_DIR.mkdir(parents=True, exist_ok=True)
    for file_name, text in rendered().items():
        path = CASSETTE_DIR / file_name
        if (
            not force
            and path.exists()
            and path.read_text(encoding="utf-8").startswith("# recorded")
        ):
            print(f"kept live recording {path}")
            continue
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
