"""The whole loop on the bundled real catalog: harvest → scene → diff → webhook + email."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from standardwebhooks import Webhook

from config.extensions import db
from notifier.mailer import list_outbox, read_outbox_message
from notifier.models import Delivery, Notification
from notifier.receiver import VerifyingReceiver
from search.harvest import run_harvest
from subscriptions.accounts import operator_user
from subscriptions.models import SceneRun
from subscriptions.runner import run_scene
from subscriptions.scenes import create_scene
from tests.helpers import sample_records, write_snapshot


@pytest.fixture
def records() -> list[dict]:
    rows = sample_records()
    assert len(rows) >= 60
    return rows[:60]


def _title_key(record: dict) -> str:
    return next(k for k in ("资源名称", "数据集名称", "title") if k in record)


def _modified_key(record: dict) -> str:
    return next(k for k in ("更新时间", "更新日期", "modified") if k in record)


def test_loop_baseline_change_noop(app, settings, tmp_path: Path, records: list[dict]) -> None:
    first = write_snapshot(tmp_path / "s1.json", records[:50])
    summary = run_harvest("hz", first, fmt="portal-json")
    assert summary.new + summary.quarantined == 50 and summary.changed == 0

    with VerifyingReceiver() as receiver:
        with db.session() as session:
            created = create_scene(session, operator_user(session), name="杭州 all", query={},
                                   schedule="manual", email="reader@example.org", email_verified=True,
                                   webhook=receiver.url)
            scene_id = created.scene.id
            secret = next(c.secret for c in created.channels if c.kind == "webhook")
            # Saving took the baseline: recorded, nothing sent.
            assert created.baseline is not None and created.baseline.state == "baseline"
            baseline = created.baseline.diff or {}
        receiver.secret = secret
        assert baseline["run"]["state"] == "baseline"
        assert baseline["counts"]["matched"] == summary.new
        assert receiver.received == {} and list_outbox(settings) == []

        # Next snapshot: 5 records gone, 5 new ones, one record's update date and title changed.
        changed = [dict(r) for r in records[5:55]]
        target = changed[0]
        target[_title_key(target)] = target[_title_key(target)] + "（更新）"
        target[_modified_key(target)] = "2024-01-02"
        second = write_snapshot(tmp_path / "s2.json", changed)
        summary2 = run_harvest("hz", second, fmt="portal-json")
        assert summary2.seen == summary2.new + summary2.changed + summary2.unchanged + summary2.quarantined
        assert summary2.removed >= 1 and summary2.changed >= 1

        document = run_scene(scene_id)
        assert document["run"]["state"] == "changed"
        assert document["counts"]["added"] + document["counts"]["moved"] == summary2.new
        assert document["counts"]["removed"] + document["counts"]["moved"] == summary2.removed
        (change,) = [c for c in document["changed"] if c["title"] == target[_title_key(target)]]
        fields = {c["field"]: c for c in change["changes"]}
        assert fields["title"]["new"].endswith("（更新）")
        assert "modified" in fields
        assert all(r["reason"] == "deleted_from_catalog" for r in document["removed"])

        # The webhook arrived once, signed: the standardwebhooks package verifies it.
        assert len(receiver.received) == 1 and receiver.rejected == []
        with db.session() as session:
            note = session.scalar(select(Notification).join(Notification.channel)
                                  .where(Notification.run_id == document["run"]["id"],
                                         Notification.channel.has(kind="webhook")))
            assert note.state == "sent" and note.attempts == 1
            assert session.scalar(select(func.count()).select_from(Delivery)
                                  .where(Delivery.notification_id == note.id)) == 1
        payload = receiver.received[note.message_id]
        assert payload["type"] == "scene.changed" and payload["data"]["counts"] == document["counts"]

        # The email is in the outbox with text and html parts naming the change.
        (entry,) = list_outbox(settings)
        message = read_outbox_message(settings, entry.key)
        assert message.to == "reader@example.org"
        assert target[_title_key(target)] in message.text and target[_title_key(target)] in message.html
        assert dict(message.headers).get("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"

        # Nothing new: the run is recorded, nothing is sent.
        noop = run_scene(scene_id)
        assert noop["run"]["state"] == "noop"
        assert len(receiver.received) == 1 and len(list_outbox(settings)) == 1


def test_webhook_signature_verifies_with_standardwebhooks(app, tmp_path: Path, records: list[dict]) -> None:
    """Independent check of the wire format with the reference implementation."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[dict] = []
    secret_box: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["content-length"]))
            seen.append(Webhook(secret_box["secret"]).verify(body, dict(self.headers)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        run_harvest("hz", write_snapshot(tmp_path / "a.json", records[:20]), fmt="portal-json")
        with db.session() as session:
            created = create_scene(session, operator_user(session), name="wh", query={}, schedule="manual",
                                   webhook=f"http://127.0.0.1:{server.server_address[1]}/hook")
            scene_id = created.scene.id
            secret_box["secret"] = created.channels[0].secret
        run_scene(scene_id)
        run_harvest("hz", write_snapshot(tmp_path / "b.json", records[:25]), fmt="portal-json")
        document = run_scene(scene_id)
    finally:
        server.shutdown()
    assert len(seen) == 1
    assert seen[0]["data"]["counts"]["added"] == document["counts"]["added"] == 5


def test_same_scheduled_time_runs_once(app, tmp_path: Path, records: list[dict]) -> None:
    run_harvest("hz", write_snapshot(tmp_path / "a.json", records[:10]), fmt="portal-json")
    with db.session() as session:
        scene_id = create_scene(session, operator_user(session), name="once", query={}, schedule="manual").scene.id
    when = datetime(2026, 1, 1, 8, tzinfo=UTC)
    first = run_scene(scene_id, when)
    second = run_scene(scene_id, when)
    assert first == second
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(SceneRun).where(
            SceneRun.scene_id == scene_id, SceneRun.scheduled_for == when)) == 1
