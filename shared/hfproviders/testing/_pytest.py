"""The pytest plugin (entry point `pytest11`): the `hf_fake_router` fixture.

Installed with hfproviders; nothing to configure. A test asks for the fixture and gets a
`FakeRouter` already served on a loopback port, stopped after the test:

    def test_failover(hf_fake_router):
        hf_fake_router.on(provider="groq").respond(Fault.status(503))
        client = HFClient(base_url=hf_fake_router.base_url, api_key="test", router=True)
        ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from hfproviders.testing._router import FakeRouter

__all__ = ["hf_fake_router"]


@pytest.fixture
def hf_fake_router() -> Iterator[FakeRouter]:
    """A `FakeRouter` served on 127.0.0.1 for this test (`.base_url`, `.on(...)`, `.requests`)."""
    from hfproviders.testing._router import FakeRouter

    router = FakeRouter()
    server = router.serve()
    try:
        yield router
    finally:
        server.stop()
