"""Pure functions between yfinance's DataFrames and the domain objects.

Nothing here does I/O or reads a clock: the client passes ``now`` in. The shapes handled are the
ones yfinance 1.x returns:

- ``Ticker.history`` -> flat columns ``Open, High, Low, Close, [Adj Close], Volume, [Dividends,
  Stock Splits]``, a DatetimeIndex in the exchange's time zone (``Datetime`` intraday, ``Date``
  daily).
- ``yf.download`` -> MultiIndex columns, ``(Ticker, Price)`` with ``group_by="ticker"`` or
  ``(Price, Ticker)`` by default, even for one ticker; daily frames may have a naive index.
- ``Ticker.option_chain(date)`` -> ``calls`` and ``puts`` frames with the columns in
  :data:`CHAIN_COLUMNS`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta

import pandas as pd

from core.errors import DataError, InvalidSymbol, ValidationError
from core.models import Bar, OptionQuote, Tick
from core.symbols import OCC_RE, is_valid_symbol
from core.timeframes import TIMEFRAMES, bucket_start, utc_from_epoch

SOURCE = "yahoo"

YF_INTERVALS = ("1m", "2m", "5m", "15m", "30m", "60m", "90m", "1h",
                "1d", "5d", "1wk", "1mo", "3mo")
"""Every bar interval yfinance's ``history``/``download`` accept."""

TIMEFRAME_INTERVALS = {"1m": "1m", "5m": "5m", "15m": "15m", "1h": "1h", "1d": "1d"}
"""Our timeframes Yahoo serves (``1s`` is not one of them)."""

INTRADAY_RETENTION = {
    "1m": timedelta(days=30), "2m": timedelta(days=60), "5m": timedelta(days=60),
    "15m": timedelta(days=60), "30m": timedelta(days=60), "60m": timedelta(days=730),
    "90m": timedelta(days=60), "1h": timedelta(days=730),
}
"""How far back Yahoo keeps intraday bars (start must be newer than ``now`` minus this)."""

MAX_SPAN = {"1m": timedelta(days=7)}
"""Longest range one request may cover (Yahoo refuses more than 8 days of 1m bars)."""

BARS_PER_SESSION = {"1m": 390, "5m": 78, "15m": 26, "1h": 7, "1d": 1}
"""Bars in one US regular session (6.5 h): sizes a request for equities; crypto needs less."""

PERIOD_RE = re.compile(r"^(?:[1-9]\d*(?:d|wk|mo|y)|ytd|max)$")
"""Periods yfinance accepts: ``1d, 5d, 1mo, 3mo, 6mo, 1y, 2y, 5y, 10y, ytd, max`` and the like."""

CHAIN_COLUMNS = ("contractSymbol", "lastTradeDate", "strike", "lastPrice", "bid", "ask", "change",
                 "percentChange", "volume", "openInterest", "impliedVolatility", "inTheMoney",
                 "contractSize", "currency")
"""Columns of ``Ticker.option_chain(date).calls`` / ``.puts``."""

_CHAIN_NEEDED = ("contractSymbol", "strike", "lastPrice", "bid", "ask", "volume", "openInterest",
                 "impliedVolatility")
_OHLCV = ("open", "high", "low", "close", "volume")
_STABLE_QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "TUSD")  # dollar stablecoins, as in core.symbols
_DASH_CRYPTO = re.compile(r"^[A-Z0-9]{2,10}-(?:USD|EUR|BTC|ETH)$")
_SHARE_CLASS = re.compile(r"^([A-Z][A-Z0-9]*)[.\-]([A-Z])$")


# --- symbols -------------------------------------------------------------------------------------

def to_yahoo(symbol: str) -> str:
    """Our symbol -> the Yahoo ticker.

    Parameters
    ----------
    symbol
        A normalised symbol (:func:`core.symbols.normalize_symbol`).

    Returns
    -------
    str
        Crypto pairs quoted in a US-dollar stablecoin become Yahoo's dollar pair
        (``BTCUSDT -> BTC-USD``); a one-letter share class takes a dash (``BRK.B -> BRK-B``);
        indices (``^GSPC``), dashed pairs (``BTC-USD``), exchange suffixes of two letters or more
        (``SAP.DE``) and OCC options are unchanged.

    Raises
    ------
    InvalidSymbol
        When ``symbol`` is not a valid symbol.
    """
    if not is_valid_symbol(symbol):
        raise InvalidSymbol(f"{symbol!r} is not a valid symbol, so Yahoo cannot be asked for it.")
    if symbol.startswith("^") or OCC_RE.match(symbol) or _DASH_CRYPTO.match(symbol):
        return symbol
    for quote in _STABLE_QUOTES:
        base = symbol[: -len(quote)]
        if symbol.endswith(quote) and len(base) >= 2 and base.isalnum():
            return f"{base}-USD"
    m = _SHARE_CLASS.match(symbol)
    if m:
        return f"{m[1]}-{m[2]}"
    return symbol


def from_yahoo(ticker: str) -> str:
    """A Yahoo ticker -> our canonical symbol (the inverse of :func:`to_yahoo`).

    ``BTC-USD -> BTCUSDT``, ``BRK-B -> BRK.B``; other dashed crypto pairs (``ETH-BTC``), indices
    and tickers with longer suffixes stay as they are. The client maps answers back through its
    own subscription table, so a user who subscribed ``BTC-USD`` gets ``BTC-USD`` back.

    Raises
    ------
    InvalidSymbol
        For Yahoo-only shapes our symbols cannot express (``ES=F``, ``EURUSD=X``).
    """
    text = ticker.strip().upper()
    if text.endswith("-USD") and _DASH_CRYPTO.match(text):
        text = text[: -len("-USD")] + "USDT"
    else:
        m = _SHARE_CLASS.match(text)
        if m:
            text = f"{m[1]}.{m[2]}"
    if not is_valid_symbol(text):
        raise InvalidSymbol(f"Yahoo ticker {ticker!r} has no equivalent symbol here.")
    return text


# --- frames --------------------------------------------------------------------------------------

def select_ticker(frame: pd.DataFrame, ticker: str | None = None) -> pd.DataFrame:
    """The flat ``Open/High/...`` frame of one ticker, from any yfinance column layout.

    Parameters
    ----------
    frame
        A ``Ticker.history`` frame (flat columns) or a ``yf.download`` frame (MultiIndex columns
        in either order).
    ticker
        Yahoo ticker to take from a MultiIndex frame; may be omitted when it holds one ticker.

    Returns
    -------
    pandas.DataFrame
        A flat frame; empty (no rows, no columns) when the ticker is absent.

    Raises
    ------
    DataError
        When the frame has several tickers and ``ticker`` is None.
    """
    if not isinstance(frame.columns, pd.MultiIndex):
        return frame
    levels = [list(dict.fromkeys(str(v) for v in frame.columns.get_level_values(i)))
              for i in range(frame.columns.nlevels)]
    price_level = next((i for i, names in enumerate(levels)
                        if any(n.lower() == "close" for n in names)), 1)
    ticker_level = 1 - price_level if frame.columns.nlevels == 2 else 0
    names = levels[ticker_level]
    if ticker is None:
        if len(names) != 1:
            raise DataError(f"This frame holds {len(names)} tickers ({', '.join(names)}); "
                            "say which one to read.")
        ticker = names[0]
    if ticker not in names:
        return pd.DataFrame()
    return frame.xs(ticker, axis=1, level=ticker_level)


def clean_ohlcv(frame: pd.DataFrame, ticker: str | None = None,
                interval: str | None = None) -> pd.DataFrame:
    """A yfinance price frame as float ``open, high, low, close, volume`` on a UTC index.

    Parameters
    ----------
    frame
        Any layout :func:`select_ticker` reads. A naive index is taken as UTC (``yf.download``
        drops the zone of daily bars).
    ticker
        Which ticker to read from a multi-ticker frame.
    interval
        The frame's bar interval. Bars of a day or longer are stamped at UTC midnight of their
        session date (Yahoo stamps them at the exchange's local midnight, 05:00 UTC for New York),
        which matches the UTC day buckets of live candles. Intraday bars keep Yahoo's start
        (hourly US equity bars start at hh:30, not on the hour).

    Returns
    -------
    pandas.DataFrame
        Index ``start`` (tz-aware UTC, sorted, no duplicates, last row wins); rows without a
        finite positive close are dropped (yfinance pads the missing bars of one ticker with NaN
        when several are downloaded together); a missing volume is 0. May be empty.

    Raises
    ------
    DataError
        When a price column is missing or the index is not made of times.
    """
    flat = select_ticker(frame, ticker)
    if len(flat.columns) == 0:
        return _empty_ohlcv()
    columns = {str(c).strip().lower(): c for c in flat.columns}
    missing = [c for c in _OHLCV[:4] if c not in columns]
    if missing:
        raise DataError(f"Yahoo price frame lacks {', '.join(missing)} "
                        f"(columns: {', '.join(map(str, flat.columns))}).")
    out = pd.DataFrame({c: pd.to_numeric(flat[columns[c]], errors="coerce").astype("float64")
                        for c in _OHLCV if c in columns})
    if "volume" not in out:
        out["volume"] = 0.0
    out["volume"] = out["volume"].fillna(0.0).clip(lower=0.0)
    out.index = _utc_index(flat.index, daily=interval is not None and interval[-1] not in "mh")
    out = out[out["close"].gt(0) & out["close"].lt(math.inf)]
    return out[~out.index.duplicated(keep="last")].sort_index()


def _utc_index(index: pd.Index, daily: bool) -> pd.DatetimeIndex:
    if len(index) == 0:
        return pd.DatetimeIndex([], tz="UTC", name="start")
    try:
        times = pd.DatetimeIndex(index)
    except (TypeError, ValueError) as exc:
        raise DataError(f"Yahoo price frame has an index of {index.dtype}, not times.") from exc
    if daily:  # the local session date, at UTC midnight
        times = pd.DatetimeIndex(times.tz_localize(None).normalize() if times.tz is not None
                                 else times.normalize())
    times = times.tz_localize("UTC") if times.tz is None else times.tz_convert("UTC")
    return times.as_unit("us").rename("start")


def _empty_ohlcv() -> pd.DataFrame:
    index = pd.DatetimeIndex([], tz="UTC", name="start")
    return pd.DataFrame({c: pd.Series(dtype="float64") for c in _OHLCV}, index=index)


def last_tick(frame: pd.DataFrame, symbol: str, source: str = SOURCE) -> Tick | None:
    """The latest price of a cleaned frame as a Tick (``None`` when the frame is empty).

    The tick's time is the start of the latest bar (the time Yahoo gives it), its price the bar's
    close and its size the bar's volume so far (0 when Yahoo has none).
    """
    if frame.empty:
        return None
    ts, row = frame.index[-1], frame.iloc[-1]
    volume = float(row["volume"])
    return Tick(symbol, ts.to_pydatetime(), float(row["close"]),
                volume if math.isfinite(volume) and volume > 0 else 0.0, source=source)


def frame_to_bars(frame: pd.DataFrame, symbol: str, timeframe: str,
                  source: str = SOURCE) -> list[Bar]:
    """Rows of a cleaned frame (:func:`clean_ohlcv`) as Bars, oldest first.

    Rows with a missing or non-positive open, high or low are skipped; a high or low that does
    not contain the open and close (a Yahoo glitch seen on the bar in progress) is widened to do
    so, since :class:`~core.models.Bar` refuses such a bar.
    """
    if timeframe not in TIMEFRAMES:
        raise ValidationError(
            f"Unknown timeframe {timeframe!r}; use one of {', '.join(TIMEFRAMES)}.")
    bars = []
    for ts, o, h, lo, c, v in zip(frame.index, frame["open"], frame["high"], frame["low"],
                                  frame["close"], frame["volume"], strict=True):
        if not all(math.isfinite(x) and x > 0 for x in (o, h, lo, c)):
            continue
        bars.append(Bar(symbol, timeframe, ts.to_pydatetime(), float(o), float(max(h, o, c)),
                        float(min(lo, o, c)), float(c), float(v), source))
    return bars


def history_window(timeframe: str, end: datetime, count: int, now: datetime
                   ) -> tuple[str, datetime, datetime]:
    """The yfinance interval and ``[start, end)`` that hold ``count`` bars before ``end``'s bucket.

    Parameters
    ----------
    timeframe
        One of :data:`TIMEFRAME_INTERVALS`.
    end
        Bars must start before the bucket holding ``end``; tz-aware.
    count
        Bars wanted, >= 1.
    now
        The current time: Yahoo's retention limits count back from it.

    Returns
    -------
    tuple
        ``(interval, start, stop)``. The span assumes US equity sessions (6.5 h a day, five days a
        week, plus four days for holidays), so crypto gets more bars than needed and the caller
        keeps the last ``count``. It is cut to Yahoo's limits (1m: 7 days a request and 30 days
        back; 5m/15m: 60 days; 1h: 730 days), so fewer bars may come back.
    """
    interval = TIMEFRAME_INTERVALS[timeframe]
    seconds = TIMEFRAMES[timeframe]
    stop = utc_from_epoch(bucket_start(end.timestamp(), seconds))
    sessions = -(-count // BARS_PER_SESSION[timeframe])
    span = timedelta(days=-(-sessions * 7 // 5) + 4)
    if interval in MAX_SPAN:
        span = min(span, MAX_SPAN[interval])
    start = stop - span
    if interval in INTRADAY_RETENTION:
        start = max(start, now - INTRADAY_RETENTION[interval] + timedelta(hours=1))
    return interval, start, stop


# --- options -------------------------------------------------------------------------------------

def parse_expiries(values: Iterable[str]) -> list[date]:
    """``Ticker.options`` (``YYYY-MM-DD`` strings) as sorted dates.

    Raises
    ------
    DataError
        When a value is not a ``YYYY-MM-DD`` date.
    """
    out = set()
    for value in values:
        try:
            out.add(date.fromisoformat(str(value)))
        except ValueError:
            raise DataError(
                f"Yahoo sent {value!r} as an option expiry; expected YYYY-MM-DD.") from None
    return sorted(out)


def _number(value: object) -> float | None:
    """A finite float, or None for NaN, None, text and infinities."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def chain_to_quotes(calls: pd.DataFrame | None, puts: pd.DataFrame | None, underlying: str,
                    expiry: date | None, now: datetime,
                    source: str = SOURCE) -> list[OptionQuote]:
    """Yahoo's calls and puts frames as OptionQuotes (calls first, each by strike).

    Parameters
    ----------
    calls, puts
        ``Ticker.option_chain(date).calls`` / ``.puts`` (None or empty: no contracts).
    underlying
        Our symbol of the underlying (``BRK.B``, not ``BRK-B``).
    expiry
        The chain's expiry; None takes each contract's expiry from its OCC symbol.
    now
        Time of the snapshot (the quotes' ``ts``); bid and ask are current, ``lastTradeDate``
        only dates the last price.
    source
        Value of the quotes' ``source`` field.

    Returns
    -------
    list[OptionQuote]
        NaN bid/ask/last/implied vol become None and NaN volume/open interest 0 (Yahoo leaves
        them empty for contracts that did not trade). A crossed bid/ask (bid above ask, stale
        quotes) is dropped to None so the contract still shows its last, volume and open
        interest.

    Raises
    ------
    DataError
        When a frame lacks a needed column, or a row has a contract symbol that is not OCC, a
        strike that is not positive, or an expiry that disagrees with ``expiry``; the message
        names the contract.
    """
    out: list[OptionQuote] = []
    for right, frame in (("C", calls), ("P", puts)):
        if frame is None or frame.empty:
            continue
        missing = [c for c in _CHAIN_NEEDED if c not in frame.columns]
        if missing:
            raise DataError(f"Yahoo option chain for {underlying} lacks {', '.join(missing)}.")
        rows = frame.sort_values("strike", kind="stable")
        for row in rows[list(_CHAIN_NEEDED)].itertuples(index=False):
            out.append(_option_quote(row, right, underlying, expiry, now, source))
    return out


def _option_quote(row: tuple, right: str, underlying: str, expiry: date | None, now: datetime,
                  source: str) -> OptionQuote:
    contract, strike, last, bid, ask, volume, oi, iv = row
    contract = str(contract).strip().upper()
    m = OCC_RE.match(contract)
    if m is None or m["right"] != right:
        raise DataError(f"Yahoo option {contract!r} ({right}) is not an OCC symbol such as "
                        "AAPL240119C00150000.")
    listed = datetime.strptime(m["expiry"], "%y%m%d").date()
    if expiry is not None and listed != expiry:
        raise DataError(f"Yahoo option {contract} expires {listed}, not {expiry}.")
    strike_value = _number(strike)
    if strike_value is None or strike_value <= 0:
        raise DataError(f"Yahoo option {contract} has strike {strike!r}.")
    bid_v, ask_v = _number(bid), _number(ask)
    if bid_v is not None and ask_v is not None and bid_v > ask_v > 0:
        bid_v = ask_v = None
    try:
        return OptionQuote(contract, underlying, listed, right, strike_value, now, bid=bid_v,
                           ask=ask_v, last=_number(last), volume=_number(volume) or 0.0,
                           open_interest=_number(oi) or 0.0, implied_vol=_number(iv),
                           source=source)
    except ValidationError as exc:
        raise DataError(f"Yahoo option {contract}: {exc}") from None
