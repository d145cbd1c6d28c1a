"""A scene is run and delivered from a plain Python script: settings from the
environment, no Flask app, no request and no broker. The script harvests two real
snapshots, saves a scene with a webhook, runs its baseline and its change; the
webhook arrives, signed, carrying exactly the diff the run returned."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from standardwebhooks import Webhook

from tests.delivery.conftest import base_env
from tests.helpers import sample_records, write_snapshot
from tests.notifier.conftest import Receiver

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = """
import json
import sys

from flask import has_app_context

from config.app import init_services
from config.extensions import db
from config.migrate import upgrade
from config.settings import load_settings
from search.harvest import run_harvest
from subscriptions.accounts import operator_user
from subscriptions.runner import run_scene
from subscriptions.scenes import create_scene

first, second, hook = sys.argv[1:4]
settings = load_settings()
init_services(settings)
upgrade()
run_harvest("hz", first, fmt="portal-json")
with db.session() as session:
    created = create_scene(session, operator_user(session), name="plain script", query={},
                           schedule="manual", webhook=hook)
    scene_id, secret = created.scene.id, created.channels[0].secret
first_run = run_scene(scene_id)  # the baseline was taken when the scene was saved
run_harvest("hz", second, fmt="portal-json")
document = run_scene(scene_id)
assert not has_app_context(), "a Flask app context appeared"
print(json.dumps({"secret": secret, "first_run": first_run["run"]["state"], "document": document}))
"""


def test_a_scene_runs_and_delivers_from_a_plain_script(tmp_path: Path) -> None:
    records = sample_records()[:40]
    first = write_snapshot(tmp_path / "a.json", records[:25])
    second = write_snapshot(tmp_path / "b.json", records[5:40])
    receiver = Receiver()
    receiver.thread.start()
    try:
        done = subprocess.run([sys.executable, "-c", SCRIPT, first, second, receiver.url], cwd=ROOT,
                              env={**os.environ, **base_env(tmp_path)}, capture_output=True, text=True,
                              timeout=300)
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["first_run"] == "noop"  # nothing changed since the baseline taken on save
    document = result["document"]
    assert document["run"]["state"] == "changed"
    assert (document["counts"]["added"], document["counts"]["removed"]) == (15, 5)
    (request,) = receiver.requests  # the unchanged run sends nothing; the change once
    payload = Webhook(result["secret"]).verify(request["body"], request["headers"])
    assert payload["type"] == "scene.changed" and payload["data"] == document
    assert document["links"]["scene"].startswith("https://scenewatch.example/scenes/")
