"""Celery tasks of the user side; thin wrappers so the same code runs in-process."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from celery import shared_task


@shared_task(name="subscriptions.tasks.run_scene")
def run_scene_task(scene_id: int, scheduled_for: str | None = None) -> dict[str, Any]:
    """Run one scene for an ISO scheduled time (default now)."""
    from subscriptions.run_lock import RunInProgress
    from subscriptions.runner import run_scene

    when = datetime.fromisoformat(scheduled_for) if scheduled_for else None
    try:
        document = run_scene(scene_id, when)
    except RunInProgress as exc:
        # A run that started earlier is still going: it already covers this change.
        logging.getLogger("scenewatch.runner").warning("%s; scheduled run skipped", exc)
        return {"scene": scene_id, "state": "skipped"}
    return {"scene": scene_id, "state": document.get("run", {}).get("state")}


@shared_task(name="subscriptions.tasks.run_due_scenes")
def run_due_scenes_task() -> int:
    """Claim every due scene and run it (or queue it on workers); returns how many."""
    from subscriptions.due import claim_due_scenes

    claimed = claim_due_scenes()
    for scene_id, scheduled_for in claimed:  # in-process when embedded (eager tasks)
        run_scene_task.delay(scene_id, scheduled_for.isoformat())
    return len(claimed)
