"""Running a scene: query → members → diff → run row + notifications, in one transaction.

The unique (scene, scheduled_for) constraint makes a run happen once per scheduled
time, however many schedulers or workers try; a crash before commit leaves nothing.
Only datasets whose version moved are loaded in full, so a run over a large scene
costs one light query when little changed.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from config.extensions import db, search
from search.query import parse_query
from subscriptions.diff import SceneDiff
from subscriptions.document import build_document
from subscriptions.members import (
    current_versions,
    deleted_ids,
    member_counts,
    member_diff,
    store_members,
    stored_members,
    touched_versions,
    version_contents,
)
from subscriptions.models import RunState, Scene, SceneRun
from subscriptions.run_lock import scene_claim

# How long a scheduled or on-change run waits for a run of the same scene in progress.
CLAIM_WAIT = 120.0

log = logging.getLogger("scenewatch.runner")


class SceneNotFound(LookupError):
    pass


def diff_members(session: Session, scene: Scene, matched_ids: Sequence[str],
                 among: Sequence[str] | None = None) -> tuple[SceneDiff, dict[str, int], dict[str, int]]:
    """Diff the scene's stored members against ``matched_ids``.

    With ``among`` (reverse matching), only those datasets are compared: ``matched_ids``
    are the ones among them that match now, and every other member keeps its place.
    Returns the diff, the previous and the new members compared (id → version id).
    """
    previous = stored_members(session, scene.id, among)
    current = {dataset_id: version for dataset_id, (version, _deleted)
               in current_versions(session, matched_ids).items()}
    # Only members that appeared, disappeared or moved to a new version need content.
    contents = version_contents(session, touched_versions(previous, current))
    gone = [i for i in previous if i not in current]
    diff = member_diff(previous, current, contents, scene.tracked_fields or [], deleted_ids(session, gone))
    return diff, previous, current


def baseline_members(session: Session, scene: Scene,
                     matched_ids: Sequence[str]) -> tuple[dict[str, int], dict[str, int]]:
    """The previous and new members for a baseline: it lists nothing, so no content
    is read (a baseline of a large scene costs its query and the member writes)."""
    previous = stored_members(session, scene.id, None)
    current = {dataset_id: version for dataset_id, (version, _deleted)
               in current_versions(session, matched_ids).items()}
    return previous, current


def _member_count(session: Session, scene_id: int) -> int:
    return member_counts(session, [scene_id])[scene_id]


def _has_baseline(session: Session, scene_id: int) -> bool:
    return session.scalar(
        select(SceneRun.id).where(SceneRun.scene_id == scene_id, SceneRun.state != RunState.error.value).limit(1)
    ) is not None


def _links(scene: Scene, run: SceneRun) -> dict[str, str]:
    from notifier.links import run_links

    return run_links(scene.id, run.id, scene.feed_token, run_started_at=run.started_at)


def _record_error(scene_id: int, scheduled_for: datetime, started: datetime, message: str) -> dict[str, Any]:
    """Record a failed run in its own transaction, so the failure is visible to the user."""
    with db.session() as session:
        scene = session.get(Scene, scene_id)
        assert scene is not None
        run = SceneRun(scene_id=scene_id, scheduled_for=scheduled_for, state=RunState.error.value,
                       error=message, started_at=started, finished_at=datetime.now(UTC))
        session.add(run)
        session.flush()
        document = build_document(scene, run, None, 0)
        document["error"] = message
        run.diff = document
        return document


@dataclass(frozen=True)
class Candidates:
    """What reverse matching found for one scene: the datasets a change can have
    moved in or out (``among``) and those of them that match now (``matched``)."""

    among: frozenset[str]
    matched: frozenset[str]


def _recorded(scene_id: int, scheduled_for: datetime) -> dict[str, Any] | None:
    """The diff document of the run already recorded for this scheduled time, if any."""
    with db.session() as session:
        existing = session.scalar(select(SceneRun).where(
            SceneRun.scene_id == scene_id, SceneRun.scheduled_for == scheduled_for))
        return dict(existing.diff or {}) if existing is not None else None


def run_scene(scene_id: int, scheduled_for: datetime | None = None, *, deliver: bool = True,
              now: datetime | None = None, wait: float = CLAIM_WAIT,
              candidates: Candidates | None = None) -> dict[str, Any]:
    """Run one scene for ``scheduled_for`` (default: now) and return the diff document.

    A second call for the same scheduled time returns the recorded run unchanged.
    Runs of one scene never overlap: this waits up to ``wait`` seconds for a run in
    progress to finish, then raises RunInProgress (people use
    :func:`subscriptions.run_now.start_run_now`, which does not wait).
    With ``deliver``, notifications written by the run are handed to delivery after
    the commit (in-process in the embedded default, as Celery tasks otherwise).
    ``now`` (default: the clock) stamps the run, its notifications and evaluates
    relative dates. With ``candidates`` only those datasets are compared (reverse
    matching after a harvest); a scene without a baseline is still run in full.
    """
    started = now or datetime.now(UTC)
    scheduled_for = scheduled_for or started
    clock = time.perf_counter()
    with db.session() as session:
        if session.get(Scene, scene_id) is None:
            raise SceneNotFound(f"no scene with id {scene_id}")
    recorded = _recorded(scene_id, scheduled_for)
    if recorded is not None:
        return recorded
    with scene_claim(scene_id, wait=wait):
        # Whoever held the claim may have recorded this very scheduled time meanwhile.
        recorded = _recorded(scene_id, scheduled_for)
        if recorded is not None:
            return recorded
        try:
            document, notification_ids = _run_once(scene_id, scheduled_for, started, now, candidates)
        except IntegrityError:
            # Another scheduler or worker recorded this scheduled time first: use theirs.
            return _recorded(scene_id, scheduled_for) or {}
        except Exception as exc:  # noqa: BLE001 - any failure becomes a visible error run
            log.exception("scene %s failed", scene_id)
            return _record_error(scene_id, scheduled_for, started, f"{type(exc).__name__}: {exc}")
    log.info("scene %s ran: %s in %.0f ms", scene_id, document["run"]["state"],
             (time.perf_counter() - clock) * 1000, extra={"sw_scene": scene_id, "sw_counts": document["counts"]})
    if deliver and notification_ids:
        from notifier.dispatch import dispatch_notifications

        dispatch_notifications(notification_ids)
    return document


def _run_once(scene_id: int, scheduled_for: datetime, started: datetime,
              now: datetime | None = None,
              candidates: Candidates | None = None) -> tuple[dict[str, Any], list[int]]:
    with db.session() as session:
        scene = session.get(Scene, scene_id)
        assert scene is not None
        baseline = not _has_baseline(session, scene_id)
        if candidates is not None and not baseline:
            among = sorted(candidates.among)
            before = _member_count(session, scene_id)
            diff, previous, current = diff_members(session, scene, sorted(candidates.matched), among)
            matched_total = before - len(previous) + len(current)
        else:
            query = parse_query(scene.query)
            matched_ids = sorted(set(search.get().iter_ids(query, now=started)))
            if baseline:
                diff = SceneDiff()
                previous, current = baseline_members(session, scene, matched_ids)
            else:
                diff, previous, current = diff_members(session, scene, matched_ids)
            matched_total = len(current)
        run = SceneRun(scene_id=scene_id, scheduled_for=scheduled_for, state=RunState.working.value,
                       started_at=started)
        session.add(run)
        session.flush()  # the unique (scene, scheduled_for) check happens here
        store_members(session, scene_id, previous, current)
        if baseline:
            run.state = RunState.baseline.value
            shown: SceneDiff | None = None  # a baseline lists nothing: it is the starting point
        else:
            run.state = RunState.noop.value if diff.empty else RunState.changed.value
            shown = diff
        run.matched = matched_total
        run.added, run.removed = len(diff.added), len(diff.removed)
        run.changed, run.moved = len(diff.changed), len(diff.moved)
        if baseline:
            run.added = run.removed = run.changed = run.moved = 0
        run.finished_at = datetime.now(UTC)
        document = build_document(scene, run, shown, matched_total, _links(scene, run))
        run.diff = document
        notification_ids: list[int] = []
        if not baseline:
            from notifier.lifecycle import create_notifications

            notifications = create_notifications(session, scene, run, document, now=now)
            session.flush()
            notification_ids = [n.id for n in notifications]
        return document, notification_ids


def record_baseline(session: Session, scene: Scene, now: datetime | None = None) -> SceneRun:
    """Record a baseline run of ``scene`` in ``session``'s transaction: its current
    matches become its members and the starting point of the next diff; nothing is sent.

    Called when a scene is saved with a new query (created, edited, duplicated), so the
    first change after saving is reported rather than swallowed into a later baseline.
    """
    moment = now or datetime.now(UTC)
    matched_ids = sorted(set(search.get().iter_ids(parse_query(scene.query), now=moment)))
    previous, current = baseline_members(session, scene, matched_ids)
    run = SceneRun(scene_id=scene.id, scheduled_for=moment, state=RunState.baseline.value,
                   started_at=moment, matched=len(current))
    session.add(run)
    session.flush()
    store_members(session, scene.id, previous, current)
    run.finished_at = datetime.now(UTC)
    run.diff = build_document(scene, run, None, len(current), _links(scene, run))
    session.flush()
    return run
