"""The HSDS 3.0 tabular data package: ``datapackage.json`` with one CSV file per table, as a directory or a .zip.

The package's resources name the tables and their files (``service`` in ``services.csv`` and so on). Rows are
joined by their ``*_id`` columns into compiled service records and validated like a JSON import: all or
nothing, every problem naming its file and line. A row that belongs to no service in the package (Wijkbot
keeps phones, schedules, contacts ... per service) is not imported, with a warning.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from bot.floor.errors import ImportProblem
from socialekaart.hsds import ParsedRecords, field_path, validate_records

MAX_PACKAGE_BYTES = 512 * 1024 * 1024  # a zip's unpacked size; a regional map is a few hundred MB at most
# The tables Wijkbot reads; a package may hold more (programs, funding, metadata ...).
TABLES = (
    "service",
    "organization",
    "service_at_location",
    "location",
    "address",
    "phone",
    "contact",
    "schedule",
    "attribute",
    "taxonomy_term",
    "language",
    "service_area",
    "cost_option",
)
# Numbers in HSDS 3.0, for a package whose resources carry no field types.
NUMBERS = {
    "location": {"latitude", "longitude"},
    "phone": {"extension"},
    "schedule": {"timezone", "interval"},
    "cost_option": {"amount"},
    "service": {"minimum_age", "maximum_age"},
}
# The columns that link rows: the compiled record says the same by nesting.
LINKS = {
    "service_id",
    "organization_id",
    "location_id",
    "contact_id",
    "service_at_location_id",
    "phone_id",
    "link_id",
    "link_type",
    "link_entity",
    "taxonomy_term_id",
}


@dataclass
class Row:
    table: str
    file: str
    line: int
    values: dict

    @property
    def at(self) -> str:
        return f"{self.file} line {self.line}"


@dataclass
class Table:
    name: str
    file: str
    rows: list[Row] = field(default_factory=list)
    by_id: dict[str, Row] = field(default_factory=dict)


class _Package:
    """The files of a package, from a directory or a zip."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._base = ""
        if path.is_file() and path.name == "datapackage.json":
            self.path = path.parent
        elif path.is_file():
            self._open_zip(path)
        elif not path.is_dir():
            raise ImportProblem([f"{path}: no such directory or .zip file"])

    def _open_zip(self, path: Path) -> None:
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ImportProblem([f"{path.name}: not a .zip file ({exc})"]) from None
        if sum(info.file_size for info in self._zip.infolist()) > MAX_PACKAGE_BYTES:
            raise ImportProblem([f"{path.name}: unpacks to more than {MAX_PACKAGE_BYTES // 2**20} MB"])
        found = sorted((n for n in self._zip.namelist() if PurePosixPath(n).name == "datapackage.json"), key=len)
        self._base = str(PurePosixPath(found[0]).parent) + "/" if found and "/" in found[0] else ""

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def read(self, name: str) -> bytes | None:
        if self._zip is not None:
            try:
                return self._zip.read(self._base + name)
            except KeyError:
                return None
        try:
            return (self.path / name).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ImportProblem([f"{name}: cannot read it ({exc.strerror})"]) from None


def parse_package(path: Path) -> ParsedRecords:
    """Read and validate the data package at PATH (a directory, a .zip or its datapackage.json), or raise
    ImportProblem naming files and lines; the warnings name the rows that were left out and the values dropped."""
    package = _Package(path)
    try:
        resources = _resources(package)
        problems: list[str] = []
        tables = {name: _read_table(package, name, *resources[name], problems) for name in TABLES if name in resources}
    finally:
        package.close()
    if problems:
        raise ImportProblem(problems)
    builder = _Builder(tables)
    raw = [builder.service(row) for row in tables["service"].rows]
    parsed = validate_records(
        raw,
        label=lambda i, item: f"{builder.sources[i - 1][()].at} (id {tables['service'].rows[i - 1].values['id']})",
        locate=builder.locate,
    )
    parsed.warnings[:0] = builder.warnings
    return parsed


def _resources(package: _Package) -> dict[str, tuple[str, set[str]]]:
    """Table name -> (file, its number columns), from datapackage.json."""
    data = package.read("datapackage.json")
    if data is None:
        raise ImportProblem([f"{package.path.name}: no datapackage.json (an HSDS data package describes its files)"])
    try:
        meta = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportProblem([f"datapackage.json: not JSON ({exc})"]) from None
    resources = meta.get("resources") if isinstance(meta, dict) else None
    if not isinstance(resources, list):
        raise ImportProblem(["datapackage.json: no list of resources"])
    found: dict[str, tuple[str, set[str]]] = {}
    problems = []
    for n, res in enumerate(resources, start=1):
        name, file = (res.get("name"), res.get("path")) if isinstance(res, dict) else (None, None)
        if name not in TABLES:
            continue
        if not isinstance(file, str) or not file or ".." in PurePosixPath(file).parts or file.startswith("/"):
            problems.append(f"datapackage.json: resource {n} ({name}): its path must be a file in the package")
            continue
        found[name] = (file, _numbers(name, res))
    if "service" not in found and not problems:
        problems.append("datapackage.json: no resource named service (services.csv)")
    if problems:
        raise ImportProblem(problems)
    return found


def _numbers(table: str, resource: dict) -> set[str]:
    fields = (resource.get("schema") or {}).get("fields") if isinstance(resource.get("schema"), dict) else None
    if not isinstance(fields, list):
        return NUMBERS.get(table, set())
    return {f["name"] for f in fields if isinstance(f, dict) and f.get("type") in ("number", "integer")}


def _read_table(package: _Package, name: str, file: str, numbers: set[str], problems: list[str]) -> Table:
    table = Table(name, file)
    data = package.read(file)
    if data is None:
        problems.append(f"datapackage.json: resource {name} names {file}, which is not in the package")
        return table
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(f"{file}: not UTF-8 text (byte {exc.start})")
        return table
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        _read_rows(table, reader, numbers, problems)
    except csv.Error as exc:
        problems.append(f"{file} line {reader.line_num}: not CSV ({exc})")
    return table


def _read_rows(table: Table, reader, numbers: set[str], problems: list[str]) -> None:
    header = next(reader, None)
    if not header or len(set(header)) != len(header) or "id" not in header:
        problems.append(f"{table.file} line 1: the header must name each column once, id among them")
        return
    end = reader.line_num
    for cells in reader:
        line, end = end + 1, reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):  # fewer is fine: trailing empty cells are often left out
            problems.append(f"{table.file} line {line}: {len(cells)} cells where the header has {len(header)}")
            continue
        values = {k: _typed(v, k in numbers) for k, v in zip(header, cells, strict=False) if v.strip()}
        row = Row(table.name, table.file, line, values)
        rid = values.get("id")
        if not isinstance(rid, str):
            problems.append(f"{row.at}: id: the row has no id")
        elif rid in table.by_id:
            problems.append(f"{row.at}: id: {rid} is also the id of line {table.by_id[rid].line}")
        else:
            table.by_id[rid] = row
            table.rows.append(row)


def _typed(cell: str, number: bool) -> str | int | float:
    if not number:
        return cell
    try:
        return int(cell)
    except ValueError:
        pass
    try:
        return float(cell)
    except ValueError:
        return cell  # the record model names it: "Input should be a valid number"


class _Builder:
    """Joins the rows of the tables into compiled service records, remembering where each part came from."""

    def __init__(self, tables: dict[str, Table]) -> None:
        self.tables = tables
        self.warnings: list[str] = []
        self.sources: list[dict[tuple, Row]] = []
        self.children: dict[tuple[str, str], dict[str, list[Row]]] = {}
        services = tables["service"].by_id
        for name, link in (
            ("service_at_location", "service_id"),
            ("phone", "service_id"),
            ("contact", "service_id"),
            ("schedule", "service_id"),
            ("attribute", "link_id"),
            ("language", "service_id"),
            ("service_area", "service_id"),
            ("cost_option", "service_id"),
        ):
            self.children[(name, link)] = self._index(name, link, services)
        self.addresses = self._index("address", "location_id", None)
        self.contact_phones = self._index("phone", "contact_id", None)

    def _index(self, name: str, link: str, parents: dict | None) -> dict[str, list[Row]]:
        index: dict[str, list[Row]] = defaultdict(list)
        for row in self.tables[name].rows if name in self.tables else []:
            key = row.values.get(link)
            if parents is not None and key is not None and key not in parents:
                self.warnings.append(f"{row.at}: {link} {key} is no service in the package; the row is not imported")
            elif parents is not None and key is None and not (name == "phone" and row.values.get("contact_id")):
                self.warnings.append(f"{row.at}: belongs to no service (Wijkbot keeps them per service); not imported")
            if key is not None:
                index[str(key)].append(row)
        return index

    def _of(self, name: str, link: str, key: str) -> list[Row]:
        return self.children[(name, link)].get(key, [])

    def _take(self, row: Row, sources: dict[tuple, Row], at: tuple) -> dict:
        sources[at] = row
        return {k: v for k, v in row.values.items() if k not in LINKS}

    def service(self, row: Row) -> dict:
        sources: dict[tuple, Row] = {}
        self.sources.append(sources)
        sid = row.values["id"]
        record = self._take(row, sources, ())
        record.pop("program_id", None)
        record.update(self._organization(row, sources))
        record["service_at_locations"] = [
            sal
            for sal in (
                self._sal(r, sources, i) for i, r in enumerate(self._of("service_at_location", "service_id", sid))
            )
            if sal
        ]
        phones = self._of("phone", "service_id", sid)
        record["phones"] = [self._take(r, sources, ("phones", i)) for i, r in enumerate(phones)]
        shared = {r.values["id"] for r in phones}
        record["contacts"] = [
            self._contact(r, sources, i, shared) for i, r in enumerate(self._of("contact", "service_id", sid))
        ]
        record["attributes"] = [
            a
            for a in (self._attribute(r, sources, i) for i, r in enumerate(self._of("attribute", "link_id", sid)))
            if a
        ]
        for key, name in (
            ("schedules", "schedule"),
            ("languages", "language"),
            ("service_areas", "service_area"),
            ("cost_options", "cost_option"),
        ):
            record[key] = [self._take(r, sources, (key, i)) for i, r in enumerate(self._of(name, "service_id", sid))]
        return record

    def _organization(self, row: Row, sources: dict[tuple, Row]) -> dict:
        oid = row.values.get("organization_id")
        org = self.tables["organization"].by_id.get(str(oid)) if "organization" in self.tables else None
        if oid is not None and org is None:
            self.warnings.append(
                f"{row.at}: organization_id {oid} is not in the package; the service has no organisation"
            )
        return {"organization": self._take(org, sources, ("organization",))} if org else {}

    def _sal(self, row: Row, sources: dict[tuple, Row], i: int) -> dict | None:
        lid = row.values.get("location_id")
        loc = self.tables["location"].by_id.get(str(lid)) if "location" in self.tables else None
        if loc is None:
            self.warnings.append(f"{row.at}: location_id {lid} is not in the package; the row is not imported")
            return None
        at = ("service_at_locations", len([k for k in sources if len(k) == 2 and k[0] == "service_at_locations"]))
        sal = self._take(row, sources, at)
        location = self._take(loc, sources, (*at, "location"))
        location["addresses"] = [
            self._take(a, sources, (*at, "location", "addresses", j))
            for j, a in enumerate(self.addresses.get(str(loc.values["id"]), []))
        ]
        return {**sal, "location": location}

    def _contact(self, row: Row, sources: dict[tuple, Row], i: int, shared: set) -> dict:
        contact = self._take(row, sources, ("contacts", i))
        phones = []
        for r in self.contact_phones.get(str(row.values["id"]), []):
            if r.values["id"] in shared:
                self.warnings.append(f"{r.at}: the phone of service and contact is kept once, under the service")
                continue
            phones.append(self._take(r, sources, ("contacts", i, "phones", len(phones))))
        contact["phones"] = phones
        return contact

    def _attribute(self, row: Row, sources: dict[tuple, Row], i: int) -> dict | None:
        tid = row.values.get("taxonomy_term_id")
        term = self.tables["taxonomy_term"].by_id.get(str(tid)) if "taxonomy_term" in self.tables else None
        if term is None:
            self.warnings.append(f"{row.at}: taxonomy_term_id {tid} is not in the package; the row is not imported")
            return None
        at = ("attributes", len([k for k in sources if len(k) == 2 and k[0] == "attributes"]))
        attribute = self._take(row, sources, at)
        attribute["taxonomy_term"] = self._take(term, sources, (*at, "taxonomy_term"))
        return attribute

    def locate(self, index: int, loc: tuple) -> str:
        """Where the field LOC of record INDEX came from: 'phones.csv line 3: extension'."""
        sources = self.sources[index - 1]
        for cut in range(len(loc), -1, -1):
            row = sources.get(tuple(loc[:cut]))
            if row is not None:
                return f"{row.at}: {field_path(tuple(loc[cut:]))}"
        return f"{sources[()].at}: {field_path(loc)}"
