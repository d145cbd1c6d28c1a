"""Operator commands for deliveries: list, redeliver, flush."""
from __future__ import annotations

from typing import Any

import click
from sqlalchemy import select

from config.cli_support import emit, fail, json_option, with_app

STATES = ("pending", "retrying", "sent", "dead", "held")


@click.group("deliveries")
def deliveries_group() -> None:
    """Notifications and their delivery attempts."""


@deliveries_group.command("list")
@click.option("--state", type=click.Choice(STATES), default=None, help="Only notifications in this state.")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@json_option
@with_app
def list_command(state: str | None, limit: int, as_json: bool) -> None:
    """List notifications, newest first, with their attempts."""
    from config.extensions import db
    from notifier.models import Notification

    with db.session() as session:
        stmt = select(Notification).order_by(Notification.id.desc()).limit(limit)
        if state:
            stmt = stmt.where(Notification.state == state)
        rows = [{
            "id": n.id, "message_id": n.message_id, "state": n.state, "channel": {
                "id": n.channel.id, "kind": n.channel.kind, "target": n.channel.target},
            "scene_id": n.scene_id, "run_id": n.run_id, "attempts": n.attempts,
            "next_attempt_at": n.next_attempt_at, "created_at": n.created_at, "sent_at": n.sent_at,
            "deliveries": [{"attempt": d.attempt, "attempted_at": d.attempted_at, "ok": d.ok,
                            "status_code": d.status_code, "latency_ms": d.latency_ms, "error": d.error}
                           for d in n.deliveries],
        } for n in session.scalars(stmt)]

    def human(items: list[dict[str, Any]]) -> None:
        for n in items:
            last = n["deliveries"][-1] if n["deliveries"] else None
            detail = f"last: {last['status_code'] or ''} {last['error'] or ''}".strip() if last else "not attempted"
            click.echo(f"{n['id']:>5}  {n['state']:<8} {n['channel']['kind']:<7} {n['channel']['target']}  "
                       f"attempts {n['attempts']}  {detail}")

    emit(rows, as_json, human)


@deliveries_group.command("redeliver")
@click.argument("notification_id", type=int)
@json_option
@with_app
def redeliver_command(notification_id: int, as_json: bool) -> None:
    """Send a notification again (same webhook-id), e.g. after it went dead."""
    from notifier.delivery import deliver_notification
    from notifier.lifecycle import redeliver

    try:
        redeliver(notification_id)
    except (LookupError, ValueError) as exc:
        fail(str(exc), as_json, code=2)
        return
    state = deliver_notification(notification_id)
    emit({"id": notification_id, "state": state}, as_json,
         lambda d: click.echo(f"notification {d['id']}: {d['state']}"))


@deliveries_group.command("flush")
@json_option
@with_app
def flush_command(as_json: bool) -> None:
    """Send every delivery attempt that is due now."""
    from notifier.delivery import deliver_due

    result = deliver_due()
    emit(result, as_json, lambda d: click.echo(", ".join(f"{k} {v}" for k, v in d.items()) or "nothing due"))


def register(group: click.Group) -> None:
    """Add these commands to the ``scenewatch`` group."""
    group.add_command(deliveries_group)
