"""The production path: PostgreSQL claims and a real Celery worker on the `harvest`
queue (Redis broker) harvesting a due source and pushing the on-change diff."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from config.settings import load_settings
from tests.helpers import sample_records, write_snapshot

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCENEWATCH_")}
    env.update({"SCENEWATCH_DATA_DIR": str(tmp_path / "instance"),
                "SCENEWATCH_WEBHOOK_ALLOW_PRIVATE": "1", **extra})
    return env


@pytest.mark.postgres
def test_two_schedulers_on_postgres_harvest_a_due_source_once(postgres_url: str,
                                                              tmp_path: Path) -> None:
    from config.app import create_app
    from config.extensions import db
    from config.migrate import upgrade
    from search.models import Harvest, Source
    from search.sources import SourceSpec, add_source
    from search.tasks import harvest_due_sources_task

    app = create_app(load_settings(_env(tmp_path, SCENEWATCH_DATABASE_URL=postgres_url)))
    with app.app_context():
        upgrade()
        path = write_snapshot(tmp_path / "c.json", sample_records()[:80])
        with db.session() as session:
            add_source(session, SourceSpec(name="pg", location=path, schedule="*/5 * * * *"))
            session.flush()
            session.execute(update(Source).values(
                next_harvest_at=datetime.now(UTC) - timedelta(seconds=1)))
    barrier = threading.Barrier(4)
    counts: list[int] = []

    def tick() -> None:
        with app.app_context():
            barrier.wait()
            counts.append(harvest_due_sources_task())

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sorted(counts) == [0, 0, 0, 1]
    with app.app_context(), db.session() as session:
        assert session.scalar(select(func.count()).select_from(Harvest)) == 1
        assert session.scalar(select(Harvest.status)) == "ok"


@pytest.mark.redis
def test_a_worker_on_the_harvest_queue_harvests_and_pushes(tmp_path: Path) -> None:
    import redis

    from config.app import create_app
    from config.extensions import db
    from config.migrate import upgrade
    from notifier.receiver import VerifyingReceiver
    from search.models import Harvest, Source
    from search.sources import SourceSpec, add_source
    from search.tasks import harvest_due_sources_task
    from subscriptions.accounts import operator_user
    from subscriptions.scenes import create_scene

    url = os.environ.get("SCENEWATCH_TEST_REDIS_URL")
    if not url:
        pytest.fail("SCENEWATCH_TEST_REDIS_URL is not set (.ci/run sets it)")
    redis.Redis.from_url(url).flushdb()
    env = _env(tmp_path, SCENEWATCH_BROKER_URL=url)
    app = create_app(load_settings(env))
    records = sample_records()[:40]
    path = Path(write_snapshot(tmp_path / "c.json", records[:30]))
    with app.app_context():
        upgrade()
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config.worker", "worker", "-Q", "harvest,scenes,delivery",
         "--pool", "solo", "--loglevel", "WARNING"], env=env, cwd=ROOT)
    try:
        with app.app_context(), VerifyingReceiver() as receiver:
            from search.source_runs import harvest_source

            with db.session() as session:
                add_source(session, SourceSpec(name="hz", location=str(path), schedule="*/5 * * * *"))
            assert harvest_source("hz").status == "ok"  # the catalog the scene is saved against
            with db.session() as session:
                created = create_scene(session, operator_user(session), name="worker", query={},
                                       schedule="on-change", webhook=receiver.url)
                receiver.secret = created.channels[0].secret
                session.execute(update(Source).values(
                    next_harvest_at=datetime.now(UTC) - timedelta(seconds=1)))
            write_snapshot(path, records[5:40])
            assert harvest_due_sources_task() == 1  # the scheduler only queues
            deadline = time.monotonic() + 90
            while not receiver.received and time.monotonic() < deadline:
                assert worker.poll() is None, "worker died"
                time.sleep(0.2)
            assert len(receiver.received) == 1 and receiver.rejected == []
            (payload,) = receiver.received.values()
            counts = payload["data"]["counts"]
            assert counts["added"] + counts["moved"] >= 5 and counts["removed"] + counts["moved"] >= 5
            with db.session() as session:
                triggers = session.scalars(select(Harvest.trigger).order_by(Harvest.id)).all()
            assert triggers == ["cli", "clock"]
    finally:
        worker.terminate()
        worker.wait(timeout=30)
