"""Binance spot market data over WebSocket: combined streams, SUBSCRIBE, planned reconnects.

The connection lifecycle (thread, backoff with jitter, circuit breaker, resubscription after a
reconnect, control-message rate limit, connection age, health) is the shared
:class:`~core.feeds.ws_client.WebSocketSource`; this module adds what is Binance's own: the URL,
the SUBSCRIBE/UNSUBSCRIBE frames, which symbols are Binance pairs, and the frame parser.
"""

from __future__ import annotations

import itertools
import random
import re
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import orjson

from core.errors import FeedError, UnknownSymbol
from core.feeds.binance.config import MAX_PARAMS, MAX_STREAMS, BinanceConfig
from core.feeds.binance.parsing import parse_frame
from core.feeds.ws_client import Connect, Parsed, WebSocketSource

if TYPE_CHECKING:
    from core.config import Settings

_PAIR = re.compile(r"[A-Z0-9]{2,12}")
_MIN_PAIR = 5  # a base of 1-2 characters and a quote of 3-4 (TUSDT, OPBTC); AAPL is too short


def control_frames(method: str, streams: Sequence[str], ids: Iterable[int]) -> list[str]:
    """SUBSCRIBE / UNSUBSCRIBE frames for ``streams``, at most 200 stream names each.

    Parameters
    ----------
    method
        ``"SUBSCRIBE"`` or ``"UNSUBSCRIBE"``.
    streams
        Stream names such as ``btcusdt@trade``.
    ids
        Where the request ids come from (one per frame).
    """
    return [orjson.dumps({"method": method, "params": list(streams[i:i + MAX_PARAMS]),
                          "id": ident}).decode()
            for i, ident in zip(range(0, len(streams), MAX_PARAMS), ids, strict=False)]


def merge_control_frames(frames: Sequence[str]) -> list[str]:
    """Merge consecutive frames of the same method into fewer frames (200 stream names at most).

    Binance allows five incoming messages a second, so thirty quick one-symbol subscriptions go
    out as one SUBSCRIBE instead of taking seven seconds. Order between methods is kept (a
    SUBSCRIBE then an UNSUBSCRIBE of the same stream stay two frames, in that order); a merged
    frame keeps the id of its first frame.
    """
    merged: list[dict] = []
    for frame in frames:
        msg = orjson.loads(frame)
        last = merged[-1] if merged else None
        if (last is not None and last["method"] == msg["method"]
                and msg["method"] in ("SUBSCRIBE", "UNSUBSCRIBE")
                and len(set(last["params"]) | set(msg["params"])) <= MAX_PARAMS):
            last["params"] += [p for p in msg["params"] if p not in last["params"]]
        else:
            merged.append(msg)
    return [orjson.dumps(m).decode() for m in merged]


class BinanceSource(WebSocketSource):
    """Live Binance spot trades, top of book and closed klines.

    Connects to ``{url}/stream`` and subscribes every symbol's streams with SUBSCRIBE messages,
    so a reconnect resubscribes everything through the base class. Control messages are sent at
    most 4 a second (Binance closes a connection sending more than 5, our automatic pongs
    included), and merged when several are waiting.

    Parameters
    ----------
    config
        URL, streams, connection age, backoff and breaker; defaults to :class:`BinanceConfig`.
    clock, monotonic, sleep, rng, connect, recv_timeout, connect_timeout, name
        See :class:`~core.feeds.ws_client.WebSocketSource` (injected in tests; ``name`` for a
        second Binance feed, e.g. ``data-stream.binance.vision``). ``clock`` also
        stamps bookTicker quotes, which carry no time of their own. ``connect`` defaults to
        :func:`~core.feeds.ws_transport.connect_read_ahead`.
    """

    name = "binance"
    simulated = False
    control_rate = 4

    def __init__(self, config: BinanceConfig | None = None, *,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] | None = None, rng: random.Random | None = None,
                 connect: Connect | None = None, recv_timeout: float = 0.2,
                 connect_timeout: float = 5.0, name: str | None = None,
                 min_session_s: float | None = None) -> None:
        self.config = config or BinanceConfig()
        self.max_connection_age = self.config.max_connection_age_s
        super().__init__(self.config.url, backoff=self.config.backoff,
                         breaker=self.config.breaker, clock=clock, monotonic=monotonic,
                         sleep=sleep, rng=rng, connect=connect,
                         recv_timeout=recv_timeout, connect_timeout=connect_timeout, name=name,
                         min_session_s=min_session_s)
        self._ids = itertools.count(1)
        self._micro = self.config.micro

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: object) -> BinanceSource:
        """A source configured from ``GS_BINANCE_URL`` and ``GS_RECONNECT_*``.

        ``kwargs`` go to the constructor (clock, sleep, ...).
        """
        return cls(BinanceConfig.from_settings(settings), **kwargs)  # type: ignore[arg-type]

    # --- hooks -------------------------------------------------------------------------------
    def accepts(self, symbol: str) -> bool:
        """Whether ``symbol`` looks like a Binance spot pair (a shape check; the venue decides).

        ``BTCUSDT``, ``ETHBTC``, ``1000SATSUSDT``: yes (2-12 letters or digits ending in a quote
        asset of the config). ``AAPL``, ``SPY``, ``BTC-USD`` (Binance symbols have no dash),
        ``btcusdt`` (not normalised): no.
        """
        if not isinstance(symbol, str) or _PAIR.fullmatch(symbol) is None:
            return False
        return len(symbol) >= _MIN_PAIR and any(
            symbol.endswith(q) and len(symbol) > len(q) for q in self.config.quote_assets)

    def endpoint(self, symbols: Sequence[str]) -> str:
        """``{url}/stream``: combined streams, subscribed by message after connecting."""
        return f"{self.url}/stream" + ("?timeUnit=MICROSECOND" if self._micro else "")

    def streams(self, symbols: Iterable[str]) -> list[str]:
        """Stream names for ``symbols``: ``btcusdt@trade``, ``btcusdt@bookTicker``, ..."""
        return [f"{s.lower()}@{kind}" for s in symbols for kind in self.config.streams]

    def subscribe_messages(self, symbols: Sequence[str]) -> list[str]:
        return control_frames("SUBSCRIBE", self.streams(symbols), self._ids)

    def unsubscribe_messages(self, symbols: Sequence[str]) -> list[str]:
        return control_frames("UNSUBSCRIBE", self.streams(symbols), self._ids)

    def parse(self, text: str) -> Parsed:
        return parse_frame(text, self._clock(), micro=self._micro)

    # --- Source protocol ---------------------------------------------------------------------
    def subscribe(self, symbols: Iterable[str]) -> None:
        """Add symbols; all or nothing.

        Raises
        ------
        UnknownSymbol
            For a symbol that is not a Binance spot pair.
        FeedError
            When the symbols would need more than 1,024 streams on the connection.
        """
        wanted = list(symbols)
        for symbol in wanted:
            if not self.accepts(symbol):
                raise UnknownSymbol(
                    f"Binance does not trade {symbol!r}: it lists crypto pairs such as BTCUSDT or "
                    f"ETHBTC (no dash; for BTC-USD use BTCUSDT).")
        total = len(set(self.symbols()) | set(wanted))
        if total > self.config.max_symbols:
            raise FeedError(
                f"Binance allows {MAX_STREAMS} streams a connection: {total} symbols x "
                f"{len(self.config.streams)} streams is too many; watch at most "
                f"{self.config.max_symbols} symbols or fewer streams.")
        super().subscribe(wanted)

    # --- the thread --------------------------------------------------------------------------
    def coalesce(self, frames: list[str]) -> list[str]:
        """Merge waiting SUBSCRIBE/UNSUBSCRIBE frames (Binance allows few messages a second)."""
        return merge_control_frames(frames)
