"""Probable duplicates within the map: the same service imported from two sources.

Two services are a probable pair when their names (and organisations) are alike AND they share
at least one hard fact: a postcode, a phone number, an e-mail address or a website. Pairs are
found by blocking on those facts, so the work grows with the map, not with its square.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations
from urllib.parse import urlparse

from rapidfuzz import fuzz

from intents.language import fold

NAME_THRESHOLD = 0.82
SCORE_THRESHOLD = 0.75
MAX_BLOCK = 200  # a fact shared by more services than this (a big health centre's postcode) says little


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


def find_duplicates(records: list[dict]) -> list[DuplicatePair]:
    """Probable duplicate pairs among HSDS service records, best first."""
    facts = [_facts(r) for r in records]
    blocks: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, f in enumerate(facts):
        for kind, values in f.items():
            for v in values:
                blocks[(kind, v)].append(i)
    candidates: set[tuple[int, int]] = set()
    for members in blocks.values():
        if 1 < len(members) <= MAX_BLOCK:
            candidates.update(combinations(members, 2))
    pairs = []
    for i, j in sorted(candidates):
        a, b = records[i], records[j]
        na, nb = _name(a["name"]), _name(b["name"])
        name_sim = max(fuzz.ratio(na, nb), fuzz.token_sort_ratio(na, nb)) / 100
        if name_sim < NAME_THRESHOLD:
            continue
        oa, ob = (_name((r.get("organization") or {}).get("name") or "") for r in (a, b))
        org_sim = fuzz.token_set_ratio(oa, ob) / 100 if oa and ob else 0.5
        shared = [
            f"same {kind}: {', '.join(sorted(facts[i][kind] & facts[j][kind]))}"
            for kind in ("postcode", "phone", "email", "website")
            if facts[i][kind] & facts[j][kind]
        ]
        score = 0.55 * name_sim + 0.25 * org_sim + 0.2 * min(1.0, len(shared) / 2)
        if score < SCORE_THRESHOLD:
            continue
        evidence = [f"name {round(name_sim * 100)}% alike", f"organisation {round(org_sim * 100)}% alike", *shared]
        pairs.append(DuplicatePair(a["id"], b["id"], a["name"], b["name"], score, evidence))
    pairs.sort(key=lambda p: -p.score)
    return pairs
