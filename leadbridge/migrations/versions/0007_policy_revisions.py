"""routing: policy revisions by content hash (who, when, from which file)

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import leadbridge.core.store.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "policy_revisions",
        sa.Column("hash", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("recorded_at", leadbridge.core.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=1000), nullable=True),
        sa.Column("content", JSON, nullable=False),
        sa.PrimaryKeyConstraint("hash"),
    )
    op.create_index("ix_policy_revisions_at", "policy_revisions", ["recorded_at"])


def downgrade() -> None:
    op.drop_index("ix_policy_revisions_at", table_name="policy_revisions")
    op.drop_table("policy_revisions")
