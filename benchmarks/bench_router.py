"""The benchmarks' server: `hfproviders.testing.FakeRouter`, scripted with fixed answers.

Every client is measured against the same answers, whose text, usage and tool call the worker
checks (WIRE.md shapes, written by the fake router, not recorded):

- non-stream chat: `NONSTREAM_TEXT` with usage (`PROMPT_TOKENS`, `NONSTREAM_COMPLETION_TOKENS`);
- streamed chat: N content chunks `stream_token(i)` (N from the `x-fake-chunks` request header,
  else `--chunks`), usage (PROMPT_TOKENS, N) in a `choices: []` chunk when
  `stream_options.include_usage` is sent, else on the finish chunk, then `data: [DONE]`;
- a request with `tools`: one tool call (`TOOL_NAME`, `TOOL_ARGUMENTS`, id `TOOL_CALL_ID`);
- `x-fake-delay-ms` delays an answer, like a provider that takes time (batch speed-up).

The router memoizes its answers (`memoize=True`), so the server's own CPU per request is a
header parse and one write, and `/__fake/stats` counts requests per route (`chat`,
`chat_stream`, `chat_tools`, …). It runs in its own process and exits after `--max-lifetime`
seconds, or `--idle-timeout` seconds without a request.

Run: `python benchmarks/bench_router.py --port 0 --ready-file /tmp/port`.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from hfproviders.testing import FakeModel, FakeRouter, Provider, RecordedRequest, Reply, ToolCall

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
PROVIDER = "together"
PROMPT_TOKENS = 12
NONSTREAM_TEXT = (
    "Deep learning is a branch of machine learning that trains neural networks with many "
    "layers. Each layer learns a more abstract representation of its input, which lets the "
    "network model images, speech and language. Training adjusts millions of weights by "
    "gradient descent on large data sets, usually on GPUs."
)
NONSTREAM_COMPLETION_TOKENS = 61
TOOL_NAME = "get_weather"
TOOL_ARGUMENTS = '{"city": "Paris", "unit": "celsius"}'
TOOL_CALL_ID = "call_mock_0001"
TOOL_COMPLETION_TOKENS = 21
DEFAULT_CHUNKS = 200
MAX_CHUNKS = 100_000


def stream_token(i: int) -> str:
    """The text of content chunk `i` (clients must reassemble `expected_stream_text`)."""
    return f"tok{i} "


def expected_stream_text(n: int) -> str:
    """The text a client must reassemble from a stream of `n` content chunks."""
    return "".join(stream_token(i) for i in range(n))


def _usage(completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": completion,
        "total_tokens": PROMPT_TOKENS + completion,
    }


def answer(request: RecordedRequest, default_chunks: int) -> Reply:
    """The fixed answer to one benchmark request."""
    body: Any = request.json or {}
    delay = int(request.headers.get("x-fake-delay-ms", "0")) / 1000
    if body.get("tools"):
        call = ToolCall(TOOL_NAME, TOOL_ARGUMENTS, id=TOOL_CALL_ID)
        return Reply(tool_calls=[call], usage=_usage(TOOL_COMPLETION_TOKENS), delay_s=delay)
    if body.get("stream") is True:
        n = int(request.headers.get("x-fake-chunks", default_chunks))
        n = max(1, min(MAX_CHUNKS, n))
        chunks = [stream_token(i) for i in range(n)]
        return Reply(chunks=chunks, usage=_usage(n), delay_s=delay)
    return Reply(NONSTREAM_TEXT, usage=_usage(NONSTREAM_COMPLETION_TOKENS), delay_s=delay)


def build_router(chunks: int = DEFAULT_CHUNKS) -> FakeRouter:
    """The fake router the benchmarks talk to."""
    provider = Provider(PROVIDER, supports_tools=True, supports_structured_output=True)
    router = FakeRouter([FakeModel(MODEL, [provider])], memoize=True)
    router.on(kind="chat").respond_with(lambda request: answer(request, chunks))
    return router


def main(argv: list[str] | None = None) -> None:
    """Serve in this process until idle or out of lifetime."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--ready-file", default=None, help="write the bound port here")
    parser.add_argument("--chunks", type=int, default=DEFAULT_CHUNKS, help="content chunks/stream")
    parser.add_argument("--idle-timeout", type=float, default=120.0)
    parser.add_argument("--max-lifetime", type=float, default=3600.0)
    args = parser.parse_args(argv)
    router = build_router(args.chunks)
    server = router.serve(port=args.port)
    print(f"MOCK_PORT={server.port}", flush=True)
    if args.ready_file:
        partial = args.ready_file + ".tmp"
        with open(partial, "w") as handle:
            handle.write(str(server.port))
        os.replace(partial, args.ready_file)  # a reader never sees a half-written port
    started = last_seen = time.monotonic()
    seen = 0
    try:
        while time.monotonic() - started < args.max_lifetime:
            time.sleep(0.5)
            total = router.stats()["requests"]
            if total != seen or router.open_connections:
                seen, last_seen = total, time.monotonic()
            elif time.monotonic() - last_seen > args.idle_timeout:
                break
    finally:
        server.stop()


if __name__ == "__main__":
    main()
