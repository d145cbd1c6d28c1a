"""One run of a scene: its diff, and the notifications and delivery attempts it caused."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from config.extensions import db
from subscriptions.i18n import translate
from subscriptions.models import SceneRun
from subscriptions.views.auth import login_required
from subscriptions.views.scenes import owned_scene

bp = Blueprint("runs", __name__)
COUNT_KEYS = ("matched", "added", "removed", "changed", "moved")


def run_counts(run: SceneRun) -> dict[str, int]:
    """The run's counts, preferring the diff document (it is what was sent)."""
    counts = (run.diff or {}).get("counts") or {}
    return {key: int(counts.get(key, getattr(run, key, 0)) or 0) for key in COUNT_KEYS}


def diff_sections(diff: dict[str, Any] | None) -> dict[str, list[Any]]:
    """The diff document's lists, tolerant of missing keys (baseline and error runs)."""
    diff = diff or {}
    return {key: list(diff.get(key) or []) for key in ("added", "removed", "changed", "moved")}


@bp.route("/scenes/<int:scene_id>/runs/<int:run_id>")
@login_required
def show(scene_id: int, run_id: int) -> str:
    """What one run found and where it was sent."""
    from notifier.models import Notification

    with db.session() as s:
        scene = owned_scene(s, scene_id)
        run = s.get(SceneRun, run_id)
        if run is None or run.scene_id != scene.id:
            abort(404)
        notifications = s.scalars(
            select(Notification)
            .where(Notification.run_id == run.id)
            .options(selectinload(Notification.deliveries), selectinload(Notification.channel))
            .order_by(Notification.id)
        ).all()
        for note in notifications:  # load while the session is open
            _ = note.channel.kind, list(note.deliveries)
    return render_template(
        "run.html",
        scene=scene,
        run=run,
        counts=run_counts(run),
        sections=diff_sections(run.diff),
        notifications=notifications,
        downloads=page_links((run.diff or {}).get("links") or {}),
    )


def page_links(links: dict[str, str]) -> dict[str, str]:
    """The diff document's download links as paths on this site: the document carries
    absolute URLs for mail and webhooks, but a page must work at whatever address the
    reader opened it (another port, a proxy)."""
    from urllib.parse import urlsplit

    paths = {}
    for selection in ("added", "changed", "all"):
        parts = urlsplit(links.get(f"download_{selection}") or "")
        if parts.path.startswith("/downloads/"):
            paths[selection] = parts.path + (f"?{parts.query}" if parts.query else "")
    return paths


REDELIVERABLE = ("dead", "sent")


@bp.post("/scenes/<int:scene_id>/runs/<int:run_id>/notifications/<int:notification_id>/redeliver")
@login_required
def redeliver(scene_id: int, run_id: int, notification_id: int) -> Response:
    """Send a dead (or already sent) notification again, with the same webhook-id."""
    from notifier.delivery import deliver_notification
    from notifier.lifecycle import redeliver as queue_again
    from notifier.models import Notification

    with db.session() as s:
        owned_scene(s, scene_id)
        note = s.get(Notification, notification_id)
        if note is None or note.run_id != run_id or note.scene_id != scene_id:
            abort(404)
        if note.state not in REDELIVERABLE:
            abort(409)
    queue_again(notification_id)
    state = deliver_notification(notification_id)
    flash(translate("run.redelivered", state=translate(f"notification_state.{state}")),
          "ok" if state == "sent" else "info")
    return redirect(url_for("runs.show", scene_id=scene_id, run_id=run_id) + "#notifications")
