"""Alpaca market data v2 WebSocket source: handshake, subscriptions, parsing hook.

The connection lifecycle (thread, reconnects with backoff, circuit breaker, resubscription,
health) is :class:`~core.feeds.ws_client.WebSocketSource`'s; this class adds the venue's login
(``connected`` greeting, ``auth`` with key and secret) and its control frames. The key and secret
are only ever written to the socket: never to a message, a log line or ``repr``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import websocket

from core.config import redact_url
from core.errors import FeedError
from core.feeds.alpaca.config import AlpacaConfig
from core.feeds.alpaca.parsing import (
    ERROR_MEANINGS,
    TEST_SYMBOL,
    VENUE,
    auth_message,
    control_messages,
    error_text,
    is_stock_symbol,
    parse_frame,
    subscription_messages,
)
from core.feeds.ws_client import AuthError, Parsed, WebSocketSource, handshake_replies

log = logging.getLogger(__name__)

MISSING_CREDENTIALS = (f"No {VENUE} credentials: set GS_ALPACA_KEY and GS_ALPACA_SECRET "
                       "(environment variables or .streamlit/secrets.toml) to stream US stocks "
                       "from Alpaca.")
_FRAMES_PER_STEP = 3  # frames read while waiting for one handshake reply


def login_error(code: object, msg: str) -> FeedError:
    """The exception for an ``error`` reply during the login; never holds a credential.

    Only a credential or plan problem (401 not authenticated, 402 auth failed, 409 insufficient
    subscription) is an :class:`AuthError`, which takes the source down at once; anything else
    (406 connection limit, 404 auth timeout, 500 internal error...) is a :class:`FeedError`
    retried with backoff.
    """
    if code not in (401, 402, 409):
        return FeedError(error_text(code, msg))
    meaning = ERROR_MEANINGS.get(code, msg or "unknown error") if isinstance(code, int) else msg
    hint = ""
    if code == 409:
        hint = " The account does not include this feed: use the v2/iex URL or upgrade the plan."
    return AuthError(f"{VENUE} refused the login (error {code}: {meaning}). Check GS_ALPACA_KEY "
                     f"and GS_ALPACA_SECRET.{hint}")


class AlpacaSource(WebSocketSource):
    """US stocks and ETFs from the Alpaca market data v2 WebSocket (IEX, SIP or test feed).

    Parameters
    ----------
    config
        Endpoint, credentials, channels and reconnection policy.
    **kwargs
        Passed to :class:`~core.feeds.ws_client.WebSocketSource` (``clock``, ``monotonic``,
        ``sleep``, ``rng``, ``connect``, ``recv_timeout``, ``connect_timeout``).

    Notes
    -----
    Each symbol goes into every configured list (``trades``, ``quotes``, ``bars``). Trades become
    ticks, quotes quotes and bars ``1m`` bars.
    """

    name = "alpaca"
    client_ping_s = 20.0  # Alpaca does not ping us: our pings tell a dead socket from a quiet one

    def __init__(self, config: AlpacaConfig, **kwargs: Any) -> None:
        super().__init__(config.url, backoff=config.backoff, breaker=config.breaker, **kwargs)
        self.config = config
        self._test_feed = urlsplit(config.url).path.rstrip("/").endswith("/test")

    def __repr__(self) -> str:
        return (f"AlpacaSource(url={redact_url(self.url)!r}, state={self.state!r}, "
                f"channels={','.join(self.config.channels)!r})")

    # --- hooks ---------------------------------------------------------------------------------
    def accepts(self, symbol: str) -> bool:
        """US stock/ETF tickers only (plus ``FAKEPACA`` on the test feed); no crypto pairs."""
        return is_stock_symbol(symbol) or (self._test_feed and symbol == TEST_SYMBOL)

    def handshake(self, conn: websocket.WebSocket) -> None:
        """Read the ``connected`` greeting, send key and secret, expect ``authenticated``.

        Raises
        ------
        AuthError
            When the credentials are missing or refused (402 and the other login errors).
        FeedError
            On a connection limit (406), silence or garbage.
        """
        conn.settimeout(self.config.handshake_timeout)
        self._await(conn, "connected", "greeting")
        if not (self.config.key and self.config.secret):
            raise AuthError(MISSING_CREDENTIALS)
        conn.send(auth_message(self.config.key, self.config.secret))
        self._await(conn, "authenticated", "login")

    def subscribe_messages(self, symbols: Sequence[str]) -> list[str]:
        """``subscribe`` frames for ``symbols`` on every configured channel, chunked."""
        return subscription_messages("subscribe", list(symbols), self.config.channels,
                                     self.config.symbols_per_message)

    def unsubscribe_messages(self, symbols: Sequence[str]) -> list[str]:
        """``unsubscribe`` frames for ``symbols`` on every configured channel, chunked."""
        return subscription_messages("unsubscribe", list(symbols), self.config.channels,
                                     self.config.symbols_per_message)

    def parse(self, text: str) -> Parsed:
        """One frame -> events (see :func:`~core.feeds.alpaca.parsing.parse_frame`)."""
        parsed = parse_frame(text)
        for line in parsed.info:
            log.debug("%s", line)
        return parsed

    # --- handshake helpers ---------------------------------------------------------------------
    def _await(self, conn: websocket.WebSocket, wanted: str, step: str) -> None:
        for found in handshake_replies(conn, VENUE, step, self.config.handshake_timeout,
                                       control_messages, _FRAMES_PER_STEP):
            for kind, code, msg in found:
                if kind == "success" and msg == wanted:
                    return
                if kind == "error":
                    raise login_error(code, msg)
        raise FeedError(f"{VENUE} did not send {wanted!r} during the {step}.")
