"""What the sync and async clients share: configuration, planning, reading, reporting.

All of it is pure; `HFClient` and `AsyncHFClient` add only the I/O.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

from hfproviders._config import NO_TOKEN_SENT, USER_AGENT, ClientConfig, lookup_token
from hfproviders._errors import (
    MAX_ERROR_BODY,
    APIError,
    HFProvidersError,
    InvalidParameterError,
    InvalidRequestInputError,
    error_from_response,
    error_from_stream_event,
    redact,
)
from hfproviders._headers import parse_rate_limit
from hfproviders._normalize import chat_reading, parse_chat_completion, parse_text_generation
from hfproviders._params import build_chat_body, build_text_generation_body
from hfproviders._plan import (
    AttemptState,
    CallPlan,
    concrete_provider,
    estimate_tokens,
    has_token,
    needs_of,
    new_decoder,
)
from hfproviders._providers import remember_providers, resolve_chain
from hfproviders._retry import RetryPolicy
from hfproviders._state import share_state
from hfproviders._streaming import (
    ChatStreamDecoder,
)
from hfproviders._types import (
    AttemptEvent,
    ChatCompletion,
    ResponseMeta,
)

if TYPE_CHECKING:
    # Discovery, caching and rate limiting load on first use: `import hfproviders` stays cheap.
    from hfproviders._cache import ResponseCache
    from hfproviders._discovery import DiscoveryCache, ModelInfo
    from hfproviders._hub import ModelAvailability
    from hfproviders._ratelimit import RateLimiter
    from hfproviders._routing import ServingCapabilities
    from hfproviders._state import SharedRateLimiter, StateBackend
    from hfproviders._telemetry import CallTrace, GenAITelemetry

logger = logging.getLogger("hfproviders")
AttemptHook = Callable[[AttemptEvent], None]


class ClientBase:
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
        rate_limiter: RateLimiter | SharedRateLimiter | None,
        routing: Literal["off", "cached", "auto"],
        discovery_ttl: float,
        discovery: DiscoveryCache | None,
        router: bool = False,
        telemetry: GenAITelemetry | bool | None = None,
        state: str | StateBackend | None = None,
    ) -> None:
        if routing not in ("off", "cached", "auto"):
            raise InvalidParameterError("routing must be 'off', 'cached' or 'auto'")
        cache, self._limiter = share_state(state, cache, rate_limiter)
        if cache is not None:
            from hfproviders._cache import fail_safe  # a failing cache never costs an answer

            cache = fail_safe(cache)
        self._cache = cache
        self._routing = routing
        # Pass one DiscoveryCache to several clients (a sync and an async twin) to share lookups.
        self._discovery_cache = discovery
        self._discovery_ttl = discovery_ttl
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
            router=router,
        )
        if provider is not None and self._config.is_router:
            resolve_chain("org/model", provider, router=True)  # fail fast on a bad provider
        self._on_attempt = on_attempt
        self._telemetry = _telemetry_option(telemetry)

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

    # -- telemetry -------------------------------------------------------------------------

    def _may_trace(self) -> bool:
        """False when no call of this client can be traced right now (the common, free case)."""
        telemetry = self._telemetry
        if telemetry is None:  # auto: once the process has imported OpenTelemetry and set it up
            modules = sys.modules
            if "opentelemetry.trace" not in modules and "opentelemetry.metrics" not in modules:
                return False
            return _auto_telemetry() is not None
        return telemetry is not False

    def _trace(self, plan: CallPlan, parent: Any = None) -> CallTrace | None:
        """Open the call's span when telemetry is on (explicitly, or a provider is configured).

        `parent` is an OpenTelemetry context (default: the current one).
        """
        telemetry = self._telemetry
        if telemetry is False or not self._may_trace():
            return None
        if telemetry is None:
            telemetry = _auto_telemetry()
            if telemetry is None:
                return None
        assert not isinstance(telemetry, bool)
        plan.trace = telemetry.call_started(
            plan.kind,
            plan.model,
            plan.body,
            base_url=self._config.base_url,
            chain=plan.chain,
            stream=plan.stream,
            parent=parent,
        )
        return plan.trace

    def _traced_stream(
        self, plan: CallPlan, generator: Any, result: Callable[[], Any], meta: ResponseMeta
    ) -> Any:
        """The stream's generator, wrapped in its span only when the call can be traced."""
        if not self._may_trace():
            return generator
        from opentelemetry import context

        from hfproviders import _telemetry

        # The span opens on first iteration, as a child of the span current *now*: a framework
        # that returns the stream from inside its own span has often closed that span by then.
        parent = context.get_current()
        start = lambda: self._trace(plan, parent)  # noqa: E731
        if hasattr(generator, "__anext__"):
            return _telemetry.traced_async_stream(generator, start, result, meta)
        return _telemetry.traced_stream(generator, start, result, meta)

    # -- planning (pure) -------------------------------------------------------------------

    def _plan_chat(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        params: dict[str, Any],
        *,
        stream: bool,
    ) -> CallPlan:
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
        plan = CallPlan(
            "chat", base, chain, self._config.chat_url(), body, headers, timeout, stream
        )
        known = self._discovery_cache.get_availability(base) if self._discovery_cache else None
        if known is not None and known.template_opens_think is not None:
            # The model's chat template, when a discovery call has read it, beats the name.
            plan.reading = chat_reading(base, body, known.template_opens_think)
        plan.secrets = self._config.secrets()
        if self._limiter is not None:
            plan.token_estimate = estimate_tokens(body)
        if self._cache is not None:
            from hfproviders._cache import cache_key

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

    def _plan_json(self, url: str, what: str, *, hub: bool = False) -> CallPlan:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        token = self._hub_token() if hub else self._config.token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return CallPlan("json", what, (None,), url, {}, headers, None, False)

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

    @property
    def _discovery(self) -> DiscoveryCache:
        if self._discovery_cache is None:
            from hfproviders._discovery import DiscoveryCache

            self._discovery_cache = DiscoveryCache(ttl_s=self._discovery_ttl)
        return self._discovery_cache

    def cached_model_info(self, model: str) -> ModelInfo | None:
        """What the router's catalogue says about `model`, if this client has loaded it.

        Never touches the network (`model_info` and `list_models` do).
        """
        if self._discovery_cache is None:
            return None
        from hfproviders._discovery import find_model

        models = self._discovery_cache.get_models(self._config.base_url)
        return find_model(models, model) if models is not None else None

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
        from hfproviders._routing import serving_capabilities

        _, chain = resolve_chain(model, provider or self._config.provider, router=True)
        return serving_capabilities(info, chain, self._routing)

    def _catalogue_needed(self, plan: CallPlan) -> bool:
        if self._routing != "auto" or plan.kind != "chat" or not self._config.is_router:
            return False
        tools, structured = needs_of(plan.body)
        return (tools or structured) and self._discovery.get_models(self._config.base_url) is None

    def _route(self, plan: CallPlan) -> None:
        if self._routing == "off" or plan.kind != "chat" or not self._config.is_router:
            return
        tools, structured = needs_of(plan.body)
        if not (tools or structured):
            return
        info = self.cached_model_info(plan.model)
        if info is not None:
            from hfproviders._routing import route_chain

            plan.chain = route_chain(plan.model, plan.chain, info, tools, structured)

    def _remember_models(self, data: Any) -> list[ModelInfo]:
        from hfproviders._discovery import parse_models_response

        try:
            models = parse_models_response(data)
        except ValueError as exc:
            raise APIError(f"Unexpected answer from {self._config.models_url()}: {exc}") from None
        self._discovery.put_models(self._config.base_url, models)
        remember_providers(p.provider for m in models for p in m.providers)
        return models

    def _hub_plan(self, model: str) -> CallPlan:
        from hfproviders._hub import hub_model_info_request

        url, params = hub_model_info_request(model)
        return self._plan_json(f"{url}?{urlencode(params)}", model, hub=True)

    def _cache_lookup(self, plan: CallPlan, kind: str) -> dict[str, Any] | None:
        if self._cache is None or plan.cache_key is None:
            return None
        from hfproviders._cache import is_cache_entry

        entry = self._cache.get(plan.cache_key)
        if entry is None or not is_cache_entry(entry) or entry.get("kind") != kind:
            return None
        return entry

    def _cache_store(self, plan: CallPlan, kind: str, data: Any, meta: ResponseMeta) -> None:
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

    def _record_usage(self, plan: CallPlan, result: Any) -> None:
        usage = getattr(result, "usage", None)
        if self._limiter is not None and usage is not None:
            self._limiter.record_usage(plan.token_estimate, usage.total_tokens)

    def _done(self, plan: CallPlan, result: Any) -> Any:
        """A successful non-streamed answer: account its usage, cache it."""
        if isinstance(result, ChatCompletion):
            self._record_usage(plan, result)
            self._cache_store(plan, "chat", result.raw, result.meta)
        return result

    def _from_cache(self, plan: CallPlan, entry: dict[str, Any]) -> Any:
        body = json.dumps(entry["data"]).encode()
        return self._parse_body(plan, body, self._cached_meta(entry))

    def _decoder(
        self, plan: CallPlan, meta: ResponseMeta, started: float, holder: list[Any]
    ) -> Any:
        decoder = new_decoder(plan, meta, started)
        if plan.cache_key is not None and isinstance(decoder, ChatStreamDecoder):
            decoder.raw_events = []
        holder[:] = [decoder]
        return decoder

    def _stream_done(self, plan: CallPlan, decoder: Any) -> None:
        """A stream that ended normally: account its usage, cache its events."""
        if isinstance(decoder, ChatStreamDecoder):
            self._record_usage(plan, decoder.normalizer.accumulator.result(decoder.meta))
            if decoder.raw_events is not None:
                self._cache_store(plan, "stream", decoder.raw_events, decoder.meta)

    def _availability_from_json(self, plan: CallPlan, data: Any) -> ModelAvailability:
        if not isinstance(data, Mapping):
            raise APIError(f"Unexpected Hub answer for {plan.model}")
        from hfproviders._hub import availability_from_hub_json

        return availability_from_hub_json(plan.model, data, token_given=has_token(plan))

    def _availability_from_error(self, plan: CallPlan, error: APIError) -> ModelAvailability:
        from hfproviders._hub import availability_from_hub_error

        availability = availability_from_hub_error(
            plan.model, error.status_code or 0, error.headers, token_given=has_token(plan)
        )
        if availability is None:
            raise error
        return availability

    def _needs_access_check(self, plan: CallPlan, availability: ModelAvailability) -> bool:
        from hfproviders._hub import needs_access_check

        return availability.accessible is None and needs_access_check(
            availability, token_given=has_token(plan)
        )

    def _availability_checked(
        self, availability: ModelAvailability, error: APIError | None
    ) -> ModelAvailability:
        from hfproviders._hub import availability_after_access_check

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
    ) -> CallPlan:
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
        plan = CallPlan("text_generation", base, (None,), url, body, headers, timeout, stream)
        plan.secrets = self._config.secrets()
        return plan

    # -- reading (pure) --------------------------------------------------------------------

    def _status_error(
        self, status: int, headers: dict[str, str], body: bytes, provider: str | None
    ) -> APIError:
        rate_limit = parse_rate_limit(headers, time.time())
        error = error_from_response(
            status,
            headers,
            body,
            provider=headers.get("x-inference-provider") or concrete_provider(provider),
            rate_limit=rate_limit,
            retry_after=rate_limit.retry_after_s if rate_limit else None,
            secrets=self._config.secrets(),
        )
        if status == 401 and self._config.api_key is None:
            error.message = f"{error.message} {NO_TOKEN_SENT.format(host=self._config.host)}"
            error.args = (error.message,)
        return error

    def _parse_body(self, plan: CallPlan, body: bytes, meta: ResponseMeta) -> Any:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            error = APIError(
                f"The server answered {meta.status_code} with a body that is not JSON: "
                f"{body[:200]!r}",
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
                data,
                provider=meta.provider,
                request_id=meta.request_id,
                secrets=self._config.secrets(),
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
                return parse_chat_completion(data, meta, plan.reading)
            return parse_text_generation(data, meta)
        except (AttributeError, TypeError, ValueError, KeyError, IndexError, OverflowError):
            # Valid JSON of a shape no provider sends: a typed error, never a crash.
            kind = "chat completion" if plan.kind == "chat" else "text-generation result"
            raise unexpected(f"The server's answer is not a {kind}") from None

    def _report(
        self,
        state: AttemptState,
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
        trace = state.plan.trace
        if self._on_attempt is None and trace is None:
            return
        # One event, three views: the log lines above, the on_attempt hook and the span.
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
        if trace is not None:
            trace.attempt_ended(event)
        if self._on_attempt is not None:
            try:
                self._on_attempt(event)
            except Exception:  # a metrics hook must never break the call
                logger.exception("on_attempt hook raised; ignored")


def _auto_telemetry() -> GenAITelemetry | None:
    """The process-wide telemetry, once a global provider is configured (else None)."""
    global _auto_telemetry
    from hfproviders._telemetry import auto_telemetry

    _auto_telemetry = auto_telemetry  # later calls skip this import
    return auto_telemetry()


def _telemetry_option(telemetry: GenAITelemetry | bool | None) -> GenAITelemetry | bool | None:
    """None: automatic (on once a tracer or meter provider is configured); False: off."""
    if telemetry is True:
        from hfproviders._telemetry import GenAITelemetry

        return GenAITelemetry()
    if telemetry is None or telemetry is False:
        return telemetry
    from hfproviders._telemetry import GenAITelemetry

    if not isinstance(telemetry, GenAITelemetry):
        raise InvalidParameterError("telemetry must be None, True, False or a GenAITelemetry")
    return telemetry
