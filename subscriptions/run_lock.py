"""At most one run of a scene in progress at a time, on SQLite and PostgreSQL.

A run claims its scene with a compare-and-set UPDATE of ``scene.run_claimed_at``
committed before any work starts: of two callers, the database lets exactly one
UPDATE match (PostgreSQL re-checks the condition after the first commit; SQLite
serialises writers). The claim is released when the run is recorded. A process killed
mid-run leaves a claim behind; it counts as abandoned after ``CLAIM_LEASE``.
"""
from __future__ import annotations

import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update

from config.extensions import db, rowcount
from subscriptions.models import Scene

# Longer than any run takes; only a crashed run's claim ever gets this old.
CLAIM_LEASE = timedelta(minutes=15)
POLL_SECONDS = 0.2
CHUNK = 500


class RunInProgress(RuntimeError):
    """Another run of the scene is in progress (since ``since``)."""

    def __init__(self, scene_id: int, since: datetime | None) -> None:
        when = f" since {since:%Y-%m-%d %H:%M:%S} UTC" if since else ""
        super().__init__(f"scene {scene_id}: a run is already in progress{when}")
        self.scene_id = scene_id
        self.since = since


def try_claim(scene_id: int, now: datetime | None = None) -> datetime | None:
    """Claim the scene for one run; returns the claim's time, or None when another
    run holds it."""
    now = now or datetime.now(UTC)
    with db.session() as session:
        won = rowcount(session.execute(
            update(Scene)
            .where(Scene.id == scene_id,
                   or_(Scene.run_claimed_at.is_(None), Scene.run_claimed_at < now - CLAIM_LEASE))
            .values(run_claimed_at=now)
            .execution_options(synchronize_session=False)
        ))
    return now if won == 1 else None


def release(scene_id: int, claimed_at: datetime) -> None:
    """Give the claim back (only our own: an expired claim may have been taken over)."""
    with db.session() as session:
        session.execute(
            update(Scene)
            .where(Scene.id == scene_id, Scene.run_claimed_at == claimed_at)
            .values(run_claimed_at=None)
            .execution_options(synchronize_session=False)
        )


def try_claim_many(scene_ids: Collection[int], now: datetime) -> set[int]:
    """Claim every idle scene of ``scene_ids`` at once (one UPDATE … RETURNING);
    returns those claimed, each with the claim time ``now``."""
    claimed: set[int] = set()
    ids = sorted(set(scene_ids))
    for start in range(0, len(ids), CHUNK):
        with db.session() as session:
            claimed.update(session.scalars(
                update(Scene)
                .where(Scene.id.in_(ids[start:start + CHUNK]),
                       or_(Scene.run_claimed_at.is_(None), Scene.run_claimed_at < now - CLAIM_LEASE))
                .values(run_claimed_at=now)
                .returning(Scene.id)
                .execution_options(synchronize_session=False)
            ))
    return claimed


def release_many(scene_ids: Collection[int], claimed_at: datetime) -> None:
    """Give back the claims :func:`try_claim_many` took at ``claimed_at``."""
    ids = sorted(set(scene_ids))
    for start in range(0, len(ids), CHUNK):
        with db.session() as session:
            session.execute(
                update(Scene)
                .where(Scene.id.in_(ids[start:start + CHUNK]), Scene.run_claimed_at == claimed_at)
                .values(run_claimed_at=None)
                .execution_options(synchronize_session=False)
            )


def claimed_since(scene_id: int) -> datetime | None:
    """When the run in progress started, or None when the scene is idle."""
    with db.session() as session:
        return session.scalar(select(Scene.run_claimed_at).where(Scene.id == scene_id))


@contextmanager
def scene_claim(scene_id: int, wait: float = 0.0) -> Iterator[datetime]:
    """Hold the scene's run claim for the block; waits up to ``wait`` seconds for a
    run in progress to finish, then raises RunInProgress."""
    deadline = time.monotonic() + max(wait, 0.0)
    while True:
        claimed = try_claim(scene_id)
        if claimed is not None:
            break
        if time.monotonic() >= deadline:
            raise RunInProgress(scene_id, claimed_since(scene_id))
        time.sleep(POLL_SECONDS)
    try:
        yield claimed
    finally:
        release(scene_id, claimed)
