"""On-change scenes after a harvest, run by a real Celery worker (Redis broker): the
batch of runs is queued, recorded by the worker and its webhook delivered."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from config.settings import load_settings
from tests.celery_worker import celery_worker, redis_broker_env, wait_for_webhook
from tests.helpers import sample_records, write_snapshot

pytestmark = pytest.mark.redis
T0 = datetime(2023, 7, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def broker_env(tmp_path: Path) -> dict[str, str]:
    return redis_broker_env(tmp_path / "instance")


def test_a_worker_runs_the_queued_batch_and_delivers(broker_env: dict[str, str], tmp_path: Path) -> None:
    from config.app import create_app
    from config.extensions import db
    from config.migrate import upgrade
    from notifier.receiver import VerifyingReceiver
    from search.harvest import run_harvest
    from subscriptions.accounts import operator_user
    from subscriptions.models import SceneRun
    from subscriptions.on_change import evaluate_affected
    from subscriptions.scenes import create_scene

    app = create_app(load_settings(broker_env), TESTING=True)
    with app.app_context():
        upgrade()
    with celery_worker(broker_env) as worker, app.app_context(), VerifyingReceiver() as receiver:
        records = sample_records()[:60]
        run_harvest("hz", write_snapshot(tmp_path / "a.json", records[:40]), fmt="portal-json", now=T0)
        with db.session() as session:
            owner = operator_user(session)
            created = create_scene(session, owner, name="all", query={}, schedule="on-change",
                                   webhook=receiver.url, now=T0)
            untouched = create_scene(session, owner, name="none", query={"text": "zzzqqq"},
                                     schedule="on-change", now=T0).scene.id
            scene_id = created.scene.id
            receiver.secret = created.channels[0].secret
        later = T0 + timedelta(hours=1)
        summary = run_harvest("hz", write_snapshot(tmp_path / "b.json", records[5:]), fmt="portal-json",
                              now=later)
        assert evaluate_affected(summary.changed_ids, summary.removed_ids, now=later) == [
            {"id": scene_id, "state": "queued"}]
        wait_for_webhook(receiver, worker)
        assert len(receiver.received) == 1 and receiver.rejected == []
        (payload,) = receiver.received.values()
        diff = payload["data"]
        assert diff["run"]["state"] == "changed"
        assert diff["counts"]["added"] + diff["counts"]["moved"] == summary.new
        assert diff["counts"]["removed"] + diff["counts"]["moved"] == summary.removed
        assert diff["run"]["scheduled_for"] == later.isoformat()
        with db.session() as session:
            run = session.get(SceneRun, diff["run"]["id"])
            assert run is not None and run.scene_id == scene_id and run.state == "changed"
            assert [r.state for r in session.get(SceneRun, run.id).scene.runs] == ["changed", "baseline"]
            assert untouched not in set(session.scalars(
                select(SceneRun.scene_id).where(SceneRun.scheduled_for == later)))
