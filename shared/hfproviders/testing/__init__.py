"""hfproviders.testing: a fake Hugging Face router to test against, offline, and its wire kit.

`FakeRouter` speaks the router's wire format (WIRE.md): `/v1/chat/completions` streamed and not,
`/v1/models`, the Hub's model info with `inferenceProviderMapping`, hf-inference
text-generation and feature-extraction, OpenAI-style `/{provider}/v1/embeddings`; with the real
header names (`x-inference-provider`, `x-request-id`, providers' `x-ratelimit-*`) and SSE
framing. Script it per model and provider with `Reply` and `Fault` steps, give providers
`Quirks`, seeded `Latency`, error rates and outage `Episode`s, and read back every request it
received. Run it on a loopback socket (`router.serve()`, the `hf_fake_router` pytest fixture,
`hfproviders fake-router --port 8080`, `FakeRouterProcess` for its own process) or in process
(`router.transport()`, an httpx transport).

Example:
    >>> from hfproviders import HFClient
    >>> from hfproviders.testing import FakeRouter, Fault, Reply
    >>> router = FakeRouter()
    >>> _ = router.on(provider="groq").respond(Fault.status(503))
    >>> _ = router.on(provider="together").respond(Reply("Bonjour !"))
    >>> with router.serve() as server:
    ...     with HFClient(base_url=server.base_url, api_key="test", max_retries=0) as client:
    ...         answer = client.chat("meta-llama/Llama-3.3-70B-Instruct:together",
    ...                              [{"role": "user", "content": "Hello"}])
    >>> answer.text, answer.provider
    ('Bonjour !', 'together')

The wire kit (`sse`, `chunk`, `completion`, `router_headers`, `error_body`…) and the cassette
renderer (`Exchange`, `render_cassette`) are the building blocks our own suites share.
`set_testing` (the core's switch, re-exported) turns retry sleeps off: scripted 429s and 503s
are then retried at once.

"""

from __future__ import annotations

from hfproviders import set_testing
from hfproviders.testing._auto import auto_reply, fill_schema
from hfproviders.testing._cassettes import (
    ROUTER_RESPONSE_HEADERS,
    Exchange,
    cassette_text,
    render_cassette,
)
from hfproviders.testing._process import FakeRouterProcess
from hfproviders.testing._render import Pause, Plan
from hfproviders.testing._router import MIX, FakeModel, FakeRouter, RecordedRequest, Rule
from hfproviders.testing._script import (
    Episode,
    Fault,
    Latency,
    Provider,
    Quirks,
    Reply,
    Step,
    ToolCall,
    parse_step,
)
from hfproviders.testing._server import LoopbackServer
from hfproviders.testing._wire import (
    CREATED,
    HTML_502,
    ChatStreamBuilder,
    chunk,
    completion,
    dumps,
    error_body,
    http_chunk,
    ratelimit_headers,
    router_headers,
    sse,
    sse_event,
    tgi_event,
    usage,
    usage_chunk,
)

__all__ = [
    "CREATED",
    "HTML_502",
    "MIX",
    "ROUTER_RESPONSE_HEADERS",
    "ChatStreamBuilder",
    "Episode",
    "Exchange",
    "FakeModel",
    "FakeRouter",
    "FakeRouterProcess",
    "Fault",
    "Latency",
    "LoopbackServer",
    "Pause",
    "Plan",
    "Provider",
    "Quirks",
    "RecordedRequest",
    "Reply",
    "Rule",
    "Step",
    "ToolCall",
    "auto_reply",
    "cassette_text",
    "chunk",
    "completion",
    "dumps",
    "error_body",
    "fill_schema",
    "http_chunk",
    "parse_step",
    "ratelimit_headers",
    "render_cassette",
    "set_testing",
    "router_headers",
    "sse",
    "sse_event",
    "tgi_event",
    "usage",
    "usage_chunk",
]
