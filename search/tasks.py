"""Celery tasks of the catalog side (queue ``harvest``); thin wrappers over the pipeline."""
from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from search.harvest import run_harvest

log = logging.getLogger("scenewatch.harvest")


@shared_task(name="search.tasks.harvest_source")
def harvest_source(source: str, location: str, fmt: str = "auto",
                   mapping_path: str | None = None) -> dict[str, Any]:
    """Harvest one source snapshot; returns the summary as a dict (JSON-serialisable)."""
    return run_harvest(source, location, fmt=fmt, mapping_path=mapping_path).to_dict()


@shared_task(name="search.tasks.harvest_registered_source")
def harvest_registered_source_task(name: str, scheduled_for: str | None = None) -> dict[str, Any]:
    """Harvest the registered source ``name`` (the clock's work), then evaluate the
    on-change scenes it affected; returns the harvest record (or why none ran)."""
    from search.harvest import HarvestError
    from search.sources import SourceBusy, SourceNotFound
    from subscriptions.on_change import harvest_and_evaluate

    try:
        outcome = harvest_and_evaluate(name, trigger="clock")
    except (SourceBusy, SourceNotFound, HarvestError) as exc:
        # Busy: another worker harvests it right now; gone: removed since it was claimed.
        log.info("source %s not harvested: %s", name, exc, extra={"sw_source": name})
        return {"source": name, "status": "skipped", "reason": str(exc)}
    record = outcome.record
    log.info("source %s harvested (%s): %s", name, scheduled_for, record["status"],
             extra={"sw_source": name, "sw_counts": record["counts"]})
    return {"source": name, "status": record["status"], "id": record["id"]}


@shared_task(name="search.tasks.harvest_due_sources")
def harvest_due_sources_task() -> int:
    """Claim every due source and harvest it (or queue it on workers); returns how many."""
    from search.source_runs import claim_due_sources

    claimed = claim_due_sources()
    for name, scheduled_for in claimed:  # in-process when embedded (eager tasks)
        harvest_registered_source_task.delay(name, scheduled_for.isoformat())
    return len(claimed)
