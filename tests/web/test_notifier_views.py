"""The outbox pages and unsubscribe links (GET confirms, POST unsubscribes)."""

from __future__ import annotations

import dataclasses
from email.message import EmailMessage

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from config.extensions import db
from notifier.mailer import list_outbox, send_message
from notifier.models import Channel
from notifier.tokens import make_unsubscribe_token
from subscriptions.models import User
from subscriptions.scenes import create_scene


def _mail(settings, to: str, subject: str) -> str:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = settings.mail_from, to, subject
    msg.set_content("3 datasets added\nhttps://example.org/x\n")
    msg.add_alternative(
        "<html><body><h1>3 datasets added</h1><script>alert(1)</script></body></html>",
        subtype="html",
    )
    return send_message(msg, settings)


def test_outbox_lists_and_shows_messages(app: Flask, user_client: FlaskClient, settings) -> None:
    key = _mail(settings, "researcher@example.org", "场景更新：杭州交通")
    listing = user_client.get("/outbox")
    assert listing.status_code == 200
    html = listing.get_data(as_text=True)
    assert "场景更新：杭州交通" in html and f"/outbox/{key}" in html
    page = user_client.get(f"/outbox/{key}").get_data(as_text=True)
    assert "3 datasets added" in page  # the text part, inline
    assert f'src="/outbox/{key}/html"' in page and 'sandbox=""' in page
    assert "<script>alert(1)</script>" not in page  # the html part is never inlined
    framed = user_client.get(f"/outbox/{key}/html")
    assert "<h1>3 datasets added</h1>" in framed.get_data(as_text=True)
    csp = framed.headers["Content-Security-Policy"]
    assert csp.startswith("sandbox") and "default-src 'none'" in csp and "script-src" not in csp


def test_outbox_is_open_locally_but_needs_login_in_production(
    app: Flask, client: FlaskClient, user_client: FlaskClient, settings
) -> None:
    _mail(settings, "reader@example.org", "hello")
    # The embedded default is one person's machine: its mail catcher is open like the rest.
    assert app.test_client().get("/outbox").status_code == 200
    app.config["SCENEWATCH"] = dataclasses.replace(settings, env="production")
    assert app.test_client().get("/outbox").status_code == 302
    app.config["SCENEWATCH"] = settings
    assert user_client.get("/outbox/..%2f..%2fsecret_key").status_code == 404
    assert user_client.get("/outbox/.hidden").status_code == 404
    assert user_client.get("/outbox/1234.M5P6Q7.nohost").status_code == 404


def test_outbox_is_gone_when_smtp_is_configured(
    app: Flask, user_client: FlaskClient, settings
) -> None:
    app.config["SCENEWATCH"] = dataclasses.replace(settings, smtp_host="smtp.example.org")
    assert user_client.get("/outbox").status_code == 404
    assert 'href="/outbox"' not in user_client.get("/scenes").get_data(as_text=True)


def test_production_outbox_shows_only_ones_own_mail(
    app: Flask, user_client: FlaskClient, settings
) -> None:
    mine = _mail(settings, "researcher@example.org", "mine")
    theirs = _mail(settings, "other@example.org", "theirs")
    app.config["SCENEWATCH"] = dataclasses.replace(settings, env="production")
    html = user_client.get("/outbox").get_data(as_text=True)
    assert mine in html and theirs not in html
    assert user_client.get(f"/outbox/{theirs}").status_code == 404
    assert len(list_outbox(settings)) == 2


def _email_channel(app: Flask) -> int:
    with db.session() as s:
        owner = User(
            email="owner@example.org",
            password_hash="",
            created_at=__import__("datetime").datetime.now(__import__("datetime").timezone.utc),
        )
        s.add(owner)
        s.flush()
        made = create_scene(
            s,
            owner,
            name="杭州交通",
            query={"text": "交通"},
            schedule="manual",
            email="owner@example.org",
            email_verified=True,
        )
        return made.channels[0].id


def _disabled(channel_id: int) -> str | None:
    with db.session() as s:
        return s.scalar(select(Channel.disabled_reason).where(Channel.id == channel_id))


def test_unsubscribe_get_only_asks(app: Flask, client: FlaskClient) -> None:
    channel_id = _email_channel(app)
    token = make_unsubscribe_token(channel_id)
    for _ in range(3):  # a mail scanner following the link, repeatedly
        page = client.get(f"/unsubscribe/{token}")
        assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "o•••@example.org" in html and "owner@example.org" not in html
    assert "杭州交通" in html and f'action="/unsubscribe/{token}"' in html
    assert _disabled(channel_id) is None


def test_unsubscribe_post_needs_no_login_or_csrf(csrf_app: Flask) -> None:
    channel_id = _email_channel(csrf_app)
    token = make_unsubscribe_token(channel_id)
    response = csrf_app.test_client().post(f"/unsubscribe/{token}")
    assert response.status_code == 200
    assert "已退订" in response.get_data(as_text=True) or "unsubscribed" in response.get_data(
        as_text=True
    )
    assert _disabled(channel_id) == "unsubscribed"
    again = csrf_app.test_client().get(f"/unsubscribe/{token}")
    assert 'data-state="done"' in again.get_data(as_text=True)


def test_rfc8058_one_click_post(csrf_app: Flask) -> None:
    channel_id = _email_channel(csrf_app)
    token = make_unsubscribe_token(channel_id)
    response = csrf_app.test_client().post(
        f"/unsubscribe/{token}",
        data="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert _disabled(channel_id) == "unsubscribed"


def test_bad_unsubscribe_tokens(app: Flask, client: FlaskClient) -> None:
    channel_id = _email_channel(app)
    token = make_unsubscribe_token(channel_id)
    assert client.get(f"/unsubscribe/{token[:-3]}").status_code == 404
    assert client.post(f"/unsubscribe/{token[:-3]}").status_code == 404
    assert (
        client.post("/unsubscribe/garbage", data={"List-Unsubscribe": "One-Click"}).status_code
        == 404
    )
    assert _disabled(channel_id) is None
