"""The write path of a map import: validated records into the database with SQLAlchemy Core.

One ``INSERT`` per table and batch of records (executemany; ``COPY`` on PostgreSQL), instead of an ORM
object per row: the ORM path flushed on every service (an autoflush inside the loop), so a map of 50,000
services took 10-13 minutes. Everything runs on the session's connection, in the caller's transaction:
the caller commits, or rolls back on :class:`ImportProblem`, and nothing has changed.

The semantics are those of :func:`socialekaart.hsds.apply_records`: a service id already in the map
updates that service (it is deleted with its children, by the foreign keys' ``ON DELETE CASCADE``, and
written anew); organisations, locations and taxonomy terms are shared and upserted, a location's addresses
replaced; a child id (phone, contact, ...) that belongs to a service outside the import is a problem with
its record number.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from operator import attrgetter
from typing import Any

from sqlalchemy import JSON, Column, Connection, Table, bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from bot.floor.errors import ImportProblem
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
from socialekaart.records import (
    AddressRecord,
    ContactRecord,
    CostOptionRecord,
    LanguageRecord,
    LocationRecord,
    OrganizationRecord,
    PhoneRecord,
    ScheduleRecord,
    ServiceAreaRecord,
    ServiceRecord,
    TaxonomyTermRecord,
)

MAX_PROBLEMS = 200  # as socialekaart.hsds.MAX_PROBLEMS
BATCH = 2_000  # records written per round of INSERTs: bounds the rows held in memory at once
CHUNK = 5_000  # ids per "IN (...)": below SQLite's 32,766 and PostgreSQL's 65,535 parameters
SQLITE_CACHE_KIB = -65_536  # PRAGMA cache_size in KiB (negative): 64 MB
USE_COPY = True  # COPY on PostgreSQL (see docs/benchmarks.md: about 2x executemany there)

SERVICE_COLUMNS = [
    "id",
    "name",
    "alternate_name",
    "description",
    "url",
    "email",
    "status",
    "eligibility_description",
    "fees_description",
    "assured_date",
    "last_modified",
]


def _fields(record_model, table: Table, leave: tuple[str, ...] = ()) -> list[str]:
    """The fields of a record model that are columns of its table."""
    return [f for f in record_model.model_fields if f in table.c and f not in leave]


T = {m.__tablename__: m.__table__ for m in (Service, Organization, Location, Address, TaxonomyTerm)}
ORG_COLUMNS = _fields(OrganizationRecord, Organization.__table__, ("id",))
LOC_COLUMNS = _fields(LocationRecord, Location.__table__, ("id",))
TERM_COLUMNS = _fields(TaxonomyTermRecord, TaxonomyTerm.__table__, ("id",))
ADDRESS_COLUMNS = _fields(AddressRecord, Address.__table__)
PHONE_COLUMNS = _fields(PhoneRecord, Phone.__table__)
CONTACT_COLUMNS = _fields(ContactRecord, Contact.__table__)
# children whose record fields are their columns, plus service_id and position
PLAIN_CHILDREN: list[tuple[str, Table, list[str]]] = [
    ("schedules", Schedule.__table__, _fields(ScheduleRecord, Schedule.__table__)),
    ("languages", Language.__table__, _fields(LanguageRecord, Language.__table__)),
    ("service_areas", ServiceArea.__table__, _fields(ServiceAreaRecord, ServiceArea.__table__)),
    ("cost_options", CostOption.__table__, _fields(CostOptionRecord, CostOption.__table__)),
]


def _getter(columns: list[str]) -> Callable[[Any], tuple]:
    """The values of COLUMNS of a validated record, as a tuple (attrgetter, in C: no model_dump per row)."""
    if len(columns) == 1:
        return lambda obj: (getattr(obj, columns[0]),)
    return attrgetter(*columns)


GET_SERVICE = _getter(SERVICE_COLUMNS)
GET_PHONE = _getter(PHONE_COLUMNS)
GET_CONTACT = _getter(CONTACT_COLUMNS)
GETTERS = {field: _getter(columns) for field, _table, columns in PLAIN_CHILDREN}


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while an import builds a million objects, none of them garbage: the
    collector would walk them all again and again (at 50k services, parsing and validating take about
    half as long without it). Reference counting still frees everything as usual."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def capped(problems: list[str]) -> list[str]:
    """At most MAX_PROBLEMS lines, as the validation reports them."""
    if len(problems) <= MAX_PROBLEMS:
        return problems
    return [*problems[:MAX_PROBLEMS], f"... and {len(problems) - MAX_PROBLEMS} more problems"]


def present(conn: Connection, column: Column, ids: Iterable[str]) -> set[str]:
    """The ids among IDS that are in COLUMN's table: every id of the table read once when it holds not
    many more rows than IDS (a big import into a map), else asked for in chunks (a few services)."""
    wanted = set(ids)
    if not wanted:
        return set()
    rows = conn.scalar(select(func.count()).select_from(column.table)) or 0
    if rows == 0:
        return set()
    if rows <= 4 * len(wanted):
        return wanted.intersection(conn.scalars(select(column)))
    found: set[str] = set()
    for chunk in chunks(sorted(wanted), CHUNK):
        found.update(conn.scalars(select(column).where(column.in_(chunk))))
    return found


def write_records(
    session: Session,
    records: list[ServiceRecord],
    *,
    progress: Callable[[int], None] | None = None,
    merge: bool = False,
) -> set[str]:
    """Write validated records on the session's connection; return the ids of the services that were
    already in the map (now updated). Raises ImportProblem on an id conflict (the caller rolls back).

    MERGE: a service id already in the map is a problem, shared entities already there are kept as they are.
    """
    conn = session.connection()
    with _page_cache(conn):
        return _write(conn, records, progress, merge)


@contextmanager
def _page_cache(conn: Connection) -> Iterator[None]:
    """SQLite: a page cache of 64 MB while the import writes (the default 2 MB spills pages to the
    write-ahead log again and again: a third of the write time at 50k), the connection's own afterwards."""
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size = {SQLITE_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(before)}")


def _write(
    conn: Connection, records: list[ServiceRecord], progress: Callable[[int], None] | None, merge: bool
) -> set[str]:
    service = T["service"]
    existing = present(conn, service.c.id, (r.id for r in records))
    if merge and existing:
        raise ImportProblem(
            capped(
                [
                    f"record {index} (id {rec.id}): service id {rec.id} is already in the map (--merge never "
                    "changes a service; import without --merge to update it)"
                    for index, rec in enumerate(records, start=1)
                    if rec.id in existing
                ]
            )
        )
    for chunk in chunks(sorted(existing), CHUNK):
        conn.execute(delete(service).where(service.c.id.in_(chunk)))
    problems = conflicts(conn, records)
    if problems:
        raise ImportProblem(capped(problems))
    start = (conn.scalar(select(func.max(service.c.position))) or 0) + 1
    _write_shared(conn, records, keep=merge)
    for offset in range(0, len(records), BATCH):
        batch = records[offset : offset + BATCH]
        _write_services(conn, batch, start + offset)
        if progress:
            progress(len(batch))
    return existing


def conflicts(conn: Connection, records: list[ServiceRecord]) -> list[str]:
    """Ids of owned records that already belong to a service outside this import (after the services of
    the import left the map), and address ids that belong to another location; in the order of the file."""
    return _owned_conflicts(conn, records) + _address_conflicts(conn, records)


OWNED = (ServiceAtLocation, Contact, Schedule, Attribute, Language, ServiceArea, CostOption, Phone)


def _owned(rec: ServiceRecord) -> Iterator[tuple[type, list]]:
    yield from (
        (ServiceAtLocation, rec.service_at_locations),
        (Contact, rec.contacts),
        (Schedule, rec.schedules),
        (Attribute, rec.attributes),
        (Language, rec.languages),
        (ServiceArea, rec.service_areas),
        (CostOption, rec.cost_options),
        (Phone, [*rec.phones, *(p for c in rec.contacts for p in c.phones)]),
    )


def _owned_conflicts(conn: Connection, records: list[ServiceRecord]) -> list[str]:
    # only the tables that hold rows at all: none after --replace or on a new map, and then no id is read
    holding = {m for m in OWNED if conn.scalar(select(m.__table__.c.id).limit(1)) is not None}
    wanted: dict[type, dict[str, str]] = {}
    if holding:
        for index, rec in enumerate(records, start=1):
            where = f"record {index} (id {rec.id})"
            for model, children in _owned(rec):
                if model in holding:
                    for child in children:
                        wanted.setdefault(model, {})[child.id] = where
    return [
        f"{ids[taken]}: {model.__tablename__} id {taken} already belongs to another service in the map"
        for model, ids in wanted.items()
        for taken in _in_order(present(conn, model.__table__.c.id, ids), ids)
    ]


def _address_conflicts(conn: Connection, records: list[ServiceRecord]) -> list[str]:
    """An address belongs to its location: the import replaces the addresses of its own locations only."""
    addresses: dict[str, tuple[str, str]] = {}
    for index, rec in enumerate(records, start=1):
        for sal in rec.service_at_locations:
            for address in sal.location.addresses:
                addresses.setdefault(address.id, (sal.location.id, f"record {index} (id {rec.id})"))
    table = T["address"]
    taken = present(conn, table.c.id, addresses)
    owners: dict[str, str] = {}
    for chunk in chunks(sorted(taken), CHUNK):
        owners.update(conn.execute(select(table.c.id, table.c.location_id).where(table.c.id.in_(chunk))).all())
    return [
        f"{addresses[a][1]}: address id {a} already belongs to another location in the map"
        for a in _in_order(owners, addresses)
        if owners[a] != addresses[a][0]
    ]


def _in_order(found: Iterable[str], ids: Iterable[str]) -> list[str]:
    """FOUND in the order of IDS (the order of the file), whatever order the database returned."""
    found = set(found)
    return [i for i in ids if i in found] if found else []


def _write_shared(conn: Connection, records: list[ServiceRecord], *, keep: bool = False) -> None:
    """Upsert the organisations, locations (their addresses replaced) and taxonomy terms of the import;
    with KEEP, insert the new ones and leave those already in the map as they are."""
    orgs: dict[str, OrganizationRecord] = {}
    locations: dict[str, LocationRecord] = {}
    terms: dict[str, TaxonomyTermRecord] = {}
    for rec in records:
        if rec.organization:
            orgs.setdefault(rec.organization.id, rec.organization)
        for sal in rec.service_at_locations:
            locations.setdefault(sal.location.id, sal.location)
        for attr in rec.attributes:
            terms.setdefault(attr.taxonomy_term.id, attr.taxonomy_term)
    _upsert(conn, T["organization"], orgs, ORG_COLUMNS, keep)
    known = _upsert(conn, T["location"], locations, LOC_COLUMNS, keep)
    _upsert(conn, T["taxonomy_term"], terms, TERM_COLUMNS, keep)
    address = T["address"]
    if keep:
        locations = {i: loc for i, loc in locations.items() if i not in known}
    else:
        for chunk in chunks(sorted(known), CHUNK):
            conn.execute(delete(address).where(address.c.location_id.in_(chunk)))
    get = _getter(ADDRESS_COLUMNS)
    rows = [(*get(a), loc.id, j) for loc in locations.values() for j, a in enumerate(loc.addresses)]
    insert_rows(conn, address, [*ADDRESS_COLUMNS, "location_id", "position"], rows)


def _upsert(conn: Connection, table: Table, entities: dict[str, Any], columns: list[str], keep: bool) -> set[str]:
    """Insert the new entities, update those already there (unless KEEP); return the ids that were there."""
    there = present(conn, table.c.id, entities)
    get = _getter(columns)
    new = [(id_, *get(e)) for id_, e in entities.items() if id_ not in there]
    insert_rows(conn, table, ["id", *columns], new)
    if there and not keep:
        stmt = (
            update(table).where(table.c.id == bindparam("key_id")).values({c: bindparam("new_" + c) for c in columns})
        )
        rows = [{"key_id": i, **{"new_" + c: v for c, v in zip(columns, get(entities[i]), strict=True)}} for i in there]
        for chunk in chunks(rows, CHUNK):
            conn.execute(stmt, chunk)
    return there


class _Rows:
    """The rows of one table for one batch, as tuples in the order of NAMES."""

    def __init__(self, table: Table, names: list[str]):
        self.table, self.names, self.values = table, names, []

    def write(self, conn: Connection) -> None:
        insert_rows(conn, self.table, self.names, self.values)


def _write_services(conn: Connection, batch: list[ServiceRecord], first_position: int) -> None:
    """One batch of services with their children: one executemany (or COPY) per table, parents first."""
    services = _Rows(T["service"], [*SERVICE_COLUMNS, "organization_id", "position", "extra"])
    sals = _Rows(ServiceAtLocation.__table__, ["id", "description", "service_id", "location_id", "position"])
    phone_names = [*PHONE_COLUMNS, "service_id", "contact_id", "position"]
    phones, contact_phones = _Rows(Phone.__table__, phone_names), _Rows(Phone.__table__, phone_names)
    contacts = _Rows(Contact.__table__, [*CONTACT_COLUMNS, "service_id", "position"])
    attributes = _Rows(
        Attribute.__table__, ["id", "value", "link_id", "link_type", "link_entity", "taxonomy_term_id", "position"]
    )
    plain = [(field, _Rows(table, [*columns, "service_id", "position"])) for field, table, columns in PLAIN_CHILDREN]
    for n, rec in enumerate(batch):
        sid = rec.id
        org = rec.organization.id if rec.organization else None
        services.values.append((*GET_SERVICE(rec), org, first_position + n, rec.extra_fields or None))
        sals.values.extend(
            (sal.id, sal.description, sid, sal.location.id, i) for i, sal in enumerate(rec.service_at_locations)
        )
        phones.values.extend((*GET_PHONE(p), sid, None, i) for i, p in enumerate(rec.phones))
        for i, c in enumerate(rec.contacts):
            contacts.values.append((*GET_CONTACT(c), sid, i))
            contact_phones.values.extend((*GET_PHONE(p), None, c.id, j) for j, p in enumerate(c.phones))
        attributes.values.extend(
            (a.id, a.value, sid, "service", "service", a.taxonomy_term.id, i) for i, a in enumerate(rec.attributes)
        )
        for field, rows in plain:
            get = GETTERS[field]
            rows.values.extend((*get(x), sid, i) for i, x in enumerate(getattr(rec, field)))
    for rows in (services, sals, phones, contacts, contact_phones, attributes, *(r for _f, r in plain)):
        rows.write(conn)


def insert_rows(conn: Connection, table: Table, names: list[str], rows: list[tuple]) -> None:
    """INSERT ROWS (tuples in the order of NAMES) into TABLE: COPY on PostgreSQL, the driver's
    executemany elsewhere. The column types' bind processing (JSON, aware datetimes, dates) is
    SQLAlchemy's, applied once per column that needs it, not per parameter set through the compiler (that
    was a third of the time at 50k)."""
    if not rows:
        return
    copy = USE_COPY and conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"
    processors = [(k, f) for k, n in enumerate(names) if (f := _processor(conn, table.c[n], copy)) is not None]
    if processors:
        rows = [_processed(row, processors) for row in rows]
    if copy:
        _copy(conn, table, names, rows)
        return
    stmt = table.insert().compile(dialect=conn.dialect, column_keys=names)
    if stmt.positiontup is None:  # named parameters (psycopg's executemany)
        rows = [dict(zip(names, row, strict=True)) for row in rows]
    elif stmt.positiontup != names:  # the dialect's order of the parameters
        order = [names.index(n) for n in stmt.positiontup]
        rows = [tuple(row[k] for k in order) for row in rows]
    for chunk in chunks(rows, BATCH * 4):
        conn.exec_driver_sql(str(stmt), chunk)


def _processed(row: tuple, processors: list[tuple[int, Callable[[Any], Any]]]) -> tuple:
    values = list(row)
    for k, process in processors:
        values[k] = process(values[k])
    return tuple(values)


def _processor(conn: Connection, column: Column, copy: bool) -> Callable[[Any], Any] | None:
    """How SQLAlchemy turns a value of COLUMN into what the driver gets; for COPY only JSON needs it
    (psycopg adapts text, numbers, dates and aware datetimes itself), as JSON text (None is JSON null,
    as SQLAlchemy's JSON type writes it)."""
    if copy:
        return json.dumps if isinstance(column.type, JSON) else None
    return column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)


def _copy(conn: Connection, table: Table, names: list[str], rows: list[tuple]) -> None:
    """COPY ... FROM STDIN through psycopg, in the transaction of CONN."""
    quote = conn.dialect.identifier_preparer
    columns = ", ".join(quote.quote(n) for n in names)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {quote.format_table(table)} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def forget_map_objects(session: Session, models: Iterable[type]) -> None:
    """Expire the session's loaded objects of the map: Core wrote behind the ORM's back, and a later
    query in this session must see the rows as they are now, not as they were loaded."""
    kinds = tuple(models)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, kinds):
            session.expire(obj)
