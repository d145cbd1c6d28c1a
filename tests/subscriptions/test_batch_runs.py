"""Many scenes' runs recorded in one transaction record what one-by-one runs record.

On the bundled real catalog: twin scenes (same query) are run after a harvest, one
twin of each pair by the batch path and the other by ``run_scene`` with the same
candidates; their diffs, members and notifications must agree, on SQLite and on
PostgreSQL. Scenes the batch cannot take are left to ``run_scene``.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from config.extensions import db
from notifier.models import Notification
from search.harvest import run_harvest
from subscriptions.accounts import operator_user
from subscriptions.affected import affected_scenes, evaluate_candidates, run_affected_scenes
from subscriptions.batch_runs import run_batches
from subscriptions.models import SceneMember, SceneRun
from subscriptions.run_lock import release, try_claim
from subscriptions.runner import Candidates, run_scene
from subscriptions.scenes import create_scene
from tests.helpers import sample_records, write_snapshot
from tests.subscriptions.diff_support import diff_part

T0 = datetime(2023, 7, 1, 8, 0, tzinfo=UTC)
TITLE, PUBLISHER = "资源名称", "发布部门"
RECORDS = sample_records()[:400]
QUERIES: list[dict[str, Any]] = [
    {"text": "数据"},
    {"text": "公交 | 交通"},
    {"text": "信息 -目录"},
    {"filters": {"open_type": ["unconditional"]}},
    {"text": "统计", "filters": {"open_type": ["conditional"]}},
    {},
]



def _members(scene_id: int) -> dict[str, int]:
    with db.session() as session:
        return dict(session.execute(
            select(SceneMember.dataset_id, SceneMember.version_id).where(SceneMember.scene_id == scene_id)).all())


def _notifications(scene_id: int) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Notification)
                                  .where(Notification.scene_id == scene_id)) or 0)


def _changed_catalog() -> list[dict[str, Any]]:
    """Retitled, republished, dropped and added records: every kind of diff entry."""
    records = [dict(r) for r in RECORDS[:360]]
    for position in range(0, 360, 9):
        records[position][TITLE] = f"{records[position][TITLE]}公交数据统计"
    for position in range(4, 360, 23):
        records[position][PUBLISHER] = "新的发布部门"
    del records[100:106]
    return records + [dict(r) for r in RECORDS[360:380]]


def _twins_after_a_harvest(tmp_path: Path) -> tuple[list[tuple[int, int]], dict[int, Candidates], datetime]:
    run_harvest("hz", write_snapshot(tmp_path / "a.json", RECORDS[:360]), fmt="portal-json", now=T0)
    with db.session() as session:
        owner = operator_user(session)
        pairs = [tuple(create_scene(session, owner, name=f"{twin}{i}", query=query, schedule="on-change",
                                    webhook="http://127.0.0.1:9/hook", now=T0).scene.id
                       for twin in ("batch", "single"))
                 for i, query in enumerate(QUERIES)]
    later = T0 + timedelta(hours=2)
    summary = run_harvest("hz", write_snapshot(tmp_path / "b.json", _changed_catalog()), fmt="portal-json",
                          now=later)
    with db.session() as session:
        affected = affected_scenes(session, summary.changed_ids, summary.removed_ids, now=later)
    evaluated = evaluate_candidates(affected, now=later)
    candidates = {scene_id: Candidates(frozenset(among), frozenset(matched))
                  for scene_id, (among, matched) in evaluated.items()}
    return [(a, b) for a, b in pairs], candidates, later


def _check_twins(tmp_path: Path) -> None:
    pairs, candidates, later = _twins_after_a_harvest(tmp_path)
    assert all(a in candidates and b in candidates for a, b in pairs)  # every query is touched
    batched, left = run_batches({a: candidates[a] for a, _ in pairs}, later)
    assert left == [] and sorted(batched) == sorted(a for a, _ in pairs)
    states = set()
    for batch_id, single_id in pairs:
        single = run_scene(single_id, later, deliver=False, now=later, candidates=candidates[single_id])
        assert diff_part(batched[batch_id]) == diff_part(single)
        assert _members(batch_id) == _members(single_id)
        assert _notifications(batch_id) == _notifications(single_id)
        states.add(batched[batch_id]["run"]["state"])
        with db.session() as session:
            run = session.get(SceneRun, batched[batch_id]["run"]["id"])
            assert run is not None and run.diff == batched[batch_id] and run.finished_at is not None
            assert run.matched == len(_members(batch_id)) == batched[batch_id]["counts"]["matched"]
    assert "changed" in states
    assert any(batched[a]["counts"]["removed"] for a, _ in pairs)
    assert any(batched[a]["counts"]["changed"] for a, _ in pairs)


def test_a_batch_records_what_runs_one_by_one_record(app, tmp_path: Path) -> None:
    _check_twins(tmp_path)


@pytest.mark.postgres
def test_a_batch_records_what_runs_one_by_one_record_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    from config.app import create_app
    from config.migrate import upgrade
    from config.settings import load_settings

    application = create_app(load_settings({
        "SCENEWATCH_DATA_DIR": str(tmp_path / "instance"), "SCENEWATCH_DATABASE_URL": postgres_url,
        "SCENEWATCH_WEBHOOK_ALLOW_PRIVATE": "1"}), TESTING=True)
    with application.app_context():
        upgrade()
        assert db.engine is not None and db.engine.dialect.name == "postgresql"
        _check_twins(tmp_path)


def test_a_scene_whose_run_is_in_progress_is_left_to_run_scene(app, tmp_path: Path) -> None:
    pairs, candidates, later = _twins_after_a_harvest(tmp_path)
    busy, free = pairs[0][0], pairs[1][0]
    claimed = try_claim(busy)
    assert claimed is not None
    try:
        documents, left = run_batches({busy: candidates[busy], free: candidates[free]}, later)
    finally:
        release(busy, claimed)
    assert left == [busy] and list(documents) == [free]
    with db.session() as session:  # nothing recorded for the busy scene, its claim untouched by the batch
        assert session.scalar(select(SceneRun.id).where(SceneRun.scene_id == busy,
                                                        SceneRun.scheduled_for == later)) is None


def test_a_second_pass_for_the_same_time_returns_the_recorded_runs(app, tmp_path: Path) -> None:
    run_harvest("hz", write_snapshot(tmp_path / "a.json", RECORDS[:360]), fmt="portal-json", now=T0)
    with db.session() as session:
        scene_id = create_scene(session, operator_user(session), name="s", query={"text": "数据"},
                                schedule="on-change", now=T0).scene.id
    later = T0 + timedelta(hours=1)
    summary = run_harvest("hz", write_snapshot(tmp_path / "b.json", _changed_catalog()), fmt="portal-json",
                          now=later)
    first = run_affected_scenes(summary.changed_ids, summary.removed_ids, now=later, deliver=False)
    again = run_affected_scenes(summary.changed_ids, summary.removed_ids, now=later, deliver=False)
    assert [d["scene"]["id"] for d in first] == [scene_id] and first[0]["run"]["state"] == "changed"
    assert again == first
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(SceneRun)
                              .where(SceneRun.scene_id == scene_id)) == 2  # the baseline and one run
