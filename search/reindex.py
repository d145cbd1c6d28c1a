"""Rebuilding the search index from the catalog store."""
from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select
from tqdm import tqdm

from config.extensions import db, search
from search.models import Dataset

BATCH = 1000


def reindex_all(progress: bool = False) -> dict[str, Any]:
    """Index every live dataset afresh; returns counts, failures and seconds taken."""
    backend = search.get()
    started = time.perf_counter()
    indexed = 0
    failed: list[tuple[str, str]] = []
    if hasattr(backend, "rebuild"):
        # Backends that can build aside and swap (Elasticsearch aliases) do so.
        report = backend.rebuild(_documents(), progress=progress)  # type: ignore[attr-defined]
        return {"indexed": report.indexed, "failed": report.failed, "seconds": time.perf_counter() - started}
    backend.clear()
    with db.session() as session:
        total = session.scalar(select(func.count()).select_from(Dataset).where(Dataset.deleted_at.is_(None))) or 0
    bar = tqdm(total=total, unit="ds", desc="reindex", disable=not progress)
    batch: list[dict[str, Any]] = []
    for document in _documents():
        batch.append(document)
        if len(batch) >= BATCH:
            report = backend.index(batch)
            indexed += report.indexed
            failed.extend(report.failed)
            bar.update(len(batch))
            batch = []
    if batch:
        report = backend.index(batch)
        indexed += report.indexed
        failed.extend(report.failed)
        bar.update(len(batch))
    bar.close()
    return {"indexed": indexed, "failed": failed, "seconds": time.perf_counter() - started}


def _documents():
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
