"""The batch path (claim a chunk, send in parallel, record all outcomes at once) leaves
exactly what one-at-a-time delivery leaves: one Delivery row per attempt, the
notification in the state its answer calls for, a lost lease logged but not applied,
and a 410 disabling the channel."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.delivery.receiver_server import RecordingReceiver


def _add_notifications(channel_id: int, count: int, now: datetime) -> list[int]:
    from config.extensions import db
    from notifier.lifecycle import new_message_id
    from notifier.models import Notification

    with db.session() as session:
        rows = [Notification(message_id=new_message_id(), channel_id=channel_id, event_type="scene.changed",
                             payload={"n": n, "counts": {"added": 1}, "added": [{"id": f"t:{n}"}]},
                             state="pending", attempts=0, next_attempt_at=now, created_at=now)
                for n in range(count)]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def test_batch_records_every_outcome_like_single_delivery(make_app, changed_scene) -> None:
    _mixed_outcomes(make_app, changed_scene)


@pytest.mark.postgres
def test_batch_records_every_outcome_on_postgres(make_app, changed_scene, postgres_url: str) -> None:
    url = postgres_url
    _mixed_outcomes(make_app, changed_scene, SCENEWATCH_DATABASE_URL=url)


def _mixed_outcomes(make_app, changed_scene, **extra: str) -> None:
    from config.app import current_settings
    from config.extensions import db
    from notifier.bulk import deliver_batch
    from notifier.models import Delivery, Notification

    make_app(SCENEWATCH_WEBHOOK_RETRY_SCHEDULE="60,120", SCENEWATCH_DELIVERY_CONCURRENCY="4", **extra)
    now = datetime.now(UTC)
    with RecordingReceiver(script=[500, 200, 404, 200, 503, 200, 200]) as receiver:
        scene = changed_scene(webhook=receiver.url)
        receiver.secrets = [scene.secret]
        ids = _add_notifications(scene.channel_ids[0], 7, now)
        counts = deliver_batch(ids, now, current_settings(), chunk_size=2)  # several chunks in flight
        assert deliver_batch(ids, now, current_settings(), chunk_size=2) == {"skipped": 7}  # leased
    assert {k: v for k, v in counts.items() if v} == {"sent": 4, "retrying": 2, "dead": 1}
    assert len(receiver.requests) == 7 and all(r["verified"] for r in receiver.requests)
    by_id = {r["id"]: r["status"] for r in receiver.requests}

    with db.session() as session:
        for notification in session.scalars(select(Notification).where(Notification.id.in_(ids))):
            (delivery,) = session.scalars(select(Delivery).where(Delivery.notification_id == notification.id))
            status = by_id[notification.message_id]
            assert notification.attempts == 1 and delivery.attempt == 1
            assert delivery.status_code == status and delivery.attempted_at == now
            assert delivery.latency_ms is not None and delivery.latency_ms >= 0
            if status == 200:
                assert notification.state == "sent" and notification.sent_at == now
                assert delivery.ok and delivery.error is None and notification.next_attempt_at is None
            elif status >= 500:
                assert notification.state == "retrying" and not delivery.ok
                # Each keeps its own jittered time, the same in the log and on the notification.
                assert delivery.next_attempt_at == notification.next_attempt_at
                assert now + timedelta(seconds=53) < notification.next_attempt_at < now + timedelta(seconds=67)
            else:
                assert notification.state == "dead" and "not retried" in (delivery.error or "")
                assert notification.next_attempt_at is None


def test_batch_410_disables_the_channel(make_app, changed_scene) -> None:
    from config.app import current_settings
    from config.extensions import db
    from notifier.bulk import deliver_batch
    from notifier.mailer import list_outbox
    from notifier.models import Channel
    from subscriptions.models import User

    make_app(SCENEWATCH_DELIVERY_CONCURRENCY="4")
    now = datetime.now(UTC)
    with RecordingReceiver(script=[410]) as receiver:
        scene = changed_scene(webhook=receiver.url)
        receiver.secrets = [scene.secret]
        ids = _add_notifications(scene.channel_ids[0], 1, now)
        counts = deliver_batch(ids, now, current_settings())
    assert {k: v for k, v in counts.items() if v} == {"dead": 1}
    with db.session() as session:
        channel = session.get(Channel, scene.channel_ids[0])
        assert "410 Gone" in (channel.disabled_reason or "")
        owner = session.get(User, channel.owner_id).email
    # The owner hears about it: one mail to the account address naming the endpoint.
    notices = [m for m in list_outbox(current_settings()) if m.to == owner]
    assert len(notices) == 1 and receiver.url in notices[0].subject


def test_recording_after_a_lost_lease_logs_the_attempt_but_keeps_the_state(make_app, changed_scene,
                                                                           caplog) -> None:
    from config.app import current_settings
    from config.extensions import db
    from notifier.channels import SendResult
    from notifier.lifecycle import record
    from notifier.models import Delivery, Notification

    make_app()
    now = datetime.now(UTC)
    scene = changed_scene(webhook="http://127.0.0.1:9/hook")
    lost, kept = _add_notifications(scene.channel_ids[0], 2, now)
    with db.session() as session:  # both claimed; "lost" then taken over by another worker
        for notification in session.scalars(select(Notification).where(Notification.id.in_([lost, kept]))):
            notification.attempts = 2 if notification.id == lost else 1
    with db.session() as session:
        states = record(session, [(lost, 1, SendResult(status_code=200, latency_ms=3), None),
                                           (kept, 1, SendResult(status_code=200, latency_ms=4), None)],
                                 now, current_settings())
    assert states == ["pending", "sent"]
    assert "finished after its lease" in caplog.text
    with db.session() as session:
        assert session.get(Notification, lost).state == "pending"
        assert session.get(Notification, kept).state == "sent"
        rows = session.scalars(select(Delivery).order_by(Delivery.notification_id)).all()
        assert [(d.notification_id, d.attempt, d.ok, d.status_code) for d in rows] == [
            (lost, 1, True, 200), (kept, 1, True, 200)]


def test_batch_resolves_a_host_once_and_still_checks_each_send(make_app, changed_scene, monkeypatch) -> None:
    from config.app import current_settings
    from config.outgoing import override_resolver
    from config.outgoing.addresses import system_resolver
    from notifier import ssrf
    from notifier.bulk import deliver_batch

    make_app(SCENEWATCH_DELIVERY_CONCURRENCY="4")
    now = datetime.now(UTC)
    lookups: list[str] = []
    real = system_resolver

    def counting(host: str, port: int) -> list[str]:
        lookups.append(host)
        return real(host, port)

    checks: list[str] = []
    real_check = ssrf.check_webhook_url

    def counting_check(url: str, **kwargs):
        checks.append(url)
        return real_check(url, **kwargs)

    from notifier.channels import webhook

    with RecordingReceiver() as receiver:
        scene = changed_scene(webhook=receiver.url.replace("127.0.0.1", "localhost"))
        receiver.secrets = [scene.secret]
        ids = _add_notifications(scene.channel_ids[0], 6, now)
        monkeypatch.setattr(webhook, "check_webhook_url", counting_check)
        with override_resolver(counting):  # every lookup, at check and at connect time
            counts = deliver_batch(ids, now, current_settings(), chunk_size=2)
    assert counts.get("sent") == 6 and len(receiver.requests) == 6
    assert len(checks) == 6, "every send is checked at send time"
    assert lookups == ["localhost"], "one DNS lookup for the whole batch"
    cache = ssrf.ResolutionCache(ttl=0.0, resolve=counting)
    cache("localhost", 80), cache("localhost", 80)
    assert lookups.count("localhost") == 3, "an expired answer is looked up again"
