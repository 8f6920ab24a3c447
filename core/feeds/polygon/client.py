"""Polygon.io (now Massive) stocks WebSocket source: handshake, subscriptions, parsing hook.

The connection lifecycle (thread, reconnects with backoff, circuit breaker, resubscription,
health) is :class:`~core.feeds.ws_client.WebSocketSource`'s; this class adds the venue's login
(``connected`` greeting, ``auth`` with the API key) and its control frames. The API key is only
ever written to the socket: never to a message, a log line or ``repr``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import websocket

from core.config import redact_url
from core.errors import FeedError
from core.feeds.polygon.config import PolygonConfig
from core.feeds.polygon.parsing import (
    AUTH_REFUSALS,
    DISCONNECT_NOTES,
    VENUE,
    auth_message,
    is_stock_symbol,
    parse_frame,
    statuses,
    subscription_messages,
)
from core.feeds.ws_client import AuthError, Parsed, WebSocketSource, handshake_replies

log = logging.getLogger(__name__)

MISSING_KEY = (f"No {VENUE} API key: set GS_POLYGON_API_KEY (environment variable or "
               ".streamlit/secrets.toml) to stream US stocks from Polygon/Massive.")
_FRAMES_PER_STEP = 3  # frames read while waiting for one handshake status


def refused(status: str) -> str:
    """The user-facing message for a refused login (``auth_failed`` or ``auth_timeout``)."""
    return f"{VENUE} refused the API key ({status}). Check GS_POLYGON_API_KEY."


class PolygonSource(WebSocketSource):
    """US stocks and ETFs from the Polygon/Massive stocks WebSocket.

    Parameters
    ----------
    config
        Endpoint, API key, channels and reconnection policy.
    **kwargs
        Passed to :class:`~core.feeds.ws_client.WebSocketSource` (``clock``, ``monotonic``,
        ``sleep``, ``rng``, ``connect``, ``recv_timeout``, ``connect_timeout``).

    Notes
    -----
    Symbols are plain tickers (``AAPL``, ``BRK.B``); each is subscribed on every configured
    channel (``T.AAPL,Q.AAPL,AM.AAPL``). Trades become ticks, quotes quotes, ``A``/``AM``
    aggregates ``1s``/``1m`` bars.
    """

    name = "polygon"
    client_ping_s = 20.0  # Massive does not ping us: our pings tell a dead socket from a quiet one

    def __init__(self, config: PolygonConfig, **kwargs: Any) -> None:
        kwargs.setdefault("min_session_s", config.min_session_s)
        super().__init__(config.url, backoff=config.backoff, breaker=config.breaker, **kwargs)
        self.config = config

    def __repr__(self) -> str:
        return (f"PolygonSource(url={redact_url(self.url)!r}, state={self.state!r}, "
                f"channels={','.join(self.config.channels)!r})")

    # --- hooks ---------------------------------------------------------------------------------
    def accepts(self, symbol: str) -> bool:
        """US stock/ETF tickers only: no crypto pairs (``BTCUSDT``), indices or options."""
        return is_stock_symbol(symbol)

    def handshake(self, conn: websocket.WebSocket) -> None:
        """Read the ``connected`` greeting, send the API key, expect ``auth_success``.

        Raises
        ------
        AuthError
            When the key is missing or the venue answers ``auth_failed``/``auth_timeout``.
        FeedError
            When the venue says nothing in time, sends garbage or refuses the connection
            (``max_connections``).
        """
        self._session_start = None
        conn.settimeout(self.config.handshake_timeout)
        self._await(conn, "connected", "greeting")
        if not self.config.api_key:
            raise AuthError(MISSING_KEY)
        conn.send(auth_message(self.config.api_key))
        self._await(conn, "auth_success", "login")

    def subscribe_messages(self, symbols: Sequence[str]) -> list[str]:
        """``subscribe`` frames for ``symbols`` on every configured channel, chunked."""
        return subscription_messages("subscribe", list(symbols), self.config.channels,
                                     self.config.symbols_per_message)

    def unsubscribe_messages(self, symbols: Sequence[str]) -> list[str]:
        """``unsubscribe`` frames for ``symbols`` on every configured channel, chunked."""
        return subscription_messages("unsubscribe", list(symbols), self.config.channels,
                                     self.config.symbols_per_message)

    def parse(self, text: str) -> Parsed:
        """One frame -> events (see :func:`~core.feeds.polygon.parsing.parse_frame`).

        A disconnect notice soon after login is a failure with backoff: the base's
        ``min_session_s`` rule.
        """
        parsed = parse_frame(text)
        for line in parsed.info:
            log.debug("%s", line)
        return parsed

    # --- handshake helpers ---------------------------------------------------------------------
    def _await(self, conn: websocket.WebSocket, wanted: str, step: str) -> None:
        for found in handshake_replies(conn, VENUE, step, self.config.handshake_timeout,
                                       statuses, _FRAMES_PER_STEP):
            for status, message in found:
                if status == wanted:
                    return
                if status == "auth_timeout":  # we were slow, the key may be fine: back off
                    raise FeedError(f"{VENUE} timed out our login (auth_timeout); retrying.")
                if status in AUTH_REFUSALS:
                    raise AuthError(refused(status))
                if status in DISCONNECT_NOTES:
                    raise FeedError(f"{VENUE}: {DISCONNECT_NOTES[status]} ({message}).")
        raise FeedError(f"{VENUE} did not send the {wanted!r} status during the {step}.")
