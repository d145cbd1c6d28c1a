"""The same store on PostgreSQL: migrations, harvest, scene runs, diffs."""
from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import load_settings
from tests.helpers import sample_records, write_snapshot

pytestmark = pytest.mark.postgres



@pytest.fixture
def pg_app(tmp_path: Path, postgres_url: str):
    url = postgres_url
    env = {"SCENEWATCH_DATA_DIR": str(tmp_path / "instance"), "SCENEWATCH_DATABASE_URL": url,
           "SCENEWATCH_WEBHOOK_ALLOW_PRIVATE": "1"}
    from config.app import create_app
    from config.migrate import upgrade

    app = create_app(load_settings(env), TESTING=True)
    with app.app_context():
        upgrade()
        yield app


def test_loop_on_postgres(pg_app, tmp_path: Path) -> None:
    from config.extensions import db
    from search.harvest import run_harvest
    from subscriptions.accounts import operator_user
    from subscriptions.runner import run_scene
    from subscriptions.scenes import create_scene

    assert db.engine is not None and db.engine.dialect.name == "postgresql"
    records = sample_records()[:40]
    summary = run_harvest("pg", write_snapshot(tmp_path / "a.json", records[:30]), fmt="portal-json")
    assert summary.seen == 30 and summary.new + summary.quarantined == 30
    with db.session() as session:
        created = create_scene(session, operator_user(session), name="pg", query={}, schedule="manual")
        scene_id = created.scene.id
        assert created.baseline is not None and created.baseline.state == "baseline"
    summary2 = run_harvest("pg", write_snapshot(tmp_path / "b.json", records[10:40]), fmt="portal-json")
    document = run_scene(scene_id)
    assert document["run"]["state"] == "changed"
    assert document["counts"]["added"] + document["counts"]["moved"] == summary2.new
    assert document["counts"]["removed"] + document["counts"]["moved"] == summary2.removed
    assert run_scene(scene_id)["run"]["state"] == "noop"
