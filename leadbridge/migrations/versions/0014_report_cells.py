"""reports: pre-aggregated cells (day cells; month and year cells per cube) replace the daily facts

The cells are refilled by the next ``rollup_reports`` step (the roll-up state is reset); until then
reports read the raw rows, with the same figures.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COUNTS = ("leads", "offers", "accepted", "declined", "not_a_lead", "expired", "sla_due", "sla_met", "won", "ratings")


def upgrade() -> None:
    op.drop_index("ix_report_daily_day", table_name="report_daily")
    op.drop_table("report_daily")
    op.create_table(
        "report_cells",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cube", sa.String(length=8), nullable=False),
        sa.Column("grain", sa.String(length=1), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=True),
        sa.Column("campaign", sa.String(length=255), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("products", sa.String(length=500), nullable=True),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _COUNTS),
        sa.Column("revenue", sa.Numeric(16, 2), nullable=False),
        sa.Column("rating_sum", sa.Numeric(16, 2), nullable=False),
        sa.Column("accept_hours", sa.LargeBinary(), nullable=True),
        sa.Column("contact_hours", sa.LargeBinary(), nullable=True),
        sa.Column("lost_reasons", sa.Text(), nullable=True),
        sa.Column("return_reasons", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_report_cells_period", "report_cells", ["cube", "grain", "period"])
    op.execute("DELETE FROM report_rollup")  # refilled as cells by the next refresh


def downgrade() -> None:
    op.drop_index("ix_report_cells_period", table_name="report_cells")
    op.drop_table("report_cells")
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
    op.execute("DELETE FROM report_rollup")
