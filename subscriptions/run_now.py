"""Run now: the one way a person starts a run of a scene (web form, CLI, REST API).

A run of a scene already in progress is never doubled: two clicks at once give one
run and one set of notifications; the second caller is told a run is in progress
(and when it started), and finds its result on the scene page when it is done.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from subscriptions.run_lock import RunInProgress
from subscriptions.runner import run_scene


@dataclass(frozen=True)
class RunNow:
    """What a "run now" request led to: the run's diff document, or the start time of
    the run in progress that stopped it."""

    document: dict[str, Any] | None = None
    in_progress_since: datetime | None = None

    @property
    def started(self) -> bool:
        return self.document is not None


def start_run_now(scene_id: int, *, deliver: bool = True) -> RunNow:
    """Run scene ``scene_id`` now and deliver what changed, unless a run of it is in
    progress. Raises SceneNotFound for an unknown scene; ownership is the caller's check."""
    try:
        document = run_scene(scene_id, None, deliver=deliver, wait=0)
    except RunInProgress as exc:
        return RunNow(in_progress_since=exc.since)
    return RunNow(document=document)
