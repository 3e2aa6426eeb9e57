"""Synthetic social maps of any size, for the speed benchmarks (deterministic with a seed)."""

from __future__ import annotations

import random
import uuid

KINDS = [
    ("Huisartsenpraktijk", "zorg.huisarts", "Huisarts voor klachten, onderzoek en verwijzing. Bel voor een afspraak."),
    ("Fysiotherapie", "zorg.fysiotherapie", "Behandeling en oefentherapie bij pijn aan rug, nek, knie of schouder."),
    ("Wijkverpleging", "zorg.wijkverpleging", "Verpleging en verzorging thuis, zoals wondzorg en hulp bij douchen."),
    ("Diëtistenpraktijk", "zorg.dieetadvies", "Advies over gezond eten, afvallen en voeding bij diabetes."),
    ("Logopedie", "zorg.logopedie", "Hulp bij spreken, stotteren, slikken en taalontwikkeling van kinderen."),
    ("Apotheek", "zorg.apotheek", "Medicijnen ophalen, uitleg over gebruik en een medicijnrol."),
    ("Tandartspraktijk", "zorg.mondzorg", "Controle, gaatjes en een mondhygiënist. Betalen in termijnen kan."),
    ("Psychologenpraktijk", "zorg.ggz", "Gesprekken bij angst, somberheid, stress en trauma."),
    ("Buurthuis", "welzijn.ontmoeting", "Een plek om andere bewoners te ontmoeten, met koffie en activiteiten."),
    ("Maatjesproject", "welzijn.eenzaamheid", "Een vrijwilliger komt langs voor een praatje of een wandeling."),
    ("Schuldhulp", "welzijn.geldzaken", "Hulp bij schulden, rekeningen, een budgetplan en brieven van de deurwaarder."),
    ("Formulierenhulp", "welzijn.administratie", "Hulp bij formulieren, toeslagen, belastingaangifte en post."),
    ("Taalcafé", "welzijn.taal", "Nederlands oefenen in een kleine groep met een vrijwilliger."),
    ("Wandelgroep", "gezondheid.beweging", "Elke week samen wandelen in het park, voor alle leeftijden."),
    ("Seniorengym", "gezondheid.beweging", "Rustig bewegen op muziek voor ouderen, ook met een rollator."),
    ("Stoppen met roken", "gezondheid.roken", "Een groepstraining om samen te stoppen met roken."),
    ("Mantelzorgpunt", "welzijn.mantelzorg", "Steun en advies voor mantelzorgers die voor een naaste zorgen."),
    ("Opvoedsteunpunt", "welzijn.opvoeden", "Vragen over opvoeden, slapen, eten en ruzie in het gezin."),
    ("Klussendienst", "welzijn.wonen", "Vrijwilligers helpen met kleine klussen in huis voor ouderen."),
    ("Voedselbank", "welzijn.basisbehoeften", "Een voedselpakket voor mensen met weinig geld, op verwijzing."),
    ("Buurtbemiddeling", "welzijn.buren", "Hulp bij ruzie of overlast met de buren, zoals geluid."),
    ("Valpreventie", "gezondheid.valpreventie", "Training voor evenwicht en kracht, zodat u minder snel valt."),
    ("Dagbesteding", "zorg.dagbesteding", "Een zinvolle dag voor mensen met dementie of een beperking."),
    ("Vrijwilligerscentrale", "welzijn.vrijwilligerswerk", "Vrijwilligerswerk vinden dat bij u past."),
]
PLACES = [
    "De Linde",
    "Het Anker",
    "De Brug",
    "Zonnehof",
    "De Esch",
    "Het Baken",
    "De Molen",
    "Kastanjehof",
    "De Horst",
    "Het Veld",
    "De Wilg",
    "Beukenhof",
    "De Poort",
    "Het Plein",
    "De Hoeve",
    "Eikenlaan",
]
STREETS = ["Lindelaan", "Kerkstraat", "Molenweg", "Dorpsstraat", "Stationsweg", "Schoolstraat", "Parklaan"]
FIRST = ["Anna", "Mohamed", "Sanne", "Peter", "Fatima", "Jan", "Emma", "Kees", "Yusuf", "Lotte", "Ahmed", "Ingrid"]
LAST = ["de Vries", "Jansen", "Bakker", "El Amrani", "Visser", "Smit", "Yilmaz", "Meijer", "de Boer", "Mulder"]
TITLES = ["coördinator", "consulent", "wijkverpleegkundige", "opbouwwerker", "praktijkondersteuner", "coach"]
EXTRA = [
    "Aanmelden kan via de website.",
    "U kunt zonder afspraak binnenlopen.",
    "Bel gerust voor informatie.",
    "Ook voor bewoners uit de omliggende wijken.",
    "Er is een lift en een invalidentoilet.",
]
QUERIES = [
    "hulp bij schulden",
    "fysiotherpeut in de buurt",
    "ik voel me eenzaam",
    "dokter 's avonds",
    "wandelen met anderen",
    "mijn moeder heeft dementie, waar kan ze overdag heen",
    "nederlands leren",
    "ruzie met de buren over geluid",
    "stoppen met roken",
    "ik heb weinig geld voor eten",
    "hulp bij formulieren van de belasting",
    "mijn zoon stottert",
    "tandarts betalen in termijnen",
    "bewegen voor ouderen met rollator",
    "vrijwilligerswerk",
    "mantelzorger en moe",
    "klusjes in huis",
    "opvoeden ruzie kinderen",
    "wondzorg thuis",
    "somber en angstig",
    "medicijnen ophalen",
    "valpreventie",
    "I need a doctor",
    "Anna Jansen coördinator",
    "diëtist voor afvallen",
]


def synthetic_map(size: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    uid = lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4))  # noqa: E731
    records = []
    orgs = [{"id": uid(), "name": f"Stichting {rng.choice(PLACES)} {n}"} for n in range(max(1, size // 3))]
    for n in range(size):
        kind, code, text = rng.choice(KINDS)
        place = rng.choice(PLACES)
        lat, lon = 52.0 + rng.random() * 0.5, 6.0 + rng.random() * 0.8
        pc = f"{7500 + rng.randrange(60)}{rng.choice('ABCDEFGH')}{rng.choice('ABCDEFGH')}"
        records.append(
            {
                "id": uid(),
                "name": f"{kind} {place} {n}",
                "description": f"{text} {rng.choice(EXTRA)}",
                "status": "active",
                "organization": rng.choice(orgs),
                "service_at_locations": [
                    {
                        "id": uid(),
                        "location": {
                            "id": uid(),
                            "name": place,
                            "latitude": lat,
                            "longitude": lon,
                            "addresses": [
                                {
                                    "id": uid(),
                                    "address_1": f"{rng.choice(STREETS)} {rng.randrange(1, 200)}",
                                    "city": "Oosterwaarde",
                                    "postal_code": pc,
                                    "country": "NL",
                                }
                            ],
                        },
                    }
                ],
                "phones": [{"id": uid(), "number": f"053-555{rng.randrange(10000):04d}"}],
                "contacts": [
                    {
                        "id": uid(),
                        "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                        "title": rng.choice(TITLES),
                        "phones": [],
                    }
                ],
                "schedules": [
                    {
                        "id": uid(),
                        "freq": "WEEKLY",
                        "byday": rng.choice(["MO,TU,WE,TH,FR", "TU", "WE,FR"]),
                        "opens_at": "09:00",
                        "closes_at": "17:00",
                    }
                ],
                "attributes": [
                    {
                        "id": uid(),
                        "taxonomy_term": {
                            "id": code,
                            "code": code,
                            "name": code.split(".")[1],
                            "taxonomy": "wijkkaart",
                        },
                    }
                ],
                "languages": [{"id": uid(), "name": "Nederlands", "code": "nl"}],
                "service_areas": [{"id": uid(), "name": "Oosterwaarde"}],
                "cost_options": [{"id": uid(), "amount": 0, "currency": "EUR", "option": "gratis"}]
                if rng.random() < 0.4
                else [],
            }
        )
    return records
