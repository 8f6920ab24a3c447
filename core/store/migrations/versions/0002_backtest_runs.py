"""Backtest runs: config, stats, trades and equity of every run the Backtest Lab made.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``backtest_runs``."""
    op.create_table(
        "backtest_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("strategy", sa.String(64), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("stats", sa.Text(), nullable=False),
        sa.Column("trades", sa.Text(), nullable=False),
        sa.Column("equity", sa.Text(), nullable=False),
    )
    op.create_index("ix_backtest_runs_created_us", "backtest_runs", ["created_us"])


def downgrade() -> None:
    """Drop ``backtest_runs``."""
    op.drop_index("ix_backtest_runs_created_us", table_name="backtest_runs")
    op.drop_table("backtest_runs")
