"""`gsig walkforward` and `gsig montecarlo` are reachable from the console script's main()."""

from __future__ import annotations

import json

import pytest

from core.cli import main


def test_walkforward_through_main_prints_one_json_object(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GS_DATA_DIR", str(tmp_path))
    code = main(["walkforward", "--data", "AAPL", "--strategy", "sma_cross", "--grid",
                 "fast=5:10:5", "--grid", "slow=20:30:10", "--constraint", "fast < slow",
                 "--train", "504", "--test", "504", "--json"])
    out = capsys.readouterr().out
    assert code == 0
    payload = json.loads(out)
    assert {"folds", "efficiency", "stitched_equity", "significance"} <= set(payload)
    assert payload["folds"]


def test_montecarlo_through_main_prints_one_json_object(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GS_DATA_DIR", str(tmp_path))
    code = main(["montecarlo", "--data", "AAPL", "--strategy", "sma_cross", "--paths", "1000",
                 "--horizon", "50", "--seed", "3", "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0 and {"percentiles", "risk"} <= set(payload)


@pytest.mark.parametrize("argv", [
    ["walkforward", "--data", "AAPL", "--strategy", "sma_cross", "--grid", "fast=x",
     "--train", "504", "--test", "126"],
    ["montecarlo", "--data", "NOPE!", "--strategy", "sma_cross"],
])
def test_bad_input_is_one_line_and_exit_2(argv, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GS_DATA_DIR", str(tmp_path))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("gsig: ") and "Traceback" not in err
