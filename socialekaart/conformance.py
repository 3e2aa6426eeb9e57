"""The HSDS 3.0 compiled service record as the specification requires it: the shape every export must have.

Written from the Open Referral specification (``schema/compiled/service.json`` and the entity schemas in
``schema/``), not copied from it. Where ``socialekaart.records`` is lenient on input (null for an absent
field, a phone extension as text), these models are strict: a field is either absent or of its type, every
field the specification lists as required is there, enumerations hold. Like the specification, they allow
properties they do not name.

``check_service(record)`` returns one line per problem naming the field (``[]`` when the record conforms);
it imports only pydantic, so a test or an HTTP API can call it cheaply.

What is deliberately not checked: the ``format`` annotations (uuid, uri, email, date-time), which JSON Schema
validators do not assert by default either, and the schedule fields whose type differs between the 3.0
texts and their own examples (``count``, ``byweekno``, ``bymonthday``, ``byyearday``).
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StrictStr, TypeAdapter, ValidationError

Str = StrictStr
Num = Annotated[float, Strict()]  # a JSON number: int or float, never a bool or a numeric string
ABSENT: Any = Field(default=None)  # may be absent; when present, null is not its type


class _Entity(BaseModel):
    model_config = ConfigDict(extra="allow", allow_inf_nan=False)


class Metadata(_Entity):
    id: Str
    resource_id: Str = ABSENT
    resource_type: Str = ABSENT
    last_action_date: Str
    last_action_type: Str
    field_name: Str
    previous_value: Str
    replacement_value: Str
    updated_by: Str


class _WithMeta(_Entity):
    metadata: list[Metadata] = ABSENT


class Taxonomy(_WithMeta):
    id: Str
    name: Str
    description: Str
    uri: Str = ABSENT
    version: Str = ABSENT


class TaxonomyTerm(_WithMeta):
    id: Str
    code: Str = ABSENT
    name: Str
    description: Str
    parent_id: Str = ABSENT
    taxonomy: Str = ABSENT
    taxonomy_detail: Taxonomy = ABSENT
    language: Str = ABSENT
    taxonomy_id: Str = ABSENT
    term_uri: Str = ABSENT


class Attribute(_WithMeta):
    id: Str
    link_id: Str = ABSENT
    taxonomy_term_id: Str = ABSENT
    link_type: Str = ABSENT
    link_entity: Str = ABSENT
    value: Str = ABSENT
    label: Str = ABSENT
    taxonomy_term: TaxonomyTerm = ABSENT


class _WithAttributes(_WithMeta):
    attributes: list[Attribute] = ABSENT


class Language(_WithAttributes):
    id: Str
    service_id: Str = ABSENT
    location_id: Str = ABSENT
    phone_id: Str = ABSENT
    name: Str = ABSENT
    code: Str = ABSENT
    note: Str = ABSENT


class Phone(_WithAttributes):
    id: Str
    location_id: Str = ABSENT
    service_id: Str = ABSENT
    organization_id: Str = ABSENT
    contact_id: Str = ABSENT
    service_at_location_id: Str = ABSENT
    number: Str
    extension: Num = ABSENT
    type: Str = ABSENT
    description: Str = ABSENT
    languages: list[Language] = ABSENT


class Contact(_WithAttributes):
    id: Str
    organization_id: Str = ABSENT
    service_id: Str = ABSENT
    service_at_location_id: Str = ABSENT
    location_id: Str = ABSENT
    name: Str = ABSENT
    title: Str = ABSENT
    department: Str = ABSENT
    email: Str = ABSENT
    phones: list[Phone] = ABSENT


class Schedule(_WithAttributes):
    id: Str
    service_id: Str = ABSENT
    location_id: Str = ABSENT
    service_at_location_id: Str = ABSENT
    valid_from: Str = ABSENT
    valid_to: Str = ABSENT
    dtstart: Str = ABSENT
    timezone: Num = ABSENT
    until: Str = ABSENT
    wkst: Str = ABSENT
    freq: Literal["WEEKLY", "MONTHLY"] = ABSENT
    interval: Num = ABSENT
    byday: Str = ABSENT
    description: Str = ABSENT
    opens_at: Str = ABSENT
    closes_at: Str = ABSENT
    schedule_link: Str = ABSENT
    attending_type: Str = ABSENT
    notes: Str = ABSENT


class ServiceArea(_WithAttributes):
    id: Str
    service_id: Str = ABSENT
    service_at_location_id: Str = ABSENT
    name: Str = ABSENT
    description: Str = ABSENT
    extent: Str = ABSENT
    extent_type: Str = ABSENT
    uri: Str = ABSENT


class CostOption(_WithAttributes):
    id: Str
    service_id: Str = ABSENT
    valid_from: Str = ABSENT
    valid_to: Str = ABSENT
    option: Str = ABSENT
    currency: Str = ABSENT
    amount: Num = ABSENT
    amount_description: Str = ABSENT


PlaceType = Literal["physical", "postal", "virtual"]


class Address(_WithAttributes):
    id: Str
    location_id: Str = ABSENT
    attention: Str = ABSENT
    address_1: Str
    address_2: Str = ABSENT
    city: Str
    region: Str = ABSENT
    state_province: Str
    postal_code: Str
    country: Str
    address_type: PlaceType


class Accessibility(_WithAttributes):
    id: Str
    location_id: Str = ABSENT
    description: Str = ABSENT
    details: Str = ABSENT
    url: Str = ABSENT


class Location(_WithAttributes):
    id: Str
    location_type: PlaceType
    url: Str = ABSENT
    organization_id: Str = ABSENT
    name: Str = ABSENT
    alternate_name: Str = ABSENT
    description: Str = ABSENT
    transportation: Str = ABSENT
    latitude: Num = ABSENT
    longitude: Num = ABSENT
    external_identifier: Str = ABSENT
    external_identifier_type: Str = ABSENT
    languages: list[Language] = ABSENT
    addresses: list[Address] = ABSENT
    contacts: list[Contact] = ABSENT
    accessibility: list[Accessibility] = ABSENT
    phones: list[Phone] = ABSENT
    schedules: list[Schedule] = ABSENT


class ServiceAtLocation(_WithAttributes):
    id: Str
    service_id: Str = ABSENT
    location_id: Str = ABSENT
    description: Str = ABSENT
    service_areas: list[ServiceArea] = ABSENT
    contacts: list[Contact] = ABSENT
    phones: list[Phone] = ABSENT
    schedules: list[Schedule] = ABSENT
    location: Location = ABSENT


class Url(_WithAttributes):
    id: Str
    label: Str = ABSENT
    url: Str
    organization_id: Str = ABSENT
    service_id: Str = ABSENT


class Funding(_WithAttributes):
    id: Str
    organization_id: Str = ABSENT
    service_id: Str = ABSENT
    source: Str = ABSENT


class OrganizationIdentifier(_WithAttributes):
    id: Str
    organization_id: Str = ABSENT
    identifier_scheme: Str = ABSENT
    identifier_type: Str = ABSENT
    identifier: Str = ABSENT


class Program(_WithAttributes):
    id: Str
    organization_id: Str = ABSENT
    name: Str
    alternate_name: Str = ABSENT
    description: Str


class RequiredDocument(_WithAttributes):
    id: Str
    service_id: Str = ABSENT
    document: Str = ABSENT
    uri: Str = ABSENT


class Organization(_WithAttributes):
    id: Str
    name: Str
    alternate_name: Str = ABSENT
    description: Str
    email: Str = ABSENT
    website: Str = ABSENT
    additional_websites: list[Url] = ABSENT
    tax_status: Str = ABSENT
    tax_id: Str = ABSENT
    year_incorporated: Num = ABSENT
    legal_status: Str = ABSENT
    logo: Str = ABSENT
    uri: Str = ABSENT
    parent_organization_id: Str = ABSENT
    funding: list[Funding] = ABSENT
    contacts: list[Contact] = ABSENT
    phones: list[Phone] = ABSENT
    locations: list[Location] = ABSENT
    programs: list[Program] = ABSENT
    organization_identifiers: list[OrganizationIdentifier] = ABSENT


class Service(_WithAttributes):
    """One HSDS 3.0 compiled service (``schema/compiled/service.json``)."""

    id: Str
    organization_id: Str = ABSENT
    program_id: Str = ABSENT
    name: Str
    alternate_name: Str = ABSENT
    description: Str = ABSENT
    url: Str = ABSENT
    additional_urls: list[Url] = ABSENT
    email: Str = ABSENT
    status: Literal["active", "inactive", "defunct", "temporarily closed"]
    interpretation_services: Str = ABSENT
    application_process: Str = ABSENT
    fees_description: Str = ABSENT
    wait_time: Str = ABSENT
    fees: Str = ABSENT
    accreditations: Str = ABSENT
    eligibility_description: Str = ABSENT
    minimum_age: Num = ABSENT
    maximum_age: Num = ABSENT
    assured_date: Str = ABSENT
    assurer_email: Str = ABSENT
    licenses: Str = ABSENT
    alert: Str = ABSENT
    last_modified: Str = ABSENT
    phones: list[Phone] = ABSENT
    schedules: list[Schedule] = ABSENT
    service_areas: list[ServiceArea] = ABSENT
    service_at_locations: list[ServiceAtLocation] = ABSENT
    languages: list[Language] = ABSENT
    organization: Organization = ABSENT
    funding: list[Funding] = ABSENT
    cost_options: list[CostOption] = ABSENT
    program: Program = ABSENT
    required_documents: list[RequiredDocument] = ABSENT
    contacts: list[Contact] = ABSENT


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(record)"


def _lines(exc: ValidationError, prefix: tuple = ()) -> list[str]:
    return [f"{_path(prefix + tuple(err['loc']))}: {err['msg']}" for err in exc.errors()]


def check_service(record: Any) -> list[str]:
    """Why RECORD is not an HSDS 3.0 compiled service, one line per problem naming the field; [] if it is."""
    if not isinstance(record, dict):
        return [f"(record): expected an object, not {type(record).__name__}"]
    try:
        Service.model_validate(record)
    except ValidationError as exc:
        return _lines(exc)
    return []


@cache
def _field(name: str) -> TypeAdapter | None:
    info = Service.model_fields.get(name)
    if info is None:
        return None
    return TypeAdapter(Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation)


def field_errors(name: str, value: Any) -> list[tuple[tuple, str]]:
    """(location, message) for each reason VALUE cannot be the service field NAME; [] if it can, or if HSDS 3.0 has no
    such service field."""
    adapter = _field(name)
    if adapter is None:
        return []
    try:
        adapter.validate_python(value)
    except ValidationError as exc:
        return [((name, *err["loc"]), err["msg"]) for err in exc.errors()]
    return []


def check_service_field(name: str, value: Any) -> list[str]:
    """Why VALUE cannot be the service field NAME (one line each); [] if it can, or if HSDS has no such field."""
    return [f"{_path(loc)}: {msg}" for loc, msg in field_errors(name, value)]
