"""Which services each change of the map touched, so that a search index of an older revision can be
brought up to date by re-reading only those (``socialekaart/search.py``).

A writer of the map calls :func:`record_changes` in its transaction, after ``hsds.bump_revision``: the
ids it wrote or deleted, or ``None`` when it changed everything (an import with ``--replace``). Services
that share an organization, a location or a taxonomy term with a written one are counted as changed too:
their search text holds the shared entity's name. A revision with no row (a writer that does not record)
makes :func:`changed_since` answer ``None``: the index is rebuilt, never wrongly updated.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from socialekaart.mapread import chunks, revision_number, revision_value
from socialekaart.models import Attribute, MapChange, Service, ServiceAtLocation

KEEP_REVISIONS = 100  # an index more revisions behind is rebuilt
MAX_SHARE = 0.5  # a change touching more of the map than this is recorded as a change of everything


def _sharing(session: Session, ids: list[str], limit: float) -> set[str] | None:
    """The services that share an organization, a location or a taxonomy term with one of `ids`; None as
    soon as they are more than `limit` (the change is then recorded as a change of everything)."""
    found: set[str] = set(ids)
    for chunk in chunks(ids):
        orgs = select(Service.organization_id).where(Service.id.in_(chunk), Service.organization_id.is_not(None))
        found.update(session.scalars(select(Service.id).where(Service.organization_id.in_(orgs))))
        locations = select(ServiceAtLocation.location_id).where(ServiceAtLocation.service_id.in_(chunk))
        found.update(
            session.scalars(select(ServiceAtLocation.service_id).where(ServiceAtLocation.location_id.in_(locations)))
        )
        terms = select(Attribute.taxonomy_term_id).where(Attribute.link_id.in_(chunk))
        found.update(session.scalars(select(Attribute.link_id).where(Attribute.taxonomy_term_id.in_(terms))))
        if len(found) > limit:
            return None
    return found


def record_changes(session: Session, service_ids: Iterable[str] | None, *, now: datetime | None = None) -> None:
    """Record that the current revision changed these services (None: everything). Call it in the writer's
    transaction after ``bump_revision`` and after the writes are flushed."""
    session.flush()
    revision = revision_number(revision_value(session))
    stamp = (now or datetime.now(UTC)).astimezone(UTC)
    ids = None if service_ids is None else sorted(set(service_ids))
    if ids is not None:
        total = session.scalar(select(func.count()).select_from(Service)) or 0
        limit = max(MAX_SHARE * total, 50)
        shared = _sharing(session, ids, limit) if len(ids) <= limit else None
        ids = None if shared is None else sorted(shared)
    rows = [
        {"revision": revision, "service_id": sid, "changed_at": stamp} for sid in (ids if ids is not None else [None])
    ]
    if not rows:  # a change of no service still names its revision, so that the log covers it
        rows = [{"revision": revision, "service_id": "", "changed_at": stamp}]
    session.execute(insert(MapChange), rows)
    session.execute(delete(MapChange).where(MapChange.revision <= revision - KEEP_REVISIONS))


def changed_since(session: Session, old: int, new: int) -> set[str] | None:
    """The services changed after revision `old` up to (at least) `new`; None when the log does not cover
    every revision in between, or one of them changed everything."""
    if new < old:
        return None
    if new == old:
        return set()
    rows = session.execute(select(MapChange.revision, MapChange.service_id).where(MapChange.revision > old)).all()
    covered = {r for r, _ in rows}
    if not set(range(old + 1, new + 1)) <= covered or any(sid is None for _, sid in rows):
        return None
    return {sid for _, sid in rows if sid}
