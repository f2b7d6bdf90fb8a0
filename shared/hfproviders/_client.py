"""`HFClient` and `AsyncHFClient`.

Everything that is a decision lives in pure code shared by both (`_CallPlan`, `_AttemptState`,
`_params`, `_retry`, `_normalize`, `_streaming`); the two classes below only do I/O, side by side,
in the same order: send, read, sleep.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

from hfproviders._config import ClientConfig
from hfproviders._errors import (
    AllProvidersFailedError,
    APIError,
    HFProvidersError,
    InvalidParameterError,
    error_from_response,
    error_from_stream_event,
    redact,
)
from hfproviders._headers import parse_rate_limit
from hfproviders._normalize import opens_think_block, parse_chat_completion, parse_text_generation
from hfproviders._params import build_chat_body, build_text_generation_body
from hfproviders._providers import ProviderChain, resolve_chain
from hfproviders._retry import RetryPolicy, decide_retry, is_failover_eligible
from hfproviders._streaming import (
    AsyncChatStream,
    AsyncTextGenerationStream,
    ChatStream,
    ChatStreamDecoder,
    TextGenerationStream,
    TextGenerationStreamDecoder,
)
from hfproviders._transport import (
    MAX_ERROR_BODY,
    AsyncTransport,
    AsyncWireResponse,
    SyncTransport,
    WireResponse,
)
from hfproviders._types import (
    AttemptEvent,
    ChatCompletion,
    ResponseMeta,
    TextGeneration,
)

__all__ = ["AsyncHFClient", "HFClient"]

logger = logging.getLogger("hfproviders")

_PROVIDER_ID_HEADERS = ("inference-id", "x-inference-id", "x-trace-id", "fireworks-request-id")
AttemptHook = Callable[[AttemptEvent], None]


class _CallPlan:
    """One validated call: where it goes, what it sends, and how to read the answer."""

    __slots__ = (
        "body",
        "chain",
        "headers",
        "kind",
        "model",
        "stream",
        "template_opens_think",
        "timeout",
        "tool_names",
        "url",
    )

    def __init__(
        self,
        kind: Literal["chat", "text_generation"],
        model: str,
        chain: ProviderChain,
        url: str,
        body: dict[str, Any],
        headers: dict[str, str],
        timeout: float | None,
        stream: bool,
    ) -> None:
        self.kind = kind
        self.model = model
        self.chain = chain
        self.url = url
        self.body = body
        self.headers = headers
        self.timeout = timeout
        self.stream = stream
        self.template_opens_think = opens_think_block(model)
        tools = body.get("tools") or ()
        self.tool_names = frozenset(t["function"]["name"] for t in tools) or None

    def content(self, provider: str | None) -> bytes:
        """The JSON body for one provider of the chain."""
        if self.kind == "chat" and provider is not None:
            self.body["model"] = f"{self.model}:{provider}"
        return json.dumps(self.body, ensure_ascii=False).encode()


class _AttemptState:
    """Retry and failover bookkeeping for one call (pure: the loops sleep, this decides)."""

    __slots__ = ("_client", "attempt", "failures", "plan", "position", "started")

    def __init__(self, client: _ClientBase, plan: _CallPlan) -> None:
        self._client = client
        self.plan = plan
        self.position = 0
        self.attempt = 0
        self.failures: list[HFProvidersError] = []
        self.started = time.monotonic()

    @property
    def provider(self) -> str | None:
        return self.plan.chain[self.position]

    def begin(self) -> None:
        self.attempt += 1

    def meta(self, status: int, headers: dict[str, str]) -> ResponseMeta:
        """Meta for a successful response (headers in); also reports the attempt."""
        provider = headers.get("x-inference-provider") or self.provider
        if provider in ("fastest", "cheapest", "preferred"):
            provider = None
        meta = ResponseMeta(
            provider=provider,
            request_id=headers.get("x-request-id"),
            provider_request_id=next(
                (headers[h] for h in _PROVIDER_ID_HEADERS if h in headers), None
            ),
            status_code=status,
            attempts=self.attempt,
            rate_limit=parse_rate_limit(headers, time.time()),
            failed_providers=self.failures,
            headers=headers,
        )
        self._client._report(self, status, None, False, None, meta.request_id)
        return meta

    def failed(self, error: HFProvidersError) -> float:
        """Decide after a failed attempt: the wait before retrying (same or next provider).

        Raises the final error when there is nothing left to try.
        """
        if error.provider is None and self.provider not in (
            None,
            "fastest",
            "cheapest",
            "preferred",
        ):
            error.provider = self.provider
        decision = decide_retry(
            self._client._config.retry, error, self.attempt, time.monotonic() - self.started
        )
        self._client._report(
            self, error.status_code, error, decision.retry, decision.wait, error.request_id
        )
        if decision.retry:
            return decision.wait
        if decision.over_budget and error.retry_after is None:
            error.retry_after = decision.wait
        if decision.over_budget:
            error.message = f"{error.message} [not retried: {decision.reason}]"
            error.args = (error.message,)
        if self.position + 1 < len(self.plan.chain) and is_failover_eligible(error):
            self.failures.append(error)
            logger.warning(
                "provider %s failed (%s); failing over to %s",
                self.provider or "auto",
                type(error).__name__,
                self.plan.chain[self.position + 1] or "auto",
            )
            self.position += 1
            self.attempt = 0
            self.started = time.monotonic()
            return 0.0
        if self.failures and is_failover_eligible(error):
            raise AllProvidersFailedError([*self.failures, error]) from error
        raise error


class _ClientBase:
    """Configuration and pure helpers shared by the sync and async clients."""

    _config: ClientConfig

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        provider: str | Sequence[str] | None,
        bill_to: str | None,
        timeout: float | None,
        max_retries: int | None,
        retry: RetryPolicy | None,
        default_headers: Mapping[str, str] | None,
        max_input_chars: int | None,
        on_attempt: AttemptHook | None,
    ) -> None:
        self._config = ClientConfig.create(
            api_key=api_key,
            base_url=base_url,
            provider=provider if isinstance(provider, str | None) else list(provider),
            bill_to=bill_to,
            timeout=timeout,
            max_retries=max_retries,
            retry=retry,
            default_headers=default_headers,
            max_input_chars=max_input_chars,
        )
        if provider is not None and self._config.is_router:
            resolve_chain("org/model", provider, router=True)  # fail fast on a bad provider
        self._on_attempt = on_attempt

    @property
    def base_url(self) -> str:
        """Where requests go."""
        return self._config.base_url

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry policy in force."""
        return self._config.retry

    def __repr__(self) -> str:
        provider = self._config.provider
        return f"{type(self).__name__}(base_url={self._config.base_url!r}, provider={provider!r})"

    # -- planning (pure) -------------------------------------------------------------------

    def _plan_chat(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        params: dict[str, Any],
        *,
        stream: bool,
    ) -> _CallPlan:
        provider = params.pop("provider", None) or self._config.provider
        extra_body = params.pop("extra_body", None)
        extra_headers = params.pop("extra_headers", None)
        timeout = params.pop("timeout", None)
        stream_usage = params.pop("stream_usage", True)
        base, chain = resolve_chain(model, provider, router=self._config.is_router)
        body = build_chat_body(
            base,
            messages,
            params,
            stream=stream,
            stream_usage=bool(stream_usage),
            extra_body=extra_body,
            max_input_chars=self._config.max_input_chars,
        )
        if not self._config.is_router:
            body["model"] = model
        headers = self._config.headers(stream=stream, extra=extra_headers)
        return _CallPlan(
            "chat", base, chain, self._config.chat_url(), body, headers, timeout, stream
        )

    def _plan_text_generation(
        self, model: str, prompt: str, params: dict[str, Any], *, stream: bool
    ) -> _CallPlan:
        extra_body = params.pop("extra_body", None)
        extra_headers = params.pop("extra_headers", None)
        timeout = params.pop("timeout", None)
        provider = params.pop("provider", None)
        base, suffix = model, None
        if self._config.is_router:
            base, chain = resolve_chain(model, provider, router=True)
            if chain not in ((None,), ("hf-inference",)):
                raise InvalidParameterError(
                    "The text-generation API runs on hf-inference (or your own endpoint / TGI); "
                    f"got provider {chain!r}. Use chat() for other providers."
                )
        del suffix
        body = build_text_generation_body(
            prompt,
            params,
            stream=stream,
            extra_body=extra_body,
            max_input_chars=self._config.max_input_chars,
        )
        headers = self._config.headers(stream=stream, extra=extra_headers)
        url = self._config.text_generation_url(base)
        return _CallPlan("text_generation", base, (None,), url, body, headers, timeout, stream)

    # -- reading (pure) --------------------------------------------------------------------

    def _status_error(
        self, status: int, headers: dict[str, str], body: bytes, provider: str | None
    ) -> APIError:
        rate_limit = parse_rate_limit(headers, time.time())
        return error_from_response(
            status,
            headers,
            body,
            provider=headers.get("x-inference-provider") or _concrete(provider),
            rate_limit=rate_limit,
            retry_after=rate_limit.retry_after_s if rate_limit else None,
            secrets=self._config.secrets(),
        )

    def _parse_body(self, plan: _CallPlan, body: bytes, meta: ResponseMeta) -> Any:
        try:
            data = json.loads(body)
        except ValueError:
            error = APIError(
                f"The server answered 200 with a body that is not JSON: {body[:200]!r}",
                status_code=meta.status_code,
                provider=meta.provider,
                request_id=meta.request_id,
                body=body[:MAX_ERROR_BODY].decode("utf-8", "replace"),
            )
            raise error from None
        if isinstance(data, dict) and data.get("error"):
            error = error_from_stream_event(
                data, provider=meta.provider, request_id=meta.request_id
            )
            error.in_stream = False
            raise error
        if plan.kind == "chat":
            if not isinstance(data, dict) or "choices" not in data:
                raise APIError(
                    "The server's answer has no 'choices'",
                    status_code=meta.status_code,
                    provider=meta.provider,
                    request_id=meta.request_id,
                    body=body[:MAX_ERROR_BODY].decode("utf-8", "replace"),
                )
            return parse_chat_completion(
                data,
                meta,
                template_opens_think=plan.template_opens_think,
                tool_names=plan.tool_names,
            )
        try:
            return parse_text_generation(data, meta)
        except ValueError:
            raise APIError(
                "The server's answer is not a text-generation result",
                status_code=meta.status_code,
                provider=meta.provider,
                request_id=meta.request_id,
                body=body[:MAX_ERROR_BODY].decode("utf-8", "replace"),
            ) from None

    def _report(
        self,
        state: _AttemptState,
        status: int | None,
        error: HFProvidersError | None,
        will_retry: bool,
        wait: float | None,
        request_id: str | None,
    ) -> None:
        elapsed = time.monotonic() - state.started
        provider = state.provider
        if error is None:
            logger.debug(
                "POST %s model=%s provider=%s attempt=%d -> %s request_id=%s (%.3fs)",
                state.plan.url,
                state.plan.model,
                provider or "auto",
                state.attempt,
                status,
                request_id,
                elapsed,
            )
        else:
            logger.log(
                logging.INFO if will_retry else logging.DEBUG,
                "POST %s model=%s provider=%s attempt=%d -> %s %s%s",
                state.plan.url,
                state.plan.model,
                provider or "auto",
                state.attempt,
                status if status is not None else type(error).__name__,
                redact(error.message[:200], self._config.secrets()),
                f"; retrying in {wait:.2f}s" if will_retry and wait is not None else "",
            )
        if self._on_attempt is not None:
            event = AttemptEvent(
                attempt=state.attempt,
                model=state.plan.model,
                provider=provider,
                url=state.plan.url,
                status_code=status,
                elapsed_s=elapsed,
                error=error,
                will_retry=will_retry,
                wait_s=wait,
                request_id=request_id,
            )
            try:
                self._on_attempt(event)
            except Exception:  # a metrics hook must never break the call
                logger.exception("on_attempt hook raised; ignored")


def _concrete(provider: str | None) -> str | None:
    return None if provider in (None, "fastest", "cheapest", "preferred") else provider


def _is_sse(headers: Mapping[str, str]) -> bool:
    return headers.get("content-type", "").startswith("text/event-stream")


class HFClient(_ClientBase):
    """A synchronous client for Hugging Face Inference Providers (and any OpenAI/TGI server).

    One pooled HTTP connection pool per client, reused across calls; close it with `close()` or a
    `with` block. Nothing touches the network before the first call.

    Example:
        >>> with HFClient(provider="together") as client:  # doctest: +SKIP
        ...     answer = client.chat("meta-llama/Llama-3.3-70B-Instruct",
        ...                          [{"role": "user", "content": "Hi"}])
        ...     print(answer.text, answer.provider, answer.usage)

    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        provider: str | Sequence[str] | None = None,
        bill_to: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        default_headers: Mapping[str, str] | None = None,
        http_client: Any | None = None,
        max_input_chars: int | None = 2_000_000,
        on_attempt: AttemptHook | None = None,
    ) -> None:
        super().__init__(
            api_key=api_key,
            base_url=base_url,
            provider=provider,
            bill_to=bill_to,
            timeout=timeout,
            max_retries=max_retries,
            retry=retry,
            default_headers=default_headers,
            max_input_chars=max_input_chars,
            on_attempt=on_attempt,
        )
        self._transport = SyncTransport(http_client, self._config.timeout)
        self._sleep: Callable[[float], None] = time.sleep

    def __enter__(self) -> HFClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool (a pool passed in as `http_client` is left open)."""
        self._transport.close()

    # -- public API ------------------------------------------------------------------------

    def chat(
        self, model: str, messages: Sequence[Mapping[str, Any]], **params: Any
    ) -> ChatCompletion:
        """Send a chat completion and return the whole answer."""
        plan = self._plan_chat(model, messages, params, stream=False)
        result: ChatCompletion = self._request(plan)
        return result

    def stream(
        self, model: str, messages: Sequence[Mapping[str, Any]], **params: Any
    ) -> ChatStream:
        """Stream a chat completion: iterate the returned `ChatStream` for chunks."""
        plan = self._plan_chat(model, messages, params, stream=True)
        meta = ResponseMeta()
        holder: list[ChatStreamDecoder] = []
        generator = self._stream(plan, meta, holder)
        return ChatStream(generator, meta, lambda: _completion_of(holder))

    def text_generation(self, model: str, prompt: str, **params: Any) -> TextGeneration:
        """Call the text-generation (TGI) API: hf-inference, an Inference Endpoint, or TGI."""
        plan = self._plan_text_generation(model, prompt, params, stream=False)
        result: TextGeneration = self._request(plan)
        return result

    def text_generation_stream(
        self, model: str, prompt: str, **params: Any
    ) -> TextGenerationStream:
        """Stream tokens from the text-generation (TGI) API."""
        plan = self._plan_text_generation(model, prompt, params, stream=True)
        meta = ResponseMeta()
        holder: list[TextGenerationStreamDecoder] = []
        generator = self._stream(plan, meta, holder)
        return TextGenerationStream(generator, meta, lambda: _text_of(holder))

    # -- I/O -------------------------------------------------------------------------------

    def _send(self, plan: _CallPlan, state: _AttemptState) -> WireResponse:
        state.begin()
        response = self._transport.send(
            "POST", plan.url, plan.headers, plan.content(state.provider), plan.timeout
        )
        if response.status_code >= 400:
            body = response.read(MAX_ERROR_BODY)
            raise self._status_error(response.status_code, response.headers, body, state.provider)
        return response

    def _request(self, plan: _CallPlan) -> Any:
        state = _AttemptState(self, plan)
        while True:
            try:
                response = self._send(plan, state)
                meta = state.meta(response.status_code, response.headers)
                body = response.read()
                meta.latency_s = time.monotonic() - state.started
                return self._parse_body(plan, body, meta)
            except HFProvidersError as error:
                wait = state.failed(error)
            if wait > 0:
                self._sleep(wait)

    def _stream(self, plan: _CallPlan, meta: ResponseMeta, holder: list[Any]) -> Iterator[Any]:
        state = _AttemptState(self, plan)
        while True:
            decoder: Any = None
            try:
                response = self._send(plan, state)
                try:
                    _fill_meta(meta, state.meta(response.status_code, response.headers))
                    if not _is_sse(response.headers):
                        yield from _whole_body_as_stream(self, plan, response.read(), meta, holder)
                        return
                    decoder = _new_decoder(plan, meta, state.started)
                    holder[:] = [decoder]
                    for raw in response.iter_bytes():
                        for chunk in decoder.feed(raw):
                            decoder.deliver(chunk)
                            yield chunk
                    for chunk in decoder.finish():
                        decoder.deliver(chunk)
                        yield chunk
                    return
                finally:
                    response.close()
            except HFProvidersError as error:
                if decoder is not None and decoder.events > 0:
                    raise _mark_in_stream(error, decoder) from None
                wait = state.failed(error)
            if wait > 0:
                self._sleep(wait)


class AsyncHFClient(_ClientBase):
    """The asyncio twin of `HFClient`: same options, `await` on every call.

    Example:
        >>> async with AsyncHFClient() as client:  # doctest: +SKIP
        ...     async for chunk in client.stream("openai/gpt-oss-120b:groq",
        ...                                      [{"role": "user", "content": "Hi"}]):
        ...         print(chunk.choices[0].delta.content or "", end="") if chunk.choices else None

    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        provider: str | Sequence[str] | None = None,
        bill_to: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        default_headers: Mapping[str, str] | None = None,
        http_async_client: Any | None = None,
        max_input_chars: int | None = 2_000_000,
        on_attempt: AttemptHook | None = None,
    ) -> None:
        super().__init__(
            api_key=api_key,
            base_url=base_url,
            provider=provider,
            bill_to=bill_to,
            timeout=timeout,
            max_retries=max_retries,
            retry=retry,
            default_headers=default_headers,
            max_input_chars=max_input_chars,
            on_attempt=on_attempt,
        )
        self._transport = AsyncTransport(http_async_client, self._config.timeout)
        self._sleep: Callable[[float], Any] = asyncio.sleep

    async def __aenter__(self) -> AsyncHFClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (a pool passed in as `http_async_client` is left open)."""
        await self._transport.close()

    close = aclose

    # -- public API ------------------------------------------------------------------------

    async def chat(
        self, model: str, messages: Sequence[Mapping[str, Any]], **params: Any
    ) -> ChatCompletion:
        """Send a chat completion and return the whole answer."""
        plan = self._plan_chat(model, messages, params, stream=False)
        result: ChatCompletion = await self._request(plan)
        return result

    def stream(
        self, model: str, messages: Sequence[Mapping[str, Any]], **params: Any
    ) -> AsyncChatStream:
        """Stream a chat completion: `async for chunk in client.stream(...)`."""
        plan = self._plan_chat(model, messages, params, stream=True)
        meta = ResponseMeta()
        holder: list[ChatStreamDecoder] = []
        generator = self._stream(plan, meta, holder)
        return AsyncChatStream(generator, meta, lambda: _completion_of(holder))

    async def text_generation(self, model: str, prompt: str, **params: Any) -> TextGeneration:
        """Call the text-generation (TGI) API: hf-inference, an Inference Endpoint, or TGI."""
        plan = self._plan_text_generation(model, prompt, params, stream=False)
        result: TextGeneration = await self._request(plan)
        return result

    def text_generation_stream(
        self, model: str, prompt: str, **params: Any
    ) -> AsyncTextGenerationStream:
        """Stream tokens from the text-generation (TGI) API."""
        plan = self._plan_text_generation(model, prompt, params, stream=True)
        meta = ResponseMeta()
        holder: list[TextGenerationStreamDecoder] = []
        generator = self._stream(plan, meta, holder)
        return AsyncTextGenerationStream(generator, meta, lambda: _text_of(holder))

    # -- I/O -------------------------------------------------------------------------------

    async def _send(self, plan: _CallPlan, state: _AttemptState) -> AsyncWireResponse:
        state.begin()
        response = await self._transport.send(
            "POST", plan.url, plan.headers, plan.content(state.provider), plan.timeout
        )
        if response.status_code >= 400:
            body = await response.read(MAX_ERROR_BODY)
            raise self._status_error(response.status_code, response.headers, body, state.provider)
        return response

    async def _request(self, plan: _CallPlan) -> Any:
        state = _AttemptState(self, plan)
        while True:
            try:
                response = await self._send(plan, state)
                meta = state.meta(response.status_code, response.headers)
                body = await response.read()
                meta.latency_s = time.monotonic() - state.started
                return self._parse_body(plan, body, meta)
            except HFProvidersError as error:
                wait = state.failed(error)
            if wait > 0:
                await self._sleep(wait)

    async def _stream(
        self, plan: _CallPlan, meta: ResponseMeta, holder: list[Any]
    ) -> AsyncIterator[Any]:
        state = _AttemptState(self, plan)
        while True:
            decoder: Any = None
            try:
                response = await self._send(plan, state)
                try:
                    _fill_meta(meta, state.meta(response.status_code, response.headers))
                    if not _is_sse(response.headers):
                        body = await response.read()
                        for chunk in _whole_body_as_stream(self, plan, body, meta, holder):
                            yield chunk
                        return
                    decoder = _new_decoder(plan, meta, state.started)
                    holder[:] = [decoder]
                    async for raw in response.iter_bytes():
                        for chunk in decoder.feed(raw):
                            decoder.deliver(chunk)
                            yield chunk
                    for chunk in decoder.finish():
                        decoder.deliver(chunk)
                        yield chunk
                    return
                finally:
                    await response.close()
            except HFProvidersError as error:
                if decoder is not None and decoder.events > 0:
                    raise _mark_in_stream(error, decoder) from None
                wait = state.failed(error)
            if wait > 0:
                await self._sleep(wait)


# -- helpers shared by both stream loops (pure) ----------------------------------------------


def _fill_meta(target: ResponseMeta, source: ResponseMeta) -> None:
    for name in ResponseMeta.__slots__:
        setattr(target, name, getattr(source, name))


def _new_decoder(plan: _CallPlan, meta: ResponseMeta, started: float) -> Any:
    if plan.kind == "chat":
        return ChatStreamDecoder(meta, started, plan.template_opens_think)
    return TextGenerationStreamDecoder(meta, started)


def _mark_in_stream(error: HFProvidersError, decoder: Any) -> HFProvidersError:
    error.in_stream = True
    if error.partial is None and isinstance(decoder, ChatStreamDecoder):
        error.partial = decoder.normalizer.accumulator.result(decoder.meta)
    return error


def _whole_body_as_stream(
    client: _ClientBase, plan: _CallPlan, body: bytes, meta: ResponseMeta, holder: list[Any]
) -> list[Any]:
    """A server that ignored `stream: true` and sent JSON: replay its answer as chunks."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict | list):
        client._parse_body(plan, body, meta)  # raises the typed error for a non-JSON body
    decoder = _new_decoder(plan, meta, time.monotonic())
    holder[:] = [decoder]
    chunks: list[Any] = decoder.feed_json(data)
    chunks.extend(decoder.finish())
    for chunk in chunks:
        decoder.deliver(chunk)
    return chunks


def _completion_of(holder: list[Any]) -> ChatCompletion | None:
    if not holder:
        return None
    decoder: ChatStreamDecoder = holder[0]
    return decoder.normalizer.accumulator.result(decoder.meta)


def _text_of(holder: list[Any]) -> str | None:
    if not holder:
        return None
    decoder: TextGenerationStreamDecoder = holder[0]
    if decoder.generated_text is not None:
        return decoder.generated_text
    return "".join(decoder.pieces)
