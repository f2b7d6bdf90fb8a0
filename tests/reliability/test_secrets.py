"""The token never shows: not in logs (DEBUG), error messages, reprs, tracebacks, or the client.

The fake router (`Fault.echo_token`) echoes the Authorization header back in a 401 body, in `X-Error-Message`, and in
an error event inside a 200 stream: the worst case a provider can produce.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from typing import Any

import pytest

from hfproviders import AttemptEvent, AuthenticationError, HFProvidersError
from hfproviders.testing import FakeRouter
from tests.conftest import FAKE_TOKEN
from tests.reliability.conftest import Client, chat, make_client, stream_text


def leaks(*things: Any) -> list[str]:
    """The renderings of `things` that contain the token."""
    found = []
    for thing in things:
        for text in (str(thing), repr(thing)):
            if FAKE_TOKEN in text:
                found.append(text[:200])
    return found


def error_renderings(error: BaseException) -> list[Any]:
    out: list[Any] = [error, error.args, "".join(traceback.format_exception(error))]
    if isinstance(error, HFProvidersError):
        out += [error.message, error.body, error.warnings, error.partial]
    return out


def log_renderings(caplog: pytest.LogCaptureFixture) -> list[Any]:
    out: list[Any] = [caplog.text]
    for record in caplog.records:
        out += [record.getMessage(), record.args, record.exc_text]
    return out


async def test_token_never_appears_on_failure_or_success(
    twin: str, server: FakeRouter, no_leaks: list[Client], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: ours, httpx, httpcore
    events: list[AttemptEvent] = []
    client = make_client(twin, server, on_attempt=events.append)
    no_leaks.append(client)

    with pytest.raises(AuthenticationError) as failed:
        await chat(client, "echo401", uuid.uuid4().hex)
    success = await chat(client, "ok", uuid.uuid4().hex)
    stream = await stream_text(client, "ok", uuid.uuid4().hex, [])

    assert failed.value.status_code == 401
    assert "Invalid credentials" in failed.value.message  # the echoed body was read
    assert any(r.name == "hfproviders" for r in caplog.records)  # logging was captured
    found = leaks(
        *error_renderings(failed.value),
        *log_renderings(caplog),
        *events,
        client,
        success,
        success.meta,
        stream.completion,
    )
    assert found == []


async def test_token_echoed_in_a_response_header_stays_out_of_our_logs_and_errors(
    twin: str, server: FakeRouter, no_leaks: list[Client], caplog: pytest.LogCaptureFixture
) -> None:
    """`X-Error-Message` echoing the token: our error and our log lines stay clean.

    (httpcore's own DEBUG trace prints raw response headers; that logger is not ours.)
    """
    caplog.set_level(logging.DEBUG)
    client = make_client(twin, server)
    no_leaks.append(client)
    with pytest.raises(AuthenticationError) as failed:
        await chat(client, "echo401h", uuid.uuid4().hex)
    assert "Invalid token" in failed.value.message  # the header was read into the message
    ours = [r for r in caplog.records if r.name.startswith("hfproviders")]
    assert ours
    assert leaks(*error_renderings(failed.value), *[r.getMessage() for r in ours]) == []


async def test_token_echoed_in_a_stream_error_event_is_redacted(
    twin: str, server: FakeRouter, no_leaks: list[Client], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(twin, server)
    no_leaks.append(client)
    with pytest.raises(HFProvidersError) as failed:
        await stream_text(client, "echo_stream", uuid.uuid4().hex, [])
    assert failed.value.in_stream
    assert "upstream rejected key" in failed.value.message
    assert leaks(*error_renderings(failed.value), *log_renderings(caplog)) == []
