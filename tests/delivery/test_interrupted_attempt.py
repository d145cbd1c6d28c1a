"""An attempt cut off by a killed worker is in the delivery log: a process is killed
(SIGKILL) while its webhook request is in flight; once the lease runs out the next
attempt logs the lost one as interrupted and sends again with the same webhook-id."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.delivery.conftest import base_env

ROOT = Path(__file__).resolve().parents[2]
LEASE = 2
# A worker of its own: settings from the environment, no Flask app.
WORKER = """
import sys
from config.app import init_services
from config.settings import load_settings
from notifier.delivery import deliver_notification

settings = load_settings()
init_services(settings)
deliver_notification(int(sys.argv[1]), settings=settings)
"""


class StallingReceiver:
    """Answers 200, except that the first request is held until the test lets go."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.first = threading.Event()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("content-length") or 0))
                receiver.ids.append(self.headers.get("webhook-id") or "")
                if not receiver.first.is_set():
                    receiver.first.set()
                    receiver.release.wait(30)
                    return  # the sender is gone: no answer
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_a_killed_workers_attempt_is_logged_as_interrupted(make_app, tmp_path: Path) -> None:
    from config.extensions import db
    from notifier.delivery import deliver_notification
    from notifier.lifecycle import new_message_id
    from notifier.models import Channel, Delivery, Notification
    from notifier.signing import generate_secret
    from subscriptions.accounts import operator_user

    extra = {"SCENEWATCH_DELIVERY_LEASE": str(LEASE), "SCENEWATCH_WEBHOOK_TIMEOUT": "20"}
    settings = make_app(**extra).config["SCENEWATCH"]
    receiver = StallingReceiver()
    try:
        now = datetime.now(UTC)
        with db.session() as session:
            owner = operator_user(session)
            channel = Channel(owner_id=owner.id, kind="webhook", target=receiver.url, secret=generate_secret(),
                              verified=True, created_at=now)
            session.add(channel)
            session.flush()
            note = Notification(message_id=new_message_id(), channel_id=channel.id, event_type="scene.changed",
                                payload={"counts": {"added": 1}, "added": [{"id": "hz:1"}]}, state="pending",
                                attempts=0, next_attempt_at=now, created_at=now)
            session.add(note)
            session.flush()
            nid, message_id = note.id, note.message_id

        worker = subprocess.Popen([sys.executable, "-c", WORKER, str(nid)], cwd=ROOT,
                                  env={**os.environ, **base_env(tmp_path, **extra)})
        try:
            assert receiver.first.wait(60), "the worker never sent"
            os.kill(worker.pid, signal.SIGKILL)  # mid-request: no outcome is recorded
        finally:
            worker.wait(timeout=30)
        assert worker.returncode == -signal.SIGKILL
        with db.session() as session:
            claimed = session.get(Notification, nid)
            assert (claimed.state, claimed.attempts) == ("pending", 1)
            assert session.scalars(select(Delivery)).all() == []  # nothing yet: the lease still runs

        assert deliver_notification(nid, settings=settings) == "pending"  # leased: not due yet
        time.sleep(LEASE + 0.5)
        assert deliver_notification(nid, settings=settings) == "sent"
        with db.session() as session:
            rows = session.scalars(select(Delivery).order_by(Delivery.attempt)).all()
            assert [(r.attempt, r.ok) for r in rows] == [(1, False), (2, True)]
            assert rows[0].error is not None and rows[0].error.startswith("interrupted")
            assert session.get(Notification, nid).attempts == 2  # the cut-off attempt counts
        assert receiver.ids == [message_id, message_id]  # the same webhook-id both times
    finally:
        receiver.close()
