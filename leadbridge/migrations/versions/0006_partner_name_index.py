"""scale: the cockpit's partner pages walk partners by (name, id)

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_partners_name", "partners", ["name", "id"])


def downgrade() -> None:
    op.drop_index("ix_partners_name", table_name="partners")
