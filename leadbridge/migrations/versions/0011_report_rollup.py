"""reports: daily pre-aggregates of the report facts, and offers by the time they were made

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import leadbridge.core.store.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_daily",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=True),
        sa.Column("campaign", sa.String(length=255), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("products", sa.String(length=500), nullable=False),
        sa.Column("measure", sa.String(length=20), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(16, 2), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_report_daily_day", "report_daily", ["day"])
    op.create_table(
        "report_rollup",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rolled_until", sa.Date(), nullable=True),
        sa.Column("watermark", leadbridge.core.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_offers_offered", "offers", ["offered_at"])


def downgrade() -> None:
    op.drop_index("ix_offers_offered", table_name="offers")
    op.drop_table("report_rollup")
    op.drop_index("ix_report_daily_day", table_name="report_daily")
    op.drop_table("report_daily")
