"""Rebuilding the search index from the catalog store."""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select

from config.extensions import db, search
from search.models import Dataset

BATCH = 1000


def reindex_all(progress: bool = False) -> dict[str, Any]:
    """Index every live dataset afresh; returns counts, failures and seconds taken."""
    backend = search.get()
    started = time.perf_counter()
    with db.session() as session:
        total = session.scalar(select(func.count()).select_from(Dataset).where(Dataset.deleted_at.is_(None))) or 0
    report = backend.rebuild(_documents(), progress=progress, total=total)
    return {"indexed": report.indexed, "failed": report.failed, "seconds": time.perf_counter() - started}


def _documents() -> Iterator[dict[str, Any]]:
    """Every live dataset's search document, streamed in id order."""
    last = ""
    while True:
        with db.session() as session:
            rows = session.scalars(
                select(Dataset).where(Dataset.deleted_at.is_(None), Dataset.id > last).order_by(Dataset.id).limit(BATCH)
            ).all()
            documents = [row.to_document() for row in rows]
        if not documents:
            return
        yield from documents
        last = documents[-1]["id"]
