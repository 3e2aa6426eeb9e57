"""Reading the map for search with plain SQLAlchemy Core selects: rows, not ORM objects.

``service_records`` gives the same records as ``hsds.service_dict`` over ``hsds.load_services`` for the
fields search reads (``ServiceDoc.from_record``), in the map's order, at a fraction of the cost: no
identity map, no relationship loading, one select per table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator

from sqlalchemy import select, true
from sqlalchemy.orm import Session

from socialekaart.models import (
    Address,
    Attribute,
    Contact,
    CostOption,
    Language,
    Location,
    MapMeta,
    Organization,
    Phone,
    Schedule,
    Service,
    ServiceArea,
    ServiceAtLocation,
    TaxonomyTerm,
)

CHUNK = 500  # ids per IN (...) when reading a few services


def chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    """ITEMS in lists of SIZE: ids for one IN (...) each."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def revision_value(session: Session) -> str:
    """The map's revision ('N time'), as ``hsds.revision`` reads it."""
    return session.scalar(select(MapMeta.value).where(MapMeta.key == "revision")) or "0"


def revision_number(revision: str) -> int:
    try:
        return int(revision.split()[0])
    except (ValueError, IndexError):
        return 0


def _grouped(session: Session, columns, owner, where, ids: list[str] | None, order) -> dict[str, list]:
    """Rows of a child table by their owner's id, in `order`; all rows, or those of `ids`."""
    out: dict[str, list] = defaultdict(list)
    stmts = (
        [select(*columns).where(where).order_by(*order)]
        if ids is None
        else [select(*columns).where(where, owner.in_(chunk)).order_by(*order) for chunk in chunks(ids)]
    )
    for stmt in stmts:
        for row in session.execute(stmt):
            out[row[0]].append(row)
    return out


def _by_id(session: Session, columns, key, ids: set[str], everything: bool) -> dict[str, tuple]:
    """Shared rows by id: those of `ids`, or (reading the whole map) the whole table at once."""
    if everything:
        return {row[0]: row for row in session.execute(select(*columns))}
    out = {}
    for chunk in chunks(sorted(ids)):
        for row in session.execute(select(*columns).where(key.in_(chunk))):
            out[row[0]] = row
    return out


def _phones(rows) -> list[dict]:
    return [{"number": r.number} for r in rows]


def service_records(
    session: Session, ids: Iterable[str] | None = None, *, active_only: bool = True
) -> list[tuple[int, dict]]:
    """(position, record) of the map's services in its order (position, id): every one, or those of `ids`
    (absent ones are left out)."""
    wanted = None if ids is None else sorted(set(ids))
    s = Service.__table__.c
    stmt = select(Service.__table__).order_by(s.position, s.id)
    if active_only:
        stmt = stmt.where(s.status == "active")
    services = (
        list(session.execute(stmt))
        if wanted is None
        else sorted(
            (row for chunk in chunks(wanted) for row in session.execute(stmt.where(s.id.in_(chunk)))),
            key=lambda r: (r.position, r.id),
        )
    )
    if not services:
        return []
    mine = None if wanted is None else [r.id for r in services]
    sal = _grouped(
        session,
        (ServiceAtLocation.service_id, ServiceAtLocation.location_id, ServiceAtLocation.position),
        ServiceAtLocation.service_id,
        true(),
        mine,
        (ServiceAtLocation.position,),
    )
    location_ids = {row.location_id for rows in sal.values() for row in rows}
    locations = _by_id(
        session,
        (Location.id, Location.name, Location.latitude, Location.longitude),
        Location.id,
        location_ids,
        mine is None,
    )
    addresses = _grouped(
        session,
        (Address.location_id, Address.address_1, Address.city, Address.postal_code),
        Address.location_id,
        true(),
        None if mine is None else sorted(location_ids),
        (Address.position,),
    )
    phones = _grouped(
        session,
        (Phone.service_id, Phone.number),
        Phone.service_id,
        Phone.service_id.is_not(None),
        mine,
        (Phone.position,),
    )
    contacts = _grouped(
        session,
        (Contact.service_id, Contact.id, Contact.name, Contact.title, Contact.department, Contact.email),
        Contact.service_id,
        Contact.service_id.is_not(None),
        mine,
        (Contact.position,),
    )
    contact_ids = [row.id for rows in contacts.values() for row in rows]
    contact_phones = _grouped(
        session,
        (Phone.contact_id, Phone.number),
        Phone.contact_id,
        Phone.contact_id.is_not(None),
        None if mine is None else contact_ids,
        (Phone.position,),
    )
    schedules = _grouped(
        session,
        (
            Schedule.service_id,
            Schedule.freq,
            Schedule.byday,
            Schedule.opens_at,
            Schedule.closes_at,
            Schedule.description,
        ),
        Schedule.service_id,
        Schedule.service_id.is_not(None),
        mine,
        (Schedule.position,),
    )
    attributes = _grouped(
        session, (Attribute.link_id, Attribute.taxonomy_term_id), Attribute.link_id, true(), mine, (Attribute.position,)
    )
    term_ids = {row.taxonomy_term_id for rows in attributes.values() for row in rows}
    terms = _by_id(
        session, (TaxonomyTerm.id, TaxonomyTerm.code, TaxonomyTerm.name), TaxonomyTerm.id, term_ids, mine is None
    )
    languages = _grouped(
        session,
        (Language.service_id, Language.name, Language.code),
        Language.service_id,
        Language.service_id.is_not(None),
        mine,
        (Language.position,),
    )
    areas = _grouped(
        session,
        (ServiceArea.service_id, ServiceArea.name),
        ServiceArea.service_id,
        ServiceArea.service_id.is_not(None),
        mine,
        (ServiceArea.position,),
    )
    costs = _grouped(
        session, (CostOption.service_id, CostOption.amount), CostOption.service_id, true(), mine, (CostOption.position,)
    )
    org_ids = {r.organization_id for r in services if r.organization_id}
    orgs = _by_id(
        session,
        (
            Organization.id,
            Organization.name,
            Organization.alternate_name,
            Organization.description,
            Organization.website,
        ),
        Organization.id,
        org_ids,
        mine is None,
    )

    def location(location_id: str) -> dict:
        loc = locations[location_id]
        return {
            "name": loc.name,
            "latitude": loc.latitude,
            "longitude": loc.longitude,
            "addresses": [
                {"address_1": a.address_1, "city": a.city, "postal_code": a.postal_code}
                for a in addresses.get(location_id, ())
            ],
        }

    out = []
    for r in services:
        org = orgs.get(r.organization_id) if r.organization_id else None
        record = {
            "id": r.id,
            "name": r.name,
            "alternate_name": r.alternate_name,
            "description": r.description,
            "url": r.url,
            "email": r.email,
            "eligibility_description": r.eligibility_description,
            "fees_description": r.fees_description,
            "languages": [{"name": x.name, "code": x.code} for x in languages.get(r.id, ())],
            "organization": None
            if org is None
            else {
                "name": org.name,
                "alternate_name": org.alternate_name,
                "description": org.description,
                "website": org.website,
            },
            "service_at_locations": [{"location": location(x.location_id)} for x in sal.get(r.id, ())],
            "phones": _phones(phones.get(r.id, ())),
            "contacts": [
                {
                    "name": c.name,
                    "title": c.title,
                    "department": c.department,
                    "email": c.email,
                    "phones": _phones(contact_phones.get(c.id, ())),
                }
                for c in contacts.get(r.id, ())
            ],
            "schedules": [
                {
                    "freq": x.freq,
                    "byday": x.byday,
                    "opens_at": x.opens_at,
                    "closes_at": x.closes_at,
                    "description": x.description,
                }
                for x in schedules.get(r.id, ())
            ],
            "attributes": [
                {"taxonomy_term": {"code": terms[a.taxonomy_term_id].code, "name": terms[a.taxonomy_term_id].name}}
                for a in attributes.get(r.id, ())
            ],
            "service_areas": [{"name": x.name} for x in areas.get(r.id, ())],
            "cost_options": [{"amount": x.amount} for x in costs.get(r.id, ())],
        }
        record.update(r.extra or {})  # as service_dict does
        out.append((r.position, record))
    return out
