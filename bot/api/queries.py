"""What the Open Referral API reads from the database, page by page.

Only the services of the page asked for are loaded (by id, with their children in one query per kind,
``bot.api.loading``), never the whole map. Every record is made by ``socialekaart.hsds.service_dict``, so
the API shows what ``wijkbot kaart export`` writes: organizations and taxonomy terms are taken from a record
of a service that has them (an import deletes organizations and terms no service uses).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, false, func, select
from sqlalchemy.orm import Session

from bot.api import loading
from socialekaart.hsds import service_dict
from socialekaart.models import (
    Address,
    Attribute,
    Location,
    Organization,
    Service,
    ServiceAtLocation,
    TaxonomyTerm,
)

KM_PER_DEGREE = 111.32  # of latitude; of longitude times cos(latitude)
POSTCODE_PATTERN = r"^\s*([1-9][0-9]{3})\s*([A-Za-z]{2})?\s*$"
_POSTCODE = re.compile(POSTCODE_PATTERN)


@dataclass(frozen=True)
class Postcode:
    """A Dutch postcode ('7543 AB') or only its number part, the area ('7543')."""

    digits: str
    letters: str | None

    @classmethod
    def parse(cls, text: str) -> Postcode:
        m = _POSTCODE.match(text)
        if not m:
            raise ValueError("postcode must be a Dutch postcode such as 7543 AB, or its number part such as 7543")
        return cls(m.group(1), m.group(2).upper() if m.group(2) else None)

    def __str__(self) -> str:
        return f"{self.digits} {self.letters}" if self.letters else self.digits

    def matches(self) -> ColumnElement[bool]:
        """An address at this postcode (written with or without the space, in either case), or in this area."""
        if self.letters is None:
            return Address.postal_code.like(self.digits + "%")  # four digits: no wildcard in them
        spellings = {
            self.digits + sep + letters for sep in ("", " ") for letters in (self.letters, self.letters.lower())
        }
        return Address.postal_code.in_(sorted(spellings))


@dataclass(frozen=True)
class ServiceFilter:
    """The filters of ``GET /services``; all that are given must hold (HSDS: parameters are cumulative)."""

    taxonomy_term_id: str | None = None
    taxonomy_id: str | None = None
    organization_id: str | None = None
    modified_after: datetime | None = None
    postcode: Postcode | None = None
    proximity_m: float | None = None

    def conditions(self, session: Session) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = []
        if self.organization_id is not None:
            conds.append(Service.organization_id == self.organization_id)
        if self.taxonomy_term_id is not None:
            conds.append(
                Service.id.in_(select(Attribute.link_id).where(Attribute.taxonomy_term_id == self.taxonomy_term_id))
            )
        if self.taxonomy_id is not None:
            terms = select(TaxonomyTerm.id).where(TaxonomyTerm.taxonomy == self.taxonomy_id)
            conds.append(Service.id.in_(select(Attribute.link_id).where(Attribute.taxonomy_term_id.in_(terms))))
        if self.modified_after is not None:
            conds.append(Service.last_modified >= self.modified_after)
        if self.postcode is not None:
            conds.append(self._near(session) if self.proximity_m is not None else self._at())
        return conds

    def _at(self) -> ColumnElement[bool]:
        assert self.postcode is not None
        at = select(ServiceAtLocation.service_id).join(Address, Address.location_id == ServiceAtLocation.location_id)
        return Service.id.in_(at.where(self.postcode.matches()))

    def _near(self, session: Session) -> ColumnElement[bool]:
        """Services with a location within proximity_m metres of the postcode's centre: the mean position of
        the map's locations at that postcode (or, when none is there, in its area). A postcode the map does
        not know has no centre: nothing is near it."""
        assert self.postcode is not None and self.proximity_m is not None
        centre = _centre(session, self.postcode)
        if centre is None and self.postcode.letters:
            centre = _centre(session, Postcode(self.postcode.digits, None))
        if centre is None:
            return false()
        lat0, lon0 = centre
        km = self.proximity_m / 1000
        dlat = km / KM_PER_DEGREE
        per_lon = KM_PER_DEGREE * max(math.cos(math.radians(lat0)), 0.01)
        dy = (Location.latitude - lat0) * KM_PER_DEGREE  # an equirectangular distance: within 0.1% at a city's scale
        dx = (Location.longitude - lon0) * per_lon
        near = (
            select(ServiceAtLocation.service_id)
            .join(Location, Location.id == ServiceAtLocation.location_id)
            .where(
                Location.latitude.between(lat0 - dlat, lat0 + dlat),
                Location.longitude.between(lon0 - km / per_lon, lon0 + km / per_lon),
                dy * dy + dx * dx <= km * km,
            )
        )
        return Service.id.in_(near)


def _centre(session: Session, postcode: Postcode) -> tuple[float, float] | None:
    lat, lon = session.execute(
        select(func.avg(Location.latitude), func.avg(Location.longitude))
        .join(Address, Address.location_id == Location.id)
        .where(postcode.matches(), Location.latitude.is_not(None), Location.longitude.is_not(None))
    ).one()
    return None if lat is None or lon is None else (float(lat), float(lon))


def count_services(session: Session, conds: Sequence[ColumnElement[bool]]) -> int:
    return session.scalar(select(func.count()).select_from(Service).where(*conds)) or 0


def page_of_service_ids(session: Session, conds: Sequence[ColumnElement[bool]], offset: int, limit: int) -> list[str]:
    """The ids of one page of services in map order (the order of the imported file)."""
    stmt = select(Service.id).where(*conds).order_by(Service.position, Service.id).offset(offset).limit(limit)
    return list(session.scalars(stmt))


def keep_matching(session: Session, ids: list[str], conds: Sequence[ColumnElement[bool]]) -> list[str]:
    """The ids (a search's ranking, at most a few hundred) that pass the filters, in their order."""
    if not conds or not ids:
        return ids
    passing = set(session.scalars(select(Service.id).where(Service.id.in_(ids), *conds)))
    return [i for i in ids if i in passing]


def load_services(session: Session, ids: Sequence[str], *, full: bool) -> list[Service]:
    """The services with these ids, in this order: whole (``full``) or only their one-to-one fields."""
    return loading.services(session, ids, children=full) if ids else []


def full_record(service: Service, *, contacts: bool) -> dict:
    """The compiled HSDS service record; contact persons only for a professional (a valid token)."""
    record = service_dict(service)
    if not contacts:
        record.pop("contacts", None)
    return record


def list_record(service: Service) -> dict:
    """A service_list item: the record's one-to-one fields (and its organization), no arrays of children."""
    return {k: v for k, v in service_dict(service).items() if not isinstance(v, list)}


def organization_records(session: Session, org_ids: Sequence[str]) -> dict[str, dict]:
    """Organization id -> its record, as the compiled record of one of its services holds it."""
    if not org_ids:
        return {}
    one_each = (
        select(func.min(Service.id)).where(Service.organization_id.in_(org_ids)).group_by(Service.organization_id)
    )
    out: dict[str, dict] = {}
    for service in load_services(session, list(session.scalars(one_each)), full=False):
        org = service_dict(service).get("organization")
        if org:
            out[org["id"]] = org
    return out


def organizations_with_services():
    return select(Organization.id).where(Organization.id.in_(select(Service.organization_id)))


def page_of_organization_ids(session: Session, offset: int, limit: int) -> tuple[int, list[str]]:
    listed = organizations_with_services()
    total = session.scalar(select(func.count()).select_from(listed.subquery())) or 0
    ids = session.scalars(
        select(Organization.id)
        .where(Organization.id.in_(listed))
        .order_by(Organization.name, Organization.id)
        .offset(offset)
        .limit(limit)
    )
    return total, list(ids)


def services_of(session: Session, org_id: str) -> list[Service]:
    ids = session.scalars(
        select(Service.id).where(Service.organization_id == org_id).order_by(Service.position, Service.id)
    )
    return load_services(session, list(ids), full=False)


def term_records(session: Session, term_ids: Sequence[str]) -> dict[str, dict]:
    """Taxonomy term id -> its record, as the compiled record of a service with that term holds it."""
    if not term_ids:
        return {}
    one_each = (
        select(func.min(Attribute.link_id))
        .where(Attribute.taxonomy_term_id.in_(term_ids))
        .group_by(Attribute.taxonomy_term_id)
    )
    wanted = set(term_ids)
    out: dict[str, dict] = {}
    for service in load_services(session, list(session.scalars(one_each)), full=True):
        for attribute in service_dict(service).get("attributes", []):
            term = attribute.get("taxonomy_term") or {}
            if term.get("id") in wanted:
                out.setdefault(term["id"], term)
    return out


def page_of_term_ids(session: Session, taxonomy: str | None, offset: int, limit: int) -> tuple[int, list[str]]:
    used = select(Attribute.taxonomy_term_id)
    conds = [TaxonomyTerm.id.in_(used)]
    if taxonomy is not None:
        conds.append(TaxonomyTerm.taxonomy == taxonomy)
    total = session.scalar(select(func.count()).select_from(TaxonomyTerm).where(*conds)) or 0
    ids = session.scalars(
        select(TaxonomyTerm.id).where(*conds).order_by(TaxonomyTerm.name, TaxonomyTerm.id).offset(offset).limit(limit)
    )
    return total, list(ids)
