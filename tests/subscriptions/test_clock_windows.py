"""Relative dates after a harvest: the datasets the clock moves into or out of a
scene are reported by the incremental pass exactly as by a full recompute — an
``lte now-Nd`` bound lets datasets in as time passes, a ``gte now-Nd`` bound lets
them out, and a window between two relative bounds does both."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from config.extensions import db
from search.harvest import run_harvest
from subscriptions.accounts import operator_user
from subscriptions.affected import run_affected_scenes
from subscriptions.models import SceneMember
from subscriptions.scenes import create_scene
from tests.helpers import sample_records, write_snapshot
from tests.subscriptions.diff_support import diff_part, full_recompute

T0 = datetime(2023, 7, 1, 8, 0, tzinfo=UTC)
TITLE, MODIFIED = "资源名称", "更新时间"
RECORDS = sample_records()[:300]




def _members(scene_id: int) -> set[str]:
    with db.session() as session:
        return set(session.scalars(select(SceneMember.dataset_id).where(SceneMember.scene_id == scene_id)))


@pytest.mark.parametrize("ranges, entering, leaving", [
    ({"lte": "now-30d"}, True, False),
    ({"gte": "now-30d"}, False, True),
    ({"gte": "now-40d", "lte": "now-15d"}, True, True),
])
def test_the_clock_moves_datasets_in_and_out(app, tmp_path: Path, ranges: dict[str, str],
                                             entering: bool, leaving: bool) -> None:
    records = [dict(r) for r in RECORDS]
    for position, record in enumerate(records):  # dates spread over the 60 days before T0
        record[MODIFIED] = (T0 - timedelta(days=position % 60)).strftime("%Y-%m-%d")
    run_harvest("hz", write_snapshot(tmp_path / "a.json", records), fmt="portal-json", now=T0)
    with db.session() as session:
        scene_id = create_scene(session, operator_user(session), name="window", schedule="on-change",
                                query={"ranges": {"modified": ranges}}, now=T0).scene.id
    before = _members(scene_id)
    unrelated = records[7]
    unrelated[TITLE] = f"{unrelated[TITLE]}（更新）"
    later = T0 + timedelta(days=10)
    summary = run_harvest("hz", write_snapshot(tmp_path / "b.json", records), fmt="portal-json", now=later)
    expected = full_recompute(scene_id, later)[0]
    assert bool(expected["added"]) is entering and bool(expected["removed"]) is leaving
    (document,) = run_affected_scenes(summary.changed_ids, summary.removed_ids, now=later, deliver=False)
    assert diff_part(document) == expected
    after = _members(scene_id)
    assert {a["id"] for a in expected["added"]} == after - before
    assert {r["id"] for r in expected["removed"]} == before - after
