"""Binance spot market data: ``BinanceSource(BinanceConfig(...))`` implements the Source protocol.

:func:`parse_frame` turns one wire frame into events on its own (pure, for tests and tools).
"""

from core.feeds.binance.client import BinanceSource
from core.feeds.binance.config import BinanceConfig
from core.feeds.binance.parsing import parse_frame

__all__ = ["BinanceConfig", "BinanceSource", "parse_frame"]
