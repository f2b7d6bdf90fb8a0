"""Property-based fuzzing of the core's pure parsers (hypothesis, derandomized for CI).

- the SSE decoder: any bytes, cut anywhere, decode the same and never raise; valid streams
  round-trip whatever their line endings, comments and UTF-8 cuts;
- the chat stream decoder (SSE + JSON + normalisation): any input ends in chunks or a typed
  `HFProvidersError`, never another exception;
- the tool-call accumulator: fragments with any index/id dialect of WIRE.md §4 merge back into
  the calls that were sent, with unique ids;
- the error-body parser and the Retry-After parsers.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from email.utils import formatdate
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hfproviders import HFProvidersError, ResponseMeta
from hfproviders._errors import (
    APIError,
    RateLimitError,
    ServerError,
    error_from_response,
    parse_error_body,
)
from hfproviders._headers import (
    MAX_WAIT_S,
    parse_rate_limit,
    parse_retry_after,
    parse_retry_after_ms,
)
from hfproviders._sse import ServerSentEvent, SSEDecoder
from hfproviders._streaming import ChatStreamDecoder

FUZZ = settings(
    max_examples=int(os.environ.get("HFPROVIDERS_FUZZ_EXAMPLES", "120")),
    derandomize=True,  # the same examples on every run: CI stays reproducible
    database=None,  # no .hypothesis folder in the checkout
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for point in points:
        pieces.append(data[last:point])
        last = point
    pieces.append(data[last:])
    return pieces


def decode(pieces: list[bytes]) -> tuple[list[ServerSentEvent], bool]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    tail, truncated = decoder.finish()
    return events + tail, truncated


# -- SSE decoder ------------------------------------------------------------------------------

SSE_ATOMS = st.sampled_from(
    [
        b"data:",
        b"data: ",
        b"event: x",
        b"id: 1",
        b"retry: 5",
        b":",
        b"\n",
        b"\r",
        b"\r\n",
        b"[DONE]",
        b"{",
        b"}",
        b"\xc3",
        b"\xa9",
        b"\xff",
        b" ",
        b"\x00",
    ]
)
SSE_BYTES = st.one_of(
    st.binary(max_size=300),
    st.lists(st.one_of(SSE_ATOMS, st.binary(max_size=8)), max_size=60).map(b"".join),
)


@FUZZ
@given(data=SSE_BYTES, cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=10))
def test_sse_decoder_any_bytes_any_split_same_events(data: bytes, cuts: list[int]) -> None:
    assert decode(split_at(data, cuts)) == decode([data])


EVENT_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=30)


@st.composite
def sse_streams(draw: st.DrawFn) -> tuple[bytes, list[tuple[str, str]]]:
    """A well-formed stream and the (event, data) pairs it must decode to."""
    newline = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    space = draw(st.booleans())
    out, expected = [], []
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        if draw(st.booleans()):
            out.append(b": keep-alive" + newline)
        name = draw(st.sampled_from(["", "message", "completion", "error"]))
        if name:
            out.append(b"event: " + name.encode() + newline)
        lines = draw(st.lists(EVENT_TEXT, min_size=1, max_size=3))
        if not space:  # `data:value`: a value starting with a space would lose that space
            lines = [line.lstrip(" ") for line in lines]
        data = "\n".join(lines)
        assume(data != "")  # a lone empty `data:` line is not an event in every reading
        for line in lines:
            out.append((b"data: " if space else b"data:") + line.encode() + newline)
        out.append(newline)
        expected.append((name or "message", data))
    return b"".join(out), expected


@FUZZ
@given(stream=sse_streams(), cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12))
def test_sse_valid_streams_round_trip(
    stream: tuple[bytes, list[tuple[str, str]]], cuts: list[int]
) -> None:
    raw, expected = stream
    events, truncated = decode(split_at(raw, cuts))
    assert [(e.event, e.data) for e in events] == expected
    assert not truncated


# -- chat stream decoder: only typed errors ---------------------------------------------------

KEYS = [
    "choices",
    "delta",
    "content",
    "tool_calls",
    "index",
    "id",
    "function",
    "arguments",
    "name",
    "usage",
    "finish_reason",
    "error",
    "reasoning_content",
    "reasoning",
    "role",
    "created",
    "model",
    "message",
    "prompt_tokens",
    "completion_tokens",
    "type",
]
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=False, width=16)
    | st.sampled_from(["", "0", "x", "<think>", "</think>", "stop", "call_1", "[DONE]"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS), children, max_size=4)
    ),
    max_leaves=12,
)


LEAF = (
    st.none()
    | st.booleans()
    | st.integers(-2, 3)
    | st.sampled_from(
        ["", "0", "x", "call_1", "<think>", "</think>a", "stop", "tool_calls", "eos_token", "{"]
    )
)
MAYBE = JSON_VALUES  # what a field holds when it does not hold what it should


def _obj(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually a dict with some of `fields` (each well-typed or not), sometimes any JSON."""
    return st.fixed_dictionaries({}, optional={k: v | MAYBE for k, v in fields.items()}) | MAYBE


TOOL_CALL = _obj(
    index=LEAF,
    id=LEAF,
    type=LEAF,
    function=_obj(name=LEAF, arguments=LEAF | st.dictionaries(st.text(max_size=3), LEAF)),
)
DELTA = _obj(
    role=LEAF,
    content=LEAF | st.lists(_obj(type=LEAF, text=LEAF), max_size=2),
    reasoning_content=LEAF,
    reasoning=LEAF,
    tool_calls=st.lists(TOOL_CALL, max_size=3),
)
USAGE = _obj(
    prompt_tokens=LEAF,
    completion_tokens=LEAF,
    total_tokens=LEAF,
    prompt_tokens_details=_obj(cached_tokens=LEAF),
    completion_tokens_details=_obj(reasoning_tokens=LEAF),
)
CHUNK_EVENT = st.fixed_dictionaries(
    {},
    optional={
        "id": LEAF,
        "model": LEAF,
        "created": LEAF,
        "usage": USAGE,
        "choices": st.lists(
            _obj(index=LEAF, delta=DELTA, finish_reason=LEAF, logprobs=LEAF), max_size=2
        )
        | MAYBE,
    },
)


def run_chat_decoder(pieces: list[bytes]) -> list[Any]:
    decoder = ChatStreamDecoder(ResponseMeta(), time.monotonic())
    chunks: list[Any] = []
    try:
        for piece in pieces:
            for chunk in decoder.feed(piece):
                decoder.deliver(chunk)
                chunks.append(chunk)
        for chunk in decoder.finish():
            decoder.deliver(chunk)
            chunks.append(chunk)
    except HFProvidersError:
        pass  # typed: fine. Anything else escapes and fails the test.
    return chunks


@FUZZ
@given(data=SSE_BYTES, cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=6))
def test_chat_decoder_any_bytes_only_typed_errors(data: bytes, cuts: list[int]) -> None:
    run_chat_decoder(split_at(data, cuts))


@FUZZ
@given(
    events=st.lists(st.one_of(CHUNK_EVENT, JSON_VALUES), max_size=6),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=6),
)
def test_chat_decoder_any_json_events_only_typed_errors(events: list[Any], cuts: list[int]) -> None:
    raw = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
    run_chat_decoder(split_at(raw, cuts))


MESSAGE_OBJ = _obj(
    role=LEAF, content=LEAF, reasoning_content=LEAF, tool_calls=st.lists(TOOL_CALL, max_size=2)
)
COMPLETION_BODY = st.fixed_dictionaries(
    {
        "choices": st.lists(_obj(index=LEAF, message=MESSAGE_OBJ, finish_reason=LEAF), max_size=2)
        | MAYBE
    },
    optional={"id": LEAF, "model": LEAF, "created": LEAF, "usage": USAGE},
)


@FUZZ
@given(body=COMPLETION_BODY)
def test_non_stream_body_of_any_shape_only_typed_errors(body: dict[str, Any]) -> None:
    """What `HFClient.chat` does with a 200 body: a ChatCompletion or a typed error."""
    from hfproviders._config import ClientConfig
    from hfproviders._request import chat_request

    config = ClientConfig.create(
        {"base_url": "http://127.0.0.1:9/v1", "api_key": "hf_test_FAKE_TOKEN_do_not_use"}
    )
    request = chat_request(config, "m", [{"role": "user", "content": "x"}], {}, stream=False)
    with contextlib.suppress(HFProvidersError):  # typed: fine; anything else fails
        request.parse(json.dumps(body).encode(), ResponseMeta(status_code=200))


# -- tool-call accumulator --------------------------------------------------------------------

ARGS = st.dictionaries(
    st.text(min_size=1, max_size=6), st.integers() | st.text(max_size=8) | st.booleans(), max_size=3
)


@st.composite
def tool_call_streams(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Chunks streaming 1-3 tool calls in one provider dialect; the (name, arguments) sent."""
    dialect = draw(st.sampled_from(["openai", "tgi", "together", "no_id", "int_id"]))
    calls = [
        (draw(st.sampled_from(["get_weather", "search", "add"])), json.dumps(draw(ARGS)))
        for _ in range(draw(st.integers(min_value=1, max_value=3)))
    ]
    chunks: list[dict[str, Any]] = []
    for position, (name, arguments) in enumerate(calls):
        cuts = draw(st.lists(st.integers(0, len(arguments)), max_size=4))
        fragments = [f for f in split_at(arguments.encode(), cuts)]
        texts = [f.decode("utf-8", "replace") for f in fragments]
        if b"".join(fragments).decode() != "".join(texts):  # a cut inside a UTF-8 character
            texts = [arguments]
        for i, text in enumerate(texts):
            delta: dict[str, Any] = {"function": {"arguments": text}}
            if dialect == "openai":
                delta["index"] = position
                if i == 0:
                    delta.update(id=f"call_{position}_abc", type="function")
            elif dialect == "tgi":  # index, and id "0" repeated in every delta
                delta.update(index=position, id="0")
            elif dialect == "together":  # index -1, one id per call, in every delta
                delta.update(index=-1, id=f"call_{position}_tg")
            elif dialect == "int_id":
                delta["index"] = position
                if i == 0:
                    delta["id"] = 0
            # "no_id": neither index nor id; continuations carry no name
            if i == 0:
                delta["function"]["name"] = name
            chunks.append(
                {
                    "id": "c1",
                    "created": 1,
                    "model": "m",
                    "choices": [
                        {"index": 0, "delta": {"tool_calls": [delta]}, "finish_reason": None}
                    ],
                }
            )
    finish = draw(st.sampled_from(["stop", "tool_calls", None]))
    if finish is not None:
        chunks.append(
            {
                "id": "c1",
                "created": 1,
                "model": "m",
                "choices": [{"index": 0, "delta": {}, "finish_reason": finish}],
            }
        )
    return chunks, calls


@FUZZ
@given(stream=tool_call_streams(), cuts=st.lists(st.integers(0, 5000), max_size=5))
def test_tool_call_fragments_merge_back(
    stream: tuple[list[dict[str, Any]], list[tuple[str, str]]], cuts: list[int]
) -> None:
    events, calls = stream
    raw = (
        b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"
    )
    decoder = ChatStreamDecoder(ResponseMeta(), time.monotonic())
    chunks = []
    for piece in split_at(raw, cuts):
        for chunk in decoder.feed(piece):
            decoder.deliver(chunk)
            chunks.append(chunk)
    for chunk in decoder.finish():
        decoder.deliver(chunk)
        chunks.append(chunk)
    # Every delta has a real index; the first delta of each call carries its id and name.
    seen: set[int] = set()
    for chunk in chunks:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls:
                assert delta.index >= 0
                if delta.index not in seen:
                    seen.add(delta.index)
                    assert delta.id and delta.function.name
    result = decoder.normalizer.accumulator.result()
    message = result.choices[0].message
    assert [(c.function.name, c.function.arguments) for c in message.tool_calls] == calls
    ids = [c.id for c in message.tool_calls]
    assert all(ids) and len(set(ids)) == len(ids)
    assert result.choices[0].finish_reason == "tool_calls"


# -- error bodies -----------------------------------------------------------------------------

CONTENT_TYPES = st.sampled_from(
    [None, "application/json", "text/html; charset=utf-8", "text/plain", "text/event-stream"]
)
STATUS = st.integers(min_value=400, max_value=599)


@FUZZ
@given(
    body=st.one_of(st.binary(max_size=600), JSON_VALUES.map(lambda v: json.dumps(v).encode())),
    content_type=CONTENT_TYPES,
    status=STATUS,
)
def test_error_body_parser_never_raises(body: bytes, content_type: str | None, status: int) -> None:
    parsed = parse_error_body(body, content_type)
    assert isinstance(parsed.message, str)
    if not body.strip().startswith(b"{"):
        assert len(parsed.message) <= 301  # text and HTML bodies are summarised
    headers = {"content-type": content_type} if content_type else {}
    error = error_from_response(status, headers, body)
    assert isinstance(error, APIError)
    assert error.status_code == status
    if status == 429:
        assert isinstance(error, RateLimitError)
    if status >= 500:
        assert isinstance(error, ServerError)
    assert isinstance(str(error), str) and isinstance(repr(error), str)


MESSAGE = st.text(min_size=1, max_size=80).filter(lambda s: s.strip() == s and s)


@FUZZ
@given(
    message=MESSAGE,
    code=st.sampled_from([None, "model_not_found", "rate_limited"]),
    shape=st.sampled_from(["error_str", "error_obj", "detail", "message"]),
)
def test_error_body_shapes_keep_their_message(message: str, code: str | None, shape: str) -> None:
    bodies: dict[str, dict[str, Any]] = {
        "error_str": {"error": message},
        "error_obj": {"error": {"message": message, "type": "x", "code": code}},
        "detail": {"detail": message},
        "message": {"message": message, "type": "server_error"},
    }
    body = bodies[shape]
    parsed = parse_error_body(json.dumps(body).encode(), "application/json")
    assert parsed.message == message
    if shape == "error_obj":
        assert parsed.code == code


# -- Retry-After --------------------------------------------------------------------------------


@FUZZ
@given(value=st.one_of(st.text(max_size=40), st.sampled_from(["nan", "inf", "-1", "1e400", " 3 "])))
def test_retry_after_parsers_never_raise(value: str) -> None:
    now = 1_767_225_600.0
    for parsed in (parse_retry_after(value, now), parse_retry_after_ms(value)):
        assert parsed is None or (parsed >= 0 and parsed != float("inf"))
    info = parse_rate_limit(
        {"retry-after": value, "x-ratelimit-reset": value, "ratelimit": value}, now
    )
    assert info is not None


@FUZZ
@given(seconds=st.integers(min_value=0, max_value=10**6))
def test_retry_after_seconds_and_ms(seconds: int) -> None:
    # Waits are clamped to a day (MAX_WAIT_S): nothing legitimate asks for more.
    assert parse_retry_after(str(seconds), 0.0) == min(seconds, MAX_WAIT_S)
    assert parse_retry_after_ms(str(seconds)) == seconds / 1000


@FUZZ
@given(seconds=st.integers(min_value=0, max_value=10**5), past=st.booleans())
def test_retry_after_http_date(seconds: int, past: bool) -> None:
    now = 1_767_225_600.0
    when = now - seconds if past else now + seconds
    parsed = parse_retry_after(formatdate(when, usegmt=True), now)
    assert parsed is not None
    assert parsed == (0.0 if past else min(seconds, MAX_WAIT_S))
