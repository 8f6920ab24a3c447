"""Replay source: play a recorded CSV or Parquet file of ticks or bars as a live feed.

``ReplaySource(ReplayConfig(path, speed=10))`` implements :class:`core.feeds.base.Source`;
:func:`load_events` reads and validates a file on its own (for previews and checks).
"""

from core.feeds.replay.client import ReplaySource
from core.feeds.replay.config import ReplayConfig
from core.feeds.replay.parsing import load_events

__all__ = ["ReplayConfig", "ReplaySource", "load_events"]
