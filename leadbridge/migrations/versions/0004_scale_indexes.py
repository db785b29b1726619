"""scale: indexes for keyset lists, filters and sweeps over a million leads

Revision ID: 0004
Revises: 0003

``ix_leads_state`` is replaced by ``(state, updated_at, id)``, whose prefix serves every query the
old one did; the others let the cockpit and API page with keysets instead of OFFSET scans.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_leads_state_updated": ["state", "updated_at", "id"],
    "ix_leads_updated": ["updated_at", "id"],
    "ix_leads_created": ["created_at", "id"],
    "ix_leads_campaign": ["campaign", "updated_at", "id"],
    "ix_leads_region": ["country", "postal_code"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "leads", columns)
    op.drop_index("ix_leads_state", table_name="leads")


def downgrade() -> None:
    op.create_index("ix_leads_state", "leads", ["state"])
    for name in INDEXES:
        op.drop_index(name, table_name="leads")
