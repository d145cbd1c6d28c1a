"""After a harvest: evaluate the on-change scenes it can affect and push their diffs.

In the embedded default the runs (and their webhook deliveries) happen before this
returns, like ``scenes run``; with a broker they are queued as scene batch tasks, each
recording up to 500 runs in one transaction on a worker. Digests
keep their own cadence: a run only writes notifications, each channel sends them
as it always does.
"""
from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from config.extensions import db

log = logging.getLogger("scenewatch.on_change")


def evaluate_affected(changed_ids: Collection[str], removed_ids: Collection[str],
                      now: datetime | None = None) -> list[dict[str, Any]]:
    """Run every on-change scene the change can affect, each only on the datasets that
    can have moved it (reverse matching, :mod:`subscriptions.affected`); returns
    ``{"id", "state"}`` each (state ``queued`` when a worker will run it)."""
    from config.extensions import settings as bound_settings
    from subscriptions.affected import affected_scenes, evaluate_candidates, run_affected_scenes
    from subscriptions.batch_runs import BATCH
    from subscriptions.tasks import run_scene_batch_task

    if not changed_ids and not removed_ids:
        return []
    when = now or datetime.now(UTC)
    results: list[dict[str, Any]] = []
    if bound_settings.get().embedded:
        for document in run_affected_scenes(changed_ids, removed_ids, now=when):
            results.append({"id": document["scene"]["id"], "state": document.get("run", {}).get("state")})
    else:
        with db.session() as session:
            affected = affected_scenes(session, changed_ids, removed_ids, now=when)
        evaluated = sorted(evaluate_candidates(affected, now=when).items())
        for start in range(0, len(evaluated), BATCH):  # a worker records each batch in one transaction
            batch = evaluated[start:start + BATCH]
            run_scene_batch_task.delay(when.isoformat(), [[scene_id, sorted(among), sorted(matched)]
                                                          for scene_id, (among, matched) in batch])
            results.extend({"id": scene_id, "state": "queued"} for scene_id, _ in batch)
    if results:
        log.info("on-change: %d scene(s) evaluated", len(results),
                 extra={"sw_scenes": [r["id"] for r in results]})
    return results


def harvest_and_evaluate(name: str, **options: Any) -> Any:
    """Harvest the source ``name`` (see :func:`search.source_runs.harvest_source`), then
    evaluate the on-change scenes it affected; the record lists them under ``scenes``."""
    from search.source_runs import harvest_source

    outcome = harvest_source(name, **options)
    outcome.record["scenes"] = evaluate_affected(outcome.changed_ids, outcome.removed_ids)
    return outcome


def remove_and_evaluate(name: str) -> dict[str, Any]:
    """Remove the source ``name``: tombstone its datasets, drop them from the search
    index, and let the on-change scenes report them (``deleted_from_catalog``)."""
    from config.extensions import search
    from search.sources import remove_source

    with db.session() as session:
        removed = remove_source(session, name)
    backend = search.get()
    failed: list[tuple[str, str]] = []
    for start in range(0, len(removed), 2000):
        failed.extend(backend.delete(removed[start:start + 2000]).failed)
    return {"name": name, "tombstoned": len(removed), "index_failures": [list(f) for f in failed],
            "scenes": evaluate_affected([], removed)}
