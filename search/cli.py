"""Catalog commands: harvest, search, reindex."""
from __future__ import annotations

from typing import Any

import click

from config.cli_support import emit, fail, json_option, with_app
from search.harvest.detect import FORMATS as HARVEST_FORMATS

FORMATS = ("auto", *HARVEST_FORMATS)


@click.command("harvest")
@click.argument("source")
@click.argument("location", metavar="PATH_OR_URL")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True,
              help="Kind of export; auto looks at the name and the first bytes.")
@click.option("--mapping", "mapping_path", type=click.Path(exists=True, dir_okay=False),
              help='JSON file {"source label": "dataset field"} overlaying the built-in mapping.')
@click.option("--accept-removals", is_flag=True,
              help="Apply removals however many (else a snapshot removing over "
                   "SCENEWATCH_HARVEST_MAX_REMOVAL of the source is held as suspect).")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when on a terminal).")
@click.option("--if-empty", is_flag=True,
              help="Only when the catalog holds no dataset yet (how `make run` loads its sample, so a "
                   "restart never undoes later harvests).")
@json_option
@with_app
def harvest_command(source: str, location: str, fmt: str, mapping_path: str | None,
                    accept_removals: bool, progress: bool | None, if_empty: bool, as_json: bool) -> None:
    """Load a full catalog snapshot of SOURCE from a file or URL.

    New datasets are added, changed ones get a new version, those missing from the
    snapshot are tombstoned, and malformed records are quarantined with the reason.
    SOURCE becomes a (manual) source on first use; the on-change scenes it affects
    are evaluated and their diffs delivered before this returns.
    """
    import sys

    from search.harvest import HarvestError
    from search.sources import SourceBusy, SourceError
    from subscriptions.on_change import harvest_and_evaluate

    if if_empty and _catalog_size() > 0:
        emit({"source": source, "location": location, "skipped": True, "datasets": _catalog_size()}, as_json,
             lambda d: click.echo(f"catalog already holds {d['datasets']} datasets: {location} not loaded"))
        return
    show_progress = sys.stderr.isatty() if progress is None else progress
    try:
        outcome = harvest_and_evaluate(source, location=location, fmt=fmt, mapping_path=mapping_path,
                                       accept_removals=accept_removals, trigger="cli",
                                       progress=show_progress)
    except (HarvestError, SourceBusy, SourceError) as exc:
        fail(str(exc), as_json)
        return
    if outcome.summary is None:
        fail(str(outcome.record["error"]), as_json, harvest=outcome.record["id"])
        return
    data = {**outcome.summary.to_dict(), "scenes": outcome.record["scenes"], "skipped": False}

    def human(d: dict[str, Any]) -> None:
        click.echo(f"harvested {d['source']} from {d['location']} ({d['format']})")
        click.echo("  seen {seen}  new {new}  changed {changed}  unchanged {unchanged}  "
                   "removed {removed}  quarantined {quarantined}".format(**d))
        if d["status"] == "suspect":
            click.echo(f"  SUSPECT: {d['held_removals']} removals held; rerun with "
                       "--accept-removals to apply them")
        for scene in d["scenes"]:
            click.echo(f"  on-change scene {scene['id']}: {scene['state']}")
        if d.get("index_failures"):
            click.echo(f"  {len(d['index_failures'])} documents were refused by the search index:")
            for dataset_id, reason in d["index_failures"][:20]:
                click.echo(f"    {dataset_id}: {reason}")

    emit(data, as_json, human)


def _catalog_size() -> int:
    """How many datasets the catalog store holds (tombstoned ones included)."""
    from sqlalchemy import func, select

    from config.extensions import db
    from search.models import Dataset

    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Dataset)) or 0)


def _load_query(raw: str, as_json: bool) -> Any:
    from search.query import QueryError, parse_query

    try:
        return parse_query(raw)
    except QueryError as exc:
        fail(f"bad query: {exc}", as_json, code=2,
             errors=[{"field": e.field, "value": e.value, "reason": e.reason} for e in exc.errors])


@click.command("search")
@click.option("--query", "raw_query", default="{}", show_default=True,
              help='Scene query JSON, e.g. \'{"text": "交通", "filters": {"open_type": ["conditional"]}}\'.')
@click.option("--limit", type=click.IntRange(0, 1000), default=10, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@click.option("--sort", type=click.Choice(["relevance", "modified", "-modified", "title"]), default="relevance")
@json_option
@with_app
def search_command(raw_query: str, limit: int, offset: int, sort: str, as_json: bool) -> None:
    """Search the catalog with a scene query: total, facets and hits."""
    from config.extensions import search

    query = _load_query(raw_query, as_json)
    result = search.get().search(query, limit=limit, offset=offset, sort=sort).to_dict()

    def human(d: dict[str, Any]) -> None:
        click.echo(f"{d['total']} datasets match")
        for hit in d["hits"]:
            click.echo(f"  {hit['id']}  {hit.get('title', '')}  [{hit.get('publisher') or '-'}]")
        for name, values in d["facets"].items():
            if values:
                top = ", ".join(f"{v['value']} ({v['count']})" for v in values[:6])
                click.echo(f"  {name}: {top}")

    emit(result, as_json, human)


@click.command("reindex")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when on a terminal).")
@json_option
@with_app
def reindex_command(progress: bool | None, as_json: bool) -> None:
    """Rebuild the search index from the catalog store."""
    import sys

    from search.reindex import reindex_all

    show_progress = sys.stderr.isatty() if progress is None else progress
    report = reindex_all(progress=show_progress)
    emit(report, as_json, lambda d: click.echo(
        f"reindexed {d['indexed']} datasets ({len(d['failed'])} failed, "
        f"{d['region_paths']} region paths placed anew) in {d['seconds']:.1f}s"))


def register(group: click.Group) -> None:
    """Add these commands to the ``scenewatch`` group."""
    from search.source_cli import sources_group

    for command in (harvest_command, search_command, reindex_command, sources_group):
        group.add_command(command)


