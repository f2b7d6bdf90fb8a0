"""hfproviders: a fast, production-grade client for Hugging Face Inference Providers.

One token, many providers (together, groq, fireworks-ai, cerebras, …) through the router's
OpenAI-compatible API, plus the text-generation (TGI) API of Inference Endpoints and self-hosted
TGI. Retries with backoff, typed errors, streaming, normalised provider quirks, failover.

Example:
    >>> from hfproviders import HFClient
    >>> client = HFClient()  # token from HF_TOKEN or `hf auth login`
    >>> answer = client.chat("openai/gpt-oss-120b:groq",  # doctest: +SKIP
    ...                      [{"role": "user", "content": "Hello"}])

"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from hfproviders._client import AsyncHFClient, ClientPair, HFClient
from hfproviders._errors import (
    AllProvidersFailedError,
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    ClientClosedError,
    ConfigurationError,
    ContextLengthError,
    GoneError,
    HFProvidersError,
    IncompleteStreamError,
    InvalidModelError,
    InvalidParameterError,
    InvalidRequestInputError,
    MissingTokenError,
    ModelNotFoundError,
    ModelNotSupportedError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    PromptTooLongError,
    ProvidersUnavailableError,
    RateLimitError,
    RateLimitWaitTooLongError,
    RedirectError,
    ServerError,
    ServiceUnavailableError,
    StateUnavailableError,
    StreamError,
    UnknownProviderError,
)
from hfproviders._normalize import ChunkAccumulator, parse_partial_json
from hfproviders._observe import CallView, HealthHook, Observer, Observers, SpendHook
from hfproviders._options import OPTION_NAMES, ClientOptions, set_testing
from hfproviders._params import CHAT_PARAMS, TEXT_GENERATION_PARAMS
from hfproviders._retry import RetryPolicy
from hfproviders._streaming import (
    AsyncChatStream,
    AsyncTextGenerationStream,
    ChatStream,
    TextGenerationStream,
)
from hfproviders._types import (
    AttemptEvent,
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    Choice,
    ChoiceDelta,
    ChunkChoice,
    FunctionCall,
    FunctionDelta,
    RateLimitInfo,
    ResponseMeta,
    TextGeneration,
    TextGenerationChunk,
    TokenInfo,
    ToolCall,
    ToolCallDelta,
    Usage,
)

if TYPE_CHECKING:
    from hfproviders._cache import InMemoryCache, ResponseCache, SQLiteCache, cache_key
    from hfproviders._catalog import DiscoveryCache, ModelInfo, ProviderInfo
    from hfproviders._config import is_environment_token, pickle_state_without_token
    from hfproviders._embeddings import (
        EmbeddingResponseError,
        EmbeddingResult,
        PartialEmbeddingError,
    )
    from hfproviders._health import (
        CircuitBreaker,
        HealthStore,
        HealthTracker,
        InMemoryHealthStore,
        ProviderConstraints,
        ProviderHealth,
    )
    from hfproviders._hedge import HedgeBudget
    from hfproviders._hub import ModelAvailability, ProviderMapping
    from hfproviders._ratelimit import RateLimiter
    from hfproviders._redis import RedisCache, RedisRateLimiter, RedisState
    from hfproviders._routing import ServingCapabilities, pick_provider, providers_supporting
    from hfproviders._spend import (
        InMemorySpendStore,
        SpendLimit,
        SpendLine,
        SpendReport,
        SpendStore,
    )
    from hfproviders._telemetry import GenAITelemetry

# Optional subsystems load on first access, so `import hfproviders` pays only for the client.
_LAZY = {
    "InMemoryCache": "_cache",
    "ResponseCache": "_cache",
    "SQLiteCache": "_cache",
    "cache_key": "_cache",
    "is_environment_token": "_config",
    "pickle_state_without_token": "_config",
    "DiscoveryCache": "_catalog",
    "ModelInfo": "_catalog",
    "ProviderInfo": "_catalog",
    "pick_provider": "_routing",
    "providers_supporting": "_routing",
    "EmbeddingResponseError": "_embeddings",
    "EmbeddingResult": "_embeddings",
    "PartialEmbeddingError": "_embeddings",
    "ModelAvailability": "_hub",
    "ProviderMapping": "_hub",
    "RateLimiter": "_ratelimit",
    "RedisCache": "_redis",
    "RedisRateLimiter": "_redis",
    "RedisState": "_redis",
    "ServingCapabilities": "_routing",
    "CircuitBreaker": "_health",
    "HealthStore": "_health",
    "HealthTracker": "_health",
    "HedgeBudget": "_hedge",
    "InMemoryHealthStore": "_health",
    "ProviderConstraints": "_health",
    "ProviderHealth": "_health",
    "InMemorySpendStore": "_spend",
    "SpendLimit": "_spend",
    "SpendLine": "_spend",
    "SpendReport": "_spend",
    "SpendStore": "_spend",
    "GenAITelemetry": "_telemetry",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hfproviders' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"hfproviders.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "DiscoveryCache",
    "ServingCapabilities",
    "CHAT_PARAMS",
    "TEXT_GENERATION_PARAMS",
    "APIConnectionError",
    "ClientClosedError",
    "APIError",
    "APITimeoutError",
    "AllProvidersFailedError",
    "AsyncChatStream",
    "AsyncHFClient",
    "AsyncTextGenerationStream",
    "AttemptEvent",
    "AuthenticationError",
    "CallView",
    "ClientOptions",
    "ClientPair",
    "BadRequestError",
    "BudgetExceededError",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatMessage",
    "ChatStream",
    "Choice",
    "ChoiceDelta",
    "ChunkAccumulator",
    "ChunkChoice",
    "CircuitBreaker",
    "ConfigurationError",
    "ContextLengthError",
    "EmbeddingResponseError",
    "EmbeddingResult",
    "FunctionCall",
    "FunctionDelta",
    "GenAITelemetry",
    "GoneError",
    "HFClient",
    "HFProvidersError",
    "HealthHook",
    "HealthStore",
    "HealthTracker",
    "HedgeBudget",
    "InMemoryCache",
    "InMemoryHealthStore",
    "InMemorySpendStore",
    "IncompleteStreamError",
    "InvalidModelError",
    "InvalidParameterError",
    "InvalidRequestInputError",
    "MissingTokenError",
    "ModelAvailability",
    "ModelInfo",
    "ModelNotFoundError",
    "ModelNotSupportedError",
    "NotFoundError",
    "OPTION_NAMES",
    "Observer",
    "Observers",
    "PartialEmbeddingError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "PromptTooLongError",
    "ProviderConstraints",
    "ProviderHealth",
    "ProviderInfo",
    "ProviderMapping",
    "ProvidersUnavailableError",
    "RateLimitError",
    "RateLimitInfo",
    "RateLimitWaitTooLongError",
    "RedirectError",
    "RateLimiter",
    "RedisCache",
    "RedisRateLimiter",
    "RedisState",
    "ResponseCache",
    "ResponseMeta",
    "RetryPolicy",
    "SQLiteCache",
    "ServerError",
    "ServiceUnavailableError",
    "SpendHook",
    "SpendLimit",
    "SpendLine",
    "SpendReport",
    "SpendStore",
    "StateUnavailableError",
    "StreamError",
    "TextGeneration",
    "TextGenerationChunk",
    "TextGenerationStream",
    "TokenInfo",
    "ToolCall",
    "ToolCallDelta",
    "UnknownProviderError",
    "Usage",
    "__version__",
    "cache_key",
    "is_environment_token",
    "pickle_state_without_token",
    "parse_partial_json",
    "pick_provider",
    "providers_supporting",
    "set_testing",
]
