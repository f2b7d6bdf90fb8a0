"""Issue 9, item 6 (caller side): bad input raises `InvalidRequestInputError` before any request.

Nothing reaches the loopback server (its request counter stays at zero) and nothing is retried.
The four request shapes real servers accept (issue 10) still go out.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import pytest

from hfproviders import AsyncHFClient, HFClient, InvalidRequestInputError, RetryPolicy
from hfproviders.testing import FakeRouter
from tests.conftest import FAKE_TOKEN
from tests.reliability.conftest import MESSAGES, MODEL, Client, fault_headers, make_client

WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "weather", "parameters": {"type": "object", "properties": {}}},
}


async def send(client: Client, messages: Any = MESSAGES, **params: Any) -> Any:
    """One chat call on either twin, with the fault server's `ok` step unless headers are given."""
    params.setdefault("extra_headers", fault_headers("ok", uuid.uuid4().hex))
    if isinstance(client, HFClient):
        return client.chat(MODEL, messages, **params)
    return await client.chat(MODEL, messages, **params)


def assistant_with(calls: Any) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]


BAD_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("tool_calls not a list", {"messages": assistant_with("weather()")}),
    ("tool call not a dict", {"messages": assistant_with(["weather"])}),
    ("tool call without function", {"messages": assistant_with([{"id": "call_1"}])}),
    (
        "tool call without a name",
        {"messages": assistant_with([{"id": "call_1", "function": {"arguments": "{}"}}])},
    ),
    (
        "arguments neither text nor object",
        {"messages": assistant_with([{"id": "call_1", "function": {"name": "w", "arguments": 3}}])},
    ),
    (
        "tool call id not a string",
        {"messages": assistant_with([{"id": 7, "function": {"name": "w", "arguments": "{}"}}])},
    ),
    (
        "a set in a tool schema",
        {
            "tools": [
                {
                    "type": "function",
                    "function": {"name": "w", "parameters": {"enum": {"a", "b"}}},
                }
            ]
        },
    ),
    (
        "bytes in a content part",
        {
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": b"x"}}]}
            ]
        },
    ),
    ("a content part that is not a dict", {"messages": [{"role": "user", "content": ["hi"]}]}),
    ("an object in response_format", {"response_format": {"type": "json_object", "x": object()}}),
    ("NaN in extra_body", {"extra_body": {"top_k": math.nan}}),
    ("a set in extra_body", {"extra_body": {"stop_ids": {1, 2}}}),
    ("NaN temperature", {"temperature": math.nan}),
    (
        "infinity in a tool schema",
        {
            "tools": [
                {**WEATHER_TOOL, "function": {"name": "w", "parameters": {"maximum": math.inf}}}
            ]
        },
    ),
    ("negative timeout", {"timeout": -1}),
    ("NaN timeout", {"timeout": math.nan}),
    ("string timeout", {"timeout": "5"}),
    ("CR/LF in a header", {"extra_headers": {"X-Trace": "a\r\nX-Evil: 1"}}),
    ("non-ASCII header value", {"extra_headers": {"X-Trace": "café"}}),
    ("non-string header value", {"extra_headers": {"X-Trace": 5}}),
    ("bad header name", {"extra_headers": {"X Trace": "v"}}),
]


@pytest.mark.parametrize(("case", "params"), BAD_CALLS, ids=[c for c, _ in BAD_CALLS])
async def test_bad_call_input_is_refused_before_sending(
    twin: str, server: FakeRouter, no_leaks: list[Client], case: str, params: dict[str, Any]
) -> None:
    client = make_client(twin, server)
    no_leaks.append(client)
    with pytest.raises(InvalidRequestInputError):
        await send(client, **params)
    assert len(server.requests) == 0, case


@pytest.mark.parametrize(
    "options",
    [
        {"timeout": -1},
        {"timeout": math.nan},
        {"timeout": "30"},
        {"max_retries": 1.5},
        {"max_retries": True},
        {"max_retries": -1},
        {"base_url": "ftp://example.com/v1"},
        {"base_url": "http://"},
        {"base_url": "http://[::1"},
        {"base_url": "http://example.com:99999/v1"},
        {"base_url": "http://exa mple.com/v1"},
        {"base_url": b"http://example.com"},
        {"bill_to": "my-org\r\nX-Evil: 1"},
        {"bill_to": "mon-équipe"},
        {"default_headers": {"X-Team": 42}},
        {"default_headers": {"X-Team": "a\nb"}},
        {"default_headers": {"X Team": "a"}},
    ],
)
@pytest.mark.parametrize("cls", [HFClient, AsyncHFClient])
def test_bad_client_options_are_refused(cls: type[Client], options: dict[str, Any]) -> None:
    options.setdefault("base_url", "http://127.0.0.1:9/v1")
    with pytest.raises(InvalidRequestInputError):
        cls(api_key=FAKE_TOKEN, **options)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"budget": math.nan},
        {"budget": -1},
        {"max_retries": 1.5},
        {"max_retries": "2"},
        {"wait_initial": math.nan},
        {"wait_max": math.inf},
    ],
)
def test_bad_retry_policy_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequestInputError):
        RetryPolicy(**kwargs)


RELAXED: list[tuple[str, Any, dict[str, Any]]] = [
    ("a single string as messages", "Hello?", {}),
    (
        "json_schema with the schema inline",
        MESSAGES,
        {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "r", "type": "object", "properties": {}},
            }
        },
    ),
    ("tool_choice as a bare name", MESSAGES, {"tools": [WEATHER_TOOL], "tool_choice": "weather"}),
    (
        "a tool message without tool_call_id",
        [
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "call_1", "function": {"name": "weather", "arguments": {}}}],
            },
            {"role": "tool", "content": "sunny"},
        ],
        {},
    ),
]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(("case", "messages", "params"), RELAXED, ids=[c for c, _, _ in RELAXED])
async def test_shapes_servers_accept_still_go_out(
    twin: str,
    server: FakeRouter,
    no_leaks: list[Client],
    case: str,
    messages: Any,
    params: dict[str, Any],
) -> None:
    client = make_client(twin, server)
    no_leaks.append(client)
    answer = await send(client, messages, **params)
    assert answer.text, case
    assert len(server.requests) == 1
