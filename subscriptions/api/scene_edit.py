"""PATCH /scenes/{id}: the web editor's :func:`~subscriptions.scenes.update_scene`, plus
pause and resume."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from subscriptions.api.problems import invalid
from subscriptions.models import Scene

EDITABLE = ("name", "query", "schedule", "timezone", "tracked_fields")


def apply_patch(session: Session, scene: Scene, body: dict[str, Any], now: datetime | None = None) -> list[str]:
    """Change the parts of ``scene`` that ``body`` names; a 422 listing every problem,
    with nothing changed, when any part is wrong. Returns what changed."""
    from subscriptions.scenes import SceneError, update_scene
    from subscriptions.schedule import next_run_after

    now = now or datetime.now(UTC)
    parts = {name: body[name] for name in EDITABLE if name in body}
    if "query" in parts and parts["query"] is None:
        parts["query"] = {}
    changed: list[str] = []
    if parts:
        try:
            update = update_scene(
                session, scene, name=parts.get("name"), query=parts.get("query"),
                schedule=parts.get("schedule"), timezone_name=parts.get("timezone"),
                tracked_fields=parts.get("tracked_fields"), now=now)
        except SceneError as exc:
            raise invalid([{"field": p.field, "message": p.message} for p in exc.problems]) from None
        changed = list(update.changed)
    if "paused" in body and bool(body["paused"]) != bool(scene.paused):
        scene.paused = bool(body["paused"])
        if not scene.paused:  # resuming schedules the next run from now, not from the past
            scene.next_run_at = next_run_after(scene.schedule, scene.timezone, now)
        changed.append("paused")
    return changed
