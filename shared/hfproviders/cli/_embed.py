"""The `hfproviders embed` command (on the public API: the client's `embed`).

```
hfproviders embed MODEL TEXT... [--provider P|a,b] [--dimensions N] [--normalize] [--json]
```

Prints the number of dimensions, the serving provider and the latency, with a short preview of
each vector; `--json` prints one JSON object with the vectors. `-` as the only text reads one
text per line from stdin.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Protocol

__all__ = ["add_embed_command", "cmd_embed"]


class _Console(Protocol):
    def print(self, text: str = "") -> None: ...

    def note(self, text: str) -> None: ...


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be an integer >= 1")
    return value


def add_embed_command(
    commands: Any, parents: list[argparse.ArgumentParser], **parser_options: Any
) -> argparse.ArgumentParser:
    """Add `embed` to the CLI's subcommands (`commands` from `add_subparsers`)."""
    embed: argparse.ArgumentParser = commands.add_parser(
        "embed",
        parents=parents,
        help="embed texts (feature extraction) and print the vectors' size, provider and time",
        description=(
            "Embed one or more texts. On the router, the providers that serve MODEL for "
            "feature extraction come from the Hub; prints dimensions, the serving provider and "
            "latency, or the vectors with --json."
        ),
        **parser_options,
    )
    embed.add_argument("model", help="an HF model id, optionally with :provider")
    embed.add_argument("texts", nargs="+", metavar="TEXT", help="texts to embed ('-': stdin lines)")
    embed.add_argument("--provider", help="a provider, 'auto', or a failover list a,b,c")
    embed.add_argument("--dimensions", type=_positive_int, help="output dimensions (Matryoshka)")
    embed.add_argument("--normalize", action="store_true", help="L2-normalise the vectors")
    embed.add_argument(
        "--batch-size", type=_positive_int, default=None, help="inputs per request (default 32)"
    )
    embed.add_argument("--json", action="store_true", help="print one JSON object with the vectors")
    embed.set_defaults(handler=cmd_embed)
    return embed


def _texts(args: argparse.Namespace) -> list[str]:
    if args.texts == ["-"]:
        return [line.rstrip("\n") for line in sys.stdin if line.strip()]
    return list(args.texts)


def _provider(value: str | None) -> str | list[str] | None:
    if value is None or "," not in value:
        return value
    return [part.strip() for part in value.split(",") if part.strip()]


def cmd_embed(args: argparse.Namespace, client: Any, console: _Console) -> int:
    """Run `embed`: 0 on success (errors propagate to the CLI's handler and exit code)."""
    options: dict[str, Any] = {"provider": _provider(args.provider)}
    if args.dimensions is not None:
        options["dimensions"] = args.dimensions
    if args.normalize:
        options["normalize"] = True
    if args.batch_size is not None:
        options["batch_size"] = args.batch_size
    result = client.embed(args.model, _texts(args), **options)
    if args.json:
        usage = result.usage
        console.print(
            json.dumps(
                {
                    "model": result.model,
                    "provider": result.provider,
                    "dimensions": result.dimensions,
                    "embeddings": result.embeddings,
                    "usage": None
                    if usage is None
                    else {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.total_tokens},
                    "latency_s": round(result.meta.latency_s, 4),
                    "requests": len(result.batches),
                    "request_id": result.meta.request_id,
                }
            )
        )
        return 0
    count = len(result.embeddings)
    console.print(
        f"{result.dimensions} dimensions, {count} vector{'s' if count != 1 else ''}, "
        f"served by {result.provider or 'the server'} in {result.meta.latency_s:.3f} s"
        + (f" ({len(result.batches)} requests)" if len(result.batches) > 1 else "")
    )
    for vector in result.embeddings[:5]:
        preview = ", ".join(f"{x:.4f}" for x in vector[:4])
        console.print(f"  [{preview}, …]")
    if count > 5:
        console.print(f"  … and {count - 5} more")
    if result.usage is not None:
        console.note(f"usage: {result.usage.prompt_tokens} input tokens")
    return 0
