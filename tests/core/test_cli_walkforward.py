"""``gsig walkforward`` through its own subparser (core/cli.py registers it)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from core.cli_walkforward import add_walkforward_parser, run_walkforward
from core.errors import ValidationError
from tests.research.test_walkforward import planted_bars


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gsig")
    add_walkforward_parser(parser.add_subparsers(dest="command", required=True))
    return parser


@pytest.fixture(scope="module")
def csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("wf") / "PLANT.csv"
    planted_bars().to_csv(path, index_label="Date")
    return path


BASE = ("--strategy", "sma_cross", "--grid", "fast=1:4", "--grid", "slow=4,6,8,12",
        "--constraint", "fast < slow", "--train", "320", "--test", "160", "--workers", "1",
        "--bootstrap", "200")


def _run(capsys: pytest.CaptureFixture[str], csv: Path, *extra: str) -> tuple[int, str, str]:
    args = _parser().parse_args(["walkforward", "--data", str(csv), *BASE, *extra])
    code = run_walkforward(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_json_output(csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, csv, "--json")
    assert code == 0
    payload = json.loads(out)
    assert set(payload) == {"folds", "efficiency", "stitched_equity", "significance"}
    assert len(payload["folds"]) == 6
    for fold in payload["folds"]:
        assert fold["params"] == {"fast": 3, "slow": 8}
        assert fold["train_bars"] == 320 and fold["test_bars"] == 160
        assert fold["train_end"] < fold["test_start"]
        assert set(fold["oos_stats"]) >= {"sharpe", "return_pct", "trades"}
    assert payload["stitched_equity"][0]["equity"] == 10_000
    assert len(payload["stitched_equity"]) == 1 + 6 * 160
    assert payload["efficiency"] > 0.5
    significance = payload["significance"]
    assert significance["bootstrap"]["n_boot"] == 200
    assert 0 <= significance["deflated_sharpe"] <= 1
    assert significance["vs_buy_hold"]["n_obs"] == 960


def test_json_is_reproducible_and_anchored_differs(csv: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    _, first, _ = _run(capsys, csv, "--json", "--seed", "3")
    _, again, _ = _run(capsys, csv, "--json", "--seed", "3")
    assert first == again
    _, anchored, _ = _run(capsys, csv, "--json", "--anchored", "--gap", "2")
    folds = json.loads(anchored)["folds"]
    assert [f["train_start"] for f in folds] == [folds[0]["train_start"]] * len(folds)
    assert folds[1]["train_bars"] == 320 + 160


def test_periods_and_settings(csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--data", str(csv), "--strategy", "sma_cross", "--grid", "fast=3",
            "--grid", "slow=8", "--train", "1Y", "--test", "6M", "--workers", "1",
            "--bootstrap", "50", "--cash", "25000", "--commission", "0.001", "--json"]
    code = run_walkforward(_parser().parse_args(["walkforward", *args]))
    payload = json.loads(capsys.readouterr().out)
    assert code == 0
    assert payload["stitched_equity"][0]["equity"] == 25_000
    assert payload["folds"][0]["test_start"].startswith("2016-01")


def test_human_report(csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, csv)
    assert code == 0
    assert "gsig walkforward: sma_cross" in out
    assert out.count("fast=3, slow=8") == 6
    assert "walk-forward efficiency" in out and "deflated Sharpe" in out
    assert "vs buy and hold" in out


@pytest.mark.parametrize(("extra", "match"), [
    (("--grid", "fast=a:b"), "range"),
    (("--grid", "speed=1,2"), "unknown parameter"),
    (("--grid", "fast"), "NAME=VALUES"),
    (("--train", "0"), "positive"),
    (("--test", "6M"), "both"),
    (("--objective", "luck"), "unknown objective"),
    (("--workers", "0"), "workers"),
])
def test_bad_input_raises(csv: Path, capsys: pytest.CaptureFixture[str],
                          extra: tuple[str, ...], match: str) -> None:
    argv = ["walkforward", "--data", str(csv), *BASE, *extra]
    if extra[0] == "--grid":
        argv = ["walkforward", "--data", str(csv), "--strategy", "sma_cross", *extra,
                "--train", "320", "--test", "160", "--workers", "1"]
    with pytest.raises(ValidationError, match=match):
        run_walkforward(_parser().parse_args(argv))

