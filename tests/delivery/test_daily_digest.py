"""Done when: three scenes changing across a day produce one email at the chosen local
hour (time frozen with now=), with all three diffs, text and html, both unsubscribe
headers, sent to a real SMTP server; a one-click POST unsubscribes, a GET does not."""
from __future__ import annotations

import re
from datetime import datetime
from email import message_from_bytes, policy
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from aiosmtpd.controller import Controller

from tests.delivery.conftest import free_port
from tests.helpers import sample_records, write_snapshot

ZONE = ZoneInfo("Asia/Shanghai")


def local(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 10, hour, minute, tzinfo=ZONE)


class Sink:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802, ANN001
        self.messages.append(envelope.original_content)
        return "250 Message accepted"


def test_one_digest_at_the_chosen_hour_then_one_click_unsubscribe(make_app, tmp_path) -> None:
    from config.extensions import db
    from notifier.channel_admin import set_digest
    from notifier.digest import send_due_digests
    from notifier.models import Channel, Notification
    from search.harvest import run_harvest
    from subscriptions.accounts import operator_user
    from subscriptions.models import Scene
    from subscriptions.runner import run_scene
    from subscriptions.scenes import create_scene

    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        app = make_app(SCENEWATCH_SMTP_HOST="127.0.0.1", SCENEWATCH_SMTP_PORT=str(port),
                       SCENEWATCH_SMTP_SECURITY="none")
        records = sample_records()[:60]
        run_harvest("hz", write_snapshot(tmp_path / "0.json", records[:30]), fmt="portal-json")
        names = ["公交线路", "地铁客流", "出租车站点"]
        with db.session() as session:
            owner = operator_user(session)
            owner.timezone = "Asia/Shanghai"
            first = create_scene(session, owner, name=names[0], query={}, schedule="manual",
                                 email="researcher@example.org", email_verified=True, email_cadence="daily")
            channel = first.channels[0]
            set_digest(channel, hour=18)
            scene_ids = [first.scene.id]
            for name in names[1:]:
                other = create_scene(session, owner, name=name, query={}, schedule="manual")
                other.scene.channels.append(channel)  # the same address for all three scenes
                session.flush()
                scene_ids.append(other.scene.id)
            channel_id = channel.id
        for scene_id in scene_ids:
            run_scene(scene_id, local(7), now=local(7))  # baselines
        # Each scene changes at a different time of the day.
        for step, (scene_id, hour) in enumerate(zip(scene_ids, (9, 12, 16), strict=True), start=1):
            run_harvest("hz", write_snapshot(tmp_path / f"{step}.json", records[step * 5:30 + step * 5]),
                        fmt="portal-json")
            assert run_scene(scene_id, local(hour), now=local(hour))["run"]["state"] == "changed"
        with db.session() as session:
            held = session.query(Notification).filter_by(channel_id=channel_id, state="held").count()
        assert held == 3 and sink.messages == []

        assert send_due_digests(now=local(17, 59))["digests"] == 0  # not yet: the chosen hour is 18
        sent = send_due_digests(now=local(18, 0))
        assert sent == {"channels": 1, "digests": 1, "notifications": 3}
        assert send_due_digests(now=local(18, 5))["digests"] == 0
        assert send_due_digests(now=local(23, 0))["digests"] == 0
    finally:
        controller.stop()

    assert len(sink.messages) == 1
    msg = message_from_bytes(sink.messages[0], policy=policy.default)
    assert msg["To"] == "researcher@example.org"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for name in names:
        assert name in text and name in html
    links = re.findall(r"<([^>]+)>", str(msg["List-Unsubscribe"]))
    https = [link for link in links if link.startswith("https://scenewatch.example/unsubscribe/")]
    assert len(https) == 1 and any(link.startswith("mailto:") for link in links)
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    client = app.test_client()  # no login: a mail client posting the one-click form
    path = urlsplit(https[0]).path
    page = client.get(path)
    assert page.status_code == 200
    with db.session() as session:
        assert session.get(Channel, channel_id).disabled_reason is None  # GET changed nothing
    done = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    with db.session() as session:
        assert session.get(Channel, channel_id).disabled_reason
        assert session.get(Scene, scene_ids[0]) is not None
