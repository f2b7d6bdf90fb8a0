"""The streamed methods' callbacks (`_callbacks`) against LlamaIndex's own decorators.

A scripted LLM is built twice, once with `streamed_chat`/`streamed_completion` and once with
`llm_chat_callback()`/`llm_completion_callback()`, and every scenario (whole streams, keyword
arguments, a failure before or during the stream, a consumer that stops early, a handler added
or removed mid-stream, a rate limiter) must give both the same instrumentation events, the
same legacy callback events and the same responses. With no handler to hear them, ours build
no in-progress event at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Generator, Iterator, Sequence
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    LLMMetadata,
)
from llama_index.core.bridge.pydantic import BaseModel
from llama_index.core.callbacks import CallbackManager
from llama_index.core.callbacks.base_handler import BaseCallbackHandler
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import NullEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import (
    LLMChatInProgressEvent,
    LLMCompletionInProgressEvent,
)
from llama_index.core.llms import callbacks as li_callbacks
from llama_index.core.llms.llm import LLM
from llamaindex_support import CountingLimiter, EventLog

from llamaindex_hfproviders import _callbacks
from llamaindex_hfproviders._callbacks import mirror_holds, streamed_chat, streamed_completion

QUESTION = [ChatMessage(role="user", content="Spell abc.")]
PIECES = ["a", "b", "c"]


class Boom(RuntimeError):
    """The scripted stream's failure."""


class Scripted(LLM):
    """Streams `PIECES`; `fail_at` raises before the stream (-1) or before piece i."""

    fail_at: int | None = None

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(is_chat_model=True, model_name="scripted")

    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        raise NotImplementedError

    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        raise NotImplementedError

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        raise NotImplementedError

    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        raise NotImplementedError

    def _pieces(self) -> Iterator[tuple[str, str]]:
        if self.fail_at == -1:
            raise Boom("before the stream")
        text = ""
        for i, piece in enumerate(PIECES):
            if self.fail_at == i:
                raise Boom(f"before piece {i}")
            text += piece
            yield text, piece

    def chats(self) -> Generator[ChatResponse]:
        for text, piece in self._pieces():
            yield ChatResponse(message=ChatMessage(role="assistant", content=text), delta=piece)

    async def achats(self) -> AsyncGenerator[ChatResponse]:
        for response in self.chats():
            yield response

    def completions(self) -> Generator[CompletionResponse]:
        for text, piece in self._pieces():
            yield CompletionResponse(text=text, delta=piece)

    async def acompletions(self) -> AsyncGenerator[CompletionResponse]:
        for response in self.completions():
            yield response

    def opened(self) -> None:
        if self.fail_at == -2:
            raise Boom("in the method")


def scripted(chat: Callable[[Any], Any], completion: Callable[[Any], Any]) -> type[Scripted]:
    """`Scripted` with its four streamed methods wrapped by these decorators."""

    class Wrapped(Scripted):
        @chat
        def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Any:
            self.opened()
            return self.chats()

        @chat
        async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Any:
            self.opened()
            return self.achats()

        @completion
        def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
            self.opened()
            return self.completions()

        @completion
        async def astream_complete(
            self, prompt: str, formatted: bool = False, **kwargs: Any
        ) -> Any:
            self.opened()
            return self.acompletions()

    return Wrapped


OURS = scripted(streamed_chat, streamed_completion)
THEIRS = scripted(li_callbacks.llm_chat_callback(), li_callbacks.llm_completion_callback())


class CallbackLog(BaseCallbackHandler):
    """Keeps the legacy callback manager's events and traces."""

    def __init__(self) -> None:
        super().__init__(event_starts_to_ignore=[], event_ends_to_ignore=[])
        self.seen: list[Any] = []

    def on_event_start(
        self,
        event_type: Any,
        payload: dict[str, Any] | None = None,
        event_id: str = "",
        parent_id: str = "",
        **kwargs: Any,
    ) -> str:
        self.seen.append(("start", event_type, payload, event_id, parent_id))
        return event_id

    def on_event_end(
        self,
        event_type: Any,
        payload: dict[str, Any] | None = None,
        event_id: str = "",
        **kwargs: Any,
    ) -> None:
        self.seen.append(("end", event_type, payload, event_id))

    def start_trace(self, trace_id: str | None = None) -> None:
        self.seen.append(("start_trace", trace_id))

    def end_trace(
        self, trace_id: str | None = None, trace_map: dict[str, list[str]] | None = None
    ) -> None:
        self.seen.append(("end_trace", trace_id))


class Ids:
    """Replaces random ids (span ids, event ids) by their order of first appearance."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, str) or not value:
            return value
        return self.seen.setdefault(value, f"id{len(self.seen)}")


def plain(value: Any, ids: Ids) -> Any:
    """A comparable form: models as dicts (no timestamps), exceptions as type and text."""
    if isinstance(value, BaseEvent):
        dumped = {"class": type(value).__name__, **value.model_dump()}
        for key in ("timestamp", "id_"):
            dumped.pop(key)
        dumped["span_id"] = ids(dumped["span_id"])
        if "exception" in dumped:
            dumped["exception"] = plain(value.exception, ids)  # type: ignore[attr-defined]
        return plain(dumped, ids)
    if isinstance(value, BaseModel):
        return plain(value.model_dump(), ids)
    if isinstance(value, BaseException):
        return (type(value).__name__, str(value))
    if isinstance(value, dict):
        return {str(k): plain(v, ids) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v, ids) for v in value]
    return value


def legacy(seen: list[Any], ids: Ids) -> list[Any]:
    out = []
    for entry in seen:
        kind, *rest = entry
        if kind in ("start", "end"):
            event_type, payload, event_id, *parent = rest
            out.append((kind, event_type, plain(payload, ids), ids(event_id), *parent))
        else:
            out.append(entry)
    return out


def _call(llm: Scripted, method: str, keywords: bool) -> Any:
    if method.endswith("chat"):
        extra = {"messages": QUESTION} if keywords else {}
        args = () if keywords else (QUESTION,)
    else:
        extra = {"prompt": "Spell abc.", "formatted": True} if keywords else {}
        args = () if keywords else ("Spell abc.",)
    return getattr(llm, method)(*args, **extra, temperature=0.5)


async def _drive(llm: Scripted, method: str, keywords: bool, stop_after: int | None) -> list[Any]:
    """Consume one streamed call; `stop_after` closes the stream early. Errors are results."""
    out: list[Any] = []
    try:
        stream = _call(llm, method, keywords)
        if method.startswith("a"):
            stream = await stream
            async for response in stream:
                out.append(response)
                if len(out) == stop_after:
                    await stream.aclose()
                    break
        else:
            for response in stream:
                out.append(response)
                if len(out) == stop_after:
                    stream.close()
                    break
    except Boom as error:
        out.append(error)
    return out


def run(
    cls: type[Scripted],
    method: str,
    *,
    fail_at: int | None = None,
    keywords: bool = False,
    stop_after: int | None = None,
    handler_change: Callable[[int], None] | None = None,
) -> tuple[list[Any], list[Any], list[Any], int]:
    """Responses, instrumentation events, legacy callback events, rate-limiter acquisitions."""
    callbacks, limiter, log = CallbackLog(), CountingLimiter(), EventLog(events=[])
    llm = cls(callback_manager=CallbackManager([callbacks]), fail_at=fail_at)
    llm.rate_limiter = limiter  # type: ignore[assignment]
    root = get_dispatcher()
    root.add_event_handler(log)
    try:
        if handler_change is None:
            responses = asyncio.run(_drive(llm, method, keywords, stop_after))
        else:
            responses = asyncio.run(_drive_changing(llm, method, handler_change))
    finally:
        if log in root.event_handlers:
            root.event_handlers.remove(log)
    ids = Ids()
    return (
        plain(responses, ids),
        [plain(event, ids) for event in log.events],
        legacy(callbacks.seen, ids),
        limiter.calls,
    )


async def _drive_changing(llm: Scripted, method: str, change: Callable[[int], None]) -> list[Any]:
    """Consume a stream, calling `change(i)` after response i (0-based)."""
    out: list[Any] = []
    stream = _call(llm, method, False)
    if method.startswith("a"):
        async for response in await stream:
            change(len(out))
            out.append(response)
    else:
        for response in stream:
            change(len(out))
            out.append(response)
    return out


IN_PROGRESS = (LLMChatInProgressEvent, LLMCompletionInProgressEvent)
METHODS = ["stream_chat", "astream_chat", "stream_complete", "astream_complete"]
SCENARIOS: dict[str, dict[str, Any]] = {
    "whole": {},
    "keywords": {"keywords": True},
    "fails in the method": {"fail_at": -2},
    "fails at the stream's start": {"fail_at": -1},
    "fails mid-stream": {"fail_at": 2},
    "closed early": {"stop_after": 1},
}


def test_the_installed_llama_index_is_the_one_mirrored() -> None:
    """A llama-index-core upgrade changes this: compare `_callbacks` with its new wrappers,
    then update `MIRRORED` (until then the streamed methods use LlamaIndex's own wrappers)."""
    assert mirror_holds()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_same_events_callbacks_and_responses_as_llama_index(method: str, scenario: str) -> None:
    ours = run(OURS, method, **SCENARIOS[scenario])
    theirs = run(THEIRS, method, **SCENARIOS[scenario])
    assert ours == theirs
    responses, events, callbacks, acquired = ours
    assert acquired == 1
    assert callbacks[0][0] == "start_trace"
    if scenario in ("whole", "keywords"):
        assert len(responses) == len(PIECES)
        progress = [e for e in events if e["class"].endswith("InProgressEvent")]
        assert len(progress) == len(PIECES)
        assert events[-1]["class"].endswith("EndEvent")
    if scenario == "keywords":
        assert events[0]["additional_kwargs"]["temperature"] == 0.5
        assert "messages" not in events[0]["additional_kwargs"]


@pytest.mark.parametrize("method", METHODS)
def test_a_handler_added_mid_stream_gets_the_rest(method: str) -> None:
    late = EventLog(events=[])
    root = get_dispatcher()

    def add_after_first(i: int) -> None:
        if i == 0:
            root.add_event_handler(late)

    try:
        run(OURS, method, handler_change=add_after_first)
        ours = [plain(e, Ids()) for e in late.events]
        late.events.clear()
        root.event_handlers.remove(late)
        run(THEIRS, method, handler_change=add_after_first)
        theirs = [plain(e, Ids()) for e in late.events]
    finally:
        if late in root.event_handlers:
            root.event_handlers.remove(late)
    kinds = [e["class"] for e in ours]
    assert kinds[:2] == [kinds[0]] * 2 and kinds[0].endswith("InProgressEvent")  # pieces 2, 3
    assert len(kinds) == 3 and kinds[-1].endswith("EndEvent")
    assert [{**e, "span_id": None} for e in ours] == [{**e, "span_id": None} for e in theirs]


@pytest.fixture
def progress_built(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The response of every in-progress event built, by our callbacks or LlamaIndex's."""
    built: list[Any] = []
    for cls in IN_PROGRESS:

        def counted(self: Any, *, _init: Any = cls.__init__, **data: Any) -> None:
            built.append(data["response"])
            _init(self, **data)

        monkeypatch.setattr(cls, "__init__", counted)
    return built


@pytest.mark.parametrize("method", METHODS)
def test_no_in_progress_event_is_built_when_nobody_listens(
    method: str, progress_built: list[Any]
) -> None:
    assert not _callbacks._heard()  # the default: root's NullEventHandler only
    llm = OURS(callback_manager=CallbackManager([CallbackLog()]))
    responses = asyncio.run(_drive(llm, method, False, None))
    assert [r.delta for r in responses] == PIECES
    assert progress_built == []
    # LlamaIndex's own decorators build one per response, heard or not.
    asyncio.run(_drive(THEIRS(), method, False, None))
    assert len(progress_built) == len(PIECES)


@pytest.mark.parametrize("method", METHODS)
def test_with_a_handler_every_response_gets_its_event(
    method: str, progress_built: list[Any], event_log: EventLog
) -> None:
    responses = asyncio.run(_drive(OURS(), method, False, None))
    assert progress_built == responses
    progress = [e for e in event_log.events if isinstance(e, IN_PROGRESS)]
    assert [e.response for e in progress] == responses


def test_the_mirror_falls_back_to_llama_index_when_its_files_differ(
    monkeypatch: pytest.MonkeyPatch, progress_built: list[Any]
) -> None:
    monkeypatch.setattr(_callbacks, "_holds", None)
    monkeypatch.setattr(_callbacks, "MIRRORED", "0" * 64)
    assert not mirror_holds()
    list(OURS().stream_chat(QUESTION))
    assert len(progress_built) == len(PIECES)  # LlamaIndex's wrapper ran, unheard events and all
    assert run(OURS, "stream_chat", fail_at=2) == run(THEIRS, "stream_chat", fail_at=2)


class Quiet(NullEventHandler):
    """A NullEventHandler subclass: it may do something, so it counts as a listener."""

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        return None


def test_heard_follows_the_dispatchers_own_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    own, root = li_callbacks.dispatcher, get_dispatcher()
    assert not _callbacks._heard()
    monkeypatch.setattr(own, "event_handlers", [NullEventHandler()])
    assert not _callbacks._heard()
    monkeypatch.setattr(own, "event_handlers", [Quiet()])
    assert _callbacks._heard()
    monkeypatch.setattr(own, "event_handlers", [])
    monkeypatch.setattr(root, "event_handlers", [NullEventHandler(), EventLog(events=[])])
    assert _callbacks._heard()
    monkeypatch.setattr(own, "propagate", False)  # the root's handlers no longer get its events
    assert not _callbacks._heard()
    probe = LLMChatInProgressEvent(
        messages=QUESTION, response=ChatResponse(message=ChatMessage(content="x"))
    )
    own.event(probe)
    assert root.event_handlers[1].events == []  # type: ignore[attr-defined]
