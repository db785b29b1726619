"""sync: links between leads and remote records (echo suppression, field ownership)

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import leadbridge.core.store.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "sync_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("connection", sa.String(length=100), nullable=False),
        sa.Column("remote_id", sa.String(length=255), nullable=False),
        sa.Column("lead_id", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=True),
        sa.Column("written", JSON, nullable=False),
        sa.Column("seen", JSON, nullable=False),
        sa.Column("updated_at", leadbridge.core.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("connection", "remote_id", name="uq_sync_links_remote"),
    )
    op.create_index("ix_sync_links_lead", "sync_links", ["lead_id", "connection"])


def downgrade() -> None:
    op.drop_index("ix_sync_links_lead", table_name="sync_links")
    op.drop_table("sync_links")
