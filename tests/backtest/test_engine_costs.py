"""Commission models: their fee schedules, presets, settings, and what the engine charges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.backtest import (
    COMMISSION_PRESETS,
    BacktestConfig,
    CommissionModel,
    CommissionTerms,
    FixedCommission,
    PercentCommission,
    PerShareCommission,
    run,
)
from core.backtest.costs import resolve_commission
from core.errors import ValidationError


def _bars(*closes: float) -> pd.DataFrame:
    index = pd.date_range("2024-01-02", periods=len(closes), freq="D")
    values = np.repeat(np.asarray(closes, dtype=float)[:, None], 4, axis=1)
    return pd.DataFrame(values, columns=["open", "high", "low", "close"], index=index)


def _round_trip(model: CommissionModel, cash: float, entry: float, exit_: float) -> pd.Series:
    """Long at ``entry`` (bar 1's open), closed at ``exit_`` on the last bar."""
    result = run(_bars(entry, entry, exit_), np.array([1, 0, 0], dtype=np.int8),
                 BacktestConfig(cash=cash, commission=model))
    assert len(result.trades) == 1
    return result.trades.iloc[0]


def test_terms_cost() -> None:
    terms = CommissionTerms(fixed=1.0, per_unit=0.01, rate=0.001, minimum=2.0)
    assert terms.cost(100, 50.0) == pytest.approx(1.0 + 1.0 + 5.0)
    assert terms.cost(-10, 50.0) == 2.0  # 1 + 0.1 + 0.5 < minimum
    assert terms.cost(0, 50.0) == 0.0


def test_percent_commission() -> None:
    model = PercentCommission(0.01)
    assert isinstance(model, CommissionModel)
    assert model.terms == CommissionTerms(rate=0.01)
    trade = _round_trip(model, 10_000, 100.0, 110.0)
    # Units: 10_000 * (1 - eps) // (100 + 100 * 0.01) = 99; fees 99 on entry, 108.9 on exit.
    assert trade["size"] == 99
    assert trade["commission"] == pytest.approx(99.0 + 108.9)
    assert trade["pnl"] == pytest.approx(99 * 10 - 207.9)
    with pytest.raises(ValidationError, match="between -0.1 and 0.1"):
        PercentCommission(0.5)


def test_per_share_commission_with_minimum() -> None:
    model = PerShareCommission(per_share=0.005, minimum=1.0)
    small = _round_trip(model, 10_000, 100.0, 110.0)
    assert small["size"] == 99  # (10_000 - 1) // 100: the minimum fee is budgeted
    assert small["commission"] == 2.0  # 99 * 0.005 < 1.0 on both fills
    large = _round_trip(model, 1_000_000, 10.0, 11.0)
    assert large["size"] == 99_950  # 1_000_000 * (1 - eps) // 10.005
    assert large["commission"] == pytest.approx(2 * 99_950 * 0.005)
    with pytest.raises(ValidationError, match="per_share"):
        PerShareCommission(per_share=-1)


def test_fixed_commission_per_order() -> None:
    trade = _round_trip(FixedCommission(5.0), 1_000, 100.0, 110.0)
    assert trade["size"] == 9  # (1000 * (1 - eps) - 5) // 100
    assert trade["commission"] == 10.0
    assert trade["pnl"] == pytest.approx(9 * 10 - 10)
    with pytest.raises(ValidationError, match="fixed commission"):
        FixedCommission(float("nan"))


def test_rebates_are_allowed() -> None:
    trade = _round_trip(PercentCommission(-0.001), 10_000, 100.0, 100.0)
    assert trade["commission"] < 0 and trade["pnl"] > 0


def test_presets_and_settings() -> None:
    assert COMMISSION_PRESETS["crypto_spot_0.1pct"].terms == CommissionTerms(rate=0.001)
    assert COMMISSION_PRESETS["us_per_share"].terms == CommissionTerms(per_unit=0.005, minimum=1)
    assert resolve_commission("crypto_spot_0.1pct") is COMMISSION_PRESETS["crypto_spot_0.1pct"]
    assert resolve_commission(0.002) == PercentCommission(0.002)
    assert resolve_commission(0) == PercentCommission(0.0)
    assert resolve_commission(None).terms == CommissionTerms()
    model = FixedCommission(1.0)
    assert resolve_commission(model) is model
    with pytest.raises(ValidationError, match="unknown commission preset 'ibkr'"):
        resolve_commission("ibkr")
    with pytest.raises(ValidationError, match="commission must be"):
        resolve_commission(True)  # type: ignore[arg-type]


def test_a_custom_model_only_needs_terms() -> None:
    class HalfPercentPlusTicket:
        @property
        def terms(self) -> CommissionTerms:
            return CommissionTerms(fixed=2.0, rate=0.005)

    trade = _round_trip(HalfPercentPlusTicket(), 10_000, 100.0, 100.0)
    assert trade["commission"] == pytest.approx(2 * (2.0 + trade["size"] * 100 * 0.005))
