"""``gsig data check``: text and JSON reports on files and symbols, bad input, fill policies."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.backtest.io import load_ohlcv
from core.cli import main
from core.cli_data import DataCheck, check_frame, fill_frame, next_source, validation_config
from core.data.calendars import expected_index
from core.data.frames import canonical
from core.data.validate import validate
from core.errors import ValidationError


def _sessions(*, high_below_close_at: int | None = None, drop: int | None = None
              ) -> pd.DataFrame:
    """Seeded daily bars on every NYSE session of 2024, with an optional planted problem."""
    days = expected_index("XNYS", "2024-01-02", "2024-12-31", "1d")
    rng = np.random.default_rng(3)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, len(days))))
    opens = np.concatenate(([50.0], close[:-1]))
    frame = pd.DataFrame({"Open": opens, "High": np.maximum(opens, close) * 1.01,
                          "Low": np.minimum(opens, close) * 0.99, "Close": close,
                          "Volume": 1_000.0}, index=days)
    if high_below_close_at is not None:
        row = frame.index[high_below_close_at]
        frame.loc[row, ["Open", "High"]] = frame.loc[row, "Close"] * np.array([1.0, 0.998])
    return frame.drop(frame.index[drop]) if drop is not None else frame


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    path = tmp_path / "planted.csv"
    _sessions(high_below_close_at=120).to_csv(path, index_label="Date")
    return path


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """History from the offline simulator only: GS_SOURCE switches no network source on."""
    monkeypatch.setenv("GS_SOURCE", "simulator")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["data", "check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_csv_report_names_the_failing_rule(planted: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, str(planted))
    assert code == 0 and not err
    failing = [line for line in out.splitlines() if line.strip().startswith("FAIL")]
    assert len(failing) == 1 and "high_ge_open_close" in failing[0] and "1 of 252" in failing[0]
    assert "served by: read from the file" in out and "calendar: XNYS" in out
    assert "gaps: 0" in out and "score: 89." in out  # one error bar in 252: 100 - 10 * (1 + 9/252)


def test_json_is_one_object_whose_score_is_validate(planted: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, str(planted), "--json")
    assert code == 0
    payload = json.loads(out)
    expected = validate(canonical(load_ohlcv(planted)), calendar="XNYS", interval="1d")
    assert payload["score"] == expected.score < 100
    assert payload["rules"] == expected.to_dict()["rules"]
    assert payload["gaps"] == [] and payload["history"]["served_by"] == "file"
    assert payload["history"]["simulated"] is False and payload["interval"] == "1d"


def test_a_simulator_symbol_is_checked_offline(offline: None,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "BTCUSDT", "--interval", "1h", "--start", "2026-01-01",
                        "--json")
    assert code == 0
    payload = json.loads(out)
    assert payload["history"]["sources"] == ["simulator"] and payload["history"]["simulated"]
    assert payload["calendar"] == "24/7" and payload["bars"] > 0
    code, out, _ = _run(capsys, "AAPL", "--start", "2026-01-01", "--end", "2026-03-31")
    assert code == 0 and "SIMULATED" in out and "calendar: XNYS" in out
    assert "2026-01-01 to 2026-03-31" in out  # --end is included


def test_rules_and_iforest_switches(planted: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, str(planted), "--rules", "no_nan,positive_prices", "--iforest",
                        "--json")
    assert code == 0
    rules = {r["name"]: r for r in json.loads(out)["rules"]}
    on = {name for name, rule in rules.items() if rule["enabled"]}
    assert on == {"no_nan", "positive_prices", "isolation_forest"}
    assert rules["isolation_forest"]["violations"] > 0  # it always flags ~1% of the bars


def test_ffill_fills_the_removed_session(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "gappy.csv"
    _sessions(drop=40).to_csv(path, index_label="Date")
    code, out, _ = _run(capsys, str(path), "--fill", "ffill", "--json")
    payload = json.loads(out)
    assert code == 0 and len(payload["gaps"]) == 1 and payload["gaps"][0]["missing"] == 1
    assert payload["fill"]["filled"] == 1 and payload["fill"]["open_gaps"] == []
    assert payload["fill"]["score_after"] == 100.0 > payload["score"]


@pytest.mark.parametrize(("argv", "needle"), [
    (("missing.csv",), "does not exist"),
    (("BAD",), "Cannot load"),
    (("AAPL", "--rules", "nope"), "Unknown rule(s) nope"),
    (("AAPL", "--calendar", "MOON"), "Unknown calendar"),
    (("AAPL", "--end", "soon"), "not a date"),
])
def test_bad_input_exits_2_with_one_line(argv: tuple[str, ...], needle: str, tmp_path: Path,
                                         offline: None, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    if argv[0] == "BAD":
        bad = tmp_path / "bad.csv"
        bad.write_text("Date,Open,High\n2024-01-02,1,2\n")
        argv = (str(bad),)
    code, out, err = _run(capsys, *argv)
    assert code == 2 and not out
    assert err.startswith("gsig: ") and needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


class _Fake:
    """A history source serving fixed bars."""

    def __init__(self, name: str, bars: pd.DataFrame) -> None:
        self.name, self.bars = name, bars

    def fetch(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp,
              interval: str) -> pd.DataFrame:
        return self.bars[(self.bars.index >= start) & (self.bars.index < end)]


def _served(frame: pd.DataFrame, sources: list[str], served_by: str = "source") -> DataCheck:
    history = {"symbol": "AAPL", "interval": "1d", "served_by": served_by, "sources": sources,
               "notes": []}
    return check_frame(frame, validation_config(), interval="1d", calendar="XNYS",
                       history=history)


def test_next_source_fills_from_the_following_real_source_only() -> None:
    full = _sessions()
    check = _served(full.drop(full.index[[10, 11, 60]]), ["polygon"])
    names = ["polygon", "yahoo", "simulator"]
    outcome = fill_frame(check, "next_source", names=names,
                         sources={n: _Fake(n, full) for n in names})
    assert outcome.source == "yahoo" and outcome.filled == 3 and not outcome.open_gaps
    assert outcome.frame["Filled"].sum() == 3
    # the simulator is never the next source of real bars, and nothing follows it
    assert next_source(_served(full, ["yahoo"]), names)[0] is None
    assert "never mixed" in next_source(_served(full, ["yahoo"]), names)[1]
    assert next_source(_served(full, ["simulator"]), names)[0] is None
    # a cache hit does not record its source: the symbol's first source is assumed
    name, note = next_source(_served(full, [], "sql"), names)
    assert name == "yahoo" and "does not record" in note


def test_validation_config_rejects_unknown_rules_and_sets_thresholds() -> None:
    config = validation_config(["return_outliers"], outlier_z=3.0, max_jump=0.2)
    assert config.outlier_z == 3.0 and config.max_jump == 0.2
    assert config.is_on("return_outliers") and not config.is_on("no_nan")
    assert not validation_config().is_on("isolation_forest")
    with pytest.raises(ValidationError, match="Unknown rule"):
        validation_config(["nope"])
