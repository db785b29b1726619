"""routing pass: the waiting leads from indexes alone

Every routing pass asks which leads wait: qualified, routing, returned, or offered with every offer
refused. At a million leads that read tens of thousands of offered leads' rows and each one's offers
(seconds per pass); with the state and creation time in a lead index and the status in the offers'
lead index both parts are answered from the indexes (once vacuumed), in the router's order.

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_leads_state_created", "leads", ["state", "created_at", "id"])
    op.create_index("ix_offers_lead_status", "offers", ["lead_id", "status"])
    op.drop_index("ix_offers_lead", table_name="offers")


def downgrade() -> None:
    op.create_index("ix_offers_lead", "offers", ["lead_id"])
    op.drop_index("ix_offers_lead_status", table_name="offers")
    op.drop_index("ix_leads_state_created", table_name="leads")
