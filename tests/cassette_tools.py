"""Render hand-written VCR cassettes in vcrpy's on-disk format, with a provenance first line.

Hand-written cassettes are specified in Python (the `*_cassette_specs.py` modules) and rendered
here, so the SSE framing and JSON bodies are byte-exact and reviewable. Re-recording with a real
token (see README, "Cassettes") overwrites them with real exchanges.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROUTER_RESPONSE_HEADERS = {
    "Access-Control-Expose-Headers": "X-Repo-Commit,X-Request-Id,X-Error-Code,X-Error-Message",
    "Connection": "keep-alive",
    "Date": "Mon, 24 Nov 2025 16:00:00 GMT",
    "Via": "1.1 0f1b4c2a3d5e6f708192a3b4c5d6e7f8.cloudfront.net (CloudFront)",
    "X-Amz-Cf-Pop": "CDG52-P4",
    "X-Cache": "Miss from cloudfront",
    "X-Powered-By": "huggingface-moon",
}


@dataclass
class Exchange:
    """One request/response pair."""

    method: str
    uri: str
    request_body: Any
    status: int
    response_body: bytes | str | Any
    response_headers: dict[str, str] = field(default_factory=dict)
    request_headers: dict[str, str] = field(default_factory=dict)


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    404: "Not Found",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def sse_body(events: list[Any], *, done: bool = True, space: bool = True) -> str:
    """SSE framing as the router sends it."""
    prefix = "data: " if space else "data:"
    out = "".join(
        f"{prefix}{e if isinstance(e, str) else json.dumps(e, separators=(',', ':'))}\n\n"
        for e in events
    )
    return out + (f"{prefix}[DONE]\n\n" if done else "")


def render(path: Path, note: str, exchanges: list[Exchange]) -> None:
    """Write a cassette whose first line is `# <note>`."""
    interactions = []
    for ex in exchanges:
        body = ex.response_body
        if not isinstance(body, bytes | str):
            body = json.dumps(body, separators=(",", ":"))
        if isinstance(body, bytes):
            body = body.decode()
        request_body = ex.request_body
        if request_body is not None and not isinstance(request_body, str):
            request_body = json.dumps(request_body)
        interactions.append(
            {
                "request": {
                    "body": request_body,
                    "headers": {
                        k: [v]
                        for k, v in {
                            "Content-Type": "application/json",
                            **ex.request_headers,
                        }.items()
                    },
                    "method": ex.method,
                    "uri": ex.uri,
                },
                "response": {
                    "body": {"string": body},
                    "headers": {k: [v] for k, v in ex.response_headers.items()},
                    "status": {"code": ex.status, "message": _REASONS.get(ex.status, "")},
                },
            }
        )
    text = yaml.safe_dump(
        {"interactions": interactions, "version": 1}, sort_keys=False, allow_unicode=True, width=100
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# {note}\n{text}")


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
