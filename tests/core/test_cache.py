"""Response cache: canonical keys, the in-memory LRU and SQLite backends, with a fake clock."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from hfproviders import _cache
from hfproviders._cache import (
    InMemoryCache,
    ResponseCache,
    SQLiteCache,
    cache_key,
    default_cache_path,
    is_cache_entry,
)


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def chat_entry(text: str) -> dict[str, Any]:
    return {
        "kind": "chat",
        "data": {"choices": [{"message": {"role": "assistant", "content": text}}]},
        "meta": {"provider": "groq", "request_id": "r1"},
    }


REQUEST = {
    "base_url": "https://router.huggingface.co/v1",
    "kind": "chat",
    "model": "meta-llama/Llama-3.1-8B-Instruct",
    "provider": "groq",
    "body": {
        "messages": [{"role": "user", "content": "Hi"}],
        "temperature": 0.0,
        "max_tokens": 64,
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
    },
}


# --- keys --------------------------------------------------------------------------------------


def test_key_ignores_dict_order_and_int_float_spelling() -> None:
    reordered = {
        "provider": "groq",
        "body": {
            "max_tokens": 64.0,
            "temperature": 0,
            "tools": ({"function": {"parameters": {}, "name": "f"}, "type": "function"},),
            "messages": [{"content": "Hi", "role": "user"}],
        },
        "model": "meta-llama/Llama-3.1-8B-Instruct",
        "kind": "chat",
        "base_url": "https://router.huggingface.co/v1",
    }
    key = cache_key(REQUEST)
    assert key == cache_key(reordered)
    assert len(key) == 64
    assert int(key, 16) >= 0


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("model",), "meta-llama/Llama-3.1-70B-Instruct"),
        (("provider",), "together"),
        (("base_url",), "http://127.0.0.1:8080/v1"),
        (("kind",), "stream"),
        (("body", "temperature"), 0.7),
        (("body", "max_tokens"), 65),
        (("body", "messages"), [{"role": "user", "content": "Hi!"}]),
        (("body", "seed"), 1),
    ],
)
def test_key_changes_with_every_part_of_the_request(path: tuple[str, ...], value: Any) -> None:
    changed: dict[str, Any] = {**REQUEST, "body": dict(REQUEST["body"])}  # type: ignore[dict-item]
    target = changed
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    assert cache_key(changed) != cache_key(REQUEST)


def test_key_depends_on_the_format_version(monkeypatch: pytest.MonkeyPatch) -> None:
    before = cache_key(REQUEST)
    monkeypatch.setattr(_cache, "CACHE_KEY_VERSION", "hfproviders-cache-v2")
    assert cache_key(REQUEST) != before


def test_key_rejects_what_json_cannot_say() -> None:
    with pytest.raises(ValueError, match="NaN"):
        cache_key({"temperature": float("nan")})
    with pytest.raises(TypeError, match="non-JSON"):
        cache_key({"x": object()})


def test_is_cache_entry() -> None:
    assert is_cache_entry(chat_entry("x"))
    assert is_cache_entry({"kind": "stream", "data": [{"choices": []}], "meta": {}})
    assert not is_cache_entry({"kind": "stream", "data": {}, "meta": {}})
    assert not is_cache_entry({"kind": "chat", "data": {}})
    assert not is_cache_entry({"kind": "embedding", "data": {}, "meta": {}})
    assert not is_cache_entry(["kind"])


def test_backends_satisfy_the_protocol(tmp_path: Path) -> None:
    assert isinstance(InMemoryCache(), ResponseCache)
    assert isinstance(SQLiteCache(tmp_path / "c.sqlite3"), ResponseCache)


# --- shared behaviour of both backends ---------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite"])
def make_cache(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    def make(ttl_s: float | None = None, clock: FakeClock | None = None) -> Any:
        clock = clock or FakeClock()
        if request.param == "memory":
            return InMemoryCache(max_entries=100, ttl_s=ttl_s, clock=clock)
        return SQLiteCache(tmp_path / "cache.sqlite3", ttl_s=ttl_s, clock=clock)

    return make


def test_roundtrip_returns_fresh_copies(make_cache: Any) -> None:
    cache = make_cache()
    value = chat_entry("hello")
    cache.set("k", value)
    value["meta"]["provider"] = "mutated after set"
    first = cache.get("k")
    assert first == chat_entry("hello")
    first["data"]["choices"].clear()
    assert cache.get("k") == chat_entry("hello")
    assert cache.get("missing") is None


def test_stream_entries_keep_chunk_order(make_cache: Any) -> None:
    cache = make_cache()
    chunks = [
        {"choices": [{"index": 0, "delta": {"content": "Hel"}}]},
        {"choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]},
        {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}},
    ]
    cache.set("s", {"kind": "stream", "data": chunks, "meta": {"provider": "together"}})
    stored = cache.get("s")
    assert stored["data"] == chunks
    assert is_cache_entry(stored)


def test_ttl_expiry(make_cache: Any) -> None:
    clock = FakeClock()
    cache = make_cache(ttl_s=30, clock=clock)
    cache.set("k", chat_entry("a"))
    clock.now += 29.99
    assert cache.get("k") is not None
    clock.now += 0.01
    assert cache.get("k") is None
    assert len(cache) == 0  # an expired entry is dropped on read


def test_no_ttl_keeps_entries(make_cache: Any) -> None:
    clock = FakeClock()
    cache = make_cache(ttl_s=None, clock=clock)
    cache.set("k", chat_entry("a"))
    clock.now += 10 * 365 * 86400
    assert cache.get("k") == chat_entry("a")


def test_set_replaces_and_restarts_ttl(make_cache: Any) -> None:
    clock = FakeClock()
    cache = make_cache(ttl_s=10, clock=clock)
    cache.set("k", chat_entry("a"))
    clock.now += 8
    cache.set("k", chat_entry("b"))
    clock.now += 8
    assert cache.get("k") == chat_entry("b")
    assert len(cache) == 1


def test_delete_and_clear(make_cache: Any) -> None:
    cache = make_cache()
    cache.set("a", chat_entry("a"))
    cache.set("b", chat_entry("b"))
    cache.delete("a")
    cache.delete("never-there")
    assert cache.get("a") is None
    assert cache.get("b") is not None
    cache.clear()
    assert len(cache) == 0


@pytest.mark.parametrize("bad", [["not", "a", "dict"], {"x": {1, 2}}, {"x": float("inf")}])
def test_set_rejects_values_that_are_not_json_dicts(make_cache: Any, bad: Any) -> None:
    cache = make_cache()
    with pytest.raises((TypeError, ValueError)):
        cache.set("k", bad)
    assert cache.get("k") is None


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_bad_options(kind: str, tmp_path: Path) -> None:
    factory: Any = InMemoryCache if kind == "memory" else SQLiteCache
    with pytest.raises(ValueError, match="ttl_s"):
        factory(ttl_s=0) if kind == "memory" else factory(tmp_path / "x", ttl_s=-1)
    with pytest.raises(ValueError, match="max_entries"):
        factory(max_entries=0) if kind == "memory" else factory(tmp_path / "x", max_entries=0)


def test_threads_share_a_cache_safely(make_cache: Any) -> None:
    cache = make_cache()
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(200):
                key = f"{worker}-{i % 20}"
                cache.set(key, {"kind": "chat", "data": {"n": key}, "meta": {}})
                got = cache.get(key)
                # Another thread never writes this key, so a hit must be ours.
                assert got is None or got["data"]["n"] == key
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(cache) <= 160


# --- InMemoryCache -------------------------------------------------------------------------------


def test_lru_evicts_least_recently_used() -> None:
    cache = InMemoryCache(max_entries=2)
    cache.set("a", chat_entry("a"))
    cache.set("b", chat_entry("b"))
    assert cache.get("a") is not None  # a becomes most recent
    cache.set("c", chat_entry("c"))
    assert cache.get("b") is None
    assert cache.get("a") is not None
    assert cache.get("c") is not None
    assert len(cache) == 2


# --- SQLiteCache ---------------------------------------------------------------------------------


def test_sqlite_is_lazy_and_creates_parent_dirs(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "cache.sqlite3"
    cache = SQLiteCache(path)
    assert not path.parent.exists()  # constructing touches nothing
    cache.set("k", chat_entry("a"))
    assert path.exists()
    cache.close()


def test_sqlite_persists_across_instances(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "cache.sqlite3"
    with SQLiteCache(path, ttl_s=60, clock=clock) as first:
        first.set("k", chat_entry("kept"))
    later = FakeClock(clock.now + 30)
    with SQLiteCache(path, ttl_s=60, clock=later) as second:
        assert second.get("k") == chat_entry("kept")
        later.now += 30
        assert second.get("k") is None  # the TTL travels with the row


def test_sqlite_two_connections_see_each_other(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    writer, reader = SQLiteCache(path), SQLiteCache(path)
    writer.set("k", chat_entry("from the other process"))
    assert reader.get("k") == chat_entry("from the other process")
    writer.close()
    reader.close()


def test_sqlite_max_entries_keeps_newest(tmp_path: Path) -> None:
    clock = FakeClock()
    cache = SQLiteCache(tmp_path / "c.sqlite3", clock=clock, max_entries=2)
    for name in "abc":
        cache.set(name, chat_entry(name))
        clock.now += 1
    assert cache.get("a") is None
    assert cache.get("b") is not None
    assert cache.get("c") is not None


def test_sqlite_purge_expired(tmp_path: Path) -> None:
    clock = FakeClock()
    cache = SQLiteCache(tmp_path / "c.sqlite3", ttl_s=5, clock=clock)
    cache.set("old", chat_entry("old"))
    clock.now += 10
    cache.set("new", chat_entry("new"))
    assert cache.purge_expired() == 1
    assert len(cache) == 1


def test_sqlite_damaged_row_is_a_miss(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    cache = SQLiteCache(path)
    cache.set("k", chat_entry("a"))
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE responses SET value = '{not json'")
        raw.execute("INSERT INTO responses (key, value, created_at) VALUES ('list', '[1]', 0)")
    assert cache.get("k") is None
    assert cache.get("list") is None
    cache.close()


def test_sqlite_in_memory_and_reopen_after_close(tmp_path: Path) -> None:
    memory = SQLiteCache(":memory:")
    memory.set("k", chat_entry("a"))
    assert memory.get("k") is not None
    path = tmp_path / "c.sqlite3"
    cache = SQLiteCache(path)
    cache.set("k", chat_entry("a"))
    cache.close()
    assert cache.get("k") == chat_entry("a")  # reopens on use
    cache.close()


def test_default_cache_path_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(_cache.sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_path() == tmp_path / "hfproviders" / "responses.sqlite3"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_path() == Path.home() / ".cache" / "hfproviders" / "responses.sqlite3"
    monkeypatch.setattr(_cache.sys, "platform", "darwin")
    assert default_cache_path().parent == Path.home() / "Library" / "Caches" / "hfproviders"


def test_sqlite_default_path_is_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(_cache.sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cache = SQLiteCache()
    cache.set("k", chat_entry("a"))
    cache.close()
    assert (tmp_path / "hfproviders" / "responses.sqlite3").exists()
