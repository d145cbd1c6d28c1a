"""Fixtures for the delivery side: a database of its own, a real local webhook
receiver and a real local SMTP server (no HTTP or SMTP is mocked)."""
from __future__ import annotations

import dataclasses
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from config.extensions import db
from config.settings import Settings

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def nsettings(settings: Settings) -> Settings:
    """Settings for delivery tests: a 3-step zero-delay retry schedule, local targets allowed."""
    return dataclasses.replace(settings, webhook_retry_schedule=(0, 0, 0), webhook_allow_private=True,
                               base_url="https://scenewatch.example", webhook_timeout=2,
                               mail_from="scenewatch <alerts@scenewatch.example>")


@pytest.fixture
def database(tmp_path: Path) -> Iterator[None]:
    from tests.template_db import install_store

    url = f"sqlite:///{tmp_path / 'notifier.sqlite'}"
    install_store(url)
    db.init(url)
    assert db.engine is not None
    yield
    db.engine.dispose()
    db.engine, db.Session, db.url = None, None, ""


def sample_document(name: str = "杭州交通", added: int = 2, scene_id: int = 1, run_id: int = 1) -> dict[str, Any]:
    """A diff document shaped like the runner's."""
    return {
        "scene": {"id": scene_id, "name": name},
        "run": {"id": run_id, "state": "changed", "started_at": "2026-03-02T00:59:00+00:00",
                "finished_at": "2026-03-02T01:00:00+00:00"},
        "counts": {"matched": 40, "added": added, "removed": 1, "changed": 1, "moved": 0},
        "added": [{"id": f"hz:{i}", "title": f"公交线路数据 {i}", "publisher": "杭州市交通运输局",
                   "region": "杭州市", "landing_page": f"https://data.example.cn/ds/{i}",
                   "formats": ["csv", "json"], "modified": "2026-03-01"} for i in range(added)],
        "removed": [{"id": "hz:old", "title": "出租车站点", "reason": "deleted_from_catalog"}],
        "changed": [{"id": "hz:9", "title": "地铁客流", "landing_page": "https://data.example.cn/ds/9",
                     "changes": [{"field": "modified", "old": "2026-01-01", "new": "2026-03-01"},
                                 {"field": "formats", "old": ["csv"], "new": ["csv", "xlsx"]}]}],
        "moved": [],
        "links": {"scene": "https://scenewatch.example/scenes/1",
                  "download_all": "https://scenewatch.example/downloads/tok"},
    }


@pytest.fixture
def make_scene(database: None) -> Callable[..., tuple[int, int, list[int]]]:
    """Create a user, a scene, a run and channels; returns (scene id, run id, channel ids).

    Each channel is a dict of Channel fields (kind and target at least).
    """
    from notifier.models import Channel
    from subscriptions.models import Scene, SceneRun, User

    counter = {"n": 0}

    def make(channels: list[dict[str, Any]], tz: str = "Asia/Shanghai") -> tuple[int, int, list[int]]:
        counter["n"] += 1
        n = counter["n"]
        with db.session() as session:
            user = User(email=f"owner{n}@example.org", timezone=tz, created_at=NOW)
            session.add(user)
            session.flush()
            rows = [Channel(owner_id=user.id, created_at=NOW, **{"locale": "zh", **spec}) for spec in channels]
            scene = Scene(owner_id=user.id, name=f"scene {n}", query={}, tracked_fields=[],
                          feed_token=f"feed-{n}", created_at=NOW)
            scene.channels = rows
            session.add(scene)
            session.flush()
            run = SceneRun(scene_id=scene.id, scheduled_for=NOW, started_at=NOW, state="changed")
            session.add(run)
            session.flush()
            return scene.id, run.id, [c.id for c in rows]

    return make


class Receiver:
    """A real HTTP server on 127.0.0.1 that verifies Standard Webhooks signatures with
    the ``standardwebhooks`` package and answers what it is told to."""

    def __init__(self) -> None:
        self.secret = ""
        self.requests: list[dict[str, Any]] = []
        self.answers: list[tuple[int, dict[str, str]]] = []  # consumed in order, then 200
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    payload = Webhook(receiver.secret).verify(body, headers)
                    verified = True
                except (WebhookVerificationError, Exception):  # noqa: BLE001
                    payload, verified = None, False
                receiver.requests.append({"path": self.path, "headers": headers, "body": body,
                                          "payload": payload, "verified": verified})
                if receiver.delay:
                    time.sleep(receiver.delay)
                status, extra = receiver.answers.pop(0) if receiver.answers else (200, {})
                reply = json.dumps({"note": "receiver body that must never be stored"}).encode()
                try:
                    self.send_response(status)
                    for key, value in extra.items():
                        self.send_header(key, value)
                    self.send_header("content-length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:  # the client gave up (timeout test)
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    rec.thread.start()
    yield rec
    rec.server.shutdown()
    rec.server.server_close()


class SMTPSink:
    """aiosmtpd handler that keeps every message; recipients can be refused by code."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.refuse: dict[str, str] = {}  # address → SMTP reply

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(envelope)
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[SMTPSink, int]]:
    sink = SMTPSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


@pytest.fixture
def smtp_settings(nsettings: Settings, smtp_server: tuple[SMTPSink, int]) -> Settings:
    return dataclasses.replace(nsettings, smtp_host="127.0.0.1", smtp_port=smtp_server[1], smtp_security="none")
