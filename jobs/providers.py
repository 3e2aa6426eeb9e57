"""The monthly "Klopt dit nog?" to each organisation's linked professionals, and how their listing is shown.

Every `provider_check_days` (30) an organisation of the map with linked professionals
(``socialekaart.providers.membership``) is asked once: a ``provider_check`` row and one outbox message per member,
listing its services (name, phone, address, hours, status, capacity) with the buttons *Alles klopt* and
*Iets is veranderd*. The row and the messages are written in one transaction under idempotency keys
(``check:<check id>:user:<user id>``), and an organisation is due again only `provider_check_days` after it was
last asked: running the round twice, or after a restart, asks nobody twice. The same overview opens with
``/aanbod`` (bot/flows/providers.py).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.floor.messages import Button
from bot.floor.outbox import enqueue
from bot.floor.texts import long_date, say, words
from socialekaart.listing import (
    ProviderCheck,
    address_text,
    current_value,
    services_of,
    standings,
)
from socialekaart.models import Organization, Service
from socialekaart.providers import membership

log = logging.getLogger(__name__)
MAX_SERVICES_SHOWN = 25


def status_text(status: str) -> str:
    key = {"active": "active", "temporarily closed": "paused", "defunct": "stopped", "inactive": "inactive"}
    return say(f"providers.status_{key.get(status, 'stopped')}")


def capacity_text(capacity: str, until: date | None) -> str:
    if capacity == "open":
        return say("providers.place_open")
    name = say(f"providers.place_{capacity}")
    return say("providers.room_from", capacity=name, day=long_date(until)) if until else name


def service_lines(session: Session, service: Service, n: int) -> list[str]:
    """One service as its provider checks it: every fact on its own line."""
    days = words("calendar.days_short")
    standing = standings(session, [service.id])[service.id]
    unknown = say("providers.unknown")
    lines = [f"{n}. {service.name}"]
    lines.append("   " + say("providers.line_phone", phone=current_value(service, "phone", days) or unknown))
    lines.append("   " + say("providers.line_address", address=address_text(service) or unknown))
    lines.append("   " + say("providers.line_hours", hours=current_value(service, "hours", days) or unknown))
    lines.append("   " + say("providers.line_status", status=status_text(service.status)))
    lines.append(
        "   " + say("providers.line_capacity", capacity=capacity_text(standing.capacity, standing.capacity_from))
    )
    if standing.confirmed_on:
        lines.append("   " + say("providers.line_confirmed", day=long_date(standing.confirmed_on)))
    return lines


def overview(session: Session, organization: Organization) -> str:
    """The organisation's listing, as the monthly check and /aanbod show it."""
    services = services_of(session, organization)
    lines = [say("providers.overview_intro", organization=organization.name)]
    for n, service in enumerate(services[:MAX_SERVICES_SHOWN], 1):
        lines.extend(service_lines(session, service, n))
    if len(services) > MAX_SERVICES_SHOWN:
        lines.append(say("providers.overview_more", count=len(services) - MAX_SERVICES_SHOWN))
    lines.append("")
    lines.append(say("providers.overview_question"))
    return "\n".join(lines)


def check_buttons(check_id: int | None) -> list[Button]:
    suffix = f":{check_id}" if check_id else ""
    return [
        Button(label=say("providers.button_ok"), value=f"check:ok{suffix}"),
        Button(label=say("providers.button_changed"), value=f"check:changed{suffix}"),
    ]


def due_organizations(session: Session, now: datetime, every: timedelta) -> list[Organization]:
    """Organisations with services whose last check was asked `every` ago or longer (or never)."""
    last = dict(
        session.execute(
            select(ProviderCheck.organization_id, func.max(ProviderCheck.asked_at)).group_by(
                ProviderCheck.organization_id
            )
        ).all()
    )
    with_services = select(Service.organization_id).where(Service.status != "defunct")
    orgs = session.scalars(select(Organization).where(Organization.id.in_(with_services)).order_by(Organization.id))
    return [o for o in orgs if o.id not in last or last[o.id] <= now - every]


def ask_providers(session: Session, now: datetime, every: timedelta) -> int:
    """The round: every organisation that is due and has linked professionals is asked once. Returns how many
    messages were queued."""
    queued = 0
    linked = membership(session)
    for org in due_organizations(session, now, every):
        people = linked.get(org.id, [])
        if not people:
            continue
        check = ProviderCheck(organization_id=org.id, asked_at=now)
        session.add(check)
        session.flush()
        text = overview(session, org)
        buttons = [b.model_dump() for b in check_buttons(check.id)]
        for user in people:
            enqueue(session, f"check:{check.id}:user:{user.id}", user, text, now, buttons=buttons)
            queued += 1
        log.info("provider check %s asked of %d people", check.id, len(people))
    return queued
