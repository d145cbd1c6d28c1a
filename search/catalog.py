"""The catalog store: applying one full snapshot of a source.

A snapshot is the complete list of a source's datasets at one moment, so:

- a dataset not in the store is new (a new Dataset and its first DatasetVersion);
- one whose content hash changed gets a new version (or points back at an earlier
  version with that content: versions are unique per content);
- one whose content is unchanged is left alone except ``last_seen_at`` (and its
  quality, when timeliness moved with the clock, and its region path, when the
  hierarchy placed its region elsewhere);
- a live dataset of the source missing from the snapshot is tombstoned
  (``deleted_at``); a tombstoned one that reappears is restored and counted as new.

Existing state is read in one query; writes are bulk statements in batches, each
batch its own transaction. On SQLite (the embedded default) rows go through
:mod:`search.bulk` and version ids are chosen under the write lock, so a new dataset
is one insert; elsewhere SQLAlchemy's bulk statements and RETURNING are used.
Changed documents are then sent to the search backend in batches and tombstoned ids
deleted from it; a backend failure does not undo the store, it is reported
(id, reason) so a reindex can repair it.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from config.extensions import db, search
from search.bulk import BulkStatement, is_sqlite
from search.models import CONTENT_FIELDS, Dataset, DatasetVersion, Harvest, QuarantinedRecord

WRITE_BATCH = 2000
INDEX_BATCH = WRITE_BATCH  # one index call (one backend transaction) per written batch
ID_CHUNK = 500

Entry = tuple[str, str, dict[str, Any]]  # (dataset id, native id, normalised doc with quality)


@dataclass
class ApplyResult:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    quality_updated: int = 0
    held_removals: int = 0  # removals not applied: the snapshot looks cut short
    index_failures: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # What scenes need to look at: datasets new/changed/restored (and unchanged ones whose
    # quality or region path moved: a scene can filter on them), and those tombstoned.
    changed_ids: list[str] = field(default_factory=list)
    removed_ids: list[str] = field(default_factory=list)


def content_of(doc: dict[str, Any]) -> dict[str, Any]:
    return {name: doc.get(name) for name in CONTENT_FIELDS}


_canonical = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                              default=str).encode


def canonical_json(content: dict[str, Any]) -> str:
    """The content as canonical JSON: sorted keys, no spaces, UTF-8 kept as is."""
    return _canonical(content)


def content_hash(doc: dict[str, Any]) -> str:
    """SHA-256 of the content fields as canonical JSON."""
    return hashlib.sha256(canonical_json(content_of(doc)).encode("utf-8")).hexdigest()


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# --- harvest log -------------------------------------------------------------------

def open_harvest(source: str, location: str, fmt: str, started: datetime,
                 trigger: str = "manual") -> int:
    """Record a harvest as working; returns its id."""
    with db.session() as session:
        harvest = Harvest(source=source, location=location, format=fmt, state="working",
                          started_at=started, trigger=trigger)
        session.add(harvest)
        session.flush()
        return harvest.id


def close_harvest(harvest_id: int, finished: datetime, *, fmt: str | None = None,
                  error: str | None = None, status: str | None = None,
                  **values_: Any) -> None:
    """Record the outcome of a harvest: its counts, or the error that stopped it.

    ``status`` is ok | not_modified | suspect | error (default: error when ``error``
    is given, else ok); other keywords are Harvest columns (counts, http_status, …).
    """
    values: dict[str, Any] = {"finished_at": finished, "state": "error" if error else "done",
                              "error": error, "status": status or ("error" if error else "ok")}
    if fmt:
        values["format"] = fmt
    values.update(values_)
    with db.session() as session:
        session.execute(update(Harvest).where(Harvest.id == harvest_id).values(**values))


def store_quarantine(harvest_id: int, source: str, rejects: Sequence[tuple[str, str, str]],
                     now: datetime) -> None:
    """Keep the rejected records: (position, reason, raw text) each."""
    rows = [{"harvest_id": harvest_id, "source": source, "position": position[:64],
             "reason": reason, "raw": raw, "created_at": now} for position, reason, raw in rejects]
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
    region_path: list[Any]


def _known(session: Session, source: str) -> dict[str, _Known]:
    rows = session.execute(
        select(Dataset.id, Dataset.content_hash, Dataset.quality, Dataset.deleted_at,
               Dataset.current_version_id, Dataset.region_path).where(Dataset.source == source)
    )
    return {r[0]: _Known(r[1], r[2] or {}, r[3], r[4], r[5] or []) for r in rows}


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


@dataclass
class _Plan:
    """What one batch writes: new rows, versions to add, and updates by primary key."""

    new_rows: list[dict[str, Any]] = field(default_factory=list)
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)  # dataset id → version row
    # dataset id → the row that still needs its version id
    awaiting: dict[str, dict[str, Any]] = field(default_factory=dict)
    # dataset id → canonical JSON of its content (what its version stores)
    texts: dict[str, str] = field(default_factory=dict)
    updates: list[dict[str, Any]] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)


def _plan_batch(source: str, batch: Sequence[Entry], known: dict[str, _Known], harvest_id: int,
                now: datetime, result: ApplyResult) -> _Plan:
    """Compare a batch with the store's state and decide what to write (no I/O)."""
    plan = _Plan()
    for dataset_id, native_id, doc in batch:
        content = content_of(doc)
        text = canonical_json(content)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        old = known.get(dataset_id)
        quality = dict(doc["quality"])
        if old is not None and old.quality.get("accuracy") is not None:
            quality["accuracy"] = old.quality["accuracy"]  # a stored accuracy outlives harvests
        doc["quality"] = quality
        path = doc["region_path"] = list(doc.get("region_path") or ())
        version = {"dataset_id": dataset_id, "content_hash": digest, "content": content,
                   "quality": quality, "seen_at": now, "harvest_id": harvest_id}
        if old is None:
            result.new += 1
            result.changed_ids.append(dataset_id)
            row = {"id": dataset_id, "source": source, "native_id": native_id, **content,
                   "region_path": path, "quality": quality, "content_hash": digest,
                   "current_version_id": None, "first_seen_at": now, "last_seen_at": now, "last_changed_at": now,
                   "deleted_at": None}
            plan.new_rows.append(row)
            plan.versions[dataset_id] = version
            plan.awaiting[dataset_id] = row
            plan.texts[dataset_id] = text
        elif old.deleted_at is not None or old.content_hash != digest:
            restored = old.deleted_at is not None
            result.new += restored
            result.changed += not restored
            result.changed_ids.append(dataset_id)
            row = {"id": dataset_id, "native_id": native_id, **content, "region_path": path,
                   "quality": quality, "content_hash": digest, "current_version_id": old.version_id,
                   "last_changed_at": now, "deleted_at": None}
            plan.updates.append(row)
            if old.content_hash != digest:
                plan.versions[dataset_id] = version
                plan.awaiting[dataset_id] = row
                plan.texts[dataset_id] = text
        elif quality != old.quality or path != old.region_path:
            result.unchanged += 1
            result.quality_updated += quality != old.quality
            result.changed_ids.append(dataset_id)
            plan.updates.append({"id": dataset_id, "quality": quality, "region_path": path})
        else:
            result.unchanged += 1
            continue
        plan.documents.append(_document(dataset_id, source, doc))
        known[dataset_id] = _Known(digest, quality, None, old.version_id if old else None, path)
    return plan


def _fresh_versions(session: Session, plan: _Plan,
                    known: dict[str, _Known]) -> list[dict[str, Any]]:
    """Versions to insert; a content seen before points back at its existing version."""
    earlier = {dataset_id: v["content_hash"] for dataset_id, v in plan.versions.items()
               if known[dataset_id].version_id is not None}
    reuse = _existing_versions(session, earlier) if earlier else {}
    fresh = []
    for dataset_id, version in plan.versions.items():
        if dataset_id in reuse:
            plan.awaiting[dataset_id]["current_version_id"] = reuse[dataset_id]
        else:
            fresh.append(version)
    return fresh


def _write_sqlite(session: Session, plan: _Plan, known: dict[str, _Known], harvest_id: int) -> None:
    """Write a plan with raw executemany and version ids chosen here (see search.bulk)."""
    connection = session.connection()
    # Take the write lock first, so the version ids read below stay free until commit.
    session.execute(update(Harvest).where(Harvest.id == harvest_id).values(state="working"))
    fresh = _fresh_versions(session, plan, known)
    next_id = session.scalar(select(func.coalesce(func.max(DatasetVersion.id), 0))) or 0
    for version in fresh:
        next_id += 1
        version["id"] = next_id
        plan.awaiting[version["dataset_id"]]["current_version_id"] = next_id
    if plan.new_rows:
        BulkStatement(connection, Dataset.__table__, list(plan.new_rows[0])).execute(plan.new_rows)
    if fresh:
        rows = [{**version, "content": plan.texts[version["dataset_id"]]} for version in fresh]
        BulkStatement(connection, DatasetVersion.__table__, list(rows[0]),
                      preserialised=("content",)).execute(rows)
    for shape, rows in _by_shape(plan.updates).items():
        columns = [c for c in shape if c != "id"]
        BulkStatement(connection, Dataset.__table__, columns, where="id").execute(rows)


def _write_generic(session: Session, plan: _Plan, known: dict[str, _Known]) -> None:
    """Write a plan through SQLAlchemy's bulk statements (PostgreSQL and the rest)."""
    if plan.new_rows:
        session.execute(insert(Dataset), plan.new_rows)
    fresh = _fresh_versions(session, plan, known)
    if fresh:
        returned = session.execute(
            insert(DatasetVersion).returning(DatasetVersion.id, DatasetVersion.dataset_id), fresh)
        for version_id, dataset_id in returned:
            plan.awaiting[dataset_id]["current_version_id"] = version_id
    new_ids = {row["id"] for row in plan.new_rows}
    pointers = [{"id": i, "current_version_id": plan.awaiting[i]["current_version_id"]}
                for i in new_ids]
    for rows in _by_shape(plan.updates + pointers).values():
        session.execute(update(Dataset), rows)


def _by_shape(rows: list[dict[str, Any]]) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    return groups


def _apply_batch(session: Session, source: str, batch: Sequence[Entry], known: dict[str, _Known],
                 harvest_id: int, now: datetime, result: ApplyResult) -> list[dict[str, Any]]:
    """Write one batch; returns the documents to (re)index."""
    plan = _plan_batch(source, batch, known, harvest_id, now, result)
    if plan.new_rows or plan.updates:
        if is_sqlite(session.connection()):
            _write_sqlite(session, plan, known, harvest_id)
        else:
            _write_generic(session, plan, known)
        for dataset_id, row in plan.awaiting.items():
            known[dataset_id].version_id = row["current_version_id"]
    return plan.documents


def apply_snapshot(source: str, entries: Sequence[Entry], harvest_id: int, now: datetime,
                   advance: Callable[[int], None] | None = None,
                   max_removal: float | None = None, partial: bool = False) -> ApplyResult:
    """Make the store (and the search index) hold exactly ``entries`` for ``source``.

    When removals would exceed ``max_removal`` (a share of the source's live datasets),
    new and changed records are applied but the removals are held (``held_removals``).
    A ``partial`` snapshot (an incremental pass) only adds and changes: nothing is removed.
    """
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
    gone = [] if partial else sorted(live_before - seen)
    if gone and not entries:
        # An export with no usable record is far likelier a broken export than a
        # portal that closed every dataset: keep the catalog rather than empty it.
        result.warnings.append(
            f"the snapshot has no usable record; {len(gone)} datasets were kept, not removed")
        gone = []
    elif gone and max_removal is not None and len(gone) > max_removal * len(live_before):
        # A snapshot missing this much is far likelier cut short than a portal closing
        # a fifth of its catalog: hold the removals for an admin to accept.
        result.held_removals = len(gone)
        result.warnings.append(
            f"{len(gone)} of {len(live_before)} datasets would be removed "
            f"(over {max_removal:.0%}); removals held until accepted")
        gone = []
    with db.session() as session:
        for chunk in _chunks(gone, ID_CHUNK):
            session.execute(update(Dataset).where(Dataset.id.in_(chunk)).values(deleted_at=now)
                            .execution_options(synchronize_session=False))
        session.execute(update(Dataset)
                        .where(Dataset.source == source, Dataset.deleted_at.is_(None))
                        .values(last_seen_at=now).execution_options(synchronize_session=False))
    result.removed = len(gone)
    result.removed_ids = gone
    indexer.delete(gone)
    return result
