"""Saving a search as a scene, the scene and run pages, and the scene's actions."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from flask.testing import FlaskClient
from sqlalchemy import select

from config.extensions import db
from notifier.receiver import VerifyingReceiver
from subscriptions.models import Scene
from tests.web.conftest import harvest, later, register, text_of

QUERY = "q=交通&f.region=" + quote("杭州市")


def _traffic_in_hangzhou(catalog: list[dict]) -> list[dict]:
    return [d for d in catalog if "交通" in text_of(d) and "杭州市" in d["region_path"]]


def _save(client: FlaskClient, **fields: str | list[str]) -> str:
    data = {
        "q": "交通",
        "f.region": "杭州市",
        "name": "杭州交通",
        "schedule": "daily",
        "timezone": "Asia/Shanghai",
        "email_cadence": "immediate",
        **fields,
    }
    response = client.post("/scenes/new", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    return response.headers["Location"]


def test_form_previews_the_query(user_client: FlaskClient, catalog: list[dict]) -> None:
    html = user_client.get(f"/scenes/new?{QUERY}").get_data(as_text=True)
    assert f"当前匹配 {len(_traffic_in_hangzhou(catalog))} 个数据集" in html
    assert '<input type="hidden" name="f.region" value="杭州市">' in html
    assert '<input type="hidden" name="q" value="交通">' in html
    # Tracked fields: everything but quality is ticked by default.
    assert 'value="title" checked' in html and 'value="quality" checked' not in html
    assert 'value="Asia/Shanghai"' in html


def test_form_problems_are_shown_by_their_fields(
    user_client: FlaskClient, catalog: list[dict]
) -> None:
    response = user_client.post(
        "/scenes/new?lang=en",
        data={
            "q": "交通",
            "name": "",
            "schedule": "cron",
            "cron": "every tuesday",
            "timezone": "Asia/Shanghai",
            "email": "not-an-address",
            "email_cadence": "immediate",
            "webhook": "ftp://example.org/x",
        },
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    for field in ("name", "cron", "email", "webhook"):
        assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', html), field
    assert "a scene needs a name" in html and "every tuesday" in html
    assert 'value="not-an-address"' in html  # what was typed is kept
    with db.session() as s:
        assert s.scalars(select(Scene)).all() == []


def test_invalid_query_cannot_be_saved(user_client: FlaskClient, catalog: list[dict]) -> None:
    html = user_client.get("/scenes/new?modified_from=someday").get_data(as_text=True)
    # Named in the reader's language, next to the query, with the value given.
    assert "更新日期" in html and "someday" in html and "不是日期" in html
    assert "is not a date" not in html


def test_save_shows_the_webhook_secret_once(
    app: Flask, user_client: FlaskClient, catalog: list[dict], records: list[dict], tmp_path: Path
) -> None:
    with VerifyingReceiver() as receiver:
        location = _save(user_client, webhook=receiver.url, email="reader@example.org")
        # The session cookie is readable by whoever holds it: the secret never rides in it.
        serializer = SecureCookieSessionInterface().get_signing_serializer(app)
        assert "whsec_" not in json.dumps(serializer.loads(user_client.get_cookie("session").value))
        page = user_client.get(location).get_data(as_text=True)
        secret = re.search(r'<code class="secret">(whsec_[^<]+)</code>', page)
        assert secret, "the secret is shown after saving"
        assert (
            user_client.get(location).get_data(as_text=True).count("whsec_") == 0
        )  # and only once
        receiver.secret = secret.group(1)
        assert "reader@example.org" in page and "等待确认" in page  # unverified email channel

        # Saving took the baseline; running now finds nothing new, and nothing is sent.
        assert "基线" in page
        run = user_client.post(location + "/run")
        assert run.status_code == 302 and "/runs/" in run.headers["Location"]
        first = user_client.get(run.headers["Location"]).get_data(as_text=True)
        matched = len(_traffic_in_hangzhou(catalog))
        assert re.search(rf'data-count="matched"><b>{matched}</b>', first)
        assert receiver.received == {}

        # The portal's next export: one dataset retitled, one gone from the catalog.
        changed, gone = _traffic_in_hangzhou(catalog)[:2]
        snapshot = []
        for record in records:
            if record["详情页网址"] == gone["landing_page"]:
                continue
            if record["详情页网址"] == changed["landing_page"]:
                record = {**record, "资源名称": record["资源名称"] + "（更新）"}
            snapshot.append(record)
        harvest(snapshot, tmp_path, now=later(1))

        run = user_client.post(location + "/run", headers={"Accept-Language": "en"})
        html = user_client.get(run.headers["Location"] + "?lang=en").get_data(as_text=True)
    assert 'id="changed"' in html and 'id="removed"' in html
    assert changed["title"] + "（更新）" in html
    assert re.search(r'<span class="diff-old">' + re.escape(changed["title"]) + r"</span>", html)
    assert "deleted from the catalog" in html and gone["title"] in html
    # The secret shown was the real one: the receiver verified the signature with it.
    assert len(receiver.received) == 1 and receiver.rejected == []
    # The delivery attempt is listed with its status and latency.
    deliveries = re.search(r'<table class="deliveries">(.*?)</table>', html, re.S)
    assert deliveries and "delivered" in deliveries.group(1) and ">204<" in deliveries.group(1)
    assert re.search(r"\d+ ms", deliveries.group(1))


def test_my_scenes_lists_runs_and_the_scene_page_plots_them(
    user_client: FlaskClient, catalog: list[dict]
) -> None:
    location = _save(user_client, name="每周交通", schedule="weekly")
    scene_id = int(location.rsplit("/", 1)[1])
    listing = user_client.get("/scenes").get_data(as_text=True)
    assert "每周交通" in listing and "每周（周一）" in listing and "基线" in listing  # taken on save
    for _ in range(3):
        user_client.post(f"/scenes/{scene_id}/run")
    listing = user_client.get("/scenes").get_data(as_text=True)
    assert "无变化" in listing and f">{len(_traffic_in_hangzhou(catalog))}<" in listing
    page = user_client.get(location).get_data(as_text=True)
    assert page.count('<circle class="dot"') == 4  # the baseline taken on save, and 3 runs
    assert page.count(f'href="/scenes/{scene_id}/runs/') == 4
    assert "交通" in page and "杭州市" in page  # the readable query


def test_pause_resume_and_delete(user_client: FlaskClient, catalog: list[dict]) -> None:
    location = _save(user_client)
    scene_id = int(location.rsplit("/", 1)[1])
    user_client.post(f"{location}/pause")
    with db.session() as s:
        assert s.get(Scene, scene_id).paused is True
    assert "已暂停" in user_client.get(location).get_data(as_text=True)
    user_client.post(f"{location}/resume")
    with db.session() as s:
        scene = s.get(Scene, scene_id)
        assert scene.paused is False and scene.next_run_at > datetime.now(UTC)
    confirm = user_client.get(f"{location}/delete")
    assert confirm.status_code == 200 and "杭州交通" in confirm.get_data(as_text=True)
    with db.session() as s:
        assert s.get(Scene, scene_id) is not None  # a GET deletes nothing
    done = user_client.post(f"{location}/delete")
    assert done.status_code == 302 and done.headers["Location"] == "/scenes"
    assert user_client.get(location).status_code == 404


def test_only_the_owner_sees_a_scene(
    app: Flask, user_client: FlaskClient, catalog: list[dict]
) -> None:
    location = _save(user_client)
    run = user_client.post(location + "/run").headers["Location"]
    other = app.test_client()
    register(other, "someone-else@example.org")
    for path in (location, run, f"{location}/delete"):
        assert other.get(path).status_code == 404, path
    for path in (f"{location}/run", f"{location}/pause", f"{location}/delete"):
        assert other.post(path).status_code == 404, path
    assert user_client.get(location).status_code == 200
    assert app.test_client().get(location).status_code == 302  # anonymous: log in first


def test_a_new_address_is_confirmed_before_use(
    user_client: FlaskClient, settings, catalog: list[dict]
) -> None:
    from notifier.mailer import list_outbox, read_outbox_message
    from notifier.models import Channel

    location = _save(user_client, email="reader@example.org")
    page = user_client.get(location).get_data(as_text=True)
    assert "已向 reader@example.org 发送确认邮件" in page and "等待确认" in page
    (entry,) = list_outbox(settings)
    assert entry.to == "reader@example.org"
    with db.session() as s:
        channel_id = s.scalar(select(Channel.id).where(Channel.target == "reader@example.org"))
    user_client.post(f"{location}/channels/{channel_id}/confirm")
    assert len(list_outbox(settings)) == 2  # sent again on request

    text = read_outbox_message(settings, entry.key).text
    link = re.search(r"https?://\S+(/confirm/\S+)", text).group(1)
    ask = user_client.get(link).get_data(as_text=True)
    assert 'data-state="ask"' in ask and "reader@example.org" in ask
    with db.session() as s:
        assert s.get(Channel, channel_id).verified is False  # a GET confirms nothing
    done = user_client.post(link).get_data(as_text=True)
    assert 'data-state="done"' in done
    with db.session() as s:
        assert s.get(Channel, channel_id).verified is True
    assert "等待确认" not in user_client.get(location).get_data(as_text=True)


def test_a_delivered_notification_can_be_redelivered_from_the_run_page(
    user_client: FlaskClient, catalog: list[dict], records: list[dict], tmp_path: Path
) -> None:
    from notifier.models import Delivery, Notification

    with VerifyingReceiver() as receiver:
        location = _save(user_client, webhook=receiver.url)
        page = user_client.get(location).get_data(as_text=True)
        receiver.secret = re.search(r'<code class="secret">(whsec_[^<]+)</code>', page).group(1)
        user_client.post(location + "/run")
        gone = _traffic_in_hangzhou(catalog)[0]
        harvest([r for r in records if r["详情页网址"] != gone["landing_page"]], tmp_path, now=later(1))
        run_page = user_client.post(location + "/run").headers["Location"]
        html = user_client.get(run_page).get_data(as_text=True)
        action = re.search(r'action="([^"]+/redeliver)"', html)
        assert action, "a sent notification offers redelivery"
        again = user_client.post(action.group(1))
        assert again.status_code == 302
    with db.session() as s:
        (note,) = s.scalars(select(Notification)).all()
        attempts = s.scalars(select(Delivery).where(Delivery.notification_id == note.id)).all()
    assert note.state == "sent" and [a.ok for a in attempts] == [True, True]
    # Both deliveries carried the same webhook-id, and both verified.
    assert list(receiver.received) == [note.message_id] and receiver.rejected == []
    # Only dead or sent notifications can be sent again; others are refused.
    with db.session() as s:
        s.get(Notification, note.id).state = "pending"
    assert user_client.post(action.group(1)).status_code == 409


def test_channels_can_be_muted_unmuted_and_sent_a_test_event(
    user_client: FlaskClient, catalog: list[dict]
) -> None:
    from notifier.models import Channel

    with VerifyingReceiver() as receiver:
        location = _save(user_client, webhook=receiver.url)
        page = user_client.get(location).get_data(as_text=True)
        receiver.secret = re.search(r'<code class="secret">(whsec_[^<]+)</code>', page).group(1)
        with db.session() as s:
            (channel,) = s.scalars(select(Channel)).all()
        base = f"{location}/channels/{channel.id}"

        tested = user_client.post(base + "/test", follow_redirects=True).get_data(as_text=True)
        (ping,) = receiver.received.values()
        assert ping["type"] == "test.ping" and receiver.rejected == []
        assert "HTTP 204" in tested

        muted = user_client.post(base + "/pause", follow_redirects=True).get_data(as_text=True)
        with db.session() as s:
            assert s.get(Channel, channel.id).paused
        assert f'action="{base}/resume"' in muted
        user_client.post(base + "/resume")
        with db.session() as s:
            assert not s.get(Channel, channel.id).paused
    # Someone else's channel id under this scene is not found.
    assert user_client.post(f"{location}/channels/{channel.id + 99}/pause").status_code == 404
