"""Providers keep their own listing current (issue 14): confirmations, changes, capacity and residents' reports.

Four tables beside the map, keyed by the map's own ids without foreign keys (an import may replace a service;
what a provider said about it stays, as duplicate decisions do):

- ``service_listing``: per service, the provider's last confirmation ("Alles klopt", or a change applied) and
  its capacity (open, full, waitlist with an expected date). An imported HSDS ``assured_date`` is not a
  provider's confirmation: only this table says "bevestigd door de aanbieder".
- ``provider_setting``: per organisation, whether its changes go straight onto the map (default: a
  coordinator approves them first).
- ``provider_check``: every "Klopt dit nog?" asked of an organisation, and when it was answered.
- ``provider_change``: a change a provider proposed (hours, phone, address, status, description), pending
  until a coordinator approves or rejects it, or applied at once. The new value is blanked once decided and
  older than the retention period.
- ``listing_report``: a resident's "Klopt niet: fout in de gegevens" about a service: the reason and, for "anders", one
  line of text. No reporter is stored. The text is deleted when the report is resolved or after retention.

Every write to the map goes through the map's write path: the service's ``last_modified``, then
``hsds.bump_revision`` and ``changelog.record_changes`` (so a search index is brought up to date). Logs name
events and ids, never a value or a report's text.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, false, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.floor.clock import local_date
from bot.floor.db import Base, UTCDateTime
from bot.floor.models import User
from bot.floor.outbox import withdraw
from socialekaart.changelog import record_changes
from socialekaart.hours import parse_byday, parse_notation
from socialekaart.hsds import bump_revision, delete_orphans
from socialekaart.models import (
    Address,
    Location,
    Organization,
    Phone,
    Schedule,
    Service,
    ServiceAtLocation,
)

log = logging.getLogger(__name__)

CAPACITIES = ("open", "full", "waitlist")
FIELDS = ("hours", "phone", "address", "status", "description")
STATUSES = {"active": "active", "paused": "temporarily closed", "stopped": "defunct"}  # button code -> HSDS
REASONS = ("closed", "phone", "moved", "other")
MAX_DESCRIPTION = 1000
MAX_REPORT = 200


class ServiceListing(Base):
    """What a provider said about one service: its last confirmation and its capacity."""

    __tablename__ = "service_listing"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service_id: Mapped[str] = mapped_column(String(64), unique=True)
    capacity: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    capacity_from: Mapped[date | None] = mapped_column(Date, nullable=True, doc="expected date with places again")
    capacity_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    confirmed_on: Mapped[date | None] = mapped_column(Date, nullable=True, doc="the provider's confirmation (local)")
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ProviderSetting(Base):
    """Per organisation: whether its changes go onto the map without a coordinator's approval."""

    __tablename__ = "provider_setting"

    organization_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    direct_changes: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ProviderCheck(Base):
    """One "Klopt dit nog?" asked of an organisation's linked professionals."""

    __tablename__ = "provider_check"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organization_id: Mapped[str] = mapped_column(String(64), index=True)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    answer: Mapped[str | None] = mapped_column(String(16), nullable=True)  # ok | changed


class ProviderChange(Base):
    """A change of a service proposed by its provider: pending, applied or rejected."""

    __tablename__ = "provider_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service_id: Mapped[str] = mapped_column(String(64), index=True)
    organization_id: Mapped[str] = mapped_column(String(64), index=True)
    field: Mapped[str] = mapped_column(String(16))
    value: Mapped[str | None] = mapped_column(Text, nullable=True)
    # pending, applied, rejected, superseded (by a newer proposal for the same service and field)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    proposed_by: Mapped[int | None] = mapped_column(
        ForeignKey("wijkbot_user.id", ondelete="SET NULL"), nullable=True, index=True
    )
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[int | None] = mapped_column(
        ForeignKey("wijkbot_user.id", ondelete="SET NULL"), nullable=True, index=True
    )
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ListingReport(Base):
    """A resident's report that something of a service is wrong. Holds no reporter."""

    __tablename__ = "listing_report"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service_id: Mapped[str] = mapped_column(String(64), index=True)
    organization_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    reason: Mapped[str] = mapped_column(String(16))  # closed | phone | moved | other
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


# --- reading ----------------------------------------------------------------------------------------


def services_of(session: Session, organization: Organization) -> list[Service]:
    """The organisation's services in map order (every status: a closed one can be opened again)."""
    return list(
        session.scalars(
            select(Service).where(Service.organization_id == organization.id).order_by(Service.position, Service.id)
        )
    )


def listing(session: Session, service_id: str, *, create: bool = False) -> ServiceListing | None:
    found = session.scalar(select(ServiceListing).where(ServiceListing.service_id == service_id))
    if found is None and create:
        found = ServiceListing(service_id=service_id, capacity="open")
        session.add(found)
    return found


@dataclass(frozen=True)
class Standing:
    """What a resident's answer says of a service: its capacity and the provider's confirmation."""

    capacity: str = "open"
    capacity_from: date | None = None
    confirmed_on: date | None = None

    @property
    def has_room(self) -> bool:
        return self.capacity == "open"


def standings(session: Session, service_ids: list[str], today: date | None = None) -> dict[str, Standing]:
    """The standing of each of these services (those without a listing row are open and unconfirmed). With
    `today`, a full or waitlisted service whose expected date has come counts as open again: a date the
    provider gave is not kept as a reason to rank the service down after it passed."""
    if not service_ids:
        return {}
    rows = session.scalars(select(ServiceListing).where(ServiceListing.service_id.in_(service_ids)))
    found = {
        r.service_id: Standing("open", None, r.confirmed_on)
        if today is not None and r.capacity_from is not None and r.capacity_from <= today
        else Standing(r.capacity, r.capacity_from, r.confirmed_on)
        for r in rows
    }
    return {sid: found.get(sid, Standing()) for sid in service_ids}


def direct_changes(session: Session, organization_id: str) -> bool:
    setting = session.get(ProviderSetting, organization_id)
    return bool(setting and setting.direct_changes)


def set_direct_changes(session: Session, organization_id: str, direct: bool) -> None:
    setting = session.get(ProviderSetting, organization_id)
    if setting is None:
        session.add(ProviderSetting(organization_id=organization_id, direct_changes=direct))
    else:
        setting.direct_changes = direct


def find_organization(session: Session, ref: str) -> Organization | None:
    """An organisation by id or by name (case and spacing ignored)."""
    org = session.get(Organization, ref)
    if org is not None:
        return org
    wanted = " ".join(ref.casefold().split())
    for candidate in session.scalars(select(Organization)):
        if wanted in {" ".join(n.casefold().split()) for n in (candidate.name, candidate.alternate_name) if n}:
            return candidate
    return None


# --- how a service is shown, in the notation a provider types ------------------------------------------


def hours_notation(schedules: list[Schedule], day_names: list[str]) -> str:
    """Schedules as the CSV notation (ma-vr 08:00-17:00; 2e di 14:00-16:00), with `day_names` (ma ... zo)."""
    parts = []
    for s in schedules:
        days = parse_byday(s.byday or "")
        if not days or not s.opens_at or not s.closes_at:
            if s.description:
                parts.append(s.description)
            continue
        ordinal = days[0][0]
        numbers = sorted({d for _, d in days})
        prefix = "" if not ordinal else ("laatste " if ordinal == -1 else f"{ordinal}e ")
        parts.append(f"{prefix}{_day_ranges(numbers, day_names)} {s.opens_at[:5]}-{s.closes_at[:5]}")
    return "; ".join(parts)


def _day_ranges(numbers: list[int], names: list[str]) -> str:
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ",".join(f"{names[r[0]]}-{names[r[-1]]}" if len(r) >= 3 else ",".join(names[d] for d in r) for r in runs)


def address_text(service: Service) -> str | None:
    for sal in service.service_at_locations:
        for a in sal.location.addresses:
            if a.address_1:
                postcode = _postcode_text(a.postal_code) if a.postal_code else ""
                return ", ".join(x for x in (a.address_1, f"{postcode} {a.city or ''}".strip()) if x)
    return None


def _postcode_text(code: str) -> str:
    code = code.replace(" ", "").upper()
    return f"{code[:4]} {code[4:]}" if len(code) == 6 else code


# --- checking what a provider typed ------------------------------------------------------------------


class NotValid(ValueError):
    """A typed value that cannot be used; `key` names the B1 sentence that says why (providers.invalid_<key>)."""

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


# the area codes of three digits (053, 010, 088, ...); the others have four (0546)
_THREE_DIGIT_AREAS = frozenset(
    re.findall(
        r"\d{3}",
        "010 013 015 020 023 024 026 030 033 035 036 038 040 043 045 046 050 053 "
        "055 058 070 071 072 073 074 075 076 077 078 079 084 085 087 088 091 097",
    )
)
_POSTCODE = re.compile(r"\b([1-9]\d{3})\s?([a-zA-Z]{2})\b")


def dutch_phone(text: str) -> str:
    """A Dutch phone number, written the usual way (053-5555857, 06-12345678, 0800-1234, 14 053)."""
    digits = re.sub(r"[\s().-]", "", text.strip())
    if digits.startswith("+31"):
        digits = "0" + digits[3:]
    elif digits.startswith("0031"):
        digits = "0" + digits[4:]
    if not digits.isascii() or not digits.isdigit():
        raise NotValid("phone")
    if len(digits) == 10 and digits[0] == "0" and digits[1] != "0":
        if digits.startswith("06"):
            return f"06-{digits[2:]}"
        area = 3 if digits[:3] in _THREE_DIGIT_AREAS else 4
        return f"{digits[:area]}-{digits[area:]}"
    if re.fullmatch(r"0(800|900|906|909)\d{4,7}", digits):
        return f"{digits[:4]}-{digits[4:]}"
    if re.fullmatch(r"14\d{3,4}", digits):
        return f"14 {digits[2:]}"
    raise NotValid("phone")


@dataclass(frozen=True)
class NewAddress:
    street: str
    postcode: str  # 7543AB
    city: str | None

    def text(self) -> str:
        return ", ".join(x for x in (self.street, f"{_postcode_text(self.postcode)} {self.city or ''}".strip()) if x)


def parse_address(text: str) -> NewAddress:
    """'Atalantaplein 2, 7543 AB Oosterwaarde': a street with a house number and a postcode; the city may
    be left out (the old one stays)."""
    found = _POSTCODE.search(text)
    if not found:
        raise NotValid("address")
    street = text[: found.start()].strip(" ,")
    city = text[found.end() :].strip(" ,") or None
    if not re.search(r"[^\W\d_]", street) or not re.search(r"\d", street) or len(text) > 200:
        raise NotValid("address")
    return NewAddress(" ".join(street.split()), (found.group(1) + found.group(2)).upper(), city)


MAX_HOURS = 300  # a week of opening hours in the notation fits in far less


def check_value(field: str, text: str) -> str:
    """The value of a change as it is stored, or NotValid. Status values come from buttons."""
    text = " ".join(text.split())
    if field == "hours":
        try:
            if len(text) > MAX_HOURS or not parse_notation(text):
                raise ValueError("empty")
        except ValueError:
            raise NotValid("hours") from None
        return text
    if field == "phone":
        return dutch_phone(text)
    if field == "address":
        return parse_address(text).text()
    if field == "description":
        if len(text) > MAX_DESCRIPTION:
            raise NotValid("description_long")
        if len(text) < 10:
            raise NotValid("description_short")
        return text
    if field == "status" and text in STATUSES.values():
        return text
    raise NotValid("field")


def current_value(service: Service, field: str, day_names: list[str]) -> str | None:
    if field == "hours":
        return hours_notation(service.schedules, day_names) or None
    if field == "phone":
        return service.phones[0].number if service.phones else None
    if field == "address":
        return address_text(service)
    if field == "status":
        return service.status
    if field == "description":
        return service.description
    return None


# --- writing -----------------------------------------------------------------------------------------


def _confirmed(session: Session, services: list[Service], now: datetime) -> None:
    today = local_date(now)
    for service in services:
        service.assured_date = today
        row = listing(session, service.id, create=True)
        assert row is not None
        row.confirmed_on, row.confirmed_at = today, now


def _map_changed(session: Session, services: list[Service], now: datetime) -> None:
    """The map's write path: every search index built from it is brought up to date."""
    for service in services:
        service.last_modified = now
    session.flush()
    bump_revision(session, now)
    record_changes(session, [s.id for s in services], now=now)


def answer_checks(session: Session, organization_id: str, answer: str, now: datetime) -> None:
    session.execute(
        update(ProviderCheck)
        .where(ProviderCheck.organization_id == organization_id, ProviderCheck.answered_at.is_(None))
        .values(answered_at=now, answer=answer)
    )


def confirm_all(session: Session, organization: Organization, now: datetime) -> int:
    """ "Alles klopt": every active service of the organisation gets HSDS assured_date = today (local) and
    is recorded as confirmed by its provider; open checks are answered. Returns how many services."""
    active = [s for s in services_of(session, organization) if s.status == "active"]
    _confirmed(session, active, now)
    answer_checks(session, organization.id, "ok", now)
    if active:
        _map_changed(session, active, now)
    log.info("provider confirmed organisation services: %d", len(active))
    return len(active)


def set_capacity(session: Session, service: Service, capacity: str, until: date | None, now: datetime) -> None:
    """The provider's own operational fact, applied at once (no approval): open, full or a waitlist."""
    if capacity not in CAPACITIES:
        raise ValueError(f"capacity is one of {CAPACITIES}")
    row = listing(session, service.id, create=True)
    assert row is not None
    row.capacity = capacity
    row.capacity_from = None if capacity == "open" else until
    row.capacity_set_at = now
    log.info("capacity of a service set to %s", capacity)


def propose(
    session: Session, service: Service, field: str, value: str, proposer: User | None, now: datetime
) -> ProviderChange:
    """A provider's change: applied at once when the organisation's setting says so, else pending."""
    if field not in FIELDS:
        raise ValueError(f"field is one of {FIELDS}")
    # a newer proposal for the same service and field replaces one still waiting: approving the older one
    # later must not overwrite it
    session.execute(
        update(ProviderChange)
        .where(
            ProviderChange.service_id == service.id,
            ProviderChange.field == field,
            ProviderChange.status == "pending",
        )
        .values(status="superseded", decided_at=now)
        .execution_options(synchronize_session="fetch")
    )
    change = ProviderChange(
        service_id=service.id,
        organization_id=service.organization_id or "",
        field=field,
        value=value,
        status="pending",
        proposed_by=proposer.id if proposer else None,
        proposed_at=now,
    )
    session.add(change)
    session.flush()
    answer_checks(session, change.organization_id, "changed", now)
    log.info("provider change %s proposed (%s)", change.id, field)
    if direct_changes(session, change.organization_id):
        apply_change(session, change, None, now)
    return change


def decide(session: Session, change: ProviderChange, approve: bool, by: User | None, now: datetime) -> bool:
    """A coordinator's decision on a pending change; False when it was already decided."""
    if change.status != "pending":
        return False
    if approve:
        apply_change(session, change, by, now)
    else:
        change.status, change.decided_by, change.decided_at = "rejected", by.id if by else None, now
        log.info("provider change %s rejected", change.id)
    return True


def apply_change(session: Session, change: ProviderChange, by: User | None, now: datetime) -> None:
    service = session.get(Service, change.service_id)
    change.decided_by, change.decided_at = (by.id if by else None), now
    if service is None or change.value is None:  # the service left the map meanwhile
        change.status = "rejected"
        log.info("provider change %s dropped: the service is gone", change.id)
        return
    _WRITERS[change.field](session, service, change.value)
    change.status = "applied"
    _confirmed(session, [service], now)  # applying a change counts as a confirmation of that service
    _map_changed(session, [service], now)
    log.info("provider change %s applied (%s)", change.id, change.field)


def _write_hours(session: Session, service: Service, value: str) -> None:
    service.schedules.clear()
    session.flush()
    for n, fields in enumerate(parse_notation(value)):
        service.schedules.append(Schedule(id=str(uuid.uuid4()), position=n, timezone=None, **fields))


def _write_phone(session: Session, service: Service, value: str) -> None:
    if service.phones:
        service.phones[0].number = value
    else:
        service.phones.append(Phone(id=str(uuid.uuid4()), position=0, number=value, type="voice"))


def _write_address(session: Session, service: Service, value: str) -> None:
    """The service moved: a location of its own at the new address (a location shared with other services
    stays where it is). Coordinates come from a known address with the same postcode, else none."""
    new = parse_address(value)
    first = service.service_at_locations[0] if service.service_at_locations else None
    old_city = next((a.city for a in first.location.addresses), None) if first else None
    near = session.execute(
        select(Location.latitude, Location.longitude)
        .join(Address, Address.location_id == Location.id)
        .where(func.replace(func.upper(Address.postal_code), " ", "") == new.postcode, Location.latitude.is_not(None))
        .limit(1)
    ).first()
    location = Location(
        id=str(uuid.uuid4()),
        location_type="physical",
        name=first.location.name if first else None,
        latitude=near[0] if near else None,
        longitude=near[1] if near else None,
    )
    location.addresses.append(
        Address(
            id=str(uuid.uuid4()),
            position=0,
            address_1=new.street,
            postal_code=new.postcode,
            city=new.city or old_city,
            country="NL",
            address_type="physical",
        )
    )
    session.add(location)
    if first is not None:
        service.service_at_locations.remove(first)
    service.service_at_locations.insert(0, ServiceAtLocation(id=str(uuid.uuid4()), location=location))
    for n, sal in enumerate(service.service_at_locations):
        sal.position = n
    session.flush()
    delete_orphans(session)


def _write_status(session: Session, service: Service, value: str) -> None:
    service.status = value


def _write_description(session: Session, service: Service, value: str) -> None:
    service.description = value


_WRITERS = {
    "hours": _write_hours,
    "phone": _write_phone,
    "address": _write_address,
    "status": _write_status,
    "description": _write_description,
}


# --- residents' reports ---------------------------------------------------------------------------------


def add_report(
    session: Session, service: Service, reason: str, text: str | None, now: datetime
) -> ListingReport | None:
    """A resident's report, or None when the same report (service and reason, without a typed line) is
    still open: the provider and the coordinator are not told the same thing twice."""
    if reason not in REASONS:
        raise ValueError(f"reason is one of {REASONS}")
    if not text:
        same = select(ListingReport.id).where(
            ListingReport.service_id == service.id,
            ListingReport.reason == reason,
            ListingReport.resolved_at.is_(None),
        )
        if session.scalar(same.limit(1)) is not None:
            log.info("listing report about a service (%s): already open", reason)
            return None
    report = ListingReport(
        service_id=service.id,
        organization_id=service.organization_id,
        reason=reason,
        text=(text or "")[:MAX_REPORT] or None,
        created_at=now,
    )
    session.add(report)
    session.flush()
    log.info("listing report %s about a service (%s)", report.id, reason)
    return report


def resolve_report(session: Session, report: ListingReport, now: datetime) -> bool:
    """Resolved: its text is deleted. False when it was resolved before."""
    if report.resolved_at is not None:
        return False
    report.resolved_at, report.text = now, None
    forget_copies(session, [report.id])
    log.info("listing report %s resolved", report.id)
    return True


def forget_copies(session: Session, report_ids: list[int]) -> None:
    """The copies of these reports' text in the outbox go too; one not sent yet is no longer sent."""
    for report_id in report_ids:
        withdraw(session, f"report:{report_id}:user:")


def apply_retention(session: Session, now: datetime, keep: timedelta) -> dict[str, int]:
    """A report's text older than `keep` is deleted (the report stays, without it), with its copies in the
    outbox; so is the value of a change decided longer ago than that."""
    cutoff = now - keep
    expired = list(
        session.scalars(
            select(ListingReport.id).where(ListingReport.created_at < cutoff, ListingReport.text.is_not(None))
        )
    )
    if expired:
        session.execute(update(ListingReport).where(ListingReport.id.in_(expired)).values(text=None))
        forget_copies(session, expired)
    values = session.execute(
        update(ProviderChange)
        .where(ProviderChange.decided_at < cutoff, ProviderChange.value.is_not(None))
        .values(value=None)
    ).rowcount
    return {"report_texts": len(expired), "change_values": values or 0}


# --- the freshness report -------------------------------------------------------------------------------


def freshness(session: Session, now: datetime, months: int, members: dict[str, int]) -> list[dict]:
    """Per organisation: its active services, how many its provider confirmed within `months`, the last
    confirmation, changes pending, checks asked and unanswered, open reports; `members` (organisation id ->
    linked professionals) is given by the caller. Most to do first: open reports, pending changes, services
    not confirmed."""
    since = local_date(now) - timedelta(days=round(30.44 * months))
    confirmed = dict(session.execute(select(ServiceListing.service_id, ServiceListing.confirmed_on)).all())
    pending = _count_by(session, ProviderChange.organization_id, ProviderChange.status == "pending")
    reports = _count_by(session, ListingReport.organization_id, ListingReport.resolved_at.is_(None))
    asked = _count_by(session, ProviderCheck.organization_id, ProviderCheck.id.is_not(None))
    unanswered = _count_by(session, ProviderCheck.organization_id, ProviderCheck.answered_at.is_(None))
    last_asked = dict(
        session.execute(
            select(ProviderCheck.organization_id, func.max(ProviderCheck.asked_at)).group_by(
                ProviderCheck.organization_id
            )
        ).all()
    )
    direct = set(session.scalars(select(ProviderSetting.organization_id).where(ProviderSetting.direct_changes)))
    rows = []
    for org in session.scalars(select(Organization).order_by(Organization.name)):
        active = list(
            session.scalars(select(Service.id).where(Service.organization_id == org.id, Service.status == "active"))
        )
        dates = [d for sid in active if (d := confirmed.get(sid)) is not None]
        fresh = sum(1 for d in dates if d >= since)
        rows.append(
            {
                "organization_id": org.id,
                "organization": org.name,
                "services": len(active),
                "confirmed": fresh,
                "not_confirmed": len(active) - fresh,
                "last_confirmed": max(dates).isoformat() if dates else None,
                "changes_pending": pending.get(org.id, 0),
                "checks_asked": asked.get(org.id, 0),
                "checks_unanswered": unanswered.get(org.id, 0),
                "last_asked": last_asked[org.id].isoformat() if org.id in last_asked else None,
                "reports_open": reports.get(org.id, 0),
                "members": members.get(org.id, 0),
                "changes": "direct" if org.id in direct else "approval",
            }
        )
    rows.sort(key=lambda r: (-r["reports_open"], -r["changes_pending"], -r["not_confirmed"], r["organization"]))
    return rows


def _count_by(session: Session, column, where) -> dict[str, int]:
    return dict(session.execute(select(column, func.count()).where(where).group_by(column)).all())
