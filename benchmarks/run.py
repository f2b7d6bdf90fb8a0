"""Benchmark hfproviders against the clients people would otherwise use: one command.

    python benchmarks/run.py            # full run: 3 repeats, medians (about 20 minutes on 2 cores)
    python benchmarks/run.py --quick    # smoke run: 1 repeat, small counts (under 2 minutes)

What it does (stdlib only here; the clients run in their own venv):

1. Creates ``benchmarks/.peers-venv`` (gitignored) the first time, or when
   ``requirements-peers.txt`` or ``pyproject.toml`` changed, and installs this project
   (editable, with its ``langchain`` and ``llamaindex`` extras) plus the peer clients. The peers
   are not dependencies of hfproviders. Our packages are byte-compiled, as pip compiles the
   peers' (an installed wheel is).
2. Starts ``bench_router.py`` (the fake router of ``hfproviders.testing``) on a loopback port (it stops by itself when idle).
3. For each repeat, runs every client in a fresh process (``worker.py``), in a rotated order:
   first its import alone, then its calls, streams, tool calls, concurrent async streams and
   memory, with telemetry off and an audit hook that blocks and reports any non-loopback
   connection. Each output is checked against what the mock sent.
4. Once more per client with the environment left at its defaults (telemetry on), to report who
   tries to reach the network (blocked before any packet leaves).
5. Takes medians, ratios to raw httpx, checks the targets, and writes ``results/latest.md``,
   ``results/latest.json``, ``results/latest.png`` (matplotlib, in the peers venv) and the raw
   figures of every repeat to ``results/raw/`` (gitignored); prints the table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV = HERE / ".peers-venv"
RESULTS = HERE / "results"
REQUIREMENTS = HERE / "requirements-peers.txt"

# In the order of the table. The keys are worker.py's client names.
CLIENT_ORDER = [
    "raw_httpx",
    "hfproviders",
    "hf_hub",
    "openai",
    "lc_hfproviders",
    "lc_floor",
    "lc_chathuggingface",
    "lc_chatopenai",
    "li_hfproviders",
    "li_floor",
    "li_openailike",
    "li_huggingfaceapi",
]
FRAMEWORK_PEERS = {
    "lc_hfproviders": ("lc_floor", ["lc_chathuggingface", "lc_chatopenai"]),
    "li_hfproviders": ("li_floor", ["li_openailike", "li_huggingfaceapi"]),
}
SIZES: dict[str, dict[str, int]] = {
    "full": {
        "repeats": 3,
        "calls": 400,
        "tools": 80,
        "streams": 30,
        "chunks": 200,
        "concurrency": 200,
        "mem_calls": 100,
        "warmup": 20,
        "import_samples": 3,
    },
    "quick": {
        "repeats": 1,
        "calls": 50,
        "tools": 10,
        "streams": 5,
        "chunks": 100,
        "concurrency": 50,
        "mem_calls": 20,
        "warmup": 3,
        "import_samples": 1,
    },
}
# metric key -> (column title, unit formatter); lower is better for all of them.
METRICS: dict[str, str] = {
    "import_s": "import",
    "first_call_s": "import + first call",
    "call_s": "per call",
    "chunk_s": "per streamed chunk",
    "tool_s": "per tool call",
    "async_wall_s": "concurrent streams, wall",
    "async_cpu_s": "concurrent streams, CPU",
    "sync_peak_rss_mb": "peak RSS, sync phases",
    "peak_rss_mb": "peak RSS",
    "kept_bytes": "kept per call",
}
# Every client is also measured against raw httpx in one process, in alternating blocks, and
# its import right after an import of httpx (see `paired_ratios`): the ratio columns, the
# targets and the peer comparisons use those, so machine load drifting between clients (minutes
# apart on a shared machine) does not decide.
PAIRED = tuple(name for name in CLIENT_ORDER if name != "raw_httpx")
PAIRED_KEYS = ("import_s", "first_call_s", "call_s", "chunk_s", "tool_s")
AB_ARGS = {
    "full": ["--ab-pairs=8", "--ab-calls=25", "--ab-streams=3", "--ab-tools=10"],
    "quick": ["--ab-pairs=3", "--ab-calls=10", "--ab-streams=1", "--ab-tools=5"],
}
TARGET_CORE_CALL = 1.10
TARGET_CORE_CHUNK = 1.3
TARGET_CORE_IMPORT = 2.0
TARGET_ADAPTER_CHUNK = 2.5
TARGET_KEPT_BYTES = 1024


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ peers venv


def venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv(force: bool) -> None:
    """Create or refresh the peers venv when its inputs changed (a stamp holds their hash)."""
    digest = hashlib.sha256(
        REQUIREMENTS.read_bytes() + (ROOT / "pyproject.toml").read_bytes()
    ).hexdigest()
    stamp = VENV / ".stamp"
    if not force and venv_python().exists() and stamp.exists() and stamp.read_text() == digest:
        return
    log(f"setting up {VENV.relative_to(ROOT)} (peer clients; a few minutes the first time)")
    if not venv_python().exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(venv_python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run(pip + ["--upgrade", "pip"], check=True)
    subprocess.run(
        pip + ["-r", str(REQUIREMENTS), "-e", f"{ROOT}[langchain,llamaindex]"], check=True
    )
    stamp.write_text(digest)


def compile_ours() -> None:
    """Byte-compile our packages, as pip does for an installed wheel (and did for the peers).

    This project is installed editable, so its modules would otherwise be compiled from source
    in every fresh client process when bytecode writing is off (PYTHONDONTWRITEBYTECODE):
    tens of milliseconds on the import figures that no installed copy pays.
    """
    packages = [ROOT / "shared" / "hfproviders", ROOT / "langchain_hfproviders"]
    packages.append(ROOT / "llamaindex_hfproviders")
    subprocess.run(
        [str(venv_python()), "-m", "compileall", "-q", *map(str, packages)],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def peer_versions() -> dict[str, str]:
    names = [
        "httpx",
        "huggingface_hub",
        "openai",
        "langchain-core",
        "langchain-huggingface",
        "langchain-openai",
        "llama-index-core",
        "llama-index-llms-openai-like",
        "llama-index-llms-huggingface-api",
        "hfproviders",
    ]
    code = (
        "import json, importlib.metadata as m\n"
        f"names = {names!r}\n"
        "out = {}\n"
        "for n in names:\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: out[n] = 'missing'\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run(
        [str(venv_python()), "-c", code], capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------ processes


def client_env(tmp: Path, telemetry_off: bool) -> dict[str, str]:
    """The clients' environment: no token, no proxy, an empty HF cache; telemetry off if asked."""
    drop = ("HF_", "HUGGING_FACE_", "OPENAI_", "LANGCHAIN_", "LANGSMITH_", "ANTHROPIC_")
    proxies = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(drop) and k.lower() not in proxies
    }
    env.update(
        HF_HOME=str(tmp / "hf-home"),
        NO_PROXY="127.0.0.1,localhost",
        TOKENIZERS_PARALLELISM="false",
        LLAMA_INDEX_CACHE_DIR=str(tmp / "llama-index-cache"),
        PYTHONHASHSEED="0",
    )
    if telemetry_off:
        # HF_HUB_OFFLINE is not set: huggingface_hub then refuses every request, the mock's too.
        env.update(
            HF_HUB_DISABLE_TELEMETRY="1",
            DO_NOT_TRACK="1",
            LANGSMITH_TRACING="false",
            LANGCHAIN_TRACING_V2="false",
        )
    return env


class MockServer:
    """The mock in its own process; stopped by pid at the end (it also stops itself when idle)."""

    def __init__(self, chunks: int, tmp: Path) -> None:
        ready = tmp / "mock-port"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "bench_router.py"),
                "--port",
                "0",
                "--ready-file",
                str(ready),
                "--chunks",
                str(chunks),
                "--idle-timeout",
                "300",
                "--max-lifetime",
                "3600",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not ready.exists():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the mock server did not start")
            time.sleep(0.05)
        self.port = int(ready.read_text())

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def run_worker(argv: list[str], env: dict[str, str], timeout: float, cwd: Path) -> dict[str, Any]:
    """Run worker.py in the peers venv; return its RESULT line (or an error record)."""
    cmd = [str(venv_python()), str(HERE / "worker.py"), *argv]
    try:
        proc = subprocess.run(
            cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"fatal": f"timed out after {timeout:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])  # type: ignore[no-any-return]
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"fatal": f"exit {proc.returncode}: {tail[:200]}"}


def sample_imports(
    name: str, port: int, env: dict[str, str], tmp: Path, samples: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The client's import (and import + first call), and httpx's, each the best of `samples`.

    Each sample is a fresh process: an import of httpx, then one of the client, alternating.
    On a shared machine other work only ever adds to a wall time, so the fastest of a few
    samples is the closest to the import's own cost (as for the CPU blocks in worker.py).
    """
    ours: list[dict[str, Any]] = []
    httpx: list[dict[str, Any]] = []
    for _ in range(samples):
        httpx.append(run_worker(["--import-only", "raw_httpx", str(port)], env, 120, tmp))
        ours.append(run_worker(["--import-only", name, str(port)], env, 120, tmp))
    return best_import(ours), best_import(httpx)


def best_import(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest of several import records; any error wins (a failed import is reported)."""
    failed = [r for r in records if r.get("error") or "import_s" not in r]
    if failed:
        return failed[0]
    best = dict(min(records, key=lambda r: float(r["import_s"])))
    firsts = [float(r["first_call_s"]) for r in records if "first_call_s" in r]
    if len(firsts) == len(records):
        best["first_call_s"] = min(firsts)
    best["contacts"] = sorted({c for r in records for c in r.get("contacts", [])})
    return best


# ------------------------------------------------------------------------------ aggregation


def aggregate(repeats: list[dict[str, dict[str, Any]]], clients: list[str]) -> dict[str, Any]:
    """Medians per client and metric; a metric that failed in any repeat is reported as failed."""
    out: dict[str, Any] = {}
    for name in clients:
        runs = [r[name] for r in repeats if name in r]
        values: dict[str, list[float]] = {}
        errors: dict[str, str] = {}
        notes: set[str] = set()
        contacts: set[str] = set()
        status = None
        label = name
        meta: dict[str, Any] = {}
        for run in runs:
            imp, main = run["import"], run["main"]
            if imp.get("error"):
                status = f"n/a: import failed ({imp['error']})"
            elif "import_s" in imp:
                values.setdefault("import_s", []).append(imp["import_s"])
                if "first_call_s" in imp:
                    values.setdefault("first_call_s", []).append(imp["first_call_s"])
                contacts.update(imp.get("contacts", []))
            if "fatal" in main:
                errors["all"] = main["fatal"]
                continue
            label = main.get("label", label)
            meta = {k: main.get(k) for k in ("framework", "kind")}
            if main.get("status"):
                status = main["status"]
            for key, value in main.get("metrics", {}).items():
                values.setdefault(key, []).append(value)
            for key, err in main.get("errors", {}).items():
                errors.setdefault(key, err)
            notes.update(main.get("notes", []))
            contacts.update(main.get("contacts", []))
            if main.get("setup_requests"):
                notes.add(f"construction sent {main['setup_requests']}")
            if main.get("threads_left"):
                notes.add(f"{main['threads_left']} thread(s) left running")
        failed = set(errors)
        if "async" in failed:
            # A client that failed the concurrent phase peaked over less work: its peak RSS is
            # not comparable (the sync phases' peak is, and is reported on its own).
            failed |= {"async_wall_s", "async_cpu_s", "peak_rss_mb"}
        if "kept_bytes" in failed or "all" in failed:
            failed |= set(METRICS) - {"import_s", "first_call_s"}
        medians = {
            k: statistics.median(v)
            for k, v in values.items()
            if k not in failed and len(v) == len(runs)
        }
        out[name] = {
            "label": label,
            **meta,
            "status": status,
            "medians": medians,
            "runs": len(runs),
            "errors": errors,
            "failed": sorted(failed),
            "notes": sorted(notes),
            "contacts": sorted(contacts),
        }
    floor = out.get("raw_httpx", {}).get("medians", {})
    for name, entry in out.items():
        entry["ratios"] = {
            k: v / floor[k]
            for k, v in entry["medians"].items()
            if floor.get(k) and k != "kept_bytes"
        }
        entry["paired_ratios"] = (
            paired_ratios(repeats, name)
            if name in PAIRED
            else {k: 1.0 for k in PAIRED_KEYS if k in entry["medians"]}
        )
    return out


def ratio(entry: dict[str, Any], key: str) -> float | None:
    """The paired ratio to raw httpx where there is one, else the ratio of medians."""
    paired = entry.get("paired_ratios", {}).get(key)
    return paired if paired is not None else entry.get("ratios", {}).get(key)


def paired_ratios(repeats: list[dict[str, dict[str, Any]]], name: str) -> dict[str, float]:
    """Median over repeats of the paired ratios to raw httpx.

    Per call, chunk and tool call: from the A/B run (both clients in one process, alternating
    blocks). Import: ours over the httpx import made just before it.
    """
    ratios: dict[str, list[float]] = {}
    for rep in repeats:
        if name not in rep:
            continue
        ab_run = rep[name].get("ab", {})
        for key, value in ab_run.get("ratios", {}).items():
            if key not in ab_run.get("errors", {}) and "requests" not in ab_run.get("errors", {}):
                ratios.setdefault(key, []).append(value)
        floor_imp = rep.get(f"raw_httpx@{name}", {}).get("import", {})
        for key in ("import_s", "first_call_s"):
            ours_value = rep[name]["import"].get(key)
            if floor_imp.get(key) and ours_value:
                ratios.setdefault(key, []).append(ours_value / floor_imp[key])
    return {k: statistics.median(v) for k, v in ratios.items() if len(v) == len(repeats)}


def _metric_failed(entry: dict[str, Any], key: str) -> bool:
    return bool(entry.get("status")) or key in entry["failed"] or key not in entry["medians"]


def evaluate_targets(agg: dict[str, Any]) -> list[tuple[str, bool | None, str]]:
    """(target, passed or None when it cannot be judged yet, detail)."""
    rows: list[tuple[str, bool | None, str]] = []

    def ratio_target(name: str, client: str, key: str, limit: float) -> None:
        entry = agg.get(client)
        if entry is None or entry.get("status"):
            rows.append((name, None, entry["status"] if entry else "not run"))
            return
        if _metric_failed(entry, key) or key not in entry["ratios"]:
            rows.append((name, False, "failed its checks"))
            return
        value = ratio(entry, key)
        assert value is not None
        margin = (limit - value) / limit * 100
        word = "under" if value <= limit else "over"
        rows.append((name, value <= limit, f"{value:.2f}x ({abs(margin):.0f}% {word} {limit}x)"))

    ratio_target(
        f"core: per call <= {TARGET_CORE_CALL}x raw httpx",
        "hfproviders",
        "call_s",
        TARGET_CORE_CALL,
    )
    ratio_target(
        f"core: per streamed chunk <= {TARGET_CORE_CHUNK}x raw httpx",
        "hfproviders",
        "chunk_s",
        TARGET_CORE_CHUNK,
    )
    ratio_target(
        f"core: import hfproviders <= {TARGET_CORE_IMPORT}x import httpx",
        "hfproviders",
        "import_s",
        TARGET_CORE_IMPORT,
    )
    core = agg.get("hfproviders")
    if core and not _metric_failed(core, "kept_bytes"):
        kept = core["medians"]["kept_bytes"]
        rows.append(
            (
                f"core: memory kept per call < {TARGET_KEPT_BYTES} B",
                kept < TARGET_KEPT_BYTES,
                f"{kept:.0f} B",
            )
        )
    for adapter, (_floor, peers) in FRAMEWORK_PEERS.items():
        entry = agg.get(adapter)
        title = "LangChain adapter" if adapter.startswith("lc_") else "LlamaIndex adapter"
        ratio_target(
            f"{title}: per streamed chunk <= {TARGET_ADAPTER_CHUNK}x raw httpx",
            adapter,
            "chunk_s",
            TARGET_ADAPTER_CHUNK,
        )
        if entry is None or entry.get("status"):
            rows.append(
                (
                    f"{title}: beats every peer on every metric",
                    None,
                    entry["status"] if entry else "not run",
                )
            )
            continue
        losses = []
        measured = [p for p in peers if agg.get(p) and not agg[p].get("status")]
        if not measured:
            rows.append((f"{title}: beats every peer on every metric", None, "no peer measured"))
            continue
        for peer in measured:
            p = agg[peer]
            for key, title_m in METRICS.items():
                if _metric_failed(entry, key):
                    losses.append(f"{title_m} failed")
                    continue
                if _metric_failed(p, key):
                    continue  # a peer that fails a metric is beaten on it
                mine = entry.get("paired_ratios", {}).get(key)
                theirs = p.get("paired_ratios", {}).get(key)
                if mine is not None and theirs is not None:
                    # Both paired with raw httpx: compare the paired ratios.
                    if mine >= theirs:
                        losses.append(f"{title_m} vs {p['label']} ({mine:.2f}x vs {theirs:.2f}x)")
                elif entry["medians"][key] >= p["medians"][key]:
                    mine_v, theirs_v = entry["medians"][key], p["medians"][key]
                    losses.append(
                        f"{title_m} vs {p['label']} ({fmt(key, mine_v)} vs {fmt(key, theirs_v)})"
                    )
        losses = sorted(set(losses))
        rows.append(
            (
                f"{title}: beats every peer on every metric",
                not losses,
                "yes" if not losses else "; ".join(losses),
            )
        )
    ours_contacts = {n: agg[n]["contacts"] for n in agg if agg[n].get("kind") == "ours"}
    leaks = {n: c for n, c in ours_contacts.items() if c}
    rows.append(
        (
            "ours: no connection but the configured endpoint",
            not leaks,
            "none" if not leaks else json.dumps(leaks),
        )
    )
    return rows


# ------------------------------------------------------------------------------ formatting


def fmt(key: str, value: float) -> str:
    if key in ("import_s", "first_call_s"):
        return f"{value * 1e3:.0f} ms"
    if key in ("call_s", "tool_s"):
        return f"{value * 1e6:.0f} us"
    if key == "chunk_s":
        return f"{value * 1e6:.1f} us"
    if key in ("async_wall_s", "async_cpu_s"):
        return f"{value:.2f} s"
    if key in ("peak_rss_mb", "sync_peak_rss_mb"):
        return f"{value:.0f} MB"
    if key == "kept_bytes":
        return f"{value / 1024:.2f} KB"
    return f"{value:.3g}"


def cell(entry: dict[str, Any], key: str, with_ratio: bool) -> str:
    if entry.get("status"):
        return "n/a"
    if key == "peak_rss_mb" and "async" in entry["failed"]:
        return "not comparable (concurrent phase failed)"
    if key in entry["failed"] or (
        key in ("import_s", "first_call_s") and key not in entry["medians"]
    ):
        return "**fails**"
    if key not in entry["medians"]:
        return "-"
    text = fmt(key, entry["medians"][key])
    value = ratio(entry, key)
    if with_ratio and value is not None and key not in ("peak_rss_mb", "sync_peak_rss_mb"):
        return f"{value:.2f}x ({text})"
    return text


def checks_text(entry: dict[str, Any]) -> str:
    if entry.get("status"):
        return str(entry["status"])
    parts = [f"{k}: {v}" for k, v in entry["errors"].items()]
    parts += entry["notes"]
    return "; ".join(parts).replace("|", "/") if parts else "ok"


def render_markdown(
    agg: dict[str, Any],
    targets: list[tuple[str, bool | None, str]],
    audit: dict[str, Any],
    info: dict[str, Any],
) -> str:
    sizes = info["sizes"]
    lines = [
        "# Client-side cost on a loopback mock of the HF router",
        "",
        f"- Date: {info['date']}",
        f"- Machine: {info['machine']}",
        f"- Command: `{info['command']}` ({info['mode']} mode, {sizes['repeats']} repeat(s), "
        f"medians; total {info['elapsed_s'] / 60:.1f} min)",
        f"- Versions: {', '.join(f'{k} {v}' for k, v in info['versions'].items())}",
        "",
        "Client-process CPU (user+sys; per call, chunk and tool call: the best of 5 blocks in a "
        "run, then the median over runs) while each client talks to `benchmarks/bench_router.py` (the fake router of `hfproviders.testing`, memoized), "
        "a loopback server that sends pre-rendered bytes (router headers, SSE with a usage "
        "chunk, tool calls). Each client runs in its own process, with telemetry off. Per call: "
        f"{sizes['calls']} non-stream calls. Per chunk: {sizes['streams']} streams of "
        f"{sizes['chunks']} chunks (CPU / chunks). Per tool call: {sizes['tools']} calls. "
        f"Concurrent streams: {sizes['concurrency']} async streams of {sizes['chunks']} chunks "
        "at once. Kept per call: memory still allocated after gc, divided by "
        f"{sizes['mem_calls']} calls (tracemalloc). Ratios are to raw httpx in the same run "
        "(a bare httpx POST with hand-written SSE line parsing); for import, import + first call, per "
        "call, per chunk and per tool call they are **paired**: each client also runs with raw "
        "httpx in one process in alternating blocks (and its import right after one of httpx), "
        "and the ratio is the median over repeats of those paired ratios, so load drifting on a "
        "shared machine between clients does not decide. The other ratios divide medians. "
        "Every output is checked: text, usage, tool call, and the mock's request count. "
        "Import: the import statement alone, in a fresh process (the fastest of "
        f"{sizes.get('import_samples', 1)} per repeat); import + first call: that plus "
        "constructing the client and its first non-stream answer (what a script pays to start).",
        "",
        "## Ratios to raw httpx (lower is better)",
        "",
    ]
    keys = list(METRICS)
    header = "| client | " + " | ".join(METRICS[k] for k in keys) + " | checks |"
    lines += [header, "|" + "---|" * (len(keys) + 2)]
    for entry in agg.values():
        row = [entry["label"]] + [cell(entry, k, True) for k in keys] + [checks_text(entry)]
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "## Targets",
        "",
        "On the paired ratios (the table's): per call, chunk and tool call, raw httpx and the "
        "client alternate in one process; imports are timed right after an import of httpx. "
        "Peers are compared on the same paired ratios where both have one, else on medians.",
        "",
    ]
    for title, passed, detail in targets:
        mark = "PASS" if passed else ("n/a" if passed is None else "FAIL")
        lines.append(f"- **{mark}** {title}: {detail}")
    lines += [
        "",
        "## Overhead of the adapters above their framework's floor",
        "",
        "The floors are trivial chat models that answer from memory (no HTTP, no parsing): "
        "what they cost is the framework's own machinery. Adapter = floor + core + the "
        "adapter's own conversions.",
        "",
    ]
    for adapter, (floor, _peers) in FRAMEWORK_PEERS.items():
        a, f = agg.get(adapter), agg.get(floor)
        if not a or not f or a.get("status"):
            lines.append(f"- {adapter}: {a['status'] if a else 'not run'}")
            continue
        parts = []
        core = agg.get("hfproviders")
        for key in ("call_s", "chunk_s", "tool_s"):
            if _metric_failed(a, key) or _metric_failed(f, key):
                continue
            over = a["medians"][key] - f["medians"][key]
            text = (
                f"{METRICS[key]} +{fmt(key, over)} over the floor ({fmt(key, f['medians'][key])})"
            )
            if core and not _metric_failed(core, key):
                # What is left after the framework's machinery and the core: the adapter's own
                # conversions between core and framework types.
                own = over - core["medians"][key]
                own_text = fmt(key, own) if own > 0 else "~0 (within noise)"
                text += f", of which the core {fmt(key, core['medians'][key])}"
                text += f" and the adapter's own conversion {own_text}"
            parts.append(text)
        lines.append(f"- {a['label']}: " + "; ".join(parts))
    lines += ["", "## Network audit", ""]
    lines.append(
        "An audit hook in every client process blocks (before any packet leaves) and records "
        "every lookup or connection to a non-loopback address."
    )
    lines.append("")
    measured = {n: e["contacts"] for n, e in agg.items() if e["contacts"]}
    lines.append(
        "- Telemetry off (the measured runs): "
        + (
            "no client tried to reach anything but the mock."
            if not measured
            else json.dumps(measured)
        )
    )
    if audit:
        tried = {n: a.get("contacts") for n, a in audit.items() if a.get("contacts")}
        lines.append(
            "- Environment at its defaults (telemetry on), one call and one stream each: "
            + (
                "no client tried to reach anything but the mock."
                if not tried
                else "; ".join(f"{agg[n]['label']}: {', '.join(c)}" for n, c in tried.items())
            )
        )
    lines += ["", "## Absolute figures (medians)", ""]
    lines += [
        "| client | " + " | ".join(METRICS[k] for k in keys) + " |",
        "|" + "---|" * (len(keys) + 1),
    ]
    for entry in agg.values():
        lines.append(
            "| " + " | ".join([entry["label"]] + [cell(entry, k, False) for k in keys]) + " |"
        )
    lines += ["", "![chart](latest.png)", ""]
    return "\n".join(lines)


def machine_info() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    proc = subprocess.run(
        [str(venv_python()), "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
    )
    return (
        f"{os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}, "
        f"Python {proc.stdout.strip()} (peers venv), load average at start {load}"
    )


# ------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark hfproviders against its peers.")
    parser.add_argument("--quick", action="store_true", help="one small repeat (smoke run)")
    parser.add_argument("--repeats", type=int, help="override the number of repeats")
    parser.add_argument("--clients", help="comma-separated subset (worker.py names)")
    parser.add_argument("--no-audit", action="store_true", help="skip the telemetry-on audit")
    parser.add_argument("--reinstall", action="store_true", help="rebuild the peers venv")
    parser.add_argument("--out", default=str(RESULTS), help="results folder")
    args = parser.parse_args(argv)

    started = time.monotonic()
    mode = "quick" if args.quick else "full"
    sizes = dict(SIZES[mode])
    if args.repeats:
        sizes["repeats"] = args.repeats
    clients = CLIENT_ORDER if not args.clients else args.clients.split(",")
    unknown = set(clients) - set(CLIENT_ORDER)
    if unknown:
        parser.error(f"unknown clients: {sorted(unknown)}")

    ensure_venv(args.reinstall)
    compile_ours()
    versions = peer_versions()
    info: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_info(),
        "command": "python benchmarks/run.py" + (" " + " ".join(argv or sys.argv[1:])).rstrip(),
        "mode": mode,
        "sizes": sizes,
        "versions": versions,
    }
    worker_args = [
        f"--{k.replace('_', '-')}={v}"
        for k, v in sizes.items()
        if k not in ("repeats", "import_samples")
    ]
    timeout = 600.0 if mode == "full" else 120.0
    tmp = Path(tempfile.mkdtemp(prefix="hfp-bench-"))
    mock = MockServer(sizes["chunks"], tmp)
    repeats: list[dict[str, dict[str, Any]]] = []
    audit: dict[str, Any] = {}
    try:
        env = client_env(tmp, telemetry_off=True)
        for rep in range(sizes["repeats"]):
            order = clients[rep % len(clients) :] + clients[: rep % len(clients)]
            results: dict[str, dict[str, Any]] = {}
            for name in order:
                t0 = time.monotonic()
                imp, httpx_imp = sample_imports(name, mock.port, env, tmp, sizes["import_samples"])
                if name in PAIRED:
                    results[f"raw_httpx@{name}"] = {"import": httpx_imp}
                main_ = run_worker([name, f"--port={mock.port}", *worker_args], env, timeout, tmp)
                results[name] = {"import": imp, "main": main_}
                if name in PAIRED:
                    # Raw httpx and ours in one process, alternating blocks: paired ratios.
                    results[name]["ab"] = run_worker(
                        [
                            name,
                            f"--port={mock.port}",
                            f"--chunks={sizes['chunks']}",
                            "--ab",
                            *AB_ARGS[mode],
                        ],
                        env,
                        timeout,
                        tmp,
                    )
                state = (
                    main_.get("status")
                    or main_.get("fatal")
                    or ("errors: " + ", ".join(main_["errors"]) if main_.get("errors") else "ok")
                )
                took = time.monotonic() - t0
                log(f"[{rep + 1}/{sizes['repeats']}] {name:20s} {took:5.1f} s  {state}")
            repeats.append(results)
        if not args.no_audit and mode == "full":
            env_defaults = client_env(tmp, telemetry_off=False)
            for name in clients:
                audit[name] = run_worker(
                    [name, f"--port={mock.port}", "--chunks", str(sizes["chunks"]), "--audit"],
                    env_defaults,
                    120,
                    tmp,
                )
                log(f"[audit] {name:20s} contacts: {audit[name].get('contacts')}")
    finally:
        mock.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    agg = aggregate(repeats, clients)
    targets = evaluate_targets(agg)
    info["elapsed_s"] = time.monotonic() - started
    out = Path(args.out)
    (out / "raw").mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    (out / "raw" / f"{stamp}-{mode}.json").write_text(
        json.dumps({"info": info, "repeats": repeats, "audit": audit}, indent=1)
    )
    summary = {"info": info, "clients": agg, "targets": targets, "audit": audit}
    (out / "latest.json").write_text(json.dumps(summary, indent=1))
    markdown = render_markdown(agg, targets, audit, info)
    (out / "latest.md").write_text(markdown)
    chart = subprocess.run(
        [
            str(venv_python()),
            str(HERE / "chart.py"),
            str(out / "latest.json"),
            str(out / "latest.png"),
        ],
        capture_output=True,
        text=True,
    )
    if chart.returncode != 0:
        log(f"chart failed: {chart.stderr.strip()[-300:]}")
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
