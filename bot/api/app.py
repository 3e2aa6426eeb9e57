"""The Open Referral (HSDS 3.0) read API: FastAPI routes over the social map (docs/api.md).

Read-only: no request writes anything. Every error is one JSON object ``{"status", "error", "message"}``
(HSDS 3.0 defines no error body); a bad parameter is a 400 that names it, never a 500. Logs carry the
method, the route (``/services/{id}``, not the path) and the status: never a query string, which holds
a resident's question, and never a token.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from datetime import datetime
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.api import queries
from bot.api.tokens import valid_token
from bot.floor.config import Settings
from bot.floor.db import Database
from socialekaart.search import Filters, MapSearch

log = logging.getLogger("bot.api")
access_log = logging.getLogger("bot.api.access")

HSDS_VERSION = "3.0"
API_VERSION = "1.0.0"  # of this API's own contract (its routes, parameters and error body)
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_PAGE = 1_000_000
SEARCH_RESULTS = 100  # a search ranks at most this many services (5 pages of 20); its pages are cut from them
MAX_SEARCH = 1000  # characters of a search (a resident may tell a whole story)
MAX_ID = 200
PROFESSIONAL = "bearer"


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        self.status, self.message, self.headers = status, message, headers


# --- the documented shapes (for /openapi.json; responses are built as plain JSON, not validated twice) ---


class ErrorBody(BaseModel):
    status: int = Field(description="The HTTP status code")
    error: str = Field(description="Its reason phrase, e.g. Not Found")
    message: str = Field(description="What was wrong, in English, naming the parameter")


class ApiInfo(BaseModel):
    version: str = Field(description="HSDS version of this API")
    api_version: str = Field(description="Version of this API's own contract (Wijkbot)")
    openapi_url: str = Field(description="URL of the OpenAPI document of this API")
    description: str


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ServiceListItem(_Open):
    """The one-to-one fields of an HSDS 3.0 service (compiled service_list), with its organization."""

    id: str
    name: str
    status: str


class ServiceRecord(_Open):
    """An HSDS 3.0 compiled service (schema/compiled/service.json). `contacts` only with a valid token."""

    id: str
    name: str
    status: str


class OrganizationItem(_Open):
    id: str
    name: str


class OrganizationRecord(OrganizationItem):
    services: list[ServiceListItem]


class TaxonomyTermItem(_Open):
    id: str
    name: str


class Page(BaseModel):
    total_items: int
    total_pages: int
    page_number: int
    size: int = Field(description="The number of items on this page")
    first_page: bool
    last_page: bool
    empty: bool = Field(description="Whether this page has no items")


class ServicePage(Page):
    contents: list[ServiceListItem | ServiceRecord]


class OrganizationPage(Page):
    contents: list[OrganizationItem]


class TaxonomyTermPage(Page):
    contents: list[TaxonomyTermItem]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody, "description": HTTPStatus(code).phrase} for code in codes}


# --- what every route shares ---


class Finder:
    """Wijkbot's search, one query at a time: the index is loaded from the data dir (saved there under the
    map's revision) or built at first use, and two requests must not build it twice; after an import the old
    index answers while the new one is made in a thread."""

    def __init__(self, database: Database, data_dir: Path | None = None):
        self.search = MapSearch(database, data_dir=data_dir, background=True)
        self._lock = threading.Lock()

    def warm(self) -> None:
        with self._lock:
            self.search.index()

    def ranked(self, query: str, postcode: queries.Postcode | None, *, contacts: bool) -> list[str]:
        filters = Filters(postcode=str(postcode) if postcode else None)
        with self._lock:
            hits = self.search.search(query, filters, limit=SEARCH_RESULTS, contacts=contacts)
        return [h.id for h in hits]


_bearer = HTTPBearer(auto_error=False, description="A token from `wijkbot api token create`: shows contact persons")
BearerDep = Annotated[Any, Depends(_bearer)]  # documents the scheme; the header is checked in _read


def _professional(session: Session, header: str | None) -> bool:
    """Whether the request carries a valid token (contact persons are shown); a wrong or revoked one is a 401."""
    if header is None:
        return False
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != PROFESSIONAL or not valid_token(session, token.strip()):
        raise ApiError(401, "the token is not valid (wrong or revoked)", {"WWW-Authenticate": "Bearer"})
    return True


async def _read(request: Request, work: Callable[[Session, bool], Any]) -> JSONResponse:
    """WORK(session, professional) in one worker thread: the database and the search block, the event loop
    does not wait for them (one hand-over per request: each costs a thread switch)."""
    header = request.headers.get("authorization")

    def job() -> Any:
        with request.app.state.database.session() as session:
            return work(session, _professional(session, header))

    return JSONResponse(await run_in_threadpool(job))


PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page number, from 1")]
PerPage = Annotated[int, Query(ge=1, le=MAX_PER_PAGE, description=f"Items per page, 1 to {MAX_PER_PAGE}")]
Id = Annotated[str, Query(max_length=MAX_ID)]


def _paged(total: int, page: int, per_page: int, contents: list) -> dict:
    pages = math.ceil(total / per_page)
    return {
        "total_items": total,
        "total_pages": pages,
        "page_number": page,
        "size": len(contents),
        "first_page": page == 1,
        "last_page": page >= pages,
        "empty": not contents,
        "contents": contents,
    }


def _offset(page: int, per_page: int, total: int) -> int | None:
    """Where the page starts, or None for a page past the end (nothing to read)."""
    offset = (page - 1) * per_page
    return offset if offset < total else None


def _service_filter(
    taxonomy_term_id: str | None,
    taxonomy_id: str | None,
    organization_id: str | None,
    modified_after: str | None,
    postcode: str | None,
    proximity: float | None,
) -> queries.ServiceFilter:
    since = None
    if modified_after is not None:
        try:
            since = datetime.fromisoformat(modified_after.strip())
        except ValueError:
            raise ApiError(400, "modified_after: an ISO 8601 time such as 2026-12-01T00:00:00Z") from None
        if since.tzinfo is None:
            raise ApiError(400, "modified_after: give a time zone, e.g. 2026-12-01T00:00:00Z")
    parsed = None
    if postcode is not None:
        try:
            parsed = queries.Postcode.parse(postcode)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
    elif proximity is not None:
        raise ApiError(400, "proximity: measured from a postcode; give postcode too")
    return queries.ServiceFilter(taxonomy_term_id, taxonomy_id, organization_id, since, parsed, proximity)


# --- the routes ---


async def api_info(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "version": HSDS_VERSION,
            "api_version": API_VERSION,
            "openapi_url": str(request.url_for("openapi")),
            "description": "The social map of Wijkbot: services, organizations and taxonomy terms (Open Referral "
            "HSDS 3.0)",
        }
    )


async def list_services(
    request: Request,
    _: BearerDep,
    page: PageNumber = 1,
    per_page: PerPage = DEFAULT_PER_PAGE,
    search: Annotated[
        str | None, Query(max_length=MAX_SEARCH, description="Wijkbot's own search: the best matches first")
    ] = None,
    taxonomy_term_id: Id | None = None,
    taxonomy_id: Annotated[str | None, Query(max_length=MAX_ID, description="The taxonomy of a term")] = None,
    organization_id: Id | None = None,
    modified_after: Annotated[
        str | None,
        Query(
            max_length=40,
            description="Modified on or after this ISO 8601 time, with a time zone",
            json_schema_extra={"format": "date-time"},
        ),
    ] = None,
    postcode: Annotated[
        str | None,
        Query(
            max_length=16,
            description="A Dutch postcode (7543 AB) or area (7543): services with a location there",
            json_schema_extra={"pattern": queries.POSTCODE_PATTERN},  # documented; the route says what is wrong
        ),
    ] = None,
    proximity: Annotated[
        float | None,
        Query(gt=0, le=100_000, description="With postcode: metres from the postcode's centre, instead of at it"),
    ] = None,
    full: Annotated[bool, Query(description="Whole compiled service records instead of list items")] = False,
) -> JSONResponse:
    wanted = _service_filter(taxonomy_term_id, taxonomy_id, organization_id, modified_after, postcode, proximity)
    query = (search or "").strip()
    finder: Finder = request.app.state.finder

    def work(session: Session, professional: bool) -> dict:
        conds = wanted.conditions(session)
        if query:
            ids = queries.keep_matching(session, finder.ranked(query, wanted.postcode, contacts=professional), conds)
            total, page_ids = len(ids), ids[(page - 1) * per_page : page * per_page]
        else:
            total = queries.count_services(session, conds)
            offset = _offset(page, per_page, total)
            page_ids = [] if offset is None else queries.page_of_service_ids(session, conds, offset, per_page)
        services = queries.load_services(session, page_ids, full=full)
        if full:
            return _paged(total, page, per_page, [queries.full_record(s, contacts=professional) for s in services])
        return _paged(total, page, per_page, [queries.list_record(s) for s in services])

    return await _read(request, work)


async def get_service(id: str, request: Request, _: BearerDep) -> JSONResponse:
    def work(session: Session, professional: bool) -> dict:
        found = queries.load_services(session, [id], full=True)
        if not found:
            raise ApiError(404, f"no service with id {id!r}")
        return queries.full_record(found[0], contacts=professional)

    return await _read(request, work)


async def list_organizations(
    request: Request, _: BearerDep, page: PageNumber = 1, per_page: PerPage = DEFAULT_PER_PAGE
) -> JSONResponse:
    def work(session: Session, _professional: bool) -> dict:
        total, ids = queries.page_of_organization_ids(session, (page - 1) * per_page, per_page)
        records = queries.organization_records(session, ids)
        return _paged(total, page, per_page, [records[i] for i in ids if i in records])

    return await _read(request, work)


async def get_organization(id: str, request: Request, _: BearerDep) -> JSONResponse:
    def work(session: Session, _professional: bool) -> dict:
        services = queries.services_of(session, id)
        if not services:
            raise ApiError(404, f"no organization with id {id!r} (that provides a service)")
        items = [queries.list_record(s) for s in services]
        record = dict(items[0].get("organization") or {"id": id})
        record["services"] = [{k: v for k, v in item.items() if k != "organization"} for item in items]
        return record

    return await _read(request, work)


async def list_taxonomy_terms(
    request: Request,
    _: BearerDep,
    page: PageNumber = 1,
    per_page: PerPage = DEFAULT_PER_PAGE,
    taxonomy_id: Annotated[str | None, Query(max_length=MAX_ID, description="Only terms of this taxonomy")] = None,
) -> JSONResponse:
    def work(session: Session, _professional: bool) -> dict:
        total, ids = queries.page_of_term_ids(session, taxonomy_id, (page - 1) * per_page, per_page)
        records = queries.term_records(session, ids)
        return _paged(total, page, per_page, [records[i] for i in ids if i in records])

    return await _read(request, work)


async def get_taxonomy_term(id: str, request: Request, _: BearerDep) -> JSONResponse:
    def work(session: Session, _professional: bool) -> dict:
        found = queries.term_records(session, [id])
        if id not in found:
            raise ApiError(404, f"no taxonomy term with id {id!r}")
        return found[id]

    return await _read(request, work)


# --- errors, logs, the application ---


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"status": status, "error": HTTPStatus(status).phrase, "message": message}
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "path", "header"))
        parts.append(f"{where or 'request'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


async def _on_api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return _error(exc.status, exc.message, exc.headers)


async def _on_invalid(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _error(400, _validation_message(exc))


async def _on_http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    messages = {404: "no such endpoint (see /openapi.json)", 405: "this API only reads: use GET"}
    return _error(exc.status_code, messages.get(exc.status_code, str(exc.detail)), exc.headers)


async def _on_bug(_request: Request, exc: Exception) -> JSONResponse:
    log.error("internal error in the API: %s", type(exc).__name__)  # no message: it may quote the request
    return _error(500, "internal error")


class AccessLog:
    """One line per request: method, route template, status, milliseconds. Replaces uvicorn's access log,
    which prints the whole URL with its query string."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not access_log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [0]

        async def sending(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            where = getattr(route, "path", None) or "(no route)"
            ms = (time.perf_counter() - started) * 1000
            access_log.info("%s %s %s %.1f ms", scope["method"], where, status[0] or 500, ms)


def _openapi(app: FastAPI) -> dict:
    """FastAPI's document, with the 400 of this API instead of FastAPI's 422, and the token optional."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    for path in doc.get("paths", {}).values():
        for operation in path.values():
            operation.get("responses", {}).pop("422", None)
            if "security" in operation:
                operation["security"] = [{}, *operation["security"]]  # no token: contact persons are left out
    for name in ("HTTPValidationError", "ValidationError"):
        doc.get("components", {}).get("schemas", {}).pop(name, None)
    app.openapi_schema = doc
    return doc


def create_app(database: Database, settings: Settings | None = None, *, warm: bool = False) -> FastAPI:
    """The API over DATABASE. ``warm``: build the search index at start-up, in the background, so that the
    first search does not wait for it (``wijkbot serve``); tests build it at their first search."""
    settings = settings or Settings()
    finder = Finder(database, settings.data_dir)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        if warm:
            threading.Thread(target=finder.warm, name="search-index", daemon=True).start()
        yield

    app = FastAPI(
        title="Wijkbot social map (Open Referral HSDS 3.0)",
        version=API_VERSION,
        description="Read-only HSDS 3.0 API of Wijkbot's social map. See docs/api.md.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        default_response_class=JSONResponse,
    )
    app.state.database = database
    app.state.finder = finder
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    meta = {"response_model": None}
    app.get("/", responses={200: {"model": ApiInfo}}, **meta, summary="API and HSDS version")(api_info)
    app.get("/services", responses={200: {"model": ServicePage}, **_errors(400, 401)}, **meta, summary="Services")(
        list_services
    )
    app.get(
        "/services/{id}",
        responses={200: {"model": ServiceRecord}, **_errors(400, 401, 404)},
        **meta,
        summary="A service",
    )(get_service)
    app.get(
        "/organizations",
        responses={200: {"model": OrganizationPage}, **_errors(400, 401)},
        **meta,
        summary="Organizations",
    )(list_organizations)
    app.get(
        "/organizations/{id}",
        responses={200: {"model": OrganizationRecord}, **_errors(400, 401, 404)},
        **meta,
        summary="An organization with its services",
    )(get_organization)
    app.get(
        "/taxonomy_terms",
        responses={200: {"model": TaxonomyTermPage}, **_errors(400, 401)},
        **meta,
        summary="Taxonomy terms in use",
    )(list_taxonomy_terms)
    app.get(
        "/taxonomy_terms/{id}",
        responses={200: {"model": TaxonomyTermItem}, **_errors(400, 401, 404)},
        **meta,
        summary="A taxonomy term",
    )(get_taxonomy_term)
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_invalid)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_bug)
    origins = [o.strip() for o in settings.api_cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=origins, allow_methods=["GET"], allow_headers=["Authorization"]
        )
    app.add_middleware(AccessLog)
    return app
