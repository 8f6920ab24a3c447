"""The strategy library: hand-checked signals, validation, no look-ahead, GOOG runs, plugins."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("backtesting")
from backtesting.test import GOOG  # noqa: E402

import core.backtest.strategies as strategies_pkg  # noqa: E402
from core.backtest import prepare_bars, run_backtest  # noqa: E402
from core.backtest.data import Bars  # noqa: E402
from core.backtest.signals import EXIT, LONG, SHORT  # noqa: E402
from core.backtest.strategies import STRATEGIES, load_plugins  # noqa: E402
from core.backtest.strategies.base import unregister  # noqa: E402
from core.backtest.strategies.pairs import rolling_beta  # noqa: E402
from core.backtest.timeframes import higher_timeframe  # noqa: E402
from core.errors import ValidationError  # noqa: E402

LIBRARY = ("ema_cross", "macd_cross", "rsi", "mean_reversion", "bollinger", "donchian",
           "pairs", "mtf_trend")
REPO_PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


def make_bars(close: list[float], high: list[float] | None = None,
              low: list[float] | None = None) -> Bars:
    """Daily bars with the given closes (High = Low = Close unless given)."""
    c = np.asarray(close, dtype=float)
    index = pd.date_range("2024-01-01", periods=len(c), freq="D")
    h = c if high is None else np.asarray(high, dtype=float)
    lo = c if low is None else np.asarray(low, dtype=float)
    return Bars(index=index, open=c.copy(), high=h, low=lo, close=c)


def events(codes: np.ndarray) -> dict[str, list[int]]:
    """Bar numbers of each non-hold code."""
    return {label: np.flatnonzero(codes == code).tolist()
            for label, code in (("long", LONG), ("short", SHORT), ("exit", EXIT))}


def pair_series(n: int = 400, seed: int = 7, shock_at: int | None = None) -> tuple[
        pd.DataFrame, pd.Series]:
    """Leg A bars and leg B closes, cointegrated: ``A = 5 + 2 B + AR(1) noise``."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2020-01-01", periods=n, freq="D")
    b = 50 + np.cumsum(rng.normal(0, 1, n))
    noise = np.zeros(n)
    for i in range(1, n):
        noise[i] = 0.5 * noise[i - 1] + rng.normal(0, 0.3)
    a = 5 + 2 * b + noise
    if shock_at is not None:
        a[shock_at:shock_at + 3] += 6.0
    frame = pd.DataFrame({"Open": a, "High": a + 0.5, "Low": a - 0.5, "Close": a}, index=index)
    return frame, pd.Series(b, index=index, name="close_b")


# --- hand-made series, exact events ----------------------------------------------------------

def test_ema_cross_events() -> None:
    bars = make_bars([5, 5, 5, 5, 1, 1, 1, 9, 9, 9, 1, 1, 1])
    # The first drop starts from equal averages, so it is no strict cross; the rise and the
    # second drop are.
    assert events(STRATEGIES["ema_cross"](fast=2, slow=4).signals(bars)) == {
        "long": [7], "short": [10], "exit": []}
    assert events(STRATEGIES["ema_cross"](fast=2, slow=4, long_only=True).signals(bars)) == {
        "long": [7], "short": [], "exit": [10]}


def test_macd_cross_events() -> None:
    bars = make_bars([10] * 6 + [8, 6, 4, 2, 2, 3, 5, 7, 9, 9, 9, 7, 5, 3])
    codes = STRATEGIES["macd_cross"](fast=2, slow=4, signal=2).signals(bars)
    # MACD turns up through its signal line just after the bottom, down as the top flattens.
    assert events(codes) == {"long": [10], "short": [15], "exit": []}
    close = pd.Series(bars.close)
    line = (close.ewm(span=2, adjust=False, min_periods=2).mean()
            - close.ewm(span=4, adjust=False, min_periods=4).mean())
    signal = line.ewm(span=2, adjust=False, min_periods=2).mean()
    diff = (line - signal).to_numpy()
    assert diff[9] < 0 < diff[10] and diff[14] > 0 > diff[15]


def test_rsi_events() -> None:
    bars = make_bars([10, 11, 12, 11, 10, 9, 10, 11, 12, 13])
    # Wilder RSI(2): 100, 50, 25, 12.5, 56.25, 78.1, 89.1, 94.5 from bar 2.
    assert events(STRATEGIES["rsi"](period=2).signals(bars)) == {
        "long": [4], "short": [], "exit": [2, 7]}
    assert events(STRATEGIES["rsi"](period=2, long_only=False).signals(bars)) == {
        "long": [4], "short": [2, 7], "exit": []}


ZIGZAG = [10, 10, 10, 10, 7, 10, 10, 10, 13, 10, 10]
"""z over 3 bars: -1.41 at bar 4, +0.71 at 5-6, NaN at 7 (flat), +1.41 at 8, -0.71 at 9-10."""


def test_mean_reversion_events() -> None:
    bars = make_bars(ZIGZAG)
    cls = STRATEGIES["mean_reversion"]
    assert events(cls(lookback=3, entry_z=1.2, exit_z=0.8).signals(bars)) == {
        "long": [4], "short": [8], "exit": [5, 9]}
    assert events(cls(lookback=3, entry_z=1.2, exit_z=0.8, long_only=True).signals(bars)) == {
        "long": [4], "short": [], "exit": [5, 8, 9]}
    assert events(cls(lookback=3, entry_z=1.2, exit_z=0.5).signals(bars)) == {
        "long": [4], "short": [8], "exit": []}


def test_bollinger_events() -> None:
    bars = make_bars(ZIGZAG)
    # Lower band broken at 4, middle crossed up at 5; upper broken at 8, middle crossed down at 9.
    assert events(STRATEGIES["bollinger"](period=3, width=1.2).signals(bars)) == {
        "long": [4], "short": [8], "exit": [5, 9]}


def test_donchian_events() -> None:
    bars = make_bars([10, 10, 10, 10, 11, 12, 11, 10, 9, 8, 9, 10, 11, 12])
    cls = STRATEGIES["donchian"]
    # Break above the 4-bar high at 4 and 12; below the 4-bar low at 8; a close below the 2-bar
    # low exits the long at 7; a close above the 2-bar high exits the short at 11.
    assert events(cls(entry=4, exit=2).signals(bars)) == {
        "long": [4, 12], "short": [8], "exit": [7, 11]}
    assert events(cls(entry=4, exit=2, long_only=True).signals(bars)) == {
        "long": [4, 12], "short": [], "exit": [7]}
    # A filter of 5 ATRs rejects breakouts of one point on one-point true ranges.
    assert events(cls(entry=4, exit=2, atr_period=2, atr_filter=5.0).signals(bars)) == {
        "long": [], "short": [], "exit": []}


def test_pairs_on_cointegrated_data() -> None:
    frame, other = pair_series(shock_at=300)
    alpha, beta = rolling_beta(frame["Close"].to_numpy(), other.to_numpy(), 60)
    assert np.nanmedian(beta) == pytest.approx(2.0, abs=0.05)
    assert np.nanmedian(alpha) == pytest.approx(5.0, abs=3.0)
    strategy = STRATEGIES["pairs"](other=other, lookback=60, z_lookback=20, entry_z=2.5,
                                   exit_z=0.5)
    codes = strategy.signals(prepare_bars(frame))
    assert codes[:60].tolist() == [0] * 60  # warm-up
    assert codes[300] == SHORT  # A jumps 6 above its hedge: sell A
    exits = np.flatnonzero(codes == EXIT)
    assert exits[exits > 300].size and exits[exits > 300][0] <= 330
    # B as a DataFrame or an aligned array gives the same; B with gaps is carried forward.
    same = STRATEGIES["pairs"](other=other.to_frame("Close"), lookback=60, z_lookback=20,
                               entry_z=2.5, exit_z=0.5).signals(prepare_bars(frame))
    assert np.array_equal(same, codes)
    same = STRATEGIES["pairs"](other=other.to_numpy(), lookback=60, z_lookback=20, entry_z=2.5,
                               exit_z=0.5).signals(prepare_bars(frame))
    assert np.array_equal(same, codes)


def test_pairs_needs_the_other_leg() -> None:
    frame, other = pair_series(n=100)
    with pytest.raises(ValidationError, match="other .* is required"):
        STRATEGIES["pairs"]().signals(prepare_bars(frame))
    with pytest.raises(ValidationError, match="other must have one value per bar"):
        STRATEGIES["pairs"](other=np.ones(5)).signals(prepare_bars(frame))
    with pytest.raises(ValidationError, match="other must have a Close column"):
        STRATEGIES["pairs"](other=pd.DataFrame({"x": other})).signals(prepare_bars(frame))
    assert dict(STRATEGIES["pairs"].validate({"other": other})) == dict(
        STRATEGIES["pairs"].validate())


def test_mtf_trend_only_trades_with_the_weekly_trend() -> None:
    bars = prepare_bars(GOOG)
    mtf = STRATEGIES["mtf_trend"]()
    base = STRATEGIES["sma_cross"]().signals(bars)
    codes = mtf.signals(bars)
    trend = mtf.trend_direction(bars)
    assert set(np.flatnonzero(codes == LONG)) == set(np.flatnonzero((base == LONG) & (trend > 0)))
    assert set(np.flatnonzero(codes == SHORT)) == set(
        np.flatnonzero((base == SHORT) & (trend < 0)))
    assert ((codes != 0) == (base != 0)).all()
    weeks_closed = higher_timeframe(GOOG, "W-FRI")["period"].rank(method="dense").fillna(0)
    assert (trend[weeks_closed.to_numpy() < 10] == 0).all()  # no trend before ten weeks closed
    assert trend[np.argmax(weeks_closed.to_numpy() >= 10)] != 0
    assert (trend > 0).any() and (trend < 0).any()


# --- validation ------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "params", "message"), [
    ("ema_cross", {"fast": 20, "slow": 20}, "slow must be greater than fast"),
    ("macd_cross", {"fast": 30, "slow": 26}, "slow must be greater than fast"),
    ("macd_cross", {"signal": 0}, "signal must be at least 1"),
    ("rsi", {"oversold": 70, "overbought": 70}, "oversold must be less than overbought"),
    ("rsi", {"overbought": 120}, "overbought must be at most 100"),
    ("mean_reversion", {"entry_z": 0.5, "exit_z": 0.5}, "entry_z must be greater than exit_z"),
    ("mean_reversion", {"lookback": 1}, "lookback must be at least 2"),
    ("bollinger", {"width": -1.0}, "width must be at least 0"),
    ("donchian", {"entry": 10, "exit": 20}, "exit must be at most entry"),
    ("donchian", {"atr_filter": "big"}, "atr_filter must be a number"),
    ("pairs", {"entry_z": 1.0, "exit_z": 2.0}, "entry_z must be greater than exit_z"),
    ("mtf_trend", {"fast": 40, "slow": 30}, "slow must be greater than fast"),
    ("mtf_trend", {"trend": 0}, "trend must be at least 1"),
])
def test_validation_names_the_field(name: str, params: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=f"{name}: {message}"):
        STRATEGIES[name](**params)


# --- GOOG end to end and no look-ahead -------------------------------------------------------

def _goog_params(name: str) -> dict:
    if name == "pairs":
        rng = np.random.default_rng(3)
        noise = np.cumsum(rng.normal(0, 1, len(GOOG))) * 0.1 + rng.normal(0, 4, len(GOOG))
        other = pd.Series((GOOG["Close"].to_numpy() - 20 + noise) / 2, index=GOOG.index)
        return {"other": other}
    return {}


@pytest.mark.parametrize("name", LIBRARY)
def test_runs_on_goog_with_trades(name: str) -> None:
    result = run_backtest(GOOG, name, _goog_params(name))
    assert len(result.trades) >= 1
    assert result.stats["trades"] == len(result.trades)
    pickle.loads(pickle.dumps(result))


def _mutate_after(frame: pd.DataFrame, k: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = frame.copy()
    factor = rng.uniform(0.5, 1.5, len(frame) - k - 1)
    for col in ("Open", "High", "Low", "Close"):
        out.iloc[k + 1:, out.columns.get_loc(col)] *= factor
    return out


@pytest.mark.parametrize("name", LIBRARY)
def test_future_bars_never_change_past_signals(name: str) -> None:
    params = _goog_params(name)
    codes = STRATEGIES[name](**params).signals(prepare_bars(GOOG))
    for seed, k in enumerate((200, 700, 1500)):
        changed = dict(params)
        if "other" in changed:
            other = changed["other"].copy()
            other.iloc[k + 1:] *= np.random.default_rng(seed).uniform(0.5, 1.5, len(other) - k - 1)
            changed["other"] = other
        mutated = STRATEGIES[name](**changed).signals(prepare_bars(_mutate_after(GOOG, k, seed)))
        assert np.array_equal(mutated[:k + 1], codes[:k + 1]), f"{name} looked past bar {k}"
        assert not np.array_equal(mutated, codes)  # the mutation did reach the strategy


# --- plugins ---------------------------------------------------------------------------------

@pytest.fixture
def clean_registry():
    before = set(STRATEGIES)
    yield
    for name in set(STRATEGIES) - before - {"example_momentum"}:
        unregister(name)
        STRATEGIES.pop(name, None)


def test_example_plugin_loads_and_runs() -> None:
    assert load_plugins(REPO_PLUGINS) == ["example_momentum"]
    assert load_plugins(REPO_PLUGINS) == ["example_momentum"]  # idempotent
    cls = STRATEGIES["example_momentum"]
    assert cls.title and cls.__doc__ and all(spec.help for spec in cls.params)
    bars = make_bars([10, 10, 11, 12, 11, 10, 9, 10, 12])
    # lookback 2: momentum from bar 2 is +.1, +.2, 0, -.17, -.18, 0, +.33
    assert events(cls(lookback=2).signals(bars)) == {"long": [2, 8], "short": [], "exit": [5]}
    assert events(cls(lookback=2, threshold=0.15, long_only=False).signals(bars)) == {
        "long": [3, 8], "short": [5], "exit": []}
    result = run_backtest(GOOG, "example_momentum", {"lookback": 60, "threshold": 0.05})
    assert len(result.trades) >= 1 and (result.trades["size"] > 0).all()
    pickle.loads(pickle.dumps(result))


def test_plugin_errors_name_the_file_and_never_crash(tmp_path: Path, clean_registry) -> None:
    (tmp_path / "good.py").write_text(
        "from core.backtest.strategies import Strategy\n"
        "import numpy as np\n"
        "class Good(Strategy):\n"
        "    '''Always flat.'''\n"
        "    name = 'tmp_good_plugin'\n"
        "    title = 'Good'\n"
        "    def signals(self, bars):\n"
        "        return np.zeros(len(bars), dtype=np.int8)\n")
    (tmp_path / "broken.py").write_text("def oops(:\n")
    (tmp_path / "clash.py").write_text(
        "from core.backtest.strategies import Strategy\n"
        "class A(Strategy):\n"
        "    name = 'tmp_clash_first'\n"
        "    def signals(self, bars): ...\n"
        "class B(Strategy):\n"
        "    name = 'sma_cross'\n"
        "    def signals(self, bars): ...\n")
    (tmp_path / "_private.py").write_text("raise RuntimeError('never imported')\n")
    assert load_plugins(tmp_path) == ["tmp_good_plugin"]
    assert "tmp_good_plugin" in STRATEGIES
    errors = {Path(path).name: message for path, message in strategies_pkg.PLUGIN_ERRORS.items()}
    assert "plugin broken.py failed to load: SyntaxError" in errors["broken.py"]
    assert "plugin clash.py failed to load: TypeError" in errors["clash.py"]
    assert "sma_cross" in errors["clash.py"]
    assert "tmp_clash_first" not in STRATEGIES  # a failing file registers nothing
    assert STRATEGIES["sma_cross"].__module__ == "core.backtest.strategies.sma_cross"
    with pytest.raises(ValidationError, match="plugin broken.py failed to load"):
        load_plugins(tmp_path, strict=True)
    assert load_plugins(tmp_path / "missing") == []


def test_plugins_dir_from_environment(tmp_path: Path, monkeypatch, clean_registry) -> None:
    (tmp_path / "envplug.py").write_text(
        "from core.backtest.strategies import Strategy\n"
        "import numpy as np\n"
        "class EnvPlug(Strategy):\n"
        "    '''Always flat.'''\n"
        "    name = 'tmp_env_plugin'\n"
        "    title = 'Env'\n"
        "    def signals(self, bars):\n"
        "        return np.zeros(len(bars), dtype=np.int8)\n")
    monkeypatch.setenv("GS_PLUGINS_DIR", str(tmp_path))
    assert strategies_pkg.plugins_dir() == tmp_path
    assert load_plugins() == ["tmp_env_plugin"]
    monkeypatch.delenv("GS_PLUGINS_DIR")
    assert strategies_pkg.plugins_dir() == REPO_PLUGINS
