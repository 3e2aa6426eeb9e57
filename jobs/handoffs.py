"""Warm handoffs (issue 14): a resident's need card to one organisation of the social map, claimed or
declined by its linked professionals (else the coordinators), the follow-up "Is het gelukt?", anonymous
counts per service and kind of need, and the deletion of the card's personal data.

`handoff` is one card to one organisation. Its personal fields (first name, phone, best time, the need
line) are emptied when it closes (helped, not helped, still busy at the second question, declined,
cancelled) and the row itself is deleted `handoff_retention_days` after it was sent, whichever comes
first; `/vergeet` deletes it at once (`forget`). `handoff_count` holds anonymous counts only.

Messages to other people go through the outbox under `handoff:<id>:<what>[:<n or user id>]`. When a
handoff closes, every outbox row of its own loses its text and buttons (a queued one is cancelled);
what is said to the resident after that (the next match) holds no card data.

Sans-I/O: every function takes the session and `now`; the chat flow (bot/flows/handoff.py) and the
scheduler (jobs/scheduler.py) call them. Logs carry event names and ids, never a name, phone or line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint, delete, false, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.floor.clock import local_date, to_local
from bot.floor.db import Base, UTCDateTime
from bot.floor.models import OutboxMessage, User
from bot.floor.network import linked_accounts
from bot.floor.outbox import enqueue, withdraw
from bot.floor.texts import long_date, say
from socialekaart.listing import dutch_phone
from socialekaart.models import Organization, Service
from socialekaart.needs import label_of
from socialekaart.providers import coordinators, members, organization_of

log = logging.getLogger(__name__)

OPEN = ("open", "unanswered")  # a card nobody picked up yet: it can be claimed or declined
ACTIVE = (*OPEN, "claimed")  # not closed: the follow-up still comes
STATUSES = ("open", "unanswered", "claimed", "declined", "closed")
OUTCOMES = ("helped", "busy", "not_helped")
COUNTS = ("sent", "claimed", "declined", "unanswered", "helped", "busy", "not_helped")
TIMES = ("morning", "afternoon", "evening", "any")
REASONS = ("full", "not_ours", "area", "other")
WHOM = ("self", "child", "parent", "partner", "other")


class Handoff(Base):
    """One need card from a resident to one organisation. The personal fields are emptied when it closes;
    the row is deleted at `expires_at` (the retention), or by `/vergeet`."""

    __tablename__ = "handoff"
    # a number is never used twice (SQLite reuses the highest deleted one otherwise): an old button under a
    # deleted card must not reach a new one
    __table_args__: ClassVar[dict] = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("wijkbot_user.id", ondelete="CASCADE"), index=True)
    lang: Mapped[str] = mapped_column(String(2), default="nl")
    service_id: Mapped[str] = mapped_column(String(64))
    organization_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    need: Mapped[str] = mapped_column(String(48))  # the need model's kind, never the resident's words
    for_whom: Mapped[str | None] = mapped_column(String(16), nullable=True)
    shown: Mapped[list] = mapped_column(JSON, default=list)  # the services of the answer, for the next match
    tried: Mapped[list] = mapped_column(JSON, default=list)  # services asked before this one
    # personal, the resident's consent: emptied when the handoff closes
    first_name: Mapped[str | None] = mapped_column(String(40), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(16), nullable=True)
    via_chat: Mapped[bool] = mapped_column(default=False, server_default=false())
    best_time: Mapped[str | None] = mapped_column(String(16), nullable=True)
    need_line: Mapped[str | None] = mapped_column(String(140), nullable=True)
    # open | unanswered | claimed | declined | closed
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)  # helped, busy, not_helped, ...
    decline_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("wijkbot_user.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    followup_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # the next "Is het gelukt?"
    followups: Mapped[int] = mapped_column(Integer, default=0)  # how often it was asked (at most 2)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the row is deleted then, at the latest
    relays: Mapped[int] = mapped_column(Integer, default=0)  # messages relayed "via deze chat"
    # how many of the follow-up questions were answered: one press each
    answered: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    awaiting_reply: Mapped[bool] = mapped_column(default=False, server_default=false())  # may answer once

    @property
    def closed(self) -> bool:
        return self.status not in ACTIVE


class HandoffCount(Base):
    """Anonymous counts of handoffs per service and kind of need: nothing of a person."""

    __tablename__ = "handoff_count"
    __table_args__ = (UniqueConstraint("service_id", "need"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service_id: Mapped[str] = mapped_column(String(64))
    need: Mapped[str] = mapped_column(String(48))
    sent: Mapped[int] = mapped_column(Integer, default=0)
    claimed: Mapped[int] = mapped_column(Integer, default=0)
    declined: Mapped[int] = mapped_column(Integer, default=0)
    unanswered: Mapped[int] = mapped_column(Integer, default=0)
    helped: Mapped[int] = mapped_column(Integer, default=0)
    busy: Mapped[int] = mapped_column(Integer, default=0)
    not_helped: Mapped[int] = mapped_column(Integer, default=0)


@dataclass(frozen=True)
class Policy:
    """The settings of handoffs (bot/floor/config.py): when, how long, and the person to turn to."""

    followup: timedelta
    unanswered: timedelta
    retention: timedelta
    human_contact: str = ""

    @classmethod
    def of(cls, settings) -> Policy:
        return cls(
            followup=timedelta(days=settings.handoff_followup_days),
            unanswered=timedelta(hours=settings.handoff_unanswered_hours),
            retention=timedelta(days=settings.handoff_retention_days),
            human_contact=settings.human_contact,
        )


# --- counts ------------------------------------------------------------------------------------------


def count(session: Session, handoff: Handoff, column: str) -> None:
    """Add one to an anonymous count of the handoff's service and kind of need."""
    from sqlalchemy.dialects import postgresql, sqlite

    row = {c: 0 for c in COUNTS} | {"service_id": handoff.service_id[:64], "need": handoff.need[:48], column: 1}
    dialect = {"postgresql": postgresql, "sqlite": sqlite}[session.get_bind().dialect.name]
    insert = dialect.insert(HandoffCount).values([row])
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["service_id", "need"],
            set_={column: getattr(HandoffCount, column) + getattr(insert.excluded, column)},
        )
    )


def counts(session: Session) -> list[dict]:
    """Every anonymous count, per service and kind of need."""
    rows = session.scalars(select(HandoffCount).order_by(HandoffCount.need, HandoffCount.service_id))
    return [{"service_id": r.service_id, "need": r.need, **{c: getattr(r, c) for c in COUNTS}} for r in rows]


# --- what a handoff is about ---------------------------------------------------------------------------


def service_names(session: Session, service_id: str) -> tuple[str, str]:
    """(service name, organisation name) of a service of the map; the organisation's name is the
    service's when it has none."""
    service = session.get(Service, service_id)
    if service is None:
        return service_id, service_id
    org = session.get(Organization, service.organization_id) if service.organization_id else None
    return service.name, org.name if org else service.name


def is_resident(session: Session, user: User, handoff: Handoff) -> bool:
    """The handoff's resident, on any of their linked accounts."""
    return handoff.resident_id in {a.id for a in linked_accounts(session, user)}


def may_handle_card(session: Session, user: User, handoff: Handoff) -> bool:
    """A member of the card's organisation, or a coordinator the card was given to (the organisation has no
    linked professional, or nobody picked it up in time); a coordinator never takes a card that only went to
    the organisation."""
    if user.at_least("coordinator") and _given_to(session, user, handoff):
        return True
    if not user.at_least("professional") or handoff.organization_id is None:
        return False
    org = organization_of(session, user)
    return org is not None and org.id == handoff.organization_id


def _given_to(session: Session, user: User, handoff: Handoff) -> bool:
    accounts = [a.id for a in linked_accounts(session, user)]
    keys = [f"handoff:{handoff.id}:{what}:{a}" for what in ("card", "unanswered") for a in accounts]
    return session.scalar(select(OutboxMessage.id).where(OutboxMessage.idempotency_key.in_(keys)).limit(1)) is not None


def has_claimed(session: Session, user: User, handoff: Handoff) -> bool:
    return handoff.claimed_by is not None and handoff.claimed_by in {a.id for a in linked_accounts(session, user)}


def next_service(session: Session, handoff: Handoff) -> str | None:
    """The next match: the first service of the answer not asked yet, preferring organisations that were
    not asked yet; only services still on the map and active."""
    asked = [*handoff.tried, handoff.service_id]
    asked_orgs = {s.organization_id for s in session.scalars(select(Service).where(Service.id.in_(asked)))}
    left = [s for s in handoff.shown if s not in asked]
    services = {s.id: s for s in session.scalars(select(Service).where(Service.id.in_(left)))}
    usable = [services[s] for s in left if s in services and services[s].status == "active"]
    other = [s for s in usable if s.organization_id not in asked_orgs]
    chosen = other or usable
    return chosen[0].id if chosen else None


def open_for(session: Session, resident: User, service_id: str) -> Handoff | None:
    """A handoff of this person to this service that is not closed yet (a second one is refused)."""
    ids = [a.id for a in linked_accounts(session, resident)]
    return session.scalar(
        select(Handoff).where(
            Handoff.resident_id.in_(ids), Handoff.service_id == service_id, Handoff.status.in_(ACTIVE)
        )
    )


# --- the card ----------------------------------------------------------------------------------------


def phone_text(phone: str) -> str:
    """0612345678 -> 06-12345678; 0535551234 -> 053-5551234; 0546123456 -> 0546-123456 (a Dutch number as
    people write it, with its real area code: socialekaart.listing.dutch_phone)."""
    return dutch_phone(phone)


def card_text(session: Session, handoff: Handoff, lead: str = "") -> str:
    """The need card as the organisation reads it (in Dutch): only what the resident agreed to share; the
    phone number only in the reply to the one who claims it."""
    service, organization = service_names(session, handoff.service_id)
    contact = say("handoff.card_chat") if handoff.via_chat else say("handoff.card_phone")  # the number: once claimed
    text = say(
        "handoff.card",
        id=handoff.id,
        service=service,
        organization=organization,
        name=handoff.first_name or "",
        contact=contact,
        time=say(f"handoff.time.{handoff.best_time or 'any'}"),
        line=handoff.need_line or "",
        until=long_date(local_date(handoff.expires_at)),
    )
    return f"{lead}\n\n{text}" if lead else text


def card_buttons(handoff: Handoff) -> list[dict]:
    return [
        {"label": say("handoff.button_claim"), "value": f"card:claim:{handoff.id}"},
        {"label": say("handoff.button_decline"), "value": f"card:decline:{handoff.id}"},
    ]


def _send_card(session: Session, handoff: Handoff, people: list[User], now: datetime, what: str, lead: str) -> int:
    keys = [f"handoff:{handoff.id}:{what}:{p.id}" for p in people]
    known = set(session.scalars(select(OutboxMessage.idempotency_key).where(OutboxMessage.idempotency_key.in_(keys))))
    sent = 0
    for person, key in zip(people, keys, strict=True):
        if key not in known:
            enqueue(session, key, person, card_text(session, handoff, lead), now, buttons=card_buttons(handoff))
            sent += 1
    return sent


def create(session: Session, resident: User, draft: dict, now: datetime, policy: Policy) -> tuple[Handoff, int, bool]:
    """Save the resident's card and send it to the organisation's linked professionals, or, when it has
    none, to the coordinators. Returns the handoff, how many people got it (0: nobody to send it to) and
    whether it went to the coordinators instead of the organisation."""
    service = session.get(Service, draft["service"])
    handoff = Handoff(
        resident_id=resident.id,
        lang=draft.get("lang", "nl"),
        service_id=draft["service"],
        organization_id=service.organization_id if service else None,
        need=draft.get("need", "onbekend")[:48],
        for_whom=draft.get("for_whom"),
        shown=list(draft.get("shown", [])),
        tried=list(draft.get("tried", [])),
        first_name=draft["name"],
        phone=draft.get("phone"),
        via_chat=bool(draft.get("via_chat")),
        best_time=draft.get("time"),
        need_line=draft["line"],
        status="open",
        created_at=now,
        followup_at=now + policy.followup,
        expires_at=now + policy.retention,
    )
    session.add(handoff)
    session.flush()
    org = session.get(Organization, handoff.organization_id) if handoff.organization_id else None
    people = members(session, org) if org else []
    lead = ""
    if not people:
        people, lead = coordinators(session), say("handoff.card_queue")
    sent = _send_card(session, handoff, people, now, "card", lead)
    count(session, handoff, "sent")
    log.info("handoff %s sent to %d people", handoff.id, sent)
    return handoff, sent, bool(lead)


# --- claim, decline, close ---------------------------------------------------------------------------


def _move(session: Session, handoff: Handoff, allowed: tuple[str, ...], **values) -> bool:
    """Change a handoff only if its status is still one of `allowed` (one UPDATE with that condition): of two
    people (or a person and the scheduler) acting on the same card at once, one wins and the other is told."""
    won = session.execute(
        update(Handoff)
        .where(Handoff.id == handoff.id, Handoff.status.in_(allowed))
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(handoff)
    return bool(won)


def claim(session: Session, handoff: Handoff, user: User, now: datetime) -> bool:
    """Claim an open card; False when someone else was first."""
    if not _move(session, handoff, OPEN, status="claimed", claimed_by=user.id, claimed_at=now):
        return False
    count(session, handoff, "claimed")
    resident = session.get(User, handoff.resident_id)
    _, organization = service_names(session, handoff.service_id)
    how = "chat" if handoff.via_chat else "phone"
    if resident is not None:
        enqueue(
            session,
            f"handoff:{handoff.id}:claimed",
            resident,
            say(f"handoff.taken.{how}", handoff.lang, organization=organization),
            now,
        )
    log.info("handoff %s claimed", handoff.id)
    return True


def close(session: Session, handoff: Handoff, outcome: str, now: datetime, *, status: str = "closed") -> None:
    """Close a handoff: its personal data are deleted, and every outbox row of its own loses its text and
    buttons (one still queued is cancelled). The row stays without them until its retention."""
    handoff.first_name = handoff.phone = handoff.best_time = handoff.need_line = None
    handoff.via_chat = handoff.awaiting_reply = False
    handoff.status, handoff.outcome, handoff.closed_at, handoff.followup_at = status, outcome, now, None
    withdraw(session, f"handoff:{handoff.id}:")
    log.info("handoff %s closed: %s", handoff.id, outcome)


def decline(session: Session, handoff: Handoff, reason: str, now: datetime, policy: Policy) -> bool:
    """The organisation cannot take it: closed (its data deleted); the resident is told why and offered
    the next match, or a person when none is left (and the coordinators are told). False when the card was
    no longer open (claimed or declined by someone else meanwhile)."""
    if not _move(session, handoff, OPEN, status="declined", decline_reason=reason):
        return False
    count(session, handoff, "declined")
    close(session, handoff, "declined", now, status="declined")
    _, organization = service_names(session, handoff.service_id)
    why = say("handoff.declined", handoff.lang, organization=organization, reason=say(f"handoff.reason.{reason}"))
    offer_next(session, handoff, why, now, policy, "declined")
    return True


def offer_next(
    session: Session, handoff: Handoff, lead: str, now: datetime, policy: Policy, what: str = ""
) -> tuple[str, list[dict]]:
    """Tell the resident `lead` and offer the next match (a button that starts a fresh consent), or a
    person when none is left; then the coordinators are told too. Queued for the resident (a decline
    arrives while they are away) under `handoff:<id>:<what>`; returned for a reply in the chat."""
    resident = session.get(User, handoff.resident_id)
    following = next_service(session, handoff)
    if following is not None:
        service, organization = service_names(session, following)
        text = lead + "\n\n" + say("handoff.next_offer", handoff.lang, service=service, organization=organization)
        buttons = [
            {
                "label": say("handoff.button_next", handoff.lang, organization=organization),
                "value": f"handoff:next:{handoff.id}",
            },
            {"label": say("handoff.button_human", handoff.lang), "value": "human"},
        ]
    else:
        text, buttons = lead + "\n\n" + say("handoff.none_left", handoff.lang, human_contact=policy.human_contact), []
        for person in coordinators(session):
            enqueue(
                session,
                f"handoff:{handoff.id}:none_left:{person.id}",
                person,
                say("handoff.coordinator_none_left", id=handoff.id, need=label_of(handoff.need)),
                now,
            )
    if what and resident is not None:
        enqueue(session, f"handoff:{handoff.id}:{what}", resident, text, now, buttons=buttons)
    return text, buttons


# --- the follow-up -------------------------------------------------------------------------------------


def followup_buttons(handoff: Handoff) -> list[dict]:
    return [
        {"label": say(f"handoff.outcome.{choice}", handoff.lang), "value": f"outcome:{choice}:{handoff.id}"}
        for choice in OUTCOMES
    ]


def ask_followup(session: Session, handoff: Handoff, now: datetime, policy: Policy) -> bool:
    """Ask the resident "Is het gelukt?"; after the second question unanswered, the handoff closes."""
    if handoff.followups >= 2:
        close(session, handoff, "no_answer", now)
        return False
    resident = session.get(User, handoff.resident_id)
    handoff.followups += 1
    handoff.followup_at = now + policy.followup
    if resident is None or not resident.chat_id:
        return False
    service, organization = service_names(session, handoff.service_id)
    which = "first" if handoff.followups == 1 else "again"
    enqueue(
        session,
        f"handoff:{handoff.id}:followup:{handoff.followups}",
        resident,
        say(
            f"handoff.asked.{which}",
            handoff.lang,
            service=service,
            organization=organization,
            day=long_date(local_date(handoff.created_at), handoff.lang),
        ),
        now,
        buttons=followup_buttons(handoff),
    )
    log.info("handoff %s follow-up %d", handoff.id, handoff.followups)
    return True


def escalate(session: Session, handoff: Handoff, now: datetime, policy: Policy) -> int | None:
    """A card nobody picked up in time: to the coordinators (once), with the same buttons. Returns how many
    got it; None when the card was claimed or declined meanwhile."""
    if not _move(session, handoff, ("open",), status="unanswered", escalated_at=now):
        return None
    count(session, handoff, "unanswered")
    lead = say("handoff.card_unanswered", hours=round(policy.unanswered.total_seconds() / 3600))
    log.info("handoff %s unanswered: to the coordinators", handoff.id)
    return _send_card(session, handoff, coordinators(session), now, "unanswered", lead)


DAYTIME = (9, 20)  # local hours in which residents and coordinators get timed messages (from 9:00 to 20:00)


def daytime(now: datetime) -> bool:
    return DAYTIME[0] <= to_local(now).hour < DAYTIME[1]


def due(session: Session, now: datetime, policy: Policy) -> dict[str, int]:
    """The timed work of handoffs (every few minutes): unanswered cards to the coordinators, follow-ups
    to residents, then the retention."""
    done = {"unanswered": 0, "followups": 0}
    late = select(Handoff).where(Handoff.status == "open", Handoff.created_at <= now - policy.unanswered)
    if daytime(now):  # nobody is woken by a follow-up or a late card: they wait for the morning
        for handoff in list(session.scalars(late)):
            done["unanswered"] += escalate(session, handoff, now, policy) is not None
        asking = select(Handoff).where(Handoff.status.in_(ACTIVE), Handoff.followup_at <= now)
        for handoff in list(session.scalars(asking)):
            done["followups"] += ask_followup(session, handoff, now, policy)
    done |= apply_retention(session, now)
    return done


def answer_followup(session: Session, handoff: Handoff, choice: str, now: datetime, policy: Policy) -> str:
    """The resident's ✅ / ⏳ / ❌: counted; ✅ and ❌ close the handoff, ⏳ asks once more later (and at the
    second question closes it too). Returns what happened: helped, busy_again, busy_closed, not_helped, or
    answered (a second press on the same question, which changes nothing)."""
    if handoff.answered >= handoff.followups:  # this question was answered already: a second press counts nothing
        return "answered"
    handoff.answered = handoff.followups
    count(session, handoff, choice)
    if choice == "busy" and handoff.followups < 2:
        handoff.followup_at = now + policy.followup
        return "busy_again"
    close(session, handoff, choice, now)
    return "busy_closed" if choice == "busy" else choice


# --- relaying "via deze chat" ---------------------------------------------------------------------------


def relay_to_resident(session: Session, handoff: Handoff, text: str, now: datetime) -> bool:
    resident = session.get(User, handoff.resident_id)
    if resident is None or not resident.chat_id:
        return False
    handoff.relays += 1
    handoff.awaiting_reply = True
    _, organization = service_names(session, handoff.service_id)
    enqueue(
        session,
        f"handoff:{handoff.id}:relay:{handoff.relays}",
        resident,
        say("handoff.relayed", handoff.lang, organization=organization, text=text),
        now,
        buttons=[{"label": say("handoff.button_reply", handoff.lang), "value": f"handoff:reply:{handoff.id}"}],
    )
    log.info("handoff %s: a message relayed to the resident", handoff.id)
    return True


def relay_to_professional(session: Session, handoff: Handoff, text: str, now: datetime) -> bool:
    professional = session.get(User, handoff.claimed_by) if handoff.claimed_by else None
    handoff.awaiting_reply = False
    if professional is None:
        return False
    enqueue(
        session,
        f"handoff:{handoff.id}:answer:{handoff.relays}",
        professional,
        say("handoff.relayed_answer", id=handoff.id, name=handoff.first_name or "", text=text),
        now,
        buttons=[{"label": say("handoff.button_message"), "value": f"card:message:{handoff.id}"}],
    )
    log.info("handoff %s: an answer relayed to the professional", handoff.id)
    return True


# --- retention, erasure, the coordinator's list -----------------------------------------------------------


def _delete(session: Session, handoffs: list[Handoff]) -> int:
    for handoff in handoffs:
        session.execute(delete(OutboxMessage).where(OutboxMessage.idempotency_key.like(f"handoff:{handoff.id}:%")))
        session.delete(handoff)
    session.flush()
    return len(handoffs)


def apply_retention(session: Session, now: datetime) -> dict[str, int]:
    """Handoffs past their retention are deleted, with the outbox rows that carried them."""
    old = list(session.scalars(select(Handoff).where(Handoff.expires_at <= now)))
    if old:
        log.info("handoff retention: %d deleted", len(old))
    return {"handoffs_deleted": _delete(session, old)}


def forget(session: Session, user_ids: list[int]) -> int:
    """`/vergeet`: a person's handoffs go at once, with every outbox row of them (also the cards that
    professionals received)."""
    return _delete(session, list(session.scalars(select(Handoff).where(Handoff.resident_id.in_(user_ids)))))


def listing(session: Session, status: str | None = None, limit: int = 500) -> list[dict]:
    """Handoffs without anything personal: for `/doorverwijzingen` and `wijkbot handoff list`."""
    query = select(Handoff).order_by(Handoff.created_at.desc(), Handoff.id.desc()).limit(limit)
    if status:
        query = query.where(Handoff.status == status)
    rows = []
    for h in session.scalars(query):
        service, organization = service_names(session, h.service_id)
        rows.append(
            {
                "id": h.id,
                "status": h.status,
                "outcome": h.outcome,
                "service_id": h.service_id,
                "service": service,
                "organization": organization,
                "need": h.need,
                "decline_reason": h.decline_reason,
                "created_at": h.created_at.isoformat(),
                "escalated_at": h.escalated_at.isoformat() if h.escalated_at else None,
                "claimed_at": h.claimed_at.isoformat() if h.claimed_at else None,
                "closed_at": h.closed_at.isoformat() if h.closed_at else None,
                "followups": h.followups,
            }
        )
    return rows
