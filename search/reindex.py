"""Rebuilding the search index from the catalog store."""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select

from config.extensions import db, search
from search import regions
from search.models import Dataset, Harvest

BATCH = 1000


def reindex_all(progress: bool = False) -> dict[str, Any]:
    """Index every live dataset afresh; returns counts, failures and seconds taken.

    Region paths are derived data: each is placed again from the dataset's region and
    its source's portal, so a catalog harvested before paths existed (or before the
    hierarchy changed) is brought up to date (``region_paths``: how many moved)."""
    backend = search.get()
    started = time.perf_counter()
    with db.session() as session:
        total = session.scalar(select(func.count()).select_from(Dataset).where(Dataset.deleted_at.is_(None))) or 0
    moved = [0]
    report = backend.rebuild(_documents(moved), progress=progress, total=total)
    return {"indexed": report.indexed, "failed": report.failed, "region_paths": moved[0],
            "seconds": time.perf_counter() - started}


def _portals() -> dict[str, regions.Path]:
    """Each source's portal path, from the location of its latest harvest."""
    with db.session() as session:
        latest = select(func.max(Harvest.id)).group_by(Harvest.source)
        rows = session.execute(select(Harvest.source, Harvest.location)
                               .where(Harvest.id.in_(latest)))
        return {source: regions.portal_of(source, location) for source, location in rows}


def _documents(moved: list[int]) -> Iterator[dict[str, Any]]:
    """Every live dataset's search document, streamed in id order; a region path that
    the hierarchy now places elsewhere is stored first (counted in ``moved``)."""
    portals = _portals()
    last = ""
    while True:
        with db.session() as session:
            rows = session.scalars(
                select(Dataset).where(Dataset.deleted_at.is_(None), Dataset.id > last).order_by(Dataset.id).limit(BATCH)
            ).all()
            for row in rows:
                path = list(regions.region_path(row.region or "", portals.get(row.source, ())))
                if path != row.region_path:
                    row.region_path = path
                    moved[0] += 1
            documents = [row.to_document() for row in rows]
        if not documents:
            return
        yield from documents
        last = documents[-1]["id"]
