"""The one cassette renderer: hand-written exchanges written in vcrpy's YAML format.

Cassettes are specified in Python (`Exchange` objects built with the wire kit) and rendered
here, so the SSE framing and JSON bodies are byte-exact and reviewable. The first line of every
file says how it was made (hand-written, synthesized: never claimed as recorded).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ROUTER_RESPONSE_HEADERS", "Exchange", "cassette_text", "render_cassette"]

ROUTER_RESPONSE_HEADERS = {
    "Access-Control-Expose-Headers": "X-Repo-Commit,X-Request-Id,X-Error-Code,X-Error-Message",
    "Connection": "keep-alive",
    "Date": "Mon, 24 Nov 2025 16:00:00 GMT",
    "Via": "1.1 0f1b4c2a3d5e6f708192a3b4c5d6e7f8.cloudfront.net (CloudFront)",
    "X-Amz-Cf-Pop": "CDG52-P4",
    "X-Cache": "Miss from cloudfront",
    "X-Powered-By": "huggingface-moon",
}
"""The CDN and router headers every router response carries (WIRE.md §1)."""


@dataclass
class Exchange:
    """One request/response pair of a cassette (bodies: JSON values, str or bytes)."""

    method: str
    uri: str
    request_body: Any
    status: int
    response_body: bytes | str | Any
    response_headers: Mapping[str, str] = field(default_factory=dict)
    request_headers: Mapping[str, str] = field(default_factory=dict)


def _text(body: Any) -> str | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body.decode()
    if isinstance(body, str):
        return body
    return json.dumps(body, separators=(",", ":"))


def cassette_text(note: str, exchanges: Sequence[Exchange], *, readable: bool = False) -> str:
    """A vcrpy cassette as text, `# <note>` on line 1 (say how it was made).

    `readable=True` writes multi-line bodies (SSE streams) as YAML literal blocks, so the file
    reads like the wire; vcrpy loads both forms alike.
    """
    import yaml  # type: ignore[import-untyped,unused-ignore]

    from hfproviders.testing._render import reason

    interactions = []
    for ex in exchanges:
        request_body = ex.request_body
        if request_body is not None and not isinstance(request_body, str | bytes):
            request_body = json.dumps(request_body, ensure_ascii=not readable)
        headers = {"Content-Type": "application/json", **ex.request_headers}
        interactions.append(
            {
                "request": {
                    "body": _text(request_body),
                    "headers": {k: [v] for k, v in headers.items()},
                    "method": ex.method,
                    "uri": ex.uri,
                },
                "response": {
                    "body": {"string": _text(ex.response_body) or ""},
                    "headers": {k: [v] for k, v in ex.response_headers.items()},
                    "status": {"code": ex.status, "message": reason(ex.status)},
                },
            }
        )
    document = {"interactions": interactions, "version": 1}
    if readable:
        text = yaml.dump(document, Dumper=_literal_dumper(), allow_unicode=True, width=10_000)
    else:
        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    return f"# {note}\n{text}"


def _literal_dumper() -> Any:
    import yaml

    class LiteralDumper(yaml.SafeDumper):  # type: ignore[misc,unused-ignore]
        """Multi-line strings as literal blocks; keys in insertion order."""

    def represent_str(dumper: Any, value: str) -> Any:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    def represent_dict(dumper: Any, value: Mapping[str, Any]) -> Any:
        return dumper.represent_mapping("tag:yaml.org,2002:map", value.items())

    LiteralDumper.add_representer(str, represent_str)
    LiteralDumper.add_representer(dict, represent_dict)
    return LiteralDumper


def render_cassette(
    path: Path | str, note: str, exchanges: Sequence[Exchange], *, readable: bool = False
) -> None:
    """Write a vcrpy cassette whose first line is `# <note>` (see `cassette_text`)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(cassette_text(note, exchanges, readable=readable))
