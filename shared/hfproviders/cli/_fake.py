"""`hfproviders fake-router`: the fake Hugging Face router of `hfproviders.testing`, served.

It listens on a loopback port until interrupted (or `--max-lifetime`), so any client (ours, the
openai SDK, LangChain, LlamaIndex, curl) can be pointed at it: `--base-url
http://127.0.0.1:PORT/v1`, with `router=True` for our clients. Faults, latency, error rates and
quirks per provider come from the options; per request, the `x-fake-steps` header scripts more.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hfproviders.cli._app import Console

__all__ = ["add_fake_router_command", "cmd_fake_router"]

DESCRIPTION = """\
Serve a fake Hugging Face router on 127.0.0.1: chat (streamed and not), /v1/models, the Hub's
provider mapping, text-generation and embeddings, with the router's headers and SSE framing, no
token and no network. With no script it answers like a capable model (tool calls, JSON schemas).
Point any client at --base-url http://127.0.0.1:PORT/v1 (add --router for hfproviders).
Stop it with Ctrl-C."""


def _pairs(values: list[str] | None, option: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values or ():
        provider, sep, setting = value.partition("=")
        if not sep or not provider or not setting:
            raise argparse.ArgumentTypeError(f"{option} takes PROVIDER=VALUE, got {value!r}")
        pairs.append((provider.strip(), setting.strip()))
    return pairs


def build_router(args: argparse.Namespace) -> Any:
    """The `FakeRouter` the options describe."""
    from hfproviders.testing import FakeRouter, Latency, Quirks, parse_step

    router = FakeRouter(strict=args.strict, token=args.token, seed=args.seed)
    for provider, steps in _pairs(args.fail, "--fail"):
        router.on(provider=provider).respond(*(parse_step(s) for s in steps.split(",")))
    for provider, spec in _pairs(args.latency, "--latency"):
        ttft, _, sigma = spec.partition(",")
        router.configure_provider(
            provider, latency=Latency(ttft_s=float(ttft), sigma=float(sigma or 0.5))
        )
    for provider, rate in _pairs(args.error_rate, "--error-rate"):
        router.configure_provider(provider, error_rate=float(rate))
    quirks: dict[str, list[str]] = {}
    for provider, name in _pairs(args.quirk, "--quirk"):
        quirks.setdefault(provider, []).append(name)
    for provider, names in quirks.items():
        router.configure_provider(provider, quirks=Quirks.of(names))
    return router


def cmd_fake_router(args: argparse.Namespace, console: Console) -> int:
    """Serve until interrupted or `--max-lifetime` seconds."""
    from hfproviders.cli._app import EXIT_OK, EXIT_USAGE

    try:
        router = build_router(args)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        console.note(f"hfproviders: error: {exc}")
        return EXIT_USAGE
    try:
        server = router.serve(args.host, args.port)
    except (ValueError, RuntimeError) as exc:
        console.note(f"hfproviders: error: {exc}")
        return EXIT_USAGE
    console.note(f"fake router listening on {server.base_url}")
    console.note(
        f"  try: hfproviders chat meta-llama/Llama-3.3-70B-Instruct Hello "
        f"--base-url {server.base_url} --router --api-key test"
    )
    if args.ready_file:
        partial = args.ready_file + ".tmp"
        with open(partial, "w") as handle:
            handle.write(str(server.port))
        os.replace(partial, args.ready_file)  # a reader never sees a half-written port
    started = time.monotonic()
    try:
        while args.max_lifetime is None or time.monotonic() - started < args.max_lifetime:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    stats = router.stats()
    console.note(f"fake router stopped after {stats['requests']} request(s)")
    return EXIT_OK


def add_fake_router_command(commands: Any, *, epilog: str, formatter: Any) -> None:
    """Register `fake-router` on the CLI's subcommands."""
    fake = commands.add_parser(
        "fake-router",
        help="serve a fake Hugging Face router on 127.0.0.1 (offline testing)",
        description=DESCRIPTION,
        epilog=epilog,
        formatter_class=formatter,
    )
    fake.add_argument("--host", default="127.0.0.1", help="a loopback address (127.0.0.1)")
    fake.add_argument("--port", type=int, default=8080, help="0 picks a free port (8080)")
    fake.add_argument("--seed", type=int, default=0, help="seeds latency draws and error rates")
    fake.add_argument(
        "--strict", action="store_true", help="refuse models not in the catalogue (400, Hub 404)"
    )
    fake.add_argument("--token", help="accept only this key (else any key is accepted)")
    fake.add_argument(
        "--fail",
        action="append",
        metavar="PROVIDER=STEPS",
        help="script a provider: 'groq=503', 'together=429:1,ok' (repeatable)",
    )
    fake.add_argument(
        "--latency",
        action="append",
        metavar="PROVIDER=SECONDS[,SIGMA]",
        help="lognormal time to first token: median seconds, spread (repeatable)",
    )
    fake.add_argument(
        "--error-rate",
        action="append",
        metavar="PROVIDER=RATE",
        help="fraction of requests answered 503, seeded (repeatable)",
    )
    fake.add_argument(
        "--quirk",
        action="append",
        metavar="PROVIDER=NAME",
        help="a provider quirk: no_done, think_inline, tool_call_index_minus_one, … (repeatable)",
    )
    fake.add_argument("--ready-file", metavar="PATH", help="write the bound port here once up")
    fake.add_argument(
        "--max-lifetime",
        type=float,
        metavar="SECONDS",
        help="stop after this long (default: never)",
    )
    fake.set_defaults(handler=cmd_fake_router, client_free=True, base_url=None, json=False)
