"""Embeddings benchmark: client-side cost per input against raw httpx, paired, on loopback.

    python benchmarks/embeddings.py            # about a minute once the peers venv exists
    python benchmarks/embeddings.py --quick    # a smoke run

A loopback TEI-style server (`POST /embed`: `{"inputs": [...]}` → `[[float, ...], ...]`, 384-wide
vectors, pre-rendered per batch size) answers every client at the same URL. Each client runs in
its own process in the peers venv (benchmarks/run.py builds it), alternating with raw httpx in
the same process call by call (paired: machine load hits both alike), each call embedding one
batch of 32 texts; a round takes the median call of each side. Reported: microseconds per input
for each, the client's overhead per input over raw httpx, and the ratio (median over rounds).

Clients: raw httpx (the floor: POST, `response.json()`), hfproviders `HFClient.embed`,
langchain_hfproviders `HFProvidersEmbeddings`, llamaindex_hfproviders `HFProvidersEmbedding`,
huggingface_hub `InferenceClient.feature_extraction`, langchain-huggingface
`HuggingFaceEndpointEmbeddings`, llama-index `HuggingFaceInferenceAPIEmbedding`. Every client's
vectors are checked against what the server sent. Results: `results/embeddings.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WIDTH = 384
BATCH = 32
CLIENTS = [
    "hfproviders",
    "lc_hfproviders",
    "li_hfproviders",
    "hf_hub",
    "lc_endpoint",
    "li_inference_api",
]
LABELS = {
    "raw_httpx": "raw httpx (floor)",
    "hfproviders": "**hfproviders** `HFClient.embed`",
    "lc_hfproviders": "**langchain_hfproviders** `HFProvidersEmbeddings`",
    "li_hfproviders": "**llamaindex_hfproviders** `HFProvidersEmbedding`",
    "hf_hub": "huggingface_hub `InferenceClient.feature_extraction`",
    "lc_endpoint": "langchain-huggingface `HuggingFaceEndpointEmbeddings`",
    "li_inference_api": "llama-index `HuggingFaceInferenceAPIEmbedding`",
}


def vector(text: str) -> list[float]:
    """The fake model: a vector that depends on the text only."""
    i = sum(map(ord, text))
    return [round(((i * 7919 + j * 104729) % 2001 - 1000) / 1000.0, 7) + 1e-8 for j in range(WIDTH)]


# ------------------------------------------------------------------------------ the server


class _Server(asyncio.Protocol):
    rendered: dict[bytes, bytes] = {}

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(rest) < length:
                return
            body, self.buffer = rest[:length], rest[length:]
            self.transport.write(self.answer(body))

    @classmethod
    def answer(cls, body: bytes) -> bytes:
        """Rendered once per distinct request body: a string gets one flat vector (hf-inference)."""
        if body not in cls.rendered:
            inputs = json.loads(body)["inputs"]
            data = vector(inputs) if isinstance(inputs, str) else [vector(t) for t in inputs]
            payload = json.dumps(data, separators=(",", ":")).encode()
            cls.rendered[body] = (
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-compute-type: cpu\r\n"
                + f"content-length: {len(payload)}\r\n\r\n".encode()
                + payload
            )
        return cls.rendered[body]


async def serve(ready: Path) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Server, "127.0.0.1", 0)
    ready.write_text(str(server.sockets[0].getsockname()[1]))
    await asyncio.sleep(900)  # a bounded lifetime: the parent stops it sooner


# ------------------------------------------------------------------------------ the worker


def make_client(name: str, url: str) -> Any:
    """A callable embedding a list of texts with client `name`."""
    if name == "hfproviders":
        from hfproviders import HFClient

        client = HFClient(base_url=url, api_key="test")
        return lambda texts: client.embed("tei", texts).embeddings
    if name == "lc_hfproviders":
        from langchain_hfproviders import HFProvidersEmbeddings

        lc = HFProvidersEmbeddings(model="tei", base_url=url, api_key="test")
        return lc.embed_documents
    if name == "li_hfproviders":
        from llamaindex_hfproviders import HFProvidersEmbedding

        li = HFProvidersEmbedding(
            model_name="tei", base_url=url, api_key="test", embed_batch_size=BATCH
        )
        return li.get_text_embedding_batch
    if name == "hf_hub":
        from huggingface_hub import InferenceClient

        hub = InferenceClient(model=f"{url}/embed", token="test")
        return lambda texts: hub.feature_extraction(texts).tolist()
    if name == "lc_endpoint":
        from huggingface_hub import InferenceClient
        from langchain_huggingface import HuggingFaceEndpointEmbeddings

        # It refuses a URL as `model` (router only): its own code path, pointed at the loopback.
        endpoint = HuggingFaceEndpointEmbeddings(
            model="BAAI/bge-small-en-v1.5", provider="hf-inference", huggingfacehub_api_token="test"
        )
        endpoint.client = InferenceClient(model=f"{url}/embed", token="test")
        return endpoint.embed_documents
    if name == "li_inference_api":
        from llama_index.embeddings.huggingface_api import HuggingFaceInferenceAPIEmbedding

        api = HuggingFaceInferenceAPIEmbedding(
            model_name=f"{url}/embed", token="test", embed_batch_size=BATCH
        )
        return api.get_text_embedding_batch
    raise SystemExit(f"unknown client {name}")


def worker(name: str, port: int, rounds: int, calls: int) -> dict[str, Any]:
    import httpx

    url = f"http://127.0.0.1:{port}"
    raw_client = httpx.Client()

    def raw(texts: list[str]) -> Any:
        return raw_client.post(f"{url}/embed", json={"inputs": texts}).json()

    try:
        embed = make_client(name, url)
    except ImportError as exc:
        return {"client": name, "missing": str(exc)}
    texts = [f"document {i} about the capital of France" for i in range(BATCH)]
    expected = [vector(t) for t in texts]
    try:
        got = embed(texts)
        embed(texts)  # a second call: some clients break there
    except Exception as exc:  # a client that fails is reported, not measured
        return {"client": name, "fails": f"{type(exc).__name__}: {exc}"[:120]}
    ok = len(got) == BATCH and all(
        max(abs(a - b) for a, b in zip(g, e, strict=True)) < 1e-6
        for g, e in zip(got, expected, strict=True)
    )
    for _ in range(5):
        raw(texts), embed(texts)
    raw_us: list[float] = []
    client_us: list[float] = []
    clock = time.perf_counter
    for _ in range(rounds):
        raw_times, client_times = [], []
        for _ in range(calls):  # alternate call by call: load drifts hit both sides alike
            start = clock()
            raw(texts)
            middle = clock()
            embed(texts)
            client_times.append(clock() - middle)
            raw_times.append(middle - start)
        raw_us.append(statistics.median(raw_times) / BATCH * 1e6)
        client_us.append(statistics.median(client_times) / BATCH * 1e6)
    ratios = [c / r for c, r in zip(client_us, raw_us, strict=True)]
    return {
        "client": name,
        "vectors_ok": ok,
        "raw_us": statistics.median(raw_us),
        "client_us": statistics.median(client_us),
        "overhead_us": statistics.median(c - r for c, r in zip(client_us, raw_us, strict=True)),
        "ratio": statistics.median(ratios),
    }


# ------------------------------------------------------------------------------ the driver


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=9, help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=40, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(serve(args.serve))
        return 0
    if args.worker:
        print("RESULT " + json.dumps(worker(args.worker, args.port, args.rounds, args.calls)))
        return 0

    sys.path.insert(0, str(HERE))
    from run import ensure_venv, venv_python  # the peers venv of the main benchmark

    ensure_venv(False)
    rounds, calls = (2, 5) if args.quick else (args.rounds, args.calls)
    with tempfile.TemporaryDirectory() as tmp:
        ready = Path(tmp) / "port"
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(ready)])
        try:
            deadline = time.monotonic() + 10
            while not ready.exists() or not ready.read_text():
                if time.monotonic() > deadline:
                    raise RuntimeError("the loopback server did not start")
                time.sleep(0.05)
            port = int(ready.read_text())
            env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
            env.update(HF_HUB_DISABLE_TELEMETRY="1", NO_PROXY="127.0.0.1", HF_HOME=f"{tmp}/hf")
            results = []
            for name in CLIENTS:
                cmd = [
                    str(venv_python()),
                    __file__,
                    "--worker",
                    name,
                    "--port",
                    str(port),
                    "--rounds",
                    str(rounds),
                    "--calls",
                    str(calls),
                ]
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
                line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
                if line is None:
                    results.append({"client": name, "missing": proc.stderr.strip()[-300:]})
                else:
                    results.append(json.loads(line[7:]))
                print(json.dumps(results[-1]))
        finally:
            server.terminate()
            server.wait(5)
    write_report(results, rounds, calls)
    return 0


def write_report(results: list[dict[str, Any]], rounds: int, calls: int) -> None:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        f"# Embeddings benchmark, {when}",
        "",
        f"`python benchmarks/embeddings.py`: loopback TEI-style `/embed`, batches of {BATCH} "
        f"texts, {WIDTH}-wide vectors; {rounds} rounds of {calls} call pairs per client "
        f"(raw httpx and the client alternating in one process); medians. {os.cpu_count()} cores, "
        f"load average {load:.2f} at the end.",
        "",
        "| client | µs per input | raw httpx, same rounds | overhead per input | ratio | vectors |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        if "fails" in r:
            lines.append(f"| {LABELS[r['client']]} | fails: {r['fails']} | | | | |")
            continue
        if "missing" in r:
            lines.append(f"| {LABELS[r['client']]} | not run: {r['missing'][:80]} | | | | |")
            continue
        lines.append(
            f"| {LABELS[r['client']]} | {r['client_us']:.1f} | {r['raw_us']:.1f} | "
            f"{r['overhead_us']:+.1f} µs | {r['ratio']:.2f}x | {'ok' if r['vectors_ok'] else 'WRONG'} |"
        )
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "embeddings.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(main())
