"""The space retention frees goes back to the file system (SQLite's weekly VACUUM)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, text

from config.extensions import db
from subscriptions.accounts import operator_user
from subscriptions.models import SceneRun
from subscriptions.retention import VACUUM_WEEKDAY, compact_history, reclaim_space
from subscriptions.scenes import create_scene

START = datetime(2024, 1, 1, 8, tzinfo=UTC)


def _store_bytes(app) -> int:
    with db.session() as session:
        session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    return Path(app.config["SCENEWATCH"].data_dir, "scenewatch.sqlite").stat().st_size


def _old_runs(count: int) -> None:
    """``count`` runs of long ago, each with a diff listing 40 datasets."""
    with db.session() as session:
        scene_id = create_scene(session, operator_user(session), name="s", query={}, schedule="daily",
                                now=START).scene.id
    added = [{"id": f"hz:{n}", "title": f"公共交通线路数据 {n}", "publisher": "市交通运输局" * 3,
              "landing_page": f"https://data.example.org/datasets/{n}" * 2} for n in range(40)]
    with db.session() as session:
        session.execute(insert(SceneRun), [
            {"scene_id": scene_id, "scheduled_for": START + timedelta(hours=n + 1), "state": "changed",
             "started_at": START + timedelta(hours=n + 1), "finished_at": START + timedelta(hours=n + 1),
             "diff": {"scene": {"id": scene_id}, "run": {"id": n}, "counts": {"added": 40},
                      "added": added, "removed": [], "changed": [], "moved": []}}
            for n in range(count)])


def test_sundays_compaction_shrinks_the_sqlite_file(app) -> None:
    _old_runs(1500)
    before = _store_bytes(app)
    sunday = START + timedelta(days=400)
    sunday += timedelta(days=(VACUUM_WEEKDAY - sunday.weekday()) % 7)
    saturday = sunday - timedelta(days=1)
    assert compact_history(90, now=saturday).runs == 1501  # and the baseline taken on saving
    compacted = _store_bytes(app)
    assert compact_history(90, now=sunday).runs == 0  # nothing left to compact, the space is given back
    after = _store_bytes(app)
    assert after < 0.5 * before and after < 0.5 * compacted


@pytest.mark.postgres
def test_postgres_needs_no_vacuum_from_us(tmp_path: Path, postgres_url: str) -> None:
    from config.app import create_app
    from config.migrate import upgrade
    from config.settings import load_settings

    application = create_app(load_settings({"SCENEWATCH_DATA_DIR": str(tmp_path / "instance"),
                                            "SCENEWATCH_DATABASE_URL": postgres_url}), TESTING=True)
    with application.app_context():
        upgrade()
        assert reclaim_space() is False
