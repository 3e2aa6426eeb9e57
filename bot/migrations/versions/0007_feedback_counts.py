"""feedback: anonymous helped / not helped / not fitting counts per kind of need and service

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 03:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback_count",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("need", sa.String(length=48), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("helped", sa.Integer(), nullable=False),
        sa.Column("not_helped", sa.Integer(), nullable=False),
        sa.Column("not_fitting", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("need", "service_id"),
    )


def downgrade() -> None:
    op.drop_table("feedback_count")
