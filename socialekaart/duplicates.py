"""Probable duplicates within the map: the same service imported from two sources.

Two services are a probable pair when their names (and organisations) are alike AND they share
at least one hard fact: a postcode, a phone number, an e-mail address or a website. Pairs are
found by blocking on those facts, so the work grows with the map, not with its square.

A coordinator decides each pair (``wijkbot kaart duplicates --resolve``): both kept (not a duplicate,
never reported again) or one kept and the other removed. :func:`duplicate_view` reads only what the
finder needs, with plain selects, so that a merge into a 50,000-service map is checked in seconds.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from urllib.parse import urlparse

from rapidfuzz import fuzz
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.floor.errors import WijkbotError
from intents.language import fold
from socialekaart.bulk import forget_map_objects
from socialekaart.changelog import record_changes
from socialekaart.hsds import CONTENT_TABLES, bump_revision, delete_orphans
from socialekaart.models import Address, DuplicateDecision, Organization, Phone, Service, ServiceAtLocation

NAME_THRESHOLD = 0.82
SCORE_THRESHOLD = 0.75
MAX_BLOCK = 200  # a fact shared by more services than this (a big health centre's postcode) says little
KEEP = ("a", "b", "both")


@dataclass
class DuplicatePair:
    a: str
    b: str
    a_name: str
    b_name: str
    score: float
    evidence: list[str]

    def as_json(self) -> dict:
        return {
            "a": {"id": self.a, "name": self.a_name},
            "b": {"id": self.b, "name": self.b_name},
            "score": round(self.score, 3),
            "evidence": self.evidence,
        }


def _name(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", fold(text or "")))


def _domain(url: str | None) -> str | None:
    if not url:
        return None
    host = urlparse(url if "//" in url else "//" + url).hostname or ""
    return host.removeprefix("www.") or None


def _facts(rec: dict) -> dict[str, set[str]]:
    org = rec.get("organization") or {}
    phones = [p["number"] for p in rec.get("phones") or []]
    postcodes = {
        a["postal_code"].replace(" ", "").upper()
        for sal in rec.get("service_at_locations") or []
        for a in sal["location"].get("addresses") or []
        if a.get("postal_code")
    }
    return {
        "postcode": postcodes,
        "phone": {re.sub(r"\D", "", p) for p in phones if len(re.sub(r"\D", "", p)) >= 6},
        "email": {e.lower() for e in (rec.get("email"), org.get("email")) if e},
        "website": {d for d in (_domain(rec.get("url")), _domain(org.get("website"))) if d},
    }


def pair_key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def find_duplicates(
    records: list[dict], *, new: Collection[str] | None = None, skip: Collection[tuple[str, str]] = ()
) -> list[DuplicatePair]:
    """Probable duplicate pairs among HSDS service records (or what :func:`duplicate_view` reads), best first.

    NEW: only pairs of a service among these ids with one that is not (a merge: each newcomer against the
    map), the map's one as A. SKIP: pairs decided already (by :func:`pair_key`)."""
    facts = [_facts(r) for r in records]
    blocks: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, f in enumerate(facts):
        for kind, values in f.items():
            for v in values:
                blocks[(kind, v)].append(i)
    candidates = _candidates(blocks.values(), records, new)
    skipped = set(skip)
    pairs = []
    for i, j in sorted(candidates):
        if pair_key(records[i]["id"], records[j]["id"]) in skipped:
            continue
        if pair := _judge(records[i], records[j], facts[i], facts[j]):
            pairs.append(pair)
    pairs.sort(key=lambda p: -p.score)
    return pairs


def _candidates(blocks: Iterable[list[int]], records: list[dict], new: Collection[str] | None) -> set[tuple[int, int]]:
    """Pairs of services that share a fact (the map's one first in a merge), from blocks small enough to
    say something."""
    fresh = None if new is None else set(new)
    is_new = None if fresh is None else [r["id"] in fresh for r in records]
    candidates: set[tuple[int, int]] = set()
    for members in blocks:
        if not 1 < len(members) <= MAX_BLOCK:
            continue
        if is_new is None:
            candidates.update(combinations(members, 2))
        else:
            old = [m for m in members if not is_new[m]]
            candidates.update((o, n) for n in members if is_new[n] for o in old)
    return candidates


def _judge(a: dict, b: dict, fa: dict[str, set[str]], fb: dict[str, set[str]]) -> DuplicatePair | None:
    na, nb = _name(a["name"]), _name(b["name"])
    name_sim = max(fuzz.ratio(na, nb), fuzz.token_sort_ratio(na, nb)) / 100
    if name_sim < NAME_THRESHOLD:
        return None
    oa, ob = (_name((r.get("organization") or {}).get("name") or "") for r in (a, b))
    org_sim = fuzz.token_set_ratio(oa, ob) / 100 if oa and ob else 0.5
    shared = [
        f"same {kind}: {', '.join(sorted(fa[kind] & fb[kind]))}"
        for kind in ("postcode", "phone", "email", "website")
        if fa[kind] & fb[kind]
    ]
    score = 0.55 * name_sim + 0.25 * org_sim + 0.2 * min(1.0, len(shared) / 2)
    if score < SCORE_THRESHOLD:
        return None
    evidence = [f"name {round(name_sim * 100)}% alike", f"organisation {round(org_sim * 100)}% alike", *shared]
    return DuplicatePair(a["id"], b["id"], a["name"], b["name"], score, evidence)


# --- the map as the finder reads it, and the coordinator's decisions ------------------------------


def duplicate_view(session: Session) -> list[dict]:
    """Every service with the fields the finder reads (name, url, e-mail, organisation, phones, postcodes),
    shaped like HSDS records, in map order: four plain selects instead of the full export's ORM load."""
    rows = session.execute(
        select(
            Service.id,
            Service.name,
            Service.url,
            Service.email,
            Organization.name,
            Organization.email,
            Organization.website,
        )
        .outerjoin(Organization, Service.organization_id == Organization.id)
        .order_by(Service.position, Service.id)
    )
    view: dict[str, dict] = {}
    for sid, name, url, email, org_name, org_email, website in rows:
        org = None if org_name is None else {"name": org_name, "email": org_email, "website": website}
        view[sid] = {"id": sid, "name": name, "url": url, "email": email, "organization": org}
        view[sid].update(phones=[], service_at_locations=[])
    for sid, number in session.execute(select(Phone.service_id, Phone.number).where(Phone.service_id.is_not(None))):
        view[sid]["phones"].append({"number": number})
    postcodes = session.execute(
        select(ServiceAtLocation.service_id, Address.postal_code)
        .join(Address, Address.location_id == ServiceAtLocation.location_id)
        .where(Address.postal_code.is_not(None))
    )
    for sid, postcode in postcodes:
        view[sid]["service_at_locations"].append({"location": {"addresses": [{"postal_code": postcode}]}})
    return list(view.values())


def kept_both(session: Session) -> set[tuple[str, str]]:
    """The pairs a coordinator judged not to be duplicates (by :func:`pair_key`)."""
    rows = session.execute(
        select(DuplicateDecision.service_a, DuplicateDecision.service_b).where(DuplicateDecision.kept.is_(None))
    )
    return {(a, b) for a, b in rows}


def open_pairs(session: Session, *, new: Collection[str] | None = None) -> list[DuplicatePair]:
    """Probable duplicates in the map no coordinator has decided yet (NEW: only those of these services)."""
    return find_duplicates(duplicate_view(session), new=new, skip=kept_both(session))


def resolve(session: Session, a: str, b: str, keep: str, *, by: str, now: datetime) -> str | None:
    """Record a coordinator's decision on the pair A, B in the caller's transaction: KEEP 'both' (not a
    duplicate), 'a' or 'b' (the other service is deleted with its children, orphans go, the map's revision
    is bumped). A pair decided before is decided again. Returns the id of the removed service, if any."""
    if keep not in KEEP:
        raise WijkbotError(f"--keep must be one of {', '.join(KEEP)}, not {keep!r}")
    if a == b:
        raise WijkbotError("a service cannot be a duplicate of itself: give two different ids")
    names = dict(session.execute(select(Service.id, Service.name).where(Service.id.in_([a, b]))).all())
    for sid in (a, b):
        if sid not in names:
            raise WijkbotError(f"service {sid} is not in the map")
    kept, removed = {"a": (a, b), "b": (b, a), "both": (None, None)}[keep]
    first, second = pair_key(a, b)
    decision = session.scalar(
        select(DuplicateDecision).where(DuplicateDecision.service_a == first, DuplicateDecision.service_b == second)
    )
    if decision is None:
        decision = DuplicateDecision(service_a=first, service_b=second)
        session.add(decision)
    decision.name_a, decision.name_b = names[first], names[second]
    decision.kept, decision.removed, decision.decided_by, decision.decided_at = kept, removed, by, now
    if removed is not None:
        session.flush()
        session.execute(delete(Service).where(Service.id == removed))
        delete_orphans(session)
        bump_revision(session, now)
        record_changes(session, [removed], now=now)
        forget_map_objects(session, CONTENT_TABLES)
    return removed
