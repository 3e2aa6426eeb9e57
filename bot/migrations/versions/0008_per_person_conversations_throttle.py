"""per-person conversations in group chats; persisted throttles (message rate on the user, code lockout)

A conversation is now one person's state in one chat: unique on (channel, chat_id, user_id), so
in a group chat nobody's answer lands in somebody else's dialogue. The rows are copied, not lost.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 07:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _conversation_table(name: str, unique: tuple[str, ...]) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("chat_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["wijkbot_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(*unique),
    )


def _swap(unique: tuple[str, ...]) -> None:
    """Copy the conversations into a table with the new unique key, then put it in the old one's place."""
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversation_user_id"))
    _conversation_table("conversation_new", unique)
    op.execute(
        "INSERT INTO conversation_new (id, channel, chat_id, user_id, state, updated_at) "
        "SELECT id, channel, chat_id, user_id, state, updated_at FROM conversation"
    )
    op.drop_table("conversation")
    op.rename_table("conversation_new", "conversation")
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_conversation_user_id"), ["user_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":  # the id sequence went with the old table
        op.execute("CREATE SEQUENCE IF NOT EXISTS conversation_id_seq OWNED BY conversation.id")
        op.execute("ALTER TABLE conversation ALTER COLUMN id SET DEFAULT nextval('conversation_id_seq')")
        op.execute("SELECT setval('conversation_id_seq', COALESCE((SELECT MAX(id) FROM conversation), 0) + 1, false)")


def upgrade() -> None:
    _swap(("channel", "chat_id", "user_id"))
    op.create_table(
        "throttle",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["wijkbot_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scope"),
    )
    with op.batch_alter_table("wijkbot_user", schema=None) as batch_op:  # the message rate, on the row read anyway
        batch_op.add_column(sa.Column("rate_window_start", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("rate_count", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("wijkbot_user", schema=None) as batch_op:
        batch_op.drop_column("rate_count")
        batch_op.drop_column("rate_window_start")
    op.drop_table("throttle")
    op.execute("DELETE FROM conversation WHERE id NOT IN (SELECT MIN(id) FROM conversation GROUP BY channel, chat_id)")
    _swap(("channel", "chat_id"))
