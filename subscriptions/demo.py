"""`scenewatch demo`: replay real catalog versions through a scene and deliver the diffs.

It harvests consecutive monthly snapshots of the HDR UK Gateway catalog (shipped in
``data/demo/hdruk``), runs a scene after each one, and delivers the real diffs to the
outbox and to a local webhook receiver that checks every signature.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from config.cli_support import fail, json_option, with_app

DEMO_DIR = Path(__file__).resolve().parents[1] / "data" / "demo" / "hdruk"
DEMO_SOURCE = "hdruk-demo"
DEMO_EMAIL = "researcher@example.org"


def demo_snapshots() -> list[Path]:
    """The shipped snapshots, oldest first."""
    return sorted(DEMO_DIR.glob("datasets_*.csv.gz"))


def _demo_owner(session: Any, owner_email: str | None) -> tuple[Any, str | None]:
    """The account that owns the demo scene and its new password (None when the
    account is someone's own, given with --owner): the scene must be reachable on the
    web, and the CLI's operator account cannot log in."""
    import secrets

    from werkzeug.security import generate_password_hash

    from subscriptions.accounts import find_user, register_user

    if owner_email:
        user = find_user(session, owner_email)
        if user is None:
            raise click.ClickException(f"owner: no account {owner_email!r} (register it on the web first)")
        return user, None
    password = secrets.token_urlsafe(9)
    user = find_user(session, DEMO_EMAIL)
    if user is None:
        user = register_user(session, DEMO_EMAIL, password, locale="en", timezone_name="UTC")
    else:  # a demo account from an earlier run: give it a fresh password to print
        user.password_hash = generate_password_hash(password)
    return user, password


def run_demo(echo: Any = click.echo, owner_email: str | None = None) -> dict[str, Any]:
    """Replay the snapshots; returns what happened and where to look."""
    from config.extensions import db
    from config.extensions import settings as bound_settings
    from notifier.receiver import VerifyingReceiver
    from search.harvest import run_harvest
    from subscriptions.runner import run_scene
    from subscriptions.scenes import create_scene

    settings = bound_settings.get()
    snapshots = demo_snapshots()
    if len(snapshots) < 2:
        raise click.ClickException(f"demo snapshots missing in {DEMO_DIR}")
    webhook_dir = settings.data_dir / "demo-webhooks"
    steps: list[dict[str, Any]] = []
    with VerifyingReceiver(save_dir=webhook_dir) as receiver:
        use_webhook = settings.webhook_allow_private
        # The first snapshot is the catalog the scene is saved against: saving takes
        # the baseline, and each later snapshot's diff is delivered.
        first = run_harvest(DEMO_SOURCE, str(snapshots[0]), fmt="portal-csv")
        with db.session() as session:
            owner, password = _demo_owner(session, owner_email)
            login = {"email": owner.email, "password": password}
            created = create_scene(
                session, owner, name="Demo: HDR UK Gateway, every dataset",
                query={"filters": {"source": [DEMO_SOURCE]}}, schedule="manual", timezone_name="UTC",
                email=owner.email, email_verified=True,
                webhook=receiver.url if use_webhook else None)
            scene_id = created.scene.id
            # The receiver checks signatures with the secret the new channel was given.
            receiver.secret = next((c.secret for c in created.channels if c.kind == "webhook"), "")
            assert created.baseline is not None
            baseline = dict(created.baseline.diff or {})
        echo(f"{snapshots[0].name}: harvest new {first.new} → scene saved, baseline of "
             f"{baseline['counts']['matched']} datasets")
        steps.append({"snapshot": snapshots[0].name, "harvest": first.to_dict(),
                      "run": baseline["run"], "counts": baseline["counts"]})
        for snapshot in snapshots[1:]:
            summary = run_harvest(DEMO_SOURCE, str(snapshot), fmt="portal-csv")
            document = run_scene(scene_id)
            counts = document["counts"]
            echo(f"{snapshot.name}: harvest new {summary.new} changed {summary.changed} removed {summary.removed}"
                 f" → run {document['run']['state']}: added {counts['added']} removed {counts['removed']}"
                 f" changed {counts['changed']} moved {counts['moved']}")
            steps.append({"snapshot": snapshot.name, "harvest": summary.to_dict(), "run": document["run"],
                          "counts": counts})
    result = {
        "scene_id": scene_id,
        "steps": steps,
        "webhooks_received": len(receiver.received),
        "webhooks_rejected": receiver.rejected,
        "webhook_payloads": str(webhook_dir) if use_webhook else None,
        "outbox": str(settings.outbox_dir),
        "scene_page": f"{settings.base_url}/scenes/{scene_id}",
        "login": {"url": f"{settings.base_url}/login", **login},
        "outbox_page": f"{settings.base_url}/outbox",
    }
    return result


@click.command("demo")
@click.option("--owner", "owner_email", default=None, metavar="EMAIL",
              help="Account that owns the demo scene (default: a demo account whose login is printed).")
@json_option
@with_app
def demo_command(owner_email: str | None, as_json: bool) -> None:
    """Replay real HDR UK catalog snapshots through a scene, delivering each diff to the
    outbox and to a local webhook receiver; prints where to look and how to log in."""
    try:
        result = run_demo(echo=(lambda *_: None) if as_json else click.echo, owner_email=owner_email)
    except click.ClickException as exc:
        fail(exc.message, as_json)
        return
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2, default=str))
        return
    click.echo("")
    if result["webhook_payloads"]:
        click.echo(f"webhooks: {result['webhooks_received']} received and verified"
                   f" ({len(result['webhooks_rejected'])} rejected); payloads in {result['webhook_payloads']}")
    else:
        click.echo("webhooks: skipped (SCENEWATCH_WEBHOOK_ALLOW_PRIVATE is off, so a local receiver is refused)")
    click.echo(f"emails:   Maildir outbox {result['outbox']}  (web: {result['outbox_page']})")
    click.echo(f"scene:    {result['scene_page']}  (run `scenewatch serve` to browse)")
    login = result["login"]
    if login["password"]:
        click.echo(f"login:    {login['url']}  as {login['email']}  password {login['password']}")
    else:
        click.echo(f"login:    {login['url']}  as {login['email']} (your own password)")
