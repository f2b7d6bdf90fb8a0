"""Client configuration (pure): base URLs, the token and where it may go, headers.

The token is looked up lazily (first request), never at construction: `api_key`, else
`HF_TOKEN` / `HUGGING_FACE_HUB_TOKEN`, else huggingface_hub's `get_token()` (token file, Colab
secret). An implicit Hugging Face token is only ever sent to Hugging Face hosts; for any other
`base_url` the key is `api_key`, else `HFPROVIDERS_API_KEY` (never `HF_TOKEN`).

`bill_to` defaults to `HF_BILL_TO`; it goes on inference requests only, never on lookups.
`router=True` treats a custom `base_url` (a gateway, a proxy, the fake router) as the Hugging Face
router: provider suffixes, policies and failover chains then work there.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from hfproviders import __version__
from hfproviders._errors import ConfigurationError, InvalidParameterError, MissingTokenError
from hfproviders._observe import Observer
from hfproviders._options import OPTION_NAMES, ClientOptions
from hfproviders._params import (
    check_base_url,
    check_count,
    check_header_value,
    check_headers,
    check_timeout,
    check_token,
)
from hfproviders._retry import RetryPolicy

if TYPE_CHECKING:
    from collections.abc import Callable

    from hfproviders._cache import ResponseCache
    from hfproviders._catalog import DiscoveryCache, ModelInfo
    from hfproviders._observe import HealthHook, SpendHook
    from hfproviders._ratelimit import RateLimiter, Reservation
    from hfproviders._state import SharedRateLimiter, StateBackend

__all__ = [
    "DEFAULT_BASE_URL",
    "TOKEN_HELP",
    "USER_AGENT",
    "ClientConfig",
    "Secret",
    "is_environment_token",
    "pickle_state_without_token",
    "is_hf_host",
    "lookup_token",
]

DEFAULT_BASE_URL = "https://router.huggingface.co/v1"
_LOCK = threading.Lock()
ROUTER_HOST = "router.huggingface.co"
_HF_HOST_SUFFIXES = (".huggingface.co", ".hf.co", ".huggingface.cloud")
_HF_HOSTS = frozenset({"huggingface.co", "hf.co"})
TOKEN_HELP = (
    "No Hugging Face token found. Create one at https://huggingface.co/settings/tokens with the "
    "fine-grained permission 'Make calls to Inference Providers', then `export HF_TOKEN=hf_...` "
    "(or run `hf auth login`, or pass api_key=...)."
)
USER_AGENT = f"hfproviders/{__version__}"
DEFAULT_TIMEOUT = 120.0
DEFAULT_STREAM_IDLE_TIMEOUT = 60.0
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_INPUT_CHARS = 2_000_000
#: The key for a non-Hugging Face `base_url` when `api_key` is not given.
API_KEY_ENV = "HFPROVIDERS_API_KEY"
NO_TOKEN_SENT = (
    "No key was sent to {host}: pass api_key=... (or set HFPROVIDERS_API_KEY) for this server."
)


def is_hf_host(host: str) -> bool:
    """True for Hugging Face hosts, the only ones an implicitly found token is sent to."""
    host = host.lower().rstrip(".")
    return host in _HF_HOSTS or host.endswith(_HF_HOST_SUFFIXES)


class Secret:
    """A string that never shows itself in repr, str or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        """The secret value itself."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("Secrets are not picklable")


def lookup_token() -> str | None:
    """The token found in the environment or huggingface_hub's store (None if none)."""
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        value = os.environ.get(name)
        if value:
            return value.strip(" \t\r\n")  # anything else odd is refused by check_token
    try:
        from huggingface_hub import get_token
    except ImportError:  # pragma: no cover - it is a dependency
        return None
    token = get_token()
    return token.strip(" \t\r\n") if token else None


def is_environment_token(value: str) -> bool:
    """True when `value` is the token the environment gives (HF_TOKEN, the stored login).

    Adapters rebuilt from a serialized or copied model receive that token as an explicit
    `api_key`; asking this keeps it what it is, an implicit token, sent only to Hugging Face.
    """
    found = lookup_token()
    return bool(found) and found == value.strip(" \t\r\n")


def pickle_state_without_token(state: dict[str, Any], field: str = "api_key") -> dict[str, Any]:
    """A pydantic model's pickle state (`__getstate__`) with its token left out.

    For the adapters' models: a token never goes into a pickle. The model comes back as if no
    key had been given, so where it is loaded its token comes from HF_TOKEN or the stored login
    (and, being implicit, is sent only to Hugging Face hosts). Pass `api_key` again to a model
    unpickled where neither is set.
    """
    values = state.get("__dict__")
    if not isinstance(values, dict) or values.get(field) is None:
        return state
    state = dict(state)
    state["__dict__"] = {**values, field: None}
    given = state.get("__pydantic_fields_set__")
    if isinstance(given, set):
        state["__pydantic_fields_set__"] = given - {field}
    return state


@dataclass(slots=True)
class ClientConfig:
    """Everything a client needs that is not I/O: the options, checked and resolved."""

    base_url: str
    api_key: Secret | None
    bill_to: str | None
    timeout: float
    retry: RetryPolicy
    default_headers: dict[str, str]
    max_input_chars: int | None
    provider: str | tuple[str, ...] | None
    router: bool = False
    stream_idle_timeout: float = DEFAULT_STREAM_IDLE_TIMEOUT
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    routing: str = "cached"
    discovery_ttl: float = 600.0
    discovery_cache: DiscoveryCache | None = None
    cache: ResponseCache | None = None
    limiter: RateLimiter | SharedRateLimiter | None = None
    observer: Observer = field(default_factory=Observer)
    health: HealthHook | None = None
    spend: SpendHook | None = None
    remote_state: bool = False  # a store does network I/O: the async twin awaits it (async steps)
    # The cache read and the limiter's turn in one round trip, when the state backend offers it
    # for this cache and limiter (`RedisState.lookup_reserving`): key, tokens -> value, turn.
    lookup_reserving: (
        Callable[[str, int], tuple[dict[str, Any] | None, Reservation | None]] | None
    ) = None
    is_router: bool = field(init=False)
    host: str = field(init=False)
    _token_resolved: bool = field(init=False, default=False)
    # Per client, made on first use: the chat URL, and the inference headers by `stream`
    # (without the token, which stays in `api_key` alone).
    _chat_url: str | None = field(init=False, default=None, repr=False, compare=False)
    _headers: dict[bool, dict[str, str]] = field(
        init=False, default_factory=dict, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        base = self.base_url.rstrip("/")
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(f"base_url must be an http(s) URL, got {self.base_url!r}")
        self.host = (parts.hostname or "").lower()
        if self.host == "api-inference.huggingface.co":
            raise ConfigurationError(
                "api-inference.huggingface.co is retired (it answers 410 Gone). Use the router: "
                "base_url='https://router.huggingface.co/v1' (chat) or leave base_url unset."
            )
        self.is_router = self.host == ROUTER_HOST or self.router
        if self.is_router and not parts.path.rstrip("/"):
            base += "/v1"
        self.base_url = base
        if self.api_key is not None:
            self._token_resolved = True
        if self.timeout is not None and self.timeout <= 0:
            raise ConfigurationError("timeout must be > 0 seconds")
        if self.stream_idle_timeout <= 0:
            raise ConfigurationError("stream_idle_timeout must be > 0 seconds")
        if self.max_response_bytes <= 0:
            raise ConfigurationError("max_response_bytes must be > 0")
        if self.max_input_chars is not None and self.max_input_chars <= 0:
            raise ConfigurationError("max_input_chars must be > 0 (or None for no limit)")
        if self.routing not in ("off", "cached", "auto"):
            raise InvalidParameterError("routing must be 'off', 'cached' or 'auto'")

    @classmethod
    def create(cls, options: ClientOptions) -> ClientConfig:
        """Build and check the configuration from the constructor's options."""
        unknown = set(options) - OPTION_NAMES
        if unknown:
            raise ConfigurationError(f"unknown client option(s): {', '.join(sorted(unknown))}")
        retry, max_retries = options.get("retry"), options.get("max_retries")
        if max_retries is not None:
            check_count(max_retries, "max_retries", ConfigurationError)
        if retry is None:
            retry = RetryPolicy(max_retries=2 if max_retries is None else max_retries)
        elif max_retries is not None and max_retries != retry.max_retries:
            raise ConfigurationError("give max_retries or retry=RetryPolicy(...), not both")
        api_key = options.get("api_key")
        if api_key is not None and (not isinstance(api_key, str) or not api_key.strip()):
            raise ConfigurationError("api_key must be a non-empty string (or None to look it up)")
        if api_key is not None:
            api_key = check_token(api_key, "api_key")
        router = options.get("router", False)
        if not isinstance(router, bool):
            raise ConfigurationError("router must be True or False")
        bill_to = options.get("bill_to")
        if bill_to is None:
            bill_to = os.environ.get("HF_BILL_TO") or None
        if bill_to is not None:
            check_header_value("X-HF-Bill-To", bill_to)
        if options.get("base_url") is not None:
            check_base_url(options.get("base_url"))
        headers = check_headers(options.get("default_headers"), "default_headers")
        if any(k.lower() == "authorization" for k in headers):
            raise ConfigurationError("pass the token as api_key, not as an Authorization header")
        provider = options.get("provider")
        timeout = options.get("timeout")
        idle = options.get("stream_idle_timeout")
        cap = options.get("max_response_bytes")
        from hfproviders._observe import build_observer

        state = resolve_state(options.get("state"))
        cache, limiter = options.get("cache"), options.get("rate_limiter")
        if state is not None:  # the same configuration, counted across every worker
            from hfproviders._ratelimit import RateLimiter

            if isinstance(limiter, RateLimiter):
                limiter = state.share_rate_limiter(limiter)
            if cache is not None:
                cache = state.share_cache(cache)
        lookup = None
        combine = getattr(state, "lookup_reserving", None)  # an optional backend capability
        if combine is not None and cache is not None and limiter is not None:
            lookup = combine(cache, limiter)
        if cache is not None:
            from hfproviders._cache import fail_safe  # a failing cache never costs an answer

            cache = fail_safe(cache)

        config = cls(
            base_url=options.get("base_url") or DEFAULT_BASE_URL,
            api_key=Secret(api_key) if api_key else None,
            bill_to=bill_to,
            timeout=check_timeout(timeout, "timeout", ConfigurationError) or DEFAULT_TIMEOUT,
            retry=retry,
            default_headers=headers,
            max_input_chars=options.get("max_input_chars", DEFAULT_MAX_INPUT_CHARS),
            provider=provider if isinstance(provider, str | None) else tuple(provider),
            router=router,
            stream_idle_timeout=check_timeout(idle, "stream_idle_timeout", ConfigurationError)
            or DEFAULT_STREAM_IDLE_TIMEOUT,
            max_response_bytes=DEFAULT_MAX_RESPONSE_BYTES if cap is None else cap,
            routing=options.get("routing", "cached"),
            discovery_ttl=options.get("discovery_ttl", 600.0),
            # Share one DiscoveryCache between clients (a sync and an async twin) to share lookups.
            discovery_cache=options.get("discovery"),
            cache=cache,
            limiter=limiter,
            observer=build_observer(
                options.get("on_attempt"), options.get("observer"), options.get("telemetry")
            ),
        )
        if provider is not None and config.is_router:
            from hfproviders._routing import resolve_chain

            resolve_chain("org/model", provider, router=True)  # fail fast on a bad provider
        from hfproviders._health import health_hook
        from hfproviders._spend import spend_hook

        health_store = state.health_store() if state is not None else None
        spend_store = state.spend_store() if state is not None else None
        config.health = health_hook(options, config.catalogue_entry, health_store)
        config.spend = spend_hook(options, config.catalogue_entry, spend_store)
        config.remote_state = _has_remote_store(config)
        config.lookup_reserving = lookup
        return config

    def catalogue_entry(self, model: str) -> ModelInfo | None:
        """What the loaded catalogue says about `model` (None: not loaded or not listed; no I/O)."""
        cache = self.discovery_cache
        models = cache.get_models(self.base_url) if cache is not None else None
        if models is None:
            return None
        from hfproviders._catalog import find_model

        return find_model(models, model)

    @property
    def discovery(self) -> DiscoveryCache:
        """The lookup cache (catalogue and Hub answers), made on first use."""
        if self.discovery_cache is None:
            from hfproviders._catalog import DiscoveryCache

            self.discovery_cache = DiscoveryCache(ttl_s=self.discovery_ttl)
        return self.discovery_cache

    @property
    def sends_token_to_hf(self) -> bool:
        """Whether this client's host is a Hugging Face host."""
        return is_hf_host(self.host)

    def token(self) -> str | None:
        """The token to send, resolved on first use; raises MissingTokenError for HF hosts."""
        if not self._token_resolved:
            self._token_resolved = True
            found = lookup_token() if self.sends_token_to_hf else os.environ.get(API_KEY_ENV)
            source = "the environment" if self.sends_token_to_hf else API_KEY_ENV
            if found and found.strip():
                try:
                    self.api_key = Secret(check_token(found, source))
                except ConfigurationError:
                    self._token_resolved = False  # fixed in the environment, the next call works
                    raise
            else:
                self.api_key = None
        if self.api_key is None:
            if self.sends_token_to_hf:
                self._token_resolved = False  # the user may log in and retry
                raise MissingTokenError(TOKEN_HELP)
            return None
        return self.api_key.get()

    def hub_token(self, hub_host: str | None = None) -> str | None:
        """The token for Hub lookups (at `hub_host`, when known).

        The client's token when its host is Hugging Face's, else the token found in the
        environment: a key given for another server never goes to the Hub. A Hub at the
        client's own non-HF host (a gateway, the fake router) gets the client's own key.
        """
        if hub_host is not None and hub_host == self.host and not self.sends_token_to_hf:
            return self.token()
        if self.sends_token_to_hf:
            try:
                return self.token()
            except MissingTokenError:
                return None
        return lookup_token()

    def secrets(self) -> tuple[str, ...]:
        """Values to scrub from anything we log or raise."""
        return (self.api_key.get(),) if self.api_key is not None else ()

    def headers(self, *, stream: bool, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """Inference request headers (the token included, when there is one for this host)."""
        made = self._headers.get(stream)
        if made is None or extra:
            made = {
                "Content-Type": "application/json",
                "Accept": "text/event-stream" if stream else "application/json",
                "User-Agent": USER_AGENT,
            }
            made.update(self.default_headers)
            if extra:
                made.update(check_headers(extra, "extra_headers"))
            else:
                self._headers[stream] = made
        headers = dict(made)
        token = self.token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if self.bill_to:
            headers["X-HF-Bill-To"] = self.bill_to
        return headers

    def lookup_headers(self, *, hub: bool, hub_host: str | None = None) -> dict[str, str]:
        """Headers of a lookup (`/v1/models`, the Hub): never billed, never `default_headers`."""
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        token = self.hub_token(hub_host) if hub else self.token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def chat_url(self) -> str:
        """Where chat completions go."""
        if self._chat_url is None:
            base = self.base_url
            if not self.is_router and "/v1" not in urlsplit(base).path:
                base += "/v1"  # a TGI or Inference Endpoint root also serves /v1/chat/completions
            self._chat_url = f"{base}/chat/completions"
        return self._chat_url

    def models_url(self) -> str:
        """The router's model catalogue."""
        return f"{self.base_url}/models"

    def text_generation_url(self, model: str) -> str:
        """Where text-generation requests go (hf-inference on the router, else the server root)."""
        if self.is_router:
            root = self.base_url[: -len("/v1")] if self.base_url.endswith("/v1") else self.base_url
            return f"{root}/hf-inference/models/{quote(model, safe='/')}"
        base = self.base_url
        return base[: -len("/v1")] if base.endswith("/v1") else base


_REDIS_SCHEMES = ("redis://", "rediss://", "unix://", "valkey://", "valkeys://")
_BY_URL: dict[str, StateBackend] = {}


def resolve_state(state: str | StateBackend | None) -> StateBackend | None:
    """The backend of a client's `state=` option (a URL builds a `RedisState`).

    One URL gives one backend per process, so every client (and both adapters' client pairs)
    given the same URL share one connection pool and one view of the server's health.
    """
    from hfproviders._state import StateBackend

    if state is None or isinstance(state, StateBackend):
        return state
    if not isinstance(state, str):
        raise ConfigurationError(
            f"state must be a URL or a state backend, not {type(state).__name__}"
        )
    if not state.lower().startswith(_REDIS_SCHEMES):
        raise ConfigurationError(
            "state must be a redis:// (or rediss://, unix://, valkey://) URL or a state backend "
            "such as RedisState(...)"
        )
    from hfproviders._redis import RedisState  # redis-py loads only for Redis users

    with _LOCK:
        found = _BY_URL.get(state)
        if found is None:
            found = _BY_URL[state] = RedisState(state)
    return found


def _stores(config: ClientConfig) -> tuple[object, ...]:
    """The client's stores: cache, limiter, health, budget and ledger (None where absent)."""
    health = getattr(config.health, "tracker", None)
    control = getattr(config.spend, "control", None)
    return (
        getattr(config.cache, "backend", config.cache),
        config.limiter,
        getattr(health, "store", None),
        getattr(getattr(control, "budget", None), "store", None),
        getattr(getattr(control, "ledger", None), "store", None),
    )


def _has_remote_store(config: ClientConfig) -> bool:
    """Whether any store of the client keeps its state on a server (Redis)."""
    from hfproviders._state import is_remote

    return any(is_remote(store) for store in _stores(config))


def flush_remote_stores(config: ClientConfig) -> None:
    """Write what the client's shared stores hold back (spend settlements, latency samples).

    Called when a client closes; never raises (what cannot be written stays for the exit flush).
    """
    from hfproviders._state import is_remote

    remote = list(dict.fromkeys(s for s in _stores(config) if is_remote(s)))
    states = dict.fromkeys(getattr(store, "state", None) for store in remote)
    for each in [*remote, *states]:  # the stores' batches, then each backend's waiting writes
        flush = getattr(each, "flush", None)
        if flush is not None:
            flush()
