r"""A sans-I/O Server-Sent Events decoder that works on bytes.

It follows the WHATWG parsing rules that matter on the wire: lines end with `\n`, `\r\n` or `\r`
(a `\r\n` may be split between two network chunks), `data:` with or without a space, multi-line
`data`, comment lines starting with `:`, and dispatch on a blank line. It splits on bytes and
decodes whole lines, so a UTF-8 character cut between two chunks is safe. Feeding the same bytes
in any split gives the same events.

Bounded and linear: each byte is scanned a constant number of times, however the input is split
(an unfinished line is kept as a list of pieces, joined once when its end arrives), and a line or
an event larger than `max_event_bytes` raises `SSELimitError` instead of growing without bound.
"""

from __future__ import annotations

__all__ = ["MAX_EVENT_BYTES", "SSEDecoder", "SSELimitError", "ServerSentEvent"]

# No real event comes near this (the largest answers are a few MB); an endless line stops here.
MAX_EVENT_BYTES = 16 * 1024 * 1024


class SSELimitError(ValueError):
    """A line or an event is larger than the decoder's `max_event_bytes`."""


class ServerSentEvent:
    """One dispatched event."""

    __slots__ = ("data", "event", "id", "retry")

    def __init__(
        self, data: str, event: str = "message", id: str | None = None, retry: int | None = None
    ) -> None:
        self.data = data
        self.event = event
        self.id = id
        self.retry = retry

    def __repr__(self) -> str:
        return f"ServerSentEvent(event={self.event!r}, data={self.data!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServerSentEvent):
            return NotImplemented
        return (self.data, self.event, self.id, self.retry) == (
            other.data,
            other.event,
            other.id,
            other.retry,
        )

    __hash__ = None  # type: ignore[assignment]


class SSEDecoder:
    """Turn a byte stream into events: `feed(chunk)` as bytes arrive, `finish()` at EOF.

    `max_event_bytes` bounds one line and one event's data; past it `feed` raises
    `SSELimitError`.
    """

    __slots__ = (
        "_data",
        "_data_size",
        "_event",
        "_id",
        "_max",
        "_partial",
        "_partial_size",
        "_pending_cr",
        "_retry",
    )

    def __init__(self, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self._max = max_event_bytes
        # The unfinished last line, in pieces: joining on every feed would be quadratic.
        self._partial: list[bytes] = []
        self._partial_size = 0
        self._pending_cr = False
        self._data: list[str] = []
        self._data_size = 0
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None

    def single_data(self, chunk: bytes) -> str | None:
        """The data of `chunk` if it is one whole `data:` event and nothing is pending, else None.

        The common case (one event per network chunk), read without splitting lines: what
        `feed` would dispatch for it (the caller then does not `feed` the chunk).
        """
        if (
            chunk[:6] == b"data: "
            and chunk.find(b"\n") == len(chunk) - 2
            and chunk[-1:] == b"\n"
            and not (self._partial or self._data or self._event or self._pending_cr)
            and b"\r" not in chunk
        ):
            value = chunk[6:-2].decode("utf-8", "replace")
            if len(value) + 1 > self._max:
                raise SSELimitError(f"a stream event is larger than {self._max:,} bytes")
            self._retry = None  # it was this event's
            return value
        return None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Consume bytes; return the events completed by them (possibly none)."""
        retry = self._retry
        value = self.single_data(chunk)
        if value is not None:
            return [ServerSentEvent(value, "message", self._id, retry)]
        if self._pending_cr:
            self._pending_cr = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
        if b"\r" in chunk:
            # A trailing \r ends a line, but the \n that may follow it is still in flight.
            # Only the new bytes are scanned: a \r ending an earlier chunk was handled there.
            self._pending_cr = chunk.endswith(b"\r")
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if b"\n" not in chunk:
            if chunk:
                self._partial_size += len(chunk)
                if self._partial_size > self._max:
                    raise SSELimitError(f"a stream line is longer than {self._max:,} bytes")
                self._partial.append(chunk)
            return []
        lines = chunk.split(b"\n")
        if self._partial:
            self._partial.append(lines[0])
            lines[0] = b"".join(self._partial)
            self._partial.clear()
            if len(lines[0]) > self._max:
                raise SSELimitError(f"a stream line is longer than {self._max:,} bytes")
        tail = lines.pop()
        if tail:
            self._partial.append(tail)
        self._partial_size = len(tail)
        events: list[ServerSentEvent] = []
        for line in lines:
            self._process_line(line, events)
        return events

    def finish(self) -> tuple[list[ServerSentEvent], bool]:
        """End of stream: return the events still pending and whether input stopped mid-event.

        An event whose blank line never came is still returned (servers often end with one
        newline); the caller decides whether its data is usable. `truncated` is True when
        there were unterminated bytes or undispatched data.
        """
        events: list[ServerSentEvent] = []
        truncated = bool(self._partial) or bool(self._data)
        if self._partial:
            line = b"".join(self._partial)
            self._partial.clear()
            self._partial_size = 0
            self._process_line(line, events)
        if self._data:
            self._dispatch(events)
        return events, truncated

    def _process_line(self, line: bytes, events: list[ServerSentEvent]) -> None:
        if not line:
            if self._data or self._event:
                self._dispatch(events)
            return
        if line[0] == 0x3A:  # ":" comment / keep-alive
            return
        colon = line.find(b":")
        if colon == -1:
            name, value = line.decode("utf-8", "replace"), ""
        else:
            name = line[:colon].decode("utf-8", "replace")
            raw = line[colon + 1 :]
            if raw[:1] == b" ":
                raw = raw[1:]
            value = raw.decode("utf-8", "replace")
        if name == "data":
            self._data_size += len(value) + 1
            if self._data_size > self._max:
                raise SSELimitError(f"a stream event is larger than {self._max:,} bytes")
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)

    def _dispatch(self, events: list[ServerSentEvent]) -> None:
        if self._data:
            events.append(
                ServerSentEvent(
                    "\n".join(self._data), self._event or "message", self._id, self._retry
                )
            )
        self._data = []
        self._data_size = 0
        self._event = ""
        self._retry = None
