"""The Celery tasks call the delivery functions inside an app context."""
from __future__ import annotations

from flask import Flask

from config.extensions import db
from notifier.lifecycle import create_notifications
from notifier.models import Notification
from notifier.signing import generate_secret
from notifier.tasks import deliver_due_task, deliver_notification_task
from subscriptions.models import Scene, SceneRun
from tests.notifier.conftest import NOW, sample_document


def test_tasks_deliver_in_the_embedded_mode(make_scene, receiver, nsettings) -> None:
    assert nsettings.embedded
    receiver.secret = generate_secret()
    scene_id, run_id, _ = make_scene([{"kind": "webhook", "target": receiver.url, "secret": receiver.secret}])
    with db.session() as session:
        scene, run = session.get(Scene, scene_id), session.get(SceneRun, run_id)
        first, second = (create_notifications(session, scene, run, sample_document(), now=NOW)[0].id
                         for _ in range(2))
    app = Flask("notifier-tasks-test")
    app.config["SCENEWATCH"] = nsettings
    with app.app_context():
        assert deliver_notification_task.run(first) == "sent"
        assert deliver_notification_task.run(999_999) == "missing"
        result = deliver_due_task.run()
    assert result["due"] == 1 and result["sent"] == 1
    with db.session() as session:
        assert session.get(Notification, second).state == "sent"
    assert len(receiver.requests) == 2 and all(r["verified"] for r in receiver.requests)
