"""Shared fixtures: no outbound network, isolated settings, deterministic market data."""

from __future__ import annotations

import ipaddress
import socket
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from core.models import Tick

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else None
    if host is not None and self.family in (socket.AF_INET, socket.AF_INET6):
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise RuntimeError(f"tests must not reach the network (tried {host})")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Block every outbound connection except to 127.0.0.1 / ::1."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
                       ) -> None:
    """No GS_* from the developer's shell leaks in; data goes to a temp folder."""
    import os

    for key in list(os.environ):
        if key.startswith("GS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("GS_DATA_DIR", str(tmp_path_factory.mktemp("gsdata")))


def make_ticks(n: int, symbols: tuple[str, ...] = ("AAPL", "BTCUSDT"), seed: int = 7,
               start: datetime | None = None, mean_gap_s: float = 0.5) -> list[Tick]:
    """Deterministic synthetic ticks (random walk, random gaps), time-ordered."""
    rng = np.random.default_rng(seed)
    t = start or datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    prices = {s: 100.0 + 50 * i for i, s in enumerate(symbols)}
    out = []
    for _ in range(n):
        sym = symbols[int(rng.integers(len(symbols)))]
        prices[sym] = max(1.0, prices[sym] * float(np.exp(rng.normal(0, 0.001))))
        price = round(prices[sym], 2)
        t += timedelta(seconds=float(rng.exponential(mean_gap_s)))
        out.append(Tick(sym, t, price, float(rng.integers(1, 500)), round(price - 0.01, 2),
                        round(price + 0.01, 2), "test"))
    return out
