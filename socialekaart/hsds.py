"""Import and export of the social map as HSDS 3.0 compiled service records (JSON).

Imports are all or nothing: every problem is collected first (record number, field, reason) and
nothing is written unless there are none. The same service id updates the service (upsert);
``replace=True`` replaces the whole map.
"""

from __future__ import annotations

import json
import math
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
from socialekaart.changelog import record_changes
from socialekaart.conformance import field_errors
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
from socialekaart.records import ServiceRecord, drop_impossible

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


class ParsedRecords(list[ServiceRecord]):
    """Validated records (a list, as parse functions always returned) and ``warnings``: one line for each value
    that was dropped because it cannot be true, naming the record and the field."""

    def __init__(self, records: Iterable[ServiceRecord] = (), warnings: Iterable[str] = ()) -> None:
        super().__init__(records)
        self.warnings = list(warnings)


def _describe(index: int, raw: object) -> str:
    rid = raw.get("id") if isinstance(raw, dict) else None
    return f"record {index}" + (f" (id {rid})" if isinstance(rid, str) and rid else "")


def field_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(record)"


def _capped(lines: list[str], what: str) -> list[str]:
    if len(lines) > MAX_PROBLEMS:
        return [*lines[:MAX_PROBLEMS], f"... and {len(lines) - MAX_PROBLEMS} more {what}"]
    return lines


def parse_json(
    data: bytes | str, *, what: str = "file", progress: Callable[[int, int], None] | None = None
) -> ParsedRecords:
    """Parse and validate HSDS 3.0 JSON, or raise ImportProblem: an array of compiled service records, one
    service object, or a paginated list (``{"total_items": .., "contents": [..]}``) as the HSDS API returns it.

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
    items, notes = _services_in(raw, what)
    del data  # a big map's text and each parsed record are freed while the records are validated (memory)
    parsed = validate_records(released(items, progress))
    parsed.warnings[:0] = notes
    return parsed


def _services_in(raw: object, what: str) -> tuple[list, list[str]]:
    """The service records in a JSON document of one of the shapes HSDS 3.0 publishes, and a note on a page."""
    if isinstance(raw, list):
        return raw, []
    if isinstance(raw, dict) and isinstance(raw.get("contents"), list):
        items, total = raw["contents"], raw.get("total_items")
        if isinstance(total, int) and not isinstance(total, bool) and total > len(items):
            page = raw.get("page_number")
            return items, [
                f"{what}: this is {'page ' + str(page) if isinstance(page, int) else 'one page'} of a paginated list: "
                f"the file holds {len(items)} of its {total} services"
            ]
        return items, []
    if isinstance(raw, dict) and isinstance(raw.get("services"), list):
        return raw["services"], []
    if isinstance(raw, dict) and ("id" in raw or "name" in raw):
        return [raw], []
    raise ImportProblem(
        [f"{what}: expected a JSON array of HSDS service records, one service object or a paginated list (contents)"]
    )


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


def validate_records(
    raw: Iterable,
    *,
    label: Callable[[int, object], str] | None = None,
    locate: Callable[[int, tuple], str] | None = None,
) -> ParsedRecords:
    """Validate raw record dicts (1-based numbering in problems) and check them against each other.

    A value that has the right type but cannot be true is dropped from its dict (changed in place) with a
    warning. ``label(index, item)`` names a record; ``locate(index, loc)`` may name where a field of it came
    from instead (a file and line of a data package)."""
    label = label or _describe
    problems: list[str] = []
    warnings: list[str] = []
    records: list[ServiceRecord] = []
    labels: list[str] = []
    for index, item in enumerate(raw, start=1):
        where = label(index, item)
        at = (lambda loc, i=index: locate(i, loc)) if locate else (lambda loc, w=where: f"{w}: {field_path(loc)}")
        if not isinstance(item, dict):
            problems.append(f"{where}: expected an object with service fields")
            continue
        warnings.extend(f"{at(loc)}: {reason}" for loc, reason in drop_impossible(item))
        try:
            record = ServiceRecord.model_validate(item)
        except ValidationError as exc:
            problems.extend(f"{at(err['loc'])}: {err['msg']}" for err in exc.errors())
            continue
        extra = [
            f"{at(loc)}: {msg}" for key, value in record.extra_fields.items() for loc, msg in field_errors(key, value)
        ]
        if extra:
            problems.extend(extra)
            continue
        records.append(record)
        labels.append(where)
    if not problems:
        problems.extend(_cross_check(records, labels))
    if problems:
        raise ImportProblem(_capped(problems, "problems"))
    return ParsedRecords(records, _capped(warnings, "warnings"))


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
    # which services changed, so that a saved search index is updated instead of rebuilt (None: all)
    record_changes(session, None if replace else [r.id for r in records], now=now)
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
#
# HSDS 3.0 omits an absent field (null is neither a string nor a number) and requires a few fields Wijkbot
# may not have. What an export writes then, so that every record validates (socialekaart.conformance):
# - a taxonomy term's or an organisation's missing description: its name (the import reads a description
#   equal to the name as none, so a round trip changes nothing);
# - an address's missing address_1, city, state_province, postal_code or country: "" (not known), and a
#   missing address_type: the type of its location;
# - a phone extension or a schedule timezone is a number in HSDS 3.0 (both are stored as text): a number
#   when the text is one, otherwise the text is added to the description ("toestel ...", "tijdzone ...").

_PLACE_TYPES = ("physical", "postal", "virtual")
_ADDRESS_TEXT = ("attention", "address_1", "address_2", "city", "region", "state_province", "postal_code", "country")
_ADDRESS_REQUIRED = ("address_1", "city", "state_province", "postal_code", "country")


def _present(fields: dict) -> dict:
    return {k: v for k, v in fields.items() if v is not None}


def _number(text: str | None) -> int | float | None:
    """A stored text as the JSON number HSDS 3.0 wants, or None when it is no (finite) number."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    return int(value) if value.is_integer() else value


def _noted(description: str | None, note: str) -> str:
    return f"{description} ({note})" if description else note


def _phone_dict(p: Phone) -> dict:
    extension = _number(p.extension)
    description = p.description
    if p.extension is not None and extension is None:
        description = _noted(description, f"toestel {p.extension}")
    return _present(
        {"id": p.id, "number": p.number, "extension": extension, "type": p.type, "description": description}
    )


def _schedule_dict(x: Schedule) -> dict:
    timezone = _number(x.timezone)
    description = x.description
    if x.timezone is not None and timezone is None:
        description = _noted(description, f"tijdzone {x.timezone}")
    fields = {f: getattr(x, f) for f in ("id", "freq", "interval", "byday", "opens_at", "closes_at")}
    return _present({**fields, "timezone": timezone, "description": description})


def _address_dict(a: Address, location_type: str) -> dict:
    out = _present({"id": a.id, **{f: getattr(a, f) for f in _ADDRESS_TEXT}})
    for field in _ADDRESS_REQUIRED:
        out.setdefault(field, "")
    out["address_type"] = a.address_type if a.address_type in _PLACE_TYPES else location_type
    return out


def _location_dict(loc: Location) -> dict:
    fields = ("id", "name", "location_type", "description", "latitude", "longitude")
    out = _present({f: getattr(loc, f) for f in fields})
    out["addresses"] = [_address_dict(a, loc.location_type) for a in loc.addresses]
    return out


def _organization_dict(org: Organization) -> dict:
    fields = ("id", "name", "alternate_name", "description", "website", "email")
    return {**_present({f: getattr(org, f) for f in fields}), "description": org.description or org.name}


def _term_dict(t: TaxonomyTerm) -> dict:
    fields = ("id", "code", "name", "description", "taxonomy")
    return {**_present({f: getattr(t, f) for f in fields}), "description": t.description or t.name}


def service_dict(s: Service) -> dict:
    """One service as an HSDS 3.0 compiled service record (JSON-ready): absent fields are left out."""
    out = _present(
        {
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
            "organization": _organization_dict(s.organization) if s.organization else None,
        }
    )
    out["languages"] = [_present({"id": x.id, "name": x.name, "code": x.code, "note": x.note}) for x in s.languages]
    out["service_at_locations"] = [
        _present({"id": sal.id, "description": sal.description, "location": _location_dict(sal.location)})
        for sal in s.service_at_locations
    ]
    out["phones"] = [_phone_dict(p) for p in s.phones]
    out["contacts"] = [
        {
            **_present({f: getattr(c, f) for f in ("id", "name", "title", "department", "email")}),
            "phones": [_phone_dict(p) for p in c.phones],
        }
        for c in s.contacts
    ]
    out["schedules"] = [_schedule_dict(x) for x in s.schedules]
    out["attributes"] = [
        {**_present({"id": a.id, "value": a.value}), "taxonomy_term": _term_dict(a.taxonomy_term)} for a in s.attributes
    ]
    out["service_areas"] = [
        _present({"id": x.id, "name": x.name, "description": x.description}) for x in s.service_areas
    ]
    out["cost_options"] = [
        _present({f: getattr(x, f) for f in ("id", "option", "amount", "currency", "amount_description")})
        for x in s.cost_options
    ]
    out.update(_present(s.extra or {}))
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
