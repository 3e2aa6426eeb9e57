"""Small hand-written HSDS records for tests."""

from __future__ import annotations

import copy
import uuid

ORG = {
    "id": "0b7e3c1a-1111-4aaa-8bbb-000000000001",
    "name": "Stichting Buurtwerk Test",
    "description": "Welzijnswerk in de wijk.",
    "website": "https://www.buurtwerk.example.nl",
    "email": "info@buurtwerk.example.nl",
}
LOCATION = {
    "id": "0b7e3c1a-2222-4aaa-8bbb-000000000001",
    "name": "Buurthuis De Linde",
    "location_type": "physical",
    "latitude": 52.23,
    "longitude": 6.88,
    "addresses": [
        {
            "id": "0b7e3c1a-3333-4aaa-8bbb-000000000001",
            "address_1": "Lindelaan 3",
            "city": "Oosterwaarde",
            "postal_code": "7543AB",
            "country": "NL",
            "address_type": "physical",
            "state_province": "Overijssel",
        }
    ],
}
TERM = {
    "id": "0b7e3c1a-4444-4aaa-8bbb-000000000001",
    "code": "welzijn.ontmoeting",
    "name": "Ontmoeting",
    "taxonomy": "wijkkaart",
}


def uid() -> str:
    return str(uuid.uuid4())


def service(name: str = "Koffieochtend", description: str = "Elke week koffie en een praatje.", **fields) -> dict:
    rec = {
        "id": uid(),
        "name": name,
        "alternate_name": None,
        "description": description,
        "url": None,
        "email": None,
        "status": "active",
        "eligibility_description": None,
        "fees_description": "Gratis",
        "languages": [{"id": uid(), "name": "Nederlands", "code": "nl"}],
        "organization": copy.deepcopy(ORG),
        "service_at_locations": [{"id": uid(), "location": copy.deepcopy(LOCATION)}],
        "phones": [{"id": uid(), "number": "053-5550001", "type": "voice"}],
        "contacts": [
            {
                "id": uid(),
                "name": "Petra de Vries",
                "title": "opbouwwerker",
                "email": "petra@buurtwerk.example.nl",
                "phones": [{"id": uid(), "number": "06-55500001"}],
            }
        ],
        "schedules": [
            {
                "id": uid(),
                "freq": "WEEKLY",
                "byday": "TU",
                "opens_at": "10:00",
                "closes_at": "12:00",
                "description": "koffieochtend",
            }
        ],
        "attributes": [{"id": uid(), "taxonomy_term": copy.deepcopy(TERM)}],
        "service_areas": [{"id": uid(), "name": "De Vlinderhof"}],
        "cost_options": [],
    }
    rec.update(fields)
    return rec
