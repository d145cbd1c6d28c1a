"""Retention: runs' diffs and finished notifications older than N days keep only their counts."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from config.extensions import db
from notifier.models import Delivery, Notification
from notifier.receiver import VerifyingReceiver
from search.harvest import run_harvest
from subscriptions.accounts import operator_user
from subscriptions.models import SceneRun
from subscriptions.retention import compact_document, compact_history
from subscriptions.runner import run_scene
from subscriptions.scenes import create_scene
from tests.helpers import sample_records, write_snapshot

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def _harvest(tmp_path: Path, records: list[dict], name: str, when: datetime) -> None:
    run_harvest("hz", write_snapshot(tmp_path / name, records), fmt="portal-json", now=when)


def test_old_runs_and_finished_notifications_are_compacted_to_counts(app, tmp_path: Path) -> None:
    records = [dict(r) for r in sample_records()[:80]]
    _harvest(tmp_path, records, "a.json", NOW - timedelta(days=201))
    with VerifyingReceiver() as receiver:
        with db.session() as session:
            created = create_scene(session, operator_user(session), name="all", query={}, schedule="manual",
                                   webhook=receiver.url)
            scene_id = created.scene.id
            receiver.secret = created.channels[0].secret
        run_scene(scene_id, now=NOW - timedelta(days=200))  # baseline
        _harvest(tmp_path, records[5:], "b.json", NOW - timedelta(days=101))
        old = run_scene(scene_id, now=NOW - timedelta(days=100))
        _harvest(tmp_path, records[10:], "c.json", NOW - timedelta(days=2))
        recent = run_scene(scene_id, now=NOW - timedelta(days=1))
        assert len(receiver.received) == 2
    assert old["counts"]["removed"] == 5 and recent["counts"]["removed"] == 5
    with db.session() as session:
        deliveries_before = session.scalar(select(func.count()).select_from(Delivery))
    assert deliveries_before == 2

    report = compact_history(90, now=NOW)
    assert report.to_dict() == {"runs": 2, "notifications": 1, "deliveries": 1}
    with db.session() as session:
        runs = {r.id: r for r in session.scalars(select(SceneRun))}
        compacted = runs[old["run"]["id"]]
        assert compacted.diff["compacted"] is True and compacted.diff["removed"] == []
        assert compacted.diff["counts"] == old["counts"] and compacted.removed == 5
        kept = runs[recent["run"]["id"]]
        assert kept.compacted_at is None and len(kept.diff["removed"]) == 5
        notes = {n.run_id: n for n in session.scalars(select(Notification))}
        assert notes[old["run"]["id"]].payload["compacted"] is True
        assert notes[old["run"]["id"]].attempts == 1  # the count of attempts outlives their log
        assert notes[recent["run"]["id"]].compacted_at is None
        assert session.scalar(select(func.count()).select_from(Delivery)) == 1

    # Idempotent; 0 days keeps everything.
    assert compact_history(90, now=NOW).to_dict() == {"runs": 0, "notifications": 0, "deliveries": 0}
    assert compact_history(0, now=NOW + timedelta(days=400)).runs == 0


def test_compact_document_keeps_identity_and_counts() -> None:
    document = {"scene": {"id": 1, "name": "s"}, "run": {"id": 2}, "counts": {"added": 1},
                "added": [{"id": "x"}], "removed": [], "changed": [], "moved": [], "links": {"run": "u"}}
    assert compact_document(document) == {"scene": {"id": 1, "name": "s"}, "run": {"id": 2},
                                          "counts": {"added": 1}, "added": [], "removed": [], "changed": [],
                                          "moved": [], "compacted": True}
    body = {"type": "scene.changed", "timestamp": "t", "data": document}
    assert compact_document(body)["data"]["compacted"] is True


def test_the_clock_runs_retention_daily(app) -> None:
    from subscriptions.clock import build_clock

    clock = build_clock(app)
    assert "retention" in {job.id for job in clock.get_jobs()}
