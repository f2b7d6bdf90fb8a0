"""`HFClient` and `AsyncHFClient`.

Everything that is a decision lives in pure code shared by both (`_CallPlan`, `_AttemptState`,
`_params`, `_retry`, `_normalize`, `_streaming`); the two classes below only do I/O, side by side,
in the same order: send, read, sleep.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import urlencode

from hfproviders._cache import ResponseCache, cache_key, is_cache_entry
from hfproviders._config import USER_AGENT, ClientConfig, lookup_token
from hfproviders._discovery import DiscoveryCache, ModelInfo, find_model, parse_models_response
from hfproviders._errors import (
    AllProvidersFailedError,
    APIError,
    HFProvidersError,
    InvalidParameterError,
    InvalidRequestInputError,
    error_from_response,
    error_from_stream_event,
    redact,
)
from hfproviders._headers import parse_rate_limit
from hfproviders._hub import (
    ModelAvailability,
    availability_after_access_check,
    availability_from_hub_error,
    availability_from_hub_json,
    hub_auth_check_url,
    hub_model_info_request,
    needs_access_check,
)
from hfproviders._normalize import opens_think_block, parse_chat_completion, parse_text_generation
from hfproviders._params import build_chat_body, build_text_generation_body
from hfproviders._providers import ProviderChain, remember_providers, resolve_chain
from hfproviders._ratelimit import RateLimiter
from hfproviders._retry import RetryPolicy, decide_retry, is_failover_eligible
from hfproviders._routing import needs_of, route_chain
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
        "cache_key",
        "chain",
        "headers",
        "kind",
        "method",
        "model",
        "stream",
        "template_opens_think",
        "timeout",
        "token_estimate",
        "tool_names",
        "url",
    )

    def __init__(
        self,
        kind: Literal["chat", "text_generation", "json"],
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
        self.method = "GET" if kind == "json" else "POST"
        self.template_opens_think = opens_think_block(model)
        tools = body.get("tools") or ()
        self.tool_names = frozenset(t["function"]["name"] for t in tools) or None
        self.cache_key: str | None = None
        self.token_estimate = 1

    def content(self, provider: str | None) -> bytes | None:
        """The JSON body for one provider of the chain."""
        if self.method == "GET":
            return None
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
        if self._client._limiter is not None and self.plan.kind != "json":
            self._client._limiter.observe_rate_limit(meta.rate_limit)
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
        limiter = self._client._limiter
        if limiter is not None and error.rate_limit is not None and self.plan.kind != "json":
            limiter.observe_rate_limit(error.rate_limit)
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
        cache: ResponseCache | None,
        rate_limiter: RateLimiter | None,
        routing: Literal["off", "cached", "auto"],
        discovery_ttl: float,
    ) -> None:
        if routing not in ("off", "cached", "auto"):
            raise InvalidParameterError("routing must be 'off', 'cached' or 'auto'")
        self._cache = cache
        self._limiter = rate_limiter
        self._routing = routing
        self._discovery = DiscoveryCache(ttl_s=discovery_ttl)
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
        plan = _CallPlan(
            "chat", base, chain, self._config.chat_url(), body, headers, timeout, stream
        )
        if self._limiter is not None:
            plan.token_estimate = _estimate_tokens(body)
        if self._cache is not None:
            plan.cache_key = cache_key(
                {
                    "base_url": self._config.base_url,
                    "kind": "chat",
                    "model": base,
                    "provider": list(chain),
                    "body": body,
                }
            )
        return plan

    def _plan_json(self, url: str, what: str, *, hub: bool = False) -> _CallPlan:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        token = self._hub_token() if hub else self._config.token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return _CallPlan("json", what, (None,), url, {}, headers, None, False)

    def _hub_token(self) -> str | None:
        # Hub lookups carry the client's token when its host is Hugging Face's, else the token
        # found in the environment: a key given for another server never goes to the Hub.
        if self._config.sends_token_to_hf:
            try:
                return self._config.token()
            except InvalidRequestInputError:
                return None
        return lookup_token()

    # -- discovery, routing and cache (pure) -----------------------------------------------

    def cached_model_info(self, model: str) -> ModelInfo | None:
        """What the router's catalogue says about `model`, if this client has loaded it.

        Never touches the network (`model_info` and `list_models` do).
        """
        models = self._discovery.get_models(self._config.base_url)
        return find_model(models, model) if models is not None else None

    def _catalogue_needed(self, plan: _CallPlan) -> bool:
        if self._routing != "auto" or plan.kind != "chat" or not self._config.is_router:
            return False
        tools, structured = needs_of(plan.body)
        return (tools or structured) and self._discovery.get_models(self._config.base_url) is None

    def _route(self, plan: _CallPlan) -> None:
        if self._routing == "off" or plan.kind != "chat" or not self._config.is_router:
            return
        tools, structured = needs_of(plan.body)
        if not (tools or structured):
            return
        info = self.cached_model_info(plan.model)
        if info is not None:
            plan.chain = route_chain(plan.model, plan.chain, info, tools, structured)

    def _remember_models(self, data: Any) -> list[ModelInfo]:
        try:
            models = parse_models_response(data)
        except ValueError as exc:
            raise APIError(f"Unexpected answer from {self._config.models_url()}: {exc}") from None
        self._discovery.put_models(self._config.base_url, models)
        remember_providers(p.provider for m in models for p in m.providers)
        return models

    def _hub_plan(self, model: str) -> _CallPlan:
        url, params = hub_model_info_request(model)
        return self._plan_json(f"{url}?{urlencode(params)}", model, hub=True)

    def _cache_lookup(self, plan: _CallPlan, kind: str) -> dict[str, Any] | None:
        if self._cache is None or plan.cache_key is None:
            return None
        entry = self._cache.get(plan.cache_key)
        if entry is None or not is_cache_entry(entry) or entry.get("kind") != kind:
            return None
        return entry

    def _cache_store(self, plan: _CallPlan, kind: str, data: Any, meta: ResponseMeta) -> None:
        if self._cache is None or plan.cache_key is None:
            return
        stored = {"provider": meta.provider, "request_id": meta.request_id}
        self._cache.set(plan.cache_key, {"kind": kind, "data": data, "meta": stored})

    def _cached_meta(self, entry: dict[str, Any]) -> ResponseMeta:
        stored = entry.get("meta") or {}
        return ResponseMeta(
            provider=stored.get("provider"),
            request_id=stored.get("request_id"),
            status_code=200,
            cached=True,
        )

    def _record_usage(self, plan: _CallPlan, result: Any) -> None:
        usage = getattr(result, "usage", None)
        if self._limiter is not None and usage is not None:
            self._limiter.record_usage(plan.token_estimate, usage.total_tokens)

    def _done(self, plan: _CallPlan, result: Any) -> Any:
        """A successful non-streamed answer: account its usage, cache it."""
        if isinstance(result, ChatCompletion):
            self._record_usage(plan, result)
            self._cache_store(plan, "chat", result.raw, result.meta)
        return result

    def _from_cache(self, plan: _CallPlan, entry: dict[str, Any]) -> Any:
        body = json.dumps(entry["data"]).encode()
        return self._parse_body(plan, body, self._cached_meta(entry))

    def _decoder(
        self, plan: _CallPlan, meta: ResponseMeta, started: float, holder: list[Any]
    ) -> Any:
        decoder = _new_decoder(plan, meta, started)
        if plan.cache_key is not None and isinstance(decoder, ChatStreamDecoder):
            decoder.raw_events = []
        holder[:] = [decoder]
        return decoder

    def _stream_done(self, plan: _CallPlan, decoder: Any) -> None:
        """A stream that ended normally: account its usage, cache its events."""
        if isinstance(decoder, ChatStreamDecoder):
            self._record_usage(plan, decoder.normalizer.accumulator.result(decoder.meta))
            if decoder.raw_events is not None:
                self._cache_store(plan, "stream", decoder.raw_events, decoder.meta)

    def _availability_from_json(self, plan: _CallPlan, data: Any) -> ModelAvailability:
        if not isinstance(data, Mapping):
            raise APIError(f"Unexpected Hub answer for {plan.model}")
        return availability_from_hub_json(plan.model, data, token_given=_has_token(plan))

    def _availability_from_error(self, plan: _CallPlan, error: APIError) -> ModelAvailability:
        availability = availability_from_hub_error(
            plan.model, error.status_code or 0, error.headers, token_given=_has_token(plan)
        )
        if availability is None:
            raise error
        return availability

    def _availability_checked(
        self, availability: ModelAvailability, error: APIError | None
    ) -> ModelAvailability:
        if error is None:
            checked = availability_after_access_check(availability, 200, {})
        else:
            checked = availability_after_access_check(
                availability, error.status_code or 0, error.headers
            )
        if checked is None:
            assert error is not None
            raise error
        return checked

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
        if plan.kind == "json":
            return data
        if isinstance(data, dict) and data.get("error"):
            error = error_from_stream_event(
                data, provider=meta.provider, request_id=meta.request_id
            )
            error.in_stream = False
            raise error

        def unexpected(what: str) -> APIError:
            return APIError(
                what,
                status_code=meta.status_code,
                provider=meta.provider,
                request_id=meta.request_id,
                body=body[:MAX_ERROR_BODY].decode("utf-8", "replace"),
            )

        try:
            if plan.kind == "chat":
                if not isinstance(data, dict) or "choices" not in data:
                    raise unexpected("The server's answer has no 'choices'")
                return parse_chat_completion(
                    data,
                    meta,
                    template_opens_think=plan.template_opens_think,
                    tool_names=plan.tool_names,
                )
            return parse_text_generation(data, meta)
        except (AttributeError, TypeError, ValueError, KeyError, IndexError):
            # Valid JSON of a shape no provider sends: a typed error, never a crash.
            kind = "chat completion" if plan.kind == "chat" else "text-generation result"
            raise unexpected(f"The server's answer is not a {kind}") from None

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
        cache: ResponseCache | None = None,
        rate_limiter: RateLimiter | None = None,
        routing: Literal["off", "cached", "auto"] = "cached",
        discovery_ttl: float = 600.0,
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

    def batch(
        self, requests: Sequence[Mapping[str, Any]], *, max_concurrency: int = 8
    ) -> list[ChatCompletion | HFProvidersError]:
        """Run many chat requests concurrently; results come back in input order.

        Each request is a dict with `model`, `messages` and any chat parameter. A request that
        fails comes back as its typed error, in place: it is not raised and does not stop the
        others. Retries, failover and the rate limiter apply to each request as usual.
        """
        from concurrent.futures import ThreadPoolExecutor  # httpx.Client is thread-safe

        calls = _batch_calls(requests, max_concurrency)

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
        return find_model(self.list_models(), model)

    def model_providers(self, model: str, *, refresh: bool = False) -> ModelAvailability:
        """Ask the Hub which providers serve `model`, and whether this token may use it."""
        cached = None if refresh else self._discovery.get_availability(_bare(model))
        if cached is not None:
            return cached
        plan = self._hub_plan(model)
        try:
            availability = self._availability_from_json(plan, self._request(plan))
        except APIError as error:
            availability = self._availability_from_error(plan, error)
        if availability.accessible is None and needs_access_check(
            availability, token_given=_has_token(plan)
        ):
            check = self._plan_json(hub_auth_check_url(model), model, hub=True)
            try:
                self._request(check)
                availability = self._availability_checked(availability, None)
            except APIError as error:
                availability = self._availability_checked(availability, error)
        self._discovery.put_availability(availability)
        return availability

    def _prepare(self, plan: _CallPlan) -> None:
        if self._catalogue_needed(plan):
            try:
                self.list_models()
            except HFProvidersError as error:  # routing is best effort: the call still goes
                logger.warning("could not load the model catalogue for routing: %s", error)
        self._route(plan)

    def _send(self, plan: _CallPlan, state: _AttemptState) -> WireResponse:
        state.begin()
        if self._limiter is not None and plan.kind != "json":  # lookups are not inference
            self._limiter.acquire(plan.token_estimate)
        response = self._transport.send(
            plan.method, plan.url, plan.headers, plan.content(state.provider), plan.timeout
        )
        if response.status_code >= 400:
            body = response.read(MAX_ERROR_BODY)
            raise self._status_error(response.status_code, response.headers, body, state.provider)
        return response

    def _request(self, plan: _CallPlan) -> Any:
        self._prepare(plan)
        entry = self._cache_lookup(plan, "chat")
        if entry is not None:
            return self._from_cache(plan, entry)
        state = _AttemptState(self, plan)
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

    def _stream(self, plan: _CallPlan, meta: ResponseMeta, holder: list[Any]) -> Iterator[Any]:
        self._prepare(plan)
        entry = self._cache_lookup(plan, "stream")
        if entry is not None:
            yield from _replay(plan, entry, self._cached_meta(entry), meta, holder)
            return
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
        cache: ResponseCache | None = None,
        rate_limiter: RateLimiter | None = None,
        routing: Literal["off", "cached", "auto"] = "cached",
        discovery_ttl: float = 600.0,
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

    async def batch(
        self, requests: Sequence[Mapping[str, Any]], *, max_concurrency: int = 8
    ) -> list[ChatCompletion | HFProvidersError]:
        """Run many chat requests concurrently; results come back in input order.

        The async twin of `HFClient.batch`: failures come back as typed errors in place.
        """
        import asyncio

        calls = _batch_calls(requests, max_concurrency)
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
        return find_model(await self.list_models(), model)

    async def model_providers(self, model: str, *, refresh: bool = False) -> ModelAvailability:
        """Ask the Hub which providers serve `model`, and whether this token may use it."""
        cached = None if refresh else self._discovery.get_availability(_bare(model))
        if cached is not None:
            return cached
        plan = self._hub_plan(model)
        try:
            availability = self._availability_from_json(plan, await self._request(plan))
        except APIError as error:
            availability = self._availability_from_error(plan, error)
        if availability.accessible is None and needs_access_check(
            availability, token_given=_has_token(plan)
        ):
            check = self._plan_json(hub_auth_check_url(model), model, hub=True)
            try:
                await self._request(check)
                availability = self._availability_checked(availability, None)
            except APIError as error:
                availability = self._availability_checked(availability, error)
        self._discovery.put_availability(availability)
        return availability

    async def _prepare(self, plan: _CallPlan) -> None:
        if self._catalogue_needed(plan):
            try:
                await self.list_models()
            except HFProvidersError as error:  # routing is best effort: the call still goes
                logger.warning("could not load the model catalogue for routing: %s", error)
        self._route(plan)

    async def _send(self, plan: _CallPlan, state: _AttemptState) -> AsyncWireResponse:
        state.begin()
        if self._limiter is not None and plan.kind != "json":  # lookups are not inference
            await self._limiter.aacquire(plan.token_estimate)
        response = await self._transport.send(
            plan.method, plan.url, plan.headers, plan.content(state.provider), plan.timeout
        )
        if response.status_code >= 400:
            body = await response.read(MAX_ERROR_BODY)
            raise self._status_error(response.status_code, response.headers, body, state.provider)
        return response

    async def _request(self, plan: _CallPlan) -> Any:
        await self._prepare(plan)
        entry = self._cache_lookup(plan, "chat")
        if entry is not None:
            return self._from_cache(plan, entry)
        state = _AttemptState(self, plan)
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
        self, plan: _CallPlan, meta: ResponseMeta, holder: list[Any]
    ) -> AsyncIterator[Any]:
        await self._prepare(plan)
        entry = self._cache_lookup(plan, "stream")
        if entry is not None:
            for chunk in _replay(plan, entry, self._cached_meta(entry), meta, holder):
                yield chunk
            return
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


def _batch_calls(
    requests: Sequence[Mapping[str, Any]], max_concurrency: int
) -> list[tuple[str, Any, dict[str, Any]]]:
    if not isinstance(max_concurrency, int) or max_concurrency < 1:
        raise InvalidParameterError("max_concurrency must be an integer >= 1")
    calls = []
    for position, request in enumerate(requests):
        if not isinstance(request, Mapping) or "model" not in request or "messages" not in request:
            raise InvalidParameterError(
                f"requests[{position}] must be a dict with 'model', 'messages' and parameters"
            )
        params = {k: v for k, v in request.items() if k not in ("model", "messages")}
        calls.append((request["model"], request["messages"], params))
    return calls


def _replay(
    plan: _CallPlan,
    entry: dict[str, Any],
    cached: ResponseMeta,
    meta: ResponseMeta,
    holder: list[Any],
) -> Iterator[Any]:
    """Replay a cached, complete stream through the same decoder a live one uses."""
    _fill_meta(meta, cached)
    decoder = _new_decoder(plan, meta, time.monotonic())
    holder[:] = [decoder]
    chunks: list[Any] = []
    for event in entry["data"]:
        chunks.extend(decoder.feed_event(event))
    chunks.extend(decoder.finish())
    for chunk in chunks:
        decoder.deliver(chunk)
        yield chunk


def _estimate_tokens(body: Mapping[str, Any]) -> int:
    """A rough token count for the limiter's tokens/min budget: ~4 characters a token."""
    chars = 0
    for message in body.get("messages") or ():
        content = message.get("content")
        if isinstance(content, str):
            chars += len(content)
    return chars // 4 + int(body.get("max_tokens") or 0) + 1


def _bare(model: str) -> str:
    return model.partition(":")[0]


def _has_token(plan: _CallPlan) -> bool:
    return "Authorization" in plan.headers


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
