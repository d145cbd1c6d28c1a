"""Done when: ``kill -9`` of a Celery worker in the middle of sending 1,000 webhooks
loses nothing: after a new worker starts (and the delivery tick re-queues what the
dead worker had leased, once the lease runs out) every notification has been
received at least once, and no webhook-id ever arrives with different content.

Real Redis broker, real worker processes, a receiver process of its own."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.delivery.conftest import base_env
from tests.delivery.receiver_server import read_log

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
COUNT = 1000
LEASE = 5


def _start_worker(env: dict[str, str], name: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config.worker", "worker", "-Q", "harvest,scenes,delivery",
         "--pool", "threads", "--concurrency", "8", "-n", f"{name}@%h", "--loglevel", "WARNING"],
        env={**os.environ, **env}, cwd=ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def _start_receiver(tmp_path: Path, secret: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    log, port_file = tmp_path / "received.jsonl", tmp_path / "receiver.port"
    proc = subprocess.Popen([sys.executable, "-m", "tests.delivery.receiver_server", "--secret", secret,
                             "--delay", "0.01", "--log", str(log), "--port-file", str(port_file)], cwd=ROOT)
    deadline = time.monotonic() + 20
    while not port_file.exists() or not port_file.read_text():
        assert proc.poll() is None and time.monotonic() < deadline, "receiver did not start"
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port_file.read_text()}/hook", log


def _states() -> dict[str, int]:
    from config.extensions import db
    from notifier.models import Notification

    with db.session() as session:
        return dict(session.execute(select(Notification.state, func.count()).group_by(Notification.state)).all())


def test_kill_9_mid_batch_loses_nothing(make_app, tmp_path: Path) -> None:
    import redis

    from config.extensions import db
    from notifier.dispatch import dispatch_notifications
    from notifier.lifecycle import new_message_id
    from notifier.models import Channel, Notification
    from notifier.signing import generate_secret
    from notifier.tasks import deliver_due_task
    from subscriptions.accounts import operator_user

    url = os.environ.get("SCENEWATCH_TEST_REDIS_URL")
    if not url:
        pytest.fail("SCENEWATCH_TEST_REDIS_URL is not set (.ci/run sets it)")
    redis.Redis.from_url(url).flushdb()  # a broker db of our own: no stale tasks
    extra = {"SCENEWATCH_BROKER_URL": url, "SCENEWATCH_DELIVERY_LEASE": str(LEASE),
             "SCENEWATCH_WEBHOOK_RETRY_SCHEDULE": "1,1,1,1,1"}
    env = base_env(tmp_path, **extra)
    make_app(**extra)
    secret = generate_secret()
    receiver, hook_url, received = _start_receiver(tmp_path, secret)
    worker_log = tmp_path / "workers.log"
    workers: list[subprocess.Popen[bytes]] = []
    try:
        now = datetime.now(UTC)
        with db.session() as session:
            owner = operator_user(session)
            channel = Channel(owner_id=owner.id, kind="webhook", target=hook_url, secret=secret, verified=True,
                              created_at=now)
            session.add(channel)
            session.flush()
            rows = [Notification(message_id=new_message_id(), channel_id=channel.id, event_type="scene.changed",
                                 payload={"n": n, "counts": {"added": 1}, "added": [{"id": f"hz:{n}"}]},
                                 state="pending", attempts=0, next_attempt_at=now, created_at=now)
                    for n in range(COUNT)]
            session.add_all(rows)
            session.flush()
            ids = [n.id for n in rows]
            expected = {n.message_id: n.payload["n"] for n in rows}

        workers.append(_start_worker(env, "first", worker_log))
        dispatch_notifications(ids)  # 1,000 tasks on the delivery queue
        deadline = time.monotonic() + 120
        while len(read_log(received)) < COUNT // 4:
            assert workers[0].poll() is None, worker_log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the first worker never got going"
            time.sleep(0.02)
        os.kill(workers[0].pid, signal.SIGKILL)  # mid-send: no warm shutdown, no ack
        workers[0].wait(timeout=30)
        at_kill = len(read_log(received))
        assert at_kill < COUNT, "the kill must land mid-batch"
        leased = _states().get("pending", 0)
        assert leased > 0

        workers.append(_start_worker(env, "second", worker_log))
        deadline = time.monotonic() + 180
        last_tick = 0.0
        while _states().get("sent", 0) < COUNT:
            assert workers[1].poll() is None, worker_log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"not everything was sent: {_states()}"
            if time.monotonic() - last_tick > LEASE:  # the scheduler's delivery tick
                deliver_due_task.delay()
                last_tick = time.monotonic()
            time.sleep(0.2)
        time.sleep(1.0)  # let any late duplicate land before counting
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=30)
        receiver.terminate()
        receiver.wait(timeout=10)

    entries = read_log(received)
    bodies: dict[str, set[str]] = defaultdict(set)
    for entry in entries:
        assert entry["verified"], entry["id"]
        bodies[entry["id"]].add(entry["sha256"])
    assert set(bodies) == set(expected), "every notification received, nothing unknown"
    assert all(len(hashes) == 1 for hashes in bodies.values()), "a webhook-id arrived with different content"
    duplicates = len(entries) - len(bodies)
    print(f"\nreceived {len(entries)} requests for {COUNT} notifications "
          f"({at_kill} before the kill, {duplicates} duplicates, receiver dedupes on webhook-id)")
    assert _states() == {"sent": COUNT}
