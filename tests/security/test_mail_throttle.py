"""Nobody can use the service to flood a stranger's mailbox or webhook."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from flask import Flask
from sqlalchemy import select

from config.extensions import db
from notifier.mailer import list_outbox
from notifier.models import Channel
from subscriptions.models import User
from subscriptions.scenes import create_scene
from tests.security.conftest import csrf_token, register


def _scene(owner: str, **channels: str) -> tuple[int, dict[str, int]]:
    with db.session() as s:
        user = s.scalar(select(User).where(User.email == owner))
        assert user is not None
        made = create_scene(s, user, name="s", query={}, schedule="manual", **channels)  # type: ignore[arg-type]
        return made.scene.id, {c.kind: c.id for c in made.channels}


def test_fifty_resend_clicks_send_at_most_the_limit(dev_app: Flask) -> None:
    settings = dev_app.config["SCENEWATCH"]
    client = dev_app.test_client()
    register(client, "spammer@example.org")
    scene_id, channels = _scene("spammer@example.org", email="stranger@example.org")
    token = csrf_token(client, f"/scenes/{scene_id}")
    statuses = [client.post(f"/scenes/{scene_id}/channels/{channels['email']}/confirm",
                            data={"csrf_token": token}).status_code for _ in range(50)]
    to_stranger = [e for e in list_outbox(settings, 1000) if "stranger@example.org" in e.to]
    assert len(to_stranger) == 3  # the default: 3 per hour per address
    assert statuses[:3] == [302] * 3 and set(statuses[3:]) == {429}


def test_many_scenes_naming_one_stranger_send_at_most_the_limit(dev_app: Flask) -> None:
    settings = dev_app.config["SCENEWATCH"]
    client = dev_app.test_client()
    register(client, "spammer2@example.org")
    token = csrf_token(client, "/scenes/new")
    for n in range(10):
        reply = client.post("/scenes/new", data={"name": f"s{n}", "schedule": "manual",
                                                 "email": "Victim@Example.org", "csrf_token": token})
        assert reply.status_code == 302
    assert len([e for e in list_outbox(settings, 1000) if "victim@example.org" in e.to.lower()]) == 3


class _Counter(BaseHTTPRequestHandler):
    hits = 0

    def do_POST(self) -> None:  # noqa: N802
        type(self).hits += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    _Counter.hits = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook"
    finally:
        server.shutdown()


def test_the_webhook_test_button_is_limited(dev_app: Flask, receiver: str) -> None:
    client = dev_app.test_client()
    register(client, "tester@example.org")
    scene_id, channels = _scene("tester@example.org", webhook=receiver)
    token = csrf_token(client, f"/scenes/{scene_id}")
    statuses = [client.post(f"/scenes/{scene_id}/channels/{channels['webhook']}/test",
                            data={"csrf_token": token}).status_code for _ in range(30)]
    assert _Counter.hits == 10  # the default: 10 per 10 minutes per channel
    assert statuses.count(429) == 20
    with db.session() as s:
        assert s.get(Channel, channels["webhook"]) is not None
