"""Polygon.io (now Massive) stocks WebSocket source: trades, quotes and second/minute bars.

``PolygonSource(PolygonConfig.from_settings(settings))`` implements
:class:`core.feeds.base.Source`; the API key comes from ``GS_POLYGON_API_KEY``.
"""

from core.feeds.polygon.client import PolygonSource
from core.feeds.polygon.config import PolygonConfig

__all__ = ["PolygonConfig", "PolygonSource"]
