"""`HFClient` and `AsyncHFClient`: the I/O twins, short loops over a `Call`.

Every decision is made by the call (`_call.Call`) and the pure modules behind it; the two
classes below only send, read and sleep, side by side, in the same order. `ClientPair` gives a
framework adapter one lazily built sync/async pair from one set of options.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import closing
from typing import TYPE_CHECKING, Any, Unpack

from hfproviders._call import Call, needs_catalogue
from hfproviders._config import ClientConfig
from hfproviders._errors import MAX_ERROR_BODY, APIError, HFProvidersError
from hfproviders._options import ClientOptions
from hfproviders._request import (
    Request,
    batch_calls,
    chat_request,
    lookup_request,
    text_generation_request,
)
from hfproviders._streaming import (
    AsyncChatStream,
    AsyncTextGenerationStream,
    ChatStream,
    TextGenerationStream,
)
from hfproviders._transport import (
    AsyncTransport,
    AsyncWireResponse,
    SyncTransport,
    WireResponse,
)
from hfproviders._types import ChatCompletion, TextGeneration

if TYPE_CHECKING:
    from hfproviders._catalog import DiscoveryCache, ModelInfo
    from hfproviders._embeddings import EmbedCall, EmbeddingBatch, EmbeddingResult, EmbeddingTarget
    from hfproviders._health import ProviderHealth
    from hfproviders._hub import ModelAvailability
    from hfproviders._retry import RetryPolicy
    from hfproviders._routing import ServingCapabilities
    from hfproviders._spend import SpendReport

__all__ = ["AsyncHFClient", "ClientPair", "HFClient"]


class _Shared:
    """What both twins expose without I/O: their settings and the loaded catalogue."""

    _config: ClientConfig

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

    def health(self) -> list[ProviderHealth]:
        """Provider health as this client has seen it: one row per (model, provider).

        Circuit state, error rate and calls in the breaker's window, latency EWMAs, last error.
        Empty when a custom `health=` hook is in use.
        """
        tracker = getattr(self._config.health, "tracker", None)
        return tracker.report() if tracker is not None else []

    def spend(self) -> SpendReport:
        """What this client's calls cost, per model and provider (USD from the catalogue)."""
        from hfproviders._spend import SpendReport

        control = getattr(self._config.spend, "control", None)
        return control.ledger.report() if control is not None else SpendReport(())

    def cached_model_info(self, model: str) -> ModelInfo | None:
        """What the router's catalogue says about `model`, if this client has loaded it.

        Never touches the network (`model_info` and `list_models` do).
        """
        cache = self._config.discovery_cache
        models = cache.get_models(self._config.base_url) if cache is not None else None
        if models is None:
            return None
        from hfproviders._catalog import find_model

        return find_model(models, model)

    def serving_capabilities(
        self, model: str, provider: str | Sequence[str] | None = None
    ) -> ServingCapabilities | None:
        """What the providers this client may use for `model` can do, from the loaded catalogue.

        Context window and tool / structured-output support, for the client's provider setting
        (or `provider`). None when the catalogue is not loaded or does not list the model; it
        never touches the network. Fields are None where the catalogue does not say.
        """
        info = self.cached_model_info(model)
        if info is None or not self._config.is_router:
            return None
        from hfproviders._routing import resolve_chain, serving_capabilities

        _, chain = resolve_chain(model, provider or self._config.provider, router=True)
        return serving_capabilities(info, chain, self._config.routing)

    def _models_request(self) -> Request:
        return lookup_request(self._config, self._config.models_url(), "")

    def _remember(self, data: Any) -> list[ModelInfo]:
        from hfproviders._catalog import models_from_json
        from hfproviders._routing import remember_providers

        models = models_from_json(data, self._config.models_url())
        self._config.discovery.put_models(self._config.base_url, models)
        remember_providers(p.provider for m in models for p in m.providers)
        return models


class HFClient(_Shared):
    """A synchronous client for Hugging Face Inference Providers (and any OpenAI/TGI server).

    One pooled HTTP connection pool per client, reused across calls; close it with `close()` or a
    `with` block. Nothing touches the network before the first call. Options: `ClientOptions`.

    Example:
        >>> with HFClient(provider="together") as client:  # doctest: +SKIP
        ...     answer = client.chat("meta-llama/Llama-3.3-70B-Instruct",
        ...                          [{"role": "user", "content": "Hi"}])
        ...     print(answer.text, answer.provider, answer.usage)

    """

    def __init__(self, *, http_client: Any | None = None, **options: Unpack[ClientOptions]) -> None:
        self._config = ClientConfig.create(options)
        self._transport = SyncTransport(http_client, self._config.timeout)
        self._sleep: Callable[[float], None] = time.sleep

    def __enter__(self) -> HFClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool (a pool passed in as `http_client` is left open).

        Shared stores (`state=`) write what they hold back (spend, latency samples) first.
        """
        if self._config.remote_state:
            from hfproviders._config import flush_remote_stores

            flush_remote_stores(self._config)
        self._transport.close()

    # -- public API ------------------------------------------------------------------------

    def chat(
        self, model: str, messages: Sequence[Mapping[str, Any]], **params: Any
    ) -> ChatCompletion:
        """Send a chat completion and return the whole answer."""
        request = chat_request(self._config, model, messages, params, stream=False)
        result: ChatCompletion = self._run(request)
        return result

    def stream(
        self, model: str, messages: Sequence[Mapping[str, Any]], **params: Any
    ) -> ChatStream:
        """Stream a chat completion: iterate the returned `ChatStream` for chunks."""
        call = Call(self._config, chat_request(self._config, model, messages, params, stream=True))
        return ChatStream(self._stream(call), call)

    def text_generation(self, model: str, prompt: str, **params: Any) -> TextGeneration:
        """Call the text-generation (TGI) API: hf-inference, an Inference Endpoint, or TGI."""
        request = text_generation_request(self._config, model, prompt, params, stream=False)
        result: TextGeneration = self._run(request)
        return result

    def text_generation_stream(
        self, model: str, prompt: str, **params: Any
    ) -> TextGenerationStream:
        """Stream tokens from the text-generation (TGI) API."""
        request = text_generation_request(self._config, model, prompt, params, stream=True)
        call = Call(self._config, request)
        return TextGenerationStream(self._stream(call), call)

    def embed(
        self,
        model: str,
        inputs: str | Sequence[str],
        *,
        provider: str | Sequence[str] | None = None,
        dimensions: int | None = None,
        normalize: bool | None = None,
        truncate: bool | None = None,
        **params: Any,
    ) -> EmbeddingResult:
        """Embed a string or a list of strings: one vector per input, in input order.

        On the router, the providers that serve `model` for feature extraction come from the
        Hub's mapping (`provider=None`/`"auto"`/a policy: every live one, in the Hub's order, as a
        failover chain; or name one or a list). With `base_url` set to an Inference Endpoint or
        TEI, `/embed` (a server root) or `/v1/embeddings` (a `/v1` base) is called. Long lists
        go in batches of `batch_size` (default 32, never over what the provider accepts) with at
        most `max_concurrency` (default 4) in flight; each batch has the retries, failover,
        cache and rate limiter of a chat call. Other keyword arguments go into the body
        (`prompt_name`, `truncation_direction`, …). See `EmbeddingResult`.
        """
        from hfproviders._embeddings import new_embed_call

        call = new_embed_call(
            self._config, model, inputs, provider, dimensions, normalize, truncate, params
        )
        return self._embed(call)

    def _embed(self, call: EmbedCall) -> EmbeddingResult:
        from hfproviders._embeddings import embed_budget

        started = time.monotonic()
        call.start(embed_budget(self._config, call), started)
        if call.needs_lookup:
            from hfproviders._embeddings import choose_targets

            choose_targets(self._config, call, self.model_providers(call.model))
        slices = call.slices()
        if len(slices) == 1:
            batches = self._embed_batch(call, *slices[0])
        else:
            from concurrent.futures import ThreadPoolExecutor

            from hfproviders._embeddings import gather_outcomes

            with ThreadPoolExecutor(max_workers=min(call.max_concurrency, len(slices))) as pool:
                outcomes = list(pool.map(lambda s: self._embed_outcome(call, *s), slices))
            batches = gather_outcomes(slices, outcomes, len(call.texts))
        return call.result(batches, time.monotonic() - started)

    def batch(
        self, requests: Sequence[Mapping[str, Any]], *, max_concurrency: int = 8
    ) -> list[ChatCompletion | HFProvidersError]:
        """Run many chat requests concurrently; results come back in input order.

        Each request is a dict with `model`, `messages` and any chat parameter. A request that
        fails comes back as its error, in place (an unexpected exception is wrapped in an
        `HFProvidersError`): it is not raised and does not stop the others, and every answer
        already received is kept. Retries, failover and the rate limiter apply to each request.
        """
        from concurrent.futures import ThreadPoolExecutor  # httpx.Client is thread-safe

        calls = batch_calls(requests, max_concurrency)

        def run(call: tuple[str, Any, dict[str, Any]]) -> ChatCompletion | HFProvidersError:
            try:
                return self.chat(call[0], call[1], **call[2])
            except Exception as error:  # noqa: BLE001 - every failure stays in its place
                return _as_item_error(error)

        with ThreadPoolExecutor(max_workers=min(max_concurrency, len(calls) or 1)) as pool:
            return list(pool.map(run, calls))

    def list_models(self, *, refresh: bool = False) -> list[ModelInfo]:
        """The router's model catalogue (`GET /v1/models`), cached for `discovery_ttl` seconds."""
        cached = None if refresh else self._config.discovery.get_models(self.base_url)
        if cached is not None:
            return cached
        return self._remember(self._run(self._models_request()))

    def model_info(self, model: str) -> ModelInfo | None:
        """What the router's catalogue says about `model` (its providers, prices, capabilities)."""
        from hfproviders._catalog import find_model

        return find_model(self.list_models(), model)

    def model_providers(self, model: str, *, refresh: bool = False) -> ModelAvailability:
        """Ask the Hub which providers serve `model`, and whether this token may use it."""
        from hfproviders._hub import HubLookup

        lookup = HubLookup(self._config, model, refresh)
        while (request := lookup.next_request()) is not None:
            try:
                lookup.answered(self._run(request))
            except APIError as error:
                lookup.failed(error)
        return lookup.result()

    # -- the loops -------------------------------------------------------------------------

    def _embed_outcome(
        self, call: EmbedCall, start: int, stop: int
    ) -> list[EmbeddingBatch] | HFProvidersError:
        try:
            return self._embed_batch(call, start, stop)
        except HFProvidersError as error:  # kept in place: the other batches go on
            return error

    def _embed_batch(self, call: EmbedCall, start: int, stop: int) -> list[EmbeddingBatch]:
        failures: list[HFProvidersError] = []
        for position, target in enumerate(call.targets):
            try:
                batches = self._embed_on(call, target, start, stop)
            except HFProvidersError as error:
                call.next_provider(error, failures, position)
                continue
            batches[0].meta.failed_providers[:0] = call.tried(failures)
            return batches
        raise AssertionError("an embed call always has a provider to try")

    def _embed_on(
        self, call: EmbedCall, target: EmbeddingTarget, start: int, stop: int
    ) -> list[EmbeddingBatch]:
        from hfproviders._embeddings import embedding_request

        batches: list[EmbeddingBatch] = []
        for first, last in call.slices_for(target, start, stop):
            try:
                request = embedding_request(
                    self._config, call, target, first, last, time.monotonic()
                )
                batches.append(self._run(request))
            except HFProvidersError as error:
                if not call.learn_limit(target, error, last - first):
                    raise
                batches.extend(self._embed_on(call, target, first, last))
        return batches

    def _load_catalogue(self, request: Request) -> None:
        if needs_catalogue(self._config, request):
            try:
                self.list_models()
            except HFProvidersError as error:  # routing is best effort: the call still goes
                _log_catalogue_failure(error)

    def _send(self, call: Call) -> WireResponse:
        limiter = call.begin()
        if limiter is not None:
            limiter.acquire(call.request.token_estimate)
        response = self._transport.send(*call.outgoing())
        if response.status_code >= 300:  # 3xx too: redirects are never followed
            raise call.error_in(
                response.status_code, response.headers, response.read(MAX_ERROR_BODY)
            )
        call.headers_in(response.status_code, response.headers)
        return response

    def _run(self, request: Request) -> Any:
        self._load_catalogue(request)
        call = Call(self._config, request)
        if call.start():
            return call.cached_result()
        while True:
            try:
                delay = call.hedge_delay()
                if delay is not None:
                    return call.body_in(self._hedged(call, delay))
                response = self._send(call)
                return call.body_in(response.read(cap=call.max_bytes, deadline=call.deadline))
            except HFProvidersError as error:
                wait = call.failed(error)
            if wait > 0:
                self._sleep(wait)

    def _hedged(self, call: Call, delay: float) -> bytes:
        """The first attempt, raced after `delay` s by the same request where health says now."""
        from hfproviders._hedge import race

        def attempt(index: int, stop: threading.Event) -> tuple[Call, bytes]:
            racer = call.twin() if index else call  # the hedge goes where health says now
            try:
                response = self._send(racer)
                return racer, response.read(cap=racer.max_bytes, deadline=racer.deadline)
            except HFProvidersError as error:
                if index:
                    racer.attempt_lost(error)
                raise

        body: bytes = call.raced(
            race(attempt, delay, _ignore, call.hedge_early(), call.hedge_allowed)
        )
        return body

    def _stream(self, call: Call) -> Iterator[Any]:
        self._load_catalogue(call.request)
        if call.start():
            yield from call.replay()
            return
        while True:
            try:
                with closing(self._open(call)) as response:
                    yield from call.deliver(call.held())  # what a hedged race read first
                    for raw in response.chunks(until=call.over):
                        yield from call.deliver(call.feed(raw))
                    yield from call.deliver(call.finish())
                call.stream_ended()
                return
            except HFProvidersError as error:
                wait = call.failed(error)
            if wait > 0:
                self._sleep(wait)

    def _open(self, call: Call) -> WireResponse:
        """Send a stream's request. Hedged, each racer reads up to its first event (or end)."""
        delay = call.hedge_delay()
        if delay is None:
            return self._send(call)
        from hfproviders._hedge import race

        def attempt(index: int, stop: threading.Event) -> tuple[Call, WireResponse]:
            racer = call.twin() if index else call  # the hedge goes where health says now
            try:
                response = self._send(racer)
                try:
                    for raw in response.chunks(until=racer.over):
                        if racer.hold(racer.feed(raw)):
                            break
                    return racer, response
                except BaseException:
                    response.close()
                    raise
            except HFProvidersError as error:
                if index:
                    racer.attempt_lost(error)
                raise

        opened: WireResponse = call.raced(
            race(attempt, delay, _close_opened, call.hedge_early(), call.hedge_allowed)
        )
        return opened


class AsyncHFClient(_Shared):
    """The asyncio twin of `HFClient`: same options, `await` on every call.

    Example:
        >>> async with AsyncHFClient() as client:  # doctest: +SKIP
        ...     async for chunk in client.stream("openai/gpt-oss-120b:groq",
        ...                                      [{"role": "user", "content": "Hi"}]):
        ...         print(chunk.choices[0].delta.content or "", end="") if chunk.choices else None

    """

    def __init__(
        self, *, http_async_client: Any | None = None, **options: Unpack[ClientOptions]
    ) -> None:
        import asyncio  # here, so `import hfproviders` does not pay for asyncio

        self._config = ClientConfig.create(options)
        self._transport = AsyncTransport(http_async_client, self._config.timeout)
        self._sleep: Callable[[float], Any] = asyncio.sleep
        self._step = _store_steps(self._config)

    async def __aenter__(self) -> AsyncHFClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pools, one per event loop used (yours, if given, stay open).

        Shared stores (`state=`) write what they hold back first, on the asyncio client.
        """
        if self._config.remote_state:
            from hfproviders._config import flush_remote_stores

            await self._step(flush_remote_stores, self._config)
        await self._transport.close()

    async def ahealth(self) -> list[ProviderHealth]:
        """Async twin of `health()`: with shared state (`state=`) its reads are awaited on the loop.

        `health()` still works on this client, but reads a shared store with the sync client,
        blocking the loop for its round trips.
        """
        rows: list[ProviderHealth] = await self._step(self.health)
        return rows

    async def aspend(self) -> SpendReport:
        """Async twin of `spend()`: with shared state its reads are awaited on the loop."""
        report: SpendReport = await self._step(self.spend)
        return report

    def close(self) -> None:
        """Close the pools from synchronous code; inside a running loop, `await aclose()`."""
        import asyncio

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self._transport.close_outside_loop()
            return
        raise TypeError("AsyncHFClient.close() inside an event loop: use `await client.aclose()`")

    # -- public API ------------------------------------------------------------------------

    async def chat(
        self, model: str, messages: Sequence[Mapping[str, Any]], **params: Any
    ) -> ChatCompletion:
        """Send a chat completion and return the whole answer."""
        request = chat_request(self._config, model, messages, params, stream=False)
        result: ChatCompletion = await self._run(request)
        return result

    def stream(
        self, model: str, messages: Sequence[Mapping[str, Any]], **params: Any
    ) -> AsyncChatStream:
        """Stream a chat completion: `async for chunk in client.stream(...)`."""
        call = Call(self._config, chat_request(self._config, model, messages, params, stream=True))
        return AsyncChatStream(self._stream(call), call)

    async def text_generation(self, model: str, prompt: str, **params: Any) -> TextGeneration:
        """Call the text-generation (TGI) API: hf-inference, an Inference Endpoint, or TGI."""
        request = text_generation_request(self._config, model, prompt, params, stream=False)
        result: TextGeneration = await self._run(request)
        return result

    def text_generation_stream(
        self, model: str, prompt: str, **params: Any
    ) -> AsyncTextGenerationStream:
        """Stream tokens from the text-generation (TGI) API."""
        request = text_generation_request(self._config, model, prompt, params, stream=True)
        call = Call(self._config, request)
        return AsyncTextGenerationStream(self._stream(call), call)

    async def embed(
        self,
        model: str,
        inputs: str | Sequence[str],
        *,
        provider: str | Sequence[str] | None = None,
        dimensions: int | None = None,
        normalize: bool | None = None,
        truncate: bool | None = None,
        **params: Any,
    ) -> EmbeddingResult:
        """Embed a string or a list of strings; the async twin of `HFClient.embed`."""
        from hfproviders._embeddings import new_embed_call

        call = new_embed_call(
            self._config, model, inputs, provider, dimensions, normalize, truncate, params
        )
        return await self._embed(call)

    async def _embed(self, call: EmbedCall) -> EmbeddingResult:
        import asyncio

        from hfproviders._embeddings import embed_budget

        started = time.monotonic()
        call.start(embed_budget(self._config, call), started)
        if call.needs_lookup:
            from hfproviders._embeddings import choose_targets

            choose_targets(self._config, call, await self.model_providers(call.model))
        slices = call.slices()
        if len(slices) == 1:
            batches = await self._embed_batch(call, *slices[0])
        else:
            from hfproviders._embeddings import gather_outcomes

            gate = asyncio.Semaphore(call.max_concurrency)

            async def run(start: int, stop: int) -> list[EmbeddingBatch]:
                async with gate:
                    return await self._embed_batch(call, start, stop)

            outcomes = await asyncio.gather(*(run(*s) for s in slices), return_exceptions=True)
            batches = gather_outcomes(slices, outcomes, len(call.texts))
        return call.result(batches, time.monotonic() - started)

    async def batch(
        self, requests: Sequence[Mapping[str, Any]], *, max_concurrency: int = 8
    ) -> list[ChatCompletion | HFProvidersError]:
        """Run many chat requests concurrently; results come back in input order.

        The async twin of `HFClient.batch`. Its tasks never outlive it: if the batch itself is
        cancelled, every task is cancelled and awaited before the cancellation goes on.
        """
        import asyncio

        calls = batch_calls(requests, max_concurrency)
        gate = asyncio.Semaphore(max_concurrency)

        async def run(call: tuple[str, Any, dict[str, Any]]) -> ChatCompletion | HFProvidersError:
            async with gate:
                try:
                    return await self.chat(call[0], call[1], **call[2])
                except Exception as error:  # noqa: BLE001 - every failure stays in its place
                    return _as_item_error(error)

        tasks = [asyncio.ensure_future(run(call)) for call in calls]
        try:
            return list(await asyncio.gather(*tasks))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def list_models(self, *, refresh: bool = False) -> list[ModelInfo]:
        """The router's model catalogue (`GET /v1/models`), cached for `discovery_ttl` seconds."""
        cached = None if refresh else self._config.discovery.get_models(self.base_url)
        if cached is not None:
            return cached
        return self._remember(await self._run(self._models_request()))

    async def model_info(self, model: str) -> ModelInfo | None:
        """What the router's catalogue says about `model` (its providers, prices, capabilities)."""
        from hfproviders._catalog import find_model

        return find_model(await self.list_models(), model)

    async def model_providers(self, model: str, *, refresh: bool = False) -> ModelAvailability:
        """Ask the Hub which providers serve `model`, and whether this token may use it."""
        from hfproviders._hub import HubLookup

        lookup = HubLookup(self._config, model, refresh)
        while (request := lookup.next_request()) is not None:
            try:
                lookup.answered(await self._run(request))
            except APIError as error:
                lookup.failed(error)
        return lookup.result()

    # -- the loops -------------------------------------------------------------------------

    async def _embed_batch(self, call: EmbedCall, start: int, stop: int) -> list[EmbeddingBatch]:
        failures: list[HFProvidersError] = []
        for position, target in enumerate(call.targets):
            try:
                batches = await self._embed_on(call, target, start, stop)
            except HFProvidersError as error:
                call.next_provider(error, failures, position)
                continue
            batches[0].meta.failed_providers[:0] = call.tried(failures)
            return batches
        raise AssertionError("an embed call always has a provider to try")

    async def _embed_on(
        self, call: EmbedCall, target: EmbeddingTarget, start: int, stop: int
    ) -> list[EmbeddingBatch]:
        from hfproviders._embeddings import embedding_request

        batches: list[EmbeddingBatch] = []
        for first, last in call.slices_for(target, start, stop):
            try:
                request = embedding_request(
                    self._config, call, target, first, last, time.monotonic()
                )
                batches.append(await self._run(request))
            except HFProvidersError as error:
                if not call.learn_limit(target, error, last - first):
                    raise
                batches.extend(await self._embed_on(call, target, first, last))
        return batches

    async def _load_catalogue(self, request: Request) -> None:
        if needs_catalogue(self._config, request):
            try:
                await self.list_models()
            except HFProvidersError as error:  # routing is best effort: the call still goes
                _log_catalogue_failure(error)

    async def _send(self, call: Call) -> AsyncWireResponse:
        limiter = call.begin()
        if limiter is not None:
            await limiter.aacquire(call.request.token_estimate)
        response = await self._transport.send(*call.outgoing())
        if response.status_code >= 300:  # 3xx too: redirects are never followed
            raise call.error_in(
                response.status_code, response.headers, await response.read(MAX_ERROR_BODY)
            )
        await self._step(call.headers_in, response.status_code, response.headers)
        return response

    async def _run(self, request: Request) -> Any:
        await self._load_catalogue(request)
        call = Call(self._config, request)
        step = self._step  # a step that may reach a store on Redis is awaited, not blocking
        if await step(call.start):
            return call.cached_result()
        while True:
            try:
                delay = await step(call.hedge_delay)
                if delay is not None:
                    return await step(call.body_in, await self._hedged(call, delay))
                response = await self._send(call)
                body = await response.read(cap=call.max_bytes, deadline=call.deadline)
                return await step(call.body_in, body)
            except HFProvidersError as error:
                wait = await step(call.failed, error)
            if wait > 0:
                await self._sleep(wait)

    async def _hedged(self, call: Call, delay: float) -> bytes:
        """The first attempt, raced after `delay` s by the same request where health says now."""
        from hfproviders._hedge import race_async

        async def attempt(index: int) -> tuple[Call, bytes]:
            # The hedge goes where health says now (planning it may reach a store: a step).
            racer = await self._step(call.twin) if index else call
            try:
                response = await self._send(racer)
                return racer, await response.read(cap=racer.max_bytes, deadline=racer.deadline)
            except HFProvidersError as error:
                if index:
                    await self._step(racer.attempt_lost, error)
                raise

        early = await self._step(call.hedge_early)
        race = await race_async(attempt, delay, _aignore, early, call.hedge_allowed)
        body: bytes = await self._step(call.raced, race)
        return body

    async def _stream(self, call: Call) -> AsyncIterator[Any]:
        await self._load_catalogue(call.request)
        if await self._step(call.start):
            for chunk in call.replay():
                yield chunk
            return
        while True:
            try:
                response = await self._open(call)
                try:
                    for chunk in call.deliver(call.held()):  # what a hedged race read first
                        yield chunk
                    async for raw in response.chunks(until=call.over):
                        for chunk in call.deliver(call.feed(raw)):
                            yield chunk
                    for chunk in call.deliver(call.finish()):
                        yield chunk
                finally:
                    await response.close()
                await self._step(call.stream_ended)
                return
            except HFProvidersError as error:
                wait = await self._step(call.failed, error)
            if wait > 0:
                await self._sleep(wait)

    async def _open(self, call: Call) -> AsyncWireResponse:
        """Send a stream's request. Hedged, each racer reads up to its first event (or end)."""
        delay = await self._step(call.hedge_delay)
        if delay is None:
            return await self._send(call)
        from hfproviders._hedge import race_async

        async def attempt(index: int) -> tuple[Call, AsyncWireResponse]:
            racer = await self._step(call.twin) if index else call  # planned now, as above
            try:
                response = await self._send(racer)
                try:
                    async for raw in response.chunks(until=racer.over):
                        if racer.hold(racer.feed(raw)):
                            break
                    return racer, response
                except BaseException:
                    await response.close()
                    raise
            except HFProvidersError as error:
                if index:
                    await self._step(racer.attempt_lost, error)
                raise

        early = await self._step(call.hedge_early)
        race = await race_async(attempt, delay, _aclose_opened, early, call.hedge_allowed)
        opened: AsyncWireResponse = await self._step(call.raced, race)
        return opened


class ClientPair:
    """One lazily built `HFClient` / `AsyncHFClient` pair from one set of options.

    For framework adapters: both clients share one `DiscoveryCache` (a catalogue loaded on one
    side routes the other), are made on first use, and are closed by `close()` / `aclose()`.
    `options` (a callable returning `ClientOptions` plus `http_client` / `http_async_client`)
    is called when a client is first needed, so it reads the adapter's settings as they are
    then. A copy or a pickle of a pair starts empty.
    """

    __slots__ = ("_async", "_discovery", "_sync")

    def __init__(self) -> None:
        self._sync: HFClient | None = None
        self._async: AsyncHFClient | None = None
        self._discovery: DiscoveryCache | None = None

    def _options(self, options: Callable[[], dict[str, Any]], drop: str) -> dict[str, Any]:
        made = options()
        made.pop(drop, None)
        if made.get("discovery") is None:
            if self._discovery is None:
                from hfproviders._catalog import DiscoveryCache

                self._discovery = DiscoveryCache(ttl_s=made.get("discovery_ttl") or 600.0)
            made["discovery"] = self._discovery
        return made

    def sync(self, options: Callable[[], dict[str, Any]]) -> HFClient:
        """The sync client, made from `options()` on first use."""
        if self._sync is None:
            with _LOCK:
                if self._sync is None:
                    self._sync = HFClient(**self._options(options, "http_async_client"))
        return self._sync

    def async_(self, options: Callable[[], dict[str, Any]]) -> AsyncHFClient:
        """The async client (it keeps one pool per event loop), made on first use."""
        if self._async is None:
            with _LOCK:
                if self._async is None:
                    self._async = AsyncHFClient(**self._options(options, "http_client"))
        return self._async

    @property
    def any(self) -> HFClient | AsyncHFClient | None:
        """Whichever client exists (they share their catalogue), or None."""
        return self._sync if self._sync is not None else self._async

    def close(self) -> None:
        """Close the sync client's pool (and the async one's, outside a running loop)."""
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def aclose(self) -> None:
        """Close the async client's pools."""
        if self._async is not None:
            await self._async.aclose()
            self._async = None

    def __copy__(self) -> ClientPair:
        return ClientPair()

    def __deepcopy__(self, memo: dict[int, Any]) -> ClientPair:
        return ClientPair()

    def __reduce__(self) -> tuple[type[ClientPair], tuple[()]]:
        return (ClientPair, ())


# Two threads racing the first call must not build two pools; reentrant, as a client is made
# while it is held.
_LOCK = threading.RLock()


async def _direct(function: Callable[..., Any], *args: Any) -> Any:
    """A step of a call whose stores are all in this process: nothing to await."""
    return function(*args)


def _store_steps(config: ClientConfig) -> Callable[..., Awaitable[Any]]:
    """How the async twin runs a `Call` step that may reach a store (cache, limiter, health, spend).

    Directly; or, when a store keeps its state on Redis, as an async step whose round trips are
    awaited on the loop (`hfproviders._state.async_step`).
    """
    if not config.remote_state:
        return _direct
    from hfproviders._state import async_step

    return async_step


def _close_opened(value: tuple[Call, WireResponse]) -> None:
    """A raced stream that lost: close its response."""
    value[1].close()


async def _aclose_opened(value: tuple[Call, AsyncWireResponse]) -> None:
    """A raced stream that lost: close its response."""
    await value[1].close()


def _ignore(value: object) -> None:
    """A hedge's late loser: its body was read whole, nothing to close."""


async def _aignore(value: object) -> None:
    """A hedge's loser that answered as it was cancelled: nothing to close."""


def _as_item_error(error: Exception) -> HFProvidersError:
    if isinstance(error, HFProvidersError):
        return error
    wrapped = HFProvidersError(f"{type(error).__name__}: {error}")
    wrapped.__cause__ = error
    return wrapped


def _log_catalogue_failure(error: HFProvidersError) -> None:
    import logging

    logging.getLogger("hfproviders").warning(
        "could not load the model catalogue for routing: %s", error
    )
