"""Quiet hours, pause/resume, digest time, secret rotation and the test event, through
the `scenewatch channels` commands, against a real local receiver."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from notifier.channel_cli import register  # imported before config.cli on purpose: no cycle
from tests.delivery.conftest import base_env
from tests.delivery.receiver_server import RecordingReceiver

ZONE = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def channels(tmp_path):
    group = click.Group("scenewatch")
    register(group)
    env = base_env(tmp_path)

    def invoke(*args: str):
        return CliRunner().invoke(group, ["channels", *args], env=env)

    return invoke


def test_quiet_window_maths() -> None:
    from notifier.quiet import quiet_until

    at = datetime(2026, 3, 10, 23, 30, tzinfo=ZONE)
    assert quiet_until("22:00", "07:30", "Asia/Shanghai", at) == datetime(2026, 3, 11, 7, 30, tzinfo=ZONE)
    assert quiet_until("22:00", "07:30", "Asia/Shanghai", at.replace(hour=6)) == \
        datetime(2026, 3, 10, 7, 30, tzinfo=ZONE)
    assert quiet_until("22:00", "07:30", "Asia/Shanghai", at.replace(hour=12)) is None
    assert quiet_until("12:00", "13:00", "Asia/Shanghai", at.replace(hour=12, minute=59)) == \
        datetime(2026, 3, 10, 13, 0, tzinfo=ZONE)
    assert quiet_until(None, None, "UTC", at) is None


def test_quiet_hours_hold_then_send_when_the_window_opens(make_app, changed_scene, channels) -> None:
    from config.extensions import db
    from notifier.delivery import deliver_due
    from notifier.models import Notification
    from subscriptions.runner import run_scene

    make_app()
    with RecordingReceiver() as receiver:
        scene = changed_scene(webhook=receiver.url)
        receiver.secrets = [scene.secret]
        with db.session() as session:
            from subscriptions.accounts import operator_user

            operator_user(session).timezone = "Asia/Shanghai"
        result = channels("set-quiet", str(scene.channel_ids[0]), "--start", "22:00", "--end", "07:00", "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["quiet_start"] == "22:00"
        night = datetime(2026, 3, 10, 23, 0, tzinfo=ZONE)
        run_scene(scene.scene_id, night, deliver=False, now=night)
        assert deliver_due(now=night) == {"due": 1, "pending": 1}  # held back, not attempted
        assert receiver.requests == []
        with db.session() as session:
            (note,) = session.scalars(select(Notification)).all()
            assert note.state == "pending" and note.attempts == 0 and note.deliveries == []
            assert note.next_attempt_at == datetime(2026, 3, 11, 7, 0, tzinfo=ZONE)
        assert deliver_due(now=datetime(2026, 3, 11, 6, 59, tzinfo=ZONE))["due"] == 0
        assert deliver_due(now=datetime(2026, 3, 11, 7, 0, tzinfo=ZONE)).get("sent") == 1
    assert len(receiver.requests) == 1 and receiver.requests[0]["verified"]


def test_pause_holds_and_resume_releases(make_app, changed_scene, channels) -> None:
    from config.extensions import db
    from notifier.delivery import deliver_due
    from notifier.models import Notification
    from subscriptions.runner import run_scene

    make_app()
    with RecordingReceiver() as receiver:
        scene = changed_scene(webhook=receiver.url)
        receiver.secrets = [scene.secret]
        channel = str(scene.channel_ids[0])
        assert json.loads(channels("pause", channel, "--json").stdout)["paused"] is True
        run_scene(scene.scene_id)
        assert deliver_due(now=datetime.now(UTC) + timedelta(hours=1))["due"] == 0
        with db.session() as session:
            assert session.scalar(select(Notification.state)) == "held"
        assert receiver.requests == []
        resumed = json.loads(channels("resume", channel, "--json").stdout)
        assert resumed["paused"] is False and resumed["released"] == 1
        assert deliver_due().get("sent") == 1
    assert len(receiver.requests) == 1


def test_digest_time_rotation_and_test_event(make_app, changed_scene, channels) -> None:
    make_app()
    with RecordingReceiver() as receiver:
        scene = changed_scene(webhook=receiver.url, email="someone@example.org", cadence="weekly")
        listed = json.loads(channels("list", "--json").stdout)
        by_kind = {c["kind"]: c["id"] for c in listed}
        set_digest = channels("set-digest", str(by_kind["email"]), "--hour", "18", "--weekday", "fri", "--json")
        assert set_digest.exit_code == 0, set_digest.output
        assert json.loads(set_digest.stdout)["digest_weekday"] == "fri"
        wrong = channels("set-digest", str(by_kind["webhook"]), "--hour", "18")
        assert wrong.exit_code == 2 and "digests are for email" in wrong.stderr
        bad = channels("set-quiet", str(by_kind["webhook"]), "--start", "25:00", "--end", "07:00")
        assert bad.exit_code == 2 and "HH:MM" in bad.stderr

        rotated = json.loads(channels("rotate-secret", str(by_kind["webhook"]), "--json").stdout)
        new_secret = rotated["new_secret"]
        assert new_secret.startswith("whsec_") and new_secret != scene.secret
        receiver.secrets = [scene.secret]  # a receiver still on the old secret…
        ping = channels("test", str(by_kind["webhook"]), "--json")
        assert ping.exit_code == 0, ping.output
        receiver.secrets = [new_secret]  # …and one already on the new secret
        assert channels("test", str(by_kind["webhook"])).exit_code == 0
        assert channels("test", str(by_kind["email"])).exit_code == 2
    assert [r["verified"] for r in receiver.requests] == [True, True]
    assert all(len(r["signature"].split()) == 2 for r in receiver.requests), "two signatures while rotating"
    assert json.loads(receiver.requests[0]["body"])["type"] == "test.ping"
    assert json.loads(ping.stdout)["webhook_id"] == receiver.requests[0]["id"]


def test_migration_0002_downgrades_and_upgrades(make_app) -> None:
    from alembic import command

    from config.extensions import db
    from config.migrate import alembic_config

    make_app()
    assert db.engine is not None
    for revision in ("0001", "head"):
        with db.engine.begin() as connection:
            cfg = alembic_config()
            cfg.attributes["connection"] = connection
            (command.downgrade if revision == "0001" else command.upgrade)(cfg, revision)
    from sqlalchemy import inspect

    columns = {c["name"] for c in inspect(db.engine).get_columns("channel")}
    assert {"digest_hour", "digest_weekday", "quiet_start", "quiet_end", "paused"} <= columns
