"""Helpers shared by the channel tests."""

from __future__ import annotations

import asyncio

from bot.broadcasts import broadcast_status


async def drain_outbox(database, broadcast_id: int, *senders, rounds: int = 100) -> None:
    """Run the senders until nothing of the broadcast is queued (or `rounds` passes)."""
    for _ in range(rounds):
        for sender in senders:
            await sender.run_once()
        with database.session() as session:
            if broadcast_status(session, broadcast_id).queued == 0:
                return
        await asyncio.sleep(0.1)
