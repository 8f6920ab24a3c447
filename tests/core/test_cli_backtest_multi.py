"""``gsig backtest`` on two legs (``--data2``) and on a portfolio (``--portfolio``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.backtest import run_pairs, run_portfolio
from core.backtest.io import load_ohlcv, simulated_ohlcv
from core.cli import main


def _bars(close: np.ndarray, index: pd.DatetimeIndex) -> pd.DataFrame:
    return pd.DataFrame({"Open": close, "High": close * 1.01, "Low": close * 0.99,
                         "Close": close, "Volume": 1_000.0}, index=index)


@pytest.fixture(scope="module")
def legs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two seeded, cointegrated daily series (A ~ 1.5 B + a mean-reverting gap) as CSVs."""
    rng = np.random.default_rng(11)
    index = pd.date_range("2015-01-02", periods=700, freq="B", name="Date")
    b = 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, len(index))))
    gap = np.zeros(len(index))
    for t in range(1, len(index)):
        gap[t] = 0.9 * gap[t - 1] + rng.normal(0.0, 1.0)
    a = 1.5 * b + 20.0 + gap
    folder = tmp_path_factory.mktemp("legs")
    paths = folder / "KO.csv", folder / "PEP.csv"
    for path, close in zip(paths, (a, b), strict=True):
        _bars(close, index).to_csv(path, index_label="Date")
    return paths


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["backtest", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_pairs_on_two_files_equals_run_pairs(legs: tuple[Path, Path],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path_a, path_b = legs
    code, out, err = _run(capsys, "--data", str(path_a), "--data2", str(path_b), "--strategy",
                          "pairs", "--param", "lookback=40", "--param", "entry_z=1.5",
                          "--commission", "0.001", "--cash", "20000", "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert set(payload) == {"stats", "orders", "equity"}
    expected = run_pairs(load_ohlcv(path_a)["Close"], load_ohlcv(path_b)["Close"], lookback=40,
                         entry_z=1.5, commission=0.001, cash=20000)
    assert len(expected.orders) > 10  # the pair trades, both legs
    for key in ("final_equity", "return_pct", "sharpe", "max_drawdown_pct", "volatility_pct"):
        assert payload["stats"][key] == pytest.approx(expected.stats[key]), key
    assert len(payload["orders"]) == len(expected.orders)
    assert {o["symbol"] for o in payload["orders"]} == {"KO", "PEP"}
    assert set(payload["orders"][0]) == {"time", "symbol", "size", "price", "commission"}
    assert payload["equity"][-1]["equity"] == pytest.approx(float(expected.equity.iloc[-1]))


def test_pairs_human_table(legs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--data", str(legs[0]), "--data2", str(legs[1]),
                        "--strategy", "pairs")
    expected = run_pairs(load_ohlcv(legs[0])["Close"], load_ohlcv(legs[1])["Close"])
    assert code == 0
    assert "pairs KO / PEP (both legs traded)" in out
    assert f"{expected.stats['final_equity']:,.2f}" in out
    assert f"{len(expected.orders):,} orders." in out


@pytest.mark.parametrize(("argv", "needles"), [
    (["--data", "AAPL", "--strategy", "pairs"], ["second leg", "--data2"]),
    (["--data", "AAPL", "--data2", "MSFT", "--strategy", "sma_cross"],
     ["--data2", "only used by --strategy pairs"]),
    (["--data", "AAPL", "--data2", "MSFT", "--strategy", "pairs", "--param", "long_only=true"],
     ["long_only"]),
    (["--data", "AAPL", "--data2", "MSFT", "--strategy", "pairs", "--spread", "0.001"],
     ["--spread is not supported", "run_pairs"]),
    (["--data", "AAPL", "--data2", "ZZZZQ", "--strategy", "pairs"], ["--data2 'ZZZZQ'"]),
])
def test_pairs_bad_input_exits_2(capsys: pytest.CaptureFixture[str], argv: list[str],
                                 needles: list[str]) -> None:
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == ""
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    for needle in needles:
        assert needle in err


def test_portfolio_from_files_equals_run_portfolio(legs: tuple[Path, Path],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path_a, path_b = legs
    code, out, err = _run(capsys, "--portfolio", "ko=0.6, PEP=0.3", "--rebalance", "QE",
                          "--data", f"KO={path_a}", "--data", f"PEP={path_b}",
                          "--commission", "0.002", "--json")
    assert code == 0, err
    assert "SIMULATED" not in err
    payload = json.loads(out)
    assert set(payload) == {"stats", "orders", "equity"}
    closes = pd.concat({"KO": load_ohlcv(path_a)["Close"], "PEP": load_ohlcv(path_b)["Close"]},
                       axis=1)
    expected = run_portfolio(closes, {"KO": 0.6, "PEP": 0.3}, rebalance="QE", commission=0.002)
    assert payload["stats"]["final_equity"] == pytest.approx(expected.stats["final_equity"])
    assert payload["stats"]["sharpe"] == pytest.approx(expected.stats["sharpe"])
    assert len(payload["orders"]) == len(expected.orders) > 2
    assert len(payload["equity"]) == len(expected.equity)
    assert payload["stats"]["buy_hold_return_pct"] is not None  # equal-weight benchmark


def test_portfolio_on_simulated_symbols(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "--portfolio", "AAPL=0.5,MSFT=0.3,SPY=0.2", "--cash", "5000")
    assert code == 0, err
    closes = pd.concat({s: simulated_ohlcv(s, seed=42)["Close"] for s in ("AAPL", "MSFT", "SPY")},
                       axis=1)
    expected = run_portfolio(closes, {"AAPL": 0.5, "MSFT": 0.3, "SPY": 0.2}, rebalance="ME",
                             cash=5000)
    assert "portfolio AAPL=0.5, MSFT=0.3, SPY=0.2, rebalance ME" in out
    assert "SIMULATED" in out
    assert f"{expected.stats['final_equity']:,.2f}" in out
    assert f"{len(expected.orders):,} orders." in out


def test_buy_and_hold_trades_once_per_symbol(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--portfolio", "AAPL=0.5,BTCUSDT=0.5", "--rebalance", "none",
                        "--start", "2024-01-01", "--json")
    assert code == 0
    orders = json.loads(out)["orders"]
    assert sorted(o["symbol"] for o in orders) == ["AAPL", "BTCUSDT"]


@pytest.mark.parametrize(("spec", "extra", "needles"), [
    ("AAPL=0.6,MSFT", [], ["'MSFT' must look like SYMBOL=WEIGHT"]),
    ("AAPL=0.7,MSFT=0.7", [], ["sum to 1.4", "at most 1"]),
    ("SPY=1,TLT=-0.5", [], ["gross exposure", "1.5"]),
    ("AAPL=abc", [], ["weight of AAPL must be a number", "'abc'"]),
    ("AAPL=0.5,aapl=0.5", [], ["lists AAPL twice"]),
    ("AAPL=0.5,ZZZZQ=0.5", [], ["ZZZZQ", "simulator does not know it"]),
    ("AAP L=1", [], ["not a valid symbol"]),
    (" ", [], ["--portfolio is empty"]),
    ("AAPL=1", ["--rebalance", "fortnightly"], ["rebalance must be a pandas offset"]),
    ("AAPL=1", ["--data", "MSFT=x.csv"], ["MSFT", "not in --portfolio"]),
    ("AAPL=1", ["--data", "aapl.csv"], ["SYMBOL=PATH"]),
    ("AAPL=1", ["--strategy", "sma_cross"], ["drop --strategy"]),
    ("AAPL=1", ["--fill", "close"], ["--fill is not supported", "run_portfolio"]),
])
def test_malformed_portfolio_exits_2(capsys: pytest.CaptureFixture[str], spec: str,
                                     extra: list[str], needles: list[str]) -> None:
    code, out, err = _run(capsys, "--portfolio", spec, *extra)
    assert code == 2 and out == ""
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    for needle in needles:
        assert needle in err


def test_help_documents_both_modes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["backtest", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--data2", "--portfolio", "--rebalance", "--max-gross", "SYMBOL=PATH"):
        assert option in out
