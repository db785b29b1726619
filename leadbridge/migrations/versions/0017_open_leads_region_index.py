"""dedup: the open leads of a postal region from one partial index

A routing pass compares its new leads with the open or held leads (qualified, routing, offered,
accepted, working) of their postal regions, oldest first. At a million leads PostgreSQL misjudged
how many leads share a postal code and combined the region and state indexes (or scanned the
table); an index over only the open leads, in the order dedup reads them, answers it alone.

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("state IN ('accepted', 'offered', 'qualified', 'routing', 'working')")


def upgrade() -> None:
    op.create_index(
        "ix_leads_open_region",
        "leads",
        ["country", "postal_code", "created_at", "id"],
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("ix_leads_open_region", table_name="leads")
