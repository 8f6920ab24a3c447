"""Alpaca market data v2 WebSocket source: trades, quotes and minute bars of US stocks.

``AlpacaSource(AlpacaConfig.from_settings(settings))`` implements
:class:`core.feeds.base.Source`; credentials come from ``GS_ALPACA_KEY`` and ``GS_ALPACA_SECRET``.
"""

from core.feeds.alpaca.client import AlpacaSource
from core.feeds.alpaca.config import AlpacaConfig

__all__ = ["AlpacaConfig", "AlpacaSource"]
