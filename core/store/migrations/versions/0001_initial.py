"""Initial schema: ticks, bars and settings.

Revision ID: 0001
Revises:
Create Date: 2024-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the three tables."""
    op.create_table(
        "ticks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  primary_key=True, autoincrement=True),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("ts_us", sa.BigInteger(), nullable=False),
        sa.Column("price", sa.Double(), nullable=False),
        sa.Column("size", sa.Double(), nullable=False),
        sa.Column("bid", sa.Double(), nullable=True),
        sa.Column("ask", sa.Double(), nullable=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticks")),
    )
    op.create_index("ix_ticks_symbol_ts_us", "ticks", ["symbol", "ts_us"])
    op.create_table(
        "bars",
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("timeframe", sa.String(8), nullable=False),
        sa.Column("start_us", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("open", sa.Double(), nullable=False),
        sa.Column("high", sa.Double(), nullable=False),
        sa.Column("low", sa.Double(), nullable=False),
        sa.Column("close", sa.Double(), nullable=False),
        sa.Column("volume", sa.Double(), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "timeframe", "start_us", name=op.f("pk_bars")),
    )
    op.create_table(
        "settings",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_settings")),
    )


def downgrade() -> None:
    """Drop the three tables."""
    op.drop_table("settings")
    op.drop_table("bars")
    op.drop_index("ix_ticks_symbol_ts_us", table_name="ticks")
    op.drop_table("ticks")
