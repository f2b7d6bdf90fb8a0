"""Provider health and spend on Redis: `RedisHealthStore` and `RedisSpendStore`.

They implement the `HealthStore` and `SpendStore` protocols of `_health.py` and `_spend.py`, so a
`HealthTracker` or a `SpendLimit`/`SpendLedger` built on them shares its state with every worker
that uses the same Redis (`RedisState.health_store()`, `RedisState.spend_store()`).

- **Health**: the sliding-window counters are one hash per (model, provider), counted and
  trimmed by one Lua script (atomic); a circuit is one JSON value, and claiming the half-open
  probe is a Lua compare-and-set, so one worker's discovery that a provider is down opens the
  circuit for all of them and only one worker probes it. Latency statistics are a JSON value;
  each worker folds its samples in locally and writes them every second (read, fold, write: a
  race between two workers loses that second's samples of one, as the protocol allows). A
  healthy call's count is a write without a reply, carried by the worker's next command; the
  check of the model's open circuits reuses the last read for 0.1 s.
- **Spend**: a reservation (check against the limit and hold) is one Lua script, so a budget is
  never overbooked by concurrent workers. Settling (the actual cost replacing the hold) is
  accumulated locally and flushed in small batches (every `flush_every` settlements or
  `flush_s` seconds, and before every reservation of this worker), LiteLLM's pattern: until a
  flush, other workers still see the worst-case hold, so the budget errs on the safe side by at
  most those holds; it is exceeded only by what calls really cost beyond their worst case.

Failure policy: health, like the cache, always fails open (an in-process store takes over during
an outage): breaker state is advice on where to send, and it is read while an answer is being
recorded. Spend follows `on_failure` for the reservation made before a call (a local store, or
`StateUnavailableError`); settling after a call never raises (it stays pending for the next
flush).
"""

from __future__ import annotations

import atexit
import json
import math
import threading
import time
import weakref
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from hfproviders._health import (
    CircuitRecord,
    InMemoryHealthStore,
    LatencyStats,
    WindowCounts,
)
from hfproviders._redis import pack_command
from hfproviders._spend import (
    LINE_FIELDS,
    InMemorySpendStore,
    SpendLine,
    call_increments,
    spend_line,
)

if TYPE_CHECKING:
    from hfproviders._redis import RedisState

__all__ = ["RedisHealthStore", "RedisSpendStore"]

_DAY_MS = 86_400_000
# How long this worker reuses what it last read of a model's open circuits (when counting a
# call, or by `any_open`): a circuit another worker opens is seen within this time.
_HINT_S = 0.1

# KEYS: the window hash, the set of known keys, the model's set of open circuits. ARGV: bucket,
# failed (0/1), oldest bucket, ttl ms, the key's JSON name. Fields are "c:<bucket>" (calls) and
# "f:<bucket>" (failures). Returns calls, failures, and whether a circuit of the model is open.
_ADD_OUTCOME_LUA = """
local bucket, failed, oldest = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('HINCRBY', KEYS[1], 'c:' .. ARGV[1], 1)
if failed == 1 then redis.call('HINCRBY', KEYS[1], 'f:' .. ARGV[1], 1) end
local fields = redis.call('HGETALL', KEYS[1])
local calls, failures = 0, 0
for i = 1, #fields, 2 do
  local name, value = fields[i], tonumber(fields[i + 1])
  if tonumber(string.sub(name, 3)) < oldest then
    redis.call('HDEL', KEYS[1], name)
  elseif string.sub(name, 1, 1) == 'c' then
    calls = calls + value
  else
    failures = failures + value
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('SADD', KEYS[2], ARGV[5])
return {calls, failures, redis.call('EXISTS', KEYS[3])}
"""

# KEYS: the circuit's JSON value. ARGV: now, until, ttl ms. Returns 1 when the probe was taken.
_CLAIM_PROBE_LUA = """
local raw = redis.call('GET', KEYS[1])
local record = {state = 'closed', retry_at = 0, probe_until = 0}
if raw then record = cjson.decode(raw) end
if (tonumber(record['probe_until']) or 0) > tonumber(ARGV[1]) then return 0 end
record['probe_until'] = tonumber(ARGV[2])
redis.call('SET', KEYS[1], cjson.encode(record), 'PX', ARGV[3])
return 1
"""

# KEYS: the period's totals hash. ARGV: amount, limit, ttl ms (0: none).
# Returns nil when reserved, else the committed total (spent + held) as a string.
_RESERVE_LUA = """
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
local held = tonumber(redis.call('HGET', KEYS[1], 'held') or '0')
local committed = spent + held
if committed + tonumber(ARGV[1]) > tonumber(ARGV[2]) then
  return string.format('%.10f', committed)
end
redis.call('HINCRBYFLOAT', KEYS[1], 'held', ARGV[1])
if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return false
"""

# ARGV[1]: JSON {"prefix": ..., "periods": {period: {"release": usd, "spent": usd, "ttl": ms,
# "lines": {field: increment}}}}. One round trip applies a whole batch.
_FLUSH_LUA = """
local batch = cjson.decode(ARGV[1])
for period, ops in pairs(batch['periods']) do
  local totals = batch['prefix'] .. period .. ':totals'
  local lines = batch['prefix'] .. period .. ':lines'
  local held = tonumber(redis.call('HGET', totals, 'held') or '0') - ops['release']
  if held < 1e-12 then held = 0 end
  redis.call('HSET', totals, 'held', string.format('%.10f', held))
  redis.call('HINCRBYFLOAT', totals, 'spent', ops['spent'])
  for field, increment in pairs(ops['lines']) do
    redis.call('HINCRBYFLOAT', lines, field, increment)
  end
  if ops['ttl'] > 0 then
    redis.call('PEXPIRE', totals, ops['ttl'])
    redis.call('PEXPIRE', lines, ops['ttl'])
  end
end
return 1
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _name(key: tuple[str, str]) -> str:
    return json.dumps(list(key), separators=(",", ":"))


class RedisHealthStore:
    """A `HealthStore` on Redis: circuits and latency shared by every worker.

    `ttl_s`: how long a (model, provider)'s state is kept after its last update. Never raises
    for a Redis problem (in either failure policy): during an outage each process keeps its own
    health state, as without Redis.
    """

    def __init__(
        self, state: RedisState, *, ttl_s: float = 86_400.0, latency_flush_s: float = 1.0
    ) -> None:
        self.state = state
        self.local = InMemoryHealthStore()  # the fail-open fallback, and this worker's view
        self.latency_flush_s = latency_flush_s
        self._ttl_ms = max(1, math.ceil(ttl_s * 1000))
        self._open_hint: dict[str, tuple[bool, float]] = {}
        self._success_commands: dict[tuple[tuple[str, str], int, int], bytes] = {}
        self._lock = threading.Lock()
        self._latency_pending: dict[tuple[str, str], list[Callable[[LatencyStats], LatencyStats]]]
        self._latency_pending = {}
        self._latency_since: float | None = None
        atexit.register(_flush_at_exit, weakref.ref(self))

    def __repr__(self) -> str:
        return f"RedisHealthStore(state={self.state!r})"

    def _key(self, key: tuple[str, str], kind: str) -> str:
        return self.state.key("health", kind, _name(key))

    def _run(self, remote: Callable[[], Any], local: Callable[[], Any]) -> Any:
        # Health always fails open, whatever `on_failure` says: breaker state is advice on
        # where to send, and the tracker reads it while recording an answer already received.
        return self.state.guard.run_quietly(remote, local)

    def _write(self, remote: Callable[[], Any], local: Callable[[], Any]) -> Any:
        return self.state.guard.run_quietly(remote, local)

    def add_outcome(
        self, key: tuple[str, str], bucket: int, failed: bool, oldest: int
    ) -> WindowCounts:
        """Count one call in `bucket` and return the window's totals (one atomic script)."""

        def remote() -> WindowCounts:
            keys = [self._key(key, "window"), self.state.key("health", "keys")]
            calls, failures, opened = self.state.eval(
                _ADD_OUTCOME_LUA,
                [*keys, self._open_key(key[0])],
                [bucket, int(failed), oldest, self._ttl_ms, _name(key)],
            )
            # The tracker asks `any_open` right after counting: answer from this round trip.
            self._open_hint[key[0]] = (bool(opened), time.monotonic())
            return WindowCounts(int(calls), int(failures))

        counts: WindowCounts = self._write(
            remote, lambda: self.local.add_outcome(key, bucket, failed, oldest)
        )
        return counts

    def count_success(self, key: tuple[str, str], bucket: int, oldest: int) -> None:
        """Count a successful call, sent without waiting for the server's reply.

        The same script as `add_outcome`, sent whole (`EVAL`, so a server that lost its script
        cache still runs it) as a write without a reply (`RedisState.send_quietly`): it goes
        with this worker's next command, so a healthy call pays no round trip for its count.
        """
        packed = self._success_commands.get((key, bucket, oldest))
        if packed is None:  # one per bucket: the same bytes for every success counted in it
            keys = [self._key(key, "window"), self.state.key("health", "keys")]
            keys.append(self._open_key(key[0]))
            args = [bucket, 0, oldest, self._ttl_ms, _name(key)]
            packed = pack_command("EVAL", _ADD_OUTCOME_LUA, len(keys), *keys, *args)
            if len(self._success_commands) > 64:
                self._success_commands.clear()
            self._success_commands[(key, bucket, oldest)] = packed
        self.state.guard.run_quietly(
            lambda: self.state.send_packed_quietly(packed),
            lambda: self.local.add_outcome(key, bucket, False, oldest),
            confirms=False,
        )

    def window(self, key: tuple[str, str], oldest: int) -> WindowCounts:
        """The totals of buckets >= oldest."""

        def remote() -> WindowCounts:
            name = self._key(key, "window")
            fields = self.state.run(lambda c: c.hgetall(name))
            calls = failures = 0
            for name, value in fields.items():
                kind, _, bucket = _text(name).partition(":")
                if int(bucket) >= oldest:
                    calls += int(value) if kind == "c" else 0
                    failures += int(value) if kind == "f" else 0
            return WindowCounts(calls, failures)

        counts: WindowCounts = self._run(remote, lambda: self.local.window(key, oldest))
        return counts

    def reset_window(self, key: tuple[str, str]) -> None:
        """Forget every counted call."""
        name = self._key(key, "window")
        self._write(
            lambda: self.state.call("DEL", name),
            lambda: self.local.reset_window(key),
        )

    def get_circuit(self, key: tuple[str, str]) -> CircuitRecord | None:
        """The circuit's record, None when never written."""

        def remote() -> CircuitRecord | None:
            name = self._key(key, "circuit")
            raw = self.state.call("GET", name)
            return CircuitRecord.from_dict(json.loads(raw)) if raw is not None else None

        record: CircuitRecord | None = self._run(remote, lambda: self.local.get_circuit(key))
        return record

    def put_circuit(self, key: tuple[str, str], record: CircuitRecord) -> None:
        """Write the circuit's record (every worker sees it on its next call)."""

        def remote() -> None:
            name, opened = self._key(key, "circuit"), self._open_key(key[0])
            text = json.dumps(record.to_dict())
            commands: list[tuple[Any, ...]] = [
                ("SET", name, text, "PX", self._ttl_ms),
                ("SADD", self.state.key("health", "keys"), _name(key)),
            ]
            if record.state == "open":
                commands += [("SADD", opened, key[1]), ("PEXPIRE", opened, self._ttl_ms)]
            else:
                commands.append(("SREM", opened, key[1]))
            self.state.pipeline(*commands)

        self._open_hint.pop(key[0], None)
        self._write(remote, lambda: self.local.put_circuit(key, record))

    def _open_key(self, model: str) -> str:
        return self.state.key("health", "open", model)

    def any_open(self, model: str) -> bool:
        """Whether some circuit of `model` is open, for any worker (one round trip, or none).

        The tracker's fast path: a healthy model's calls skip every other read. What this
        worker read in the last 0.1 s (this or the last counted call's answer) is reused; its
        own `put_circuit` clears it.
        """
        now = time.monotonic()
        hint = self._open_hint.get(model)
        if hint is not None and now - hint[1] < _HINT_S:
            return hint[0]
        name = self._open_key(model)
        found: bool = self._run(
            lambda: self._read_open(model, name, now),
            lambda: self.local.any_open(model),
        )
        return found

    def _read_open(self, model: str, name: str, now: float) -> bool:
        found = bool(self.state.call("EXISTS", name))
        self._open_hint[model] = (found, now)
        return found

    def claim_probe(self, key: tuple[str, str], now: float, until: float) -> bool:
        """Atomically take the half-open probe when no worker holds it."""
        claimed: bool = self._run(
            lambda: bool(
                self.state.eval(
                    _CLAIM_PROBE_LUA, [self._key(key, "circuit")], [now, until, self._ttl_ms]
                )
            ),
            lambda: self.local.claim_probe(key, now, until),
        )
        return claimed

    def get_latency(self, key: tuple[str, str]) -> LatencyStats | None:
        """The latency statistics, None when nothing is known."""

        def remote() -> LatencyStats | None:
            name = self._key(key, "latency")
            raw = self.state.call("GET", name)
            return LatencyStats.from_dict(json.loads(raw)) if raw is not None else None

        stats: LatencyStats | None = self._run(remote, lambda: self.local.get_latency(key))
        return stats

    def update_latency(
        self, key: tuple[str, str], update: Callable[[LatencyStats], LatencyStats]
    ) -> LatencyStats:
        """Fold one sample in: at once into this worker's view, into Redis with the next flush.

        Samples are written every `latency_flush_s` seconds (read, fold them in order, write),
        so a call pays no round trip for its latency sample; the return value is this worker's
        view.
        """
        now = time.monotonic()
        with self._lock:
            self._latency_pending.setdefault(key, []).append(update)
            if self._latency_since is None:
                self._latency_since = now
            due = now - self._latency_since >= self.latency_flush_s
        if due:
            self.flush()
        return self.local.update_latency(key, update)

    def flush(self) -> None:
        """Write the pending latency samples (read-modify-write per key; lost if Redis is down)."""
        with self._lock:
            pending, self._latency_pending = self._latency_pending, {}
            self._latency_since = None
        for key, updates in pending.items():
            self._write(partial(self._write_latency, key, updates), lambda: None)

    def _write_latency(
        self, key: tuple[str, str], updates: list[Callable[[LatencyStats], LatencyStats]]
    ) -> None:
        name = self._key(key, "latency")
        raw = self.state.call("GET", name)
        stats = LatencyStats.from_dict(json.loads(raw)) if raw is not None else LatencyStats()
        for update in updates:
            stats = update(stats)
        text, ttl_ms = json.dumps(stats.to_dict()), self._ttl_ms
        keys = self.state.key("health", "keys")
        self.state.pipeline(("SET", name, text, "PX", ttl_ms), ("SADD", keys, _name(key)))

    def known_keys(self) -> list[tuple[str, str]]:
        """Every (model, provider) with any state."""

        def remote() -> list[tuple[str, str]]:
            keys = self.state.key("health", "keys")
            names = self.state.run(lambda c: c.smembers(keys))
            pairs = (json.loads(name) for name in names)
            return sorted((str(model), str(provider)) for model, provider in pairs)

        keys: list[tuple[str, str]] = self._run(remote, self.local.known_keys)
        return keys


def _flush_at_exit(ref: weakref.ref[Any]) -> None:
    store = ref()
    if store is not None:
        store.flush()


def _period_ttl_ms(period: str) -> int:
    # A day's totals are kept 3 days, a month's 62; the running total ("all") forever.
    if len(period) == len("2026-12-01"):
        return 3 * _DAY_MS
    if len(period) == len("2026-12"):
        return 62 * _DAY_MS
    return 0


_SEP = "\x1f"


class RedisSpendStore:
    """A `SpendStore` on Redis: one budget and one ledger for every worker.

    - `flush_every`: settlements accumulated locally before they are written in one round trip.
    - `flush_s`: the longest a settlement waits locally (checked on every store operation).

    Reads here flush first, and so does the interpreter's exit; call `flush()` to make this
    worker's settlements visible to the others sooner.
    """

    def __init__(
        self,
        state: RedisState,
        *,
        flush_every: int = 10,
        flush_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if flush_every < 1 or not flush_s >= 0:
            raise ValueError("flush_every must be >= 1 and flush_s >= 0")
        self.state = state
        self.flush_every = flush_every
        self.flush_s = flush_s
        self.local = InMemorySpendStore()  # the fail-open fallback
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[str, dict[str, Any]] = {}
        self._pending_count = 0
        self._pending_since: float | None = None
        self._held_locally: dict[str, float] = {}  # reservations made in the fallback
        atexit.register(_flush_at_exit, weakref.ref(self))  # no settlement left behind

    def __repr__(self) -> str:
        return f"RedisSpendStore(state={self.state!r}, flush_every={self.flush_every})"

    def _prefix(self) -> str:
        return self.state.key("spend", "")

    def _period_ops(self, period: str) -> dict[str, Any]:
        if self._pending_since is None:
            self._pending_since = self._clock()
        return self._pending.setdefault(
            period, {"release": 0.0, "spent": 0.0, "ttl": _period_ttl_ms(period), "lines": {}}
        )

    # -- writes: local first, flushed in batches ----------------------------------------------

    def add(
        self,
        period: str,
        model: str,
        provider: str,
        cost_usd: float | None,
        input_tokens: int,
        output_tokens: int,
    ) -> None:
        """Add one call to the period's totals (flushed with the next batch)."""
        increments = call_increments(cost_usd, input_tokens, output_tokens)
        with self._lock:
            ops = self._period_ops(period)
            ops["spent"] += cost_usd or 0.0
            for field, increment in zip(LINE_FIELDS, increments, strict=True):
                name = _SEP.join((model, provider, field))
                ops["lines"][name] = ops["lines"].get(name, 0) + increment
            self._pending_count += 1
        self._maybe_flush()

    def release(self, period: str, amount_usd: float) -> None:
        """Give back a reservation (with the next batch: until then it still holds budget)."""
        with self._lock:
            held = self._held_locally.get(period, 0.0)
            if held >= amount_usd:  # it was made in the fallback during an outage
                self._held_locally[period] = held - amount_usd
                self.local.release(period, amount_usd)
                return
            self._period_ops(period)["release"] += amount_usd
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        since = self._pending_since
        if self._pending_count >= self.flush_every or (
            since is not None and self._clock() - since >= self.flush_s
        ):
            self.flush()

    def flush(self) -> None:
        """Write every pending settlement in one round trip (kept for later if Redis is down)."""
        with self._lock:
            if not self._pending:
                return
            batch, self._pending = self._pending, {}
            count, self._pending_count, self._pending_since = self._pending_count, 0, None
        payload = json.dumps({"prefix": self._prefix(), "periods": batch})
        if self.state.guard.run_quietly(
            lambda: self.state.eval(_FLUSH_LUA, [], [payload]), lambda: None
        ):
            return
        with self._lock:  # not written: merge back, to try again with the next batch
            for period, ops in batch.items():
                merged = self._period_ops(period)
                merged["release"] += ops["release"]
                merged["spent"] += ops["spent"]
                for name, increment in ops["lines"].items():
                    merged["lines"][name] = merged["lines"].get(name, 0) + increment
            self._pending_count += count

    # -- reads and the atomic reservation -------------------------------------------------------

    def reserve(self, period: str, amount_usd: float, limit_usd: float) -> float | None:
        """Atomically hold `amount_usd` unless spent + held + amount > limit, for all workers."""
        self.flush()  # this worker's settled calls count before its next check

        def remote() -> float | None:
            committed = self.state.eval(
                _RESERVE_LUA,
                [f"{self._prefix()}{period}:totals"],
                [repr(amount_usd), repr(limit_usd), _period_ttl_ms(period)],
            )
            return None if committed is None else float(committed)

        def local() -> float | None:
            committed = self.local.reserve(period, amount_usd, limit_usd)
            if committed is None:
                with self._lock:
                    self._held_locally[period] = self._held_locally.get(period, 0.0) + amount_usd
            return committed

        result: float | None = self.state.guard.run(remote, local)
        return result

    def total_usd(self, period: str) -> float:
        """USD spent in the period by every worker (this one's pending settlements included)."""
        self.flush()

        def remote() -> float:
            name = f"{self._prefix()}{period}:totals"
            raw = self.state.call("HGET", name, "spent")
            return float(raw) if raw is not None else 0.0

        total: float = self.state.guard.run(remote, lambda: self.local.total_usd(period))
        return total

    def lines(self, period: str) -> list[SpendLine]:
        """The period's totals per (model, provider), across every worker."""
        self.flush()

        def remote() -> list[SpendLine]:
            name = f"{self._prefix()}{period}:lines"
            fields = self.state.run(lambda c: c.hgetall(name))
            totals: dict[tuple[str, str], dict[str, float]] = {}
            for name, value in fields.items():
                model, provider, field = _text(name).split(_SEP)
                totals.setdefault((model, provider), {})[field] = float(value)
            return [
                spend_line(model, provider, t) for (model, provider), t in sorted(totals.items())
            ]

        found: list[SpendLine] = self.state.guard.run(remote, lambda: self.local.lines(period))
        return found
