"""reconcile: when each lead's state changed, timers for periodic work, indexes for due work

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import leadbridge.core.store.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
WHEN = leadbridge.core.store.types.UtcDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("state_changed_at", WHEN, nullable=True))
    # Existing leads: their last event is the best estimate of when they entered their state.
    op.execute("UPDATE leads SET state_changed_at = updated_at WHERE state_changed_at IS NULL")
    op.create_index("ix_leads_state_changed", "leads", ["state", "state_changed_at"])
    op.create_index("ix_outbox_status_due", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_status_claimed", "outbox", ["status", "claimed_at"])
    op.create_table(
        "timers",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("due_at", WHEN, nullable=False),
        sa.Column("last_run_at", WHEN, nullable=True),
        sa.Column("last_ok_at", WHEN, nullable=True),
        sa.Column("detail", JSON, nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_index("ix_timers_due", "timers", ["due_at"])


def downgrade() -> None:
    op.drop_index("ix_timers_due", table_name="timers")
    op.drop_table("timers")
    op.drop_index("ix_outbox_status_claimed", table_name="outbox")
    op.drop_index("ix_outbox_status_due", table_name="outbox")
    op.drop_index("ix_leads_state_changed", table_name="leads")
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("state_changed_at")
