"""Many scenes' runs on their candidates, recorded together (after a harvest).

A harvest can affect hundreds of on-change scenes, each only through a few datasets.
Run one by one, each would pay its own claim, its own lookups and its own commits,
and that overhead — not the diffs — is what made the last of them wait. Here a
batch of scenes is claimed with one UPDATE, the members, versions and contents they
all need are read with one query per kind, and their runs, member changes and
notifications are written in one transaction. Each diff is the one
:func:`subscriptions.runner.run_scene` records with the same candidates (both use
:mod:`subscriptions.members`).

A scene this path does not take — one with no baseline yet (its first run is a
full one), one whose run is in progress, or any scene of a batch that failed — is
left to ``run_scene``, which waits for the claim and records an error run the user
can see.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from config.extensions import db
from notifier.lifecycle import new_notifications
from notifier.links import run_links
from subscriptions.document import build_document
from subscriptions.members import (
    chunks,
    current_versions,
    deleted_ids,
    member_diff,
    member_rows,
    stored_members_of,
    touched_versions,
    version_contents,
    write_members,
)
from subscriptions.models import RunState, Scene, SceneRun
from subscriptions.run_lock import release_many, try_claim_many
from subscriptions.runner import Candidates

log = logging.getLogger("scenewatch.runner")

# Scenes per transaction: large enough that the fixed costs are shared, small enough
# that a writer waiting on SQLite's lock is not held up for long.
BATCH = 500


def run_batches(candidates: Mapping[int, Candidates], now: datetime) -> tuple[dict[int, dict[str, Any]], list[int]]:
    """Record each scene's run on its candidates, scheduled for and stamped ``now``,
    :data:`BATCH` scenes per transaction. Returns the diff documents by scene id and
    the scenes left to ``run_scene`` (see the module docstring)."""
    documents: dict[int, dict[str, Any]] = {}
    left: list[int] = []
    for chunk in chunks(sorted(candidates), BATCH):
        claimed_at = datetime.now(UTC)
        claimed = try_claim_many(chunk, claimed_at)
        left.extend(s for s in chunk if s not in claimed)
        try:
            recorded, not_taken = _record_batch(sorted(claimed), candidates, now)
        except Exception:  # noqa: BLE001 - one by one, each failure becomes its own error run
            log.exception("a batch of %d scene runs failed; running them one by one", len(claimed))
            recorded, not_taken = {}, sorted(claimed)
        finally:
            release_many(claimed, claimed_at)
        documents.update(recorded)
        left.extend(not_taken)
    return documents, sorted(left)


def _record_batch(scene_ids: Sequence[int], candidates: Mapping[int, Candidates],
                  now: datetime) -> tuple[dict[int, dict[str, Any]], list[int]]:
    """One transaction: the runs of ``scene_ids`` (claimed by the caller)."""
    clock = time.perf_counter()
    with db.session() as session:
        documents = _already_recorded(session, scene_ids, now)
        counts = _member_counts(session, [s for s in scene_ids if s not in documents])
        todo = [s for s in scene_ids if s in counts]
        left = [s for s in scene_ids if s not in documents and s not in counts]
        if not todo:
            return documents, left
        scenes = {scene.id: scene for scene in session.scalars(
            select(Scene).where(Scene.id.in_(todo)).options(selectinload(Scene.channels)))}
        todo = [s for s in todo if s in scenes]
        stored = stored_members_of(session, todo, set().union(*(candidates[s].among for s in todo)))
        versions = current_versions(session, set().union(*(candidates[s].matched for s in todo)))
        previous: dict[int, dict[str, int]] = {}
        current: dict[int, dict[str, int]] = {}
        for scene_id in todo:
            among = candidates[scene_id].among
            previous[scene_id] = {d: v for d, v in stored.get(scene_id, {}).items() if d in among}
            current[scene_id] = {d: versions[d][0] for d in sorted(candidates[scene_id].matched) if d in versions}
        contents = version_contents(session, [v for s in todo for v in touched_versions(previous[s], current[s])])
        deleted = deleted_ids(session, {d for s in todo for d in previous[s] if d not in current[s]})

        runs: dict[int, SceneRun] = {}
        diffs = {}
        gone: list[dict[str, Any]] = []
        fresh: list[dict[str, Any]] = []
        for scene_id in todo:
            diff = member_diff(previous[scene_id], current[scene_id], contents,
                               scenes[scene_id].tracked_fields or [], deleted)
            diffs[scene_id] = diff
            runs[scene_id] = SceneRun(
                scene_id=scene_id, scheduled_for=now, started_at=now,
                state=RunState.noop.value if diff.empty else RunState.changed.value,
                matched=counts[scene_id] - len(previous[scene_id]) + len(current[scene_id]),
                added=len(diff.added), removed=len(diff.removed), changed=len(diff.changed), moved=len(diff.moved))
            rows = member_rows(scene_id, previous[scene_id], current[scene_id])
            gone.extend(rows[0])
            fresh.extend(rows[1])
        session.add_all(runs.values())
        session.flush()  # the run ids; the unique (scene, scheduled_for) check happens here
        write_members(session, gone, fresh)
        notifications = []
        for scene_id in todo:
            scene, run = scenes[scene_id], runs[scene_id]
            document = build_document(scene, run, diffs[scene_id], run.matched,
                                      run_links(scene.id, run.id, scene.feed_token, run_started_at=run.started_at))
            documents[scene_id] = document
            notifications.extend(new_notifications(scene, run, document, now=now))
        # Stamped last, so ``finished_at`` is when the whole batch was ready to commit.
        finished = datetime.now(UTC)
        for scene_id in todo:
            runs[scene_id].finished_at = finished
            documents[scene_id]["run"]["finished_at"] = finished.isoformat()
            runs[scene_id].diff = documents[scene_id]
        session.add_all(notifications)
    log.info("%d scene run(s) recorded in one transaction in %.0f ms", len(todo),
             (time.perf_counter() - clock) * 1000, extra={"sw_scenes": todo})
    return documents, left


def _already_recorded(session: Session, scene_ids: Sequence[int], when: datetime) -> dict[int, dict[str, Any]]:
    """scene id → the diff document of its run already recorded for ``when``."""
    return {scene_id: dict(diff or {}) for scene_id, diff in session.execute(
        select(SceneRun.scene_id, SceneRun.diff)
        .where(SceneRun.scene_id.in_(list(scene_ids)), SceneRun.scheduled_for == when))}


def _member_counts(session: Session, scene_ids: Sequence[int]) -> dict[int, int]:
    """scene id → how many members it has, for the scenes with a baseline (the others
    are absent).

    Read from each scene's last recorded run rather than counted: every run leaves the
    member set with exactly ``matched`` members, and only runs (under the scene's
    claim) change that set, so one row per scene replaces counting thousands."""
    found: dict[int, int] = {}
    for chunk in chunks(list(scene_ids)):
        latest = (select(func.max(SceneRun.id))
                  .where(SceneRun.scene_id.in_(chunk), SceneRun.state != RunState.error.value)
                  .group_by(SceneRun.scene_id))
        for scene_id, matched in session.execute(
                select(SceneRun.scene_id, SceneRun.matched).where(SceneRun.id.in_(latest))):
            found[scene_id] = matched
    return found
