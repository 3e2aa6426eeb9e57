"""The safety question that nobody answered: after a while, the resource's advice anyway.

When Wijkbot asks its direct safety question ("Is er nu direct gevaar?") and the resident does not reply,
silence is not a "no". After `WIJKBOT_SAFETY_FOLLOWUP_MINUTES` the scheduler sends the same chat the
escalation it would have given on "ja", once (an idempotency key per question), through the outbox, and
closes the question. Questions older than a day are closed without a message: advice that late helps nobody
and would only startle.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.floor.models import Conversation, User, count_usage
from bot.floor.outbox import enqueue

log = logging.getLogger(__name__)
TOO_LATE = timedelta(days=1)


def follow_up_unanswered(session: Session, now: datetime, safety, wait: timedelta) -> int:
    """Queue the escalation for every safety question unanswered for `wait`; the number queued."""
    waiting = session.scalars(
        select(Conversation).where(Conversation.updated_at <= now - wait, Conversation.updated_at > now - TOO_LATE)
    )
    queued = 0
    for conversation in waiting:
        state = dict(conversation.state or {})
        asked = state.get("safety") or {}
        if state.get("pending") != "safety" or not asked:
            continue
        resource, language = asked.get("resource"), asked.get("language", "nl")
        user = session.get(User, conversation.user_id)
        if user is not None and resource in safety.resources:
            text = safety.unanswered(language) + "\n\n" + safety.reply(resource, language, now)
            key = f"safety:{conversation.id}:{asked.get('asked_at')}"
            enqueue(session, key, user, text, now, chat=(conversation.channel, conversation.chat_id))
            count_usage(session, now.date(), f"safety_followup:{resource}")
            queued += 1
        state.update(pending=None, safety={})
        conversation.state = state
    if queued:
        log.info("%d unanswered safety questions followed up", queued)
    return queued
