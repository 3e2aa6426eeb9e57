"""Services of one page from plain Core selects, for ``socialekaart.hsds.service_dict``.

The ORM's selectinload costs about 1-2 ms of Python per child kind and page (statement caching, loader
strategies, the identity map): some 20 ms for one whole service, and making instrumented model objects
costs about 0.2 ms a service more. Here every table is one prepared Core select over the page's ids, and
each row becomes a plain object with the model's attribute names (``SimpleNamespace``), its relationships
as lists and objects: ``service_dict`` reads attributes only, so it reads these as it reads loaded models
(tests/test_api.py compares the API's records with ``wijkbot kaart export``'s). Nothing here is in a
session: nothing can be written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import cache
from types import SimpleNamespace as Loaded

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from socialekaart.mapread import chunks
from socialekaart.models import (
    Address,
    Attribute,
    Contact,
    CostOption,
    Language,
    Location,
    Organization,
    Phone,
    Schedule,
    Service,
    ServiceArea,
    ServiceAtLocation,
    TaxonomyTerm,
)
from socialekaart.records import SERVICE_CHILDREN

CHUNK = 500  # ids per IN (...): far below every database's limit on bound parameters


@cache
def _statement(model, column) -> Select:
    """SELECT every column of MODEL WHERE COLUMN IN :ids, built once (building and keying a statement costs
    more than running it)."""
    table = model.__table__
    order = [table.c.position, table.c.id] if "position" in table.c else [table.c.id]
    return select(*table.c).where(column.in_(bindparam("ids", expanding=True))).order_by(*order)


def _rows(session: Session, model, column, ids: Iterable[str]) -> list[dict]:
    """The rows of MODEL whose COLUMN is one of IDS, as column -> value, in position order where there is one."""
    ids = list(dict.fromkeys(ids))
    out: list[dict] = []
    connection = session.connection()  # Core: no ORM bookkeeping for plain rows
    for chunk in chunks(ids, CHUNK):
        rows = connection.execute(_statement(model, column), {"ids": chunk})
        out.extend(dict(row._mapping) for row in rows)
    return out


def _by(rows: list[dict], key: str) -> dict[str, list]:
    grouped: dict[str, list] = defaultdict(list)
    for row in rows:
        grouped[row[key]].append(Loaded(**row))
    return grouped


def services(session: Session, ids: Sequence[str], *, children: bool) -> list[Service]:
    """The services with these ids, in this order, as Service-like objects: with every child (``children``)
    or with only their organization (the children empty)."""
    found = {row["id"]: Loaded(**row) for row in _rows(session, Service, Service.id, ids)}
    ordered = [found[i] for i in dict.fromkeys(ids) if i in found]
    orgs = {
        row["id"]: Loaded(**row)
        for row in _rows(session, Organization, Organization.id, {s.organization_id for s in ordered} - {None})
    }
    for service in ordered:
        service.organization = orgs.get(service.organization_id) if service.organization_id else None
        for name in SERVICE_CHILDREN:
            setattr(service, name, [])
    if children:
        _children(session, ordered)
    return ordered  # type: ignore[return-value] - read like Service by service_dict


def _children(session: Session, ordered: list[Service]) -> None:
    ids = [s.id for s in ordered]
    sals = _rows(session, ServiceAtLocation, ServiceAtLocation.service_id, ids)
    location_ids = [row["location_id"] for row in sals]
    locations = {row["id"]: Loaded(**row) for row in _rows(session, Location, Location.id, location_ids)}
    addresses = _by(_rows(session, Address, Address.location_id, location_ids), "location_id")
    for location in locations.values():
        location.addresses = addresses.get(location.id, [])
    at = defaultdict(list)
    for row in sals:
        at[row["service_id"]].append(Loaded(**row, location=locations[row["location_id"]]))
    contact_rows = _rows(session, Contact, Contact.service_id, ids)
    contact_phones = _by(_rows(session, Phone, Phone.contact_id, [row["id"] for row in contact_rows]), "contact_id")
    contacts = defaultdict(list)
    for row in contact_rows:
        contacts[row["service_id"]].append(Loaded(**row, phones=contact_phones.get(row["id"], [])))
    attribute_rows = _rows(session, Attribute, Attribute.link_id, ids)
    terms = {
        row["id"]: Loaded(**row)
        for row in _rows(session, TaxonomyTerm, TaxonomyTerm.id, [row["taxonomy_term_id"] for row in attribute_rows])
    }
    attributes = defaultdict(list)
    for row in attribute_rows:
        attributes[row["link_id"]].append(Loaded(**row, taxonomy_term=terms[row["taxonomy_term_id"]]))
    grouped = {
        "phones": _by(_rows(session, Phone, Phone.service_id, ids), "service_id"),
        "schedules": _by(_rows(session, Schedule, Schedule.service_id, ids), "service_id"),
        "languages": _by(_rows(session, Language, Language.service_id, ids), "service_id"),
        "service_areas": _by(_rows(session, ServiceArea, ServiceArea.service_id, ids), "service_id"),
        "cost_options": _by(_rows(session, CostOption, CostOption.service_id, ids), "service_id"),
        "service_at_locations": at,
        "contacts": contacts,
        "attributes": attributes,
    }
    for service in ordered:
        for name, children in grouped.items():
            setattr(service, name, children.get(service.id, []))
