"""Fixtures for the delivery Done-when tests: an app on a store of its own, a scene
that has just changed, and real receivers (HTTP in a thread, SMTP via aiosmtpd)."""
from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from config.settings import load_settings
from tests.helpers import sample_records, write_snapshot


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A clean SCENEWATCH_* environment for one test installation."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCENEWATCH_")}
    env.update({"SCENEWATCH_DATA_DIR": str(tmp_path / "instance"), "SCENEWATCH_WEBHOOK_ALLOW_PRIVATE": "1",
                "SCENEWATCH_BASE_URL": "https://scenewatch.example", "SCENEWATCH_WEBHOOK_TIMEOUT": "3",
                "SCENEWATCH_MAIL_FROM": "scenewatch <alerts@scenewatch.example>"})
    env.update(extra)
    return env


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Build an app from SCENEWATCH_* overrides, migrate it, and push its context.

    A SQLite store starts as a copy of the migrated template; a second app in the
    same test shares the first one's store."""
    from config.app import create_app
    from config.migrate import upgrade
    from tests.template_db import install_store, sqlite_file

    contexts: list[Any] = []

    def make(**extra: str) -> Flask:
        settings = load_settings(base_env(tmp_path, **extra))
        if settings.database_url.startswith("sqlite:///") and not sqlite_file(settings.database_url).exists():
            install_store(settings.database_url)
        app = create_app(settings, TESTING=True, WTF_CSRF_ENABLED=False)
        ctx = app.app_context()
        ctx.push()
        contexts.append(ctx)
        upgrade()
        return app

    yield make
    for ctx in reversed(contexts):
        ctx.pop()


@dataclass
class ChangedScene:
    """A scene with a baseline run and a harvest since: its next run has a diff."""

    scene_id: int
    channel_ids: list[int]
    secret: str


@pytest.fixture
def changed_scene(tmp_path: Path) -> Callable[..., ChangedScene]:
    """Harvest, create a scene (webhook and/or email), run the baseline, harvest a change."""
    from config.extensions import db
    from search.harvest import run_harvest
    from subscriptions.accounts import operator_user
    from subscriptions.scenes import create_scene

    def make(webhook: str | None = None, email: str | None = None, cadence: str = "immediate",
             name: str = "交通") -> ChangedScene:
        records = sample_records()[:40]
        run_harvest("hz", write_snapshot(tmp_path / "a.json", records[:25]), fmt="portal-json")
        with db.session() as session:
            created = create_scene(session, operator_user(session), name=name, query={}, schedule="manual",
                                   webhook=webhook, email=email, email_verified=True, email_cadence=cadence)
            scene_id = created.scene.id
            secret = next((c.secret for c in created.channels if c.kind == "webhook"), "")
            channel_ids = [c.id for c in created.channels]
            assert created.baseline is not None and created.baseline.state == "baseline"  # taken on save
        run_harvest("hz", write_snapshot(tmp_path / "b.json", records[5:40]), fmt="portal-json")
        return ChangedScene(scene_id, channel_ids, secret)

    return make
