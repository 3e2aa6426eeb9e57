"""The Open Referral read API (`wijkbot serve`, bot/api/): what a municipal website or a professional's
system sees. Every service response is checked against the HSDS models (`check_service`)."""

from __future__ import annotations

import logging
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from bot.api.app import create_app
from bot.floor.config import Settings
from bot.floor.db import Database
from socialekaart.search import Filters, MapSearch
from tests.test_cli import out, wijkbot

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")  # FastAPI's TestClient
GEMEENTE = "https://www.gemeente.example.nl"


def check_service(record: dict) -> list[str]:
    """Problems of a compiled service record against the HSDS 3.0 models, one line each ([] when valid)."""
    from socialekaart.conformance import check_service as conformance

    return conformance(record)


def client(database: Database, **settings):
    from fastapi.testclient import TestClient

    return TestClient(create_app(database, Settings(_env_file=None, **settings)))


@pytest.fixture
def demo_db(demo_db_url):
    db = Database(demo_db_url)
    yield db
    db.dispose()


@pytest.fixture
def api(demo_db):
    return client(demo_db)


def pages(api, per_page: int, **params) -> list[dict]:
    """Every page of GET /services, first to last."""
    got, page = [], 1
    while True:
        body = api.get("/services", params={"page": page, "per_page": per_page, **params}).json()
        got.append(body)
        if body["last_page"] or page > 100:
            return got
        page += 1


def ids(body: dict) -> list[str]:
    return [item["id"] for item in body["contents"]]


# --- the root, paging, one service ---------------------------------------------------------------


def test_root_names_the_hsds_version_and_where_the_openapi_document_is(api):
    info = api.get("/").json()
    assert info["version"] == "3.0" and info["api_version"]
    assert api.get(info["openapi_url"]).json()["paths"].keys() >= {"/services", "/services/{id}", "/organizations"}


def test_pages_cover_the_map_once_in_map_order(api, demo_records):
    listed = pages(api, per_page=7)
    total = len(demo_records)
    assert [p["total_items"] for p in listed] == [total] * math.ceil(total / 7)
    assert [p["page_number"] for p in listed] == list(range(1, len(listed) + 1))
    assert listed[0]["first_page"] and not listed[1]["first_page"] and listed[-1]["last_page"]
    assert listed[-1]["size"] == total - 7 * (len(listed) - 1) and not listed[-1]["empty"]
    assert [i for p in listed for i in ids(p)] == [r["id"] for r in demo_records]
    beyond = api.get("/services", params={"page": len(listed) + 1, "per_page": 7}).json()
    assert beyond["empty"] and beyond["size"] == 0 and beyond["contents"] == [] and beyond["total_items"] == total
    for item in listed[0]["contents"]:  # list items: the one-to-one fields, no arrays of children
        assert check_service(item) == []
        assert not any(isinstance(v, list) for v in item.values())


def test_one_service_is_the_whole_compiled_record_without_contacts(api, demo_records):
    with_contacts = next(r for r in demo_records if r["contacts"])
    record = api.get(f"/services/{with_contacts['id']}").json()
    assert check_service(record) == []
    assert record["name"] == with_contacts["name"] and record["phones"] and record["service_at_locations"]
    assert "contacts" not in record
    assert "contacts" not in str(api.get("/services", params={"full": True, "per_page": 100}).json())


def test_records_are_what_kaart_export_writes(api, demo_db):
    """The API and `wijkbot kaart export` make their records the same way (socialekaart.hsds.service_dict);
    with a token the contact persons are in, as in the export."""
    from datetime import UTC, datetime

    from bot.api.tokens import create_token
    from socialekaart.hsds import export_records

    with demo_db.session() as session:
        exported = export_records(session)
        secret, _ = create_token(session, "test", now=datetime(2026, 12, 3, tzinfo=UTC))
        session.commit()
    bearer = {"Authorization": f"Bearer {secret}"}
    shown = [r for p in pages(api, per_page=100, full=True) for r in p["contents"]]
    assert shown == [{k: v for k, v in r.items() if k != "contacts"} for r in exported]
    professional = api.get("/services", params={"full": True, "per_page": 100}, headers=bearer).json()["contents"]
    assert professional == exported[:100]
    listed = [r for p in pages(api, per_page=100) for r in p["contents"]]
    assert listed == [{k: v for k, v in r.items() if not isinstance(v, list)} for r in exported]


def test_unknown_ids_and_bad_parameters_are_clear_4xx(api):
    missing = api.get("/services/no-such-service")
    assert missing.status_code == 404
    assert missing.json() == {"status": 404, "error": "Not Found", "message": "no service with id 'no-such-service'"}
    assert api.get("/organizations/nope").status_code == 404
    assert api.get("/taxonomy_terms/nope").status_code == 404
    for params, named in [
        ({"per_page": 0}, "per_page"),
        ({"per_page": 10**9}, "per_page"),
        ({"page": 0}, "page"),
        ({"page": 10**30}, "page"),
        ({"page": "twee"}, "page"),
        ({"postcode": "ABCD 12"}, "postcode"),
        ({"proximity": 500}, "postcode"),
        ({"modified_after": "2026-12-01"}, "modified_after"),
        ({"search": "x" * 1001}, "search"),
    ]:
        response = api.get("/services", params=params)
        assert response.status_code == 400, params
        assert response.json()["status"] == 400 and named in response.json()["message"], params
    assert api.post("/services").status_code == 405  # read-only


# --- search and filters ----------------------------------------------------------------------


def test_search_ranks_with_wijkbots_own_search_then_pages(api, demo_db):
    first = api.get("/services", params={"search": "ik heb schulden en kan mijn rekeningen niet betalen"}).json()
    assert "Schuldhulpverlening" in [c["name"] for c in first["contents"][:3]]
    ranked = [h.id for h in MapSearch(demo_db).search("hulp bij de administratie", Filters(), limit=200)]
    listed = pages(api, per_page=4, search="hulp bij de administratie")
    assert [i for p in listed for i in ids(p)] == ranked
    assert listed[0]["total_items"] == len(ranked) > 4
    for odd in ["<script>alert(1)</script>", "😀😀", "'; DROP TABLE service; --", "   "]:
        assert api.get("/services", params={"search": odd}).status_code == 200
    assert api.get("/services").json()["total_items"] > 100  # the map is still there


def test_taxonomy_filters_and_their_combination_with_search(api, demo_records):
    term = demo_records[0]["attributes"][0]["taxonomy_term"]
    having = [r["id"] for r in demo_records if any(a["taxonomy_term"]["id"] == term["id"] for a in r["attributes"])]
    assert [i for p in pages(api, per_page=50, taxonomy_term_id=term["id"]) for i in ids(p)] == having
    everything = pages(api, per_page=100, taxonomy_id=term["taxonomy"])
    assert everything[0]["total_items"] == sum(1 for r in demo_records if r["attributes"])
    assert api.get("/services", params={"taxonomy_id": "no-such-taxonomy"}).json()["empty"]
    searched = api.get("/services", params={"search": "huisarts", "taxonomy_term_id": term["id"]}).json()
    assert set(ids(searched)) <= set(having) and searched["total_items"] == len(ids(searched))
    terms = api.get("/taxonomy_terms", params={"per_page": 100}).json()
    assert term["id"] in ids(terms)
    assert {t["taxonomy"] for t in terms["contents"]} == {term["taxonomy"]}


def _postcodes(record: dict) -> set[str]:
    return {
        a["postal_code"].replace(" ", "").upper()
        for sal in record["service_at_locations"]
        for a in sal["location"]["addresses"]
        if a.get("postal_code")
    }


def test_postcode_filter_at_a_postcode_in_an_area_and_within_metres(api, demo_records):
    at = [r["id"] for r in demo_records if "7543AB" in _postcodes(r)]
    for spelled in ("7543 AB", "7543ab", " 7543AB "):
        assert [i for p in pages(api, per_page=100, postcode=spelled) for i in ids(p)] == at
    area = [r["id"] for r in demo_records if any(pc.startswith("7543") for pc in _postcodes(r))]
    assert [i for p in pages(api, per_page=100, postcode="7543") for i in ids(p)] == area
    assert len(area) > len(at) > 0
    # within 600 m of the centre of 7543 AB (the mean position of the map's locations there)
    spots = [
        (sal["location"]["latitude"], sal["location"]["longitude"])
        for r in demo_records
        for sal in r["service_at_locations"]
        for a in sal["location"]["addresses"]
        if (a.get("postal_code") or "").replace(" ", "") == "7543AB" and sal["location"].get("latitude") is not None
    ]
    lat0, lon0 = (sum(s[0] for s in spots) / len(spots), sum(s[1] for s in spots) / len(spots))

    def km(lat, lon):
        return 6371 * math.dist(
            (math.radians(lat), math.radians(lon) * math.cos(math.radians(lat0))),
            (math.radians(lat0), math.radians(lon0) * math.cos(math.radians(lat0))),
        )

    near = [
        r["id"]
        for r in demo_records
        if any(
            sal["location"].get("latitude") is not None
            and km(sal["location"]["latitude"], sal["location"]["longitude"]) <= 0.6
            for sal in r["service_at_locations"]
        )
    ]
    assert [i for p in pages(api, per_page=100, postcode="7543 AB", proximity=600) for i in ids(p)] == near
    assert len(at) < len(near) < len(demo_records)
    assert api.get("/services", params={"postcode": "1011 AA", "proximity": 600}).json()["empty"]  # not on the map


def test_organizations_list_with_their_services(api, demo_records):
    listed = api.get("/organizations", params={"per_page": 100}).json()
    providers = {r["organization"]["id"] for r in demo_records if r.get("organization")}
    assert listed["total_items"] == len(providers) and set(ids(listed)) == providers
    org = demo_records[0]["organization"]
    one = api.get(f"/organizations/{org['id']}").json()
    assert one["name"] == org["name"]
    assert [s["id"] for s in one["services"]] == [
        r["id"] for r in demo_records if (r.get("organization") or {}).get("id") == org["id"]
    ]
    by_org = api.get("/services", params={"organization_id": org["id"], "per_page": 100}).json()
    assert ids(by_org) == [s["id"] for s in one["services"]]


# --- tokens: contact persons for professionals -------------------------------------------------------


def _demo_data_dir(tmp_path, sqlite_templates) -> None:
    """tmp_path/data holds the demo map already (as a first run makes it, without the seconds it takes)."""
    (tmp_path / "data").mkdir()
    shutil.copy(sqlite_templates["demo"], tmp_path / "data" / "wijkbot.sqlite3")


def test_contacts_only_with_a_working_token_made_on_the_command_line(tmp_path, sqlite_templates, demo_records):
    _demo_data_dir(tmp_path, sqlite_templates)
    made = wijkbot(tmp_path, "api", "token", "create", "--name", "wijkteam Oost")
    secret = out(made).strip()
    assert secret.startswith("wkb_") and "not shown again" in made.stderr.decode()
    listed = out(wijkbot(tmp_path, "api", "token", "list"))
    assert "wijkteam Oost" in listed and "working" in listed and secret not in listed
    again = wijkbot(tmp_path, "api", "token", "create", "--name", "wijkteam Oost")
    assert again.returncode == 1 and "exists" in again.stderr.decode()

    database = Database(f"sqlite:///{tmp_path / 'data' / 'wijkbot.sqlite3'}")
    try:
        api = client(database)
        service = next(r for r in demo_records if r["contacts"])
        assert "contacts" not in api.get(f"/services/{service['id']}").json()
        bearer = {"Authorization": f"Bearer {secret}"}
        shown = api.get(f"/services/{service['id']}", headers=bearer).json()
        assert shown["contacts"] and shown["contacts"][0]["name"] and check_service(shown) == []
        assert api.get("/services", params={"full": True, "per_page": 100}, headers=bearer).json()["contents"][0]
        wrong = api.get(f"/services/{service['id']}", headers={"Authorization": "Bearer wkb_guessed"})
        assert wrong.status_code == 401 and wrong.json()["status"] == 401
        assert wrong.headers["www-authenticate"] == "Bearer"

        assert "revoked token 1 (wijkteam Oost)" in out(wijkbot(tmp_path, "api", "token", "revoke", "wijkteam Oost"))
        assert api.get(f"/services/{service['id']}", headers=bearer).status_code == 401
        assert "revoked" in out(wijkbot(tmp_path, "api", "token", "list"))
        assert wijkbot(tmp_path, "api", "token", "revoke", "nobody").returncode == 1
    finally:
        database.dispose()


# --- CORS and logs ---------------------------------------------------------------------------------


def test_cors_lets_a_configured_municipal_website_read(demo_db):
    origin = {"Origin": GEMEENTE}
    assert "access-control-allow-origin" not in client(demo_db).get("/services", headers=origin).headers
    api = client(demo_db, api_cors_origins=f"{GEMEENTE}, https://andere.example.nl")
    assert api.get("/services", headers=origin).headers["access-control-allow-origin"] == GEMEENTE
    assert "access-control-allow-origin" not in api.get("/services", headers={"Origin": "https://evil.example"}).headers
    preflight = api.options(
        "/services",
        headers={**origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"},
    )
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == GEMEENTE


def test_logs_name_the_route_never_the_search_or_the_token(api, caplog):
    question = "mijn buurvrouw Fatima heeft schulden"
    with caplog.at_level(logging.DEBUG):
        assert api.get("/services", params={"search": question}).status_code == 200
        api.get("/services/abc", headers={"Authorization": "Bearer wkb_secret_token_value"})
        api.get("/services", params={"page": "x", "search": question})
    served = "\n".join(r.getMessage() for r in caplog.records if r.name != "httpx")  # httpx: the test's client
    assert "GET /services 200" in served and "GET /services/{id} 401" in served
    for secret in ("Fatima", "buurvrouw", "wkb_secret_token_value", "search="):
        assert secret not in served


# --- the generated requests of schemathesis ---------------------------------------------------------


class _TestsDatabase:
    """The database of the running test, for an application made when this module is imported (schemathesis
    reads the document then; its lazy fixture loader does not run on pytest 9.2)."""

    database: Database | None = None

    def __getattr__(self, name: str):
        assert self.database is not None, "use the generated_db fixture"
        return getattr(self.database, name)


GENERATED_DB = _TestsDatabase()
GENERATED_DIR = Path(tempfile.mkdtemp(prefix="wijkbot-api-"))  # the saved search index; removed after the module
schema = schemathesis.openapi.from_asgi(
    "/openapi.json",
    create_app(GENERATED_DB, Settings(_env_file=None, data_dir=GENERATED_DIR)),  # type: ignore[arg-type]
)


@pytest.fixture(scope="module", autouse=True)
def _generated_dir():
    yield
    shutil.rmtree(GENERATED_DIR, ignore_errors=True)


@pytest.fixture
def generated_db(sqlite_templates, tmp_path):
    shutil.copy(sqlite_templates["demo"], tmp_path / "demo.sqlite3")
    GENERATED_DB.database = Database(f"sqlite:///{tmp_path / 'demo.sqlite3'}")
    yield
    GENERATED_DB.database.dispose()
    GENERATED_DB.database = None


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_generated_request_gets_a_documented_answer(case, generated_db):
    """Requests generated from /openapi.json (valid and invalid parameters, odd ids, unicode searches):
    never a 500, always a status and body the document declares; every service validates."""
    if "proximity" in (case.query or {}) and "postcode" not in case.query:  # a dependency OpenAPI cannot state
        assert case.call().status_code == 400
        return
    response = case.call_and_validate()
    if response.status_code == 200 and case.path == "/services/{id}":
        assert check_service(response.json()) == []
    if response.status_code == 200 and case.path == "/services":
        assert all(check_service(item) == [] for item in response.json()["contents"])


# --- the real server ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_wijkbot_serve_answers_on_localhost_and_logs_no_query(tmp_path, sqlite_templates):
    _demo_data_dir(tmp_path, sqlite_templates)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIJKBOT_")}
    env.update(WIJKBOT_DATA_DIR=str(tmp_path / "data"), WIJKBOT_LOG_LEVEL="INFO")
    server = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:  # ready when it answers; the first start migrates and loads the demo map
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            try:
                root = httpx.get(f"{base}/", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "wijkbot serve did not answer in 90 s"
                time.sleep(0.1)  # a poll interval, not a wait for something to happen
        assert root.status_code == 200 and root.json()["version"] == "3.0"
        # a question in the query string (refused for its per_page, so that no search model has to load)
        refused = httpx.get(f"{base}/services", params={"search": "geheime vraag", "per_page": 0}, timeout=10)
        assert refused.status_code == 400
    finally:
        server.terminate()
        stdout, stderr = server.communicate(timeout=30)
    logs = (stdout + stderr).decode()
    assert "GET /services 400" in logs and "Open Referral API on http://127.0.0.1" in logs
    assert "geheime" not in logs and "search=" not in logs
