"""Webhook delivery against a real local HTTP receiver: states, Delivery rows, headers."""
from __future__ import annotations

import dataclasses
import re
from datetime import UTC, timedelta
from email.utils import format_datetime

import pytest
from sqlalchemy import select

from config.extensions import db
from notifier.delivery import deliver_due, deliver_notification
from notifier.lifecycle import claim, create_notifications, redeliver
from notifier.mailer import list_outbox
from notifier.models import Channel, Delivery, Notification
from notifier.signing import generate_secret
from subscriptions.models import Scene, SceneRun, User
from tests.notifier.conftest import NOW, free_port, sample_document


def _notify(make_scene, channels, document=None):
    scene_id, run_id, channel_ids = make_scene(channels)
    with db.session() as session:
        scene, run = session.get(Scene, scene_id), session.get(SceneRun, run_id)
        created = create_notifications(session, scene, run, document or sample_document(), now=NOW)
        return [n.id for n in created], channel_ids


def _webhook(make_scene, receiver, secret=None, **extra):
    receiver.secret = secret or generate_secret()
    ids, channel_ids = _notify(make_scene, [{"kind": "webhook", "target": receiver.url,
                                             "secret": receiver.secret, **extra}])
    return ids[0], channel_ids[0]


def _state(nid):
    with db.session() as session:
        n = session.get(Notification, nid)
        rows = list(session.scalars(select(Delivery).where(Delivery.notification_id == nid).order_by(Delivery.id)))
        return n, rows


def test_success_is_signed_and_logged(make_scene, receiver, nsettings) -> None:
    nid, _ = _webhook(make_scene, receiver)
    assert deliver_notification(nid, NOW, settings=nsettings) == "sent"
    (request,) = receiver.requests
    assert request["verified"], "standardwebhooks could not verify the signature"
    notification, (delivery,) = _state(nid)
    headers = request["headers"]
    assert headers["webhook-id"] == notification.message_id
    assert re.fullmatch(r"msg_[0-9a-f]{32}", notification.message_id)
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("scenewatch/")
    assert request["payload"]["type"] == "scene.changed"
    assert request["payload"]["data"] == sample_document()
    assert request["payload"]["timestamp"].startswith("2026-03-02T01:00:00")
    assert notification.state == "sent" and notification.sent_at == NOW and notification.attempts == 1
    assert delivery.ok and delivery.status_code == 200 and delivery.attempt == 1
    assert delivery.latency_ms is not None and delivery.latency_ms >= 0 and delivery.error is None


def test_500_then_success_keeps_the_webhook_id(make_scene, receiver, nsettings) -> None:
    nid, _ = _webhook(make_scene, receiver)
    receiver.answers = [(500, {})]
    assert deliver_notification(nid, NOW, settings=nsettings) == "retrying"
    notification, (failed,) = _state(nid)
    assert notification.next_attempt_at is not None and failed.next_attempt_at == notification.next_attempt_at
    assert not failed.ok and failed.status_code == 500 and "500" in failed.error
    assert "never be stored" not in failed.error  # the receiver's body is not logged
    assert deliver_due(NOW, settings=nsettings)["sent"] == 1
    notification, rows = _state(nid)
    assert notification.state == "sent" and [r.attempt for r in rows] == [1, 2] and rows[1].ok
    assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 1
    assert all(r["verified"] for r in receiver.requests)


def test_dead_after_the_last_retry(make_scene, receiver, nsettings) -> None:
    nid, _ = _webhook(make_scene, receiver)
    receiver.answers = [(503, {})] * 10
    states = [deliver_notification(nid, NOW, settings=nsettings) for _ in range(4)]
    assert states == ["retrying", "retrying", "retrying", "dead"]
    notification, rows = _state(nid)
    assert len(rows) == 4 and not any(r.ok for r in rows)
    assert "out of retries" in rows[-1].error and rows[-1].next_attempt_at is None
    assert notification.next_attempt_at is None
    assert deliver_due(NOW + timedelta(days=1), settings=nsettings)["due"] == 0
    assert len(receiver.requests) == 4


def test_410_disables_the_channel(make_scene, receiver, nsettings) -> None:
    receiver.secret = generate_secret()
    scene_id, run_id, (channel_id,) = make_scene([{"kind": "webhook", "target": receiver.url,
                                                   "secret": receiver.secret}])
    with db.session() as session:
        scene, run = session.get(Scene, scene_id), session.get(SceneRun, run_id)
        first, second = (create_notifications(session, scene, run, sample_document(), now=NOW)[0].id
                         for _ in range(2))
    receiver.answers = [(410, {})]
    assert deliver_notification(first, NOW, settings=nsettings) == "dead"
    with db.session() as session:
        channel = session.get(Channel, channel_id)
        assert "410" in (channel.disabled_reason or "")
        owner_email = session.get(User, channel.owner_id).email
    # The owner is told, by mail to the account address, naming the endpoint.
    (notice,) = [m for m in list_outbox(nsettings) if m.to == owner_email]
    assert receiver.url in notice.subject
    # A notification already queued for the gone endpoint is not sent.
    assert deliver_notification(second, NOW, settings=nsettings) == "dead"
    _, (row,) = _state(second)
    assert "channel disabled" in row.error
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("retry_after", ["120", "http-date"])
def test_429_honours_retry_after(make_scene, receiver, nsettings, retry_after) -> None:
    from datetime import datetime

    nid, _ = _webhook(make_scene, receiver)
    value = retry_after if retry_after != "http-date" else format_datetime(
        datetime.now(UTC) + timedelta(seconds=125), usegmt=True)
    receiver.answers = [(429, {"Retry-After": value})]
    assert deliver_notification(nid, NOW, settings=nsettings) == "retrying"
    notification, (row,) = _state(nid)
    wait = (notification.next_attempt_at - NOW).total_seconds()
    assert 110 <= wait <= 126, wait
    assert row.status_code == 429 and "retry after" in row.error
    assert deliver_due(NOW, settings=nsettings)["due"] == 0  # not before the receiver asked


def test_other_4xx_fails_without_retry(make_scene, receiver, nsettings) -> None:
    nid, _ = _webhook(make_scene, receiver)
    receiver.answers = [(400, {})]
    assert deliver_notification(nid, NOW, settings=nsettings) == "dead"
    _, (row,) = _state(nid)
    assert row.status_code == 400 and "not retried" in row.error


def test_redirects_are_not_followed(make_scene, receiver, nsettings) -> None:
    nid, _ = _webhook(make_scene, receiver)
    receiver.answers = [(307, {"Location": receiver.url + "/elsewhere"})]
    assert deliver_notification(nid, NOW, settings=nsettings) == "dead"
    assert [r["path"] for r in receiver.requests] == ["/hook"]
    _, (row,) = _state(nid)
    assert row.status_code == 307 and "redirect" in row.error


def test_timeout_is_retryable(make_scene, receiver, nsettings) -> None:
    settings = dataclasses.replace(nsettings, webhook_timeout=1)
    nid, _ = _webhook(make_scene, receiver)
    receiver.delay = 2.0
    assert deliver_notification(nid, NOW, settings=settings) == "retrying"
    _, (row,) = _state(nid)
    assert "within 1 s" in row.error and row.status_code is None


def test_connection_refused_is_retryable(make_scene, nsettings) -> None:
    ids, _ = _notify(make_scene, [{"kind": "webhook", "target": f"http://127.0.0.1:{free_port()}/hook",
                                   "secret": generate_secret()}])
    assert deliver_notification(ids[0], NOW, settings=nsettings) == "retrying"
    _, (row,) = _state(ids[0])
    assert "could not connect to 127.0.0.1" in row.error


def test_ssrf_is_checked_again_at_send_time(make_scene, receiver, nsettings) -> None:
    nid, _ = _webhook(make_scene, receiver)
    strict = dataclasses.replace(nsettings, webhook_allow_private=False)
    assert deliver_notification(nid, NOW, settings=strict) == "dead"
    _, (row,) = _state(nid)
    assert "loopback" in row.error
    assert receiver.requests == []


def test_rotation_old_secret_still_verifies(make_scene, receiver, nsettings) -> None:
    old, new = generate_secret(), generate_secret()
    receiver.secret = old  # the consumer has not switched yet
    ids, _ = _notify(make_scene, [{"kind": "webhook", "target": receiver.url, "secret": new,
                                   "previous_secret": old, "previous_secret_expires_at": NOW + timedelta(hours=1)}])
    assert deliver_notification(ids[0], NOW, settings=nsettings) == "sent"
    (request,) = receiver.requests
    assert request["verified"] and len(request["headers"]["webhook-signature"].split(" ")) == 2


def test_redeliver_sends_again_with_same_id(make_scene, receiver, nsettings) -> None:
    nid, _ = _webhook(make_scene, receiver)
    assert deliver_notification(nid, NOW, settings=nsettings) == "sent"
    assert redeliver(nid, NOW) == "pending"
    assert deliver_notification(nid, NOW, settings=nsettings) == "sent"
    first, second = receiver.requests
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
    _, rows = _state(nid)
    assert len(rows) == 2 and all(r.ok for r in rows)
    with pytest.raises(LookupError):
        redeliver(999_999)


def test_a_claimed_attempt_is_not_made_twice(make_scene, receiver, nsettings) -> None:
    nid, _ = _webhook(make_scene, receiver)
    with db.session() as session:
        # another worker holds the lease
        assert [row.attempts for row in claim(session, [nid], NOW, 300)] == [1]
        assert claim(session, [nid], NOW, 300) == []
    assert deliver_notification(nid, NOW, settings=nsettings) == "pending"
    assert receiver.requests == []
    # When the lease runs out (that worker died), the attempt is due again.
    assert deliver_notification(nid, NOW + timedelta(seconds=301), settings=nsettings) == "sent"
    _, (lost, row) = _state(nid)
    assert row.attempt == 2 and row.ok  # the lost attempt counts
    # ... and is in the log: cut off, with no outcome, when its lease ran out.
    assert (lost.attempt, lost.ok, lost.status_code) == (1, False, None)
    assert lost.error.startswith("interrupted")


def test_concurrent_workers_send_once(make_scene, receiver, nsettings) -> None:
    import threading

    nid, _ = _webhook(make_scene, receiver)
    receiver.delay = 0.3
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(deliver_notification(nid, NOW, settings=nsettings)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(receiver.requests) == 1
    _, rows = _state(nid)
    assert len(rows) == 1 and rows[0].ok


def test_create_notifications_per_channel_rules(make_scene) -> None:
    ids, channel_ids = _notify(make_scene, [
        {"kind": "webhook", "target": "https://a.example.org/h", "secret": generate_secret()},
        {"kind": "webhook", "target": "https://b.example.org/h", "secret": generate_secret(),
         "disabled_reason": "unsubscribed"},
        {"kind": "email", "target": "new@example.org", "verified": False},
        {"kind": "email", "target": "daily@example.org", "verified": True, "cadence": "daily"},
        {"kind": "email", "target": "now@example.org", "verified": True, "cadence": "immediate"},
    ])
    with db.session() as session:
        rows = {n.channel_id: n for n in session.scalars(select(Notification).where(Notification.id.in_(ids)))}
    assert channel_ids[1] not in rows  # disabled channel: nothing written
    assert rows[channel_ids[0]].state == "pending" and rows[channel_ids[0]].next_attempt_at == NOW
    assert rows[channel_ids[2]].state == "held"  # unverified address
    assert rows[channel_ids[3]].state == "held" and rows[channel_ids[3]].next_attempt_at is None
    assert rows[channel_ids[4]].state == "pending"
    assert len({n.message_id for n in rows.values()}) == 4


def test_empty_diff_only_for_send_when_empty(make_scene) -> None:
    empty = sample_document(added=0)
    empty["counts"].update(removed=0, changed=0)
    empty["removed"], empty["changed"] = [], []
    ids, channel_ids = _notify(make_scene, [
        {"kind": "webhook", "target": "https://a.example.org/h", "secret": generate_secret()},
        {"kind": "webhook", "target": "https://b.example.org/h", "secret": generate_secret(),
         "send_when_empty": True},
    ], document=empty)
    with db.session() as session:
        (only,) = session.scalars(select(Notification).where(Notification.id.in_(ids)))
    assert only.channel_id == channel_ids[1]
