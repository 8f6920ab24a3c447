"""The app and the Live Quotes page under Streamlit's AppTest (no browser)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.config import DEFAULT_WATCHLIST


def _app(**params: str) -> AppTest:
    at = AppTest.from_file("../../app.py", default_timeout=30)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def _symbols(at: AppTest) -> list[str]:
    return list(at.dataframe[0].value["Symbol"])


def _add(at: AppTest, text: str) -> AppTest:
    at.text_input[0].input(text)
    return at.button[0].click().run()


def test_page_shows_banner_source_and_default_watchlist() -> None:
    at = _app()
    assert not at.exception
    assert at.title[0].value == "Live Quotes"
    assert any("Simulated market data" in w.value for w in at.warning)
    assert _symbols(at) == list(DEFAULT_WATCHLIST)
    sidebar = " ".join(m.value for m in at.sidebar.markdown)
    assert "simulator (simulated)" in sidebar and "badge[live]" in sidebar
    assert list(at.dataframe[0].value.columns) == [
        "Symbol", "Last", "Bid", "Ask", "Change", "Change %", "Volume", "Source", "Age (s)"]


def test_add_remove_and_errors() -> None:
    at = _app()
    at = _add(at, "tsla")
    assert _symbols(at)[-1] == "TSLA" and not at.error
    assert "TSLA" in at.query_params["symbols"]
    at = _add(at, "NOT A SYMBOL!")
    assert "is not a valid symbol" in at.error[0].value
    assert "NOT A SYMBOL!" not in _symbols(at)
    at = _add(at, "ZZZZ")
    assert "no symbol 'ZZZZ'" in at.error[0].value
    at = at.multiselect[0].select("AAPL").select("MSFT").run()
    at = at.button[1].click().run()
    assert "AAPL" not in _symbols(at) and "MSFT" not in _symbols(at)


def test_watchlist_symbol_and_timeframe_come_from_the_url() -> None:
    at = _app(symbols="SPY,ETHUSDT", symbol="ETHUSDT", tf="5m")
    assert _symbols(at) == ["SPY", "ETHUSDT"]
    assert at.selectbox[0].value == "ETHUSDT"
    assert at.query_params["tf"] == ["5m"] or at.query_params["tf"] == "5m"
    chart = at.get("plotly_chart")[0]
    assert "ETHUSDT · 5m" in chart.proto.spec


def test_a_new_session_gets_the_last_saved_watchlist() -> None:
    at = _app()
    _add(at, "TSLA")
    again = _app()
    assert _symbols(again)[-1] == "TSLA"


def test_replay_source_plays_the_file_symbols(monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    csv = Path(__file__).parents[1] / "fixtures" / "replay" / "ticks.csv"
    monkeypatch.setenv("GS_SOURCE", "replay")
    monkeypatch.setenv("GS_REPLAY_PATH", str(csv))
    monkeypatch.setenv("GS_REPLAY_SPEED", "0")
    at = _app()
    assert not at.exception
    assert set(_symbols(at)) == {"AAPL", "MSFT"}
    assert any("Simulated market data" in w.value for w in at.warning)


def test_a_malformed_replay_file_is_explained_not_a_traceback(
        monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # noqa: ANN001
    bad = tmp_path / "bad.csv"
    bad.write_text("ts,symbol,price,size\n2026-03-02T14:30:00,AAPL,abc,10\n")
    monkeypatch.setenv("GS_SOURCE", "replay")
    monkeypatch.setenv("GS_REPLAY_PATH", str(bad))
    at = _app()
    assert not at.exception
    assert "bad.csv" in at.error[0].value and "price" in at.error[0].value


def test_several_sources_show_fused_prices_quality_and_the_failover_log(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    csv = Path(__file__).parents[1] / "fixtures" / "replay" / "ticks.csv"
    monkeypatch.setenv("GS_SOURCE", "simulator,replay")
    monkeypatch.setenv("GS_REPLAY_PATH", str(csv))
    monkeypatch.setenv("GS_REPLAY_SPEED", "0")
    monkeypatch.setenv("GS_WATCHLIST", "AAPL,MSFT")
    at = _app()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table.columns[:3]) == ["Symbol", "Last", "Fused"]
    frames = {tuple(df.value.columns)[:2]: df.value for df in at.dataframe}
    quality = frames[("Source", "State")]
    assert set(quality["Source"]) == {"simulator", "replay"}
    log = frames[("Time (UTC)", "Symbol")]
    assert {"AAPL", "MSFT"} <= set(log["Symbol"]) and "first data" in set(log["Why"])


def test_a_source_no_route_names_is_called_out(monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    from tests.e2e.servers import free_port

    csv = Path(__file__).parents[1] / "fixtures" / "replay" / "ticks.csv"
    monkeypatch.setenv("GS_SOURCE", "simulator,replay,binance")  # routes leave the sim out
    monkeypatch.setenv("GS_REPLAY_PATH", str(csv))
    monkeypatch.setenv("GS_BINANCE_URL", f"ws://127.0.0.1:{free_port()}")  # nothing listens
    monkeypatch.setenv("GS_ROUTE_CRYPTO", "binance")
    monkeypatch.setenv("GS_ROUTE_EQUITY", "binance")
    monkeypatch.setenv("GS_WATCHLIST", "BTCUSDT")
    at = _app()
    assert not at.exception
    sidebar = " ".join(c.value for c in at.sidebar.caption)
    assert "simulator is running but no GS_ROUTE_* names it" in sidebar
    assert "replay is running but no GS_ROUTE_* names it" in sidebar
    assert any("No data yet for BTCUSDT" in w.value for w in at.warning)


def test_a_bad_setting_is_explained_on_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GS_SOURCE", "nasdaq")
    at = _app()
    assert not at.exception
    assert "could not start its market data" in at.error[0].value
    assert "nasdaq is not a known source" in at.error[0].value
