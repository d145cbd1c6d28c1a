"""Run now, for the API: the one domain function the web form and CLI use too."""
from __future__ import annotations

from subscriptions.api.problems import ApiProblem


def start_run(scene_id: int, user_id: int) -> int:
    """Run scene ``scene_id`` now and return the run's id; 409 while a run is in progress."""
    from subscriptions.run_now import start_run_now

    outcome = start_run_now(scene_id)
    run_id = ((outcome.document or {}).get("run") or {}).get("id")
    if not outcome.started or not isinstance(run_id, int):
        raise ApiProblem(409, "a run of this scene is in progress; try again when it has finished",
                         kind="run-in-progress")
    return run_id
