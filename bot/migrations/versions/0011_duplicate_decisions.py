"""duplicate_decision: a coordinator's decisions on probable duplicate services (kaart duplicates --resolve)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "duplicate_decision",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("service_a", sa.String(length=64), nullable=False),
        sa.Column("service_b", sa.String(length=64), nullable=False),
        sa.Column("name_a", sa.Text(), nullable=True),
        sa.Column("name_b", sa.Text(), nullable=True),
        sa.Column("kept", sa.String(length=64), nullable=True),
        sa.Column("removed", sa.String(length=64), nullable=True),
        sa.Column("decided_by", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("service_a", "service_b", name="uq_duplicate_decision_pair"),
    )


def downgrade() -> None:
    op.drop_table("duplicate_decision")
