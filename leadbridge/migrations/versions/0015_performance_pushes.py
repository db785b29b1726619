"""performance write-back: what each partner's figures last were in each home CRM

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import leadbridge.core.store.types

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "performance_pushes",
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("account_id", sa.String(length=100), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("figures", JSON, nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("queued_at", leadbridge.core.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("written_at", leadbridge.core.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("partner_id", "target"),
    )


def downgrade() -> None:
    op.drop_table("performance_pushes")
