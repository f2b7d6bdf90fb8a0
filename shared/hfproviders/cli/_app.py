"""The `hfproviders` command line: chat, embed, models, check, bench and fake-router (argparse).

This module parses arguments, maps errors to exit codes and prints; what `chat`, `check --probe`
and `bench` measure (timed streams, probes, bench runs and their statistics) is in `_bench`, the
chart in `_plot`, the fake router command in `_fake`, `embed` in `_embed`. It imports only the
public API (`hfproviders`, `hfproviders.testing`), so what works here works in your code. Tests call
`main(argv, client_factory=...)` with a fake client or a real one on the fake router.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import IO, Any, Protocol, cast
from urllib.parse import urlsplit

from hfproviders import (
    AllProvidersFailedError,
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    HFProvidersError,
    InvalidRequestInputError,
    MissingTokenError,
    ModelAvailability,
    ModelInfo,
    ProviderInfo,
    __version__,
)
from hfproviders.cli._bench import (
    BenchSettings,
    ProbeResult,
    ProgressBar,
    StreamResult,
    bench_targets,
    probe_provider,
    run_bench,
    run_chat_stream,
)
from hfproviders.cli._plot import PLOT_INSTALL, plotting_available, write_png

__all__ = ["EXIT_API_ERROR", "EXIT_INTERRUPTED", "EXIT_NETWORK", "EXIT_OK", "EXIT_USAGE", "main"]

EXIT_OK = 0
EXIT_API_ERROR = 1
EXIT_USAGE = 2
EXIT_NETWORK = 3
EXIT_INTERRUPTED = 130

DEFAULT_BASE_URL = "https://router.huggingface.co/v1"
TOKEN_HELP = """\
Create a token at https://huggingface.co/settings/tokens (a fine-grained token with the
permission "Make calls to Inference Providers"), then either:
    export HF_TOKEN=hf_...
or log in once with:
    hf auth login"""

KEY_HELP = """\
This server is not Hugging Face's: pass its key with --api-key KEY or set HFPROVIDERS_API_KEY
(a Hugging Face token is never sent to other servers)."""

EPILOG = """\
exit codes:
  0  success
  1  the API answered with an error (or `check` found a problem, or every `bench` run failed)
  2  usage error, or no token / a rejected token
  3  the server could not be reached, or did not answer in time (every provider, for a chain)
  130 interrupted

token: HF_TOKEN, else the token saved by `hf auth login`; for another --base-url, --api-key or
HFPROVIDERS_API_KEY. Try it all offline: `hfproviders fake-router --port 8080`, then add
`--base-url http://127.0.0.1:8080/v1 --router --api-key test` to any command.
"""


class ClientLike(Protocol):
    """The part of `HFClient` the CLI uses (a fake with these methods works in tests)."""

    def stream(self, model: str, messages: Sequence[Mapping[str, Any]], **params: Any) -> Any:
        """Return a chat stream: an iterator of chunks with `.meta` and `.completion`."""
        ...

    def chat(self, model: str, messages: Sequence[Mapping[str, Any]], **params: Any) -> Any:
        """Return a `ChatCompletion`."""
        ...

    def text_generation_stream(self, model: str, prompt: str, **params: Any) -> Any:
        """Return a text-generation token stream."""
        ...

    def list_models(self) -> list[ModelInfo]:
        """Return the router's model list."""
        ...

    def embed(self, model: str, inputs: str | Sequence[str], **params: Any) -> Any:
        """Return an `EmbeddingResult`."""
        ...

    def model_providers(self, model: str) -> ModelAvailability:
        """Return the Hub's availability for `model`."""
        ...

    def close(self) -> None:
        """Release the connection pool."""
        ...


ClientFactory = Callable[[argparse.Namespace], ClientLike]


def default_client_factory(args: argparse.Namespace) -> ClientLike:
    """Build the real client from the common options.

    `--timeout` bounds the whole call (every attempt and wait), so it sets both the per-attempt
    timeout and the retry budget.
    """
    from hfproviders import HFClient, RetryPolicy

    options: dict[str, Any] = {"base_url": args.base_url, "api_key": args.api_key}
    if args.router:
        options["router"] = True
    if args.timeout is not None:  # always set by the parser; a test factory may leave it out
        options["timeout"] = args.timeout
        options["retry"] = RetryPolicy(budget=args.timeout)
    return cast(ClientLike, HFClient(**options))


def sends_to_hugging_face(base_url: str | None) -> bool:
    """Whether the CLI talks to Hugging Face (the default) or to another server."""
    if base_url is None:
        return True
    host = (urlsplit(base_url).hostname or "").lower()
    return host in ("huggingface.co", "hf.co") or host.endswith((".huggingface.co", ".hf.co"))


@contextlib.contextmanager
def hub_endpoint(base_url: str | None) -> Iterator[None]:
    """Send Hub lookups to `--base-url`'s host (unless `HF_ENDPOINT` says where they go).

    The fake router and gateways that speak the router's protocol serve `/api/models/{id}`
    beside `/v1`; the core reads `HF_ENDPOINT`, as huggingface_hub does.
    """
    if base_url is None or sends_to_hugging_face(base_url) or os.environ.get("HF_ENDPOINT"):
        yield
        return
    parts = urlsplit(base_url)
    os.environ["HF_ENDPOINT"] = f"{parts.scheme}://{parts.netloc}"
    try:
        yield
    finally:
        os.environ.pop("HF_ENDPOINT", None)


class UsageError(Exception):
    """A bad combination of command-line options (exit code 2)."""


# ---------------------------------------------------------------------------------------------
# Output helpers


@dataclass
class Console:
    """Where the CLI writes: the answer and tables on `out`, progress and notes on `err`.

    `partial` is True while stdout ends inside a line (a streamed answer that broke off), so an
    error is written after a line break, not glued to the partial answer.
    """

    out: IO[str]
    err: IO[str]
    partial: bool = False

    def print(self, text: str = "") -> None:
        """Write a line to stdout."""
        self.out.write(text + "\n")
        self.partial = False

    def write(self, text: str) -> None:
        """Write streamed text to stdout as it arrives."""
        if text:
            self.out.write(text)
            self.out.flush()
            self.partial = not text.endswith("\n")

    def end_line(self) -> None:
        """End a partial stdout line."""
        if self.partial:
            self.print()

    def note(self, text: str) -> None:
        """Write a line to stderr (after ending a partial stdout line)."""
        self.end_line()
        self.err.write(text + "\n")
        self.err.flush()


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    """Render rows as aligned plain-text columns (`right` lists right-aligned columns)."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _num(value: float | None, fmt: str = "{:.2f}") -> str:
    return "-" if value is None else fmt.format(value)


def _flag(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "?"}[value]


def _dump_json(console: Console, data: Any) -> None:
    console.print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


# ---------------------------------------------------------------------------------------------
# chat


def _summary_line(result: StreamResult) -> str:
    parts = [f"provider: {result.provider or 'unknown'}"]
    if result.completion_tokens is not None:
        parts.append(f"tokens: {result.prompt_tokens or 0} in / {result.completion_tokens} out")
    if result.ttft_s is not None:
        parts.append(f"TTFT {result.ttft_s:.2f}s")
    parts.append(f"total {result.latency_s:.2f}s")
    if result.request_id:
        parts.append(f"request id {result.request_id}")
    return "[" + " · ".join(parts) + "]"


def _provider_option(value: str | None) -> str | list[str] | None:
    """`groq` stays a string; `groq,together` becomes a failover chain."""
    if value is None:
        return None
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise UsageError("--provider needs a name, a policy, or a comma-separated list")
    return names[0] if len(names) == 1 else names


def _check_model_id(args: argparse.Namespace, model: str) -> None:
    """The router needs `org/name`: refuse anything else before sending."""
    if not (sends_to_hugging_face(args.base_url) or args.router):
        return  # a single server (TGI, an endpoint) names its model as it likes
    base = model.partition(":")[0]
    org, sep, name = base.partition("/")
    if not (org and sep and name):
        raise UsageError(
            f"model {model!r} needs its organisation, as on the Hub: e.g. "
            "'meta-llama/Llama-3.3-70B-Instruct' (see `hfproviders models --search NAME`)"
        )


def cmd_chat(args: argparse.Namespace, client: ClientLike, console: Console) -> int:
    """Stream one answer to stdout; usage and timing go to stderr."""
    _check_model_id(args, args.model)
    messages: list[dict[str, Any]] = []
    if args.system:
        messages.append({"role": "system", "content": args.system})
    prompt = args.prompt if args.prompt != "-" else sys.stdin.read()
    if not prompt.strip():
        raise UsageError("the prompt is empty: give the question as PROMPT (or '-' for stdin)")
    messages.append({"role": "user", "content": prompt})
    params: dict[str, Any] = {}
    provider = _provider_option(args.provider)
    if provider is not None:
        params["provider"] = provider
    if args.max_tokens is not None:
        params["max_tokens"] = args.max_tokens
    if args.temperature is not None:
        params["temperature"] = args.temperature

    def think(text: str) -> None:
        console.err.write(text)
        console.err.flush()

    streaming = not args.json
    result = run_chat_stream(
        client,
        args.model,
        messages,
        params,
        on_text=console.write if streaming else None,
        on_reasoning=think if streaming and args.show_reasoning else None,
    )
    if args.json:
        payload = asdict(result)
        payload["model"] = args.model
        payload["usage"] = {
            "prompt_tokens": payload.pop("prompt_tokens"),
            "completion_tokens": payload.pop("completion_tokens"),
            "total_tokens": payload.pop("total_tokens"),
        }
        _dump_json(console, payload)
        return EXIT_OK
    console.end_line()
    if args.show_reasoning and result.reasoning and not result.reasoning.endswith("\n"):
        console.err.write("\n")  # keep the summary off the reasoning's last line
    console.note(_summary_line(result))
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# models

# The router's /v1/models lists chat-completion models only; "task" narrows by input modality.
TASK_MODALITIES: dict[str, str | None] = {
    "conversational": None,
    "text-generation": None,
    "image-text-to-text": "image",
}


def filter_models(
    models: Iterable[ModelInfo],
    *,
    search: str | None = None,
    provider: str | None = None,
    task: str | None = None,
    tools: bool = False,
    structured: bool = False,
    live: bool = False,
) -> list[ModelInfo]:
    """Keep the models (and, within each, the providers) that pass every filter."""
    wanted = provider.casefold() if provider else None
    needed_modality = TASK_MODALITIES.get(task) if task else None
    kept: list[ModelInfo] = []
    for model in models:
        if search and search.casefold() not in model.id.casefold():
            continue
        if needed_modality and needed_modality not in model.input_modalities:
            continue
        providers = [
            p
            for p in model.providers
            if (wanted is None or p.provider.casefold() == wanted)
            and (not tools or p.supports_tools is True)
            and (not structured or p.supports_structured_output is True)
            and (not live or p.is_live)
        ]
        if providers or not (wanted or tools or structured or live):
            kept.append(replace(model, providers=tuple(providers)))
    return kept


def _provider_row(model_id: str, p: ProviderInfo) -> list[str]:
    price_in = "free" if p.is_free else _num(p.pricing_input)
    price_out = "free" if p.is_free else _num(p.pricing_output)
    return [
        model_id,
        p.provider,
        p.status,
        price_in,
        price_out,
        _num(p.context_length, "{:,}") if p.context_length is not None else "-",
        _flag(p.supports_tools),
        _flag(p.supports_structured_output),
        _num(p.first_token_latency_ms, "{:.0f}"),
        _num(p.throughput, "{:.0f}"),
    ]


def _check_provider_name(name: str, models: Sequence[ModelInfo]) -> None:
    """Refuse a provider no listed model has, as `chat` refuses an unknown provider."""
    import difflib

    known = sorted({p.provider for m in models for p in m.providers})
    if name.casefold() in (k.casefold() for k in known):
        return
    close = difflib.get_close_matches(name.casefold(), known, n=3)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise UsageError(f"Unknown provider {name!r}.{hint} Known: {', '.join(known)}.")


def cmd_models(args: argparse.Namespace, client: ClientLike, console: Console) -> int:
    """List the router's models with their providers, prices, context and capabilities."""
    listed = client.list_models()
    if args.provider:
        _check_provider_name(args.provider, listed)
    models = filter_models(
        listed,
        search=args.search,
        provider=args.provider,
        task=args.task,
        tools=args.tools,
        structured=args.structured,
        live=args.live,
    )
    if args.limit is not None:
        models = models[: args.limit]
    if args.json:
        _dump_json(console, [m.to_dict() for m in models])
        return EXIT_OK
    rows: list[list[str]] = []
    for model in models:
        if not model.providers:
            rows.append([model.id, "-", "-", "-", "-", "-", "-", "-", "-", "-"])
        for i, p in enumerate(model.providers):
            rows.append(_provider_row(model.id if i == 0 else "", p))
    headers = ["MODEL", "PROVIDER", "STATUS", "IN $/1M", "OUT $/1M", "CONTEXT"]
    headers += ["TOOLS", "JSON", "TTFT ms", "TOK/S"]
    if rows:
        console.print(render_table(headers, rows, right={3, 4, 5, 8, 9}))
    console.note(f"{len(models)} model(s). Prices in USD per million tokens.")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# check


def _access_text(a: ModelAvailability) -> str:
    if a.accessible is True:
        return "granted" if a.gated else "yes"
    if a.accessible is False:
        return "no"
    return "unknown (no token)"


def _gated_text(a: ModelAvailability) -> str:
    if a.gated is None:
        return "?"
    if not a.gated:
        return "no"
    return f"yes ({a.gate_mode})" if a.gate_mode else "yes"


def _exists_text(a: ModelAvailability) -> str:
    return {True: "yes", False: "no", None: "?"}[a.exists]


def _check_problem(a: ModelAvailability, probes: Sequence[ProbeResult]) -> bool:
    return (
        a.exists is not True
        or a.accessible is False
        or not a.live_providers
        or any(not p.ok for p in probes)
    )


def cmd_check(args: argparse.Namespace, client: ClientLike, console: Console) -> int:
    """Report existence, gating, access and providers for each model; optionally probe them."""
    reports: list[dict[str, Any]] = []
    problem = False
    for model in args.models:
        availability = client.model_providers(model)
        if availability.error_code == "unauthorized":
            # A rejected token spoils every lookup alike: stop and say how to fix it (exit 2).
            raise AuthenticationError(availability.error or "rejected token", status_code=401)
        probes: list[ProbeResult] = []
        if args.probe and availability.accessible is not False:
            probes = [
                probe_provider(client, model, p.provider) for p in availability.live_providers
            ]
        problem = problem or _check_problem(availability, probes)
        if args.json:
            reports.append({**availability.to_dict(), "probes": [asdict(p) for p in probes]})
            continue
        _print_check(console, availability, probes)
    if args.json:
        _dump_json(console, reports)
    return EXIT_API_ERROR if problem else EXIT_OK


def _print_check(console: Console, a: ModelAvailability, probes: Sequence[ProbeResult]) -> None:
    console.print(a.model)
    summary = f"  exists: {_exists_text(a)}   gated: {_gated_text(a)}   access: {_access_text(a)}"
    if a.pipeline_tag:
        summary += f"   pipeline: {a.pipeline_tag}"
    console.print(summary)
    if a.error:
        console.print(f"  ! {a.error}")
    if a.exists is True and not a.providers:
        console.print("  no Inference Provider serves this model")
    if a.providers:
        by_provider = {p.provider: p for p in probes}
        headers = ["PROVIDER", "STATUS", "TASK", "PROVIDER MODEL ID"]
        if probes:
            headers.append("PROBE")
        rows = []
        for m in a.providers:
            row = [m.provider, m.status, m.task or "-", m.provider_model_id or "-"]
            if probes:
                probe = by_provider.get(m.provider)
                row.append(_probe_text(probe))
            rows.append(row)
        table = render_table(headers, rows, right=set())
        console.print("\n".join("  " + line for line in table.splitlines()))
    console.print()


def _probe_text(probe: ProbeResult | None) -> str:
    if probe is None:
        return "not probed"
    if probe.ok:
        return f"ok {probe.latency_s:.2f}s" if probe.latency_s is not None else "ok"
    return f"FAIL {probe.error}"


# ---------------------------------------------------------------------------------------------
# bench (the runs, statistics and chart are in _bench)


def _bench_table(summaries: Sequence[Mapping[str, Any]]) -> str:
    headers = ["TARGET", "RUNS", "ERR %", "TTFT p50", "LAT p50", "LAT p95", "TOK/S", "$/RUN"]
    rows = [
        [
            s["target"],
            str(s["runs"]),
            f"{100 * s['error_rate']:.0f}",
            _num(s["ttft_p50_s"], "{:.2f}s"),
            _num(s["latency_p50_s"], "{:.2f}s"),
            _num(s["latency_p95_s"], "{:.2f}s"),
            _num(s["tokens_per_s"], "{:.0f}"),
            _num(s["cost_per_run_usd"], "{:.6f}"),
        ]
        for s in summaries
    ]
    return render_table(headers, rows, right={1, 2, 3, 4, 5, 6, 7})


def cmd_bench(args: argparse.Namespace, client: ClientLike, console: Console) -> int:
    """Run each target N times, then print TTFT, latency percentiles, speed, errors and cost."""
    if args.api != "text-generation":
        _check_model_id(args, args.model)
    providers = [n.strip() for n in (args.providers or "").split(",") if n.strip()]
    targets = bench_targets(
        client, args.model, api=args.api, providers=providers, note=console.note
    )
    settings = BenchSettings(args.model, args.prompt, args.max_tokens, args.runs)
    progress = ProgressBar(len(targets) * args.runs, console.err, enabled=_is_tty(console.err))
    run_bench(client, settings, targets, on_run=lambda target: progress.step(target.label))
    progress.finish()
    summaries = [t.summary() for t in targets]
    if args.json:
        _dump_json(console, {"model": args.model, "targets": summaries})
    else:
        console.print(_bench_table(summaries))
        for s in summaries:
            if s["last_error"]:
                console.note(f"{s['target']}: {s['last_error']}")
    if args.png:
        write_png(args.png, summaries, f"{args.model}: {args.runs} runs per target")
        console.note(f"chart written to {args.png}")
    all_failed = all(s["errors"] == s["runs"] for s in summaries)
    return EXIT_API_ERROR if all_failed else EXIT_OK


# ---------------------------------------------------------------------------------------------
# Parser and entry point


def _is_tty(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--base-url",
        default=None,
        help=f"an OpenAI-compatible server (default {DEFAULT_BASE_URL})",
    )
    common.add_argument(
        "--api-key",
        default=None,
        help="the key for a --base-url that is not Hugging Face's (else HFPROVIDERS_API_KEY)",
    )
    common.add_argument(
        "--router",
        action="store_true",
        help="treat --base-url as the Hugging Face router (a gateway, the fake router): "
        "providers, policies and failover lists work there",
    )
    common.add_argument(
        "--timeout",
        type=_positive_float,
        default=120.0,
        help="seconds each call may take in all, every attempt and retry wait included "
        "(default 120)",
    )

    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="hfproviders",
        description=(
            "Chat with, list, check and benchmark Hugging Face Inference Providers; "
            "run a fake router to try it all offline."
        ),
        epilog=EPILOG,
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"hfproviders {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    chat = commands.add_parser(
        "chat",
        parents=[common],
        help="stream an answer to stdout",
        description="Stream an answer to stdout; provider, usage and timing go to stderr.",
        epilog=EPILOG,
        formatter_class=formatter,
    )
    chat.add_argument("model", help="an HF model id, optionally with :provider or :policy")
    chat.add_argument("prompt", help="the user message ('-' reads it from stdin)")
    chat.add_argument(
        "--provider",
        help="a provider, a policy (fastest, cheapest, preferred) or a failover list a,b,c",
    )
    chat.add_argument("--system", help="a system message")
    chat.add_argument("--max-tokens", type=_positive_int, help="cap on generated tokens")
    chat.add_argument("--temperature", type=float, help="sampling temperature (0 allowed)")
    chat.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (text, provider, usage, latency) instead of streaming",
    )
    chat.add_argument(
        "--show-reasoning", action="store_true", help="stream the model's reasoning to stderr"
    )
    chat.set_defaults(handler=cmd_chat)

    models = commands.add_parser(
        "models",
        parents=[common],
        help="list models with providers, prices, context and capabilities",
        description=(
            "List the router's models (GET /v1/models) with each provider's status, price in/out "
            "(USD per million tokens), context length, tool and structured-output support."
        ),
        epilog=EPILOG,
        formatter_class=formatter,
    )
    models.add_argument("--search", help="keep model ids containing this text")
    models.add_argument("--provider", help="keep only this provider")
    models.add_argument(
        "--task",
        choices=sorted(TASK_MODALITIES),
        help="the router lists chat models only; image-text-to-text keeps models taking images",
    )
    models.add_argument("--tools", action="store_true", help="providers with tool calling")
    models.add_argument(
        "--structured", action="store_true", help="providers with structured output"
    )
    models.add_argument("--live", action="store_true", help="live providers only")
    models.add_argument("--limit", type=_positive_int, help="show at most N models")
    models.add_argument("--json", action="store_true", help="print JSON")
    models.set_defaults(handler=cmd_models)

    check = commands.add_parser(
        "check",
        parents=[common],
        help="does a model exist, is it gated, may this token use it, who serves it",
        description=(
            "Ask the Hub about each model: existence, gating, this token's access, and the "
            "providers mapped to it (live, staging or error) with their task. Exit code 1 "
            "when a model is missing, inaccessible, has no live provider, or a probe fails."
        ),
        epilog=EPILOG,
        formatter_class=formatter,
    )
    check.add_argument("models", nargs="+", metavar="MODEL")
    check.add_argument(
        "--probe",
        action="store_true",
        help="send one tiny real request to each live provider (uses credits)",
    )
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(handler=cmd_check)

    bench = commands.add_parser(
        "bench",
        parents=[common],
        help="compare providers: TTFT, tokens/s, p50/p95 latency, errors, cost",
        description=(
            "Run the same streamed prompt N times per target and compare time to first token, "
            "tokens/s, p50/p95 latency, error rate and cost (from /v1/models pricing). Targets "
            "are the model's live providers (or --providers), and with --api the "
            "text-generation API. Uses credits."
        ),
        epilog=EPILOG,
        formatter_class=formatter,
    )
    bench.add_argument("model")
    bench.add_argument("--providers", help="comma-separated providers (default: all live ones)")
    bench.add_argument("--runs", type=_positive_int, default=5, help="runs per target (5)")
    bench.add_argument(
        "--prompt",
        default="Write three sentences about the sea.",
        help="the prompt to send",
    )
    bench.add_argument("--max-tokens", type=_positive_int, default=128, help="per run (128)")
    bench.add_argument(
        "--api",
        choices=["chat", "text-generation", "both"],
        default="chat",
        help="which API to measure; text-generation uses hf-inference or your TGI base URL",
    )
    bench.add_argument("--png", metavar="PATH", help=f"also write a chart (needs `{PLOT_INSTALL}`)")
    bench.add_argument("--json", action="store_true", help="print JSON")
    bench.set_defaults(handler=cmd_bench)

    from hfproviders.cli._embed import add_embed_command
    from hfproviders.cli._fake import add_fake_router_command

    add_embed_command(commands, [common], epilog=EPILOG, formatter_class=formatter)
    add_fake_router_command(commands, epilog=EPILOG, formatter=formatter)
    return parser


def _token_problem(console: Console, args: argparse.Namespace, exc: HFProvidersError) -> int:
    if not sends_to_hugging_face(getattr(args, "base_url", None)):
        console.note(f"The server refused the request: {exc.message}")
        console.note(KEY_HELP)
        return EXIT_USAGE
    if isinstance(exc, MissingTokenError):
        console.note("No Hugging Face token found.")
    else:
        console.note(f"The token was rejected: {exc.message}")
    console.note(TOKEN_HELP)
    return EXIT_USAGE


def _unreachable(error: HFProvidersError) -> bool:
    """Connection errors and timeouts; for a failover chain, when every provider had one."""
    if isinstance(error, AllProvidersFailedError):
        return bool(error.errors) and all(_unreachable(e) for e in error.errors)
    return isinstance(error, APIConnectionError)


def _network_problem(console: Console, args: argparse.Namespace, exc: HFProvidersError) -> int:
    timeouts = [exc] if not isinstance(exc, AllProvidersFailedError) else list(exc.errors)
    if all(isinstance(e, APITimeoutError) for e in timeouts):
        limit = getattr(args, "timeout", None)
        after = f" after {limit:g} s" if limit is not None else ""
        console.note(f"The server did not answer in time: timed out{after}. {exc.message}")
        console.note("Raise --timeout (seconds for each call, retries included) to wait longer.")
        return EXIT_NETWORK
    # The message names the host: the router, your --base-url, or the Hub for `check`.
    console.note(f"Could not reach the server. {exc.message}")
    console.note("Check your network connection and proxy settings (HTTPS_PROXY).")
    return EXIT_NETWORK


def _error_object(exc: BaseException, code: int) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc), "exit_code": code}
    if isinstance(exc, HFProvidersError):
        out["message"] = exc.message
        for name in ("status_code", "code", "provider", "request_id"):
            out[name] = getattr(exc, name, None)
    return {"error": out}


def _run(
    args: argparse.Namespace, factory: ClientFactory, console: Console
) -> tuple[int, BaseException | None]:
    try:
        client = factory(args)
        try:
            handler = cast(Callable[[argparse.Namespace, ClientLike, Console], int], args.handler)
            return handler(args, client, console), None
        finally:
            client.close()
    except (MissingTokenError, AuthenticationError) as exc:
        return _token_problem(console, args, exc), exc
    except (UsageError, InvalidRequestInputError) as exc:
        console.note(f"hfproviders: error: {exc}")
        return EXIT_USAGE, exc
    except HFProvidersError as exc:
        if _unreachable(exc):
            return _network_problem(console, args, exc), exc
        console.note(f"Error: {exc}")
        return EXIT_API_ERROR, exc
    except KeyboardInterrupt as exc:
        console.note("interrupted")
        return EXIT_INTERRUPTED, exc


def main(
    argv: Sequence[str] | None = None,
    *,
    client_factory: ClientFactory | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """Run the CLI and return its exit code (see `hfproviders --help`)."""
    console = Console(stdout or sys.stdout, stderr or sys.stderr)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if getattr(args, "png", None) and not plotting_available():
        console.note(f"hfproviders: error: --png needs matplotlib: {PLOT_INSTALL}")
        return EXIT_USAGE
    if getattr(args, "client_free", False):
        return cast(Callable[[argparse.Namespace, Console], int], args.handler)(args, console)
    try:
        with hub_endpoint(args.base_url):
            code, error = _run(args, client_factory or default_client_factory, console)
        if error is not None and getattr(args, "json", False):
            _dump_json(console, _error_object(error, code))
        return code
    except BrokenPipeError:
        # The reader went away (`hfproviders models | head`): stop quietly, and keep Python
        # from failing again when it flushes stdout at exit.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_API_ERROR
