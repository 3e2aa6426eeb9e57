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

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

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
# No opening schedule repeats less often than once in 1000 weeks or months (19 and 83 years).
MAX_INTERVAL = 1000


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


def _description_is_not_the_name(record: Any) -> Any:
    """A description that only repeats the name is none: an export writes the name where HSDS 3.0 requires a
    description Wijkbot does not have (an organisation's, a taxonomy term's), so a round trip stays the same."""
    if record.description is not None and record.description == record.name:
        record.description = None
    return record


def _null_is_absent(cls: Any, value: Any, info: ValidationInfo) -> Any:
    """null in a field with a default (a list, a status) is an absent field: HSDS 3.0 omits absent fields,
    older exports wrote null. (A field whose default is None takes null as it is.)"""
    if value is None:
        default = cls.model_fields[info.field_name].default
        return [] if default == [] else default
    return value


def _number_text(value: Any) -> Any:
    """A JSON number as the text Wijkbot stores (HSDS 3.0 has numbers where Wijkbot has text columns)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


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
    _no_description = model_validator(mode="after")(_description_is_not_the_name)


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
    address_type: Literal["physical", "postal", "virtual"] | None = None


class LocationRecord(_Model):
    id: Id
    location_type: Literal["physical", "postal", "virtual"] = "physical"
    name: ShortText | None = None
    description: Text | None = None
    latitude: Annotated[float, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Field(ge=-180, le=180)] | None = None
    addresses: list[AddressRecord] = []

    _defaults = field_validator("location_type", "addresses", mode="before")(classmethod(_null_is_absent))


class ServiceAtLocationRecord(_Model):
    id: Id
    description: Text | None = None
    location: LocationRecord


class PhoneRecord(_Model):
    id: Id
    number: Annotated[str, Field(min_length=1, max_length=64)]
    extension: Annotated[str, Field(max_length=16)] | None = None  # a number in HSDS 3.0, text here (e.g. "toestel 12")
    type: Annotated[str, Field(max_length=16)] | None = None
    description: ShortText | None = None

    _extension_text = field_validator("extension", mode="before")(_number_text)


class ContactRecord(_Model):
    id: Id
    name: ShortText | None = None
    title: ShortText | None = None
    department: ShortText | None = None
    email: ShortText | None = None
    phones: list[PhoneRecord] = []

    _check_email = field_validator("email")(_email)
    _defaults = field_validator("phones", mode="before")(classmethod(_null_is_absent))


class ScheduleRecord(_Model):
    id: Id
    freq: Literal["WEEKLY", "MONTHLY"] | None = None
    interval: Annotated[int, Field(ge=1, le=MAX_INTERVAL)] | None = None
    byday: Annotated[str, Field(max_length=200)] | None = None
    opens_at: str | None = None
    closes_at: str | None = None
    timezone: Annotated[str, Field(max_length=64)] | None = None  # HSDS 3.0: a UTC offset in hours (a number)
    description: ShortText | None = None

    _timezone_text = field_validator("timezone", mode="before")(_number_text)

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

    _no_description = model_validator(mode="after")(_description_is_not_the_name)


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


# The lists nested in a compiled service record (ServiceRecord's fields below, in their order).
SERVICE_CHILDREN = (
    "service_at_locations",
    "phones",
    "contacts",
    "schedules",
    "attributes",
    "languages",
    "service_areas",
    "cost_options",
)


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
    _defaults = field_validator("status", *SERVICE_CHILDREN, mode="before")(classmethod(_null_is_absent))

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
        extra = self.__pydantic_extra__ or {}
        for key in [k for k, v in extra.items() if v is None]:  # null is an absent field
            del extra[key]
        for key, value in extra.items():
            try:
                _storable(key)
                _check_extra(value)
            except ValueError as exc:
                raise ValueError(f"field {key[:60]!r}: {exc}") from None
        return self

    @property
    def extra_fields(self) -> dict:
        return dict(self.__pydantic_extra__ or {})


# --- values that have the right type but cannot be true ---------------------------------------------------
#
# HSDS 3.0 types them loosely (a latitude is a number, an opening time a string). Such a value is dropped with
# a warning and the rest of the record imports: one impossible number must not cost a whole map.

_CLOCK = re.compile(r"^(\d{2}):(\d{2})(?::(\d{2}))?(Z|[+-]\d{2}:?\d{2})?$")
Note = tuple[tuple, str]  # (location of the field, why it was dropped)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _dicts(value: Any) -> list[tuple[int, dict]]:
    return [(i, x) for i, x in enumerate(value) if isinstance(x, dict)] if isinstance(value, list) else []


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _drop(obj: dict, field: str, where: tuple, reason: str) -> Note:
    return (*where, field), f"{_shown(obj.pop(field))} dropped: {reason}"


def _coordinates(loc: dict, where: tuple) -> list[Note]:
    notes = []
    for field, limit in (("latitude", 90), ("longitude", 180)):
        number = _as_number(loc.get(field))
        if number is not None and abs(number) > limit:
            notes.append(_drop(loc, field, where, f"a {field} lies between -{limit} and {limit}"))
    if notes:  # half a coordinate pair places nothing
        for field in ("latitude", "longitude"):
            if field in loc:
                notes.append(_drop(loc, field, where, "its pair was impossible"))
    return notes


def _extension(phone: dict, where: tuple) -> list[Note]:
    number = _as_number(phone.get("extension"))
    if number is not None and (number < 0 or not number.is_integer()):
        return [_drop(phone, "extension", where, "an extension is a whole number of 0 or more")]
    return []


def _clock(schedule: dict, field: str, where: tuple) -> list[Note]:
    value = schedule.get(field)
    match = _CLOCK.match(value) if isinstance(value, str) else None
    if match is None:
        return []  # not the shape of a time at all: the record model says so
    hour, minute, second, offset = match.groups()
    if int(hour) > 23 or int(minute) > 59 or int(second or 0) > 59:
        return [_drop(schedule, field, where, "not a time of day (00:00 to 23:59)")]
    if offset:
        schedule[field] = value[: match.start(4)]
        return [((*where, field), f"the UTC offset {offset} is not kept: Wijkbot reads opening hours as local time")]
    return []


def _schedule(schedule: dict, where: tuple) -> list[Note]:
    notes = _clock(schedule, "opens_at", where) + _clock(schedule, "closes_at", where)
    interval = _as_number(schedule.get("interval"))
    if interval is not None and (interval < 1 or not interval.is_integer() or interval > MAX_INTERVAL):
        notes.append(_drop(schedule, "interval", where, f"an interval is a whole number from 1 to {MAX_INTERVAL}"))
    offset = _as_number(schedule.get("timezone"))
    if offset is not None and not -12 <= offset <= 14:
        notes.append(_drop(schedule, "timezone", where, "a UTC offset lies between -12 and +14 hours"))
    return notes


def _ages(record: dict) -> list[Note]:
    notes = []
    for field in ("minimum_age", "maximum_age"):
        age = _as_number(record.get(field))
        if age is not None and not 0 <= age <= 150:
            notes.append(_drop(record, field, (), "an age lies between 0 and 150"))
    low, high = _as_number(record.get("minimum_age")), _as_number(record.get("maximum_age"))
    if low is not None and high is not None and low > high:
        notes.append(_drop(record, "minimum_age", (), f"more than the maximum_age {record['maximum_age']}"))
        notes.append(_drop(record, "maximum_age", (), "less than the minimum_age"))
    return notes


def _shared_phones(record: dict) -> list[Note]:
    """The compiled form repeats a phone wherever it applies (the same id, the same content): a contact's copy of
    one of the service's own phones. Wijkbot keeps a phone in one place: under the service."""
    own = {p.get("id"): p for _, p in _dicts(record.get("phones"))}
    notes = []
    for i, contact in _dicts(record.get("contacts")):
        phones = contact.get("phones")
        for j, phone in reversed(_dicts(phones)):
            if phone.get("id") in own and own[phone.get("id")] == phone:
                del phones[j]
                notes.append(
                    (("contacts", i, "phones", j), f"phone {_shown(phone.get('id'))} is kept once, under the service")
                )
    return notes


def drop_impossible(record: dict) -> list[Note]:
    """Drop from RECORD (a raw service dict, changed in place) every value of the right type that cannot be true."""
    notes = _ages(record) + _shared_phones(record)
    for i, sal in _dicts(record.get("service_at_locations")):
        if isinstance(sal.get("location"), dict):
            notes += _coordinates(sal["location"], ("service_at_locations", i, "location"))
    for i, phone in _dicts(record.get("phones")):
        notes += _extension(phone, ("phones", i))
    for i, contact in _dicts(record.get("contacts")):
        for j, phone in _dicts(contact.get("phones")):
            notes += _extension(phone, ("contacts", i, "phones", j))
    for i, schedule in _dicts(record.get("schedules")):
        notes += _schedule(schedule, ("schedules", i))
    for i, cost in _dicts(record.get("cost_options")):
        amount = _as_number(cost.get("amount"))
        if amount is not None and amount < 0:
            notes.append(_drop(cost, "amount", ("cost_options", i), "a cost is 0 or more"))
    return notes
