"""The Data Quality page under AppTest: a symbol's score, uploads, errors and the ffill policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

from core.data.calendars import expected_index
from core.data.validate import validate


def _sessions_csv(*, high_below_close_at: int | None = None, drop: int | None = None) -> bytes:
    """Seeded daily bars on every NYSE session of 2024, with an optional planted problem."""
    days = expected_index("XNYS", "2024-01-02", "2024-12-31", "1d")
    rng = np.random.default_rng(5)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, len(days))))
    opens = np.concatenate(([100.0], close[:-1]))
    frame = pd.DataFrame({"Open": opens, "High": np.maximum(opens, close) * 1.01,
                          "Low": np.minimum(opens, close) * 0.99, "Close": close,
                          "Volume": rng.integers(1_000, 5_000, len(days)).astype(float)},
                         index=days.tz_localize(None).rename("Date"))
    if high_below_close_at is not None:
        row = frame.index[high_below_close_at]
        frame.loc[row, "Open"] = frame.loc[row, "Close"]
        frame.loc[row, "High"] = frame.loc[row, "Close"] * 0.998  # still above Low
    if drop is not None:
        frame = frame.drop(frame.index[drop])
    return frame.to_csv().encode()


def _page() -> AppTest:
    at = AppTest.from_file("../../app.py", default_timeout=60)
    at.switch_page("pages/data_quality.py")
    return at.run()


def _check(at: AppTest) -> AppTest:
    return next(b for b in at.button if b.label == "Run check").click().run()


def _upload(at: AppTest, name: str, payload: bytes, policy: str = "leave") -> AppTest:
    at = at.radio(key="dq_mode").set_value("Upload CSV/Parquet").run()
    at.file_uploader(key="dq_upload").set_value((name, payload, "text/csv"))
    at.radio(key="dq_policy").set_value(policy)
    return _check(at)


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _rules(at: AppTest) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "Rule" in d.value.columns)


def test_a_simulator_symbol_scores_as_validate_on_the_same_bars() -> None:
    from core.config import load_settings
    from core.data.history import build_service, load_history

    at = _page()
    assert not at.exception and at.title[0].value == "Data Quality"
    assert at.text_input(key="dq_symbol").value == "AAPL"  # the first watchlist symbol
    at = _check(at)
    assert not at.exception and not at.error
    today = datetime.now(UTC).date()
    frame = load_history("AAPL", pd.Timestamp(today - timedelta(days=730), tz="UTC"),
                         pd.Timestamp(today + timedelta(days=1), tz="UTC"), "1d",
                         service=build_service(load_settings()))
    shown = at.session_state["dq_result"][0].frame
    pd.testing.assert_frame_equal(shown, frame)
    expected = validate(frame, calendar="XNYS", interval="1d")
    assert _metric(at, "Quality score") == f"{expected.score:.2f}"
    assert _metric(at, "Served by") == "simulator"
    assert any("Simulated history" in w.value for w in at.warning)
    rules = _rules(at)
    assert len(rules) == 12
    failed = set(rules.loc[rules["Passed"] == "no", "Rule"])
    assert failed == {r.name for r in expected.failed}
    assert at.get("plotly_chart")
    assert any(e.label == "History cache" for e in at.expander)


def test_an_upload_with_high_below_close_fails_that_rule_once() -> None:
    at = _upload(_page(), "planted.csv", _sessions_csv(high_below_close_at=100))
    assert not at.exception and not at.error
    rules = _rules(at).set_index("Rule")
    assert rules.loc["high_ge_open_close", "Passed"] == "no"
    assert rules.loc["high_ge_open_close", "Violations"] == 1
    assert set(rules.index[rules["Passed"] == "no"]) == {"high_ge_open_close"}
    assert float(_metric(at, "Quality score")) < 100
    assert _metric(at, "Served by") == "upload"
    assert not any("Simulated history" in w.value for w in at.warning)


def test_a_malformed_upload_shows_an_error_and_keeps_nothing() -> None:
    at = _upload(_page(), "bad.csv", b"Date,Open\n2024-01-02,1\n")
    assert not at.exception
    assert "Cannot load bad.csv" in at.error[0].value
    assert not any(m.label == "Quality score" for m in at.metric)
    assert "dq_result" not in at.session_state


def test_an_unknown_symbol_is_an_error_not_a_traceback() -> None:
    at = _page()
    at.text_input(key="dq_symbol").set_value("ZZZZQ")
    at = _check(at)
    assert not at.exception and "No history for ZZZZQ" in at.error[0].value


def test_forward_fill_reports_the_filled_session() -> None:
    at = _upload(_page(), "gappy.csv", _sessions_csv(drop=50), policy="ffill")
    assert not at.exception and not at.error
    gaps = next(d.value for d in at.dataframe if "Missing bars" in d.value.columns)
    assert len(gaps) == 1 and gaps["Missing bars"].iloc[0] == 1
    assert "1 of 1 missing bar(s) forward filled" in at.success[0].value
    assert "Quality score after filling: 100.00" in at.success[0].value
    assert _metric(at, "Gaps") == "1"


def test_next_source_on_a_file_says_there_is_none() -> None:
    at = _upload(_page(), "gappy.csv", _sessions_csv(drop=50), policy="next_source")
    assert not at.exception and not at.error
    assert "no next source" in at.info[0].value and not at.success
