"""The SSE decoder: every input, split at every byte offset, decodes the same."""

from __future__ import annotations

import pytest

from hfproviders._sse import ServerSentEvent, SSEDecoder


def decode_split(data: bytes, *cuts: int) -> tuple[list[ServerSentEvent], bool]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    start = 0
    for cut in (*cuts, len(data)):
        events += decoder.feed(data[start:cut])
        start = cut
    tail, truncated = decoder.finish()
    return events + tail, truncated


CASES = {
    "router": (
        b'data: {"a": 1}\n\ndata: {"b": "\xc3\xa9t\xc3\xa9 \xe2\x9c\x93"}\n\ndata: [DONE]\n\n',
        ['{"a": 1}', '{"b": "été ✓"}', "[DONE]"],
    ),
    "tgi-no-space": (b'data:{"token":1}\n\ndata:{"token":2}\n\n', ['{"token":1}', '{"token":2}']),
    "crlf": (b"data: one\r\n\r\ndata: two\r\n\r\n", ["one", "two"]),
    "bare-cr": (b"data: one\r\rdata: two\r\r", ["one", "two"]),
    "multi-line": (b"data: first\ndata: second\n\n", ["first\nsecond"]),
    "comments-and-fields": (
        b": keep-alive\n\nevent: message\nid: 7\nretry: 1000\ndata: x\n\n:ping\n\n",
        ["x"],
    ),
    "no-final-blank-line": (b"data: a\n\ndata: b\n", ["a", "b"]),
    "emoji-4-bytes": ("data: 🤗🤗\n\n".encode(), ["🤗🤗"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_split_point_gives_the_same_events(name: str) -> None:
    data, expected = CASES[name]
    for cut in range(len(data) + 1):
        events, _ = decode_split(data, cut)
        assert [e.data for e in events] == expected, f"split at byte {cut}"


@pytest.mark.parametrize("name", ["router", "crlf", "emoji-4-bytes", "tgi-no-space"])
def test_every_pair_of_split_points(name: str) -> None:
    data, expected = CASES[name]
    for first in range(len(data) + 1):
        for second in range(first, len(data) + 1, 3):
            events, _ = decode_split(data, first, second)
            assert [e.data for e in events] == expected, (first, second)


def test_byte_at_a_time() -> None:
    data, expected = CASES["router"]
    decoder = SSEDecoder()
    events = [e for i in range(len(data)) for e in decoder.feed(data[i : i + 1])]
    assert [e.data for e in events] == expected


def test_fields_are_read() -> None:
    events, truncated = decode_split(b"event: error\nid: 42\nretry: 3000\ndata: boom\n\n")
    assert events == [ServerSentEvent("boom", "error", "42", 3000)]
    assert not truncated


def test_truncated_stream_is_reported() -> None:
    events, truncated = decode_split(b'data: {"a": 1}\n\ndata: {"b": ')
    assert [e.data for e in events] == ['{"a": 1}', '{"b": ']
    assert truncated


def test_complete_stream_is_not_truncated() -> None:
    _, truncated = decode_split(CASES["router"][0])
    assert not truncated


def test_data_without_value_and_field_without_colon() -> None:
    events, _ = decode_split(b"data\n\ndata:\n\n")
    assert [e.data for e in events] == ["", ""]


@pytest.mark.parametrize(
    "events",
    [
        [b'data: {"a": 1}\n\n', b'data: {"b": 2}\n\n'],
        [b"id: 7\nretry: 30\n\n", b"data: one\n\n", b"data: two\n\n"],
        [b"event: x\n", b"data: one\n\n", b"data: two\n\n"],
        [b"data: a\n", b"data: b\n\n", b"data:  c\n\n"],
        [b"data: one\r", b"\ndata: two\n\n", b"data: three\n\n"],
        [b"data: one\n\ndata: two\n\n", b"data: \xc3\n\n"],
    ],
)
def test_one_event_per_chunk_matches_byte_at_a_time(events: list[bytes]) -> None:
    # Whole `data:` events arriving one per chunk take a shortcut: same events, same fields.
    whole = SSEDecoder()
    got = [event for chunk in events for event in whole.feed(chunk)]
    expected, _ = decode_split(b"".join(events), *range(1, len(b"".join(events))))
    assert got + whole.finish()[0] == expected
    assert [(e.id, e.retry, e.event) for e in got] == [
        (e.id, e.retry, e.event) for e in expected[: len(got)]
    ]


def test_one_event_chunk_over_the_cap_is_refused() -> None:
    from hfproviders._sse import SSELimitError

    with pytest.raises(SSELimitError):
        SSEDecoder(max_event_bytes=8).feed(b"data: 0123456789\n\n")
