"""Issue 9, item 9: the client's own secret, whatever its form, never leaves in an error or a meta.

The key here is not `hf_…`-shaped (a gateway key with `/` and `+`), so only redaction of the
client's actual secret can hide it. A hostile server echoes it everywhere: in the body (as is,
JSON-escaped and URL-encoded), in `X-Error-Message`, in a rate-limit header, in a custom header,
and in an error event inside a stream. Tokens with whitespace or invisible characters are refused
with a message that holds no part of them. Both twins, on the loopback fault server.
"""

from __future__ import annotations

import json
import pickle
import uuid
from typing import Any
from urllib.parse import quote

import pytest

from hfproviders import (
    AllProvidersFailedError,
    APIError,
    AsyncHFClient,
    ConfigurationError,
    HFClient,
    HFProvidersError,
    InvalidModelError,
    RateLimitError,
    ServiceUnavailableError,
)
from hfproviders.testing import FakeRouter
from hfproviders.testing import http_chunk as chunk
from tests.reliability.conftest import (
    MESSAGES,
    MODEL,
    Client,
    chat,
    completion_body,
    content_event,
    fast_policy,
    fault_headers,
    make_client,
)

SECRET = "gw-key/Zq9xW2+Lm4pR7/Tt8uV1"
FORMS = [SECRET, SECRET.replace("/", "\\/"), quote(SECRET, safe="")]


def secret_client(twin: str, server: FakeRouter, max_retries: int = 2) -> Client:
    """A client whose key is SECRET (not hf_-shaped), pointed at the fault server."""
    cls = HFClient if twin == "sync" else AsyncHFClient
    return cls(base_url=server.url, api_key=SECRET, retry=fast_policy(max_retries), timeout=5.0)


def echoing_headers() -> str:
    return (
        f"x-error-message: key {SECRET} is not allowed\r\n"
        f"x-ratelimit-remaining-requests: 0\r\nx-ratelimit-debug: {SECRET}\r\n"
        f"x-echo-authorization: Bearer {SECRET}\r\n"
    )


def raw(status: str, body: bytes, extra: str = "", ctype: str = "application/json") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\ncontent-length: {len(body)}\r\n"
        f"connection: close\r\n{extra}\r\n"
    )
    return head.encode() + body


def leaked(*things: Any) -> list[str]:
    """Renderings of `things` (str, repr, pickles) that hold the secret in any form."""
    found = []
    for thing in things:
        for text in (str(thing), repr(thing), pickle.dumps(thing).decode("latin-1")):
            found += [text[:160] for form in FORMS if form in text]
    return found


def error_parts(error: HFProvidersError) -> list[Any]:
    parts: list[Any] = [error, error.args, error.message, error.body, error.headers, error.warnings]
    if error.rate_limit is not None:
        parts.append(error.rate_limit.raw)
    if error.partial is not None:
        parts += [error.partial.meta.headers, error.partial.text]
    return parts


def echo_body() -> bytes:
    return (
        json.dumps({"error": f"key {SECRET} rejected", "detail": f"{quote(SECRET, safe='')}"})
        .replace(SECRET, SECRET.replace("/", "\\/"), 1)
        .encode()
    )


async def test_an_error_never_carries_the_secret(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    step = server.add_raw("echo-429", raw("429 Too Many Requests", echo_body(), echoing_headers()))
    client = secret_client(twin, server, max_retries=0)
    no_leaks.append(client)
    with pytest.raises(RateLimitError) as caught:
        await chat(client, step, uuid.uuid4().hex)
    error = caught.value
    assert error.headers and error.rate_limit is not None and error.body
    assert not leaked(*error_parts(error))
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is RateLimitError and copy.status_code == 429 and copy.body == error.body


async def test_a_success_never_carries_the_secret_in_its_meta(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    step = server.add_raw("echo-200", raw("200 OK", completion_body(), echoing_headers()))
    client = secret_client(twin, server)
    no_leaks.append(client)
    answer = await chat(client, step, uuid.uuid4().hex)
    assert answer.text
    rate_limit = answer.meta.rate_limit
    assert rate_limit is not None and rate_limit.raw
    assert not leaked(answer.meta.headers, rate_limit.raw)


async def test_a_stream_error_never_carries_the_secret(
    twin: str, server: FakeRouter, no_leaks: list[Client]
) -> None:
    head = (
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n"
        f"connection: close\r\n{echoing_headers()}\r\n"
    ).encode()
    event = b"data: " + json.dumps({"error": f"upstream rejected {SECRET}"}).encode() + b"\n\n"
    step = server.add_raw(
        "echo-stream", head + chunk(content_event("one ")) + chunk(event) + b"0\r\n\r\n"
    )
    client = secret_client(twin, server)
    no_leaks.append(client)
    headers = fault_headers(step, uuid.uuid4().hex)
    with pytest.raises(APIError) as caught:
        await read_all(client, headers)
    error = caught.value
    assert error.partial is not None and error.partial.text == "one "
    assert not leaked(*error_parts(error))


async def read_all(client: Client, headers: dict[str, str]) -> None:
    if isinstance(client, HFClient):
        with client.stream(MODEL, MESSAGES, extra_headers=headers) as stream:
            list(stream)
        return
    async with client.stream(MODEL, MESSAGES, extra_headers=headers) as astream:
        async for _ in astream:
            pass


def test_every_error_pickles_whole() -> None:
    first = ServiceUnavailableError("overloaded", status_code=503, provider="groq", body="{}")
    second = APIError("bad gateway", status_code=502, provider="together")
    chain = AllProvidersFailedError([first, second])
    copy = pickle.loads(pickle.dumps(chain))
    assert type(copy) is AllProvidersFailedError
    assert [type(e) for e in copy.errors] == [ServiceUnavailableError, APIError]
    assert copy.errors[0].provider == "groq" and str(copy) == str(chain)


def windows(token: str, size: int = 4) -> list[str]:
    return [token[i : i + size] for i in range(len(token) - size + 1)]


# Obviously fake tokens, built at run time: two halves joined by an invisible or blank character.
_HEAD, _TAIL = "hf_FAKEfakeFAKE", "fakeFAKEfake0000"
BAD_TOKENS = [
    _HEAD + "\u200b" + _TAIL,  # zero-width space, pasted from a web page
    _HEAD + " " + _TAIL,
    _HEAD + "\t" + _TAIL,
    _HEAD + _TAIL + "\u00a0",  # a non-breaking space at the end
]


@pytest.mark.parametrize("token", BAD_TOKENS)
@pytest.mark.parametrize("cls", [HFClient, AsyncHFClient])
def test_a_mangled_token_is_refused_without_showing_it(cls: type[Client], token: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        cls(api_key=token)
    message = str(caught.value)
    assert "position" in message
    assert not [w for w in windows(token.strip()) if w in message]


@pytest.mark.parametrize("token", BAD_TOKENS)
async def test_a_mangled_environment_token_is_refused_before_sending(
    twin: str, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", token)
    client: Client = HFClient() if twin == "sync" else AsyncHFClient()
    try:
        with pytest.raises(ConfigurationError) as caught:
            await chat(client, "ok", uuid.uuid4().hex)
    finally:
        if isinstance(client, HFClient):
            client.close()
        else:
            await client.aclose()
    assert not [w for w in windows(token.strip()) if w in str(caught.value)]


@pytest.mark.parametrize(
    "model", ["org/../../api/whoami", "org/model?expand=secrets", "org/model#x", "org/mo--del", ""]
)
async def test_model_providers_checks_the_model_id_before_asking(
    twin: str, server: FakeRouter, no_leaks: list[Client], model: str
) -> None:
    client = make_client(twin, server)
    no_leaks.append(client)
    with pytest.raises(InvalidModelError):
        await model_providers(client, model)
    assert len(server.requests) == 0


async def model_providers(client: Client, model: str) -> Any:
    if isinstance(client, HFClient):
        return client.model_providers(model)
    return await client.model_providers(model)
