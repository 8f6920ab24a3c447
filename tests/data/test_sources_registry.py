"""build_sources / sources_for: which history sources exist, in which order, from settings."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.config import Settings, load_settings
from core.data.sources.alpaca import AlpacaHistory
from core.data.sources.base import HistorySource
from core.data.sources.binance import BinanceHistory
from core.data.sources.polygon import PolygonHistory
from core.data.sources.registry import build_sources, sources_for
from core.data.sources.simulator import SimulatorHistory
from core.data.sources.yahoo import YahooHistory

KEYS = {"GS_POLYGON_API_KEY": "pk-reg-1", "GS_ALPACA_KEY": "AKREG", "GS_ALPACA_SECRET": "sk-reg-2"}
ALL = "binance,polygon,alpaca,yahoo"


def settings(tmp_path: Path, **env: str) -> Settings:
    return load_settings(env, tmp_path / "none.toml")


def test_defaults_are_the_vendors_hosts_and_env_overrides_them(tmp_path: Path) -> None:
    s = settings(tmp_path)
    assert s.binance_rest_url == "https://api.binance.com"
    assert s.polygon_rest_url == "https://api.polygon.io"
    assert s.alpaca_data_url == "https://data.alpaca.markets"
    s = settings(tmp_path, GS_SOURCE=ALL, GS_BINANCE_REST_URL="http://127.0.0.1:1", **KEYS,
                 GS_POLYGON_REST_URL="http://127.0.0.1:2", GS_ALPACA_DATA_URL="http://127.0.0.1:3")
    sources = build_sources(s)
    assert isinstance(sources["binance"], BinanceHistory)
    assert sources["binance"].rest_base == "http://127.0.0.1:1"
    assert isinstance(sources["polygon"], PolygonHistory)
    assert sources["polygon"].rest_base == "http://127.0.0.1:2"
    assert isinstance(sources["alpaca"], AlpacaHistory)
    assert sources["alpaca"].data_base == "http://127.0.0.1:3"
    assert s.describe()["polygon_rest_url"] == "http://127.0.0.1:2"
    shown = repr(sources) + str(s.describe())
    assert not any(secret in shown for secret in KEYS.values())


def test_without_keys_only_the_keyless_sources_and_the_simulator(tmp_path: Path) -> None:
    # a key id without its secret is not enough
    s = settings(tmp_path, GS_SOURCE=ALL, GS_ALPACA_KEY="AKONLY")
    sources = build_sources(s)
    assert set(sources) == {"binance", "yahoo", "simulator"}
    assert isinstance(sources["yahoo"], YahooHistory)
    assert isinstance(sources["simulator"], SimulatorHistory)
    assert all(isinstance(src, HistorySource) for src in sources.values())
    assert sources_for("BTCUSDT", s) == ["binance", "yahoo", "simulator"]
    assert sources_for("AAPL", s) == ["yahoo", "simulator"]


def test_a_fresh_machine_has_only_the_simulator(tmp_path: Path) -> None:
    s = settings(tmp_path, **KEYS)  # keys alone switch nothing on: GS_SOURCE does
    assert set(build_sources(s)) == {"simulator"}
    assert sources_for("AAPL", s) == sources_for("BTCUSDT", s) == ["simulator"]


def test_order_per_asset_class_with_every_source_configured(tmp_path: Path) -> None:
    s = settings(tmp_path, GS_SOURCE=ALL, **KEYS)
    assert set(build_sources(s)) == {"binance", "polygon", "alpaca", "yahoo", "simulator"}
    assert sources_for("BTCUSDT", s) == ["binance", "yahoo", "simulator"]
    assert sources_for("AAPL", s) == ["polygon", "alpaca", "yahoo", "simulator"]
    assert sources_for("^GSPC", s) == ["yahoo", "simulator"]  # indices: Yahoo's
    assert sources_for("BTC-USD", s) == ["binance", "yahoo", "simulator"]
    assert sources_for("AAPL240119C00150000", s) == ["simulator"]


def test_routes_choose_and_order_the_sources(tmp_path: Path) -> None:
    s = settings(tmp_path, **KEYS, GS_SOURCE=ALL, GS_ROUTE_CRYPTO="yahoo",
                 GS_ROUTE_EQUITY="alpaca,simulator,polygon")
    assert sources_for("ETHUSDT", s) == ["yahoo", "simulator"]
    assert sources_for("MSFT", s) == ["alpaca", "polygon", "simulator"]
    s = settings(tmp_path, GS_ROUTE_CRYPTO="yahoo", GS_SOURCE="binance")
    assert "binance" in build_sources(s) and "yahoo" not in build_sources(s)
    assert sources_for("ETHUSDT", s) == ["simulator"]  # routed to a source that is not on


def test_the_simulator_follows_the_simulator_settings(tmp_path: Path) -> None:
    sim = build_sources(settings(tmp_path, GS_SIM_SEED="7", GS_SIM_MARKET_HOURS="true"))[
        "simulator"]
    assert isinstance(sim, SimulatorHistory) and sim.seed == 7 and sim.market_hours
    end = pd.Timestamp.now(tz="UTC").floor("D")
    bars = sim.fetch("AAPL", end - pd.Timedelta(days=14), end, "1d")
    assert len(bars) == 10 and (bars.index.day_of_week < 5).all()  # weekdays only
