"""History cache: downloaded bars and the ranges already fetched (core/data).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None



def upgrade() -> None:
    """Create ``history_bars`` and ``history_ranges``."""
    op.create_table(
        "history_bars",
        sa.Column("symbol", sa.String(64), primary_key=True),
        sa.Column("interval", sa.String(8), primary_key=True),
        sa.Column("start_us", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("open", sa.Double(), nullable=False),
        sa.Column("high", sa.Double(), nullable=False),
        sa.Column("low", sa.Double(), nullable=False),
        sa.Column("close", sa.Double(), nullable=False),
        sa.Column("volume", sa.Double(), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("fetched_us", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "history_ranges",
        sa.Column("symbol", sa.String(64), primary_key=True),
        sa.Column("interval", sa.String(8), primary_key=True),
        sa.Column("start_us", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("end_us", sa.BigInteger(), nullable=False),
        sa.Column("fetched_us", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    """Drop the history cache tables."""
    op.drop_table("history_ranges")
    op.drop_table("history_bars")
