"""``wijkbot kaart``: the social map: import, export, statistics, duplicates and search.

``kaart search`` and ``kaart duplicates`` import the search index (numpy) and the duplicate finder (language
detection, the lexicon) inside the command: import, export and stats, what a coordinator runs most, then
start without them, about 0.3 s of CPU sooner a run.
"""

from __future__ import annotations

import getpass
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy import select

from bot.cli.context import database, print_json, read_input, write_output
from socialekaart.csvmap import parse_csv
from socialekaart.hsds import apply_records, export_records, parse_json, stats
from socialekaart.models import TaxonomyTerm

KEEP = ("a", "b", "both")  # as socialekaart.duplicates.KEEP, which is imported only when the command runs

CSV_SUFFIXES = (".csv", ".tsv", ".txt")  # what --format auto reads as the CSV template


def _format_of(path: Path) -> str:
    """What --format auto makes of PATH: an HSDS data package (a directory, a .zip or its datapackage.json),
    the CSV template, or HSDS JSON."""
    if str(path) != "-" and (path.is_dir() or path.suffix.lower() == ".zip" or path.name == "datapackage.json"):
        return "package"
    return "csv" if path.suffix.lower() in CSV_SUFFIXES else "json"


def _read_map(session, path: Path, fmt: str, bars: Bars | None = None) -> list:
    """The validated records in PATH; a warning for every value that was dropped goes to stderr."""
    if fmt == "package":
        from socialekaart.tabular import parse_package  # here, not at the top: only a data package needs it

        records = parse_package(path)
    elif fmt == "csv":
        known = {t.code: (t.id, t.name) for t in session.scalars(select(TaxonomyTerm)) if t.code}
        records = parse_csv(read_input(path), known_terms=known, what=path.name)
    else:
        # the file's bytes are not kept: parse_json frees the text and the parsed JSON as it goes
        records = parse_json(read_input(path), what=path.name, progress=bars and bars.checking)
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
    "--merge",
    is_flag=True,
    help="Add another source's map next to this one (never changing a service already in it) and list probable "
    "duplicates of the new services, for a coordinator to decide (kaart duplicates --resolve).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["auto", "json", "package", "csv"]), default="auto", show_default=True
)
@click.option(
    "--index/--no-index",
    default=True,
    show_default=True,
    help="After the import, make and save the search index (else the next start of the bot makes it).",
)
@click.pass_context
def kaart_import(ctx: click.Context, path: Path, replace: bool, merge: bool, fmt: str, index: bool) -> None:
    """Import HSDS 3.0 (JSON: an array, one service or a paginated list; or a data package: a directory or .zip
    with datapackage.json and CSV files) or the CSV template, all or nothing. Values that cannot be true are
    dropped with a warning on stderr.

    On a terminal a progress bar shows the checking and the writing of a big map; otherwise one summary line.
    Then the search index is made and saved in the data dir, so that the next start answers at once.
    """
    from socialekaart.bulk import paused_gc  # the write path: not needed by export, stats or search

    if replace and merge:
        raise click.UsageError("--replace and --merge exclude each other")
    started = time.perf_counter()
    bars = Bars(path.name) if sys.stderr.isatty() else None
    try:
        with paused_gc(), database(ctx).session() as session:
            records = _read_map(session, path, _format_of(path) if fmt == "auto" else fmt, bars)
            try:
                writing = bars.writing(len(records)) if bars else None
                result = apply_records(session, records, replace=replace, merge=merge, progress=writing)
                session.commit()
            except BaseException:
                session.rollback()
                raise
    finally:
        if bars:
            bars.close()
    click.echo(
        f"imported {result.total} services: {result.created} new, {result.updated} updated"
        + (" (map replaced)" if replace else "")
        + f" in {time.perf_counter() - started:.1f} s"
    )
    if index:
        _save_index(ctx)
    if merge:
        from socialekaart.duplicates import open_pairs  # here, not at the top: see the module docstring

        with database(ctx).session() as session:
            pairs = open_pairs(session, new={r.id for r in records})
        click.echo(
            f"{len(pairs)} probable duplicate(s) of the merged services; both are kept until a coordinator "
            "decides (wijkbot kaart duplicates --resolve)"
        )
        show_pairs(pairs)


def _save_index(ctx: click.Context) -> None:
    """Make the new map's search index and save it in the data dir, so that the next start (and a running
    bot, which swaps to it) answers at once instead of building it."""
    from bot.floor.config import Settings
    from socialekaart.search import warm_index  # here, not at the top: numpy and the need model

    settings = ctx.find_object(Settings) or Settings()
    if sys.stderr.isatty():
        click.echo("making the search index (about 20 s at 50,000 services) ...", err=True)
    made = warm_index(database(ctx), settings.data_dir)
    size = f", {made['bytes'] / 1e6:.1f} MB" if made.get("bytes") else ""
    click.echo(f"search index ready ({made['how']}) in {made['seconds']:.1f} s{size}")


class Bars:
    """tqdm progress bars on stderr (a terminal only): checking, then writing a map of 200 services or more.

    tqdm rather than rich: a dependency of spaCy already (nothing new to install), no dependencies of its
    own, imported in a few milliseconds, and a bar is all the import shows."""

    SMALL = 200

    def __init__(self, name: str):
        from tqdm import tqdm

        self.tqdm, self.bar, self.name = tqdm, None, name

    def _open(self, label: str, total: int):
        self.close()
        if total >= self.SMALL:
            self.bar = self.tqdm(total=total, desc=f"{label} {self.name}", unit=" services", file=sys.stderr)
        return self.bar

    def checking(self, step: int, total: int) -> None:
        bar = self.bar or self._open("checking", total)
        if bar is not None:
            bar.update(step)

    def writing(self, total: int) -> Callable[[int], None] | None:
        bar = self._open("writing", total)
        return bar.update if bar is not None else None

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


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
@click.argument("pair", nargs=-1, metavar="[A B]")
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--resolve",
    is_flag=True,
    help="Decide: the open pairs one by one (keep both, A or B), or the pair A B with --keep.",
)
@click.option(
    "--keep",
    type=click.Choice(KEEP, case_sensitive=False),
    help="With --resolve A B: a (B is removed), b (A is removed) or both (not a duplicate).",
)
@click.option("--by", metavar="NAME", help="Who decides, stored with the decision (default: the login name).")
@click.pass_context
def kaart_duplicates(
    ctx: click.Context, pair: tuple[str, ...], as_json: bool, resolve: bool, keep: str | None, by: str | None
) -> None:
    """List probable duplicate services (alike name and organisation plus a shared fact), or decide them.

    A pair decided 'both' is not a duplicate and is not listed again; keeping one removes the other (with
    its phones, contacts, ..., all or nothing) and bumps the map's revision.
    """
    from socialekaart.duplicates import open_pairs  # here, not at the top: see the module docstring

    if (pair or keep) and not resolve:
        raise click.UsageError("A B and --keep go with --resolve")
    if pair:
        if len(pair) != 2 or keep is None:
            raise click.UsageError("--resolve A B needs two service ids and --keep a|b|both")
        click.echo(_decide(ctx, pair[0], pair[1], keep.lower(), by or _login()))
        return
    with database(ctx).session() as session:
        pairs = open_pairs(session)
    if resolve:
        _resolve_each(ctx, pairs, by or _login())
    elif as_json:
        print_json([p.as_json() for p in pairs])
    else:
        show_pairs(pairs)


def show_pairs(pairs: list) -> None:
    if not pairs:
        click.echo("no probable duplicates")
    for p in pairs:
        click.echo(f"{p.score:.2f}  {p.a_name} [{p.a}]  ~  {p.b_name} [{p.b}]")
        click.echo(f"      {'; '.join(p.evidence)}")


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in a bare container
        return "operator"


def _decide(ctx: click.Context, a: str, b: str, keep: str, by: str) -> str:
    """One decision in its own transaction; the line that says what happened."""
    from socialekaart.duplicates import resolve

    with database(ctx).session() as session:
        try:
            removed = resolve(session, a, b, keep, by=by, now=datetime.now(UTC))
            session.commit()
        except BaseException:
            session.rollback()
            raise
    if removed is None:
        return f"kept both: {a} and {b} are not duplicates"
    return f"kept {b if removed == a else a}, removed {removed}"


def _resolve_each(ctx: click.Context, pairs: list, by: str) -> None:
    """Ask about each open pair: keep both, A, B; skip or quit. Each answer is saved at once."""
    gone: set[str] = set()
    counts = {"both": 0, "removed": 0, "open": 0}
    answers = click.Choice(["both", "a", "b", "skip", "s", "quit", "q"], case_sensitive=False)
    for n, p in enumerate(pairs, 1):
        if p.a in gone or p.b in gone:
            continue
        click.echo(f"\n{n}/{len(pairs)}  score {p.score:.2f}: {'; '.join(p.evidence)}")
        click.echo(f"  A  {p.a_name} [{p.a}]\n  B  {p.b_name} [{p.b}]")
        answer = click.prompt(
            "keep both (not a duplicate), a, b, skip or quit", type=answers, default="skip", show_choices=False
        ).lower()
        answer = {"s": "skip", "q": "quit"}.get(answer, answer)
        if answer == "quit":
            counts["open"] += len(pairs) - n + 1
            break
        if answer == "skip":
            counts["open"] += 1
            continue
        click.echo("  " + _decide(ctx, p.a, p.b, answer, by))
        if answer == "both":
            counts["both"] += 1
        else:
            counts["removed"] += 1
            gone.add(p.b if answer == "a" else p.a)
    click.echo(f"kept both {counts['both']}, removed {counts['removed']}, left open {counts['open']}")


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


def _register_provider_commands() -> None:
    from bot.cli.providers import kaart_freshness, kaart_provider  # issue 14: providers keep their listing current

    kaart.add_command(kaart_freshness)
    kaart.add_command(kaart_provider)


_register_provider_commands()
