"""Which scenes are due, and claiming each due time exactly once.

A scene's ``next_run_at`` is advanced with a compare-and-set UPDATE before the run
starts: of two schedulers that see the same due scene, only one wins the claim. The
unique (scene, scheduled_for) run row is the second line of defence.
"""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from config.extensions import db, rowcount
from subscriptions.models import Scene
from subscriptions.schedule import ScheduleError, next_run_after


def claim_due_scenes(now: datetime | None = None, limit: int = 100) -> list[tuple[int, datetime]]:
    """Claim every due, unpaused scene; returns (scene id, scheduled time) pairs to run."""
    now = now or datetime.now(UTC)
    claimed: list[tuple[int, datetime]] = []
    with db.session() as session:
        due = session.execute(
            select(Scene.id, Scene.next_run_at, Scene.schedule, Scene.timezone)
            .where(Scene.paused.is_(False), Scene.next_run_at.is_not(None), Scene.next_run_at <= now)
            .order_by(Scene.next_run_at).limit(limit)
        ).all()
    for scene_id, scheduled_for, schedule, tz_name in due:
        assert scheduled_for is not None  # the query skips scenes without a next run
        try:
            following = next_run_after(schedule, tz_name, now)
        except ScheduleError:
            following = None  # an unusable schedule stops, rather than looping every tick
        with db.session() as session:
            won = rowcount(session.execute(
                update(Scene)
                .where(Scene.id == scene_id, Scene.next_run_at == scheduled_for)
                .values(next_run_at=following)
            ))
        if won == 1:
            claimed.append((scene_id, scheduled_for))
    return claimed
