"""Helpers shared by the channel tests."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.broadcasts import broadcast_status


async def drain_outbox(database, broadcast_id: int, *senders, rounds: int = 100, clock=None) -> None:
    """Run the senders until nothing of the broadcast is queued (or `rounds` passes). Between rounds, with
    `clock` (the FixedClock the senders were given) a second passes on it, so a retry comes due without
    waiting for the wall clock; without one (senders on the system clock) 0.1 s of real time passes."""
    for _ in range(rounds):
        for sender in senders:
            await sender.run_once()
        with database.session() as session:
            if broadcast_status(session, broadcast_id).queued == 0:
                return
        if clock is None:
            await asyncio.sleep(0.1)
        else:
            clock.advance(timedelta(seconds=1))
