"""The flat CSV template for coordinators: one row per service (see README, "CSV template").

Rows become HSDS compiled service records, validated like a JSON import. Ids are derived from
the organisation and service name (or taken from the optional ``id`` column), so importing an
edited file again updates the same services.
"""

from __future__ import annotations

import csv
import io
import re
import uuid

from pydantic import ValidationError

from bot.floor.errors import ImportProblem, shown
from socialekaart.hours import parse_notation
from socialekaart.records import ServiceRecord

COLUMNS = (
    "id",
    "name",
    "organization",
    "description",
    "address",
    "postcode",
    "city",
    "phone",
    "email",
    "website",
    "opening_hours",
    "categories",
    "languages",
    "cost",
    "wijk",
    "status",
    "contact_name",
    "contact_title",
    "contact_email",
    "contact_phone",
)
REQUIRED = ("name", "organization")
# the longest value of a column: the description is a text, every other column a short one (also before
# it is parsed: the opening hours, categories and costs are read with regular expressions)
MAX_CELL = {"description": 20_000}
MAX_SHORT_CELL = 2_000
MAX_HEADER = 4_096  # the header is sniffed for its delimiter (csv.Sniffer takes quadratic time)
_NS = uuid.UUID("6c1b8f2e-5d0a-4f3b-9a51-2f4b7c0e9d11")
_POSTCODE = re.compile(r"^(\d{4})\s?([A-Za-z]{2})$")
_COST = re.compile(r"^(?:€|eur|euro)?\s*(\d+(?:[.,]\d{1,2})?)\s*(?:euro|eur)?\s*(.*)$", re.IGNORECASE)
_FREE = {"gratis", "kosteloos", "free", "0", "geen kosten"}
LANGUAGE_NAMES = {
    "nl": "Nederlands",
    "en": "Engels",
    "de": "Duits",
    "fr": "Frans",
    "ar": "Arabisch",
    "tr": "Turks",
    "pl": "Pools",
    "so": "Somalisch",
    "ti": "Tigrinya",
    "uk": "Oekraïens",
    "ru": "Russisch",
    "es": "Spaans",
    "pap": "Papiaments",
    "fy": "Fries",
    "zgh": "Tamazight",
    "ber": "Berbers",
    "fa": "Perzisch",
    "ps": "Pasjtoe",
    "ro": "Roemeens",
    "bg": "Bulgaars",
    "pt": "Portugees",
    "it": "Italiaans",
    "zh": "Chinees",
    "srn": "Sranantongo",
}


def _uid(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "\x1f".join(p.strip().lower() for p in parts)))


def _norm_postcode(value: str) -> str:
    m = _POSTCODE.match(value.strip())
    if not m:
        raise ValueError(f"{shown(value)} is not a Dutch postcode such as 1234AB")
    return m.group(1) + m.group(2).upper()


def _cost(value: str) -> dict:
    text = value.strip()
    if text.lower() in _FREE:
        return {"amount": 0.0, "currency": "EUR", "option": "gratis"}
    m = _COST.match(text)
    if not m:
        raise ValueError(f"{shown(value)} is not 'gratis' or an amount such as '2,50 per keer'")
    return {"amount": float(m.group(1).replace(",", ".")), "currency": "EUR", "option": m.group(2) or None}


def row_to_record(row: dict[str, str], known_terms: dict[str, tuple[str, str]]) -> dict:  # noqa: C901 - one branch per optional column of the template
    """One CSV row as a raw HSDS record dict; ValueError names the column that is wrong."""
    get = lambda col: (row.get(col) or "").strip()  # noqa: E731
    name, org_name = get("name"), get("organization")
    service_id = get("id") or _uid("service", org_name, name)
    rec: dict = {
        "id": service_id,
        "name": name,
        "description": get("description") or None,
        "url": get("website") or None,
        "email": get("email") or None,
        "status": get("status") or "active",
        "organization": {"id": _uid("organization", org_name), "name": org_name},
    }
    sub = lambda kind, i=0: _uid(service_id, kind, str(i))  # noqa: E731
    address, postcode, city = get("address"), get("postcode"), get("city")
    if postcode:
        try:
            postcode = _norm_postcode(postcode)
        except ValueError as exc:
            raise ValueError(f"postcode: {exc}") from None
    if address or postcode:
        loc_id = _uid("location", address, postcode, city)
        rec["service_at_locations"] = [
            {
                "id": sub("sal"),
                "location": {
                    "id": loc_id,
                    "name": address or postcode,
                    "location_type": "physical",
                    "addresses": [
                        {
                            "id": _uid("address", loc_id),
                            "address_1": address or None,
                            "postal_code": postcode or None,
                            "city": city or None,
                            "country": "NL",
                            "address_type": "physical",
                        }
                    ],
                },
            }
        ]
    if get("phone"):
        rec["phones"] = [
            {"id": sub("phone", i), "number": n.strip(), "type": "voice"}
            for i, n in enumerate(get("phone").split(";"))
            if n.strip()
        ]
    if get("opening_hours"):
        try:
            rec["schedules"] = [
                {"id": sub("schedule", i), **s} for i, s in enumerate(parse_notation(get("opening_hours")))
            ]
        except ValueError as exc:
            raise ValueError(f"opening_hours: {exc}") from None
    attributes = []
    for i, code in enumerate(c.strip().lower() for c in re.split(r"[;,]", get("categories")) if c.strip()):
        if not re.match(r"^(zorg|gezondheid|welzijn)\.[a-z0-9-]+$", code):
            raise ValueError(f"categories: {shown(code)} is not a code such as zorg.huisarts or welzijn.geldzaken")
        term_id, term_name = known_terms.get(code) or (
            _uid("taxonomy_term", code),
            code.split(".", 1)[1].replace("-", " ").capitalize(),
        )
        attributes.append(
            {
                "id": sub("attribute", i),
                "taxonomy_term": {"id": term_id, "code": code, "name": term_name, "taxonomy": "wijkkaart"},
            }
        )
    rec["attributes"] = attributes
    langs = [c.strip().lower() for c in re.split(r"[;,\s]+", get("languages")) if c.strip()]
    rec["languages"] = [
        {"id": sub("language", i), "code": c, "name": LANGUAGE_NAMES.get(c, c)} for i, c in enumerate(langs)
    ]
    if get("cost"):
        try:
            rec["cost_options"] = [{"id": sub("cost"), **_cost(get("cost"))}]
        except ValueError as exc:
            raise ValueError(f"cost: {exc}") from None
        rec["fees_description"] = get("cost")
    if get("wijk"):
        rec["service_areas"] = [
            {"id": sub("area", i), "name": w.strip()} for i, w in enumerate(get("wijk").split(";")) if w.strip()
        ]
    if any(get(c) for c in ("contact_name", "contact_title", "contact_email", "contact_phone")):
        rec["contacts"] = [
            {
                "id": sub("contact"),
                "name": get("contact_name") or None,
                "title": get("contact_title") or None,
                "email": get("contact_email") or None,
                "phones": [{"id": sub("contact_phone"), "number": get("contact_phone")}]
                if get("contact_phone")
                else [],
            }
        ]
    return rec


def parse_csv(  # noqa: C901 - header sniffing and one numbered error per way a row can be wrong
    data: bytes | str,
    *,
    known_terms: dict[str, tuple[str, str]] | None = None,
    what: str = "file",
) -> list[ServiceRecord]:
    """Parse the coordinators' CSV template; raise ImportProblem naming CSV lines and columns."""
    from socialekaart.hsds import field_path, validate_records

    known_terms = known_terms or {}
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ImportProblem([f"{what}: not UTF-8 text (byte {exc.start}); save the CSV as UTF-8"]) from None
    if not data.strip():
        raise ImportProblem([f"{what}: the file is empty"])
    header_line = re.split(r"\r\n|\r|\n", data[: MAX_HEADER + 1], maxsplit=1)[0]
    if len(header_line) > MAX_HEADER:
        raise ImportProblem([f"line 1: the header is longer than {MAX_HEADER} characters; is this the CSV template?"])
    try:
        dialect = csv.Sniffer().sniff(header_line, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(data, newline=""), dialect=dialect)
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    problems = []
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c and c not in COLUMNS]
    if missing:
        problems.append(f"line 1: missing column(s): {', '.join(missing)}")
    if unknown:
        listed = ", ".join(c if len(c) <= 30 else c[:29] + "…" for c in unknown[:5]) + (
            f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        )
        problems.append(f"line 1: unknown column(s): {listed} (known: {', '.join(COLUMNS)})")
    if problems:
        raise ImportProblem(problems)
    raw: list[dict] = []
    lines: list[int] = []
    try:
        for row in reader:
            line = reader.line_num
            if None in row:
                problems.append(f"line {line}: more values than columns")
                continue
            if not any((v or "").strip() for v in row.values()):
                continue
            long = [col for col, v in row.items() if len(v or "") > MAX_CELL.get(col, MAX_SHORT_CELL)]
            if long:
                problems.extend(
                    f"line {line}: {col}: longer than {MAX_CELL.get(col, MAX_SHORT_CELL)} characters" for col in long
                )
                continue
            empty = [col for col in REQUIRED if not (row.get(col) or "").strip()]
            problems.extend(f"line {line}: {col}: is empty" for col in empty)
            try:
                record = row_to_record(row, known_terms)
            except ValueError as exc:
                problems.append(f"line {line}: {exc}")
                continue
            if not empty:
                try:
                    ServiceRecord.model_validate(record)
                except ValidationError as exc:
                    problems.extend(f"line {line}: {field_path(e['loc'])}: {e['msg']}" for e in exc.errors())
            raw.append(record)
            lines.append(line)
    except csv.Error as exc:
        reason = str(exc)
        if "field larger than field limit" in reason:
            reason = f"a value longer than {csv.field_size_limit()} characters"
        elif "new-line character seen in unquoted field" in reason:
            reason = "a line break that is not inside quotes"
        problems.append(f"line {reader.line_num}: unreadable CSV ({reason})")
    if problems:
        raise ImportProblem(problems)
    if not raw:
        raise ImportProblem([f"{what}: no rows after the header"])
    return validate_records(raw, label=lambda i, _item: f"line {lines[i - 1]}")
