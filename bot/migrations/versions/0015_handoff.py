"""handoff, handoff_count: warm handoffs to the social map's organisations and their anonymous counts (issue 14)

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-03 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handoff",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("lang", sa.String(length=2), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=True),
        sa.Column("need", sa.String(length=48), nullable=False),
        sa.Column("for_whom", sa.String(length=16), nullable=True),
        sa.Column("shown", sa.JSON(), nullable=False),
        sa.Column("tried", sa.JSON(), nullable=False),
        sa.Column("first_name", sa.String(length=40), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("via_chat", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("best_time", sa.String(length=16), nullable=True),
        sa.Column("need_line", sa.String(length=140), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("decline_reason", sa.String(length=16), nullable=True),
        sa.Column("claimed_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("followup_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("followups", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("relays", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), server_default="0", nullable=False),
        sa.Column("awaiting_reply", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(["resident_id"], ["wijkbot_user.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["claimed_by"], ["wijkbot_user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,  # a deleted card's number is never used again
    )
    op.create_index("ix_handoff_resident_id", "handoff", ["resident_id"])
    op.create_index("ix_handoff_status", "handoff", ["status"])
    op.create_table(
        "handoff_count",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("need", sa.String(length=48), nullable=False),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in ("sent", "claimed", "declined", "unanswered", "helped", "busy", "not_helped")
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("service_id", "need"),
    )


def downgrade() -> None:
    op.drop_table("handoff_count")
    op.drop_index("ix_handoff_status", table_name="handoff")
    op.drop_index("ix_handoff_resident_id", table_name="handoff")
    op.drop_table("handoff")
