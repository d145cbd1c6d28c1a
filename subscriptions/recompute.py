"""The nightly safety net: every on-change scene re-run over its whole query.

After a harvest, on-change scenes are evaluated only on the datasets it touched
(reverse matching, :mod:`subscriptions.affected`). Should that pass ever be missed —
a process stopped between a harvest's commit and its on-change pass — the changes
would wait for the scene's next change. Once a night the clock runs every on-change
scene in full (``SCENEWATCH_RECOMPUTE_AT``): a full run diffs the whole query
against the stored members, so it reports exactly what the incremental runs left
out, and nothing when they left out nothing.
"""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from config.extensions import db
from subscriptions.models import Scene
from subscriptions.schedule import ON_CHANGE


def on_change_scene_ids() -> list[int]:
    """The on-change scenes that are not paused, in id order."""
    with db.session() as session:
        return list(session.scalars(
            select(Scene.id).where(Scene.schedule == ON_CHANGE, Scene.paused.is_(False)).order_by(Scene.id)))


def recompute_on_change(now: datetime | None = None) -> int:
    """Queue a full run of every on-change scene (in-process in the embedded default);
    returns how many. Runs are scheduled for the minute, so a second scheduler firing
    the same night records nothing twice."""
    from subscriptions.tasks import run_scene_task

    moment = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
    scene_ids = on_change_scene_ids()
    for scene_id in scene_ids:
        run_scene_task.delay(scene_id, moment.isoformat())
    return len(scene_ids)
