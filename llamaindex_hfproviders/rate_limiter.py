"""A LlamaIndex rate limiter on an hfproviders limiter: one quota for any LlamaIndex LLM.

LlamaIndex's `TokenBucketRateLimiter` lives in one process. This bridge implements its
`BaseRateLimiter` (`acquire(num_tokens)`, `async_acquire(num_tokens)`) over a
`RedisRateLimiter`, so every worker's LLMs and embedding models share one requests- and
tokens-per-minute quota.

```python
from hfproviders import RedisState
from llamaindex_hfproviders.rate_limiter import HFProvidersRateLimiter

shared = RedisState("redis://localhost:6379/0").rate_limiter(60, tokens_per_minute=100_000)
llm = OpenAI(rate_limiter=HFProvidersRateLimiter(shared))  # any LlamaIndex LLM
```

On our own `HFProviders`, prefer `request_rate_limiter=` with `state=` (per HTTP attempt, and it
follows the server's rate-limit headers); giving both the same limiter counts each call twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llama_index.core.rate_limiter import BaseRateLimiter

if TYPE_CHECKING:
    from hfproviders import RateLimiter, RedisRateLimiter

__all__ = ["HFProvidersRateLimiter"]


class HFProvidersRateLimiter(BaseRateLimiter):
    """LlamaIndex's rate-limiter interface over a `RateLimiter` or `RedisRateLimiter`.

    `num_tokens` (LlamaIndex's estimate, 0 when unknown) is taken from the tokens-per-minute
    bucket when the limiter has one. Waits past the limiter's `max_wait` raise
    `RateLimitWaitTooLongError`.
    """

    def __init__(self, limiter: RateLimiter | RedisRateLimiter) -> None:
        self.limiter = limiter

    def __repr__(self) -> str:
        return f"HFProvidersRateLimiter({self.limiter!r})"

    def acquire(self, num_tokens: int = 0) -> None:
        """Block until one request (and `num_tokens`) may go."""
        self.limiter.acquire(max(0, int(num_tokens)))

    async def async_acquire(self, num_tokens: int = 0) -> None:
        """Wait, without blocking the event loop, until one request may go."""
        await self.limiter.aacquire(max(0, int(num_tokens)))
