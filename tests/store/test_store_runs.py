from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.store import Store, current_revision


def test_runs_round_trip_with_trades_equity_and_nan_stats(tmp_path: Path) -> None:
    from backtesting.test import GOOG

    from core.backtest import run_backtest

    run = run_backtest(GOOG.iloc[:600], "sma_cross", {"fast": 10, "slow": 30}, cash=10_000)
    with Store.open(f"sqlite:///{tmp_path / 'gs.db'}") as store:
        assert current_revision(store.engine) == "0003"
        run_id = store.runs.save("GOOG sma_cross", "sma_cross", {"cash": 10_000},
                                 run.stats, run.trades, run.equity)
        other = store.runs.save("second", "buy_and_hold", {}, {"return_pct": float("nan")},
                                run.trades.iloc[:0], run.equity)
        listed = store.runs.list()
        assert [r.id for r in listed] == [other, run_id]  # newest first
        assert listed[1].trades == run.stats["trades"] and listed[0].return_pct is None
        back = store.runs.get(run_id)
        assert back is not None and back.stats["final_equity"] == pytest.approx(
            run.stats["final_equity"], rel=1e-12)
        pd.testing.assert_series_equal(back.equity, run.equity.rename("equity"),
                                       check_freq=False, check_index_type=False,
                                       check_names=False)
        assert list(back.trades["size"]) == list(run.trades["size"])
        assert list(back.trades["entry_price"]) == pytest.approx(list(run.trades["entry_price"]))
        assert store.runs.get("nope") is None
        assert store.runs.delete(other) and not store.runs.delete(other)
