"""Opt-in response cache: the protocol, an in-memory LRU, SQLite (the embedded default), and keys.

The cache stores JSON-ready dicts. The client decides what goes in, and these rules hold:

- **Keys** come from `cache_key(payload)`, where `payload` is the full canonical request: base URL,
  model (with any `:provider` suffix), provider, the kind of call, and the complete JSON body
  with every parameter. Two requests share a key only if they would send the same body to the
  same place. Credentials never enter a key.
- **Errors are never cached**: the client stores only successful, complete results.
- **Values** are `CacheEntry` dicts: `{"kind": "chat" | "stream" | "embed", "data": …,
  "meta": {…}}`. For `"chat"` and `"embed"` (one batch), `data` is the raw response JSON; for
  `"stream"`, `data` is the list of raw chunk dicts in arrival order, stored only after the
  stream ended normally, so a replay yields the same chunks as a stream. `meta` holds what the
  client wants to restore (provider, request id, usage…); it must be JSON-serialisable.

Both backends serialise values to JSON on `set` and parse on `get`, so a caller can never mutate a
cached value in place and both behave the same. A value that is not JSON-serialisable raises
`TypeError` at `set`.

Operations are local and short (SQLite in WAL mode on small rows), so async clients call them
directly rather than through a thread.

**A cache never costs an answer.** Backends may raise (a locked or damaged SQLite file, a full
disk, a Redis outage); the clients wrap every cache in `FailSafeCache`, which turns a failure into
a miss or a skipped write, logs one warning, and leaves the backend alone for a while before trying
it again. `SQLiteCache` also rebuilds a file that is not (or no longer) a valid database.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypedDict, runtime_checkable

if TYPE_CHECKING:
    import sqlite3

__all__ = [
    "CACHE_KEY_VERSION",
    "CacheEntry",
    "FailSafeCache",
    "InMemoryCache",
    "ResponseCache",
    "SQLiteCache",
    "cache_key",
    "default_cache_path",
    "is_cache_entry",
]

logger = logging.getLogger("hfproviders")

# Bumped when the key derivation or the value shape changes, so old rows stop matching.
CACHE_KEY_VERSION = "hfproviders-cache-v1"


class CacheEntry(TypedDict):
    """The value shape the clients store (see the module docstring)."""

    kind: Literal["chat", "stream", "embed"]
    data: Any
    meta: dict[str, Any]


def is_cache_entry(value: object) -> bool:
    """Tell whether `value` has the `CacheEntry` shape (anything else is treated as a miss)."""
    if not isinstance(value, dict):
        return False
    kind = value.get("kind")
    if kind == "chat":
        data_ok = isinstance(value.get("data"), dict)
    elif kind == "stream":
        data_ok = isinstance(value.get("data"), list)
    elif kind == "embed":  # an embeddings answer: TEI's list or an OpenAI-style object
        data_ok = isinstance(value.get("data"), list | dict)
    else:
        return False
    return data_ok and isinstance(value.get("meta"), dict)


@runtime_checkable
class ResponseCache(Protocol):
    """What a response cache must do: `get` a stored dict or None, `set` a dict.

    Implementations must be safe to call from several threads, return a fresh object from
    every `get`, and treat expired entries as absent. They may raise when their storage fails:
    the clients call them through `FailSafeCache`, so a failure is a miss, never a lost answer.
    """

    def get(self, key: str) -> dict[str, Any] | None:
        """Return the value stored under `key`, or None when absent or expired."""
        ...

    def set(self, key: str, value: dict[str, Any]) -> None:
        """Store `value` under `key` (replacing any previous value)."""
        ...


class FailSafeCache:
    """Any `ResponseCache`, made safe to call: its failures never reach the caller.

    A `get` that raises reads as a miss, a `set` that raises is skipped. The first failure logs
    one warning; the backend is then left alone for `retry_after_s` seconds (so a locked file
    does not cost its busy timeout on every call) and tried again after that. Later failures
    are logged at debug level until the backend works again.

    >>> class Broken:
    ...     def get(self, key): raise OSError("disk on fire")
    ...     def set(self, key, value): raise OSError("disk on fire")
    >>> FailSafeCache(Broken()).get("k") is None
    True
    """

    __slots__ = ("_clock", "_skip_until", "_warned", "backend", "retry_after_s")

    def __init__(
        self,
        backend: ResponseCache,
        *,
        retry_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self.retry_after_s = retry_after_s
        self._clock = clock
        self._skip_until = -math.inf
        self._warned = False

    def __repr__(self) -> str:
        return f"FailSafeCache({self.backend!r})"

    def _skipping(self) -> bool:
        return self._clock() < self._skip_until

    def _failed(self, operation: str, error: Exception) -> None:
        self._skip_until = self._clock() + self.retry_after_s
        level = logging.DEBUG if self._warned else logging.WARNING
        self._warned = True
        logger.log(
            level,
            "response cache %s failed to %s (%s: %s); the call goes on without the cache, "
            "which is skipped for %gs",
            type(self.backend).__name__,
            operation,
            type(error).__name__,
            error,
            self.retry_after_s,
        )

    def _worked(self) -> None:
        if self._warned:
            self._warned = False
            logger.info("response cache %s works again", type(self.backend).__name__)

    def get(self, key: str) -> dict[str, Any] | None:
        """The backend's value, or None when absent, expired, or the backend failed."""
        if self._skipping():
            return None
        try:
            value = self.backend.get(key)
        except Exception as error:  # noqa: BLE001 - any backend failure is a miss
            self._failed("read", error)
            return None
        self._worked()
        return value

    def set(self, key: str, value: dict[str, Any]) -> None:
        """Store through the backend; a failure is logged and skipped."""
        if self._skipping():
            return
        try:
            self.backend.set(key, value)
        except Exception as error:  # noqa: BLE001 - a lost write never costs the answer
            self._failed("write", error)
            return
        self._worked()


def fail_safe(cache: ResponseCache | None) -> ResponseCache | None:
    """Wrap `cache` in `FailSafeCache` (once); None stays None."""
    if cache is None or isinstance(cache, FailSafeCache):
        return cache
    return FailSafeCache(cache)


def _canonical(value: Any) -> Any:
    """Normalise what JSON cannot tell apart anyway, and what would make equal requests differ."""
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("cache keys cannot contain NaN or infinity")
        # 1 and 1.0 are the same temperature; json.dumps would spell them differently.
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    raise TypeError(f"cache key payload holds a non-JSON value of type {type(value).__name__}")


def cache_key(payload: Mapping[str, Any]) -> str:
    """Return a stable key for a request: SHA-256 of its canonical JSON (sorted keys).

    >>> cache_key({"model": "m", "temperature": 1}) == cache_key({"temperature": 1.0, "model": "m"})
    True
    """
    canonical = json.dumps(
        [CACHE_KEY_VERSION, _canonical(payload)],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _dumps(value: dict[str, Any]) -> str:
    if not isinstance(value, dict):
        raise TypeError(f"cache values are dicts, not {type(value).__name__}")
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _check_ttl(ttl_s: float | None) -> None:
    if ttl_s is not None and not ttl_s > 0:
        raise ValueError("ttl_s must be positive, or None for no expiry")


class InMemoryCache:
    """A thread-safe LRU cache in process memory, with an optional TTL.

    `clock` returns seconds (monotonic by default) and is injectable for tests.

    >>> cache = InMemoryCache(max_entries=2)
    >>> cache.set("a", {"kind": "chat", "data": {}, "meta": {}})
    >>> cache.get("a")["kind"]
    'chat'
    """

    def __init__(
        self,
        max_entries: int = 1024,
        ttl_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        _check_ttl(ttl_s)
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        """Return the value under `key` (a fresh dict) or None; a hit becomes most recent."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            text, expires_at = entry
            if self._clock() >= expires_at:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
        value: dict[str, Any] = json.loads(text)  # our own JSON: never damaged in memory
        return value

    def set(self, key: str, value: dict[str, Any]) -> None:
        """Store `value`, evicting the least recently used entry when full."""
        text = _dumps(value)
        expires_at = math.inf if self.ttl_s is None else self._clock() + self.ttl_s
        with self._lock:
            self._entries[key] = (text, expires_at)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def delete(self, key: str) -> None:
        """Remove `key` if present."""
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        """Remove every entry."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def default_cache_path() -> Path:
    """Where `SQLiteCache` keeps its file by default, in the user's cache directory.

    `$XDG_CACHE_HOME` or `~/.cache` on Linux, `~/Library/Caches` on macOS, `%LOCALAPPDATA%` on
    Windows; then `hfproviders/responses.sqlite3`.
    """
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "hfproviders" / "responses.sqlite3"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL
)
"""


class SQLiteCache:
    """A persistent cache in one SQLite file (stdlib `sqlite3`), shared by threads and processes.

    - `path`: the database file (default `default_cache_path()`); `":memory:"` works for tests.
      Parent directories are created. Nothing is opened until the first `get` or `set`.
    - `ttl_s`: entries older than this read as absent (None keeps them forever). Expiry uses wall
      time (`clock`, default `time.time`) because entries outlive the process.
    - `max_entries`: when set, the oldest rows beyond it are pruned on `set`.
    - `busy_timeout_s`: how long to wait for another process's write lock before failing.

    One connection is shared behind a lock; WAL mode and a busy timeout let several processes
    use the same file. A file that is not a valid database (damaged, or something else) is
    deleted and rebuilt empty, with a warning; other failures (a lock held too long, a full
    disk) raise `sqlite3.OperationalError`, which the clients' `FailSafeCache` turns into a miss.

    >>> with SQLiteCache(":memory:", ttl_s=3600) as cache:
    ...     cache.set("k", {"kind": "chat", "data": {}, "meta": {}})
    ...     cache.get("k") is not None
    True
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        ttl_s: float | None = None,
        clock: Callable[[], float] = time.time,
        max_entries: int | None = None,
        busy_timeout_s: float = 1.0,
    ) -> None:
        _check_ttl(ttl_s)
        if max_entries is not None and max_entries < 1:
            raise ValueError("max_entries must be at least 1, or None")
        self.path: str | Path = (
            ":memory:" if path == ":memory:" else Path(path or default_cache_path())
        )
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.busy_timeout_s = busy_timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _run(self, operation: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run `operation` on the connection (lock held); rebuild a damaged file once."""
        import sqlite3

        try:
            return operation(self._connection())
        except sqlite3.DatabaseError as error:
            if isinstance(error, sqlite3.OperationalError | sqlite3.IntegrityError):
                raise  # locked, full disk, read-only: the file itself is fine
            if not isinstance(self.path, Path):
                raise
            self._rebuild(error)
            return operation(self._connection())

    def _rebuild(self, error: Exception) -> None:
        assert isinstance(self.path, Path)
        logger.warning(
            "response cache file %s is damaged (%s); rebuilding it empty", self.path, error
        )
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        for suffix in ("", "-wal", "-shm", "-journal"):
            self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)

    def _connection(self) -> sqlite3.Connection:
        # Called with the lock held.
        if self._conn is None:
            if isinstance(self.path, Path):
                self.path.parent.mkdir(parents=True, exist_ok=True)
            # The lock serialises use, so one connection may cross threads.
            import sqlite3  # only for callers who use the SQLite cache

            conn = sqlite3.connect(
                str(self.path),
                timeout=self.busy_timeout_s,
                check_same_thread=False,
                isolation_level=None,
            )
            try:
                if isinstance(self.path, Path):
                    conn.execute("PRAGMA journal_mode=WAL")
                    # A cache may lose its last write on power loss, never its integrity.
                    conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(_SCHEMA)
            except BaseException:
                conn.close()  # a connection that could not be set up is not kept half-open
                raise
            self._conn = conn
        return self._conn

    def get(self, key: str) -> dict[str, Any] | None:
        """Return the value under `key` (a fresh dict), or None when absent or expired."""
        now = self._clock()

        def read(conn: sqlite3.Connection) -> Any:
            return conn.execute(
                "SELECT value, expires_at FROM responses WHERE key = ?", (key,)
            ).fetchone()

        with self._lock:
            row = self._run(read)
            if row is None:
                return None
            text, expires_at = row
            if expires_at is not None and now >= expires_at:
                self._run(lambda conn: conn.execute("DELETE FROM responses WHERE key = ?", (key,)))
                return None
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            return None  # a damaged row is a miss, never a crash
        return value if isinstance(value, dict) else None

    def set(self, key: str, value: dict[str, Any]) -> None:
        """Store `value` under `key`, replacing any previous row."""
        text = _dumps(value)
        now = self._clock()
        expires_at = None if self.ttl_s is None else now + self.ttl_s

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO responses (key, value, created_at, expires_at) "
                "VALUES (?, ?, ?, ?)",
                (key, text, now, expires_at),
            )
            if self.max_entries is not None:
                conn.execute(
                    "DELETE FROM responses WHERE key NOT IN "
                    "(SELECT key FROM responses ORDER BY created_at DESC, rowid DESC LIMIT ?)",
                    (self.max_entries,),
                )

        with self._lock:
            self._run(write)

    def delete(self, key: str) -> None:
        """Remove `key` if present."""
        with self._lock:
            self._connection().execute("DELETE FROM responses WHERE key = ?", (key,))

    def purge_expired(self) -> int:
        """Delete expired rows now; returns how many were removed."""
        now = self._clock()
        with self._lock:
            cursor = self._connection().execute(
                "DELETE FROM responses WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,)
            )
            return cursor.rowcount

    def clear(self) -> None:
        """Delete every row."""
        with self._lock:
            self._connection().execute("DELETE FROM responses")

    def __len__(self) -> int:
        with self._lock:
            row = self._connection().execute("SELECT COUNT(*) FROM responses").fetchone()
            return int(row[0])

    def close(self) -> None:
        """Close the database connection (it reopens on next use)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> SQLiteCache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
