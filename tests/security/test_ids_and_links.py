"""Old signed links never act on someone else's new objects.

The attack: B deletes his scene; on SQLite the freed ids went to A's next scene, run
and channel, and B's old export and unsubscribe links then reached A's. Ids are never
reused now (AUTOINCREMENT on SQLite, sequences on PostgreSQL) and every link also
binds its object's creation time, so even an id that came back names nothing.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from config.extensions import Base, db
from config.settings import Settings
from notifier.models import Channel
from notifier.tokens import make_download_token, make_unsubscribe_token
from subscriptions.models import Scene, SceneRun, User
from subscriptions.scenes import create_scene

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _user(email: str) -> int:
    with db.session() as s:
        user = User(email=email, password_hash="x", created_at=NOW)
        s.add(user)
        s.flush()
        return user.id


def _scene_with_run(owner_id: int, email: str) -> tuple[int, int, int]:
    """(scene id, run id, channel id) of a new scene with one finished run."""
    with db.session() as s:
        owner = s.get(User, owner_id)
        assert owner is not None
        made = create_scene(s, owner, name=f"scene of {email}", query={}, schedule="manual",
                            email=email, email_verified=True)
        run = SceneRun(scene_id=made.scene.id, scheduled_for=datetime.now(UTC),
                       state="noop", started_at=datetime.now(UTC),
                       finished_at=datetime.now(UTC), diff={})
        s.add(run)
        s.flush()
        return made.scene.id, run.id, made.channels[0].id


def _delete_scene(scene_id: int) -> None:
    with db.session() as s:
        scene = s.get(Scene, scene_id)
        assert scene is not None
        channels = list(scene.channels)
        s.delete(scene)
        s.flush()
        for channel in channels:
            s.delete(channel)


def _links_of(run_id: int, channel_id: int, settings: Settings) -> tuple[str, str]:
    with db.session() as s:
        run = s.get(SceneRun, run_id)
        channel = s.get(Channel, channel_id)
        assert run is not None and channel is not None
        download = make_download_token(run.id, "all", settings, started_at=run.started_at)
        unsubscribe = make_unsubscribe_token(channel.id, settings, created_at=channel.created_at)
    return download, unsubscribe


def _attack(app: Flask, settings: Settings) -> None:
    bob = _user("bob@example.org")
    alice = _user("alice@example.org")
    b_scene, b_run, b_channel = _scene_with_run(bob, "bob@example.org")
    download, unsubscribe = _links_of(b_run, b_channel, settings)
    _delete_scene(b_scene)
    a_scene, a_run, a_channel = _scene_with_run(alice, "alice@example.org")
    assert (a_scene, a_run, a_channel) != (b_scene, b_run, b_channel)
    assert a_scene > b_scene and a_run > b_run and a_channel > b_channel
    client = app.test_client()
    assert client.get(f"/exports/{download}.json").status_code == 404
    assert client.get(f"/downloads/{download}").status_code == 404
    assert client.post(f"/unsubscribe/{unsubscribe}").status_code == 404
    with db.session() as s:
        channel = s.get(Channel, a_channel)
        assert channel is not None and channel.disabled_reason is None


def test_old_links_do_not_reach_new_objects_on_sqlite(app: Flask, settings: Settings) -> None:
    _attack(app, settings)


@pytest.mark.postgres
def test_old_links_do_not_reach_new_objects_on_postgres(settings: Settings, postgres_url: str) -> None:
    from config.app import create_app
    from config.migrate import upgrade

    application = create_app(dataclasses.replace(settings, database_url=postgres_url), TESTING=True)
    with application.app_context():
        upgrade()
        _attack(application, settings)


def test_a_link_binds_its_objects_creation_time(app: Flask, settings: Settings) -> None:
    """Even if an id came back (a restored backup, a reset sequence), a link made for
    the earlier object names nothing."""
    owner = _user("carol@example.org")
    _scene, run_id, channel_id = _scene_with_run(owner, "carol@example.org")
    download, unsubscribe = _links_of(run_id, channel_id, settings)
    client = app.test_client()
    assert client.get(f"/exports/{download}.json").status_code == 200
    assert client.get(f"/unsubscribe/{unsubscribe}").status_code == 200
    with db.session() as s:  # the same ids, now other objects
        run = s.get(SceneRun, run_id)
        channel = s.get(Channel, channel_id)
        assert run is not None and channel is not None
        run.started_at += timedelta(microseconds=1)
        channel.created_at += timedelta(seconds=1)
    assert client.get(f"/exports/{download}.json").status_code == 404
    assert client.get(f"/unsubscribe/{unsubscribe}").status_code == 404
    assert client.post(f"/unsubscribe/{unsubscribe}").status_code == 404


def _integer_id_tables() -> list[str]:
    import notifier.models  # noqa: F401
    import search.models  # noqa: F401
    import subscriptions.models  # noqa: F401
    from config.extensions import _has_integer_id

    return sorted(t.name for t in Base.metadata.tables.values() if _has_integer_id(t))


def test_every_integer_id_table_is_autoincrement_after_migrations(app: Flask) -> None:
    tables = _integer_id_tables()
    assert {"scene", "scene_run", "channel", "user_account", "notification"} <= set(tables)
    with db.engine.connect() as conn:  # type: ignore[union-attr]
        ddl: dict[str, str] = dict(conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type='table'")).all())
    missing = [name for name in tables if "AUTOINCREMENT" not in ddl[name].upper()]
    assert not missing, f"tables that would reuse ids: {missing}"
    for table in Base.metadata.tables.values():
        if table.name in tables:
            assert table.dialect_kwargs.get("sqlite_autoincrement") is True, table.name


def _sqlite_rows(url: str, sql: str) -> list[Any]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = list(conn.execute(text(sql)).all())
    engine.dispose()
    return rows


def test_the_migration_keeps_every_row_and_reference(settings: Settings, tmp_path: Path) -> None:
    """Rebuilding tables on SQLite must not cascade-delete what refers to them."""
    from config.app import create_app
    from config.migrate import upgrade

    application = create_app(settings, TESTING=True)
    with application.app_context():
        upgrade("0002")
        stamp = "2026-01-01 00:00:00.000000"
        with db.engine.begin() as conn:  # type: ignore[union-attr]
            conn.execute(text("INSERT INTO user_account (id, email, password_hash, locale, timezone, created_at) "
                              f"VALUES (7, 'u@example.org', '', 'en', 'UTC', '{stamp}')"))
            conn.execute(text("INSERT INTO scene (id, owner_id, name, query, schedule, timezone, tracked_fields,"
                              f" paused, feed_token, created_at) VALUES (5, 7, 's', '{{}}', 'daily', 'UTC', '[]',"
                              f" 0, 'ft', '{stamp}')"))
            conn.execute(text("INSERT INTO channel (id, owner_id, kind, target, secret, previous_secret, cadence,"
                              " send_when_empty, verified, locale, created_at, paused) VALUES (9, 7, 'email',"
                              f" 'u@example.org', '', '', 'immediate', 0, 1, 'en', '{stamp}', 0)"))
            conn.execute(text("INSERT INTO scene_channel (scene_id, channel_id) VALUES (5, 9)"))
            conn.execute(text("INSERT INTO scene_run (id, scene_id, scheduled_for, state, matched, added, removed,"
                              f" changed, moved, started_at) VALUES (11, 5, '{stamp}', 'noop', 0, 0, 0, 0, 0,"
                              f" '{stamp}')"))
            conn.execute(text("INSERT INTO notification (id, message_id, channel_id, scene_id, run_id, event_type,"
                              f" payload, state, attempts, created_at) VALUES (13, 'm1', 9, 5, 11, 'scene.changed',"
                              f" '{{}}', 'sent', 1, '{stamp}')"))
        upgrade()
        url = db.url
    counts = {name: _sqlite_rows(url, f"SELECT count(*) FROM {name}")[0][0]
              for name in ("user_account", "scene", "channel", "scene_channel", "scene_run", "notification")}
    assert counts == dict.fromkeys(counts, 1)
    assert _sqlite_rows(url, "PRAGMA foreign_key_check") == []
    # The highest id ever used is remembered: the next scene gets 6, not 5 again.
    with application.app_context():
        _delete_scene(5)
        with db.session() as s:
            owner = s.get(User, 7)
            assert owner is not None
            assert create_scene(s, owner, name="next", query={}, schedule="daily").scene.id == 6
