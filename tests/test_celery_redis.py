"""Delivery on a real Celery worker with a Redis broker."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config.settings import load_settings
from tests.helpers import sample_records, write_snapshot

pytestmark = pytest.mark.redis


@pytest.fixture
def broker_env(tmp_path: Path) -> dict[str, str]:
    url = os.environ.get("SCENEWATCH_TEST_REDIS_URL")
    if not url:
        pytest.fail("SCENEWATCH_TEST_REDIS_URL is not set (.ci/run sets it)")
    import redis

    redis.Redis.from_url(url).flushdb()  # a broker db of our own: no stale tasks
    return {"SCENEWATCH_DATA_DIR": str(tmp_path / "instance"), "SCENEWATCH_BROKER_URL": url,
            "SCENEWATCH_WEBHOOK_ALLOW_PRIVATE": "1"}


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
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config.worker", "worker", "-Q", "harvest,scenes,delivery",
         "--pool", "solo", "--loglevel", "WARNING"],
        env={**os.environ, **broker_env}, cwd=Path(__file__).resolve().parents[1])
    try:
        with app.app_context(), VerifyingReceiver() as receiver:
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
            deadline = time.monotonic() + 60
            while not receiver.received and time.monotonic() < deadline:
                assert worker.poll() is None, "worker died"
                time.sleep(0.2)
            assert len(receiver.received) == 1 and receiver.rejected == []
            (payload,) = receiver.received.values()
            assert payload["data"]["counts"] == document["counts"]
    finally:
        worker.terminate()
        worker.wait(timeout=30)
