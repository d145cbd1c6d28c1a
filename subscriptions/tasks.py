"""Celery tasks of the user side; thin wrappers so the same code runs in-process."""
from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime
from typing import Any

from celery import shared_task


@shared_task(name="subscriptions.tasks.run_scene")
def run_scene_task(scene_id: int, scheduled_for: str | None = None, among: list[str] | None = None,
                   matched: list[str] | None = None) -> dict[str, Any]:
    """Run one scene for an ISO scheduled time (default now); with ``among`` and
    ``matched`` (reverse matching after a harvest) only those datasets are compared."""
    from subscriptions.run_lock import RunInProgress
    from subscriptions.runner import Candidates, run_scene

    when = datetime.fromisoformat(scheduled_for) if scheduled_for else None
    candidates = Candidates(frozenset(among), frozenset(matched or ())) if among is not None else None
    try:
        # Reverse matching evaluated the candidates at ``when``: the run reads the same clock.
        document = run_scene(scene_id, when, now=when if candidates else None, candidates=candidates)
    except RunInProgress as exc:
        # A run that started earlier is still going: it already covers this change.
        logging.getLogger("scenewatch.runner").warning("%s; scheduled run skipped", exc)
        return {"scene": scene_id, "state": "skipped"}
    return {"scene": scene_id, "state": document.get("run", {}).get("state")}


@shared_task(name="subscriptions.tasks.run_scene_batch")
def run_scene_batch_task(scheduled_for: str, scenes: list[list[Any]]) -> dict[str, int]:
    """Run scenes on their candidates after a harvest, ``[scene id, among, matched]``
    each, many per transaction, then queue their notifications; counts by state."""
    from subscriptions.affected import candidate_sets, deliver_runs, run_candidates

    when = datetime.fromisoformat(scheduled_for)
    candidates = candidate_sets({int(scene_id): (set(among), set(matched)) for scene_id, among, matched in scenes})
    documents = run_candidates(candidates, when)
    deliver_runs(documents)
    return dict(Counter(str(d.get("run", {}).get("state")) for d in documents))


@shared_task(name="subscriptions.tasks.run_due_scenes")
def run_due_scenes_task() -> int:
    """Claim every due scene and run it (or queue it on workers); returns how many."""
    from subscriptions.due import claim_due_scenes

    claimed = claim_due_scenes()
    for scene_id, scheduled_for in claimed:  # in-process when embedded (eager tasks)
        run_scene_task.delay(scene_id, scheduled_for.isoformat())
    return len(claimed)


@shared_task(name="subscriptions.tasks.recompute_on_change")
def recompute_on_change_task() -> int:
    """Run every on-change scene in full (the nightly safety net); returns how many."""
    from subscriptions.recompute import recompute_on_change

    return recompute_on_change()


@shared_task(name="subscriptions.tasks.compact_history")
def compact_history_task() -> dict[str, int]:
    """Compact runs and notifications older than SCENEWATCH_RETENTION_DAYS to their counts."""
    from config.extensions import settings
    from subscriptions.retention import compact_history

    return compact_history(settings.get().retention_days).to_dict()
