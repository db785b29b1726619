"""admin roles: admin, channel manager (regions), read-only — for cockpit users and admin API keys

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Everyone who could sign in before keeps what they had: the admin role.
    for table in ("admin_users", "api_keys"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("role", sa.String(length=20), nullable=False, server_default="admin"))
            batch.add_column(sa.Column("regions", sa.String(length=500), nullable=False, server_default=""))


def downgrade() -> None:
    for table in ("admin_users", "api_keys"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("regions")
            batch.drop_column("role")
