"""Yahoo Finance through yfinance: polled quotes, past bars and option chains.

``YahooSource(YahooConfig.from_settings(settings))`` implements :class:`core.feeds.base.Source`
and :class:`core.feeds.base.HistorySource`; importing this package does not import yfinance.
"""

from core.feeds.yahoo.client import YahooRateLimited, YahooSource, YahooUnavailable
from core.feeds.yahoo.config import YahooConfig
from core.feeds.yahoo.parsing import chain_to_quotes, from_yahoo, to_yahoo

__all__ = ["YahooConfig", "YahooRateLimited", "YahooSource", "YahooUnavailable",
           "chain_to_quotes", "from_yahoo", "to_yahoo"]
