"""Import and export of the social map as HSDS 3.0 compiled service records (JSON).

Imports are all or nothing: every problem is collected first (record number, field, reason) and
nothing is written unless there are none. The same service id updates the service (upsert);
``replace=True`` replaces the whole map.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from bot.floor.errors import ImportProblem
from socialekaart.bulk import forget_map_objects, write_records
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
from socialekaart.records import ServiceRecord

MAX_PROBLEMS = 200
# Every content table, children first: the order in which --replace empties them.
CONTENT_TABLES = (
    Phone,
    Contact,
    Schedule,
    Attribute,
    Language,
    ServiceArea,
    CostOption,
    ServiceAtLocation,
    Service,
    Address,
    Location,
    TaxonomyTerm,
    Organization,
)


@dataclass
class ImportResult:
    created: int
    updated: int
    total: int


def _describe(index: int, raw: object) -> str:
    rid = raw.get("id") if isinstance(raw, dict) else None
    return f"record {index}" + (f" (id {rid})" if isinstance(rid, str) and rid else "")


def field_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(record)"


def parse_json(
    data: bytes | str, *, what: str = "file", progress: Callable[[int, int], None] | None = None
) -> list[ServiceRecord]:
    """Parse and validate a JSON array of compiled service records, or raise ImportProblem.

    PROGRESS, if given, is called as records are validated, with (records since the last call, total)."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ImportProblem([f"{what}: not UTF-8 text (byte {exc.start})"]) from None
    if not data.strip():
        raise ImportProblem([f"{what}: the file is empty"])
    try:
        raw = json.loads(data, parse_int=partial(_int, data=data, what=what))
    except json.JSONDecodeError as exc:
        raise ImportProblem([f"{what}: line {exc.lineno} column {exc.colno}: invalid JSON ({exc.msg})"]) from None
    except RecursionError:
        raise ImportProblem([f"{what}: invalid JSON (arrays or objects nested too deeply)"]) from None
    if isinstance(raw, dict) and isinstance(raw.get("services"), list):
        raw = raw["services"]
    if not isinstance(raw, list):
        raise ImportProblem([f"{what}: expected a JSON array of HSDS service records"])
    del data  # a big map's text and each parsed record are freed while the records are validated (memory)
    return validate_records(released(raw, progress))


def released(items: list, progress: Callable[[int, int], None] | None = None, every: int = 500) -> Iterator:
    """The items of ITEMS in order, each dropped from the list once taken: the parsed JSON of a 50,000-service
    map (about 300 MB of dicts) is freed record by record as its records are validated, not after."""
    total = len(items)
    items.reverse()
    done = 0
    while items:
        yield items.pop()
        done += 1
        if progress and (done % every == 0 or done == total):
            progress(every if done % every == 0 else done % every, total)


def _int(digits: str, data: str, what: str) -> int:
    """A JSON integer; one of over 1000 digits (Python reads 4300 at most, no field holds 19) is a problem
    in its line."""
    if len(digits) <= 1000:
        return int(digits)
    line = data.count("\n", 0, max(data.find(digits), 0)) + 1
    raise ImportProblem([f"{what}: line {line}: a number of {len(digits)} digits"])


def validate_records(raw: Iterable, *, label: Callable[[int, object], str] | None = None) -> list[ServiceRecord]:
    """Validate raw record dicts (1-based numbering in problems) and check them against each other."""
    label = label or _describe
    problems: list[str] = []
    records: list[ServiceRecord] = []
    labels: list[str] = []
    for index, item in enumerate(raw, start=1):
        where = label(index, item)
        if not isinstance(item, dict):
            problems.append(f"{where}: expected an object with service fields")
            continue
        try:
            records.append(ServiceRecord.model_validate(item))
            labels.append(where)
        except ValidationError as exc:
            for err in exc.errors():
                problems.append(f"{where}: {field_path(err['loc'])}: {err['msg']}")
    if not problems:
        problems.extend(_cross_check(records, labels))
    if problems:
        if len(problems) > MAX_PROBLEMS:
            problems = [*problems[:MAX_PROBLEMS], f"... and {len(problems) - MAX_PROBLEMS} more problems"]
        raise ImportProblem(problems)
    return records


def _cross_check(records: list[ServiceRecord], labels: list[str]) -> list[str]:  # noqa: C901 - one flat check per HSDS cross-reference, each with its record number
    """Shared entities must agree wherever they repeat; every other id may occur only once."""
    problems: list[str] = []
    shared: dict[tuple[str, str], tuple[Any, str]] = {}
    owned: dict[tuple[str, str], str] = {}
    address_of: dict[str, tuple[str, str]] = {}  # address id -> (location id, where)

    def check_shared(kind: str, model, where: str, field: str) -> None:
        seen = shared.get((kind, model.id))
        if seen is None:
            shared[(kind, model.id)] = (model, where)
        # equal models dump equal: the dumps (a dict per occurrence, most of the check's time at 50k
        # services) only when they differ
        elif seen[0] != model and seen[0].model_dump() != model.model_dump():
            problems.append(f"{where}: {field}: {kind} {model.id} differs from the one in {seen[1]}")

    def check_owned(kind: str, id_: str, where: str, field: str) -> None:
        first = owned.setdefault((kind, id_), where + " " + field)
        if first != where + " " + field:
            problems.append(f"{where}: {field}: {kind} id {id_} is used twice (also in {first})")

    for rec, where in zip(records, labels, strict=True):
        check_owned("service", rec.id, where, "id")
        if rec.organization:
            check_shared("organization", rec.organization, where, "organization")
        for i, sal in enumerate(rec.service_at_locations):
            check_owned("service_at_location", sal.id, where, f"service_at_locations[{i}].id")
            check_shared("location", sal.location, where, f"service_at_locations[{i}].location")
            seen_here: set[str] = set()
            for j, address in enumerate(sal.location.addresses):
                field = f"service_at_locations[{i}].location.addresses[{j}].id"
                owner = address_of.setdefault(address.id, (sal.location.id, f"{where} {field}"))
                if address.id in seen_here or owner[0] != sal.location.id:
                    problems.append(f"{where}: {field}: address id {address.id} is used twice (also in {owner[1]})")
                seen_here.add(address.id)
        for i, attr in enumerate(rec.attributes):
            check_owned("attribute", attr.id, where, f"attributes[{i}].id")
            check_shared("taxonomy_term", attr.taxonomy_term, where, f"attributes[{i}].taxonomy_term")
        for i, phone in enumerate(rec.phones):
            check_owned("phone", phone.id, where, f"phones[{i}].id")
        for i, contact in enumerate(rec.contacts):
            check_owned("contact", contact.id, where, f"contacts[{i}].id")
            for j, phone in enumerate(contact.phones):
                check_owned("phone", phone.id, where, f"contacts[{i}].phones[{j}].id")
        for field in ("schedules", "languages", "service_areas", "cost_options"):
            for i, child in enumerate(getattr(rec, field)):
                check_owned(field, child.id, where, f"{field}[{i}].id")
    return problems


def apply_records(
    session: Session,
    records: list[ServiceRecord],
    *,
    replace: bool = False,
    merge: bool = False,
    progress: Callable[[int], None] | None = None,
    now: datetime | None = None,
) -> ImportResult:
    """Write validated records in the caller's transaction; raise ImportProblem on an id conflict.

    The caller commits; on ImportProblem it must roll back, so that nothing changes. PROGRESS is called
    with the number of services written, batch by batch. The rows go in with SQLAlchemy Core
    (socialekaart/bulk.py): a 50,000-service map in seconds instead of the ORM's minutes.

    MERGE adds another source's map next to this one and changes nothing already there: a service id
    already in the map is a problem (with its record number), and an organisation, location or taxonomy
    term already in the map is kept as it is.
    """
    if replace and merge:
        raise ValueError("replace and merge exclude each other")
    session.flush()  # the caller's pending changes first: Core writes on the session's connection
    if replace:
        for table in CONTENT_TABLES:
            session.execute(delete(table))
    existing = write_records(session, records, progress=progress, merge=merge)
    delete_orphans(session)
    bump_revision(session, now)
    forget_map_objects(session, CONTENT_TABLES)
    created = len(records) - len(existing)
    return ImportResult(created=created, updated=len(existing), total=len(records))


def delete_orphans(session: Session) -> None:
    session.execute(
        delete(Organization).where(
            ~Organization.id.in_(select(Service.organization_id).where(Service.organization_id.is_not(None)))
        )
    )
    session.execute(delete(Location).where(~Location.id.in_(select(ServiceAtLocation.location_id))))
    session.execute(delete(TaxonomyTerm).where(~TaxonomyTerm.id.in_(select(Attribute.taxonomy_term_id))))


def bump_revision(session: Session, now: datetime | None = None) -> None:
    """Mark the map as changed, so that every search index built from it is rebuilt."""
    meta = session.get(MapMeta, "revision")
    stamp = (now or datetime.now(UTC)).isoformat()
    if meta is None:
        session.add(MapMeta(key="revision", value=f"1 {stamp}"))
    else:
        meta.value = f"{int(meta.value.split()[0]) + 1} {stamp}"


def revision(session: Session) -> str:
    meta = session.get(MapMeta, "revision")
    return meta.value if meta else "0"


# --- export -------------------------------------------------------------------------------------


def _phone_dict(p: Phone) -> dict:
    return {"id": p.id, "number": p.number, "extension": p.extension, "type": p.type, "description": p.description}


def service_dict(s: Service) -> dict:
    """One service as an HSDS 3.0 compiled service record (JSON-ready)."""
    org = s.organization
    out = {
        "id": s.id,
        "name": s.name,
        "alternate_name": s.alternate_name,
        "description": s.description,
        "url": s.url,
        "email": s.email,
        "status": s.status,
        "eligibility_description": s.eligibility_description,
        "fees_description": s.fees_description,
        "assured_date": s.assured_date.isoformat() if s.assured_date else None,
        "last_modified": s.last_modified.isoformat() if s.last_modified else None,
        "languages": [{"id": x.id, "name": x.name, "code": x.code, "note": x.note} for x in s.languages],
        "organization": None
        if org is None
        else {
            "id": org.id,
            "name": org.name,
            "alternate_name": org.alternate_name,
            "description": org.description,
            "website": org.website,
            "email": org.email,
        },
        "service_at_locations": [
            {
                "id": sal.id,
                "description": sal.description,
                "location": {
                    "id": sal.location.id,
                    "name": sal.location.name,
                    "location_type": sal.location.location_type,
                    "description": sal.location.description,
                    "latitude": sal.location.latitude,
                    "longitude": sal.location.longitude,
                    "addresses": [
                        {
                            f: getattr(a, f)
                            for f in (
                                "id",
                                "attention",
                                "address_1",
                                "address_2",
                                "city",
                                "region",
                                "state_province",
                                "postal_code",
                                "country",
                                "address_type",
                            )
                        }
                        for a in sal.location.addresses
                    ],
                },
            }
            for sal in s.service_at_locations
        ],
        "phones": [_phone_dict(p) for p in s.phones],
        "contacts": [
            {
                "id": c.id,
                "name": c.name,
                "title": c.title,
                "department": c.department,
                "email": c.email,
                "phones": [_phone_dict(p) for p in c.phones],
            }
            for c in s.contacts
        ],
        "schedules": [
            {
                f: getattr(x, f)
                for f in ("id", "freq", "interval", "byday", "opens_at", "closes_at", "timezone", "description")
            }
            for x in s.schedules
        ],
        "attributes": [
            {
                "id": a.id,
                "value": a.value,
                "taxonomy_term": {
                    "id": a.taxonomy_term.id,
                    "code": a.taxonomy_term.code,
                    "name": a.taxonomy_term.name,
                    "description": a.taxonomy_term.description,
                    "taxonomy": a.taxonomy_term.taxonomy,
                },
            }
            for a in s.attributes
        ],
        "service_areas": [{"id": x.id, "name": x.name, "description": x.description} for x in s.service_areas],
        "cost_options": [
            {
                "id": x.id,
                "option": x.option,
                "amount": x.amount,
                "currency": x.currency,
                "amount_description": x.amount_description,
            }
            for x in s.cost_options
        ],
    }
    out.update(s.extra or {})
    return out


def load_services(session: Session, *, active_only: bool = False) -> list[Service]:
    """Every service with everything nested in it, in map order, loaded in a few queries."""
    stmt = (
        select(Service)
        .options(
            selectinload(Service.organization),
            selectinload(Service.service_at_locations)
            .selectinload(ServiceAtLocation.location)
            .selectinload(Location.addresses),
            selectinload(Service.phones),
            selectinload(Service.contacts).selectinload(Contact.phones),
            selectinload(Service.schedules),
            selectinload(Service.attributes).selectinload(Attribute.taxonomy_term),
            selectinload(Service.languages),
            selectinload(Service.service_areas),
            selectinload(Service.cost_options),
        )
        .order_by(Service.position, Service.id)
    )
    if active_only:
        stmt = stmt.where(Service.status == "active")
    return list(session.scalars(stmt))


def export_records(session: Session) -> list[dict]:
    return [service_dict(s) for s in load_services(session)]


def stats(session: Session) -> dict:
    count = lambda stmt: session.scalar(stmt) or 0  # noqa: E731
    return {
        "services": count(select(func.count()).select_from(Service)),
        "organizations": count(select(func.count()).select_from(Organization)),
        "active": count(select(func.count()).select_from(Service).where(Service.status == "active")),
        "inactive": count(select(func.count()).select_from(Service).where(Service.status != "active")),
        "locations": count(select(func.count()).select_from(Location)),
        "taxonomy_terms": count(select(func.count()).select_from(TaxonomyTerm)),
        "contacts": count(select(func.count()).select_from(Contact)),
    }
