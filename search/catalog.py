"""The catalog store: applying one full snapshot of a source.

A snapshot is the complete list of a source's datasets at one moment, so:

- a dataset not in the store is new (a new Dataset and its first DatasetVersion);
- one whose content hash changed gets a new version (or points back at an earlier
  version with that content: versions are unique per content);
- one whose content is unchanged is left alone except ``last_seen_at`` (and its
  quality, when timeliness moved with the clock);
- a live dataset of the source missing from the snapshot is tombstoned
  (``deleted_at``); a tombstoned one that reappears is restored and counted as new.

Existing state is read in one query; writes are bulk statements in batches, each
batch its own transaction. Changed documents are then sent to the search backend in
batches and tombstoned ids deleted from it; a backend failure does not undo the
store, it is reported (id, reason) so a reindex can repair it.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from config.extensions import db, search
from search.models import CONTENT_FIELDS, Dataset, DatasetVersion, Harvest, QuarantinedRecord

WRITE_BATCH = 2000
INDEX_BATCH = 1000
ID_CHUNK = 500

Entry = tuple[str, str, dict[str, Any]]  # (dataset id, native id, normalised doc with quality)


@dataclass
class ApplyResult:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    quality_updated: int = 0
    index_failures: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def content_of(doc: dict[str, Any]) -> dict[str, Any]:
    return {name: doc.get(name) for name in CONTENT_FIELDS}


def content_hash(doc: dict[str, Any]) -> str:
    """SHA-256 of the content fields as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(content_of(doc), sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# --- harvest log -------------------------------------------------------------------

def open_harvest(source: str, location: str, fmt: str, started: datetime) -> int:
    """Record a harvest as working; returns its id."""
    with db.session() as session:
        harvest = Harvest(source=source, location=location, format=fmt, state="working", started_at=started)
        session.add(harvest)
        session.flush()
        return harvest.id


def close_harvest(harvest_id: int, finished: datetime, *, fmt: str | None = None,
                  error: str | None = None, **counts: int) -> None:
    """Record the outcome of a harvest: its counts, or the error that stopped it."""
    values: dict[str, Any] = {"finished_at": finished, "state": "error" if error else "done", "error": error}
    if fmt:
        values["format"] = fmt
    values.update(counts)
    with db.session() as session:
        session.execute(update(Harvest).where(Harvest.id == harvest_id).values(**values))


def store_quarantine(harvest_id: int, source: str, rejects: Sequence[tuple[str, str, str]],
                     now: datetime) -> None:
    """Keep the rejected records: (position, reason, raw text) each."""
    rows = [{"harvest_id": harvest_id, "source": source, "position": position[:64], "reason": reason,
             "raw": raw, "created_at": now} for position, reason, raw in rejects]
    for chunk in _chunks(rows, WRITE_BATCH):
        with db.session() as session:
            session.execute(insert(QuarantinedRecord), list(chunk))


# --- the snapshot ----------------------------------------------------------------

@dataclass(slots=True)
class _Known:
    content_hash: str
    quality: dict[str, Any]
    deleted_at: datetime | None
    version_id: int | None


def _known(session: Session, source: str) -> dict[str, _Known]:
    rows = session.execute(
        select(Dataset.id, Dataset.content_hash, Dataset.quality, Dataset.deleted_at, Dataset.current_version_id)
        .where(Dataset.source == source)
    )
    return {r[0]: _Known(r[1], r[2] or {}, r[3], r[4]) for r in rows}


def _existing_versions(session: Session, wanted: dict[str, str]) -> dict[str, int]:
    """dataset id → id of its earlier version with the wanted content hash, if any."""
    found: dict[str, int] = {}
    for chunk in _chunks(list(wanted), ID_CHUNK):
        for version_id, dataset_id, digest in session.execute(
            select(DatasetVersion.id, DatasetVersion.dataset_id, DatasetVersion.content_hash)
            .where(DatasetVersion.dataset_id.in_(chunk))
        ):
            if wanted.get(dataset_id) == digest:
                found[dataset_id] = version_id
    return found


def _bulk_update(session: Session, rows: list[dict[str, Any]]) -> None:
    """ORM bulk UPDATE by primary key, grouped so each statement has one shape."""
    groups: dict[frozenset[str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(frozenset(row), []).append(row)
    for group in groups.values():
        session.execute(update(Dataset), group)


class _Row:
    """Just enough of a Dataset for :meth:`Dataset.to_document` (one definition of the
    search document), without the cost of an ORM instance per dataset."""

    content = Dataset.content

    def __init__(self, dataset_id: str, source: str, doc: dict[str, Any]) -> None:
        self.__dict__.update(doc)
        self.id, self.source = dataset_id, source


def _document(dataset_id: str, source: str, doc: dict[str, Any]) -> dict[str, Any]:
    return Dataset.to_document(_Row(dataset_id, source, doc))  # type: ignore[arg-type]


class _Indexer:
    """Sends documents and deletions to the search backend in batches, noting failures."""

    def __init__(self, failures: list[tuple[str, str]]) -> None:
        self.backend = search.backend
        self.failures = failures

    def index(self, documents: list[dict[str, Any]]) -> None:
        if self.backend is None:
            return
        for batch in _chunks(documents, INDEX_BATCH):
            try:
                self.failures.extend(self.backend.index(list(batch)).failed)
            except Exception as exc:  # the store is committed; report, a reindex repairs
                reason = f"{type(exc).__name__}: {exc}"
                self.failures.extend((doc["id"], reason) for doc in batch)

    def delete(self, ids: list[str]) -> None:
        if self.backend is None:
            return
        for batch in _chunks(ids, INDEX_BATCH):
            try:
                self.failures.extend(self.backend.delete(list(batch)).failed)
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                self.failures.extend((dataset_id, reason) for dataset_id in batch)


def _apply_batch(session: Session, source: str, batch: Sequence[Entry], known: dict[str, _Known],
                 harvest_id: int, now: datetime, result: ApplyResult) -> list[dict[str, Any]]:
    """Write one batch; returns the documents to (re)index."""
    new_rows: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    versions_wanted: dict[str, str] = {}  # dataset id → content hash needing a version
    staged: dict[str, dict[str, Any]] = {}  # dataset id → update row awaiting its version id
    to_index: list[dict[str, Any]] = []
    for dataset_id, native_id, doc in batch:
        digest = content_hash(doc)
        old = known.get(dataset_id)
        quality = dict(doc["quality"])
        if old is not None and old.quality.get("accuracy") is not None:
            quality["accuracy"] = old.quality["accuracy"]  # users' reports outlive harvests
        doc["quality"] = quality
        if old is None:
            result.new += 1
            new_rows.append({"id": dataset_id, "source": source, "native_id": native_id, **content_of(doc),
                             "quality": quality, "content_hash": digest, "first_seen_at": now,
                             "last_seen_at": now, "last_changed_at": now, "deleted_at": None})
            versions_wanted[dataset_id] = digest
            staged[dataset_id] = {"id": dataset_id}
        elif old.deleted_at is not None or old.content_hash != digest:
            restored = old.deleted_at is not None
            result.new += restored
            result.changed += not restored
            row = {"id": dataset_id, "native_id": native_id, **content_of(doc), "quality": quality,
                   "content_hash": digest, "last_changed_at": now, "deleted_at": None}
            if old.content_hash == digest:
                row["current_version_id"] = old.version_id
                updates.append(row)
            else:
                versions_wanted[dataset_id] = digest
                staged[dataset_id] = row
        elif quality != old.quality:
            result.unchanged += 1
            result.quality_updated += 1
            updates.append({"id": dataset_id, "quality": quality})
        else:
            result.unchanged += 1
            continue
        to_index.append(_document(dataset_id, source, doc))
        known[dataset_id] = _Known(digest, quality, None, old.version_id if old else None)

    if new_rows:
        session.execute(insert(Dataset), new_rows)
    if versions_wanted:
        reuse = _existing_versions(session, {k: v for k, v in versions_wanted.items() if k in known and
                                             known[k].version_id is not None})
        fresh = []
        contents = {entry[0]: entry[2] for entry in batch}
        for dataset_id, digest in versions_wanted.items():
            if dataset_id in reuse:
                staged[dataset_id]["current_version_id"] = reuse[dataset_id]
            else:
                doc = contents[dataset_id]
                fresh.append({"dataset_id": dataset_id, "content_hash": digest, "content": content_of(doc),
                              "quality": doc["quality"], "seen_at": now, "harvest_id": harvest_id})
        if fresh:
            returned = session.execute(
                insert(DatasetVersion).returning(DatasetVersion.id, DatasetVersion.dataset_id), fresh)
            for version_id, dataset_id in returned:
                staged[dataset_id]["current_version_id"] = version_id
        for dataset_id, row in staged.items():
            known[dataset_id].version_id = row["current_version_id"]
        updates.extend(staged.values())
    if updates:
        _bulk_update(session, updates)
    return to_index


def apply_snapshot(source: str, entries: Sequence[Entry], harvest_id: int, now: datetime,
                   advance: Callable[[int], None] | None = None) -> ApplyResult:
    """Make the store (and the search index) hold exactly ``entries`` for ``source``."""
    result = ApplyResult()
    indexer = _Indexer(result.index_failures)
    with db.session() as session:
        known = _known(session, source)
    live_before = {dataset_id for dataset_id, k in known.items() if k.deleted_at is None}
    for batch in _chunks(entries, WRITE_BATCH):
        with db.session() as session:
            documents = _apply_batch(session, source, batch, known, harvest_id, now, result)
        indexer.index(documents)
        if advance:
            advance(len(batch))

    seen = {entry[0] for entry in entries}
    gone = sorted(live_before - seen)
    if gone and not entries:
        # An export with no usable record is far likelier a broken export than a
        # portal that closed every dataset: keep the catalog rather than empty it.
        result.warnings.append(f"the snapshot has no usable record; {len(gone)} datasets were kept, not removed")
        gone = []
    with db.session() as session:
        for chunk in _chunks(gone, ID_CHUNK):
            session.execute(update(Dataset).where(Dataset.id.in_(chunk)).values(deleted_at=now)
                            .execution_options(synchronize_session=False))
        session.execute(update(Dataset).where(Dataset.source == source, Dataset.deleted_at.is_(None))
                        .values(last_seen_at=now).execution_options(synchronize_session=False))
    result.removed = len(gone)
    indexer.delete(gone)
    return result
