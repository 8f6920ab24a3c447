"""``gsig optimize``: JSON and text output on a planted optimum, methods, exit-2 errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main
from core.research import grid_search
from tests.research.test_optimize import planted

GRID = ["--grid", "fast=2,3,5,8,12,17,25", "--grid", "slow=10,15,20,30:100:20"]


@pytest.fixture(scope="module")
def csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("optimize") / "planted.csv"
    planted().to_csv(path, index_label="Date")
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["optimize", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_reports_the_planted_best(csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "--data", str(csv), "--strategy", "sma_cross", *GRID,
                          "--constraint", "fast < slow", "--json", "--top", "0")
    assert code == 0 and not err
    payload = json.loads(out)
    assert payload["best"] == {"fast": 5, "slow": 20, "long_only": False}
    assert payload["objective"] == "sharpe" and payload["method"] == "grid"
    rows = payload["table"]
    assert len(rows) == payload["n_trials"] == 7 * 7 - 6  # 6 pairs break fast < slow
    assert set(rows[0]) == {"fast", "slow", "objective", "return_pct", "cagr_pct",
                            "volatility_pct", "sharpe", "sortino", "calmar",
                            "max_drawdown_pct", "trades", "win_rate_pct", "final_equity"}
    expected = grid_search(planted(), "sma_cross", {"fast": [2, 3, 5, 8, 12, 17, 25],
                                                    "slow": [10, 15, 20, 30, 50, 70, 90]},
                           constraint="fast < slow").table
    assert [r["objective"] for r in rows] == pytest.approx(expected["objective"].tolist(),
                                                           rel=1e-12)


def test_text_report_and_top(csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--data", str(csv), "--strategy", "sma_cross", *GRID,
                        "--top", "3", "--objective", "return_over_max_dd", "--min-trades", "5")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("gsig optimize: sma_cross on ") and "grid search" in lines[0]
    assert "objective return_over_max_dd (min trades 5)" in lines[0]
    assert any(line.startswith("best: fast=") for line in lines)
    header = next(i for i, line in enumerate(lines) if line.split()[:3] == ["fast", "slow",
                                                                              "objective"])
    assert len(lines) - header - 1 == 3


@pytest.mark.parametrize("method", [
    ["--method", "random", "--n", "45", "--seed", "1"],
    ["--method", "genetic", "--population", "10", "--generations", "6", "--seed", "0"]])
def test_random_and_genetic_methods(csv: Path, capsys: pytest.CaptureFixture[str],
                                    method: list[str]) -> None:
    code, out, _ = _run(capsys, "--data", str(csv), "--strategy", "sma_cross", *GRID,
                        *method, "--json", "--top", "2")
    assert code == 0
    payload = json.loads(out)
    assert payload["method"] == method[1] and len(payload["table"]) == 2
    assert payload["best"] == {"fast": 5, "slow": 20, "long_only": False}


def test_a_fallback_strategy_with_broker_settings(csv: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--data", str(csv), "--strategy", "rsi", "--grid",
                        "period=7,14", "--grid", "long_only=both", "--commission", "0.001",
                        "--start", "2012-01-01", "--end", "2013-12-31", "--min-trades", "0",
                        "--json")
    assert code == 0
    payload = json.loads(out)
    assert payload["n_trials"] == 4 and set(payload["best"]) == {
        "period", "oversold", "overbought", "long_only"}


def test_no_combination_with_enough_trades(csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--data", str(csv), "--strategy", "sma_cross", "--grid",
                        "fast=5", "--grid", "slow=20", "--min-trades", "100000")
    assert code == 0 and "No combination has a defined sharpe" in out
    code, out, _ = _run(capsys, "--data", str(csv), "--strategy", "sma_cross", "--grid",
                        "fast=5", "--grid", "slow=20", "--min-trades", "100000", "--json")
    assert json.loads(out)["best"] is None


@pytest.mark.parametrize(("args", "message"), [
    (["--grid", "fast=5:x"], "fast: '5:x' is not a range"),
    (["--grid", "fats=5,6"], "unknown parameter 'fats' in --grid"),
    (["--grid", "fast"], "must look like NAME=VALUES"),
    (["--grid", "fast=5", "--grid", "fast=6"], "given twice"),
    ([], "give at least one --grid"),
    (["--grid", "fast=5,6", "--constraint", "__import__('os').system('ls')"],
     "is not allowed"),
    (["--grid", "fast=5,6", "--constraint", "fast <"], "not a valid expression"),
    (["--grid", "fast=5,6", "--objective", "profit"], "unknown objective 'profit'"),
    (["--grid", "fast=5,6", "--n", "10"], "--n is only used with --method random"),
    (["--grid", "fast=5,6", "--method", "genetic", "--population", "1"], "population"),
    (["--grid", "fast=5,6", "--top", "-1"], "--top must be"),
    (["--grid", "fast=50,60"], "no combination"),
    (["--grid", "fast=5,6", "--cash", "-5"], "cash must be a positive amount"),
])
def test_bad_input_is_one_line_and_exit_2(csv: Path, capsys: pytest.CaptureFixture[str],
                                          args: list[str], message: str) -> None:
    code, out, err = _run(capsys, "--data", str(csv), "--strategy", "sma_cross", *args)
    assert code == 2 and not out
    assert err.startswith("gsig: ") and message in err and len(err.strip().splitlines()) == 1


def test_bad_data_and_strategy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "--data", str(tmp_path / "missing.csv"), "--strategy",
                        "sma_cross", "--grid", "fast=5")
    assert code == 2 and "--data" in err
    code, _, err = _run(capsys, "--data", "x.csv", "--strategy", "nope", "--grid", "fast=5")
    assert code == 2 and "unknown strategy 'nope'" in err
