"""Test-wide guards: no network but loopback, no real token, no user config leaking in."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

FAKE_TOKEN = "hf_test_FAKE_TOKEN_do_not_use"

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _is_local(address: Any) -> bool:
    if not isinstance(address, tuple):
        return True  # unix sockets (asyncio's self-pipe)
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if not _is_local(address):
        raise OSError(f"tests must not reach the network (tried {address!r})")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    if not _is_local(address):
        raise OSError(f"tests must not reach the network (tried {address!r})")
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if host is not None and not _is_local((host.decode() if isinstance(host, bytes) else host, 0)):
        raise OSError(f"tests must not resolve network names (tried {host!r})")
    return _real_getaddrinfo(host, *args, **kwargs)


def pytest_configure(config: pytest.Config) -> None:
    """Refuse any non-loopback connection for the whole run, unless re-recording cassettes."""
    record_mode = config.getoption("--record-mode", default="none")
    if record_mode in (None, "none"):
        socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = _guarded_getaddrinfo


@pytest.fixture(autouse=True)
def _isolated_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No HF_TOKEN and no token file from the developer's machine, unless recording."""
    import os

    if os.environ.get("HFPROVIDERS_RECORDING") != "1":
        monkeypatch.delenv("HF_TOKEN", raising=False)
        monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
        home = tmp_path_factory.mktemp("hf_home")
        monkeypatch.setenv("HF_HOME", str(home))
        monkeypatch.setenv("HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
