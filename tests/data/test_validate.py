"""core.data.validate: each rule on a frame that breaks it exactly once, config, score, report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.data.frames import canonical
from core.data.rules import RULES
from core.data.validate import (
    SEVERITY_WEIGHTS,
    QualityReport,
    ValidationConfig,
    quality_score,
    validate,
)
from core.errors import ValidationError

BAR = 10


def gbm(n: int = 60, seed: int = 3, returns: dict[int, float] | None = None,
        sigma: float = 0.01) -> pd.DataFrame:
    """A clean daily GBM frame (weekdays, 00:00 UTC); ``returns`` plants log returns by bar."""
    rng = np.random.default_rng(seed)
    r = rng.normal(0.0, sigma, n)
    for position, value in (returns or {}).items():
        r[position] = value
    close = 100.0 * np.exp(np.cumsum(r))
    open_ = np.concatenate(([100.0], close[:-1])) * np.exp(rng.normal(0.0, 0.001, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.004, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.004, n)))
    volume = rng.integers(1_000, 2_000, n).astype(float)
    index = pd.bdate_range("2023-01-02", periods=n, tz="UTC", name="Date")
    return canonical(pd.DataFrame({"Open": open_, "High": high, "Low": low, "Close": close,
                                   "Volume": volume}, index=index))


def only_failure(report: QualityReport, name: str, when: pd.Timestamp) -> None:
    """``name`` is the one failing rule, with exactly one violation, at ``when``."""
    assert [r.name for r in report.failed] == [name]
    result = report.result(name)
    assert result.violations == 1
    assert result.timestamps == (when,)


def test_clean_frame_passes_every_rule_and_scores_100() -> None:
    report = validate(gbm())
    assert report.passed and report.failed == ()
    assert report.score == 100.0
    assert report.bars == 60
    assert {r.name for r in report.results} >= set(RULES)


def test_high_below_open_or_close() -> None:
    frame = gbm()
    frame.iloc[BAR, 1] = frame.iloc[BAR][["Open", "Close"]].max() * 0.995
    only_failure(validate(frame), "high_ge_open_close", frame.index[BAR])
    assert validate(frame, ValidationConfig(ohlc_tolerance=0.01)).passed


def test_low_above_open_or_close() -> None:
    frame = gbm()
    frame.iloc[BAR, 2] = frame.iloc[BAR][["Open", "Close"]].min() * 1.005
    only_failure(validate(frame), "low_le_open_close", frame.index[BAR])
    assert validate(frame, ValidationConfig(ohlc_tolerance=0.01)).passed


def test_price_at_zero() -> None:
    frame = gbm()
    frame.iloc[BAR, 2] = 0.0
    only_failure(validate(frame), "positive_prices", frame.index[BAR])


def test_negative_volume() -> None:
    frame = gbm()
    frame.iloc[BAR, 4] = -5.0
    only_failure(validate(frame), "non_negative_volume", frame.index[BAR])


def test_nan_value() -> None:
    frame = gbm()
    frame.iloc[BAR, 4] = np.nan
    only_failure(validate(frame), "no_nan", frame.index[BAR])


def test_repeated_timestamp() -> None:
    frame = gbm()
    index = frame.index.to_list()
    index[BAR + 1] = index[BAR]
    frame.index = pd.DatetimeIndex(index, name="Date")
    only_failure(validate(frame), "increasing_unique_timestamps", frame.index[BAR])


def test_out_of_order_timestamp() -> None:
    frame = gbm()
    index = frame.index.to_list()
    index[BAR] = index[BAR] - pd.Timedelta(days=30)
    frame.index = pd.DatetimeIndex(index, name="Date")
    only_failure(validate(frame), "increasing_unique_timestamps", frame.index[BAR])


def test_stale_repeated_bar() -> None:
    frame = gbm()
    frame.iloc[BAR + 1] = frame.iloc[BAR]
    only_failure(validate(frame), "no_duplicate_bars", frame.index[BAR + 1])


def test_filled_repeats_are_not_stale() -> None:
    frame = gbm()
    frame.iloc[BAR + 1] = frame.iloc[BAR]
    frame["Filled"] = False
    frame.iloc[BAR + 1, frame.columns.get_loc("Filled")] = True
    assert validate(frame).passed


def test_split_like_open_jump() -> None:
    frame = gbm()
    previous_close = frame["Close"].iloc[BAR - 1]
    frame.iloc[BAR, 0] = previous_close / 2  # opens at half the previous close (2:1), recovers
    frame.iloc[BAR, 2] = previous_close / 2
    only_failure(validate(frame), "split_jumps", frame.index[BAR])


def test_unadjusted_split_is_flagged_as_split_and_return_outlier() -> None:
    frame = gbm()
    frame.iloc[BAR:, :4] = frame.iloc[BAR:, :4] / 2
    report = validate(frame)
    assert [r.name for r in report.failed] == ["split_jumps", "return_outliers"]
    assert report.result("split_jumps").timestamps == (frame.index[BAR],)
    assert report.result("return_outliers").timestamps == (frame.index[BAR],)


@pytest.mark.parametrize("ratio", [1.5, 3.0, 0.5, 0.1])
def test_split_ratios_and_their_thresholds(ratio: float) -> None:
    frame = gbm()
    frame.iloc[BAR:, :4] = frame.iloc[BAR:, :4] / ratio
    only_split = ValidationConfig().disable("return_outliers")
    assert validate(frame, only_split).result("split_jumps").timestamps == (frame.index[BAR],)
    no_ratios = ValidationConfig(split_ratios=(), max_jump=3.0).disable("return_outliers")
    assert validate(frame, no_ratios).passed


def test_overnight_move_beyond_max_jump_without_ratio() -> None:
    frame = gbm()
    frame.iloc[BAR:, :4] = frame.iloc[BAR:, :4] * 1.8  # no common ratio; ln 1.8 = 0.59
    config = ValidationConfig().disable("return_outliers")
    assert validate(frame, config).result("split_jumps").timestamps == (frame.index[BAR],)
    assert validate(frame, ValidationConfig(max_jump=0.7).disable("return_outliers")).passed


def test_return_outlier_and_its_threshold() -> None:
    frame = gbm(returns={30: 0.25})
    only_failure(validate(frame), "return_outliers", frame.index[30])
    assert validate(frame, ValidationConfig(outlier_z=100.0)).passed


def test_return_outliers_skipped_on_few_bars() -> None:
    result = validate(gbm(n=8, returns={5: 0.5})).result("return_outliers")
    assert result.passed and "not enough bars" in result.note


def extreme_bar_frame() -> pd.DataFrame:
    """500 bars; bar 250 has a normal return but a huge range and volume."""
    frame = gbm(n=500, seed=11)
    top = frame.iloc[250][["Open", "Close"]].max()
    bottom = frame.iloc[250][["Open", "Close"]].min()
    frame.iloc[250, 1:3] = [top * 1.15, bottom * 0.85]
    frame.iloc[250, 4] *= 50
    return frame


def test_isolation_forest_flags_a_planted_extreme_bar_reproducibly() -> None:
    frame = extreme_bar_frame()
    assert validate(frame).passed  # off by default: it always flags its contamination share
    config = ValidationConfig().enable("isolation_forest")
    first = validate(frame, config).result("isolation_forest")
    assert frame.index[250] in first.timestamps
    assert 1 <= first.violations <= 10
    assert validate(frame, config).result("isolation_forest") == first
    one = ValidationConfig(iforest_contamination=0.002).enable("isolation_forest")
    only_failure(validate(frame, one), "isolation_forest", frame.index[250])


def test_isolation_forest_skipped_below_min_bars() -> None:
    config = ValidationConfig().enable("isolation_forest")
    result = validate(gbm(n=30), config).result("isolation_forest")
    assert result.enabled and result.passed
    assert "not enough bars" in result.note


def test_disabled_rule_is_not_reported_as_failing() -> None:
    frame = gbm()
    frame.iloc[BAR, 4] = -5.0
    report = validate(frame, ValidationConfig(disabled={"non_negative_volume"}))
    result = report.result("non_negative_volume")
    assert not result.enabled and result.passed and result.violations == 0
    assert report.passed and report.score == 100.0
    assert not report.result("isolation_forest").enabled  # opt-in stays off


def test_enable_and_disable_return_copies() -> None:
    config = ValidationConfig()
    on = config.enable("isolation_forest")
    assert on.is_on("isolation_forest") and not config.is_on("isolation_forest")
    off = on.disable("isolation_forest", "no_nan")
    assert not off.is_on("isolation_forest") and not off.is_on("no_nan")
    assert off.enable("no_nan").is_on("no_nan")


def test_score_formula_and_order() -> None:
    frame = gbm()
    frame.iloc[BAR, 4] = -5.0
    one_error = validate(frame).score
    assert one_error == round(100 - SEVERITY_WEIGHTS["error"] * (1 + 9 / 60), 2)
    frame.iloc[BAR + 1] = frame.iloc[BAR + 2]
    assert validate(frame).score < one_error
    frame["Volume"] = -1.0
    assert validate(frame).result("non_negative_volume").rate == 1.0
    assert validate(frame).score == 0.0
    assert quality_score([]) == 100.0


def test_warning_costs_less_than_error() -> None:
    stale = gbm()
    stale.iloc[BAR + 1] = stale.iloc[BAR]
    negative = gbm()
    negative.iloc[BAR, 4] = -5.0
    assert 100 > validate(stale).score > validate(negative).score


def test_report_to_dict_is_json_with_iso_timestamps() -> None:
    frame = gbm()
    frame.iloc[BAR, 4] = -5.0
    data = json.loads(json.dumps(validate(frame).to_dict()))
    rule = next(r for r in data["rules"] if r["name"] == "non_negative_volume")
    assert rule["timestamps"] == [frame.index[BAR].isoformat()]
    assert rule["severity"] == "error" and rule["passed"] is False
    assert data["score"] < 100 and data["bars"] == 60 and data["gaps"] == []


def test_calendar_rules_run_only_with_a_calendar() -> None:
    report = validate(gbm())
    assert "no calendar" in report.result("calendar_gaps").note
    with pytest.raises(ValidationError, match="interval"):
        validate(gbm(), calendar="AAPL")


@pytest.mark.parametrize("kwargs, message", [
    ({"disabled": {"no_such_rule"}}, "Unknown rule"),
    ({"disabled": "no_nan"}, "collection"),
    ({"enabled": {"isolation_forrest"}}, "Unknown rule"),
    ({"enabled": {"no_nan"}, "disabled": {"no_nan"}}, "both enabled and disabled"),
    ({"ohlc_tolerance": -0.1}, "ohlc_tolerance"),
    ({"outlier_z": 0}, "outlier_z"),
    ({"outlier_z": float("nan")}, "outlier_z"),
    ({"iforest_contamination": 0.7}, "iforest_contamination"),
    ({"iforest_min_bars": 3}, "iforest_min_bars"),
    ({"split_ratios": (1.0,)}, "split_ratios"),
    ({"split_ratios": (-2.0,)}, "split_ratios"),
    ({"split_ratios": ("two",)}, "split_ratios"),
    ({"split_tolerance": 0.0}, "split_tolerance"),
    ({"max_jump": "big"}, "max_jump"),
])
def test_config_rejects_bad_values(kwargs: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ValidationConfig(**kwargs)


def test_validate_rejects_frames_that_are_not_canonical() -> None:
    with pytest.raises(ValidationError, match="DatetimeIndex"):
        validate(pd.DataFrame({"Open": [1.0]}))
    with pytest.raises(ValidationError, match="Volume"):
        validate(gbm().drop(columns="Volume"))


def test_empty_frame_scores_100() -> None:
    report = validate(gbm().iloc[:0], calendar="AAPL", interval="1d")
    assert report.score == 100.0 and report.bars == 0


def test_goog_has_no_structural_errors() -> None:
    from backtesting.test import GOOG

    report = validate(canonical(GOOG), calendar="GOOG", interval="1d")
    assert all(r.passed for r in report.results if r.severity == "error")
    assert report.result("calendar_gaps").passed and report.result("unexpected_bars").passed
    # GOOG's real earnings-day moves are robust-z outliers: a warning, not an error
    assert [r.name for r in report.failed] == ["return_outliers"]
    assert 90 < report.score < 100
