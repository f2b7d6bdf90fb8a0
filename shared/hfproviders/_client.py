"""`HFClient` and `AsyncHFClient`: the I/O twins.

Every decision lives in pure code they share (`_base`, `_plan`, `_params`, `_retry`,
`_normalize`, `_streaming`); the two classes below only send, read and sleep, side by side, in
the same order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from hfproviders._base import AttemptHook, ClientBase
from hfproviders._errors import (
    MAX_ERROR_BODY,
    APIError,
    HFProvidersError,
)
from hfproviders._plan import (
    AttemptState,
    CallPlan,
    bare_model,
    batch_calls,
    completion_of,
    fill_meta,
    generation_of,
    is_sse,
    mark_in_stream,
    replay_cached_stream,
    text_of,
    whole_body_as_stream,
)
from hfproviders._retry import RetryPolicy
from hfproviders._streaming import (
    AsyncChatStream,
    AsyncTextGenerationStream,
    ChatStream,
    ChatStreamDecoder,
    TextGenerationStream,
    TextGenerationStreamDecoder,
)
from hfproviders._transport import (
    AsyncTransport,
    AsyncWireResponse,
    SyncTransport,
    WireResponse,
)
from hfproviders._types import (
    ChatCompletion,
    ResponseMeta,
    TextGeneration,
)

if TYPE_CHECKING:
    from hfproviders._cache import ResponseCache
    from hfproviders._discovery import DiscoveryCache, ModelInfo
    from hfproviders._hub import ModelAvailability
    from hfproviders._ratelimit import RateLimiter
    from hfproviders._state import SharedRateLimiter, StateBackend
    from hfproviders._telemetry import GenAITelemetry

__all__ = ["AsyncHFClient", "HFClient"]

logger = logging.getLogger("hfproviders")


class HFClient(ClientBase):
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
        cache: ResponseCache | None = None,
        rate_limiter: RateLimiter | SharedRateLimiter | None = None,
        routing: Literal["off", "cached", "auto"] = "cached",
        discovery_ttl: float = 600.0,
        discovery: DiscoveryCache | None = None,
        router: bool = False,
        telemetry: GenAITelemetry | bool | None = None,
        state: str | StateBackend | None = None,
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
            cache=cache,
            rate_limiter=rate_limiter,
            routing=routing,
            discovery_ttl=discovery_ttl,
            discovery=discovery,
            router=router,
            telemetry=telemetry,
            state=state,
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
        result: ChatCompletion = self._traced(plan) if self._may_trace() else self._request(plan)
        return result

    def stream(
        self, model: str, messages: Sequence[Mapping[str, Any]], **params: Any
    ) -> ChatStream:
        """Stream a chat completion: iterate the returned `ChatStream` for chunks."""
        plan = self._plan_chat(model, messages, params, stream=True)
        meta = ResponseMeta()
        holder: list[ChatStreamDecoder] = []
        generator = self._traced_stream(
            plan, self._stream(plan, meta, holder), lambda: completion_of(holder), meta
        )
        return ChatStream(generator, meta, lambda: completion_of(holder))

    def text_generation(self, model: str, prompt: str, **params: Any) -> TextGeneration:
        """Call the text-generation (TGI) API: hf-inference, an Inference Endpoint, or TGI."""
        plan = self._plan_text_generation(model, prompt, params, stream=False)
        result: TextGeneration = self._traced(plan) if self._may_trace() else self._request(plan)
        return result

    def text_generation_stream(
        self, model: str, prompt: str, **params: Any
    ) -> TextGenerationStream:
        """Stream tokens from the text-generation (TGI) API."""
        plan = self._plan_text_generation(model, prompt, params, stream=True)
        meta = ResponseMeta()
        holder: list[TextGenerationStreamDecoder] = []
        generator = self._traced_stream(
            plan, self._stream(plan, meta, holder), lambda: generation_of(holder, meta), meta
        )
        return TextGenerationStream(generator, meta, lambda: text_of(holder))

    def batch(
        self, requests: Sequence[Mapping[str, Any]], *, max_concurrency: int = 8
    ) -> list[ChatCompletion | HFProvidersError]:
        """Run many chat requests concurrently; results come back in input order.

        Each request is a dict with `model`, `messages` and any chat parameter. A request that
        fails comes back as its typed error, in place: it is not raised and does not stop the
        others. Retries, failover and the rate limiter apply to each request as usual.
        """
        from concurrent.futures import ThreadPoolExecutor  # httpx.Client is thread-safe

        calls = batch_calls(requests, max_concurrency)

        def run(call: tuple[str, Any, dict[str, Any]]) -> ChatCompletion | HFProvidersError:
            try:
                return self.chat(call[0], call[1], **call[2])
            except HFProvidersError as error:
                return error

        with ThreadPoolExecutor(max_workers=min(max_concurrency, len(calls) or 1)) as pool:
            return list(pool.map(run, calls))

    # -- I/O -------------------------------------------------------------------------------

    def list_models(self, *, refresh: bool = False) -> list[ModelInfo]:
        """The router's model catalogue (`GET /v1/models`), cached for `discovery_ttl` seconds."""
        cached = None if refresh else self._discovery.get_models(self._config.base_url)
        if cached is not None:
            return cached
        return self._remember_models(self._request(self._plan_json(self._config.models_url(), "")))

    def model_info(self, model: str) -> ModelInfo | None:
        """What the router's catalogue says about `model` (its providers, prices, capabilities)."""
        from hfproviders._discovery import find_model

        return find_model(self.list_models(), model)

    def model_providers(self, model: str, *, refresh: bool = False) -> ModelAvailability:
        """Ask the Hub which providers serve `model`, and whether this token may use it."""
        cached = None if refresh else self._discovery.get_availability(bare_model(model))
        if cached is not None:
            return cached
        plan = self._hub_plan(model)
        try:
            availability = self._availability_from_json(plan, self._request(plan))
        except APIError as error:
            availability = self._availability_from_error(plan, error)
        if self._needs_access_check(plan, availability):
            check = self._plan_json(_auth_check_url(model), model, hub=True)
            try:
                self._request(check)
                availability = self._availability_checked(availability, None)
            except APIError as error:
                availability = self._availability_checked(availability, error)
        self._discovery.put_availability(availability)
        return availability

    def _prepare(self, plan: CallPlan) -> None:
        if self._catalogue_needed(plan):
            try:
                self.list_models()
            except HFProvidersError as error:  # routing is best effort: the call still goes
                logger.warning("could not load the model catalogue for routing: %s", error)
        self._route(plan)

    def _send(self, plan: CallPlan, state: AttemptState) -> WireResponse:
        state.begin()
        if self._limiter is not None and plan.kind != "json":  # lookups are not inference
            self._limiter.acquire(plan.token_estimate)
        response = self._transport.send(
            plan.method, plan.url, plan.headers, plan.content(state.provider), plan.timeout
        )
        if response.status_code >= 300:  # 3xx too: redirects are never followed
            body = response.read(MAX_ERROR_BODY)
            raise self._status_error(response.status_code, response.headers, body, state.provider)
        return response

    def _traced(self, plan: CallPlan) -> Any:
        trace = self._trace(plan)
        if trace is None:
            return self._request(plan)
        try:
            result = self._request(plan)
        except BaseException as error:
            trace.call_ended(None, None, error)
            raise
        trace.call_ended(result, None, None)
        return result

    def _request(self, plan: CallPlan) -> Any:
        self._prepare(plan)
        entry = self._cache_lookup(plan, "chat")
        if entry is not None:
            return self._from_cache(plan, entry)
        state = AttemptState(self, plan)
        while True:
            try:
                response = self._send(plan, state)
                meta = state.meta(response.status_code, response.headers)
                body = response.read()
                meta.latency_s = time.monotonic() - state.started
                return self._done(plan, self._parse_body(plan, body, meta))
            except HFProvidersError as error:
                wait = state.failed(error)
            if wait > 0:
                self._sleep(wait)

    def _stream(self, plan: CallPlan, meta: ResponseMeta, holder: list[Any]) -> Iterator[Any]:
        self._prepare(plan)
        entry = self._cache_lookup(plan, "stream")
        if entry is not None:
            yield from replay_cached_stream(plan, entry, self._cached_meta(entry), meta, holder)
            return
        state = AttemptState(self, plan)
        while True:
            decoder: Any = None
            try:
                response = self._send(plan, state)
                try:
                    fill_meta(meta, state.meta(response.status_code, response.headers))
                    if not is_sse(response.headers):
                        yield from whole_body_as_stream(self, plan, response.read(), meta, holder)
                        return
                    decoder = self._decoder(plan, meta, state.started, holder)
                    for raw in response.iter_bytes():
                        for chunk in decoder.feed(raw):
                            decoder.deliver(chunk)
                            yield chunk
                    for chunk in decoder.finish():
                        decoder.deliver(chunk)
                        yield chunk
                    self._stream_done(plan, decoder)
                    return
                finally:
                    response.close()
            except HFProvidersError as error:
                if decoder is not None and decoder.events > 0:
                    raise mark_in_stream(error, decoder) from None
                wait = state.failed(error)
            if wait > 0:
                self._sleep(wait)


class AsyncHFClient(ClientBase):
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
        cache: ResponseCache | None = None,
        rate_limiter: RateLimiter | SharedRateLimiter | None = None,
        routing: Literal["off", "cached", "auto"] = "cached",
        discovery_ttl: float = 600.0,
        discovery: DiscoveryCache | None = None,
        router: bool = False,
        telemetry: GenAITelemetry | bool | None = None,
        state: str | StateBackend | None = None,
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
            cache=cache,
            rate_limiter=rate_limiter,
            routing=routing,
            discovery_ttl=discovery_ttl,
            discovery=discovery,
            router=router,
            telemetry=telemetry,
            state=state,
        )
        import asyncio  # here, so `import hfproviders` does not pay for asyncio

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
        traced = self._may_trace()
        result: ChatCompletion = await (self._traced(plan) if traced else self._request(plan))
        return result

    def stream(
        self, model: str, messages: Sequence[Mapping[str, Any]], **params: Any
    ) -> AsyncChatStream:
        """Stream a chat completion: `async for chunk in client.stream(...)`."""
        plan = self._plan_chat(model, messages, params, stream=True)
        meta = ResponseMeta()
        holder: list[ChatStreamDecoder] = []
        generator = self._traced_stream(
            plan, self._stream(plan, meta, holder), lambda: completion_of(holder), meta
        )
        return AsyncChatStream(generator, meta, lambda: completion_of(holder))

    async def text_generation(self, model: str, prompt: str, **params: Any) -> TextGeneration:
        """Call the text-generation (TGI) API: hf-inference, an Inference Endpoint, or TGI."""
        plan = self._plan_text_generation(model, prompt, params, stream=False)
        traced = self._may_trace()
        result: TextGeneration = await (self._traced(plan) if traced else self._request(plan))
        return result

    def text_generation_stream(
        self, model: str, prompt: str, **params: Any
    ) -> AsyncTextGenerationStream:
        """Stream tokens from the text-generation (TGI) API."""
        plan = self._plan_text_generation(model, prompt, params, stream=True)
        meta = ResponseMeta()
        holder: list[TextGenerationStreamDecoder] = []
        generator = self._traced_stream(
            plan, self._stream(plan, meta, holder), lambda: generation_of(holder, meta), meta
        )
        return AsyncTextGenerationStream(generator, meta, lambda: text_of(holder))

    async def batch(
        self, requests: Sequence[Mapping[str, Any]], *, max_concurrency: int = 8
    ) -> list[ChatCompletion | HFProvidersError]:
        """Run many chat requests concurrently; results come back in input order.

        The async twin of `HFClient.batch`: failures come back as typed errors in place.
        """
        import asyncio

        calls = batch_calls(requests, max_concurrency)
        gate = asyncio.Semaphore(max_concurrency)

        async def run(call: tuple[str, Any, dict[str, Any]]) -> ChatCompletion | HFProvidersError:
            async with gate:
                try:
                    return await self.chat(call[0], call[1], **call[2])
                except HFProvidersError as error:
                    return error

        return list(await asyncio.gather(*(run(call) for call in calls)))

    # -- I/O -------------------------------------------------------------------------------

    async def list_models(self, *, refresh: bool = False) -> list[ModelInfo]:
        """The router's model catalogue (`GET /v1/models`), cached for `discovery_ttl` seconds."""
        cached = None if refresh else self._discovery.get_models(self._config.base_url)
        if cached is not None:
            return cached
        plan = self._plan_json(self._config.models_url(), "")
        return self._remember_models(await self._request(plan))

    async def model_info(self, model: str) -> ModelInfo | None:
        """What the router's catalogue says about `model` (its providers, prices, capabilities)."""
        from hfproviders._discovery import find_model

        return find_model(await self.list_models(), model)

    async def model_providers(self, model: str, *, refresh: bool = False) -> ModelAvailability:
        """Ask the Hub which providers serve `model`, and whether this token may use it."""
        cached = None if refresh else self._discovery.get_availability(bare_model(model))
        if cached is not None:
            return cached
        plan = self._hub_plan(model)
        try:
            availability = self._availability_from_json(plan, await self._request(plan))
        except APIError as error:
            availability = self._availability_from_error(plan, error)
        if self._needs_access_check(plan, availability):
            check = self._plan_json(_auth_check_url(model), model, hub=True)
            try:
                await self._request(check)
                availability = self._availability_checked(availability, None)
            except APIError as error:
                availability = self._availability_checked(availability, error)
        self._discovery.put_availability(availability)
        return availability

    async def _prepare(self, plan: CallPlan) -> None:
        if self._catalogue_needed(plan):
            try:
                await self.list_models()
            except HFProvidersError as error:  # routing is best effort: the call still goes
                logger.warning("could not load the model catalogue for routing: %s", error)
        self._route(plan)

    async def _send(self, plan: CallPlan, state: AttemptState) -> AsyncWireResponse:
        state.begin()
        if self._limiter is not None and plan.kind != "json":  # lookups are not inference
            await self._limiter.aacquire(plan.token_estimate)
        response = await self._transport.send(
            plan.method, plan.url, plan.headers, plan.content(state.provider), plan.timeout
        )
        if response.status_code >= 300:  # 3xx too: redirects are never followed
            body = await response.read(MAX_ERROR_BODY)
            raise self._status_error(response.status_code, response.headers, body, state.provider)
        return response

    async def _traced(self, plan: CallPlan) -> Any:
        trace = self._trace(plan)
        if trace is None:
            return await self._request(plan)
        try:
            result = await self._request(plan)
        except BaseException as error:
            trace.call_ended(None, None, error)
            raise
        trace.call_ended(result, None, None)
        return result

    async def _request(self, plan: CallPlan) -> Any:
        await self._prepare(plan)
        entry = self._cache_lookup(plan, "chat")
        if entry is not None:
            return self._from_cache(plan, entry)
        state = AttemptState(self, plan)
        while True:
            try:
                response = await self._send(plan, state)
                meta = state.meta(response.status_code, response.headers)
                body = await response.read()
                meta.latency_s = time.monotonic() - state.started
                return self._done(plan, self._parse_body(plan, body, meta))
            except HFProvidersError as error:
                wait = state.failed(error)
            if wait > 0:
                await self._sleep(wait)

    async def _stream(
        self, plan: CallPlan, meta: ResponseMeta, holder: list[Any]
    ) -> AsyncIterator[Any]:
        await self._prepare(plan)
        entry = self._cache_lookup(plan, "stream")
        if entry is not None:
            for chunk in replay_cached_stream(plan, entry, self._cached_meta(entry), meta, holder):
                yield chunk
            return
        state = AttemptState(self, plan)
        while True:
            decoder: Any = None
            try:
                response = await self._send(plan, state)
                try:
                    fill_meta(meta, state.meta(response.status_code, response.headers))
                    if not is_sse(response.headers):
                        body = await response.read()
                        for chunk in whole_body_as_stream(self, plan, body, meta, holder):
                            yield chunk
                        return
                    decoder = self._decoder(plan, meta, state.started, holder)
                    async for raw in response.iter_bytes():
                        for chunk in decoder.feed(raw):
                            decoder.deliver(chunk)
                            yield chunk
                    for chunk in decoder.finish():
                        decoder.deliver(chunk)
                        yield chunk
                    self._stream_done(plan, decoder)
                    return
                finally:
                    await response.close()
            except HFProvidersError as error:
                if decoder is not None and decoder.events > 0:
                    raise mark_in_stream(error, decoder) from None
                wait = state.failed(error)
            if wait > 0:
                await self._sleep(wait)


def _auth_check_url(model: str) -> str:
    from hfproviders._hub import hub_auth_check_url

    return hub_auth_check_url(model)
