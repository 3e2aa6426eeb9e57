"""``wijkbot kaart``: the social map: import, export, statistics, duplicates and search.

``kaart search`` and ``kaart duplicates`` import the search index (numpy) and the duplicate finder (language
detection, the lexicon) inside the command: import, export and stats, what a coordinator runs most, then
start without them, about 0.3 s of CPU sooner a run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from sqlalchemy import select

from bot.cli.context import database, print_json, read_input, write_output
from socialekaart.csvmap import parse_csv
from socialekaart.hsds import apply_records, export_records, parse_json, stats
from socialekaart.models import TaxonomyTerm

CSV_SUFFIXES = (".csv", ".tsv", ".txt")  # what --format auto reads as the CSV template


def _format_of(path: Path) -> str:
    """What --format auto makes of PATH: an HSDS data package (a directory, a .zip or its datapackage.json),
    the CSV template, or HSDS JSON."""
    if str(path) != "-" and (path.is_dir() or path.suffix.lower() == ".zip" or path.name == "datapackage.json"):
        return "package"
    return "csv" if path.suffix.lower() in CSV_SUFFIXES else "json"


def _read_map(session, path: Path, fmt: str) -> list:
    """The validated records in PATH; a warning for every value that was dropped goes to stderr."""
    if fmt == "package":
        from socialekaart.tabular import parse_package  # here, not at the top: only a data package needs it

        records = parse_package(path)
    elif fmt == "csv":
        known = {t.code: (t.id, t.name) for t in session.scalars(select(TaxonomyTerm)) if t.code}
        records = parse_csv(read_input(path), known_terms=known, what=path.name)
    else:
        records = parse_json(read_input(path), what=path.name)
    for line in getattr(records, "warnings", []):
        click.echo(f"warning: {line}", err=True)
    return records


@click.group()
def kaart() -> None:
    """The social map: import, export, statistics, duplicates and search."""


@kaart.command("import")
@click.argument("path", type=click.Path(allow_dash=True, path_type=Path))
@click.option("--replace", is_flag=True, help="Replace the whole map instead of updating services by id.")
@click.option(
    "--format", "fmt", type=click.Choice(["auto", "json", "package", "csv"]), default="auto", show_default=True
)
@click.pass_context
def kaart_import(ctx: click.Context, path: Path, replace: bool, fmt: str) -> None:
    """Import HSDS 3.0 (JSON: an array, one service or a paginated list; or a data package: a directory or .zip
    with datapackage.json and CSV files) or the CSV template, all or nothing. Values that cannot be true are
    dropped with a warning on stderr."""
    with database(ctx).session() as session:
        records = _read_map(session, path, _format_of(path) if fmt == "auto" else fmt)
        try:
            if sys.stderr.isatty() and len(records) >= 200:
                with click.progressbar(length=len(records), label="importing", file=sys.stderr) as bar:
                    result = apply_records(session, records, replace=replace, progress=bar.update)
            else:
                result = apply_records(session, records, replace=replace)
            session.commit()
        except BaseException:
            session.rollback()
            raise
    click.echo(
        f"imported {result.total} services: {result.created} new, {result.updated} updated"
        + (" (map replaced)" if replace else "")
    )


@kaart.command("export")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.pass_context
def kaart_export(ctx: click.Context, path: Path) -> None:
    """Write the whole map as HSDS 3.0 JSON (an array of compiled service records)."""
    with database(ctx).session() as session:
        records = export_records(session)
    text = json.dumps(records, ensure_ascii=False, indent=1) + "\n"
    write_output(path, text.encode("utf-8"), done=f"exported {len(records)} services to {path}")


@kaart.command("stats")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def kaart_stats(ctx: click.Context, as_json: bool) -> None:
    """Count services, organisations and more."""
    with database(ctx).session() as session:
        data = stats(session)
    if as_json:
        print_json(data)
    else:
        for key, value in data.items():
            click.echo(f"{key:<16}{value}")


@kaart.command("duplicates")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def kaart_duplicates(ctx: click.Context, as_json: bool) -> None:
    """List probable duplicate services (alike name and organisation plus a shared fact)."""
    from socialekaart.duplicates import find_duplicates  # here, not at the top: see the module docstring

    with database(ctx).session() as session:
        pairs = find_duplicates(export_records(session))
    if as_json:
        print_json([p.as_json() for p in pairs])
        return
    if not pairs:
        click.echo("no probable duplicates")
    for p in pairs:
        click.echo(f"{p.score:.2f}  {p.a_name} [{p.a}]  ~  {p.b_name} [{p.b}]")
        click.echo(f"      {'; '.join(p.evidence)}")


@kaart.command("search")
@click.argument("query")
@click.option("--postcode", help="Rank services near this postcode first.")
@click.option("--free", is_flag=True, help="Only free services.")
@click.option("--language", metavar="CODE", help="Only services in this language (ISO 639-1, e.g. ar).")
@click.option("--open-now", is_flag=True, help="Only services open now (Europe/Amsterdam).")
@click.option("--limit", type=click.IntRange(1, 100), default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def kaart_search(
    ctx: click.Context,
    query: str,
    postcode: str | None,
    free: bool,
    language: str | None,
    open_now: bool,
    limit: int,
    as_json: bool,
) -> None:
    """Search the map. QUERY '-' reads one query per line from stdin and writes JSON lines."""
    from socialekaart.search import Filters, MapSearch  # here, not at the top: see the module docstring

    search = MapSearch(database(ctx))
    filters = Filters(postcode=postcode, free=free, language=language, open_now=open_now)
    if query == "-":
        for line in sys.stdin:
            text = line.rstrip("\r\n")
            hits = search.search(text, filters, limit=limit)
            print_json({"query": text, "hits": [h.as_json() for h in hits]})
            sys.stdout.flush()
        return
    hits = search.search(query, filters, limit=limit)
    if as_json:
        print_json({"query": query, "hits": [h.as_json() for h in hits]})
        return
    if not hits:
        click.echo("nothing found")
    for n, h in enumerate(hits, 1):
        click.echo(f"{n}. {h.name} ({h.organization}) - {h.why}")
