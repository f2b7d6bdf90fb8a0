"""State shared by many workers on Redis (or Valkey): the rate limiter and the response cache.

Install with `pip install "hfproviders[redis]"` (redis-py; sync and asyncio). This is the only
module that imports `redis`.

**Rate limiter: a Lua token bucket, one round trip.** `RedisRateLimiter` runs the same arithmetic
as the local `RateLimiter` (a token bucket that may go into debt, so callers are served in
arrival order and each learns how long to sleep) inside one Lua script: refill, decide, reserve
and, for the adaptive part, pause until the server's reset. Redis runs a script atomically, and
the script reads Redis's own clock (`TIME`), so workers on machines with skewed clocks agree.
Callers sleep locally, outside Redis. We chose this over the `limits` library, which is well kept
and also runs Lua on Redis, because `limits` answers "may I go now?" (a caller must poll) while
we need "how long until my turn?" with a reservation that keeps order, a give-back when a wait is
cancelled, token corrections after the real usage is known, and a shared pause until the
server's reset; none of these are in its API, and it would be one more dependency.

**Sync and async.** Every store's round trips go through `RedisState` (`call`, `pipeline`,
`eval`, `run`): on the sync side, or, inside an async step of `AsyncHFClient`
(`hfproviders._state.async_step`), on redis-py's asyncio client, awaited on the event loop. So
each operation is written once and the async client never blocks its loop or touches the sync
client.

**One round trip per healthy call.** The hot commands are packed here (RESP, as redis-py packs
them) and sent on redis-py connections without its per-command layers. Writes that need no
reply (a cache write, a success's count, a turn given back) wait, behind `CLIENT REPLY SKIP`, for
the next command's socket write (`RedisState.send_quietly`), and with a client's cache and
limiter both here, the cache read and the limiter's reservation are one script
(`RedisState.lookup_reserving`).

**Cache.** `RedisCache` stores the same values under the same keys (`cache_key`) as the local
caches, with an expiry set by Redis (`ttl_s`). A cache failure is always a miss or a skipped
write, never an error: a cache can only save work.

Every key lives under one prefix (`hfproviders` by default), with a hash tag per limiter so both
of its buckets sit in one Redis Cluster slot.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import json
import math
import os
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import redis
import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError
from redis.retry import Retry

from hfproviders._cache import InMemoryCache, ResponseCache, _dumps
from hfproviders._errors import ConfigurationError, RateLimitWaitTooLongError
from hfproviders._ratelimit import RateLimiter, Reservation
from hfproviders._state import FailurePolicy, OutageGuard, async_step, await_io, in_async_step

if TYPE_CHECKING:
    from hfproviders._redis_stores import RedisHealthStore, RedisSpendStore

__all__ = ["RedisCache", "RedisRateLimiter", "RedisState"]

# One token bucket per quota (requests, and optionally tokens), the same arithmetic as
# `TokenBucket`. KEYS: requests bucket, tokens bucket (and for `lookup`, a cache key). ARGV:
# op, request rate/s, request capacity, token rate/s (0: no token bucket), token capacity,
# amount, then per op: max_wait (reserve, lookup; < 0: unbounded) or the request and token
# pauses in seconds (pause). `lookup` returns {2, value} when the cache key holds a value
# (reserving nothing: a cache hit costs no quota), else reserves as `reserve` does.
_LIMITER_LUA = """
local op = ARGV[1]
if op == 'lookup' then
  local hit = redis.call('GET', KEYS[3])
  if hit then return {2, hit} end
  op = 'reserve'
end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local function load(key, rate, cap)
  local v = redis.call('HMGET', key, 'l', 'u')
  local level = tonumber(v[1]) or cap
  local updated = tonumber(v[2]) or now
  if now > updated then
    level = math.min(cap, level + (now - updated) * rate)
    updated = now
  end
  return {level, updated}
end
local function save(key, b, rate, cap)
  redis.call('HSET', key, 'l', string.format('%.6f', b[1]), 'u', string.format('%.6f', b[2]))
  local ttl = (cap - b[1]) / rate + math.max(0, b[2] - now) + 1
  redis.call('PEXPIRE', key, math.ceil(ttl * 1000))
end
local function wait_for(b, amount, rate)
  local wait = math.max(0, b[2] - now)
  if amount > b[1] then wait = wait + (amount - b[1]) / rate end
  return wait
end
local rr, rc = tonumber(ARGV[2]), tonumber(ARGV[3])
local tr, tc = tonumber(ARGV[4]), tonumber(ARGV[5])
local amount = tonumber(ARGV[6])
local req = load(KEYS[1], rr, rc)
local tok = nil
if tr > 0 then tok = load(KEYS[2], tr, tc) end
if op == 'reserve' or op == 'try' or op == 'peek' then
  local wait = wait_for(req, 1, rr)
  if tok then wait = math.max(wait, wait_for(tok, amount, tr)) end
  local max_wait = tonumber(ARGV[7])
  if op == 'peek' or (op == 'try' and wait > 0) or (max_wait >= 0 and wait > max_wait) then
    return {0, string.format('%.6f', wait)}
  end
  req[1] = req[1] - 1
  save(KEYS[1], req, rr, rc)
  if tok then
    tok[1] = tok[1] - amount
    save(KEYS[2], tok, tr, tc)
  end
  return {1, string.format('%.6f', wait)}
elseif op == 'release' then
  req[1] = math.min(rc, req[1] + 1)
  save(KEYS[1], req, rr, rc)
  if tok then
    tok[1] = math.min(tc, tok[1] + amount)
    save(KEYS[2], tok, tr, tc)
  end
elseif op == 'usage' then
  if tok then
    tok[1] = math.min(tc, tok[1] - amount)
    save(KEYS[2], tok, tr, tc)
  end
elseif op == 'pause' then
  local rp, tp = tonumber(ARGV[7]), tonumber(ARGV[8])
  if rp > 0 then
    req[2] = math.max(req[2], now + rp)
    save(KEYS[1], req, rr, rc)
  end
  if tp > 0 and tok then
    tok[2] = math.max(tok[2], now + tp)
    save(KEYS[2], tok, tr, tc)
  end
end
return {1, '0'}
"""

_URL_SCHEMES = {"valkey://": "redis://", "valkeys://": "rediss://"}


def _redis_url(url: str) -> str:
    for scheme, replacement in _URL_SCHEMES.items():
        if url.lower().startswith(scheme):
            return replacement + url[len(scheme) :]
    return url


class RedisState:
    """Client state on Redis or Valkey, shared by every worker that uses the same server.

    - `url`: `redis://host:port/db` (also `rediss://`, `unix://`, `valkey://`), or
    - `client`: your own `redis.Redis` (and optionally `async_client`, a `redis.asyncio.Redis`;
      without it one is built per event loop from the sync client's connection settings).
    - `prefix`: every key starts with it (several apps or accounts can share one server).
    - `on_failure`: `"open"` (default) falls back to local state during an outage, warning once;
      `"closed"` raises `StateUnavailableError` before sending (see `hfproviders._state`).
    - `socket_timeout`: seconds a Redis command may take before it counts as an outage.
    - `recheck_s`: after a failure, how long to use the fallback before trying Redis again.
    - `write_delay_s`: the longest a write without a reply (a cache write, a success's count)
      waits for this process's next command to carry it (see `send_quietly`).

    Nothing connects before first use.

    >>> state = RedisState("redis://localhost:6379/0")  # doctest: +SKIP
    >>> HFClient(rate_limiter=RateLimiter(60), state=state)  # doctest: +SKIP
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: redis.Redis | None = None,
        async_client: aioredis.Redis | None = None,
        prefix: str = "hfproviders",
        on_failure: FailurePolicy = "open",
        socket_timeout: float = 0.5,
        recheck_s: float = 2.0,
        write_delay_s: float = 0.05,
    ) -> None:
        if (url is None) == (client is None):
            raise ConfigurationError("give RedisState a url or a client (one of them)")
        if not socket_timeout > 0:
            raise ConfigurationError("socket_timeout must be > 0")
        if not 0 <= write_delay_s <= 60:
            raise ConfigurationError("write_delay_s must be between 0 and 60 seconds")
        self.url = _redis_url(url) if url is not None else None
        self.prefix = prefix
        self.socket_timeout = socket_timeout
        self.guard = OutageGuard(on_failure, name="Redis state store", recheck_s=recheck_s)
        self.guard.errors = (redis.RedisError, OSError)
        self._client = client
        self._async_client = async_client
        self._loop_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis]
        self._loop_clients = weakref.WeakKeyDictionary()
        self._shas: dict[str, str] = {}
        self._skips: bool | None = None  # whether the server takes CLIENT REPLY SKIP
        self.write_delay_s = write_delay_s
        # Writes without a reply, packed, waiting for the next command (see `send_quietly`).
        self._lock = threading.Lock()
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._flusher: _Flusher | None = None
        self._idle: list[Any] = []  # the sync client's connections, ready to send
        self._loop_connections: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[Any]]
        self._loop_connections = weakref.WeakKeyDictionary()  # the same, per event loop
        self._armed: set[asyncio.AbstractEventLoop] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        _STATES.add(self)

    @property
    def on_failure(self) -> FailurePolicy:
        """`"open"` or `"closed"` (see the class docstring)."""
        return self.guard.on_failure

    def __repr__(self) -> str:
        # The URL may hold a password: show only that there is one.
        where = "client=..." if self.url is None else "url=..."
        return f"RedisState({where}, prefix={self.prefix!r}, on_failure={self.on_failure!r})"

    def _options(self) -> dict[str, Any]:
        # One immediate retry (a pooled connection may be stale after a restart), no backoff
        # sleeps: an outage must cost milliseconds, not redis-py's default seconds of backoff.
        return {
            "socket_timeout": self.socket_timeout,
            "socket_connect_timeout": self.socket_timeout,
            "retry": Retry(NoBackoff(), 1),
        }

    @property
    def client(self) -> redis.Redis:
        """The sync redis-py client (built on first use)."""
        if self._client is None:
            assert self.url is not None
            self._client = redis.Redis.from_url(self.url, **self._options())
        return self._client

    def async_client(self) -> aioredis.Redis:
        """The asyncio client for the running event loop (one per loop: pools are loop-bound)."""
        if self._async_client is not None:
            return self._async_client
        loop = asyncio.get_running_loop()
        found = self._loop_clients.get(loop)
        if found is None:
            if self.url is not None:
                found = aioredis.Redis.from_url(self.url, **self._options())
            else:
                found = aioredis.Redis(**_async_kwargs(self.client), **self._options())
            self._loop_clients[loop] = found
        return found

    def key(self, *parts: str) -> str:
        """A key under this state's prefix."""
        return ":".join((self.prefix, *parts))

    # -- talking to the server -------------------------------------------------------------------

    def run(self, command: Callable[[Any], Any]) -> Any:
        """`command(client)`'s result: one round trip through redis-py's API (a pipeline, a read).

        `command` is written once for both clients: it gets the sync client, or, inside an
        async step, this loop's asyncio client, whose awaitable is awaited on the loop. The
        writes waiting to be sent (`send_quietly`) go first. The hot commands use `call` and
        `eval`, which skip redis-py's per-command layers.
        """
        if self._pending:
            self.flush()
        if in_async_step():
            return await_io(command(self.async_client()))
        return command(self.client)

    def call(self, *command: Any) -> Any:
        """One command's raw reply, in one round trip, the writes waiting to be sent first."""
        return self._trip(_pack(command))

    def pipeline(self, *commands: tuple[Any, ...]) -> list[Any]:
        """Several commands' raw replies, in one round trip (not a transaction)."""
        found = self._trip(b"".join(map(_pack, commands)), len(commands))
        return [found] if len(commands) == 1 else list(found)

    def eval(self, source: str, keys: list[str], args: list[Any]) -> Any:
        """Run the Lua script `source` (by its SHA; sent whole once if the server lacks it)."""
        sha = self._shas.get(source)
        if sha is None:
            sha = self._shas[source] = hashlib.sha1(
                source.encode(), usedforsecurity=False
            ).hexdigest()
        try:
            return self._trip(_pack(("EVALSHA", sha, len(keys), *keys, *args)))
        except NoScriptError:
            pass
        return self._trip(_pack(("EVAL", source, len(keys), *keys, *args)))

    def send_quietly(self, *command: Any) -> None:
        """Send a write whose reply nobody needs (a cache SET, a success's count), not waiting.

        The write is packed behind `CLIENT REPLY SKIP` and sent ahead of this process's next
        command, in the same socket write (so the process reads its own writes), or by a timer
        after `write_delay_s` when no command comes first, or at `flush()`, `close()`,
        `aclose()` and the interpreter's exit. A server that refuses `CLIENT REPLY` (some
        managed services disable `CLIENT`) gets a normal round trip.
        """
        self.send_packed_quietly(_pack(command))

    def send_packed_quietly(self, packed: bytes) -> None:
        """`send_quietly` for one command already packed (`pack_command`), e.g. kept for reuse."""
        if self._skips is None:
            try:
                self.call("CLIENT", "REPLY", "ON")  # a no-op probe
                self._skips = True
            except redis.ResponseError:
                self._skips = False
        if not self._skips:
            self._trip(packed)
            return
        with self._lock:
            first = not self._pending
            self._pending += (_SKIP, packed)
            self._pending_bytes += len(packed)
            full = self._pending_bytes > _MAX_PENDING_BYTES
        if full:
            self.flush()
        elif first:
            self._arm()

    def flush(self) -> None:
        """Send the waiting writes now, and wait until the server has applied them.

        One round trip: the writes and a `PING` in one socket write, then the PING's reply. So
        once `flush()` (or `close()`) returns, every other connection (another worker) sees
        them; without the reply, a read on another connection could be served first. Never
        raises: see `send_quietly`.
        """
        if not self._pending:
            return
        try:
            self._trip(_PING)
        except self.guard.errors as error:
            self.guard.failed(error)  # lost with the outage, as any write sent into it

    async def aflush(self) -> None:
        """Async twin of `flush`, on this loop's connections."""
        if not self._pending:
            return
        try:
            await self._atrip(_PING, 1)
        except self.guard.errors as error:
            self._take()  # dropped with the outage, as in `_trip`
            self.guard.failed(error)

    def _take(self) -> list[bytes]:
        with self._lock:
            pending, self._pending, self._pending_bytes = self._pending, [], 0
        return pending

    def _trip(self, packed: bytes, replies: int = 1) -> Any:
        """Send `packed` (`replies` commands) after the waiting writes; read back its replies."""
        try:
            if in_async_step():
                return await_io(self._atrip(packed, replies))
            return self._trip_sync(packed, replies)
        except (redis.ConnectionError, redis.TimeoutError):
            self._take()  # unreachable: the waiting writes are dropped, as writes sent into it are
            raise

    def _trip_sync(self, packed: bytes, replies: int) -> Any:
        for retry in (False, True):  # once more on a fresh connection: one may be stale
            connection = self._connection()
            pending: list[bytes] = []
            try:
                if not connection.is_connected:
                    connection.connect()  # not under the lock: a slow connect holds up no one
                with self._lock:  # a later command of this process cannot overtake these writes
                    pending, self._pending, self._pending_bytes = self._pending, [], 0
                    connection.send_packed_command(
                        [b"".join([*pending, packed])], check_health=False
                    )
                found = [_read(connection.read_response) for _ in range(replies)]
            except redis.ConnectionError:
                connection.disconnect()
                self._idle.append(connection)  # it reconnects on its next use
                if retry:
                    raise
                self._requeue(pending)
                continue
            except BaseException:
                connection.disconnect()  # a reply may be left unread
                self._idle.append(connection)
                raise
            self._idle.append(connection)  # every reply read: nothing left on it
            return _replies(found)
        raise AssertionError("unreachable")  # pragma: no cover

    def _connection(self) -> Any:
        """An idle connection of this state's own, or a new one (redis-py's class and settings).

        Not redis-py's pool: its bookkeeping (a lock, metrics, a readiness check that costs a
        system call) is most of a round trip's time on loopback. A connection comes back here
        only with every reply read, so it is always ready to send.
        """
        try:
            return self._idle.pop()
        except IndexError:
            pool: Any = self.client.connection_pool  # redis-py's pool and connection are untyped
            return pool.connection_class(**pool.connection_kwargs)

    async def _atrip(self, packed: bytes, replies: int) -> Any:
        """Async twin of `_trip_sync`, on connections of this loop's own."""
        idle = self._loop_idle()
        for retry in (False, True):
            connection = self._aconnection(idle)
            pending: list[bytes] = []
            try:
                if not connection.is_connected:
                    await connection.connect()  # first: nothing awaited between take and write
                pending = self._take()  # written before any later command of this loop's tasks
                async with asyncio.timeout(self.socket_timeout):  # one timer for the round trip
                    await connection.send_packed_command(
                        [b"".join([*pending, packed])], check_health=False
                    )
                    found = [await _aread(connection.read_response) for _ in range(replies)]
            except TimeoutError as error:
                await connection.disconnect()
                idle.append(connection)
                raise redis.TimeoutError("Timeout reading from Redis") from error
            except redis.ConnectionError:
                await connection.disconnect()
                idle.append(connection)
                if retry:
                    raise
                self._requeue(pending)
                continue
            except BaseException:
                await connection.disconnect()
                idle.append(connection)
                raise
            idle.append(connection)
            return _replies(found)
        raise AssertionError("unreachable")  # pragma: no cover

    def _loop_idle(self) -> list[Any]:
        loop = asyncio.get_running_loop()
        idle = self._loop_connections.get(loop)
        if idle is None:
            idle = self._loop_connections[loop] = []
        return idle

    def _aconnection(self, idle: list[Any]) -> Any:
        """Async twin of `_connection`: this loop's idle connection, or a new one."""
        try:
            return idle.pop()
        except IndexError:
            pool: Any = self.async_client().connection_pool
            # No per-read timer (redis-py's costs a task per write): `_atrip` times the trip.
            return pool.connection_class(**{**pool.connection_kwargs, "socket_timeout": None})

    def _requeue(self, pending: list[bytes]) -> None:
        with self._lock:
            self._pending[:0] = pending
            self._pending_bytes += sum(map(len, pending))

    def _arm(self) -> None:
        """Make sure the waiting writes go out within `write_delay_s`, even if no command comes."""
        loop = asyncio.get_running_loop() if in_async_step() else None
        if loop is None:  # sync code (the sync client), even if some loop runs in this thread
            flusher = self._flusher
            if flusher is None or not flusher.is_alive():
                flusher = self._flusher = _Flusher(self)
                flusher.start()
                weakref.finalize(self, flusher.wake.set)  # a dropped state ends its thread
            flusher.hold = self
            flusher.wake.set()
        elif loop not in self._armed:
            self._armed.add(loop)
            task = loop.create_task(self._flush_later(loop))
            self._tasks.add(task)  # held until done (the loop keeps only weak references)
            task.add_done_callback(self._tasks.discard)

    async def _flush_later(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            await asyncio.sleep(self.write_delay_s)
        finally:  # also when the loop shuts down and cancels this task: the writes go first
            self._armed.discard(loop)
            await self.aflush()

    def _forget_after_fork(self) -> None:
        # The parent sends its own writes; the child must not send them again.
        self._lock = threading.Lock()
        self._pending, self._pending_bytes = [], 0
        self._flusher = None
        self._idle = []  # the parent's sockets: never used here
        self._loop_connections = weakref.WeakKeyDictionary()
        self._armed = set()

    # -- the StateBackend protocol ---------------------------------------------------------

    def share_rate_limiter(self, limiter: RateLimiter) -> RedisRateLimiter:
        """A `RedisRateLimiter` with `limiter`'s limits (a shared one is kept as is)."""
        if isinstance(limiter, RedisRateLimiter):
            return limiter
        return RedisRateLimiter.like(limiter, state=self)

    def share_cache(self, cache: ResponseCache) -> ResponseCache:
        """An `InMemoryCache` becomes a `RedisCache` with its TTL; other caches stay as given."""
        if type(cache) is InMemoryCache:
            return RedisCache(ttl_s=cache.ttl_s, state=self)
        return cache

    def lookup_reserving(
        self, cache: ResponseCache, limiter: object
    ) -> Callable[[str, int], tuple[dict[str, Any] | None, Reservation | None]] | None:
        """The cache read and the limiter's reservation in one round trip, when both are here.

        An optimisation the client chooses when its cache and limiter are a `RedisCache` and a
        `RedisRateLimiter` of this state: `lookup(key, tokens)` returns the cached value (or
        None) and, on a miss only, the limiter turn it reserved (see `RedisRateLimiter.lookup`).
        None when the two stores live elsewhere: each is then asked on its own.
        """
        if not (
            isinstance(cache, RedisCache)
            and cache.state is self
            and isinstance(limiter, RedisRateLimiter)
            and limiter.state is self
        ):
            return None
        shared_cache, shared_limiter = cache, limiter

        def lookup(key: str, tokens: int) -> tuple[dict[str, Any] | None, Reservation | None]:
            raw, reservation = shared_limiter.lookup(shared_cache._key(key), tokens)
            return _parse(raw), reservation

        return lookup

    def health_store(self) -> RedisHealthStore:
        """A `HealthStore` on this server: breaker state and latency shared by every worker."""
        from hfproviders._redis_stores import RedisHealthStore

        return RedisHealthStore(self)

    def spend_store(self, *, flush_every: int = 10, flush_s: float = 1.0) -> RedisSpendStore:
        """A `SpendStore` on this server: one budget and ledger for every worker."""
        from hfproviders._redis_stores import RedisSpendStore

        return RedisSpendStore(self, flush_every=flush_every, flush_s=flush_s)

    def rate_limiter(
        self,
        requests_per_minute: float,
        tokens_per_minute: float | None = None,
        *,
        burst: float | None = None,
        max_wait: float | None = 60.0,
        max_pause: float = 600.0,
        name: str = "default",
    ) -> RedisRateLimiter:
        """A shared limiter built directly (same arguments as `RateLimiter`)."""
        return RedisRateLimiter(
            requests_per_minute,
            tokens_per_minute,
            state=self,
            name=name,
            burst=burst,
            max_wait=max_wait,
            max_pause=max_pause,
        )

    def cache(self, ttl_s: float | None = None) -> RedisCache:
        """A `RedisCache` on this state's connection."""
        return RedisCache(ttl_s=ttl_s, state=self)

    def close(self) -> None:
        """Send the waiting writes, then close the sync pool (a client passed in is left open)."""
        self.flush()
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.disconnect()
        if self._client is not None and self.url is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        """Send the waiting writes, then close this loop's connections (yours stay open)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - only called from a coroutine
            return
        await self.aflush()
        for connection in self._loop_connections.pop(loop, []):
            await connection.disconnect()
        found = self._loop_clients.pop(loop, None)
        if found is not None:
            await found.aclose()


_SKIP = b"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$4\r\nSKIP\r\n"
_PING = b"*1\r\n$4\r\nPING\r\n"
_MAX_PENDING_BYTES = 1 << 16  # more waiting writes than this are sent at once


def _read(read: Callable[[], Any]) -> Any:
    """One reply; an error reply is returned (as its exception), so the next replies are read."""
    try:
        return read()
    except redis.ResponseError as error:
        return error


async def _aread(read: Callable[[], Awaitable[Any]]) -> Any:
    """Async twin of `_read`."""
    try:
        return await read()
    except redis.ResponseError as error:
        return error


def _replies(replies: list[Any]) -> Any:
    """The one reply (or the list of them); raises the first error reply."""
    for reply in replies:
        if isinstance(reply, redis.ResponseError):
            raise reply
    return replies[0] if len(replies) == 1 else replies


def pack_command(*command: Any) -> bytes:
    """One command in RESP, as redis-py encodes arguments (str as UTF-8, int and float by repr)."""
    return _pack(command)


def _pack(command: tuple[Any, ...]) -> bytes:
    parts = [b"*%d\r\n" % len(command)]
    for arg in command:
        kind = type(arg)  # exact types first: this runs for every argument of every command
        if kind is str:
            data = arg.encode()
        elif kind is bytes:
            data = arg
        elif kind is int or kind is float or (isinstance(arg, int | float) and kind is not bool):
            data = repr(arg).encode()
        elif isinstance(arg, str):
            data = arg.encode()
        else:
            raise TypeError(f"cannot send a {kind.__name__} to Redis")
        parts.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(parts)


class _Flusher(threading.Thread):
    """Sends a state's waiting writes `write_delay_s` after they appear, if nothing sent them.

    While writes wait, the thread holds the state (`hold`), so a state dropped right after a
    write still sends it; otherwise only a weak reference, so a dropped state ends its thread.
    """

    def __init__(self, state: RedisState) -> None:
        super().__init__(name="hfproviders-redis-writes", daemon=True)
        self.state = weakref.ref(state)
        self.hold: RedisState | None = None
        self.wake = threading.Event()

    def run(self) -> None:
        while True:
            self.wake.wait()
            state, self.hold = self.hold or self.state(), None
            if state is None:
                return
            time.sleep(state.write_delay_s)
            self.wake.clear()
            state.flush()
            if self.hold is state:
                self.hold = None  # what woke it meanwhile was just sent
            del state


_STATES: weakref.WeakSet[RedisState] = weakref.WeakSet()


def _after_fork() -> None:
    for state in list(_STATES):
        state._forget_after_fork()


def _flush_at_exit() -> None:
    for state in list(_STATES):
        state.flush()


os.register_at_fork(after_in_child=_after_fork)
atexit.register(_flush_at_exit)


def _async_kwargs(client: redis.Redis) -> dict[str, Any]:
    """Your sync client's connection settings that the asyncio client also takes."""
    import inspect

    accepted = set(inspect.signature(aioredis.Redis.__init__).parameters)
    accepted -= {"self", "retry", "socket_timeout", "socket_connect_timeout"}
    settings = client.connection_pool.connection_kwargs
    kwargs = {name: value for name, value in settings.items() if name in accepted}
    if "path" in settings:  # a unix socket: redis.asyncio takes it as `unix_socket_path`
        kwargs["unix_socket_path"] = settings["path"]
    return kwargs


class RedisRateLimiter(RateLimiter):
    """A `RateLimiter` whose buckets live on Redis: every worker draws from one quota.

    Build it with `RedisState.rate_limiter(...)`, or let a client build it: `state=` turns the
    client's `rate_limiter=RateLimiter(...)` into one of these with the same limits. Same
    arguments, methods and guarantees as `RateLimiter` (order, bounded waits, give-back on
    cancel, the server's reset or a 429's `Retry-After` pausing everyone), counted across
    processes and machines. While Redis is unreachable and the state fails open, the inherited
    local buckets take over (this process's own quota, as without `state=`).

    Over any window of `T` seconds all workers together start at most `burst + rate × T`
    requests.
    """

    def __init__(
        self,
        requests_per_minute: float,
        tokens_per_minute: float | None = None,
        *,
        state: RedisState,
        name: str = "default",
        burst: float | None = None,
        max_wait: float | None = 60.0,
        max_pause: float = 600.0,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(
            requests_per_minute,
            tokens_per_minute,
            burst=burst,
            max_wait=max_wait,
            max_pause=max_pause,
            sleep=sleep,
            async_sleep=async_sleep,
        )
        self.name = name
        self.state = state
        tag = "{" + state.key("ratelimit", name) + "}"  # one Cluster slot for both buckets
        self._keys = [f"{tag}:requests", f"{tag}:tokens"]
        self._args = [
            self._requests.rate_per_s,
            self._requests.capacity,
            (tokens_per_minute or 0) / 60.0,
            tokens_per_minute or 0,
        ]
        self._shared = True  # the inherited `aacquire` reserves in an async step

    @classmethod
    def like(
        cls, limiter: RateLimiter, *, state: RedisState, name: str = "default"
    ) -> RedisRateLimiter:
        """A shared limiter with `limiter`'s limits."""
        return cls(
            limiter.requests_per_minute,
            limiter.tokens_per_minute,
            state=state,
            name=name,
            burst=limiter._requests.capacity,
            max_wait=limiter.max_wait,
            max_pause=limiter.max_pause,
        )

    def __repr__(self) -> str:
        return (
            f"RedisRateLimiter(requests_per_minute={self.requests_per_minute}, "
            f"tokens_per_minute={self.tokens_per_minute}, name={self.name!r})"
        )

    # -- one round trip each -----------------------------------------------------------------

    def _argv(self, op: str, amount: float, *extra: float) -> list[Any]:
        return [op, *self._args, amount, *extra]

    def _eval(self, op: str, amount: float, *extra: float) -> tuple[bool, float]:
        ok, wait = self.state.eval(_LIMITER_LUA, self._keys, self._argv(op, amount, *extra))
        return bool(ok), float(wait)

    def _max_wait_arg(self) -> float:
        return -1.0 if self.max_wait is None else self.max_wait

    def _granted(self, result: tuple[bool, float]) -> float:
        ok, wait = result
        if not ok:
            raise RateLimitWaitTooLongError(
                f"The shared rate limiter would wait {wait:.1f}s, "
                f"more than max_wait={self.max_wait:g}s",
                retry_after=wait,
            )
        return wait

    # -- one round trip each; `acquire`/`aacquire` (inherited) then sleep locally ---------------

    def _reserve(self, tokens: int) -> float:
        """Reserve one request (and `tokens`) on Redis; the wait before sending.

        Raises `RateLimitWaitTooLongError` when the wait would exceed `max_wait`, and
        `StateUnavailableError` when Redis is down and the state fails closed.
        """
        _check_tokens(tokens)
        result = self.state.guard.run(
            lambda: self._eval("reserve", tokens, self._max_wait_arg()), lambda: None
        )
        return super()._reserve(tokens) if result is None else self._granted(result)

    def try_acquire(self, tokens: int = 1) -> bool:
        """Take one request (and `tokens`) only if that needs no wait; never sleeps."""
        _check_tokens(tokens)
        result = self.state.guard.run(lambda: self._eval("try", tokens, -1), lambda: None)
        return super().try_acquire(tokens) if result is None else bool(result[0])

    def peek_wait(self, tokens: int = 1) -> float:
        """Seconds the next `acquire(tokens)` would wait now, reserving nothing."""
        result = self.state.guard.run(lambda: self._eval("peek", tokens, -1), lambda: None)
        return super().peek_wait(tokens) if result is None else result[1]

    # -- feedback: never raises (an answer may already be in hand) -------------------------------

    def _release(self, tokens: int) -> None:
        """Give a turn back, sent without waiting for a reply (never raises)."""
        command = ("EVAL", _LIMITER_LUA, 2, *self._keys, *self._argv("release", tokens))
        self.state.guard.run_quietly(
            lambda: self.state.send_quietly(*command),
            lambda: super(RedisRateLimiter, self)._release(tokens),
            confirms=False,
        )

    def lookup(self, cache_key: str, tokens: int) -> tuple[Any, Reservation | None]:
        """Read `cache_key` and, only when it holds nothing, reserve a turn: one round trip.

        Returns the raw cached value (or None) and the turn reserved (None when the value was
        there, or when Redis could not be asked: the caller then acquires as usual, which falls
        back or fails as `on_failure` says). A cache hit takes no quota.
        """
        _check_tokens(tokens)
        keys = [*self._keys, cache_key]

        def remote() -> tuple[Any, Reservation | None]:
            argv = self._argv("lookup", tokens, self._max_wait_arg())
            found, value = self.state.eval(_LIMITER_LUA, keys, argv)
            if found == 2:
                return value, None
            wait = float(value)
            if found:
                return None, Reservation(self, tokens, wait)
            try:
                self._granted((False, wait))
            except RateLimitWaitTooLongError as error:
                return None, Reservation(self, tokens, error=error)
            raise AssertionError("unreachable")  # pragma: no cover

        found: tuple[Any, Reservation | None] = self.state.guard.run_quietly(
            remote, lambda: (None, None)
        )
        return found

    def _pause(self, request_s: float, token_s: float) -> None:
        """Pause every worker (the server's reset, a 429's wait): one round trip, never raises."""
        self.state.guard.run_quietly(
            lambda: self._eval("pause", 0, request_s, token_s),
            lambda: super(RedisRateLimiter, self)._pause(request_s, token_s),
        )

    def record_usage(self, reserved: int, used: int) -> None:
        """Correct a tokens/min reservation once the real usage is known (never raises)."""
        if self.tokens_per_minute is None or used == reserved:
            return
        self.state.guard.run_quietly(
            lambda: self._eval("usage", used - reserved),
            lambda: super(RedisRateLimiter, self).record_usage(reserved, used),
        )

    def reset(self) -> None:
        """Forget everything learned and used, for every worker: full buckets, no pause."""
        super().reset()
        keys = self._keys
        self.state.guard.run_quietly(lambda: self.state.run(lambda c: c.delete(*keys)), _none)


def _none() -> None:
    return None


def _check_tokens(tokens: int) -> None:
    if not isinstance(tokens, int) or tokens < 0:
        raise ValueError("tokens must be an int >= 0")


class RedisCache:
    """A response cache on Redis, shared by every worker: same keys and values as the others.

    - `url` or `state`: where (a `RedisState` shares its connection and outage handling).
    - `ttl_s`: seconds an answer stays (Redis expires it); None keeps it until evicted by
      Redis's own `maxmemory` policy.

    Never raises from `get`/`set` for a Redis problem: an outage or a damaged value reads as
    a miss, a failed write is skipped (logged once per outage), whatever `on_failure` says.

    >>> cache = RedisCache("redis://localhost:6379/0", ttl_s=3600)  # doctest: +SKIP
    >>> HFClient(cache=cache)  # doctest: +SKIP
    """

    def __init__(
        self,
        url: str | None = None,
        ttl_s: float | None = None,
        *,
        state: RedisState | None = None,
    ) -> None:
        if ttl_s is not None and not ttl_s > 0:
            raise ValueError("ttl_s must be positive, or None for no expiry")
        if (url is None) == (state is None):
            raise ConfigurationError("give RedisCache a url or a state (one of them)")
        self.state = state if state is not None else RedisState(url)
        self.ttl_s = ttl_s

    def __repr__(self) -> str:
        return f"RedisCache(state={self.state!r}, ttl_s={self.ttl_s!r})"

    def _key(self, key: str) -> str:
        return self.state.key("cache", key)

    def _px(self) -> int | None:
        return None if self.ttl_s is None else max(1, math.ceil(self.ttl_s * 1000))

    def get(self, key: str) -> dict[str, Any] | None:
        """Return the value under `key` (a fresh dict), or None (absent, expired, unreachable)."""
        name = self._key(key)
        raw = self.state.guard.run_quietly(lambda: self.state.call("GET", name), _none)
        return _parse(raw)

    def set(self, key: str, value: dict[str, Any]) -> None:
        """Store `value` under `key`; skipped (never raised) when Redis is unreachable.

        Sent without waiting for the server's reply (`RedisState.send_quietly`): a write costs
        this call no round trip, and other workers see it as soon as the server has read it.
        """
        px = self._px()
        command = ("SET", self._key(key), _dumps(value), *(("PX", px) if px else ()))
        self.state.guard.run_quietly(
            lambda: self.state.send_quietly(*command), _none, confirms=False
        )

    async def aget(self, key: str) -> dict[str, Any] | None:
        """Async twin of `get` (the asyncio client, awaited on the running loop)."""
        return await async_step(self.get, key)

    async def aset(self, key: str, value: dict[str, Any]) -> None:
        """Async twin of `set`."""
        await async_step(self.set, key, value)

    def delete(self, key: str) -> None:
        """Remove `key` if present."""
        name = self._key(key)
        self.state.guard.run_quietly(lambda: self.state.call("DEL", name), _none)


def _parse(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None  # a damaged value is a miss, never a crash
    return cast("dict[str, Any]", value) if isinstance(value, dict) else None
