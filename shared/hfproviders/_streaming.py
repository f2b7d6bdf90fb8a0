"""Stream decoding state (pure) and the stream objects handed to callers.

`ChatStreamDecoder` / `TextGenerationStreamDecoder` turn body bytes into result chunks: SSE
framing, `[DONE]`, JSON, error events inside a 200 stream, and normalisation. The sync and async
loops in `_client.py` move bytes into them through their `Call`, so both behave identically.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Generic, Self, TypeVar

from hfproviders._errors import HFProvidersError, StreamError, error_from_stream_event
from hfproviders._normalize import (
    ChatReading,
    StreamNormalizer,
    parse_text_generation_event,
)
from hfproviders._sse import ServerSentEvent, SSEDecoder, SSELimitError
from hfproviders._types import (
    ChatCompletion,
    ChatCompletionChunk,
    ResponseMeta,
    TextGenerationChunk,
)

__all__ = [
    "AsyncChatStream",
    "AsyncTextGenerationStream",
    "ChatStream",
    "ChatStreamDecoder",
    "TextGenerationStream",
    "TextGenerationStreamDecoder",
]

T = TypeVar("T")
# What reading a JSON event of an unexpected shape may raise: turned into a typed StreamError.
_SHAPE_ERRORS = (AttributeError, TypeError, ValueError, KeyError, IndexError, OverflowError)
_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _object_or_none(text: str) -> dict[str, Any] | None:
    """`text` as a JSON object when it is exactly one (no surrounding space), else None.

    What `json.loads` does, without its three Python-level calls and two regex matches per
    event; anything else (space around it, an error, absurd nesting) returns None and is left
    to the general path, which raises the typed error.
    """
    try:
        value, end = _scan(text, 0)
    except (StopIteration, ValueError, RecursionError):
        return None
    return value if end == len(text) and type(value) is dict else None


class _EventDecoder:
    """SSE + JSON + error events; subclasses turn each JSON event into result chunks."""

    def __init__(self, meta: ResponseMeta, started_at: float) -> None:
        self.meta = meta
        self.started_at = started_at
        self.sse = SSEDecoder()
        self.done = False
        self.saw_done = False  # the server said `[DONE]`: the stream ended on purpose
        self.events = 0
        # An error found mid-batch is raised on the next call, after the chunks before it
        # have been handed out, so the caller sees everything that arrived.
        self.pending_error: Exception | None = None
        self.secrets: tuple[str, ...] = ()  # scrubbed from error events that echo them

    def _event(self, data: dict[str, Any]) -> list[Any]:
        raise NotImplementedError

    def _partial(self) -> ChatCompletion | None:
        return None

    def _handle(self, events: list[ServerSentEvent], out: list[Any], at_eof: bool = False) -> None:
        try:
            self._handle_events(events, out, at_eof)
        except Exception as error:  # noqa: BLE001 - re-raised on the next call
            if not out:
                raise
            self.pending_error = error
            self.done = True

    def _handle_events(self, events: list[ServerSentEvent], out: list[Any], at_eof: bool) -> None:
        for event in events:
            if self.done:
                return
            data = event.data
            if data == "[DONE]":
                self.done = self.saw_done = True
                return
            if not data or data.isspace():
                continue
            try:
                parsed = json.loads(data)
            except (ValueError, RecursionError):
                raise self._stream_error(
                    "The stream ended in the middle of an event"
                    if at_eof
                    else f"Malformed JSON in stream event: {data[:200]!r}"
                ) from None
            if not isinstance(parsed, dict):
                raise self._stream_error(f"Unexpected stream event: {data[:200]!r}")
            if "error" in parsed and parsed["error"]:
                raise error_from_stream_event(
                    parsed,
                    provider=self.meta.provider,
                    request_id=self.meta.request_id,
                    partial=self._partial(),
                    secrets=self.secrets,
                )
            if self.events == 0:
                self.meta.ttft_s = time.monotonic() - self.started_at
            self.events += 1
            try:
                out.extend(self._event(parsed))
            except _SHAPE_ERRORS:
                raise self._shape_error(data) from None

    def _raise_pending(self) -> None:
        if self.pending_error is not None:
            error, self.pending_error = self.pending_error, None
            if isinstance(error, HFProvidersError):
                error.partial = self._partial()  # now that the chunks before it were delivered
            raise error

    def deliver(self, chunk: Any) -> None:
        """The caller is about to receive `chunk`: update the accumulated view."""

    def _shape_error(self, data: str) -> StreamError:
        # Valid JSON of a shape no provider sends: a typed error, never a crash.
        return self._stream_error(f"Unexpected stream event shape: {data[:200]!r}")

    def _stream_error(self, message: str) -> StreamError:
        error = StreamError(
            message, provider=self.meta.provider, request_id=self.meta.request_id, status_code=200
        )
        error.in_stream = self.events > 0
        error.partial = self._partial()
        return error

    def feed_json(self, data: Any) -> list[Any]:
        """A whole JSON answer (a server that ignored `stream: true`), as one event."""
        out: list[Any] = []
        event = self._event_from_json(data)
        self._handle([ServerSentEvent(json.dumps(event))], out)
        self.done = True
        return out

    def _event_from_json(self, data: Any) -> Any:
        return data

    def feed_event(self, event: dict[str, Any]) -> list[Any]:
        """One already-parsed event (a cached stream being replayed)."""
        out: list[Any] = []
        self._handle([ServerSentEvent(json.dumps(event))], out)
        return out

    def feed(self, chunk: bytes) -> list[Any]:
        """Bytes in, result chunks out."""
        self._raise_pending()
        if self.done:
            return []
        try:
            data = self.sse.single_data(chunk)
            if data is None:
                events = self.sse.feed(chunk)
            elif self.events and data[:1] == "{":
                # The common case under way: one JSON object, one event, nothing pending.
                parsed = _object_or_none(data)
                if parsed is not None and not parsed.get("error"):
                    self.events += 1
                    try:
                        return self._event(parsed)
                    except _SHAPE_ERRORS:
                        raise self._shape_error(data) from None
                events = [ServerSentEvent(data)]  # anything else: the general path decides
            else:
                events = [ServerSentEvent(data)]
        except SSELimitError as exc:  # an endless line: stop reading, bounded memory
            self.done = True
            raise self._stream_error(f"{exc}; the stream was abandoned") from None
        out: list[Any] = []
        self._handle(events, out)
        return out

    def finish(self) -> list[Any]:
        """End of body: flush, and check the stream did not stop mid-event or before starting."""
        self._raise_pending()
        out: list[Any] = []
        if not self.done:
            events, _truncated = self.sse.finish()
            self._handle(events, out, at_eof=True)
        if self.events == 0 and not self.saw_done:
            # `[DONE]` alone is an empty answer (novita under json_object); nothing at all is not.
            raise self._stream_error("The stream ended before any event arrived")
        self.meta.latency_s = time.monotonic() - self.started_at
        return out


class ChatStreamDecoder(_EventDecoder):
    """Chat-completion stream: normalised `ChatCompletionChunk`s."""

    def __init__(
        self, meta: ResponseMeta, started_at: float, reading: ChatReading | None = None
    ) -> None:
        super().__init__(meta, started_at)
        self.normalizer = StreamNormalizer(reading)
        self.raw_events: list[dict[str, Any]] | None = None

    def _event(self, data: dict[str, Any]) -> list[Any]:
        if self.raw_events is not None:
            self.raw_events.append(data)
        return self.normalizer.feed(data)

    def deliver(self, chunk: Any) -> None:
        self.normalizer.deliver(chunk)

    def _partial(self) -> ChatCompletion | None:
        return self.normalizer.accumulator.result(self.meta)

    def _event_from_json(self, data: Any) -> Any:
        if not isinstance(data, dict) or "choices" not in data:
            return data
        choices = []
        for choice in data.get("choices") or ():
            message = dict(choice.get("message") or {})
            calls = message.get("tool_calls")
            if calls:
                message["tool_calls"] = [
                    {**call, "index": position} for position, call in enumerate(calls)
                ]
            choices.append({**choice, "delta": message})
        return {**data, "choices": choices}

    def finish(self) -> list[Any]:
        out = super().finish()
        out.extend(self.normalizer.finish(empty=self.events == 0))
        return out


class TextGenerationStreamDecoder(_EventDecoder):
    """TGI token stream: `TextGenerationChunk`s."""

    def __init__(self, meta: ResponseMeta, started_at: float) -> None:
        super().__init__(meta, started_at)
        self.pieces: list[str] = []
        self.generated_text: str | None = None

    def _event_from_json(self, data: Any) -> Any:
        item = data[0] if isinstance(data, list) and data else data
        if not isinstance(item, dict) or "generated_text" not in item:
            return item
        text = str(item.get("generated_text") or "")
        return {
            "index": 0,
            "token": {"id": 0, "text": text, "special": False},
            "generated_text": text,
            "details": item.get("details"),
        }

    def _event(self, data: dict[str, Any]) -> list[Any]:
        return [parse_text_generation_event(data)]

    def deliver(self, chunk: Any) -> None:
        if chunk.generated_text is not None:
            self.generated_text = chunk.generated_text
        elif not chunk.token.special:
            self.pieces.append(chunk.token.text)


class _SyncStream(Generic[T]):
    """An iterator over a lazy generator, with `.meta` and early release of the connection.

    `call` is the stream's `Call` (`hfproviders._call`): its meta, and what was handed out.
    """

    def __init__(self, generator: Iterator[T], call: Any) -> None:
        self.meta: ResponseMeta = call.meta
        self._call = call
        self._generator = generator

    def __iter__(self) -> Iterator[T]:
        return self._generator  # a `for` loop runs the generator itself: no call per chunk

    def __next__(self) -> T:
        return next(self._generator)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop reading and release the connection."""
        self._generator.close()  # type: ignore[attr-defined]
        self._call.closed()


class _AsyncStream(Generic[T]):
    """The async twin of `_SyncStream`."""

    def __init__(self, generator: AsyncIterator[T], call: Any) -> None:
        self.meta: ResponseMeta = call.meta
        self._call = call
        self._generator = generator

    def __aiter__(self) -> AsyncIterator[T]:
        return self._generator  # `async for` runs the generator itself: no call per chunk

    async def __anext__(self) -> T:
        return await self._generator.__anext__()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop reading and release the connection."""
        await self._generator.aclose()  # type: ignore[attr-defined]
        if self._call.config.remote_state:  # a spend store on Redis: await its round trip
            from hfproviders._state import async_step

            await async_step(self._call.closed)
        else:
            self._call.closed()


class _ChatView:
    """What a chat stream (sync or async) has handed out so far."""

    _call: Any

    @property
    def completion(self) -> ChatCompletion | None:
        """The chunks handed out so far, merged into one completion."""
        result: ChatCompletion | None = self._call.completion()
        return result

    def text_only(self) -> str | None:
        """`completion.text` without building a completion, while the first choice holds text only.

        None once it has reasoning, tool calls or logprobs, or before the answer arrived: read
        `completion` then. For adapters that rebuild a cumulative answer on every chunk.
        """
        text: str | None = self._call.text_only()
        return text


class _TextView:
    """What a text-generation stream (sync or async) has handed out so far."""

    _call: Any

    @property
    def generated_text(self) -> str | None:
        """The full text (the server's `generated_text`, else the tokens joined)."""
        result: str | None = self._call.generated_text()
        return result


class ChatStream(_SyncStream[ChatCompletionChunk], _ChatView):
    """An iterator of `ChatCompletionChunk`s. Nothing is sent before the first iteration.

    `.completion` is what has been handed out so far, merged (the whole answer once the stream
    has ended) and `.meta` says who served it. Use it as a context manager (or call `close()`)
    to release the connection early.
    """

    def until_done(self) -> ChatCompletion:
        """Drain the stream and return the merged completion."""
        for _ in self:
            pass
        completion = self.completion
        assert completion is not None
        return completion


class AsyncChatStream(_AsyncStream[ChatCompletionChunk], _ChatView):
    """The async twin of `ChatStream`: `async for chunk in stream`, `await stream.aclose()`."""

    async def until_done(self) -> ChatCompletion:
        """Drain the stream and return the merged completion."""
        async for _ in self:
            pass
        completion = self.completion
        assert completion is not None
        return completion


class TextGenerationStream(_SyncStream[TextGenerationChunk], _TextView):
    """An iterator of TGI `TextGenerationChunk`s; `.generated_text` once it has ended."""


class AsyncTextGenerationStream(_AsyncStream[TextGenerationChunk], _TextView):
    """The async twin of `TextGenerationStream`."""
