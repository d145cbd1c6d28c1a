"""Helpers for the batch-download tests: a small store, a local file server, a web app.

The store is built directly from the models (no harvest, no search index), so these
tests exercise only the download side.
"""
from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from config.extensions import db
from config.settings import Settings

NOW = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def make_settings(tmp_path: Path, **changes: Any) -> Settings:
    """Settings for a store in ``tmp_path`` that allows fetching from 127.0.0.1."""
    values: dict[str, Any] = dict(
        data_dir=tmp_path / "instance", database_url=f"sqlite:///{tmp_path / 'store.sqlite'}",
        secret_key="download-tests-secret", base_url="http://scenewatch.test",
        webhook_allow_private=True, download_ttl=3600)
    values.update(changes)
    return Settings(**values)


def init_store(settings: Settings) -> None:
    """Bind ``db`` to a fresh migrated store at the settings' database URL."""
    from tests.template_db import install_store

    install_store(settings.database_url)
    db.init(settings.database_url)
    assert db.engine is not None


def web_app(settings: Settings) -> Flask:
    """A bare Flask app with only the download views (the rest of the app is not needed)."""
    from subscriptions.downloads.views import register_download_views

    app = Flask("downloads-test")
    app.config.update(SECRET_KEY=settings.secret_key, SCENEWATCH=settings, TESTING=True)
    register_download_views(app)
    return app


def add_user(session: Session, email: str = "owner@example.org", locale: str = "zh") -> Any:
    from subscriptions.models import User

    user = User(email=email, password_hash="", locale=locale, timezone="Asia/Shanghai",
                created_at=NOW)
    session.add(user)
    session.flush()
    return user


def add_scene(session: Session, owner: Any, name: str = "北京 企业名单",
              token: str = "feed-secret-1") -> Any:
    from subscriptions.models import Scene

    scene = Scene(owner_id=owner.id, name=name, query={}, schedule="daily",
                  timezone="Asia/Shanghai", tracked_fields=["title"], paused=False,
                  feed_token=token, created_at=NOW)
    session.add(scene)
    session.flush()
    return scene


def add_dataset(session: Session, dataset_id: str, scene: Any | None = None, **fields: Any) -> Any:
    """A dataset with one version; a member of ``scene`` when given."""
    from search.models import Dataset, DatasetVersion
    from subscriptions.models import SceneMember

    values: dict[str, Any] = dict(title=f"数据集 {dataset_id}", publisher="北京市经济和信息化局",
                                  region="北京市", formats=["csv"], resources=[],
                                  modified="2024-04-01",
                                  landing_page=f"https://data.example.gov.cn/{dataset_id}",
                                  quality={"completeness": 0.9})
    values.update(fields)
    source, _, native = dataset_id.partition(":")
    digest = hashlib.sha256(repr(sorted(values.items())).encode()).hexdigest()
    dataset = Dataset(id=dataset_id, source=source, native_id=native, content_hash=digest,
                      first_seen_at=NOW, last_seen_at=NOW, last_changed_at=NOW, **values)
    session.add(dataset)
    session.flush()
    version = DatasetVersion(dataset_id=dataset_id, content_hash=digest, content=dataset.content(),
                             quality=dataset.quality, seen_at=NOW)
    session.add(version)
    session.flush()
    dataset.current_version_id = version.id
    if scene is not None:
        session.add(SceneMember(scene_id=scene.id, dataset_id=dataset_id, version_id=version.id))
    return dataset


def add_run(session: Session, scene: Any, diff: dict[str, Any], *, state: str = "changed",
            hours: int = 0) -> Any:
    from subscriptions.models import SceneRun

    when = NOW + timedelta(hours=hours)
    counts = {key: len(diff.get(key) or []) for key in ("added", "removed", "changed", "moved")}
    document = {"scene": {"id": scene.id, "name": scene.name}, "run": {}, "counts": counts,
                "added": [], "removed": [], "changed": [], "moved": [], "links": {}, **diff}
    run = SceneRun(scene_id=scene.id, scheduled_for=when, state=state, started_at=when,
                   finished_at=when + timedelta(seconds=3), diff=document, **counts)
    session.add(run)
    session.flush()
    return run


class _Handler(SimpleHTTPRequestHandler):
    """Serves files, plus two awkward endpoints: ``/_slow/<s>`` answers after a
    delay and ``/_stream/<n>`` sends n bytes without a Content-Length."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.startswith("/_slow/"):
            time.sleep(float(self.path.rsplit("/", 1)[-1]))
            self._send(b"late", length=True)
        elif self.path.startswith("/_stream/"):
            self._send(b"x" * int(self.path.rsplit("/", 1)[-1]), length=False)
        else:
            super().do_GET()

    def _send(self, body: bytes, *, length: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should for a file over the cap
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        return


@contextmanager
def file_server(directory: Path) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving ``directory``; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(directory)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
