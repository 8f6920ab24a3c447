"""The first cache tier: a thread-safe, size-bounded LRU of frames in this process."""

from __future__ import annotations

import threading
from collections import OrderedDict

import pandas as pd

from core.data.cache.ranges import Ranges

Key = tuple[str, str]  # (symbol, interval)


class MemoryTier:
    """Least-recently-used frames per (symbol, interval) with their covered ranges.

    Parameters
    ----------
    max_entries : int
        Symbols x intervals kept; the least recently used is evicted beyond it.
    """

    name = "memory"

    def __init__(self, max_entries: int = 64) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self._max = max_entries
        self._items: OrderedDict[Key, tuple[pd.DataFrame, Ranges]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, symbol: str, interval: str) -> tuple[pd.DataFrame, Ranges] | None:
        """The frame and its covered ranges, or None; marks the entry as recently used."""
        with self._lock:
            item = self._items.get((symbol, interval))
            if item is not None:
                self._items.move_to_end((symbol, interval))
            return item

    def put(self, symbol: str, interval: str, frame: pd.DataFrame, covered: Ranges) -> None:
        """Store (replace) the entry, evicting the least recently used beyond the bound."""
        with self._lock:
            self._items[(symbol, interval)] = (frame, covered)
            self._items.move_to_end((symbol, interval))
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
