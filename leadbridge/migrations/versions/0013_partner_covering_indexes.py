"""partner pages and inbox: covering indexes for a partner's leads by state and offers by status

The cockpit's partner page counts each listed partner's leads by state and offers by status and
reads its accept waits; with the state and the two times in the indexes the database answers from
the index alone (once vacuumed) instead of fetching thousands of scattered rows.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_leads_partner_state", "leads", ["partner_id", "state"])
    op.drop_index("ix_leads_partner", table_name="leads")
    op.create_index("ix_offers_partner_waits", "offers", ["partner_id", "status", "offered_at", "decided_at"])
    op.drop_index("ix_offers_partner_status", table_name="offers")


def downgrade() -> None:
    op.create_index("ix_offers_partner_status", "offers", ["partner_id", "status"])
    op.drop_index("ix_offers_partner_waits", table_name="offers")
    op.create_index("ix_leads_partner", "leads", ["partner_id"])
    op.drop_index("ix_leads_partner_state", table_name="leads")
