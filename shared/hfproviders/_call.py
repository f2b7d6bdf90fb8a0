"""One call's whole state, sans I/O: deadline, attempts, retry and failover, cache, observer.

Like h11's `Connection`, a `Call` never does I/O and never calls back into the client. The sync
and async twins in `_client.py` feed it what happened (response headers, body bytes, errors) and
act on what it decides:

```
call.start()            -> True: answered from the cache (`cached_result()` / `replay()`)
call.begin()            -> the rate limiter to wait on (or None); raises once the deadline passed
call.outgoing()         -> (method, url, headers, body, timeout) for the transport
call.error_in(...)      -> the typed error for a >= 400 answer (the twin raises it)
call.headers_in(...)    -> a success's headers: meta, limiter feedback, the stream decoder
call.body_in(body)      -> the result of a whole answer
call.feed(raw)          -> a stream's chunks; `call.over()` once [DONE] or an error event came
call.deliver(chunks)    -> the chunks, each folded into the merged view as it is handed out
call.finish()           -> a stream's last chunks (raises IncompleteStreamError if cut short)
call.failed(error)      -> seconds to sleep before the next attempt, or raises the final error
```

Every state transition of a call lives in this file. Deadline: one per call,
`RetryPolicy.budget` (else the client's `timeout`), over every attempt, sleep, byte read and
provider of a failover chain. The observer, health and spend hooks are called from here only.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from hfproviders._config import NO_TOKEN_SENT, ClientConfig
from hfproviders._errors import (
    AllProvidersFailedError,
    APIError,
    APITimeoutError,
    HFProvidersError,
    IncompleteStreamError,
    InvalidParameterError,
    error_from_response,
    redact_headers,
    scrub_error,
)
from hfproviders._headers import parse_rate_limit
from hfproviders._options import Testing
from hfproviders._request import CHAT, Request
from hfproviders._retry import decide_retry, is_failover_eligible
from hfproviders._routing import POLICIES, concrete_provider
from hfproviders._types import AttemptEvent, ChatCompletion, ResponseMeta

if TYPE_CHECKING:
    from hfproviders._hedge import Hedged
    from hfproviders._ratelimit import RateLimiter, Reservation
    from hfproviders._state import SharedRateLimiter

__all__ = ["Call"]

logger = logging.getLogger("hfproviders")
_monotonic = time.monotonic
# Kinds cached under their own entry kind (besides chat, and streams): one embeddings batch.
_CACHE_KINDS = {"embeddings": "embed"}
_PROVIDER_ID_HEADERS = ("inference-id", "x-inference-id", "x-trace-id", "fireworks-request-id")


class Call:
    """One request's state from its first attempt to its answer (or its final error)."""

    __slots__ = (
        "_attempt_started",
        "_body",
        "_ended",
        "_held",
        "_last_event",
        "_sse",
        "_turn",
        "attempt",
        "base_url",
        "body",
        "budget",
        "cached",
        "chain",
        "config",
        "deadline",
        "decoder",
        "failures",
        "kind",
        "meta",
        "model",
        "position",
        "request",
        "secrets",
        "started",
        "stream",
        "trace",
        "trace_parent",
        "url",
    )

    def __init__(self, config: ClientConfig, request: Request) -> None:
        self.config = config
        self.request = request
        self.kind = request.kind.name
        self.model = request.model
        self.url = request.url
        self.stream = request.stream
        self.secrets = request.secrets
        self.body = request.body
        self.base_url = config.base_url
        self.trace: Any = None
        self.trace_parent: Any = None
        self.chain = request.chain
        self.position = 0
        self.attempt = 0
        self.failures: list[HFProvidersError] = []
        self.meta = ResponseMeta()
        self.decoder: Any = None
        self.cached: dict[str, Any] | None = None
        self._turn: Reservation | None = None  # a limiter turn the cache lookup reserved
        self._sse = True
        self._body: bytearray | None = None
        self._ended = False
        self._held: list[Any] = []
        timeout = request.timeout
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0
        ):
            raise InvalidParameterError("timeout must be a number of seconds > 0")
        budget = config.retry.budget
        self.budget = float(budget if budget is not None else timeout or config.timeout)
        self.started = self.deadline = self._attempt_started = self._last_event = 0.0
        if self.stream:  # a stream starts on first iteration: observers see where it was asked
            config.observer.call_created(self)

    # -- what observers see ---------------------------------------------------------------

    @property
    def provider(self) -> str | None:
        """The provider of the current attempt (None: the router chooses)."""
        return self.chain[self.position]

    def __repr__(self) -> str:
        return f"Call({self.kind}, {self.model!r}, provider={self.provider!r})"

    # -- before the first attempt ---------------------------------------------------------

    def start(self) -> bool:
        """Start the clock; True when the cache answers (nothing will be sent)."""
        self.started = _monotonic()
        self.deadline = self.started + self.budget
        config = self.config
        if config.cache is not None and self.request.cache_key is not None:
            self.cached = self._cache_lookup(config)
            if self.cached is not None:
                config.observer.call_started(self)
                return True
        try:
            # Health first: it expands client-side policies (lowest-latency) into providers.
            if config.health is not None and self.request.kind.inference:
                self.chain = tuple(config.health.order(self, self.chain))
            if config.routing != "off" and self.request.kind is CHAT and config.is_router:
                self.chain = _capability_route(config, self.request, self.chain)
            if config.spend is not None and self.request.kind.inference:
                config.spend.check(self)
        except BaseException:
            self._give_back_turn()
            raise
        config.observer.call_started(self)
        return False

    def _cache_lookup(self, config: ClientConfig) -> dict[str, Any] | None:
        from hfproviders._cache import is_cache_entry

        assert config.cache is not None
        assert self.request.cache_key is not None
        lookup = config.lookup_reserving
        if lookup is not None and self.request.kind.inference:
            # One round trip: the cached value, or on a miss the first attempt's limiter turn.
            entry, self._turn = lookup(self.request.cache_key, self.request.token_estimate)
        else:
            entry = config.cache.get(self.request.cache_key)
        wanted = "stream" if self.stream else _CACHE_KINDS.get(self.kind, "chat")
        if entry is None or not is_cache_entry(entry) or entry.get("kind") != wanted:
            return None
        self._give_back_turn()  # none was taken for a hit; this only guards odd entries
        stored = entry.get("meta") or {}
        self.meta.provider = stored.get("provider")
        self.meta.request_id = stored.get("request_id")
        self.meta.status_code = 200
        self.meta.cached = True
        return entry

    def _give_back_turn(self) -> None:
        turn, self._turn = self._turn, None
        if turn is not None:
            turn.release()

    def cached_result(self) -> Any:
        """The answer the cache holds (after `start()` returned True)."""
        assert self.cached is not None
        result = self.request.parse(json.dumps(self.cached["data"]).encode(), self.meta)
        self._ended = True
        self.config.observer.call_ended(self, result, None)
        return result

    def replay(self) -> Iterator[Any]:
        """A cached, complete stream, through the decoder a live one uses."""
        assert self.cached is not None
        decoder = self.decoder = self._new_decoder(_monotonic())
        chunks: list[Any] = []
        for event in self.cached["data"]:
            chunks.extend(decoder.feed_event(event))
        chunks.extend(decoder.finish())
        for chunk in chunks:
            decoder.deliver(chunk)
            yield chunk
        self._ended = True
        self.config.observer.call_ended(self, self.result_so_far(), None)

    # -- one attempt ----------------------------------------------------------------------

    def begin(self) -> RateLimiter | SharedRateLimiter | Reservation | None:
        """A new attempt: the rate limiter to acquire first (lookups are not rate limited).

        The first attempt may get the turn its cache lookup already reserved (`Reservation`).
        """
        now = _monotonic()
        if now >= self.deadline:
            raise self._out_of_time()  # a turn reserved ahead is given back by `_final`
        self.attempt += 1
        self._attempt_started = now
        self.decoder = None
        self._body = None
        if self._turn is not None:
            turn, self._turn = self._turn, None
            return turn
        limiter = self.config.limiter
        return limiter if self.request.kind.inference else None

    def outgoing(self) -> tuple[str, str, dict[str, str], bytes | None, float]:
        """What the transport sends: method, URL, headers, body, and the read timeout."""
        request = self.request
        left = self.deadline - _monotonic()
        per_attempt = request.timeout or self.config.timeout
        timeout = min(per_attempt, left)
        if self.stream:
            timeout = min(timeout, self.config.stream_idle_timeout)
        return (
            request.method,
            self.url,
            request.headers,
            request.content(self.provider),
            max(timeout, 0.001),
        )

    def error_in(self, status: int, headers: dict[str, str], body: bytes) -> APIError:
        """The typed error for an error status (the twin raises it into `failed`)."""
        rate_limit = parse_rate_limit(headers, time.time())
        error = error_from_response(
            status,
            headers,
            body,
            provider=headers.get("x-inference-provider") or concrete_provider(self.provider),
            rate_limit=rate_limit,
            retry_after=rate_limit.retry_after_s if rate_limit else None,
            secrets=self.secrets,
        )
        if status == 401 and "Authorization" not in self.request.headers:
            error.message = f"{error.message} {NO_TOKEN_SENT.format(host=self.config.host)}"
            error.args = (error.message,)
        return error

    def headers_in(self, status: int, headers: dict[str, str]) -> None:
        """A success's headers arrived."""
        meta = self.meta
        provider = headers.get("x-inference-provider") or self.provider
        meta.provider = None if provider in POLICIES else provider
        meta.request_id = headers.get("x-request-id")
        meta.provider_request_id = next(
            (headers[h] for h in _PROVIDER_ID_HEADERS if h in headers), None
        )
        meta.status_code = status
        meta.attempts = self.attempt
        meta.failed_providers = self.failures
        meta.headers = redact_headers(headers, self.secrets)  # a server may echo the token
        meta._received_at = time.time()
        meta._rate_limit = False  # parsed from the headers when first read
        limiter = self.config.limiter
        if limiter is not None and self.request.kind.inference:
            limiter.observe_rate_limit(meta.rate_limit)
        if self.stream:
            self._sse = headers.get("content-type", "").startswith("text/event-stream")
            self.decoder = self._new_decoder(self._attempt_started)
            self._last_event = _monotonic()
            if not self._sse:
                self._body = bytearray()  # a server that ignored `stream: true`: one JSON body

    def _new_decoder(self, started: float) -> Any:
        factory = self.request.kind.decoder
        assert factory is not None
        decoder = factory(self.request, self.meta, started)
        decoder.secrets = self.secrets
        return decoder

    @property
    def max_bytes(self) -> int:
        """The most a success body may hold, decoded."""
        return self.config.max_response_bytes

    def body_in(self, body: bytes) -> Any:
        """A whole success body: its result (accounted, cached, reported)."""
        self.meta.latency_s = _monotonic() - self.started
        result = self.request.parse(body, self.meta)
        if isinstance(result, ChatCompletion):
            self._store("chat", result.raw)
        elif self.kind in _CACHE_KINDS:
            self._store(_CACHE_KINDS[self.kind], result.raw)
        self._succeeded(getattr(result, "usage", None), result)
        return result

    # -- streams ---------------------------------------------------------------------------

    def feed(self, raw: bytes) -> list[Any]:
        """Stream bytes in, result chunks out."""
        now = _monotonic()
        if now >= self.deadline:
            raise self._out_of_time()
        decoder = self.decoder
        events = decoder.events
        if events and self._body is None:  # the common case: a live SSE stream under way
            chunks: list[Any] = decoder.feed(raw)
            if decoder.events != events:
                self._last_event = now
            elif now - self._last_event > self.config.stream_idle_timeout:
                raise self._idle()
            return chunks
        if self._body is not None:
            self._body += raw
            if len(self._body) > self.config.max_response_bytes:
                raise self._too_large()
            return []
        chunks = decoder.feed(raw)
        if decoder.events:
            self.config.observer.first_chunk(self, now - self.started)
            self._last_event = now
        elif now - self._last_event > self.config.stream_idle_timeout:
            raise self._idle()
        return chunks

    def deliver(self, chunks: list[Any]) -> Iterable[Any]:
        """`chunks` to hand out, each folded into the merged view just before it is handed out.

        A chunk counts as delivered only once the caller asks for it: a caller that reads the
        merged view between chunks sees exactly what it was handed, and one that stops early
        leaves the rest undelivered. Most reads bring one chunk (or none): it is folded in and
        handed out at once, without a generator.
        """
        if len(chunks) > 1:
            return self._one_by_one(chunks)
        if chunks:
            self.decoder.deliver(chunks[0])
        return chunks

    def _one_by_one(self, chunks: list[Any]) -> Iterator[Any]:
        deliver = self.decoder.deliver
        for chunk in chunks:
            deliver(chunk)
            yield chunk

    def over(self) -> bool:
        """The stream said it is over ([DONE] or an error event): stop reading."""
        return self.decoder is not None and self.decoder.done

    def hold(self, chunks: list[Any]) -> bool:
        """Keep `chunks`, read by a hedged race to pick its winner, for `held()`: any kept."""
        self._held.extend(chunks)
        return bool(self._held)

    def held(self) -> list[Any]:
        """The chunks a hedged race read before the stream goes on (handed out first)."""
        held, self._held = self._held, []
        return held

    def finish(self) -> list[Any]:
        """End of a stream's body: its last chunks (the caller then calls `stream_ended`).

        A stream cut without `[DONE]` is complete only if it said how it finished (a
        finish_reason; TGI's final `generated_text`); otherwise `IncompleteStreamError`, with
        what arrived and no made-up finish reason.
        """
        decoder = self.decoder
        if self._body is not None:
            return self._whole_body_as_stream(bytes(self._body))
        if decoder.done or decoder.pending_error is not None or decoder.events == 0:
            return list(decoder.finish())
        finished = self._said_how_it_finished(decoder)
        partial = None if finished else self.completion()
        partial_text = None if finished else self.generated_text()
        chunks: list[Any] = decoder.finish()  # raises for a stream cut mid-event
        if not finished and not decoder.done:
            error = IncompleteStreamError(
                "The stream ended without [DONE] or a finish_reason: the answer may be cut short",
                provider=self.meta.provider,
                request_id=self.meta.request_id,
                status_code=200,
            )
            error.partial, error.partial_text = partial, partial_text
            raise error
        return chunks

    def stream_ended(self) -> None:
        """Every chunk was handed out: account, cache and report the stream."""
        decoder = self.decoder
        result = self.result_so_far()
        if self.request.kind is CHAT and decoder.raw_events is not None:
            self._store("stream", decoder.raw_events)
        self._succeeded(getattr(result, "usage", None), result)

    def _said_how_it_finished(self, decoder: Any) -> bool:
        if self.request.kind is CHAT:
            states = getattr(decoder.normalizer, "_choices", None) or {}
            return any(getattr(s, "finish_reason", None) for s in states.values())
        return decoder.generated_text is not None

    def _whole_body_as_stream(self, body: bytes) -> list[Any]:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            data = None
        if not isinstance(data, dict | list):
            self.request.parse(body, self.meta)  # raises the typed error for a non-JSON body
        decoder = self.decoder
        chunks: list[Any] = decoder.feed_json(data)
        chunks.extend(decoder.finish())
        return chunks

    def completion(self) -> ChatCompletion | None:
        """What a chat stream has handed out so far, merged."""
        decoder = self.decoder
        if decoder is None or self.request.kind is not CHAT:
            return None
        result: ChatCompletion = decoder.normalizer.accumulator.result(decoder.meta)
        return result

    def text_only(self) -> str | None:
        """A chat stream's first-choice text so far if that is all it holds, else None."""
        decoder = self.decoder
        if decoder is None or self.request.kind is not CHAT:
            return None
        text: str | None = decoder.normalizer.accumulator.text_only()
        return text

    def generated_text(self) -> str | None:
        """What a text-generation stream has handed out so far."""
        decoder = self.decoder
        if decoder is None or self.request.kind is CHAT:
            return None
        if decoder.generated_text is not None:
            text: str = decoder.generated_text
            return text
        return "".join(decoder.pieces)

    def result_so_far(self) -> Any:
        """A stream's result from what was handed out (a chat completion, or the text)."""
        if self.request.kind is CHAT:
            return self.completion()
        if self.decoder is None:
            return None
        from hfproviders._types import TextGeneration

        return TextGeneration(self.generated_text() or "", meta=self.meta)

    def closed(self) -> None:
        """The caller closed a stream before its end."""
        if not self._ended:
            self._ended = True
            self._release()
            self.config.observer.call_ended(self, self.result_so_far(), None)

    # -- hedging ---------------------------------------------------------------------------

    def hedge_delay(self) -> float | None:
        """Seconds the first attempt gets before it is raced on the next provider (None: no race).

        Only the first attempt on each provider of the chain is hedged (a failover is hedged
        too; a retry is not), and only when the client has `hedge_after`.
        """
        health = self.config.health
        if self.attempt or health is None or not self.request.kind.inference:
            return None
        delay = getattr(health, "hedge_delay", None)
        return delay(self.model, self.provider) if delay is not None else None

    def hedge_early(self) -> Callable[[], bool] | None:
        """A check the hedged race asks while it waits: True starts the hedge before its delay."""
        early = getattr(self.config.health, "hedge_early", None)
        return early(self) if early is not None else None

    def hedge_allowed(self) -> bool:
        """Whether a hedge that is due may start (health's hedge budget; no budget: yes)."""
        allowed = getattr(self.config.health, "hedge_allowed", None)
        return bool(allowed()) if allowed is not None else True

    def twin(self) -> Call:
        """The hedge, made when it starts: this request on another provider.

        That is the first provider, other than this attempt's, of the chain health plans now
        (circuits may have closed or opened since the call started); without health, or when
        that leaves nothing, the call's next provider (the same one at the chain's end).
        """
        request = copy.copy(self.request)
        if request.body is not None:
            request.body = dict(request.body)  # `content()` writes the provider into it
        twin = Call(self.config, request)
        twin.chain, twin.position = self._hedge_route()
        twin.budget = self.budget
        twin.started, twin.deadline = self.started, self.deadline
        twin._ended = True  # reported through this call, never as a call of its own
        return twin

    def _hedge_route(self) -> tuple[tuple[str | None, ...], int]:
        config = self.config
        planned: tuple[str | None, ...] = ()
        health = config.health
        if health is not None:
            order = getattr(health, "hedge_order", health.order)
            try:
                planned = tuple(order(self, self.request.chain))
            except HFProvidersError:  # nothing else is available now: the planned chain
                planned = ()
            routed = config.routing != "off" and self.request.kind is CHAT and config.is_router
            if planned and routed:
                planned = _capability_route(config, self.request, planned)
        others = tuple(p for p in planned if p != self.provider)
        if others:
            return others, 0
        return self.chain, min(self.position + 1, len(self.chain) - 1)

    def raced(self, race: Hedged[tuple[Call, Any]]) -> Any:
        """The race is over: go on with the winner's attempt; its value (body or chunks)."""
        twin, value = race.value
        if twin is not self:
            if race.loser_error is None:
                health = self.config.health
                outran = getattr(health, "outran", None)
                if outran is not None:  # the slow attempt's wait is a latency sample too
                    outran(self.model, self.provider, _monotonic() - self._attempt_started)
            elif isinstance(race.loser_error, HFProvidersError):
                self.attempt_lost(race.loser_error)
            self.meta.copy_from(twin.meta)
            self.chain, self.position, self.attempt = twin.chain, twin.position, twin.attempt
            self._attempt_started, self._last_event = twin._attempt_started, twin._last_event
            self._sse, self._body, self.decoder = twin._sse, twin._body, twin.decoder
            self._held = twin._held
            if self.decoder is not None:
                self.decoder.meta = self.meta
        self.meta.hedged = race.hedged
        return value

    def attempt_lost(self, error: HFProvidersError) -> None:
        """A raced attempt failed while the other went on: report it, decide nothing."""
        if error.provider is None:
            error.provider = concrete_provider(self.provider)
        self._attempt_ended(error.status_code, error, False, None, _monotonic())

    # -- outcomes --------------------------------------------------------------------------

    def failed(self, error: HFProvidersError) -> float:
        """After a failed attempt: seconds to sleep before the next one, or raise the error."""
        scrub_error(error, self.secrets)  # before any observer, log or caller sees it
        decoder = self.decoder
        if decoder is not None and self._body is None:
            if decoder.events > 0:  # chunks were handed out: never retried, never failed over
                self._attempt_ended(error.status_code, error, False, None, _monotonic())
                raise self._final(self._in_stream(error))
            error.in_stream = False  # an error before the first chunk counts as its status
        self.decoder = None
        if error.deadline_exceeded:
            raise self._final(error)
        if error.provider is None:
            error.provider = concrete_provider(self.provider)
        limiter = self.config.limiter
        if limiter is not None and error.rate_limit is not None and self.request.kind.inference:
            limiter.observe_rate_limit(error.rate_limit, status_code=error.status_code or 0)
        now = _monotonic()
        decision = decide_retry(
            self.config.retry, error, self.attempt, now - self.started, budget=self.budget
        )
        retry = decision.retry and not self._fails_over(error)
        self._attempt_ended(error.status_code, error, retry, decision.wait, now)
        if retry:
            return 0.0 if Testing.enabled else decision.wait
        if decision.over_budget:
            if error.retry_after is None:
                error.retry_after = decision.wait
            error.message = f"{error.message} [not retried: {decision.reason}]"
            error.args = (error.message,)
        if (
            self.position + 1 < len(self.chain)
            and is_failover_eligible(error)
            and now < self.deadline
        ):
            self.failures.append(error)
            logger.warning(
                "provider %s failed (%s); failing over to %s",
                self.provider or "auto",
                type(error).__name__,
                self.chain[self.position + 1] or "auto",
            )
            self.position += 1
            self.attempt = 0
            return 0.0
        if self.failures and is_failover_eligible(error):
            raise self._final(AllProvidersFailedError([*self.failures, error])) from error
        raise self._final(error)

    def _fails_over(self, error: HFProvidersError) -> bool:
        """Whether to fail over now rather than retry this provider after a backoff.

        True when another provider is left and health says so (its circuit is open, or the
        failure says the provider is unhealthy).
        """
        if self.position + 1 >= len(self.chain):
            return False
        health = self.config.health
        fails_over = getattr(health, "fails_over", None)
        if fails_over is not None:
            return bool(fails_over(self.model, self.provider, error))
        is_open = getattr(health, "is_open", None)
        return is_open is not None and bool(is_open(self.model, self.provider))

    def _in_stream(self, error: HFProvidersError) -> HFProvidersError:
        error.in_stream = True
        if error.partial is None and self.request.kind is CHAT:
            error.partial = self.completion()
        if self.request.kind is not CHAT and error.partial_text is None:
            error.partial_text = self.generated_text()
        return error

    def _final(self, error: HFProvidersError) -> HFProvidersError:
        scrub_error(error, self.secrets)  # the one exit of every error
        if self.failures and not error.failed_providers:
            error.failed_providers = list(self.failures)
        if not self._ended:
            self._ended = True
            self._release()
            self.config.observer.call_ended(
                self, self.result_so_far() if self.stream else None, error
            )
        return error

    def _release(self) -> None:
        self._give_back_turn()
        spend = self.config.spend
        if spend is not None and self.request.kind.inference:
            spend.release(self)

    def _attempt_ended(
        self,
        status: int | None,
        error: HFProvidersError | None,
        will_retry: bool,
        wait: float | None,
        now: float,
        usage: Any = None,
    ) -> None:
        meta = self.meta
        event = AttemptEvent(
            attempt=self.attempt,
            model=self.model,
            provider=self.provider,
            url=self.url,
            status_code=status,
            elapsed_s=now - self._attempt_started,
            error=error,
            will_retry=will_retry,
            wait_s=wait,
            request_id=error.request_id if error is not None else meta.request_id,
            served_by=meta.provider if error is None else error.provider,
            ttft_s=meta.ttft_s if error is None else None,
            output_tokens=getattr(usage, "completion_tokens", None),
        )
        self.config.observer.attempt_ended(self, event)
        health = self.config.health
        if health is not None and self.request.kind.inference:
            health.record(self, event)

    def _succeeded(self, usage: Any, result: Any) -> None:
        now = _monotonic()
        meta = self.meta
        meta.latency_s = now - self.started
        limiter = self.config.limiter
        if limiter is not None and usage is not None and self.request.kind.inference:
            limiter.record_usage(self.request.token_estimate, usage.total_tokens)
        self._attempt_ended(meta.status_code, None, False, None, now, usage)
        spend = self.config.spend
        if spend is not None and self.request.kind.inference:
            spend.record(self, meta, usage)
        self._ended = True
        self.config.observer.call_ended(self, result, None)

    def _store(self, kind: str, data: Any) -> None:
        cache = self.config.cache
        key = self.request.cache_key
        if cache is None or key is None:
            return
        stored = {"provider": self.meta.provider, "request_id": self.meta.request_id}
        cache.set(key, {"kind": kind, "data": data, "meta": stored})

    # -- typed failures of our own ----------------------------------------------------------

    def _out_of_time(self) -> APITimeoutError:
        error = APITimeoutError(
            f"Timed out: the call ran out of its {self.budget:g}s time budget "
            f"(RetryPolicy.budget, else timeout) talking to {self.config.host}",
            provider=concrete_provider(self.provider),
        )
        error.deadline_exceeded = True
        return error

    def _idle(self) -> APITimeoutError:
        error = APITimeoutError(
            f"Timed out: the stream sent no event for {self.config.stream_idle_timeout:g}s "
            "(stream_idle_timeout)",
            provider=self.meta.provider,
            request_id=self.meta.request_id,
        )
        error.deadline_exceeded = True
        return error

    def _too_large(self) -> APIError:
        return APIError(
            f"The answer is larger than max_response_bytes ({self.config.max_response_bytes})",
            status_code=self.meta.status_code,
            provider=self.meta.provider,
            request_id=self.meta.request_id,
        )


def _capability_route(
    config: ClientConfig, request: Request, chain: tuple[str | None, ...]
) -> tuple[str | None, ...]:
    """Fit the chain to what the request needs, from the catalogue if loaded (no I/O)."""
    from hfproviders._routing import needs_of

    assert request.body is not None
    tools, structured = needs_of(request.body)
    if not (tools or structured) or config.discovery_cache is None:
        return chain
    from hfproviders._catalog import find_model

    models = config.discovery_cache.get_models(config.base_url)
    info = find_model(models, request.model) if models is not None else None
    if info is None:
        return chain
    from hfproviders._routing import route_chain

    return route_chain(request.model, chain, info, tools, structured)


def needs_catalogue(config: ClientConfig, request: Request) -> bool:
    """Whether the call should load the catalogue first.

    It does for `routing="auto"` and a need (tools, structured output), and for the health and
    spend hooks when they ask (`provider="lowest-latency"`, a budget).
    """
    if request.kind is not CHAT or not config.is_router:
        return False
    wants = [getattr(h, "wants_catalogue", None) for h in (config.health, config.spend)]
    if any(w is not None and w(request.chain) for w in wants):
        return config.discovery.get_models(config.base_url) is None
    if config.routing != "auto":
        return False
    from hfproviders._routing import needs_of

    assert request.body is not None
    tools, structured = needs_of(request.body)
    return (tools or structured) and config.discovery.get_models(config.base_url) is None
