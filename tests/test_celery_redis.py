"""Delivery on a real Celery worker with a Redis broker."""
from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import load_settings
from tests.celery_worker import celery_worker, redis_broker_env, wait_for_webhook
from tests.helpers import sample_records, write_snapshot

pytestmark = pytest.mark.redis


@pytest.fixture
def broker_env(tmp_path: Path) -> dict[str, str]:
    return redis_broker_env(tmp_path / "instance")


def test_worker_delivers_webhook(broker_env: dict[str, str], tmp_path: Path) -> None:
    from config.app import create_app
    from config.extensions import db
    from config.migrate import upgrade
    from notifier.receiver import VerifyingReceiver
    from search.harvest import run_harvest
    from subscriptions.accounts import operator_user
    from subscriptions.runner import run_scene
    from subscriptions.scenes import create_scene

    app = create_app(load_settings(broker_env), TESTING=True)
    with app.app_context():
        upgrade()
    with celery_worker(broker_env) as worker, app.app_context(), VerifyingReceiver() as receiver:
        records = sample_records()[:30]
        run_harvest("hz", write_snapshot(tmp_path / "a.json", records[:20]), fmt="portal-json")
        with db.session() as session:
            created = create_scene(session, operator_user(session), name="celery", query={},
                                   schedule="manual", webhook=receiver.url)
            scene_id = created.scene.id
            receiver.secret = created.channels[0].secret
        run_scene(scene_id)
        run_harvest("hz", write_snapshot(tmp_path / "b.json", records), fmt="portal-json")
        document = run_scene(scene_id)  # the notification is queued for the worker
        assert document["run"]["state"] == "changed"
        wait_for_webhook(receiver, worker)
        assert len(receiver.received) == 1 and receiver.rejected == []
        (payload,) = receiver.received.values()
        assert payload["data"]["counts"] == document["counts"]
