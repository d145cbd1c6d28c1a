"""Done when: 500, 500, 500, 200 → delivered on attempt 4 with one webhook-id; a receiver
down for the whole schedule → dead → redelivered from the CLI → received once."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import select

from config.cli import cli
from tests.delivery.conftest import base_env, free_port
from tests.delivery.receiver_server import RecordingReceiver


def _notification(scene_id: int):
    from config.extensions import db
    from notifier.models import Notification

    with db.session() as session:
        (notification,) = session.scalars(select(Notification).where(Notification.scene_id == scene_id)).all()
        return notification, list(notification.deliveries)


def test_three_500s_then_200_arrives_on_attempt_four(make_app, changed_scene) -> None:
    from notifier.delivery import deliver_due
    from subscriptions.runner import run_scene

    # Retry after 1 s, 1 s, 1 s (±10 % jitter): four attempts in all.
    make_app(SCENEWATCH_WEBHOOK_RETRY_SCHEDULE="1,1,1")
    with RecordingReceiver(script=[500, 500, 500]) as receiver:
        scene = changed_scene(webhook=receiver.url)
        receiver.secrets = [scene.secret]
        document = run_scene(scene.scene_id, now=datetime.now(UTC))  # attempt 1, in-process
        assert document["run"]["state"] == "changed"
        # Count from the first attempt, not from before the run: under load the run itself
        # can take longer than the first retry interval.
        first_retry = _notification(scene.scene_id)[0].next_attempt_at
        start = first_retry.replace(tzinfo=UTC) - timedelta(seconds=1)
        # Not due yet half a second later: the schedule is honoured.
        assert deliver_due(now=start + timedelta(seconds=0.5))["due"] == 0
        for step in (2, 4, 6):
            assert deliver_due(now=start + timedelta(seconds=step))["due"] == 1
        assert deliver_due(now=start + timedelta(seconds=60))["due"] == 0

    assert [r["status"] for r in receiver.requests] == [500, 500, 500, 200]
    assert all(r["verified"] for r in receiver.requests), "every attempt verifies with standardwebhooks"
    assert len({r["id"] for r in receiver.requests}) == 1
    assert len({r["sha256"] for r in receiver.requests}) == 1, "every attempt carries the same body"
    body = json.loads(receiver.requests[-1]["body"])
    assert body["type"] == "scene.changed" and body["data"]["counts"] == document["counts"]

    notification, deliveries = _notification(scene.scene_id)
    assert notification.state == "sent" and notification.attempts == 4
    assert notification.message_id == receiver.requests[0]["id"]
    assert [(d.attempt, d.ok, d.status_code) for d in deliveries] == [
        (1, False, 500), (2, False, 500), (3, False, 500), (4, True, 200)]
    for delivery in deliveries:
        assert delivery.latency_ms is not None and delivery.latency_ms >= 0
        assert delivery.attempted_at is not None
        assert "never be stored" not in (delivery.error or "")
    assert all("500" in (d.error or "") for d in deliveries[:3]) and deliveries[3].error is None


def test_down_for_the_whole_schedule_then_redelivered_once(make_app, changed_scene, tmp_path) -> None:
    from notifier.delivery import deliver_due
    from subscriptions.runner import run_scene

    make_app(SCENEWATCH_WEBHOOK_RETRY_SCHEDULE="0,0")
    port = free_port()  # nothing listens here: the receiver is down
    url = f"http://127.0.0.1:{port}/hook"
    scene = changed_scene(webhook=url)
    run_scene(scene.scene_id)
    later = datetime.now(UTC) + timedelta(seconds=5)
    deliver_due(now=later)
    deliver_due(now=later + timedelta(seconds=5))
    notification, deliveries = _notification(scene.scene_id)
    assert notification.state == "dead" and len(deliveries) == 3
    assert all(not d.ok and "could not connect" in (d.error or "") for d in deliveries)
    assert "out of retries after 3 attempts" in (deliveries[-1].error or "")
    assert deliver_due(now=later + timedelta(hours=1))["due"] == 0  # dead stays dead

    env = base_env(tmp_path, SCENEWATCH_WEBHOOK_RETRY_SCHEDULE="0,0")
    listed = CliRunner().invoke(cli, ["deliveries", "list", "--state", "dead", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert [row["id"] for row in json.loads(listed.stdout)] == [notification.id]

    with RecordingReceiver([scene.secret], port=port) as receiver:  # the receiver is back
        result = CliRunner().invoke(cli, ["deliveries", "redeliver", str(notification.id), "--json"], env=env)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == {"id": notification.id, "state": "sent"}
        flushed = CliRunner().invoke(cli, ["deliveries", "flush", "--json"], env=env)
        assert flushed.exit_code == 0 and json.loads(flushed.stdout)["due"] == 0
    assert len(receiver.requests) == 1 and receiver.requests[0]["verified"]
    assert receiver.requests[0]["id"] == notification.message_id
    notification, deliveries = _notification(scene.scene_id)
    assert notification.state == "sent" and [d.ok for d in deliveries] == [False, False, False, True]
