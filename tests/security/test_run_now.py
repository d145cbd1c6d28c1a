"""Run now: two (or six) clicks at once give one run and one set of notifications.

The requests are real: a threaded HTTP server serves the app, and the clicks are
separate HTTP requests sent by threads released together, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select
from werkzeug.serving import make_server

from config.extensions import db
from config.settings import Settings
from notifier.models import Notification
from subscriptions.models import Scene, SceneRun, User
from subscriptions.run_lock import RunInProgress, scene_claim
from subscriptions.run_now import start_run_now
from subscriptions.scenes import create_scene
from tests.web.conftest import harvest, later, slice_records

CLICKS = 6
TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@contextmanager
def served(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def _changed_catalog(tmp_path: Path) -> int:
    """A scene on traffic datasets with its baseline taken, then a harvest that changes
    the catalog: the next run finds changes. Returns the scene id."""
    records = slice_records()
    harvest(records, tmp_path)
    with db.session() as s:
        owner = User(email="owner@example.org", password_hash="", created_at=later(0))
        s.add(owner)
        s.flush()
        scene_id = create_scene(s, owner, name="交通", query={"text": "交通"}, schedule="manual",
                                email="owner@example.org", email_verified=True).scene.id
    with db.session() as s:  # saving the scene took its baseline
        assert list(s.scalars(select(SceneRun.state).where(SceneRun.scene_id == scene_id))) == ["baseline"]
    changed = [dict(r) for r in records if "交通" not in (r.get("资源名称") or "")]
    changed += [dict(r, 资源名称=(r.get("资源名称") or "") + "（修订）")
                for r in records if "交通" in (r.get("资源名称") or "")]
    harvest(changed, tmp_path, now=later(1))
    return scene_id


def _log_in_session(base: str, app: Flask) -> requests.Session:
    from tests.security.conftest import PASSWORD

    browser = requests.Session()
    token = TOKEN_RE.search(browser.get(f"{base}/register").text)
    assert token
    reply = browser.post(f"{base}/register", allow_redirects=False,
                         data={"email": "owner2@example.org", "password": PASSWORD, "password2": PASSWORD,
                               "timezone": "UTC", "csrf_token": token.group(1)})
    assert reply.status_code == 302
    return browser


def _hand_over(scene_id: int, email: str) -> None:
    with db.session() as s:
        user = s.scalar(select(User).where(User.email == email))
        scene = s.get(Scene, scene_id)
        assert user is not None and scene is not None
        scene.owner_id = user.id
        for channel in scene.channels:
            channel.owner_id = user.id


def _clicks(app: Flask, scene_id: int) -> list[int]:
    """CLICKS simultaneous "Run now" posts through a real server; their status codes."""
    with served(app) as base:
        browser = _log_in_session(base, app)
        _hand_over(scene_id, "owner2@example.org")
        page = browser.get(f"{base}/scenes/{scene_id}").text
        token = TOKEN_RE.search(page)
        assert token
        cookies = browser.cookies.get_dict()
        gate = threading.Barrier(CLICKS)
        statuses: list[int] = []

        def click() -> None:
            session = requests.Session()
            session.cookies.update(cookies)
            gate.wait()
            reply = session.post(f"{base}/scenes/{scene_id}/run", data={"csrf_token": token.group(1)},
                                 allow_redirects=False, timeout=120)
            statuses.append(reply.status_code)

        threads = [threading.Thread(target=click) for _ in range(CLICKS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return statuses


def _outcome(scene_id: int) -> tuple[list[str], int]:
    with db.session() as s:
        states = list(s.scalars(select(SceneRun.state).where(SceneRun.scene_id == scene_id)
                                .order_by(SceneRun.id)))
        notes = s.scalar(select(func.count()).select_from(Notification)
                         .where(Notification.scene_id == scene_id))
    return states, int(notes or 0)


def _check_one_run(app: Flask, scene_id: int) -> None:
    statuses = _clicks(app, scene_id)
    assert statuses == [302] * CLICKS  # everyone gets a page back: the run, or "in progress"
    states, notifications = _outcome(scene_id)
    assert states[0] == "baseline"
    assert states[1:].count("changed") == 1, states
    assert set(states[1:]) <= {"changed", "noop"}
    assert notifications == 1  # one channel, one notification: no duplicate send
    with db.session() as s:
        scene = s.get(Scene, scene_id)
        assert scene is not None and scene.run_claimed_at is None  # released


def _app(settings: Settings) -> Flask:
    from config.app import create_app
    from config.migrate import upgrade

    application = create_app(settings)
    with application.app_context():
        upgrade()
    return application


def test_simultaneous_clicks_give_one_run_on_sqlite(settings: Settings, tmp_path: Path) -> None:
    application = _app(settings)
    with application.app_context():
        _check_one_run(application, _changed_catalog(tmp_path))


@pytest.mark.postgres
def test_simultaneous_clicks_give_one_run_on_postgres(settings: Settings, tmp_path: Path,
                                                      postgres_url: str) -> None:
    application = _app(dataclasses.replace(settings, database_url=postgres_url))
    with application.app_context():
        _check_one_run(application, _changed_catalog(tmp_path))


def test_a_second_caller_is_told_a_run_is_in_progress(app: Flask, tmp_path: Path) -> None:
    scene_id = _changed_catalog(tmp_path)
    with scene_claim(scene_id) as since:
        outcome = start_run_now(scene_id)
        assert not outcome.started and outcome.in_progress_since == since
        with pytest.raises(RunInProgress):
            with scene_claim(scene_id):
                pass
    assert start_run_now(scene_id).document["run"]["state"] == "changed"  # type: ignore[index]


def test_an_abandoned_claim_expires(app: Flask, tmp_path: Path) -> None:
    from datetime import timedelta

    from subscriptions.run_lock import CLAIM_LEASE, try_claim

    scene_id = _changed_catalog(tmp_path)
    old = try_claim(scene_id)
    assert old is not None  # a worker took it and was killed
    assert not start_run_now(scene_id).started
    assert try_claim(scene_id, now=old + CLAIM_LEASE + timedelta(seconds=1)) is not None
