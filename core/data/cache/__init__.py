"""Cache tiers of the history service: memory (LRU) -> Redis (optional) -> the SQL store.

Each tier keeps, per (symbol, interval), the bars it holds and the time ranges known to be
complete (:mod:`core.data.cache.ranges`), so a tier answers only for a range it fully covers.
"""

from core.data.cache.memory import MemoryTier
from core.data.cache.ranges import Ranges, covers, merge, missing
from core.data.cache.redis_tier import RedisTier
from core.data.cache.sql_tier import SqlTier

__all__ = ["MemoryTier", "Ranges", "RedisTier", "SqlTier", "covers", "merge", "missing"]
