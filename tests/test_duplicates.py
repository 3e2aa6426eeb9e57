"""Probable duplicates: the same service imported from two sources."""

from __future__ import annotations

import copy
import json

from socialekaart.duplicates import find_duplicates
from socialekaart.hsds import apply_records, export_records, parse_json
from tests.records import service, uid


def second_source_copy(rec: dict) -> dict:
    """How another sociale kaart describes the same service: other ids, other wording."""
    twin = copy.deepcopy(rec)
    twin["id"] = uid()
    twin["name"] = rec["name"].replace("Koffieochtend", "Koffie-ochtend")
    twin["description"] = "Koffie drinken met buurtbewoners."
    twin["organization"] = {"id": uid(), "name": "Buurtwerk Test", "website": rec["organization"]["website"]}
    for key in ("service_at_locations", "phones", "contacts", "schedules", "attributes", "languages", "service_areas"):
        for child in twin[key]:
            child["id"] = uid()
    for phone in twin["contacts"][0]["phones"]:
        phone["id"] = uid()
    twin["service_at_locations"][0]["location"]["id"] = uid()
    twin["service_at_locations"][0]["location"]["addresses"][0]["id"] = uid()
    twin["attributes"][0]["taxonomy_term"]["id"] = uid()
    return twin


def test_the_same_service_from_two_maps_is_found_with_evidence(database):
    original = service("Koffieochtend De Linde")
    other = service("Wandelclub De Linde", "Samen wandelen.")  # same organisation and address, other service
    twin = second_source_copy(original)
    with database.session() as session:
        apply_records(session, parse_json(json.dumps([original, other, twin])))
        session.commit()
        pairs = find_duplicates(export_records(session))
    assert len(pairs) == 1
    pair = pairs[0]
    assert {pair.a, pair.b} == {original["id"], twin["id"]}
    assert 0.75 <= pair.score <= 1.0
    evidence = " ".join(pair.evidence)
    assert "same postcode: 7543AB" in evidence and "same phone" in evidence and "same website" in evidence


def test_alike_names_without_a_shared_fact_are_not_duplicates(demo_records):
    physio = [r for r in demo_records if "fysio" in r["name"].lower()]
    assert len(physio) >= 3
    assert find_duplicates(demo_records) == []
