"""HSDS 3.0 compiled service records as pydantic models: the validated shape of import and export.

A *compiled service* is one service with its organization, locations, phones, contacts, schedules,
taxonomy attributes, languages, service areas and cost options nested inside it: the shape of the
HSDS 3.0 ``/services/{id}`` response and of ``../shared/eval/socialmap.json``.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]
Text = Annotated[str, Field(max_length=20_000)]
ShortText = Annotated[str, Field(max_length=2_000)]
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$")
_BYDAY = re.compile(r"^([+-]?[1-5])?(MO|TU|WE|TH|FR|SA|SU)$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# HSDS fields Wijkbot does not model are kept as they are (Service.extra, a JSON column): bounded, so
# that every database stores them and every JSON reader reads them back.
EXTRA_DEPTH = 16
EXTRA_INT_DIGITS = 18
EXTRA_TEXT = 20_000


def _email(value: str | None) -> str | None:
    if value is not None and not _EMAIL.match(value):
        raise ValueError("not an e-mail address")
    return value


def _storable(text: str) -> str:
    """Text every database stores: PostgreSQL refuses NUL characters, and a lone surrogate (an escape
    such as \\ud800 in JSON) is no character at all."""
    if "\x00" in text:
        raise ValueError("contains a NUL character (\\x00)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"contains an invalid character at position {exc.start + 1} (a lone surrogate)") from None
    return text


def _check_extra(value: Any, depth: int = 0) -> None:  # noqa: C901 - one flat bound per HSDS field kind
    if depth > EXTRA_DEPTH:
        raise ValueError(f"nested deeper than {EXTRA_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            _storable(str(key))
            _check_extra(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_extra(item, depth + 1)
    elif isinstance(value, str):
        if len(value) > EXTRA_TEXT:
            raise ValueError(f"a text longer than {EXTRA_TEXT} characters")
        _storable(value)
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int):
        if abs(value) >= 10**EXTRA_INT_DIGITS:
            raise ValueError(f"a number of more than {EXTRA_INT_DIGITS} digits")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("NaN or Infinity is not a number JSON allows")
    else:
        raise ValueError(f"a {type(value).__name__} is not a JSON value")


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, allow_inf_nan=False)

    @field_validator("*")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        return _storable(value) if isinstance(value, str) else value


class OrganizationRecord(_Model):
    id: Id
    name: ShortText = Field(min_length=1)
    alternate_name: ShortText | None = None
    description: Text | None = None
    email: ShortText | None = None
    website: ShortText | None = None

    _check_email = field_validator("email")(_email)


class AddressRecord(_Model):
    id: Id
    attention: ShortText | None = None
    address_1: ShortText | None = None
    address_2: ShortText | None = None
    city: ShortText | None = None
    region: ShortText | None = None
    state_province: ShortText | None = None
    postal_code: Annotated[str, Field(max_length=16)] | None = None
    country: Annotated[str, Field(max_length=8)] | None = None
    address_type: Annotated[str, Field(max_length=16)] | None = None


class LocationRecord(_Model):
    id: Id
    location_type: Literal["physical", "postal", "virtual"] = "physical"
    name: ShortText | None = None
    description: Text | None = None
    latitude: Annotated[float, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Field(ge=-180, le=180)] | None = None
    addresses: list[AddressRecord] = []


class ServiceAtLocationRecord(_Model):
    id: Id
    description: Text | None = None
    location: LocationRecord


class PhoneRecord(_Model):
    id: Id
    number: Annotated[str, Field(min_length=1, max_length=64)]
    extension: Annotated[str, Field(max_length=16)] | None = None
    type: Annotated[str, Field(max_length=16)] | None = None
    description: ShortText | None = None


class ContactRecord(_Model):
    id: Id
    name: ShortText | None = None
    title: ShortText | None = None
    department: ShortText | None = None
    email: ShortText | None = None
    phones: list[PhoneRecord] = []

    _check_email = field_validator("email")(_email)


class ScheduleRecord(_Model):
    id: Id
    freq: Literal["WEEKLY", "MONTHLY"] | None = None
    interval: Annotated[int, Field(ge=1, le=52)] | None = None
    byday: Annotated[str, Field(max_length=200)] | None = None
    opens_at: str | None = None
    closes_at: str | None = None
    timezone: Annotated[str, Field(max_length=64)] | None = None
    description: ShortText | None = None

    @field_validator("opens_at", "closes_at")
    @classmethod
    def _time(cls, value: str | None) -> str | None:
        if value is not None and not _TIME.match(value):
            raise ValueError("time must be HH:MM (24 hours)")
        return value[:5] if value else value

    @field_validator("byday")
    @classmethod
    def _byday(cls, value: str | None) -> str | None:
        if value:
            for part in value.split(","):
                if not _BYDAY.match(part.strip()):
                    raise ValueError(f"'{part}' is not an RFC 5545 day such as MO, 2TU or -1SA")
        return value


class TaxonomyTermRecord(_Model):
    id: Id
    code: ShortText | None = None
    name: ShortText = Field(min_length=1)
    description: Text | None = None
    taxonomy: ShortText | None = None


class AttributeRecord(_Model):
    id: Id
    value: ShortText | None = None
    taxonomy_term: TaxonomyTermRecord


class LanguageRecord(_Model):
    id: Id
    name: ShortText | None = None
    code: Annotated[str, Field(max_length=16)] | None = None
    note: ShortText | None = None


class ServiceAreaRecord(_Model):
    id: Id
    name: ShortText | None = None
    description: Text | None = None


class CostOptionRecord(_Model):
    id: Id
    option: ShortText | None = None
    amount: Annotated[float, Field(ge=0, le=9_999_999_999.99)] | None = None  # the column is NUMERIC(12, 2)
    currency: Annotated[str, Field(max_length=8)] | None = None
    amount_description: ShortText | None = None


class ServiceRecord(_Model):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True, allow_inf_nan=False)

    id: Id
    name: ShortText = Field(min_length=1)
    alternate_name: ShortText | None = None
    description: Text | None = None
    url: ShortText | None = None
    email: ShortText | None = None
    status: Literal["active", "inactive", "defunct", "temporarily closed"] = "active"
    eligibility_description: Text | None = None
    fees_description: Text | None = None
    assured_date: date | None = None
    last_modified: datetime | None = None
    organization: OrganizationRecord | None = None
    service_at_locations: list[ServiceAtLocationRecord] = []
    phones: list[PhoneRecord] = []
    contacts: list[ContactRecord] = []
    schedules: list[ScheduleRecord] = []
    attributes: list[AttributeRecord] = []
    languages: list[LanguageRecord] = []
    service_areas: list[ServiceAreaRecord] = []
    cost_options: list[CostOptionRecord] = []

    _check_email = field_validator("email")(_email)

    @field_validator("last_modified")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("last_modified needs a UTC offset")
        if value is not None:
            try:
                value.astimezone(UTC)  # stored in UTC: 9999-12-31T23:00-05:00 is no date in UTC
            except OverflowError:
                raise ValueError("last_modified is out of range in UTC") from None
        return value

    @model_validator(mode="after")
    def _extra_is_json(self) -> ServiceRecord:
        for key, value in (self.__pydantic_extra__ or {}).items():
            try:
                _storable(key)
                _check_extra(value)
            except ValueError as exc:
                raise ValueError(f"field {key[:60]!r}: {exc}") from None
        return self

    @property
    def extra_fields(self) -> dict:
        return dict(self.__pydantic_extra__ or {})
