"""Stored backtest runs: save one, list them, load one back (pandas in, pandas out)."""

from __future__ import annotations

import io
import math
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import pandas as pd
from sqlalchemy import Engine, delete, insert, select

from core.store.repositories import store_errors
from core.store.schema import runs_table
from core.timeframes import from_epoch_us


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One line of the run list."""

    id: str
    created: pd.Timestamp
    title: str
    strategy: str
    return_pct: float | None
    sharpe: float | None
    trades: int | None


@dataclass(frozen=True, slots=True)
class StoredRun:
    """A run as stored: enough to show it again and compare it."""

    id: str
    created: pd.Timestamp
    title: str
    strategy: str
    config: Mapping[str, Any]
    stats: Mapping[str, Any]
    trades: pd.DataFrame
    equity: pd.Series


def _plain(value: Any) -> Any:
    """JSON-safe scalars: NaN/inf become None, timestamps ISO strings, numpy numbers Python."""
    if isinstance(value, float | int) and not isinstance(value, bool):
        return value if math.isfinite(value) else None
    if isinstance(value, pd.Timestamp | pd.Timedelta):
        return value.isoformat()
    if hasattr(value, "item"):
        return _plain(value.item())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _dumps(data: Any) -> str:
    return orjson.dumps(data, default=_plain, option=orjson.OPT_SERIALIZE_NUMPY).decode()


class RunRepository:
    """Backtest runs in the ``backtest_runs`` table."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

    def save(self, title: str, strategy: str, config: Mapping[str, Any],
             stats: Mapping[str, Any], trades: pd.DataFrame, equity: pd.Series) -> str:
        """Store a run; returns its id."""
        run_id = uuid.uuid4().hex
        row = {
            "id": run_id, "created_us": int(self._clock() * 1_000_000), "title": title[:200],
            "strategy": strategy, "config": _dumps({k: _plain(v) for k, v in config.items()}),
            "stats": _dumps({k: _plain(v) for k, v in stats.items()}),
            "trades": trades.to_json(orient="table", date_format="iso"),
            "equity": equity.rename("equity").to_json(orient="table", date_format="iso"),
        }
        with store_errors(self._engine, "save the backtest run to"), self._engine.begin() as c:
            c.execute(insert(runs_table), [row])
        return run_id

    def list(self, limit: int = 100) -> list[RunSummary]:
        """The newest runs first."""
        query = select(runs_table.c.id, runs_table.c.created_us, runs_table.c.title,
                       runs_table.c.strategy, runs_table.c.stats
                       ).order_by(runs_table.c.created_us.desc()).limit(limit)
        with store_errors(self._engine, "list backtest runs in"), self._engine.connect() as c:
            rows = c.execute(query).all()
        out = []
        for run_id, created, title, strategy, stats_json in rows:
            stats = orjson.loads(stats_json)
            out.append(RunSummary(run_id, pd.Timestamp(from_epoch_us(created)), title, strategy,
                                  stats.get("return_pct"), stats.get("sharpe"),
                                  stats.get("trades")))
        return out

    def get(self, run_id: str) -> StoredRun | None:
        """One run with its trades and equity, or None if there is no such id."""
        query = select(runs_table).where(runs_table.c.id == run_id)
        with store_errors(self._engine, "read a backtest run from"), self._engine.connect() as c:
            row = c.execute(query).mappings().first()
        if row is None:
            return None
        trades = pd.read_json(io.StringIO(row["trades"]), orient="table")
        equity = pd.read_json(io.StringIO(row["equity"]), orient="table")["equity"]
        return StoredRun(row["id"], pd.Timestamp(from_epoch_us(row["created_us"])), row["title"],
                         row["strategy"], orjson.loads(row["config"]), orjson.loads(row["stats"]),
                         trades, equity)

    def delete(self, run_id: str) -> bool:
        """Remove one run; True if it existed."""
        with store_errors(self._engine, "delete a backtest run from"), self._engine.begin() as c:
            return c.execute(delete(runs_table).where(runs_table.c.id == run_id)).rowcount > 0
