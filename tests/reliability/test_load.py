"""Load: 2,000 async requests at concurrency 50 with about 20% injected faults.

Every request must end in a success or a typed error, exactly once; the server's per-request
counts must equal the client's attempts (so no request is lost, duplicated or retried behind our
back); and the process's file descriptors must return to their baseline.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from hfproviders import (
    APIConnectionError,
    AsyncHFClient,
    AttemptEvent,
    HFProvidersError,
    RateLimitError,
    ServerError,
)
from hfproviders.testing import MIX, FakeRouterProcess
from tests.conftest import FAKE_TOKEN
from tests.reliability.conftest import MESSAGES, busy_connections, fast_policy

REQUESTS = 2000
HANG_S = 90.0  # the whole run's bound, see below
CONCURRENCY = 50
DEFAULT_ANSWER = "Hello! How can I help you today?"  # the fake router's answer to "Hello?"


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def remote_server() -> Iterator[FakeRouterProcess]:
    """`hfproviders fake-router` in its own process (its CPU does not share the client's GIL)."""
    with FakeRouterProcess(max_lifetime=120) as server:
        yield server


async def test_2000_requests_with_injected_faults(remote_server: FakeRouterProcess) -> None:
    server = remote_server
    assert MIX.count("ok") / len(MIX) == 0.8  # the `x-fake-steps: mix` draw
    fds_before = open_fds()
    attempts: Counter[str] = Counter()

    def on_attempt(event: AttemptEvent) -> None:
        attempts[event.model] += 1

    client = AsyncHFClient(
        base_url=server.base_url,
        api_key=FAKE_TOKEN,
        retry=fast_policy(2),
        timeout=10.0,
        on_attempt=on_attempt,
    )
    gate = asyncio.Semaphore(CONCURRENCY)
    outcomes: dict[str, object] = {}

    async def one(i: int) -> None:
        model = f"load-org/req-{i:04d}"  # unique per request: the server counts by model
        headers = {"x-fake-steps": "mix", "x-fake-key": model}
        async with gate:
            try:
                result = await client.chat(model, MESSAGES, extra_headers=headers)
            except HFProvidersError as error:
                outcomes[model] = error
            else:
                outcomes[model] = result

    started = time.monotonic()
    # About 10 s on an idle 2-core machine; HANG_S leaves room for a CI machine under several
    # times that load and still ends a hang before pytest-timeout (120 s), with a clear error.
    await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(REQUESTS))), HANG_S)
    elapsed = time.monotonic() - started
    assert busy_connections(client) == 0
    await client.aclose()

    assert len(outcomes) == REQUESTS  # every request ended, once
    errors = {m: o for m, o in outcomes.items() if isinstance(o, HFProvidersError)}
    for error in errors.values():
        assert isinstance(error, RateLimitError | ServerError | APIConnectionError), error
    successes = {m: o for m, o in outcomes.items() if m not in errors}
    for model, result in successes.items():
        assert result.choices[0].message.content == DEFAULT_ANSWER  # type: ignore[attr-defined]
        assert result.meta.attempts == attempts[model]  # type: ignore[attr-defined]
    for model in errors:
        assert attempts[model] == 3  # every error here is retryable: it used all 3 attempts
    # The server saw exactly the attempts the client made, request by request.
    stats = server.stats()
    assert stats["by_model"] == dict(attempts)
    assert stats["requests"] == sum(attempts.values())
    retried = sum(1 for n in attempts.values() if n > 1)
    print(  # shown with `pytest -s`: the figures quoted in the README's Reliability section
        f"load: {REQUESTS} requests, concurrency {CONCURRENCY}, {stats['requests']} attempts, "
        f"{retried} retried, {len(successes)} ok, {len(errors)} typed errors, {elapsed:.1f} s"
    )
    assert 0.12 * REQUESTS < retried < 0.3 * REQUESTS  # the faults really were injected
    assert len(errors) < 0.03 * REQUESTS
    assert server.wait_idle() == 0
    assert open_fds() == fds_before
    assert elapsed < HANG_S
