"""``gsig backtest``: file and symbol data, JSON output, and clear exit-2 errors."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from backtesting.test import GOOG

from core.backtest import run_backtest
from core.backtest.io import load_ohlcv
from core.cli import main
from core.errors import DataError

FIXTURES = Path(__file__).parent / "fixtures" / "backtest"
REPO = Path(__file__).resolve().parents[1]
SMA = ["--strategy", "sma_cross", "--param", "fast=10", "--param", "slow=30"]
KEYS = ("return_pct", "cagr_pct", "volatility_pct", "sharpe", "sortino", "calmar",
        "max_drawdown_pct", "max_drawdown_duration_days", "var_95_pct", "es_95_pct",
        "win_rate_pct", "profit_factor", "trades", "final_equity")


@pytest.fixture(scope="module")
def goog_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """backtesting.py's GOOG sample written as a CSV with a Date column."""
    path = tmp_path_factory.mktemp("goog") / "GOOG.csv"
    GOOG.to_csv(path, index_label="Date")
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["backtest", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_matches_run_backtest(goog_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--data", str(goog_csv), *SMA, "--cash", "10000", "--json")
    assert code == 0
    payload = json.loads(out)  # exactly one JSON object on stdout
    assert set(payload) == {"stats", "trades", "equity"}
    # history from files is in UTC (core.data.frames); GOOG's naive dates are UTC days
    expected = run_backtest(GOOG.tz_localize("UTC"), "sma_cross", {"fast": 10, "slow": 30},
                            cash=10000)
    stats = payload["stats"]
    assert set(KEYS) <= set(stats)
    assert stats["final_equity"] == pytest.approx(expected.stats["final_equity"])
    assert stats["trades"] == expected.stats["trades"] == len(expected.trades)
    assert len(payload["trades"]) == len(expected.trades)
    assert len(payload["equity"]) == len(expected.equity)
    first = payload["trades"][0]
    for key in ("entry_time", "exit_time", "entry_price", "exit_price", "size", "pnl",
                "return_pct"):
        assert key in first
    assert pd.Timestamp(first["entry_time"]) == expected.trades["entry_time"].iloc[0]
    assert first["pnl"] == pytest.approx(float(expected.trades["pnl"].iloc[0]))
    point = payload["equity"][-1]
    assert pd.Timestamp(point["time"]) == expected.equity.index[-1]
    assert point["equity"] == pytest.approx(float(expected.equity.iloc[-1]))


def test_json_is_strict_and_nan_is_null(goog_csv: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    # Ten bars and a 30-bar average: no trades, so trade ratios are NaN in the stats.
    code, out, _ = _run(capsys, "--data", str(goog_csv), *SMA, "--end", "2004-09-01", "--json")
    assert code == 0
    payload = json.loads(out, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert payload["stats"]["trades"] == 0 and payload["trades"] == []
    assert payload["stats"]["win_rate_pct"] is None
    assert all(v is None or not isinstance(v, float) or math.isfinite(v)
               for v in payload["stats"].values())


def test_human_table_and_settings(goog_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--data", str(goog_csv), *SMA, "--commission", "0.002",
                        "--spread", "0.001", "--fill", "close", "--sizing", "all_in",
                        "--start", "2006-01-01", "--end", "2010-12-31")
    assert code == 0
    sliced = GOOG.loc["2006-01-01":"2010-12-31"]
    expected = run_backtest(sliced, "sma_cross", {"fast": 10, "slow": 30}, commission=0.002,
                            spread=0.001, fill="close", sizing="all_in")
    assert f"{len(expected.trades):,} trades." in out
    assert f"{expected.stats['final_equity']:,.2f}" in out
    assert "Sharpe" in out and "Max drawdown [%]" in out
    assert "simulated" not in out.lower()


def test_commission_preset_and_param_types(goog_csv: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--data", str(goog_csv), *SMA, "--param", "long_only=true",
                        "--commission", "crypto_spot_0.1pct", "--json")
    assert code == 0
    expected = run_backtest(GOOG, "sma_cross", {"fast": 10, "slow": 30, "long_only": True},
                            commission="crypto_spot_0.1pct")
    assert json.loads(out)["stats"]["final_equity"] == pytest.approx(
        expected.stats["final_equity"])


def test_loader_sorts_and_ignores_case() -> None:
    frame = load_ohlcv(FIXTURES / "tiny.csv")
    assert list(frame.columns) == ["Open", "High", "Low", "Close", "Volume"]
    assert frame.index.is_monotonic_increasing and frame.index.name == "Date"
    assert frame["Close"].tolist() == [10.5, 11.0, 11.5, 12.0]


def test_loader_reads_parquet(tmp_path: Path) -> None:
    path = tmp_path / "goog.parquet"
    GOOG.to_parquet(path)
    frame = load_ohlcv(path)
    assert (frame.index == GOOG.index).all()
    assert frame["Close"].tolist() == GOOG["Close"].tolist()


def test_malformed_csv_names_rows_and_columns() -> None:
    with pytest.raises(DataError) as info:
        load_ohlcv(FIXTURES / "malformed.csv")
    message = str(info.value)
    assert "malformed.csv" in message
    assert "data row 2, column 'Close': 'abc' is not a number" in message
    assert "data row 4, column 'Date': 'not-a-date' is not a date" in message


def test_malformed_csv_exits_2_without_traceback() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "core.cli", "backtest", "--data",
         str(FIXTURES / "malformed.csv"), "--strategy", "sma_cross"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=120, check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "data row 2, column 'Close'" in proc.stderr


@pytest.mark.parametrize(("argv", "needles"), [
    (["--strategy", "nope"], ["unknown strategy 'nope'", "sma_cross"]),
    (["--strategy", "sma_cross", "--param", "speed=3"],
     ["unknown parameter 'speed'", "fast", "slow", "long_only"]),
    (["--strategy", "sma_cross", "--param", "fast=ten"], ["fast must be a whole number"]),
    (["--strategy", "sma_cross", "--param", "fast=2.5"], ["fast must be a whole number"]),
    (["--strategy", "sma_cross", "--param", "fast"], ["NAME=VALUE"]),
    (["--strategy", "sma_cross", "--param", "long_only=maybe"], ["true or false"]),
    (["--strategy", "sma_cross", "--param", "fast=30", "--param", "slow=10"],
     ["slow must be greater than fast"]),
    (["--strategy", "sma_cross", "--param", "fast=20", "--param", "slow=20"],
     ["slow must be greater than fast"]),
    (["--strategy", "sma_cross", "--start", "2030-01-01"], ["no bars between", "2004-08-19"]),
    (["--strategy", "sma_cross", "--start", "2010-01-01", "--end", "2009-01-01"],
     ["no bars between"]),
    (["--strategy", "sma_cross", "--start", "soon"], ["--start 'soon' is not a date"]),
    (["--strategy", "sma_cross", "--commission", "cheap"], ["commission", "'cheap'"]),
    (["--strategy", "sma_cross", "--sizing", "most"], ["sizing", "'most'"]),
])
def test_bad_input_exits_2(goog_csv: Path, capsys: pytest.CaptureFixture[str],
                           argv: list[str], needles: list[str]) -> None:
    code, out, err = _run(capsys, "--data", str(goog_csv), *argv)
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err


def test_slippage_models_cost_money_and_bad_ones_are_refused(
        goog_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--data", str(goog_csv), *SMA, "--json")
    plain = json.loads(out)["stats"]["final_equity"]
    code, out, err = _run(capsys, "--data", str(goog_csv), *SMA, "--slippage", "fixed_bps:5",
                          "--json")
    assert code == 0, err
    assert json.loads(out)["stats"]["final_equity"] < plain
    code, _, err = _run(capsys, "--data", str(goog_csv), *SMA, "--slippage", "teleport:1")
    assert code == 2 and "slippage" in err and "Traceback" not in err


def test_missing_file_and_unknown_symbol(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "--data", str(tmp_path / "nope.csv"), "--strategy", "sma_cross")
    assert code == 2 and "does not exist" in err
    code, _, err = _run(capsys, "--data", "ZZZZQ", "--strategy", "sma_cross")
    assert code == 2 and "ZZZZQ" in err and "AAPL" in err


def test_symbol_runs_offline_and_says_simulated(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--data", "AAPL", *SMA, "--start", "2000-01-01")
    assert code == 0
    assert "SIMULATED" in out and "AAPL" in out
    assert "trades." in out


def test_symbol_json_keeps_stdout_pure(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "--data", "aapl", *SMA, "--json")
    assert code == 0
    payload = json.loads(out)
    assert payload["stats"]["trades"] == len(payload["trades"])
    assert len(payload["equity"]) > 2000  # about 10 years of daily bars
    assert "SIMULATED" in err
