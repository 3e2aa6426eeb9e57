"""memory: the application's own key-value facts move out of channel_state's fake channel "jobs"

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

MOVED = {"last_run": "scheduler.last_run", "revision": "agenda.revision"}


def upgrade() -> None:
    memory = op.create_table(
        "memory",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    state = sa.table(
        "channel_state", sa.column("channel", sa.String), sa.column("key", sa.String), sa.column("value", sa.JSON)
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(state.c.key, state.c.value).where(state.c.channel == "jobs")).all()
    moved = [{"key": MOVED[key], "value": value} for key, value in rows if key in MOVED]
    if moved:
        op.bulk_insert(memory, moved)
    bind.execute(sa.delete(state).where(state.c.channel == "jobs"))


def downgrade() -> None:
    memory = sa.table("memory", sa.column("key", sa.String), sa.column("value", sa.JSON))
    state = sa.table(
        "channel_state", sa.column("channel", sa.String), sa.column("key", sa.String), sa.column("value", sa.JSON)
    )
    bind = op.get_bind()
    back = {new: old for old, new in MOVED.items()}
    rows = bind.execute(sa.select(memory.c.key, memory.c.value)).all()
    for key, value in rows:
        if key in back:
            bind.execute(sa.insert(state).values(channel="jobs", key=back[key], value=value))
    op.drop_table("memory")
