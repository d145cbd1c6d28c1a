"""Celery tasks of the catalog side (queue ``harvest``); thin wrappers over the pipeline."""
from __future__ import annotations

from typing import Any

from celery import shared_task

from search.harvest import run_harvest


@shared_task(name="search.tasks.harvest_source")
def harvest_source(source: str, location: str, fmt: str = "auto",
                   mapping_path: str | None = None) -> dict[str, Any]:
    """Harvest one source snapshot; returns the summary as a dict (JSON-serialisable)."""
    return run_harvest(source, location, fmt=fmt, mapping_path=mapping_path).to_dict()
