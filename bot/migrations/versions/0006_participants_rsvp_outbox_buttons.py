"""agenda: participants, RSVPs, when an exception was made; buttons on outbox messages

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 10:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "series_participant",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("organization_id", sa.String(length=200), nullable=True),
        sa.Column("organization_name", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["series_id"], ["meeting_series.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["wijkbot_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("series_participant", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_series_participant_series_id"), ["series_id"], unique=False)
    op.create_table(
        "rsvp",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("occurrence_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("answer", sa.String(length=8), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["series_id"], ["meeting_series.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["wijkbot_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("series_id", "occurrence_start", "user_id"),
    )
    with op.batch_alter_table("rsvp", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rsvp_series_id"), ["series_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_rsvp_user_id"), ["user_id"], unique=False)
    with op.batch_alter_table("series_exception", schema=None) as batch_op:
        batch_op.add_column(sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("buttons", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("buttons")
    with op.batch_alter_table("series_exception", schema=None) as batch_op:
        batch_op.drop_column("changed_at")
    with op.batch_alter_table("rsvp", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rsvp_user_id"))
        batch_op.drop_index(batch_op.f("ix_rsvp_series_id"))
    op.drop_table("rsvp")
    with op.batch_alter_table("series_participant", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_series_participant_series_id"))
    op.drop_table("series_participant")
