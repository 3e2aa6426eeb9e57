"""service.status holds every HSDS 3.0 status: 'temporarily closed' has 18 characters

PostgreSQL enforces the length of a VARCHAR and refused that status; SQLite does not enforce it, so
only PostgreSQL changes (rebuilding the service table on SQLite would cascade to its children).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "service", "status", type_=sa.String(length=32), existing_type=sa.String(length=16), existing_nullable=False
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE service SET status = 'inactive' WHERE length(status) > 16")
        op.alter_column(
            "service", "status", type_=sa.String(length=16), existing_type=sa.String(length=32), existing_nullable=False
        )
