"""Bounded growth: old runs' diffs and finished notifications compacted to their counts.

Every run stores its diff document, every notification a copy of it, and every
delivery attempt a row; a year of daily runs of a thousand scenes is most of the
store. After ``SCENEWATCH_RETENTION_DAYS`` (default 90; 0 keeps everything):

- a run keeps its row, state, timings and counts; its diff document keeps the scene,
  run and counts, with empty lists and ``"compacted": true``;
- a *finished* notification (sent or dead) keeps its row, state and number of
  attempts; its body is compacted the same way and its delivery attempts are
  deleted. Pending, retrying and held notifications are never touched.

The scheduler runs :func:`compact_history` daily; it works in batches, each its own
transaction, and is idempotent (``compacted_at`` marks what is done).

Compaction shrinks rows in place. PostgreSQL's autovacuum makes that space reusable
by itself; SQLite keeps it inside half-empty pages that new rows (appended at the end
of each table) never fill, so the file would not shrink at all. On SQLite the weekly
compaction (Sunday's) therefore ends with a VACUUM, which rewrites the file without
the freed space — weekly, because it rewrites the whole store and holds the write
lock meanwhile.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, text

from config.extensions import db, rowcount
from notifier.models import Delivery, Notification, NotificationState
from subscriptions.models import SceneRun

log = logging.getLogger("scenewatch.retention")
BATCH = 1000
VACUUM_WEEKDAY = 6  # Sunday (date.weekday())
LISTS = ("added", "removed", "changed", "moved")
FINISHED = (NotificationState.sent.value, NotificationState.dead.value)


@dataclass
class CompactionReport:
    runs: int = 0
    notifications: int = 0
    deliveries: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"runs": self.runs, "notifications": self.notifications, "deliveries": self.deliveries}


def compact_document(document: dict[str, Any] | None) -> dict[str, Any] | None:
    """A diff document (or a webhook body carrying one) reduced to what identifies it
    and its counts; lists emptied so readers of the full shape keep working."""
    if not isinstance(document, dict):
        return document
    if isinstance(document.get("data"), dict):  # a webhook body: {"type", "timestamp", "data"}
        return {**document, "data": compact_document(document["data"])}
    compacted = {key: value for key, value in document.items() if key not in LISTS and key != "links"}
    compacted.update({name: [] for name in LISTS if name in document})
    compacted["compacted"] = True
    return compacted


def _compact_runs(cutoff: datetime, now: datetime) -> int:
    done = 0
    while True:
        with db.session() as session:
            runs = list(session.scalars(
                select(SceneRun).where(SceneRun.started_at < cutoff, SceneRun.compacted_at.is_(None))
                .order_by(SceneRun.id).limit(BATCH)))
            for run in runs:
                run.diff = compact_document(run.diff)
                run.compacted_at = now
        done += len(runs)
        if len(runs) < BATCH:
            return done


def _compact_notifications(cutoff: datetime, now: datetime, report: CompactionReport) -> None:
    while True:
        with db.session() as session:
            notes = list(session.scalars(
                select(Notification).where(Notification.created_at < cutoff,
                                           Notification.state.in_(FINISHED),
                                           Notification.compacted_at.is_(None))
                .order_by(Notification.id).limit(BATCH)))
            ids = [n.id for n in notes]
            if ids:
                report.deliveries += rowcount(session.execute(
                    delete(Delivery).where(Delivery.notification_id.in_(ids))))
            for note in notes:
                note.payload = compact_document(note.payload) or {}
                note.compacted_at = now
        report.notifications += len(notes)
        if len(notes) < BATCH:
            return


def compact_history(days: int, now: datetime | None = None) -> CompactionReport:
    """Compact runs and finished notifications older than ``days`` (0: nothing)."""
    report = CompactionReport()
    if days <= 0:
        return report
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=days)
    report.runs = _compact_runs(cutoff, now)
    _compact_notifications(cutoff, now, report)
    if now.weekday() == VACUUM_WEEKDAY:
        reclaim_space()
    return report


def reclaim_space() -> bool:
    """Give the space compaction freed back to the file system: VACUUM on SQLite
    (True), nothing on PostgreSQL, whose autovacuum reuses it (False)."""
    if db.engine is None or db.engine.dialect.name != "sqlite":
        return False
    started = time.perf_counter()
    with db.engine.connect() as connection:
        connection.exec_driver_sql("VACUUM")
        connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    log.info("store vacuumed in %.1f s", time.perf_counter() - started)
    return True
