"""Cassette helpers of our suites: the renderer and wire kit of `hfproviders.testing`, and the
scrubbing hook used when re-recording with a real token (see README, "Cassettes")."""

from __future__ import annotations

from typing import Any

from hfproviders.testing import ROUTER_RESPONSE_HEADERS, Exchange, sse
from hfproviders.testing import render_cassette as render

__all__ = ["ROUTER_RESPONSE_HEADERS", "Exchange", "render", "scrub_response", "sse_body"]


def sse_body(events: list[Any], *, done: bool = True, space: bool = True) -> str:
    """SSE framing as the router sends it (the wire kit's `sse`, as text)."""
    return sse(events, done=done, space=space).decode()


SECRET_REQUEST_HEADERS = ["authorization", "cookie", "x-amzn-trace-id", "x-hf-bill-to"]
SECRET_RESPONSE_HEADERS = ("set-cookie", "x-amz-cf-id")


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """vcrpy `before_record_response`: drop cookies, and any echo of the recording token."""
    import os

    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in SECRET_RESPONSE_HEADERS:
            del headers[name]
    token = os.environ.get("HF_TOKEN")
    if token:
        for name, values in headers.items():
            headers[name] = [
                v.replace(token, "hf_***") if isinstance(v, str) else v for v in values
            ]
    body = response.get("body", {})
    if token and isinstance(body.get("string"), bytes | str):
        raw = body["string"]
        body["string"] = (
            raw.replace(token.encode(), b"hf_***")
            if isinstance(raw, bytes)
            else raw.replace(token, "hf_***")
        )
    return response
