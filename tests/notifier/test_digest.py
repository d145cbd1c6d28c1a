"""Digests: one email per channel gathering held notifications; the cursor moves only
after a successful send."""
from __future__ import annotations

import dataclasses
import email
import email.policy
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from config.extensions import db
from notifier.digest import due_digest_channels, latest_slot, send_digest
from notifier.lifecycle import create_notifications
from notifier.models import Delivery, DigestCursor, Notification
from subscriptions.models import Scene, SceneRun
from tests.notifier.conftest import NOW, free_port, sample_document


def _held(make_scene, count: int, cadence: str = "daily", created: datetime = NOW):
    scene_id, run_id, (channel_id,) = make_scene([{"kind": "email", "target": "digest@example.org",
                                                   "verified": True, "cadence": cadence}])
    ids = []
    with db.session() as session:
        scene, run = session.get(Scene, scene_id), session.get(SceneRun, run_id)
        for i in range(count):
            (note,) = create_notifications(session, scene, run, sample_document(name=f"场景{i}", scene_id=100 + i),
                                           now=created)
            ids.append(note.id)
    return channel_id, ids


def test_one_email_for_all_held_and_cursor_after_send(make_scene, smtp_server, smtp_settings) -> None:
    sink, _ = smtp_server
    channel_id, ids = _held(make_scene, 3)
    assert send_digest(channel_id, NOW, settings=smtp_settings) == 3
    (envelope,) = sink.messages
    msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    text = msg.get_body(("plain",)).get_content()
    assert all(f"场景{i}" in text for i in range(3))
    assert "每日摘要" in str(msg["Subject"]) and "3 个场景" in str(msg["Subject"])
    assert str(msg["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    with db.session() as session:
        assert session.get(DigestCursor, channel_id).last_notification_id == ids[-1]
        states = {n.state for n in session.scalars(select(Notification).where(Notification.id.in_(ids)))}
        assert states == {"sent"}
        assert all(d.ok for d in session.scalars(select(Delivery)))
    # Nothing new: no second email.
    assert send_digest(channel_id, NOW + timedelta(days=1), settings=smtp_settings) == 0
    assert len(sink.messages) == 1


def test_failed_send_keeps_cursor_and_retries_same_batch(make_scene, nsettings, smtp_server) -> None:
    sink, port = smtp_server
    channel_id, ids = _held(make_scene, 2)
    down = dataclasses.replace(nsettings, smtp_host="127.0.0.1", smtp_port=free_port(), smtp_security="none")
    assert send_digest(channel_id, NOW, settings=down) == 0
    with db.session() as session:
        cursor = session.get(DigestCursor, channel_id)
        assert cursor is None or cursor.last_notification_id == 0
        notes = list(session.scalars(select(Notification).where(Notification.id.in_(ids))))
        assert {n.state for n in notes} == {"held"}
        errors = [d.error for d in session.scalars(select(Delivery))]
        assert len(errors) == 2 and all("digest not sent" in e for e in errors)
    up = dataclasses.replace(down, smtp_port=port)
    assert send_digest(channel_id, NOW + timedelta(minutes=1), settings=up) == 2
    assert len(sink.messages) == 1
    with db.session() as session:
        assert session.get(DigestCursor, channel_id).last_notification_id == ids[-1]


def test_unverified_channel_gets_no_digest(make_scene, nsettings) -> None:
    scene_id, run_id, (channel_id,) = make_scene([{"kind": "email", "target": "x@example.org",
                                                   "verified": False, "cadence": "daily"}])
    with db.session() as session:
        create_notifications(session, session.get(Scene, scene_id), session.get(SceneRun, run_id),
                             sample_document(), now=NOW)
    assert send_digest(channel_id, NOW, settings=nsettings) == 0


def test_digest_slot_in_the_owners_time_zone(make_scene) -> None:
    # 2026-03-02 is a Monday. 08:00 Asia/Shanghai is 00:00 UTC.
    assert latest_slot("daily", "Asia/Shanghai", datetime(2026, 3, 2, 1, tzinfo=UTC)) == \
        datetime(2026, 3, 2, 0, tzinfo=UTC)
    assert latest_slot("daily", "Asia/Shanghai", datetime(2026, 3, 1, 23, tzinfo=UTC)) == \
        datetime(2026, 3, 1, 0, tzinfo=UTC)
    assert latest_slot("weekly", "Asia/Shanghai", datetime(2026, 3, 6, 12, tzinfo=UTC)) == \
        datetime(2026, 3, 2, 0, tzinfo=UTC)
    assert latest_slot("daily", "Not/AZone", datetime(2026, 3, 2, 9, tzinfo=UTC)) == \
        datetime(2026, 3, 2, 8, tzinfo=UTC)

    channel_id, _ = _held(make_scene, 1, created=datetime(2026, 3, 2, 0, 30, tzinfo=UTC))
    # Created after today's 08:00 slot: waits for tomorrow's.
    assert channel_id not in due_digest_channels(datetime(2026, 3, 2, 5, tzinfo=UTC))
    assert channel_id in due_digest_channels(datetime(2026, 3, 3, 0, 1, tzinfo=UTC))
