"""Done when: private, loopback, link-local and metadata webhook targets are refused
with a clear error when the allow-list is off, on create (CLI) and at send time."""
from __future__ import annotations

import json
import socket
from datetime import UTC

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from config.cli import cli
from tests.delivery.conftest import base_env
from tests.delivery.receiver_server import RecordingReceiver

TARGETS = [
    ("http://127.0.0.1:8080/hook", "loopback"),
    ("http://10.0.0.1/hook", "private"),
    ("http://169.254.169.254/latest/meta-data", "metadata"),
    ("http://[::1]:8080/hook", "loopback"),
    ("http://localhost:8080/hook", "loopback"),
]


def _resolving_private_name() -> str | None:
    """This machine's host name when it resolves to a non-public address (through DNS or
    /etc/hosts, not the literal ``localhost`` rule)."""
    import ipaddress

    name = socket.gethostname()
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)}
    except OSError:
        return None
    if addresses and all(not ipaddress.ip_address(a.split("%")[0]).is_global for a in addresses):
        return name
    return None


@pytest.mark.parametrize(("url", "words"), TARGETS)
def test_cli_refuses_private_targets(tmp_path, url: str, words: str) -> None:
    env = base_env(tmp_path, SCENEWATCH_WEBHOOK_ALLOW_PRIVATE="0")
    result = CliRunner().invoke(cli, ["scenes", "create", "--name", "x", "--schedule", "manual",
                                      "--webhook", url, "--json"], env=env)
    assert result.exit_code == 2, result.output
    error = json.loads(result.stdout)["error"]
    assert error["errors"][0]["field"] == "webhook"
    assert words in error["message"] and "webhook host" in error["message"]
    assert "error: webhook: webhook host" in result.stderr


def test_cli_refuses_a_name_resolving_to_a_private_address(tmp_path) -> None:
    name = _resolving_private_name()
    if name is None:
        pytest.skip("this machine's host name resolves to a public address")
    env = base_env(tmp_path, SCENEWATCH_WEBHOOK_ALLOW_PRIVATE="0")
    result = CliRunner().invoke(cli, ["scenes", "create", "--name", "x", "--schedule", "manual",
                                      "--webhook", f"http://{name}:8080/hook"], env=env)
    assert result.exit_code == 2
    assert f"webhook host {name} (" in result.stderr and "refused" in result.stderr


def test_refused_again_at_send_time(make_app, changed_scene) -> None:
    """A channel saved while private targets were allowed is refused once they are not:
    nothing reaches the receiver and the log says why."""
    import dataclasses

    from config.extensions import db
    from notifier.delivery import deliver_notification
    from notifier.models import Channel, Notification
    from subscriptions.runner import run_scene

    app = make_app(SCENEWATCH_WEBHOOK_RETRY_SCHEDULE="0")
    with RecordingReceiver() as receiver:
        scene = changed_scene(webhook=receiver.url)
        app.config["SCENEWATCH"] = dataclasses.replace(app.config["SCENEWATCH"], webhook_allow_private=False)
        run_scene(scene.scene_id)
        with db.session() as session:
            (notification,) = session.scalars(select(Notification)).all()
            first = notification.deliveries[0]
            assert notification.state == "dead"
            assert first.error is not None and "127.0.0.1 is a loopback address; refused" in first.error
            # Each forbidden target, as if DNS now pointed the channel there.
            channel = session.get(Channel, scene.channel_ids[0])
            nid = notification.id
        for url, words in TARGETS:
            with db.session() as session:
                session.get(Channel, channel.id).target = url
            from notifier.lifecycle import redeliver

            redeliver(nid)
            assert deliver_notification(nid) == "dead"
            with db.session() as session:
                last = session.get(Notification, nid).deliveries[-1]
                assert words in (last.error or ""), (url, last.error)
    assert receiver.requests == []


def test_send_path_refuses_a_rebound_name_before_connecting() -> None:
    """DNS rebinding: the name checks out as public when the channel is validated at
    send time, and answers loopback when the connection resolves it. The connection
    checks the answer it connects to, so the receiver never sees a connection."""
    from datetime import datetime

    from config.outgoing import override_resolver
    from config.settings import load_settings
    from notifier.channels import DeliveryError, Outgoing, webhook
    from notifier.signing import generate_secret

    settings = load_settings({"SCENEWATCH_WEBHOOK_ALLOW_PRIVATE": "0", "SCENEWATCH_WEBHOOK_TIMEOUT": "3"})
    answers = iter([["93.184.215.14"], ["127.0.0.1"], ["127.0.0.1"]])
    with RecordingReceiver() as receiver, override_resolver(lambda host, port: next(answers)):
        port = receiver.server_address[1]
        outgoing = Outgoing(notification_id=1, message_id="msg_rebind", event_type="scene.changed",
                            payload={"counts": {}}, created_at=datetime.now(UTC), channel_id=1,
                            kind="webhook", target=f"http://hooks.rebind.example:{port}/hook",
                            secrets=(generate_secret(),))
        with pytest.raises(DeliveryError, match=r"\(127.0.0.1\) is a loopback address; refused"):
            webhook.WebhookChannel().send(outgoing, settings)
    assert receiver.requests == []
