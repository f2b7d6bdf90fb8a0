"""Run one client against the mock in this process and print its figures as one JSON line.

Started by ``run.py`` with the peers venv's python, once per client and repeat:

- ``worker.py --import-only NAME [PORT]``: time the client's import in a fresh process (nothing
  but ``sys`` and ``time`` imported before it); with a port, also import + construction + first
  call (cold start); print ``RESULT {...}``.
- ``worker.py NAME --port P [sizes]``: set up the client, warm up, then measure client-process
  CPU per non-streamed call, per tool call and per streamed chunk, wall and CPU for concurrent
  async streams, peak RSS, and memory kept per call after gc (tracemalloc). Every result is
  checked against what the mock sent, and the mock's request counts against the calls made.
- ``worker.py NAME --port P --ab``: raw httpx and NAME in the same process, in alternating
  blocks, for paired ratios per call, per chunk and per tool call.
- ``worker.py NAME --port P --audit``: one call and one stream, then report network use.

An audit hook installed before the client is imported records, and blocks, every attempt to
resolve or connect to anything but a loopback address, so no packet ever leaves the machine and
the report says who tried.
"""

from __future__ import annotations

import sys
import time

# What a user types to get each client, timed before anything else is imported.
IMPORTS = {
    "raw_httpx": "import httpx",
    "hf_hub": "from huggingface_hub import InferenceClient",
    "openai": "from openai import OpenAI",
    "hfproviders": "import hfproviders",
    "lc_floor": "from langchain_core.language_models.chat_models import BaseChatModel",
    "lc_chathuggingface": "from langchain_huggingface import ChatHuggingFace, HuggingFaceEndpoint",
    "lc_chatopenai": "from langchain_openai import ChatOpenAI",
    "lc_hfproviders": "from langchain_hfproviders import ChatHFProviders",
    "li_floor": "from llama_index.core.llms.function_calling import FunctionCallingLLM",
    "li_openailike": "from llama_index.llms.openai_like import OpenAILike",
    "li_huggingfaceapi": "from llama_index.llms.huggingface_api import HuggingFaceInferenceAPI",
    "li_hfproviders": "from llamaindex_hfproviders import HFProviders",
}


# The network guard: defined before the import-only section so that both modes can install it
# (it needs nothing but builtins, so defining it costs the timed imports nothing).
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "::1"}
CONTACTS: list[str] = []


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    return host.startswith("127.") or host in _LOOPBACK_NAMES or host == ""


class BlockedNetworkError(OSError):
    """Raised by the audit hook so that a non-loopback connection never happens."""


def _audit(event: str, args: tuple[object, ...]) -> None:
    # Cheap first test: this hook sees every audited event of the process.
    if not event.startswith("socket."):
        return
    if event == "socket.connect":
        addr = args[1]
        if isinstance(addr, tuple) and not _is_loopback(addr[0]):
            CONTACTS.append(f"connect {addr[0]}:{addr[1]}")
            raise BlockedNetworkError(f"benchmark: blocked connect to {addr[0]}")
    elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex"):
        host = args[0]
        if host is not None and not _is_loopback(host):
            CONTACTS.append(f"resolve {host!s}")
            raise BlockedNetworkError(f"benchmark: blocked lookup of {host!s}")


def _import_only(name: str, port: int | None) -> None:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    error = None
    try:
        exec(IMPORTS[name], {})
    except Exception as exc:  # an adapter still being written: report, do not crash
        error = f"{type(exc).__name__}: {exc}"
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    import json
    import os
    import resource

    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    modules = len(sys.modules)
    out: dict[str, object] = {
        "import_s": wall,
        "import_cpu_s": cpu,
        "import_rss_mb": rss_kb / 1024,
        "modules": modules,
    }
    if port is not None and error is None:
        # Cold start as a user meets it: import, construct, first answer. A client that defers
        # its imports to the first request pays for them here, not in the import figure.
        sys.addaudithook(_audit)
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import bench_router
        import clients  # our harness, not the client: kept out of the timing

        start = time.perf_counter()
        try:
            client = clients.CLIENTS[name]()
            client.setup(f"http://127.0.0.1:{port}")
            text, _usage = client.call()
            first = time.perf_counter() - start
            client.close()
            if text != bench_router.NONSTREAM_TEXT:
                error = "first call: wrong text"
            else:
                out["first_call_s"] = wall + first
        except Exception as exc:
            error = f"first call: {type(exc).__name__}: {exc}"
    out["contacts"] = sorted(set(CONTACTS))
    print("RESULT " + json.dumps({"client": name, "error": error, **out}), flush=True)


if __name__ == "__main__" and len(sys.argv) in (3, 4) and sys.argv[1] == "--import-only":
    _import_only(sys.argv[2], int(sys.argv[3]) if len(sys.argv) == 4 else None)
    sys.exit(0)

# ---------------------------------------------------------------------------------------------
# Everything below runs only in measuring mode, after the import-only early exit.

import argparse  # noqa: E402
import asyncio  # noqa: E402
import gc  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import threading  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402


class CheckFailed(Exception):
    """A client's output differs from what the mock sent (it cannot be timed as correct)."""


# ------------------------------------------------------------------------------ server counters


class Mock:
    """Talks to the fake router's ``/__fake/stats`` with http.client (outside every timed window)."""

    def __init__(self, port: int) -> None:
        self.port = port

    def stats(self) -> dict[str, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", "/__fake/stats")
            return json.loads(conn.getresponse().read())  # type: ignore[no-any-return]
        finally:
            conn.close()

    def counts(self) -> dict[str, int]:
        return dict(self.stats()["by_route"])


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    keys = set(before) | set(after)
    return {
        k: after.get(k, 0) - before.get(k, 0) for k in keys if after.get(k, 0) != before.get(k, 0)
    }


# ------------------------------------------------------------------------------ checks


class Checks:
    """What a correct client returns, derived from the mock's own constants."""

    def __init__(self, mock: Any, chunks: int) -> None:
        self.mock = mock
        self.text = mock.NONSTREAM_TEXT
        self.usage = (
            mock.PROMPT_TOKENS,
            mock.NONSTREAM_COMPLETION_TOKENS,
            mock.PROMPT_TOKENS + mock.NONSTREAM_COMPLETION_TOKENS,
        )
        self.stream_text = mock.expected_stream_text(chunks)
        self.stream_usage = (mock.PROMPT_TOKENS, chunks, mock.PROMPT_TOKENS + chunks)
        self.tool_args = json.loads(mock.TOOL_ARGUMENTS)
        self.notes: set[str] = set()

    def call(self, out: Any) -> None:
        text, usage = out
        if text != self.text:
            raise CheckFailed(f"non-stream text differs ({len(text)} vs {len(self.text)} chars)")
        if usage is None:
            self.notes.add("no usage on non-stream calls")
        elif tuple(usage) != self.usage:
            raise CheckFailed(f"non-stream usage {usage} != {self.usage}")

    def stream(self, out: Any) -> None:
        text, usage = out
        if text != self.stream_text:
            got, want = len(text), len(self.stream_text)
            raise CheckFailed(f"streamed text does not reassemble ({got} vs {want} chars)")
        if usage is None:
            self.notes.add("no usage from streams")
        elif tuple(usage) != self.stream_usage:
            raise CheckFailed(f"stream usage {usage} != {self.stream_usage}")

    def tool(self, out: Any) -> None:
        call_id, name, args = out
        if name != self.mock.TOOL_NAME or args != self.tool_args:
            raise CheckFailed(f"tool call read as {name!r} {args!r}")
        if not call_id:
            raise CheckFailed("tool call has no id")
        if call_id != self.mock.TOOL_CALL_ID:
            self.notes.add(f"tool-call id rewritten ({call_id!r})")


# ------------------------------------------------------------------------------ phases


def _fmt_exc(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 200 else text[:197] + "..."


BLOCKS = 5


def timed_loop(fn: Callable[[], Any], check: Callable[[Any], None], n: int) -> float:
    """CPU seconds of this process per iteration of ``check(fn())``: the best of a few blocks.

    On a shared machine another process on the sibling hyperthread inflates CPU time by tens of
    percent for a while; interference only ever adds, so the least loaded block is the closest
    to the client's own cost (timeit's reasoning). Blocks are long enough for gc to run in each.
    """
    blocks = max(1, min(BLOCKS, n))
    size = n // blocks
    best = float("inf")
    for b in range(blocks):
        count = size if b < blocks - 1 else n - size * (blocks - 1)
        cpu0 = time.process_time()
        for _ in range(count):
            check(fn())
        best = min(best, (time.process_time() - cpu0) / count)
    return best


def phase(
    result: dict[str, Any],
    key: str,
    mock: Mock,
    expected: dict[str, int],
    body: Callable[[], float | dict[str, float]],
) -> None:
    """Run one measured phase; store its figure(s), or its error, under ``key``."""
    before = mock.counts()
    try:
        value = body()
    except Exception as exc:
        result["errors"][key] = _fmt_exc(exc)
        return
    seen = _delta(before, mock.counts())
    if seen != expected:
        result["errors"][key] = f"mock saw {seen}, expected {expected}"
        return
    if isinstance(value, dict):
        result["metrics"].update(value)
    else:
        result["metrics"][key] = value


async def _async_phase(
    client: Any, root: str, checks: Checks, concurrency: int
) -> dict[str, float]:
    await client.asetup(root)
    try:
        for _ in range(2):  # warm-up: connection set-up, lazy imports, and a second call
            checks.stream(await client.astream())
        gc.collect()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        results = await asyncio.gather(
            *(client.astream() for _ in range(concurrency)), return_exceptions=True
        )
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    finally:
        await client.aclose()
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        raise CheckFailed(f"{len(failures)}/{concurrency} streams failed: {_fmt_exc(failures[0])}")
    for r in results:
        checks.stream(r)
    return {"async_wall_s": wall, "async_cpu_s": cpu}


def _leftover_tasks() -> int:
    try:
        return len(asyncio.all_tasks())
    except RuntimeError:
        return 0


def measure(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """All figures for one client (a failed phase leaves an error, the others still run)."""
    import bench_router
    import clients
    import floors

    floors.STREAM_CHUNKS = args.chunks
    mock = Mock(args.port)
    root = f"http://127.0.0.1:{args.port}"
    checks = Checks(bench_router, args.chunks)
    client = clients.CLIENTS[name]()
    result: dict[str, Any] = {
        "client": name,
        "label": client.label,
        "framework": client.framework,
        "kind": client.kind,
        "metrics": {},
        "errors": {},
    }
    http = 1 if client.uses_http else 0
    before = mock.counts()
    try:
        client.setup(root)
    except ImportError as exc:
        result["status"] = f"n/a: import failed ({_fmt_exc(exc)})"
        return result
    except Exception as exc:
        result["status"] = f"setup failed: {_fmt_exc(exc)}"
        return result
    setup_requests = _delta(before, mock.counts())
    if setup_requests:
        result["setup_requests"] = setup_requests

    # Warm-up, checked too: the first calls pay for lazy imports and connection set-up.
    try:
        for _ in range(args.warmup):
            checks.call(client.call())
        checks.stream(client.stream())
        checks.tool(client.tool_call())
    except Exception as exc:
        result["errors"]["warmup"] = _fmt_exc(exc)
    gc.collect()

    phase(
        result,
        "call_s",
        mock,
        {"chat": args.calls * http} if http else {},
        lambda: timed_loop(client.call, checks.call, args.calls),
    )
    phase(
        result,
        "tool_s",
        mock,
        {"chat_tools": args.tools * http} if http else {},
        lambda: timed_loop(client.tool_call, checks.tool, args.tools),
    )
    phase(
        result,
        "chunk_s",
        mock,
        {"chat_stream": args.streams * http} if http else {},
        lambda: timed_loop(client.stream, checks.stream, args.streams) / args.chunks,
    )

    # The peak over the sync phases, which every client completes: comparable on equal work
    # (a client that fails the concurrent phase at once never pays for its streams' buffers).
    result["metrics"]["sync_peak_rss_mb"] = (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    n_async = (args.concurrency + 2) * http
    phase(
        result,
        "async",
        mock,
        {"chat_stream": n_async} if http else {},
        lambda: asyncio.run(_async_phase(client, root, checks, args.concurrency)),
    )
    result["metrics"]["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def kept_per_call() -> float:
        gc.collect()
        tracemalloc.start()
        try:
            for _ in range(5):
                checks.call(client.call())
            gc.collect()
            base = tracemalloc.get_traced_memory()[0]
            for _ in range(args.mem_calls):
                checks.call(client.call())
            gc.collect()
            kept: float = (tracemalloc.get_traced_memory()[0] - base) / args.mem_calls
            return kept
        finally:
            tracemalloc.stop()

    phase(
        result,
        "kept_bytes",
        mock,
        {"chat": (args.mem_calls + 5) * http} if http else {},
        kept_per_call,
    )
    client.close()
    result["notes"] = sorted(checks.notes)
    result["threads_left"] = threading.active_count() - 1
    return result


def ab(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Raw httpx (A) and ``name`` (B) in one process, in alternating blocks: paired ratios.

    Separate processes minutes apart see different machine load; blocks a fraction of a second
    apart, alternating which goes first, see the same. The targets use these ratios.
    """
    import statistics

    import bench_router
    import clients
    import floors

    floors.STREAM_CHUNKS = args.chunks
    root = f"http://127.0.0.1:{args.port}"
    mock = Mock(args.port)
    checks = Checks(bench_router, args.chunks)
    a, b = clients.RawHttpx(), clients.CLIENTS[name]()
    out: dict[str, Any] = {"client": name, "ratios": {}, "a": {}, "b": {}, "errors": {}}
    try:
        a.setup(root)
        b.setup(root)
    except ImportError as exc:
        out["status"] = f"n/a: import failed ({_fmt_exc(exc)})"
        return out
    phases: list[tuple[str, str, Callable[[Any], None], int, int]] = [
        ("call_s", "call", checks.call, args.ab_calls, 1),
        ("chunk_s", "stream", checks.stream, args.ab_streams, args.chunks),
        ("tool_s", "tool_call", checks.tool, args.ab_tools, 1),
    ]
    before = mock.counts()
    for key, method, check, n, per in phases:
        try:
            for c in (a, b):  # warm-up, checked
                for _ in range(3):
                    check(getattr(c, method)())
            ratios, times_a, times_b = [], [], []
            for i in range(args.ab_pairs):
                order = (a, b) if i % 2 == 0 else (b, a)
                spent = {}
                for c in order:
                    fn = getattr(c, method)
                    cpu0 = time.process_time()
                    for _ in range(n):
                        check(fn())
                    spent[id(c)] = (time.process_time() - cpu0) / n / per
                times_a.append(spent[id(a)])
                times_b.append(spent[id(b)])
                ratios.append(spent[id(b)] / spent[id(a)])
            out["ratios"][key] = statistics.median(ratios)
            out["a"][key] = statistics.median(times_a)
            out["b"][key] = statistics.median(times_b)
        except Exception as exc:
            out["errors"][key] = _fmt_exc(exc)
    # Both clients made the same number of requests of each kind: nothing hidden, no retries.
    seen = _delta(before, mock.counts())
    http_clients = 1 + (1 if b.uses_http else 0)
    expected = {
        "chat": (3 + args.ab_pairs * args.ab_calls) * http_clients,
        "chat_stream": (3 + args.ab_pairs * args.ab_streams) * http_clients,
        "chat_tools": (3 + args.ab_pairs * args.ab_tools) * http_clients,
    }
    if not out["errors"] and seen != expected:
        out["errors"]["requests"] = f"mock saw {seen}, expected {expected}"
    a.close()
    b.close()
    return out


def audit(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """One call and one stream with the environment as given; report who tried the network."""
    import clients
    import floors

    floors.STREAM_CHUNKS = args.chunks
    client = clients.CLIENTS[name]()
    out: dict[str, Any] = {"client": name}
    try:
        client.setup(f"http://127.0.0.1:{args.port}")
        client.call()
        client.stream()
        time.sleep(1.0)  # background threads (telemetry) get their chance
        client.close()
    except ImportError as exc:
        out["status"] = f"n/a: import failed ({_fmt_exc(exc)})"
    except Exception as exc:
        out["error"] = _fmt_exc(exc)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("client")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--tools", type=int, default=200)
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--mem-calls", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--audit", action="store_true")
    parser.add_argument("--ab", action="store_true", help="paired blocks against raw httpx")
    parser.add_argument("--ab-pairs", type=int, default=8)
    parser.add_argument("--ab-calls", type=int, default=25)
    parser.add_argument("--ab-streams", type=int, default=3)
    parser.add_argument("--ab-tools", type=int, default=10)
    args = parser.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    if not os.environ.get("BENCH_NO_AUDIT"):
        sys.addaudithook(_audit)
    if args.audit:
        result = audit(args.client, args)
    elif args.ab:
        result = ab(args.client, args)
    else:
        result = measure(args.client, args)
    result["contacts"] = sorted(set(CONTACTS))
    result["tasks_left"] = _leftover_tasks()
    print("RESULT " + json.dumps(result), flush=True)
    # Skip interpreter teardown: some clients' atexit/finalisers are slow and are not measured.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
