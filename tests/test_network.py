"""Roles by invite, linked accounts, subscriptions, coordinator announcements and outbox delivery."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.broadcasts import broadcast_status, create_broadcast
from bot.delivery import Limits, OutboxSender, SendResult
from bot.floor.messages import Incoming
from bot.floor.models import OutboxMessage, User
from bot.floor.network import create_invite
from tests.helpers import drain_outbox


def say(bot, text="", *, button=None, user="anna", channel="telegram"):
    return bot.handle(Incoming(channel=channel, chat_id=user, user_id=user, text=text, button=button))[-1]


def role_of(bot, user, channel="telegram"):
    with bot.database.session() as session:
        return session.scalar(select(User.role).where(User.channel == channel, User.channel_user_id == user))


def make_coordinator(bot, user="coco"):
    with bot.database.session() as session:
        code = create_invite(
            session, "coordinator", organization="Wijkpunt", valid_for=timedelta(days=1), now=bot.clock.now()
        )
        session.commit()
    assert "coördinator" in say(bot, f"/aanmelden {code}", user=user).text


def test_an_invite_code_upgrades_once_and_expires(bot, clock):
    with bot.database.session() as session:
        code = create_invite(
            session, "professional", organization="Huisarts De Vlinderhof", valid_for=timedelta(days=7), now=clock.now()
        )
        old = create_invite(session, "professional", organization=None, valid_for=timedelta(hours=1), now=clock.now())
        session.commit()
    assert "werkt niet" in say(bot, "/aanmelden XXXX-YYYY").text
    joined = say(bot, f"/aanmelden {code.lower()}")
    assert "professional" in joined.text and "herinneringen krijgen voor overleggen" in joined.text
    assert "overleggen" in say(bot, button=joined.buttons[0].value).text  # one press subscribes to reminders
    assert role_of(bot, "anna") == "professional"
    assert "werkt niet" in say(bot, f"/aanmelden {code}", user="bert").text  # one time only
    clock.advance(timedelta(hours=2))
    assert "werkt niet" in say(bot, f"/aanmelden {old}", user="bert").text
    assert role_of(bot, "bert") == "resident"


def test_linking_telegram_and_matrix_accounts_shares_the_role(bot):
    make_coordinator(bot, "anna")
    reply = say(bot, "/koppel", user="anna")
    code = reply.text.split("/koppel ")[-1].strip()
    assert "Gelukt" in say(bot, f"/koppel {code}", user="@anna:localhost", channel="matrix").text
    assert role_of(bot, "@anna:localhost", channel="matrix") == "coordinator"
    assert "werkt niet" in say(bot, f"/koppel {code}", user="@eve:localhost", channel="matrix").text


def test_coordinator_commands_are_refused_for_others(bot):
    assert "alleen de coördinator" in say(bot, "/aankondiging Feest!", user="piet").text
    assert "alleen de coördinator" in say(bot, button="announce:send", user="piet").text


def test_announcement_in_chat_reaches_only_opted_in_audience(bot):
    for name in ("r1", "r2", "r3"):
        say(bot, "hoi", user=name)
    say(bot, "/abonneren events", user="r1")
    say(bot, "/abonneren", user="r2")
    say(bot, button="subscribe:events", user="r2")
    say(bot, "/abonneren events", user="r3")
    say(bot, "/afmelden", user="r3")
    make_coordinator(bot)
    assert "tekst" in say(bot, "/aankondiging", user="coco").text
    reply = say(bot, "Gezondheidsmarkt zaterdag 12 december, 10-14 uur, De Cocon", user="coco")
    assert [b.value for b in reply.buttons] == ["announce:residents", "announce:professionals", "announce:all"]
    preview = say(bot, button="announce:residents", user="coco")
    assert "Gezondheidsmarkt" in preview.text and [b.value for b in preview.buttons] == [
        "announce:send",
        "announce:cancel",
    ]
    sent = say(bot, button="announce:send", user="coco")
    assert "2 ontvangers" in sent.text
    number = sent.text.split()[1]
    assert "0 verstuurd, 2 in de wachtrij" in say(bot, f"/aankondiging status {number}", user="coco").text
    with bot.database.session() as session:
        rows = session.scalars(select(OutboxMessage)).all()
        assert sorted(r.chat_id for r in rows) == ["r1", "r2"]


class FakeChannel:
    """Stands in for the network: answers like a Bot API would (429 first, 403 for blocked, 500 once)."""

    def __init__(self):
        self.delivered: list[str] = []
        self.calls = 0
        self.failed_once: set[str] = set()

    async def send(self, chat_id: str, text: str, buttons=None) -> SendResult:
        self.calls += 1
        if self.calls == 3:
            return SendResult(retry_after=0.2, error="429")
        if chat_id == "u4":
            return SendResult(blocked=True, error="403 Forbidden: bot was blocked by the user")
        if chat_id == "u6" and chat_id not in self.failed_once:
            self.failed_once.add(chat_id)
            return SendResult(error="502 Bad Gateway")
        self.delivered.append(chat_id)
        return SendResult(ok=True)


def test_outbox_delivery_honours_429_skips_blocked_and_never_duplicates(bot):
    with bot.database.session() as session:
        for n in range(8):
            session.add(
                User(
                    channel="telegram",
                    channel_user_id=f"u{n}",
                    chat_id=f"u{n}",
                    role="resident",
                    created_at=bot.clock.now(),
                    last_seen_at=bot.clock.now(),
                )
            )
        session.flush()
        from bot.floor.network import subscribe

        for user in session.scalars(select(User)):
            subscribe(session, user, "events")
        created = create_broadcast(session, "Buurtfeest!", "all", "events", created_by=None, now=bot.clock.now())
        session.commit()
        broadcast_id = created.id
    channel = FakeChannel()
    sender = OutboxSender(
        bot.database, "telegram", channel.send, Limits(per_second=50, per_chat_interval=0), clock=bot.clock
    )  # the 502's retry comes due when drain_outbox moves the clock on

    asyncio.run(drain_outbox(bot.database, broadcast_id, sender, rounds=40, clock=bot.clock))
    with bot.database.session() as session:
        status = broadcast_status(session, broadcast_id)
        assert (status.sent, status.blocked, status.queued, status.failed) == (7, 1, 0, 0)
        assert session.scalar(select(User.blocked).where(User.channel_user_id == "u4")) is True
    assert sorted(channel.delivered) == sorted(set(channel.delivered)) and len(channel.delivered) == 7
    # a second broadcast skips the user who blocked the bot
    with bot.database.session() as session:
        again = create_broadcast(session, "Nog een feest", "all", "events", created_by=None, now=datetime.now(UTC))
        session.flush()
        assert broadcast_status(session, again.id).queued == 7


@pytest.mark.parametrize("limit", [5.0, 20.0])
def test_the_rate_limiter_holds_the_configured_rate(limit):
    from bot.delivery import TokenBucket

    bucket = TokenBucket(limit, burst=1)
    now, sent = 0.0, 0
    while now < 2.0:
        wait = bucket.wait_time(now)
        if wait == 0:
            sent += 1
        else:
            now += wait
    assert sent <= limit * 2 + 1
