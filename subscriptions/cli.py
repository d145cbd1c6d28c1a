"""Scene commands: create, list, show, run, pause, resume, delete."""
from __future__ import annotations

from typing import Any

import click
from sqlalchemy import select

from config.cli_support import emit, fail, json_option, with_app


@click.group("scenes")
def scenes_group() -> None:
    """Saved searches: create them, run them, see what changed."""


def _channel_info(channel: Any) -> dict[str, Any]:
    info = {"id": channel.id, "kind": channel.kind, "target": channel.target, "cadence": channel.cadence,
            "verified": channel.verified}
    if channel.kind == "webhook":
        info["secret"] = channel.secret
    return info


def _baseline_info(run: Any) -> dict[str, Any] | None:
    if run is None:
        return None
    return {"run_id": run.id, "state": run.state, "matched": run.matched, "finished_at": run.finished_at}


@scenes_group.command("create")
@click.option("--name", required=True, help="A name for the scene.")
@click.option("--query", "raw_query", default="{}", show_default=True,
              help="Scene query JSON ({} matches every dataset).")
@click.option("--schedule", default="daily", show_default=True,
              help="on-change | hourly | daily | weekly | monthly | manual, or a 5-field cron expression.")
@click.option("--timezone", "tz_name", default=None, help="Time zone of the schedule (default: the owner's).")
@click.option("--email", default=None, help="Send diffs to this address (set here, it counts as verified).")
@click.option("--cadence", type=click.Choice(["immediate", "daily", "weekly"]), default="immediate",
              show_default=True, help="Email cadence.")
@click.option("--webhook", default=None, help="POST signed diffs to this URL.")
@click.option("--track", "tracked", multiple=True, help="A field whose changes count (repeatable; default all).")
@click.option("--send-when-empty", is_flag=True, help="Notify even when a run finds no change.")
@click.option("--owner", default=None, help="Owner's account email (default: the operator account).")
@json_option
@with_app
def create_command(name: str, raw_query: str, schedule: str, tz_name: str | None, email: str | None,
                   cadence: str, webhook: str | None, tracked: tuple[str, ...], send_when_empty: bool,
                   owner: str | None, as_json: bool) -> None:
    """Save a scene; prints its id (and the webhook secret, shown once)."""
    from config.extensions import db
    from search.query import QueryError, load_query_json
    from subscriptions.accounts import find_user, operator_user
    from subscriptions.scenes import SceneError, create_scene

    try:
        query: Any = load_query_json(raw_query)
    except QueryError as exc:
        fail(str(exc), as_json, code=2, field="query",
             errors=[{"field": e.field, "message": e.reason} for e in exc.errors])
        return
    try:
        with db.session() as session:
            user = find_user(session, owner) if owner else operator_user(session)
            if user is None:
                fail(f"owner: no account {owner!r}", as_json, code=2, field="owner")
                return
            created = create_scene(
                session, user, name=name, query=query, schedule=schedule, timezone_name=tz_name,
                tracked_fields=list(tracked) or None, email=email, email_verified=True,
                email_cadence=cadence, webhook=webhook, send_when_empty=send_when_empty)
            data = {
                "id": created.scene.id, "name": created.scene.name, "query": created.scene.query,
                "schedule": created.scene.schedule, "timezone": created.scene.timezone,
                "next_run_at": created.scene.next_run_at,
                "channels": [_channel_info(c) for c in created.channels],
                "baseline": _baseline_info(created.baseline),
            }
    except SceneError as exc:
        fail(str(exc), as_json, code=2, errors=[{"field": p.field, "message": p.message} for p in exc.problems])
        return

    def human(d: dict[str, Any]) -> None:
        click.echo(f"scene {d['id']} created: {d['name']} ({d['schedule']}, next run {d['next_run_at'] or 'manual'})")
        if d["baseline"]:
            click.echo(f"  baseline run {d['baseline']['run_id']}: {d['baseline']['matched']} datasets "
                       "match now; changes from here on are reported")
        for channel in d["channels"]:
            click.echo(f"  {channel['kind']}: {channel['target']}")
            if channel.get("secret"):
                click.echo(f"  webhook secret (store it now): {channel['secret']}")

    emit(data, as_json, human)


@scenes_group.command("list")
@json_option
@with_app
def list_command(as_json: bool) -> None:
    """List every scene with its last run."""
    from config.extensions import db
    from subscriptions.models import Scene

    with db.session() as session:
        data = []
        for scene in session.scalars(select(Scene).order_by(Scene.id)):
            last = scene.runs[0] if scene.runs else None
            data.append({"id": scene.id, "name": scene.name, "owner": scene.owner.email, "schedule": scene.schedule,
                         "paused": scene.paused, "next_run_at": scene.next_run_at,
                         "last_run": {"id": last.id, "state": last.state, "matched": last.matched,
                                      "finished_at": last.finished_at} if last else None})

    def human(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            last = row["last_run"]
            state = f"{last['state']} ({last['matched']} matched)" if last else "never run"
            paused = ", paused" if row["paused"] else ""
            click.echo(f"{row['id']:>4}  {row['name']}  [{row['schedule']}{paused}]  {state}")

    emit(data, as_json, human)


def _print_document(d: dict[str, Any]) -> None:
    counts = d["counts"]
    click.echo(f"scene {d['scene']['id']} ({d['scene']['name']}): run {d['run']['id']} {d['run']['state']}")
    click.echo("  matched {matched}  added {added}  removed {removed}  changed {changed}  "
               "moved {moved}".format(**counts))
    for item in d.get("added", [])[:20]:
        click.echo(f"  + {item['id']}  {item.get('title') or ''}")
    for item in d.get("removed", [])[:20]:
        click.echo(f"  - {item['id']}  {item.get('title') or ''}  ({item['reason']})")
    for item in d.get("changed", [])[:20]:
        fields = ", ".join(c["field"] for c in item["changes"])
        click.echo(f"  ~ {item['id']}  {item.get('title') or ''}  ({fields})")
    for item in d.get("moved", [])[:20]:
        click.echo(f"  > {item['from']} -> {item['to']}  {item.get('title') or ''}")
    if d.get("error"):
        click.echo(f"  error: {d['error']}")


@scenes_group.command("run")
@click.argument("scene_id", type=int)
@json_option
@with_app
def run_command(scene_id: int, as_json: bool) -> None:
    """Run a scene now, deliver what changed, and print the diff document."""
    from subscriptions.run_now import start_run_now
    from subscriptions.runner import SceneNotFound

    try:
        outcome = start_run_now(scene_id)
    except SceneNotFound as exc:
        fail(str(exc), as_json, code=2)
        return
    if outcome.document is None:
        since = outcome.in_progress_since
        fail(f"scene {scene_id}: a run is already in progress"
             f"{f' (started {since:%Y-%m-%d %H:%M:%S} UTC)' if since else ''}; try again when it has finished",
             as_json, code=1, in_progress_since=since.isoformat() if since else None)
        return
    document = outcome.document
    emit(document, as_json, _print_document)
    if document.get("run", {}).get("state") == "error":
        raise SystemExit(1)


@scenes_group.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--owner", default=None, help="Owner's account email (default: the operator account).")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar while baselines are taken.")
@json_option
@with_app
def import_command(file: Any, owner: str | None, progress: bool, as_json: bool) -> None:
    """Save scenes from a JSON Lines FILE (one scene a line; - reads standard input).

    Each line: {"name": …, "query": {…}, "schedule": …} and optionally "email",
    "webhook", "tracked_fields", "timezone". Bad lines are reported by number and
    skipped; the good ones are saved with their baselines. Exits 1 when a line was bad.
    """
    import sys

    from tqdm import tqdm

    from config.extensions import db
    from subscriptions.accounts import find_user, operator_user
    from subscriptions.scene_import import save_scenes, take_baselines

    try:
        lines = file.read().splitlines()
    except UnicodeDecodeError as exc:
        fail(f"file: not UTF-8 text ({exc.reason} at byte {exc.start})", as_json, code=2, field="file")
        return
    with db.session() as session:
        user = find_user(session, owner) if owner else operator_user(session)
        if user is None:
            fail(f"owner: no account {owner!r}", as_json, code=2, field="owner")
            return
        report = save_scenes(session, user, lines)
    new_ids = [entry["id"] for entry in report.imported]
    with tqdm(total=len(new_ids), unit="scene", desc="baselines", file=sys.stderr,
              disable=not progress or not new_ids) as bar:
        failed = set(take_baselines(new_ids, advance=bar.update))
    for entry in report.imported:
        entry["baseline"] = "error" if entry["id"] in failed else "taken"

    def human(data: dict[str, Any]) -> None:
        click.echo(f"{len(data['imported'])} scenes imported, {len(data['skipped'])} skipped, "
                   f"{len(data['errors'])} problems")
        for entry in data["imported"]:
            secret = entry.get("webhook_secret")
            secret = f"  webhook secret (store it now): {secret}" if secret else ""
            click.echo(f"  line {entry['line']}: scene {entry['id']} {entry['name']}{secret}")
        for entry in data["skipped"]:
            click.echo(f"  line {entry['line']}: skipped, {entry['reason']}")
        for problem in data["errors"]:
            click.echo(f"  line {problem['line']}: {problem['field']}: {problem['message']}", err=True)

    emit(report.to_dict(), as_json, human)
    if report.errors:
        raise SystemExit(1)


def _set_paused(scene_id: int, paused: bool, as_json: bool) -> None:
    from config.extensions import db
    from subscriptions.models import Scene

    with db.session() as session:
        scene = session.get(Scene, scene_id)
        if scene is None:
            fail(f"no scene with id {scene_id}", as_json, code=2)
            return
        scene.paused = paused
    emit({"id": scene_id, "paused": paused}, as_json,
         lambda d: click.echo(f"scene {d['id']} {'paused' if d['paused'] else 'resumed'}"))


@scenes_group.command("pause")
@click.argument("scene_id", type=int)
@json_option
@with_app
def pause_command(scene_id: int, as_json: bool) -> None:
    """Stop a scene's scheduled runs (manual runs still work)."""
    _set_paused(scene_id, True, as_json)


@scenes_group.command("resume")
@click.argument("scene_id", type=int)
@json_option
@with_app
def resume_command(scene_id: int, as_json: bool) -> None:
    """Resume a paused scene's scheduled runs."""
    _set_paused(scene_id, False, as_json)


def register(group: click.Group) -> None:
    """Add these commands to the ``scenewatch`` group."""
    from subscriptions.user_cli import users_group

    group.add_command(scenes_group)
    group.add_command(users_group)
