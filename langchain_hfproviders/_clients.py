"""The core clients of one LangChain model: the core's `ClientPair`, fed from the model's fields.

Fields named like a core option (`hfproviders.OPTION_NAMES`) are passed as they are, read when a
client is first made; copies of a model start with a pair of their own. Both clients share one
catalogue, so one loaded on one side (`load_model_profile`, or a `routing="auto"` call) routes
the calls of the other side and fills `profile` without a second `GET /v1/models`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from hfproviders import CircuitBreaker, ClientPair, HFProvidersError

__all__ = [
    "TokenlessPickle",
    "core_error",
    "core_options",
    "deepcopy_memo",
    "default_breaker",
    "langchain_error",
    "new_pair",
    "rate_limiter_or_none",
]

# The core is imported on first use, not when a model class is imported: `from
# langchain_hfproviders import ChatHFProviders` then costs little more than LangChain itself.


def new_pair() -> ClientPair:
    """An empty `hfproviders.ClientPair` (its clients are made on first use)."""
    from hfproviders import ClientPair

    return ClientPair()


def default_breaker() -> CircuitBreaker:
    """The default `breaker`: a fresh `hfproviders.CircuitBreaker`."""
    from hfproviders import CircuitBreaker

    return CircuitBreaker()


def rate_limiter_or_none(value: Any) -> Any:
    """Check a `request_rate_limiter`: an `hfproviders.RateLimiter` (or a subclass), or None."""
    from hfproviders import RateLimiter

    if value is not None and not isinstance(value, RateLimiter):
        raise ValueError(f"request_rate_limiter must be a hfproviders.RateLimiter, got {value!r}")
    return value


def core_error() -> type[HFProvidersError]:
    """`hfproviders.HFProvidersError`, for an `except` clause (evaluated only on an exception)."""
    from hfproviders import HFProvidersError

    return HFProvidersError


def langchain_error(error: HFProvidersError) -> HFProvidersError:
    """A core error as the same error in its langchain-core family (see `_errors`)."""
    from langchain_hfproviders._errors import to_langchain_error

    return to_langchain_error(error)


# LangChain's own `cache` (its LLM cache) and `rate_limiter` (per model call) are not the core's.
_NOT_CORE = frozenset({"api_key", "cache", "rate_limiter"})


def core_options(model: Any) -> dict[str, Any]:
    """The core client's options, read from a model's fields of the same names.

    `request_rate_limiter` becomes the core's `rate_limiter` (one slot per HTTP attempt);
    `state` (e.g. `"redis://…"`: the limiter and cache shared by workers) is passed as is.
    LangChain's `rate_limiter` (per model call) is applied by LangChain and never passed down.

    Only an `api_key` the user gave is passed on. One that LangChain's `secret_from_env` read
    from HF_TOKEN is not: the core finds that token itself, and then sends it only to Hugging
    Face hosts, never to a custom `base_url`.
    """
    from hfproviders import OPTION_NAMES, is_environment_token

    fields = type(model).model_fields
    options = {name: getattr(model, name) for name in OPTION_NAMES - _NOT_CORE if name in fields}
    options["rate_limiter"] = model.request_rate_limiter
    api_key = model.api_key if "api_key" in model.model_fields_set else None
    if api_key is not None and is_environment_token(api_key.get_secret_value()):
        # HF_TOKEN coming back as an explicit value (`loads(dumps(m), secrets_from_env=True)`,
        # `secrets_map`, `model_copy`, `ChatHFProviders(**m.model_dump())`) stays implicit.
        api_key = None
    options["api_key"] = api_key.get_secret_value() if api_key is not None else None
    options["http_client"] = model.http_client
    options["http_async_client"] = model.http_async_client
    return options


def deepcopy_memo(memo: dict[int, Any] | None, model: Any) -> dict[int, Any]:
    """A `copy.deepcopy` memo that makes copies of `model` share what must not be duplicated.

    Both rate limiters (one budget, whoever spends it), the health tracker, the spend limit and
    your own httpx clients (yours, never ours to copy) hold locks and connections: a copy refers
    to the same objects.
    """
    memo = {} if memo is None else memo
    shared_names = ("request_rate_limiter", "rate_limiter", "http_client", "http_async_client")
    for name in (*shared_names, "state", "health", "budget", "telemetry"):
        shared = getattr(model, name, None)
        if shared is not None:
            memo.setdefault(id(shared), shared)
    return memo


class TokenlessPickle:
    """For the models: a pickle never holds the token (`hfproviders.pickle_state_without_token`).

    An unpickled model reads HF_TOKEN where it is loaded, as a new model does; pass `api_key`
    again where it is not set.
    """

    def __getstate__(self) -> dict[Any, Any]:
        from hfproviders import pickle_state_without_token

        state = cast("dict[Any, Any]", super().__getstate__())
        return pickle_state_without_token(state)

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)  # type: ignore[misc]
        if self.__dict__.get("api_key") is None:
            from langchain_core.utils import secret_from_env

            self.__dict__["api_key"] = secret_from_env("HF_TOKEN", default=None)()
