"""``scenewatch sources …``: register portals, harvest them now, see their history."""
from __future__ import annotations

import sys
from typing import Any

import click

from config.cli_support import emit, fail, json_option, with_app
from search.sources import SOURCE_FORMATS


@click.group("sources")
def sources_group() -> None:
    """Portals harvested on their own schedule: add, list, show, run, pause, remove."""


def _counts_line(counts: dict[str, int]) -> str:
    line = ("seen {seen}  new {new}  changed {changed}  unchanged {unchanged}  "
            "removed {removed}  quarantined {quarantined}").format(**counts)
    if counts.get("held_removals"):
        line += f"  held removals {counts['held_removals']}"
    return line


def _print_harvest(record: dict[str, Any], indent: str = "  ") -> None:
    http = f" HTTP {record['http_status']}" if record.get("http_status") else ""
    size = f" {record['bytes']} bytes" if record.get("bytes") else ""
    click.echo(f"{indent}#{record['id']} {record['started_at']:%Y-%m-%d %H:%M:%S} "
               f"{record['status']}{http}{size} ({record['trigger']})")
    if record["status"] not in ("not_modified", "error"):
        click.echo(f"{indent}  {_counts_line(record['counts'])}")
    if record.get("error"):
        click.echo(f"{indent}  error: {record['error']}")


@sources_group.command("add")
@click.argument("name")
@click.argument("location")
@click.option("--format", "fmt", type=click.Choice(SOURCE_FORMATS), default="auto",
              show_default=True, help="Kind of snapshot; auto looks at the name and first bytes.")
@click.option("--mapping", "mapping_path", default=None,
              help='JSON file {"source label": "dataset field"} overlaying the built-in mapping.')
@click.option("--schedule", default="manual", show_default=True,
              help="hourly | daily | weekly | monthly | manual, or a 5-field cron expression.")
@click.option("--timezone", "tz_name", default="UTC", show_default=True,
              help="Time zone of the schedule.")
@click.option("--header", "headers", multiple=True,
              help='Extra request header "Name: value" (repeatable; stored, shown masked).')
@json_option
@with_app
def add_command(name: str, location: str, fmt: str, mapping_path: str | None, schedule: str,
                tz_name: str, headers: tuple[str, ...], as_json: bool) -> None:
    """Register the portal NAME (the id prefix of its datasets) at LOCATION (path or URL)."""
    from config.extensions import db
    from search.sources import SourceError, SourceSpec, add_source, source_record

    spec = SourceSpec(name=name, location=location, format=fmt, mapping_path=mapping_path,
                      schedule=schedule, timezone=tz_name, headers=headers)
    try:
        with db.session() as session:
            data = source_record(add_source(session, spec), None)
    except SourceError as exc:
        fail(str(exc), as_json, code=2, field=exc.field)
        return
    emit(data, as_json, lambda d: click.echo(
        f"source {d['name']} added: {d['location']} ({d['format']}, {d['schedule']}"
        f"{', next harvest ' + str(d['next_harvest_at']) if d['next_harvest_at'] else ''})"))


@sources_group.command("list")
@json_option
@with_app
def list_command(as_json: bool) -> None:
    """Every source with its schedule and last harvest."""
    from sqlalchemy import select

    from config.extensions import db
    from search.models import Source
    from search.sources import recent_harvests, source_record

    with db.session() as session:
        data = []
        for source in session.scalars(select(Source).order_by(Source.name)):
            last = recent_harvests(session, source.name, limit=1)
            data.append(source_record(source, last[0] if last else None))

    def human(rows: list[dict[str, Any]]) -> None:
        if not rows:
            click.echo("no sources yet: `scenewatch sources add NAME PATH_OR_URL`")
        for row in rows:
            paused = ", paused" if row["paused"] else ""
            last = row["last_harvest"]
            state = f"last {last['status']} {last['started_at']:%Y-%m-%d %H:%M}" if last else "never harvested"
            click.echo(f"{row['name']}  [{row['schedule']}{paused}]  {state}  {row['location']}")

    emit(data, as_json, human)


@sources_group.command("show")
@click.argument("name")
@click.option("--limit", type=click.IntRange(1, 500), default=10, show_default=True,
              help="How many recent harvests.")
@json_option
@with_app
def show_command(name: str, limit: int, as_json: bool) -> None:
    """A source: its settings, recent harvests and a summary of its quarantine."""
    from config.extensions import db
    from search.sources import (
        SourceNotFound,
        get_source,
        harvest_record,
        quarantine_summary,
        recent_harvests,
        source_record,
    )

    try:
        with db.session() as session:
            source = get_source(session, name)
            harvests = [harvest_record(h) for h in recent_harvests(session, source.name, limit)]
            data = source_record(source, None)
            data.pop("last_harvest")
            data["harvests"] = harvests
            data["quarantine"] = quarantine_summary(session, source.name)
    except SourceNotFound as exc:
        fail(str(exc), as_json, code=2, field="name")
        return

    def human(d: dict[str, Any]) -> None:
        click.echo(f"source {d['name']}: {d['location']} ({d['format']})")
        click.echo(f"  schedule {d['schedule']} ({d['timezone']})"
                   f"{', paused' if d['paused'] else ''}; next harvest {d['next_harvest_at'] or '-'}")
        for header, value in d["headers"].items():
            click.echo(f"  header {header}: {value}")
        suspect = next((h for h in d["harvests"] if h["status"] == "suspect"), None)
        if d["harvests"] and d["harvests"][0]["status"] == "suspect" and suspect:
            click.echo(f"  SUSPECT: harvest #{suspect['id']} held "
                       f"{suspect['counts']['held_removals']} removals; apply them with "
                       f"`scenewatch sources run {d['name']} --accept-removals`")
        click.echo("  recent harvests:" if d["harvests"] else "  never harvested")
        for record in d["harvests"]:
            _print_harvest(record, "    ")
        quarantine = d["quarantine"]
        if quarantine["total"]:
            click.echo(f"  quarantine (harvest #{quarantine['harvest_id']}): "
                       f"{quarantine['total']} records")
            for reason in quarantine["reasons"]:
                click.echo(f"    {reason['count']:>5}  {reason['reason'][:100]}")

    emit(data, as_json, human)


@sources_group.command("run")
@click.argument("name")
@click.option("--accept-removals", is_flag=True,
              help="Apply removals however many (after a suspect harvest); fetches unconditionally.")
@click.option("--full", is_flag=True,
              help="Fetch everything: no conditional GET, and the periodic full listing of an API.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar (default: when on a terminal).")
@json_option
@with_app
def run_command(name: str, accept_removals: bool, full: bool, progress: bool | None,
                as_json: bool) -> None:
    """Harvest NAME now, then evaluate the on-change scenes it affected (and deliver)."""
    from search.harvest import HarvestError
    from search.sources import SourceBusy, SourceNotFound
    from subscriptions.on_change import harvest_and_evaluate

    show_progress = sys.stderr.isatty() if progress is None else progress
    try:
        outcome = harvest_and_evaluate(name, accept_removals=accept_removals, full=full,
                                       trigger="cli", progress=show_progress)
    except SourceNotFound as exc:
        fail(str(exc), as_json, code=2, field="name")
        return
    except (SourceBusy, HarvestError) as exc:
        fail(str(exc), as_json)
        return

    def human(d: dict[str, Any]) -> None:
        click.echo(f"harvested {d['source']}:")
        _print_harvest(d)
        if d["status"] == "suspect":
            click.echo(f"  removals held: `scenewatch sources run {d['source']} --accept-removals` "
                       "applies them")
        for scene in d.get("scenes", []):
            click.echo(f"  on-change scene {scene['id']}: {scene['state']}")

    emit(outcome.record, as_json, human)
    if outcome.status == "error":
        raise SystemExit(1)


@sources_group.command("quarantine")
@click.argument("name")
@click.option("--harvest", "harvest_id", type=click.IntRange(1), default=None,
              help="Only the records of this harvest (default: every harvest, newest first).")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@json_option
@with_app
def quarantine_command(name: str, harvest_id: int | None, limit: int, offset: int,
                       as_json: bool) -> None:
    """Records of NAME that could not be used, with the reason and the record as found."""
    from config.extensions import db
    from search.sources import SourceNotFound, get_source, quarantine_page

    try:
        with db.session() as session:
            source = get_source(session, name)
            data = [{"id": r.id, "harvest_id": r.harvest_id, "position": r.position,
                     "reason": r.reason, "raw": r.raw, "created_at": r.created_at}
                    for r in quarantine_page(session, source.name, harvest_id, offset, limit)]
    except SourceNotFound as exc:
        fail(str(exc), as_json, code=2, field="name")
        return

    def human(rows: list[dict[str, Any]]) -> None:
        if not rows:
            click.echo("no quarantined records")
        for row in rows:
            click.echo(f"harvest #{row['harvest_id']} {row['position']}: {row['reason']}")
            click.echo(f"    {row['raw'][:200]}")

    emit(data, as_json, human)


def _set_paused(name: str, paused: bool, as_json: bool) -> None:
    from config.extensions import db
    from search.sources import SourceNotFound, set_paused

    try:
        with db.session() as session:
            source = set_paused(session, name, paused)
            data = {"name": source.name, "paused": source.paused,
                    "next_harvest_at": source.next_harvest_at}
    except SourceNotFound as exc:
        fail(str(exc), as_json, code=2, field="name")
        return
    emit(data, as_json, lambda d: click.echo(
        f"source {d['name']} {'paused' if d['paused'] else 'resumed'}"))


@sources_group.command("pause")
@click.argument("name")
@json_option
@with_app
def pause_command(name: str, as_json: bool) -> None:
    """Stop NAME's scheduled harvests (`sources run` still works)."""
    _set_paused(name, True, as_json)


@sources_group.command("resume")
@click.argument("name")
@json_option
@with_app
def resume_command(name: str, as_json: bool) -> None:
    """Resume NAME's scheduled harvests from its next scheduled time."""
    _set_paused(name, False, as_json)


@sources_group.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@with_app
def remove_command(name: str, yes: bool, as_json: bool) -> None:
    """Remove NAME: its datasets are tombstoned, so scenes report them removed
    (deleted_from_catalog). Harvest history and quarantine are kept."""
    from search.sources import SourceBusy, SourceNotFound
    from subscriptions.on_change import remove_and_evaluate

    if not yes and not as_json and sys.stdin.isatty():
        click.confirm(f"Remove source {name} and tombstone its datasets?", abort=True)
    try:
        data = remove_and_evaluate(name)
    except SourceNotFound as exc:
        fail(str(exc), as_json, code=2, field="name")
        return
    except SourceBusy as exc:
        fail(str(exc), as_json)
        return
    emit(data, as_json, lambda d: click.echo(
        f"source {d['name']} removed; {d['tombstoned']} datasets tombstoned"))


def register(group: click.Group) -> None:
    """Add these commands to the ``scenewatch`` group."""
    group.add_command(sources_group)
