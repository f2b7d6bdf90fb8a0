"""A LangChain `BaseRateLimiter` on an hfproviders limiter: one quota for any LangChain model.

langchain-core's `InMemoryRateLimiter` "cannot rate limit across different processes". This
bridge can: give it a `RedisRateLimiter` and every worker's models (ours or any other LangChain
chat model) draw from one shared quota.

```python
from hfproviders import RedisState
from langchain_hfproviders.rate_limiters import HFProvidersRateLimiter

limiter = HFProvidersRateLimiter(RedisState("redis://localhost:6379/0").rate_limiter(60))
model = ChatOpenAI(rate_limiter=limiter)  # any model taking LangChain's `rate_limiter`
```

LangChain's limiter counts model calls (one slot per call). On our own `ChatHFProviders`, prefer
`request_rate_limiter=` with `state=` (it counts every HTTP attempt and follows the server's
rate-limit headers); giving both the same shared limiter would count each call twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_core.rate_limiters import BaseRateLimiter

if TYPE_CHECKING:
    from hfproviders import RateLimiter, RedisRateLimiter

__all__ = ["HFProvidersRateLimiter"]


class HFProvidersRateLimiter(BaseRateLimiter):
    """LangChain's rate-limiter interface over a `RateLimiter` or `RedisRateLimiter`.

    A blocking `acquire` waits for a slot (raising `RateLimitWaitTooLongError` past the
    limiter's `max_wait`, or `StateUnavailableError` when a fail-closed Redis is down); a
    non-blocking one takes a slot only if it is free now.
    """

    def __init__(self, limiter: RateLimiter | RedisRateLimiter) -> None:
        self.limiter = limiter

    def __repr__(self) -> str:
        return f"HFProvidersRateLimiter({self.limiter!r})"

    def acquire(self, *, blocking: bool = True) -> bool:
        """Take one slot: wait for it when `blocking`, else only if it is free now."""
        if not blocking:
            return self.limiter.try_acquire()
        self.limiter.acquire()
        return True

    async def aacquire(self, *, blocking: bool = True) -> bool:
        """Async twin of `acquire` (never blocks the event loop)."""
        if not blocking:
            return await self.limiter.atry_acquire()
        await self.limiter.aacquire()
        return True
