"""``gsig montecarlo`` through its own argparse parser: text, JSON, seeds and bad input."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.cli_montecarlo import add_montecarlo_parser, run_montecarlo
from core.errors import GSError, ValidationError


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gsig")
    add_montecarlo_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["montecarlo", *argv])


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_montecarlo(parse(*argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def bars_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four years of seeded daily GBM bars as a CSV file."""
    index = pd.bdate_range("2019-01-01", periods=1_000)
    rng = np.random.default_rng(21)
    close = 100 * np.exp(np.cumsum(rng.normal(0.0003, 0.015, index.size)))
    opens = np.concatenate([[100.0], close[:-1]])
    frame = pd.DataFrame({"Open": opens, "High": np.maximum(opens, close) * 1.005,
                          "Low": np.minimum(opens, close) * 0.995, "Close": close,
                          "Volume": 1_000.0}, index=index)
    path = tmp_path_factory.mktemp("mc") / "bars.csv"
    frame.to_csv(path, index_label="Date")
    return path


def test_json_has_percentiles_risk_and_the_backtest(bars_csv: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--data", str(bars_csv), "--strategy", "sma_cross", "--param",
                         "fast=10", "--param", "slow=30", "--paths", "2000", "--horizon", "60",
                         "--seed", "3", "--json")
    assert code == 0 and not err
    payload = json.loads(out)
    assert {"backtest", "percentiles", "risk", "summary", "params", "inputs",
            "worst_path"} <= set(payload)
    assert payload["inputs"]["method"] == "block_bootstrap"
    assert payload["inputs"]["n_paths"] == 2_000 and payload["inputs"]["horizon"] == 60
    start = payload["backtest"]["final_equity"]
    assert payload["percentiles"]["p50"][0] == start == payload["inputs"]["start_equity"]
    assert len(payload["percentiles"]["p5"]) == 61
    assert 0.0 <= payload["risk"]["prob_ruin"] <= 1.0
    assert payload["backtest"]["bars"] == 1_000 and payload["backtest"]["trades"] > 0
    # the same command gives the same numbers
    again = json.loads(run(capsys, "--data", str(bars_csv), "--strategy", "sma_cross",
                           "--param", "fast=10", "--param", "slow=30", "--paths", "2000",
                           "--horizon", "60", "--seed", "3", "--json")[1])
    assert again == payload


def test_trade_methods_resample_the_backtests_trades(bars_csv: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--data", str(bars_csv), "--strategy", "sma_cross",
                       "--method", "trades_without_replacement", "--paths", "500", "--json")
    payload = json.loads(out)
    assert code == 0
    assert payload["inputs"]["horizon"] == payload["backtest"]["trades"]
    assert payload["params"]["n_trades"] == payload["backtest"]["trades"]
    summary = payload["summary"]["final_return"]
    assert summary["p2.5"] == pytest.approx(summary["p97.5"], rel=1e-9)  # one final equity


def test_text_report(bars_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--data", str(bars_csv), "--strategy", "sma_cross", "--method",
                       "gbm", "--paths", "1000", "--executor", "serial")
    assert code == 0
    assert "method gbm, 1,000 paths x 252 steps, seed 0" in out
    assert "Equity at the horizon" in out and "P(ruin: equity below 50% of the start)" in out
    assert "Max drawdown [%]" in out and "P(drawdown deeper than 20%)" in out


def test_a_simulated_symbol_works_offline(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GS_SOURCE", "simulator")
    code, out, err = run(capsys, "--data", "AAPL", "--strategy", "sma_cross", "--paths", "500",
                         "--horizon", "20", "--json")
    assert code == 0 and "SIMULATED" in err
    assert json.loads(out)["backtest"]["data"] == "AAPL"


def test_bad_input_raises_a_user_error(bars_csv: Path) -> None:
    with pytest.raises(ValidationError, match="unknown parameter"):
        run_montecarlo(parse("--data", str(bars_csv), "--strategy", "sma_cross", "--param",
                             "speed=3"))
    with pytest.raises(ValidationError, match="n_paths"):
        run_montecarlo(parse("--data", str(bars_csv), "--strategy", "sma_cross", "--paths", "0"))
    with pytest.raises(ValidationError, match="GS_DASK_SCHEDULER"):
        run_montecarlo(parse("--data", str(bars_csv), "--strategy", "sma_cross", "--executor",
                             "dask"))
    with pytest.raises(GSError):
        run_montecarlo(parse("--data", "no/such/file.csv", "--strategy", "sma_cross"))
    with pytest.raises(SystemExit):
        parse("--data", str(bars_csv), "--strategy", "sma_cross", "--method", "bootstrap")
