"""The fake router in its own process: `hfproviders fake-router`, started and stopped from Python.

For load tests, where the server's CPU must not share the GIL of the client under test.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["FakeRouterProcess"]


class FakeRouterProcess:
    """`python -m hfproviders fake-router --port 0 ARGS...` as a context manager.

    `base_url`, `url`, `port` once started; `stats()` reads `/__fake/stats`; `stop()` ends the
    process and returns what it wrote on stderr. `args` are the command's options
    (`"--fail", "groq=503"`, `"--seed", "7"`…); `max_lifetime` bounds a forgotten process.
    """

    def __init__(self, *args: str, max_lifetime: float = 300.0, start_timeout: float = 20.0):
        self.args = args
        self.max_lifetime = max_lifetime
        self.start_timeout = start_timeout
        self.port = 0
        self.stderr = ""
        self._dir = tempfile.TemporaryDirectory(prefix="hf-fake-router-")
        self._proc: subprocess.Popen[str] | None = None

    def start(self) -> FakeRouterProcess:
        """Start the process; return once its port is open."""
        ready = Path(self._dir.name) / "port"
        command = [sys.executable, "-m", "hfproviders", "fake-router", "--port", "0"]
        command += ["--ready-file", str(ready), "--max-lifetime", str(self.max_lifetime)]
        self._proc = subprocess.Popen(
            [*command, *self.args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + self.start_timeout
        while not ready.exists():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                error = self.stop()
                raise RuntimeError(f"the fake router did not start: {error.strip()}")
            time.sleep(0.02)
        self.port = int(ready.read_text())
        return self

    @property
    def url(self) -> str:
        """The server root, `http://127.0.0.1:PORT`."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL, `…/v1`."""
        return f"{self.url}/v1"

    def stats(self) -> dict[str, Any]:
        """The router's counters (`FakeRouter.stats()`), over HTTP."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", "/__fake/stats")
            data: dict[str, Any] = json.loads(conn.getresponse().read())
            return data
        finally:
            conn.close()

    def wait_idle(self, timeout: float = 3.0) -> int:
        """Wait until no connection is open; return how many still are."""
        deadline = time.monotonic() + timeout
        while (open_now := int(self.stats()["open_connections"])) and time.monotonic() < deadline:
            time.sleep(0.02)
        return open_now

    def stop(self) -> str:
        """End the process (idempotent); return its stderr (also kept in `stderr`)."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
            try:
                _, output = self._proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                _, output = self._proc.communicate(timeout=10)
            self.stderr = output or ""
            self._proc = None
        self._dir.cleanup()
        return self.stderr

    def __enter__(self) -> FakeRouterProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
