"""LlamaIndex's callbacks for the streamed methods, with in-progress events built only if heard.

`llm_chat_callback` and `llm_completion_callback` (llama-index-core) build one pydantic event
per streamed response (`LLMChatInProgressEvent`: validation, a `uuid4`, a deep copy of its
tags) and hand it to the instrumentation dispatcher, whose default handler is
`NullEventHandler`, which does nothing. Building it costs about 19 µs per chunk on the
benchmark machine, against 40 µs for raw httpx's whole chunk. `streamed_chat` and
`streamed_completion` do what those decorators do for a method that returns a stream, step
for step (the legacy `CallbackManager` trace and start/end events, the start, end and
exception events, the rate limiter), except that an in-progress event is built only when an
event sent on that dispatcher would reach a handler other than a `NullEventHandler`. That is
checked before each response, so a handler added mid-stream gets the rest of it. Span
handlers never see events; the span the mixin opens around the method is untouched.

Nothing else can observe the skipped event: building it has no side effect, and its
validation cannot fail once the start event, built from the same messages (or prompt), passed.

This mirrors llama-index's code, so it is used only when the four files it mirrors (the two
decorators, `Dispatcher.event`, `NullEventHandler`, `BaseEvent`) are byte for byte the ones it
was checked against (one sha256, at the first streamed call, about 0.2 ms). With any other
llama-index-core, the methods are wrapped by LlamaIndex's own decorators: an upgrade costs
speed, never behaviour. `tests/llamaindex/test_llamaindex_events.py` holds both paths to the
same events and callbacks.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import AsyncGenerator, Callable, Generator, Sequence
from typing import Any

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.callbacks import CallbackManager, CBEventType, EventPayload
from llama_index.core.instrumentation.event_handlers import NullEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.exception import ExceptionEvent
from llama_index.core.instrumentation.events.llm import (
    LLMChatEndEvent,
    LLMChatInProgressEvent,
    LLMChatStartEvent,
    LLMCompletionEndEvent,
    LLMCompletionInProgressEvent,
    LLMCompletionStartEvent,
)
from llama_index.core.instrumentation.span import active_span_id
from llama_index.core.llms import callbacks as li_callbacks

__all__ = ["MIRRORED", "mirror_holds", "streamed_chat", "streamed_completion"]

#: sha256 of the llama-index files this module mirrors, in `_mirrored_files()` order
#: (llama-index-core 0.14.25, llama-index-instrumentation 0.6.0).
MIRRORED = "80498140f6f4bbe6cd97b471cc952c74c601dabd2d9da4414f34f6cbac9e04e9"


def _mirrored_files() -> list[str | None]:
    import llama_index_instrumentation.base.event as event
    import llama_index_instrumentation.dispatcher as dispatcher
    import llama_index_instrumentation.event_handlers.null as null

    return [module.__file__ for module in (li_callbacks, dispatcher, null, event)]


_holds: bool | None = None


def mirror_holds() -> bool:
    """Whether the installed llama-index files are the ones this module mirrors (read once)."""
    global _holds
    if _holds is None:
        digest = hashlib.sha256()
        try:
            for path in _mirrored_files():
                if path is None or not path.endswith(".py"):
                    raise OSError(path)
                with open(path, "rb") as file:
                    digest.update(file.read())
        except OSError:
            _holds = False
        else:
            _holds = digest.hexdigest() == MIRRORED
    return _holds


def _heard() -> bool:
    """Whether an event sent on LlamaIndex's LLM-callback dispatcher reaches a real handler.

    The walk `Dispatcher.event` makes: this dispatcher's handlers, then its parents' while
    `propagate` holds.
    """
    dispatcher = li_callbacks.dispatcher
    while True:
        for handler in dispatcher.event_handlers:
            if type(handler) is not NullEventHandler:
                return True
        if not dispatcher.propagate:
            return False
        dispatcher = dispatcher.parent


def _callback_manager(llm: Any) -> CallbackManager:
    manager = getattr(llm, "callback_manager", None)
    if not isinstance(manager, CallbackManager):
        llm.callback_manager = CallbackManager()
    result: CallbackManager = llm.callback_manager
    return result


class _Kind:
    """What differs between `llm_chat_callback` and `llm_completion_callback`."""

    __slots__ = ("end", "end_key", "field", "key", "progress", "start", "trace")

    def __init__(
        self,
        trace: str,
        field: str,
        key: EventPayload,
        end_key: EventPayload,
        start: Callable[..., BaseEvent],
        progress: Callable[..., BaseEvent],
        end: Callable[..., BaseEvent],
    ) -> None:
        self.trace = trace  # the CallbackManager trace
        self.field = field  # the events' name for the subject: "messages" or "prompt"
        self.key = key  # the subject's key in the callback payloads
        self.end_key = end_key  # the last response's key in the end payload
        self.start = start
        self.progress = progress
        self.end = end


_CHAT = _Kind(
    "chat",
    "messages",
    EventPayload.MESSAGES,
    EventPayload.RESPONSE,
    LLMChatStartEvent,
    LLMChatInProgressEvent,
    LLMChatEndEvent,
)
_COMPLETION = _Kind(
    "completion",
    "prompt",
    EventPayload.PROMPT,
    EventPayload.COMPLETION,
    LLMCompletionStartEvent,
    LLMCompletionInProgressEvent,
    LLMCompletionEndEvent,
)


class _Turn:
    """One streamed call's LlamaIndex bookkeeping, as the LlamaIndex decorators do it.

    `args` and `kwargs` are what the method is called with after `self`; `kwargs` is also what
    the start event reports as `additional_kwargs`.
    """

    def __init__(
        self, kind: _Kind, subject: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self.kind = kind
        self.trace = kind.trace
        self.subject = subject
        self.args = args
        self.kwargs = kwargs
        self.span_id: str | None = None
        self.event_id = ""

    def begin(self, llm: Any, manager: CallbackManager) -> None:
        """The start: inside the manager's trace, before the rate limiter and the call."""
        kind, subject, kwargs = self.kind, self.subject, self.kwargs
        self.span_id = active_span_id.get()
        model_dict = llm.to_payload()
        start = kind.start(
            model_dict=model_dict,
            additional_kwargs=kwargs,
            span_id=self.span_id,
            **{kind.field: subject},
        )
        li_callbacks.dispatcher.event(start)
        payload: dict[str, Any] = {
            kind.key: subject,
            EventPayload.ADDITIONAL_KWARGS: kwargs,
            EventPayload.SERIALIZED: model_dict,
        }
        self.event_id = manager.on_event_start(CBEventType.LLM, payload=payload)

    def failed(self, manager: CallbackManager, error: BaseException) -> None:
        payload: dict[str, Any] = {EventPayload.EXCEPTION: error}
        manager.on_event_end(CBEventType.LLM, payload=payload, event_id=self.event_id)

    def _progress(self, response: Any) -> None:
        event = self.kind.progress(
            response=response, span_id=self.span_id, **{self.kind.field: self.subject}
        )
        li_callbacks.dispatcher.event(event)

    def _stream_failed(self, manager: CallbackManager, error: BaseException) -> None:
        self.failed(manager, error)
        li_callbacks.dispatcher.event(ExceptionEvent(exception=error, span_id=self.span_id))

    def _end(self, manager: CallbackManager, last: Any) -> None:
        kind = self.kind
        payload: dict[str, Any] = {kind.key: self.subject, kind.end_key: last}
        manager.on_event_end(CBEventType.LLM, payload=payload, event_id=self.event_id)
        end = kind.end(response=last, span_id=self.span_id, **{kind.field: self.subject})
        li_callbacks.dispatcher.event(end)

    def responses(self, manager: CallbackManager, stream: Generator[Any]) -> Generator[Any]:
        last = None
        try:
            for response in stream:
                if _heard():
                    self._progress(response)
                yield response
                last = response
        except BaseException as error:
            self._stream_failed(manager, error)
            raise
        self._end(manager, last)

    async def aresponses(
        self, manager: CallbackManager, stream: AsyncGenerator[Any]
    ) -> AsyncGenerator[Any]:
        last = None
        try:
            async for response in stream:
                if _heard():
                    self._progress(response)
                yield response
                last = response
        except BaseException as error:
            self._stream_failed(manager, error)
            raise
        self._end(manager, last)


def _chat_turn(messages: Sequence[ChatMessage], **kwargs: Any) -> _Turn:
    """`llm_chat_callback`'s reading of the arguments: `(messages, **kwargs)`."""
    return _Turn(_CHAT, messages, (messages,), kwargs)


def _completion_turn(*args: Any, **kwargs: Any) -> _Turn:
    """`llm_completion_callback`'s reading: the first positional argument, else `prompt=`."""
    if len(args) > 0:
        return _Turn(_COMPLETION, str(args[0]), args, kwargs)
    if "prompt" in kwargs:
        return _Turn(_COMPLETION, kwargs["prompt"], args, kwargs)
    raise ValueError("No prompt provided in positional or keyword arguments")


def _wrap(f: Callable[..., Any], theirs: Callable[..., Any], turn_of: Callable[..., _Turn]) -> Any:
    """`theirs` (LlamaIndex's wrapper of `f`) if the mirror does not hold, else its mirror."""
    if inspect.iscoroutinefunction(f):

        async def awrapper(llm: Any, *args: Any, **kwargs: Any) -> Any:
            if not mirror_holds():
                return await theirs(llm, *args, **kwargs)
            turn, manager = turn_of(*args, **kwargs), _callback_manager(llm)
            with manager.as_trace(turn.trace):
                turn.begin(llm, manager)
                if llm.rate_limiter is not None:
                    await llm.rate_limiter.async_acquire()
                try:
                    stream = await f(llm, *turn.args, **turn.kwargs)
                except BaseException as error:
                    turn.failed(manager, error)
                    raise
                return turn.aresponses(manager, stream)

        return _named_like(awrapper, f)

    def wrapper(llm: Any, *args: Any, **kwargs: Any) -> Any:
        if not mirror_holds():
            return theirs(llm, *args, **kwargs)
        turn, manager = turn_of(*args, **kwargs), _callback_manager(llm)
        with manager.as_trace(turn.trace):
            turn.begin(llm, manager)
            if llm.rate_limiter is not None:
                llm.rate_limiter.acquire()
            try:
                stream = f(llm, *turn.args, **turn.kwargs)
            except BaseException as error:
                turn.failed(manager, error)
                raise
            return turn.responses(manager, stream)

    return _named_like(wrapper, f)


def _named_like(wrapper: Any, f: Callable[..., Any]) -> Any:
    names = ("__module__", "__name__", "__qualname__", "__doc__", "__annotations__")
    for attr in (*names, "__type_params__"):
        if value := getattr(f, attr, None):
            setattr(wrapper, attr, value)
    return wrapper


def streamed_chat(f: Callable[..., Any]) -> Any:
    """`@llm_chat_callback()` for a method that returns a stream (sync or async)."""
    return _wrap(f, li_callbacks.llm_chat_callback()(f), _chat_turn)


def streamed_completion(f: Callable[..., Any]) -> Any:
    """`@llm_completion_callback()` for a method that returns a stream (sync or async)."""
    return _wrap(f, li_callbacks.llm_completion_callback()(f), _completion_turn)
