"""The nightly full run of on-change scenes: scheduled by the clock, and it records
exactly what the after-harvest pass records (or what that pass missed)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from config.extensions import db
from config.settings import load_settings
from search.harvest import run_harvest
from subscriptions.accounts import operator_user
from subscriptions.affected import run_affected_scenes
from subscriptions.models import Scene, SceneRun
from subscriptions.recompute import recompute_on_change
from subscriptions.scenes import create_scene
from tests.helpers import sample_records, write_snapshot
from tests.subscriptions.diff_support import diff_part

T0 = datetime(2023, 7, 1, 8, 0, tzinfo=UTC)
TITLE = "资源名称"
RECORDS = sample_records()[:300]



def _runs(scene_id: int) -> list[SceneRun]:
    with db.session() as session:
        runs = list(session.scalars(select(SceneRun).where(SceneRun.scene_id == scene_id).order_by(SceneRun.id)))
        session.expunge_all()
        return runs


def test_the_nightly_run_reports_what_the_after_harvest_pass_reports(app, tmp_path: Path) -> None:
    run_harvest("hz", write_snapshot(tmp_path / "a.json", RECORDS[:250]), fmt="portal-json", now=T0)
    query = {"text": "数据 | 公交"}
    with db.session() as session:
        owner = operator_user(session)
        on_time, missed, paused, daily = (
            create_scene(session, owner, name=name, query=query, schedule=schedule, now=T0).scene.id
            for name, schedule in (("on-time", "on-change"), ("missed", "on-change"),
                                   ("paused", "on-change"), ("daily", "daily")))
        scene = session.get(Scene, paused)
        assert scene is not None
        scene.paused = True
    records = [dict(r) for r in RECORDS[:250]]
    for record in records[::7]:
        record[TITLE] = f"{record[TITLE]}公交数据"
    records = records[5:] + [dict(r) for r in RECORDS[250:270]]
    later = T0 + timedelta(hours=3)
    summary = run_harvest("hz", write_snapshot(tmp_path / "b.json", records), fmt="portal-json", now=later)
    # The after-harvest pass reaches one twin; the other's pass was lost (a stopped process).
    (incremental,) = run_affected_scenes(summary.changed_ids, summary.removed_ids, now=later,
                                         deliver=False, scene_ids=[on_time])
    assert incremental["run"]["state"] == "changed"

    night = datetime.now(UTC).replace(hour=2, minute=40, second=31, microsecond=0)
    assert recompute_on_change(night) == 2  # the on-change scenes that are not paused
    (*_, caught_up) = _runs(missed)
    assert caught_up.scheduled_for == night.replace(second=0)
    assert caught_up.state == "changed" and diff_part(caught_up.diff or {}) == diff_part(incremental)
    (*_, checked) = _runs(on_time)
    assert checked.scheduled_for == night.replace(second=0) and checked.state == "noop"  # nothing was missed
    assert [r.state for r in _runs(paused)] == ["baseline"]
    assert [r.state for r in _runs(daily)] == ["baseline"]
    # A second scheduler firing the same minute records nothing twice.
    recompute_on_change(night + timedelta(seconds=20))
    assert len(_runs(missed)) == 2 and len(_runs(on_time)) == 3


def test_the_clock_runs_it_nightly_at_the_configured_time(app) -> None:
    from subscriptions.clock import build_clock

    (job,) = [job for job in build_clock(app).get_jobs() if job.id == "recompute"]
    assert str(job.trigger) == "cron[hour='2', minute='40']"
    app.config["SCENEWATCH"] = load_settings({"SCENEWATCH_DATA_DIR": str(app.config["SCENEWATCH"].data_dir),
                                              "SCENEWATCH_RECOMPUTE_AT": "23:05"})
    (job,) = [job for job in build_clock(app).get_jobs() if job.id == "recompute"]
    assert str(job.trigger) == "cron[hour='23', minute='5']"
    app.config["SCENEWATCH"] = load_settings({"SCENEWATCH_DATA_DIR": str(app.config["SCENEWATCH"].data_dir),
                                              "SCENEWATCH_RECOMPUTE_AT": "off"})
    assert "recompute" not in {job.id for job in build_clock(app).get_jobs()}


@pytest.mark.parametrize("value", ["25:00", "7", "07:5", "noon", "12:60"])
def test_a_bad_time_is_refused_naming_the_setting(tmp_path: Path, value: str) -> None:
    with pytest.raises(SystemExit, match="SCENEWATCH_RECOMPUTE_AT must be a time of day HH:MM"):
        load_settings({"SCENEWATCH_DATA_DIR": str(tmp_path), "SCENEWATCH_RECOMPUTE_AT": value})
