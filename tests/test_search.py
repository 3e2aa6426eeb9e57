"""Search over the demo map as a resident or professional would use it, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import json
import re
from datetime import datetime

import pytest

from bot.floor.clock import LOCAL_TZ
from socialekaart.hsds import apply_records, export_records, parse_json
from socialekaart.search import Filters, MapSearch
from tests.records import service


@pytest.fixture
def db_url(demo_db_url):
    """Every search test starts from the demo map (copied from a template: importing it per test is slow)."""
    return demo_db_url


@pytest.fixture
def search(database):
    return MapSearch(database, recheck_seconds=0)


@pytest.fixture
def services(database, search) -> dict[str, dict]:
    with database.session() as session:
        return {s["id"]: s for s in export_records(session)}


def names(hits) -> list[str]:
    return [h.name for h in hits]


def codes(services, hits) -> list[set[str]]:
    return [{a["taxonomy_term"]["code"] for a in services[h.id]["attributes"]} for h in hits]


def test_typos_still_find_the_service(search, services):
    hits = search.search("fysiotherpeut", limit=3)
    assert all("fysio" in (h.name + h.organization).lower() for h in hits), names(hits)
    assert "zorg.dementie" in set().union(*codes(services, search.search("dementi, mijn vader vergeet alles", limit=3)))


def test_inflections_and_compounds(search, services):
    hits = search.search("wandelgroepen", limit=3)
    assert all("wandel" in h.name.lower() for h in hits), names(hits)
    assert "welzijn.geldzaken" in set().union(*codes(services, search.search("ik heb schulden", limit=3)))
    # 'wandelen' finds the services whose names are compounds of it
    assert any("wandel" in n.lower() for n in names(search.search("wandelen", limit=3)))


def test_lay_words_and_english_reach_professional_words(search, services):
    assert "zorg.huisarts" in codes(services, search.search("dokter", limit=1))[0]
    assert any("Maatje" in n for n in names(search.search("ik voel me zo eenzaam", limit=3)))
    assert any("tandarts" in n.lower() for n in names(search.search("I need a dentist", limit=2)))
    night = names(search.search("dokter 's nachts voor mijn kind", limit=3))
    assert "Huisartsenpost Oosterwaarde" in night


def test_a_long_story_with_the_need_inside(search, services):
    story = (
        "Goedemiddag, ik weet niet goed bij wie ik moet zijn. Sinds de scheiding is alles op mij "
        "aangekomen en er liggen stapels brieven van de deurwaarder die ik niet meer open."
    )
    found = set().union(*codes(services, search.search(story, limit=3)))
    assert found & {"welzijn.geldzaken", "welzijn.administratie"}, found  # help with debts and letters


def test_professionals_find_people_and_roles(search, services):
    hits = search.search("wie is Jesse Dijkman", limit=1, contacts=True)
    assert hits[0].name == "Praktijkondersteuner GGZ"
    # for a resident a contact person's name is no search word: it would tell where that person works
    assert "Praktijkondersteuner GGZ" not in names(search.search("wie is Jesse Dijkman", limit=3))
    assert "Praktijkondersteuner GGZ" not in names(search.search("Dijkman", limit=3))
    hits = search.search("POH-GGZ", limit=3)
    assert "Praktijkondersteuner GGZ" in names(hits)


def test_inactive_services_are_never_returned(search, services):
    for name in ("Huisartspraktijk Van Dalen", "Fysiotherapie Vlinderweide", "Formulierenbrigade"):
        assert name not in names(search.search(name, limit=20))
    inactive = {s["id"] for s in services.values() if s["status"] != "active"}
    assert not inactive & {
        h.id for q in ("huisarts", "fysiotherapie", "formulieren") for h in search.search(q, limit=50)
    }


def test_free_and_language_filters(search, services):
    hits = search.search("bewegen", Filters(free=True), limit=10)
    assert hits
    for h in hits:
        s = services[h.id]
        assert any(c["amount"] == 0 for c in s["cost_options"]) or re.search(
            r"gratis|kosteloos|geen kosten", s["fees_description"] or "", re.IGNORECASE
        )
    hits = search.search("huisarts", Filters(language="ar"), limit=10)
    assert hits and all("ar" in {x["code"] for x in services[h.id]["languages"]} for h in hits)


def test_open_now_uses_local_time(search, services):
    sunday_night = datetime(2026, 11, 29, 3, 0, tzinfo=LOCAL_TZ)
    hits = search.search("dokter", Filters(open_now=True), limit=5, now=sunday_night)
    assert names(hits)[0] == "Huisartsenpost Oosterwaarde"
    assert "Huisarts De Vlinderhof" not in names(hits)
    tuesday_morning = datetime(2026, 12, 1, 10, 0, tzinfo=LOCAL_TZ)
    assert "Huisarts De Vlinderhof" in names(
        search.search("huisarts", Filters(open_now=True), limit=5, now=tuesday_morning)
    )


def test_a_postcode_puts_nearby_services_first(search, services):
    """Among alike services, one a few hundred metres away ranks above one kilometres away."""
    for postcode in ("7543AB", "7545", "7545 XY"):
        hits = search.search("fysiotherapie", Filters(postcode=postcode), limit=6)
        physio = [h for h in hits if "zorg.fysiotherapie" in codes(services, [h])[0] and h.distance_km is not None]
        assert len(physio) >= 3
        assert "km van de postcode" in physio[0].why
        for better, worse in itertools.pairwise(physio):
            assert better.distance_km <= worse.distance_km + 1.0, [(h.name, h.distance_km) for h in physio]


def test_index_follows_changes_to_the_map(database, search):
    assert "Zwoeberclub" not in names(search.search("zwoeberclub", limit=3))
    with database.session() as session:
        apply_records(session, parse_json(json.dumps([service("Zwoeberclub", "Samen zwoeberen op woensdag.")])))
        session.commit()
    assert names(search.search("zwoeberclub", limit=3))[0] == "Zwoeberclub"


@pytest.mark.parametrize(
    "query",
    [
        "",
        "   ",
        "😀😀😀",
        "x" * 20_000,
        "<script>alert(1)</script>",
        "**vet** _schuin_ [link](http://x)",
        "\x00\x01\x02\ufffd",
        "1234",
    ],
)
def test_odd_queries_give_an_answer_not_an_error(search, query):
    hits = search.search(query, limit=5)
    assert isinstance(hits, list)


def test_the_need_model_reads_needs_that_name_no_service_on_a_map_it_has_never_seen():
    from socialekaart.needs import default_needs
    from socialekaart.search import SearchIndex, ServiceDoc
    from tests.records import service

    docs = [
        ServiceDoc.from_record(service(name, description))
        for name, description in [
            ("Project Lantaarn", "Een maatje dat eens per week bij u langskomt voor een praatje of een wandeling."),
            ("De Kompasroos", "Bekkenfysiotherapie: oefeningen voor de bekkenbodem, bijvoorbeeld na een bevalling."),
            ("Kwartier", "Budgetcoaches helpen bij schulden en rekeningen die u niet kunt betalen."),
            ("Het Vlot", "Leer beter lezen en schrijven in kleine groepjes."),
            ("Buurtkracht", "Vrijwilligers doen kleine klusjes in en om het huis."),
        ]
    ]
    index = SearchIndex.build(docs, needs=default_needs())
    # none of these shares a word with the right service's name or description
    for query, want in [
        ("sinds de geboorte van mijn dochter verlies ik urine als ik hoest", "De Kompasroos"),
        ("my husband died last year and I have nobody to talk to", "Project Lantaarn"),
        ("de incasso blijft bellen en ik kan de huur niet meer opbrengen", "Kwartier"),
    ]:
        assert index.search(query, limit=1)[0].name == want, query
