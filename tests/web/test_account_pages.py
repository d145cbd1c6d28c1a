"""The account page: language and time zone, password change, password reset by mail
(outbox), my channels with their state, deleting the account with its data."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from config.extensions import db
from notifier.mailer import list_outbox, read_outbox_message
from notifier.models import Channel
from subscriptions.models import Scene, SceneRun, User
from tests.web.conftest import PASSWORD, register

NEW_PASSWORD = "a brand new passphrase"


def _user(email: str = "researcher@example.org") -> User:
    with db.session() as s:
        user = s.scalar(select(User).where(User.email == email))
        s.expunge(user)
        return user


def _login(client: FlaskClient, email: str, password: str) -> int:
    return client.post("/login", data={"email": email, "password": password}).status_code


def test_registration_shows_every_problem_at_once_in_chinese(client: FlaskClient) -> None:
    response = client.post("/register?lang=zh", data={"email": "", "password": "short", "password2": "other",
                                                      "timezone": "Mars/Base"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "不是有效的电子邮件地址" in html and "至少需要 8 个字符" in html
    assert "两次输入的密码不一致" in html and "不是已知的时区" in html
    assert "is not" not in html
    assert html.count('aria-invalid="true"') == 4


def test_language_and_time_zone(user_client: FlaskClient) -> None:
    page = user_client.get("/account").get_data(as_text=True)
    assert "我的账户" in page and "researcher@example.org" in page
    bad = user_client.post("/account/preferences", data={"locale": "zh", "timezone": "Mars/Base"})
    assert bad.status_code == 400 and "不是已知的时区" in bad.get_data(as_text=True)
    done = user_client.post("/account/preferences", data={"locale": "en", "timezone": "Europe/Berlin"},
                            follow_redirects=True)
    html = done.get_data(as_text=True)
    assert '<html lang="en">' in html and "Language and time zone saved." in html
    user = _user()
    assert (user.locale, user.timezone) == ("en", "Europe/Berlin")


def test_password_change_checks_the_current_one(user_client: FlaskClient) -> None:
    wrong = user_client.post("/account/password", data={
        "current_password": "not it", "new_password": "short", "new_password2": "different"})
    html = wrong.get_data(as_text=True)
    assert wrong.status_code == 400
    assert "不是您当前的密码" in html and "至少需要 8 个字符" in html and "两次输入的密码不一致" in html
    ok = user_client.post("/account/password", data={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert ok.status_code == 302
    user_client.post("/logout")
    assert _login(user_client, "researcher@example.org", PASSWORD) == 401
    assert _login(user_client, "researcher@example.org", NEW_PASSWORD) == 302


def test_password_reset_by_mail_works_once(app: Flask, settings, client: FlaskClient) -> None:
    register(client)
    client.post("/logout")
    client.post("/password/forgot", data={"email": "nobody@example.org"})
    assert list_outbox(settings) == []  # no account: no mail, and the same answer
    answer = client.post("/password/forgot", data={"email": "Researcher@example.org"}, follow_redirects=True)
    assert "设置新密码的链接已发出" in answer.get_data(as_text=True)
    (entry,) = list_outbox(settings)
    message = read_outbox_message(settings, entry.key)
    assert entry.to == "researcher@example.org" and "重置" in entry.subject
    link = re.search(r"https?://\S+/password/reset/\S+", message.text).group(0)
    assert link.startswith(settings.base_url)
    path = link[len(settings.base_url):]
    assert client.get(path).status_code == 200
    short = client.post(path, data={"new_password": "short", "new_password2": "short"})
    assert short.status_code == 400 and "至少需要 8 个字符" in short.get_data(as_text=True)
    done = client.post(path, data={"new_password": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302  # logged in
    assert client.get("/account").status_code == 200
    assert client.get(path).status_code == 400  # used once
    client.post("/logout")
    assert _login(client, "researcher@example.org", NEW_PASSWORD) == 302


@pytest.mark.parametrize("token", ["x", "a" * 5000, "eyJ1IjoxfQ.bad.sig", "../../etc/passwd", "%00"])
def test_forged_reset_links_are_refused(client: FlaskClient, token: str) -> None:
    register(client)
    client.post("/logout")
    assert client.get(f"/password/reset/{token}").status_code in (400, 404)
    assert client.post(f"/password/reset/{token}", data={"new_password": NEW_PASSWORD,
                                                         "new_password2": NEW_PASSWORD}).status_code in (400, 404)
    assert _login(client, "researcher@example.org", PASSWORD) == 302


def test_channels_listed_with_their_state(user_client: FlaskClient, catalog: list[dict], settings) -> None:
    user_client.post("/scenes/new", data={"q": "交通", "name": "s", "schedule": "daily", "timezone": "UTC",
                                          "email": "other@example.org", "webhook": "http://127.0.0.1:9/h",
                                          "email_cadence": "immediate"})
    html = user_client.get("/account").get_data(as_text=True)
    assert "other@example.org" in html and "等待确认" in html or "awaiting" in html
    assert "http://127.0.0.1:9/h" in html
    user_client.post("/account/confirm-address")
    mails = [e for e in list_outbox(settings) if e.to == "researcher@example.org"]
    assert len(mails) == 1
    link = re.search(r"https?://\S+/confirm/\S+", read_outbox_message(settings, mails[0].key).text).group(0)
    assert user_client.get(link[len(settings.base_url):]).status_code == 200
    assert user_client.post(link[len(settings.base_url):]).status_code == 200
    # The confirmed account address counts for new scenes: no second confirmation.
    user_client.post("/scenes/new", data={"q": "交通", "name": "t", "schedule": "daily", "timezone": "UTC",
                                          "email": "researcher@example.org", "email_cadence": "immediate"})
    with db.session() as s:
        own = s.scalars(select(Channel).where(Channel.target == "researcher@example.org")).all()
        assert own and all(c.verified for c in own)
    assert len([e for e in list_outbox(settings) if e.to == "researcher@example.org"]) == 1


def test_delete_account_takes_its_data_and_nobody_elses(client: FlaskClient, catalog: list[dict]) -> None:
    register(client, "keeper@example.org")
    client.post("/scenes/new", data={"q": "交通", "name": "kept", "schedule": "daily", "timezone": "UTC",
                                     "email_cadence": "immediate", "email": "keeper@example.org"})
    client.post("/logout")
    register(client, "leaver@example.org")
    made = client.post("/scenes/new", data={"q": "交通", "name": "gone", "schedule": "daily", "timezone": "UTC",
                                            "email_cadence": "immediate", "email": "leaver@example.org",
                                            "webhook": "http://127.0.0.1:9/h"})
    scene_id = int(made.headers["Location"].rsplit("/", 1)[1])
    client.post(f"/scenes/{scene_id}/run")
    refused = client.post("/account/delete", data={"confirm_email": "keeper@example.org"})
    assert refused.status_code == 400
    assert client.post("/account/delete", data={"confirm_email": "Leaver@example.org "}).status_code == 302
    assert client.get("/account").status_code == 302  # logged out
    assert _login(client, "leaver@example.org", PASSWORD) == 401
    with db.session() as s:
        assert [u.email for u in s.scalars(select(User))] == ["keeper@example.org"]
        assert [sc.name for sc in s.scalars(select(Scene))] == ["kept"]
        assert {c.target for c in s.scalars(select(Channel))} == {"keeper@example.org"}
        assert s.scalar(select(func.count()).select_from(SceneRun).where(SceneRun.scene_id == scene_id)) == 0


def test_account_pages_need_a_login(client: FlaskClient) -> None:
    for method, path in (("get", "/account"), ("post", "/account/preferences"), ("post", "/account/password"),
                         ("post", "/account/confirm-address"), ("get", "/account/delete"),
                         ("post", "/account/delete")):
        response = getattr(client, method)(path, data={"confirm_email": "x@y.z"})
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
