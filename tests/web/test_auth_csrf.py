"""Register, log in and out, where login sends people back, and CSRF protection."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from subscriptions.views.auth import safe_next
from tests.web.conftest import PASSWORD, register


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field in the form"
    return match.group(1)


def test_register_logs_in_and_shows_the_account(client: FlaskClient) -> None:
    register(client, "someone@example.org")
    html = client.get("/scenes").get_data(as_text=True)
    assert "someone@example.org" in html
    assert 'action="/logout"' in html


def test_register_reports_problems_by_field(client: FlaskClient) -> None:
    response = client.post(
        "/register?lang=en",
        data={
            "email": "not-an-address",
            "password": "short",
            "password2": "short",
            "timezone": "Asia/Shanghai",
        },
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "is not an email address" in html
    assert 'id="email" name="email" value="not-an-address"' in html
    register(client, "taken@example.org")
    client.post("/logout")
    response = client.post(
        "/register",
        data={
            "email": "Taken@example.org",
            "password": PASSWORD,
            "password2": PASSWORD,
            "timezone": "Asia/Shanghai",
        },
    )
    assert response.status_code == 400 and "already registered" in response.get_data(as_text=True)
    response = client.post(
        "/register",
        data={
            "email": "new@example.org",
            "password": PASSWORD,
            "password2": PASSWORD + "x",
            "timezone": "Asia/Shanghai",
        },
    )
    assert response.status_code == 400 and "The two passwords differ." in response.get_data(
        as_text=True
    )
    response = client.post(
        "/register",
        data={
            "email": "new@example.org",
            "password": PASSWORD,
            "password2": PASSWORD,
            "timezone": "Mars/Olympus",
        },
    )
    assert response.status_code == 400 and "Mars/Olympus" in response.get_data(as_text=True)


def test_login_logout_and_wrong_password(app: Flask, client: FlaskClient) -> None:
    register(client, "a@example.org")
    client.post("/logout")
    assert client.get("/scenes").status_code == 302
    wrong = client.post("/login", data={"email": "a@example.org", "password": "nope-nope"})
    assert wrong.status_code == 401 and "邮箱或密码错误" in wrong.get_data(as_text=True)
    ok = client.post("/login", data={"email": "A@example.org", "password": PASSWORD})
    assert ok.status_code == 302 and ok.headers["Location"] == "/scenes"
    assert client.get("/scenes").status_code == 200


def test_pages_that_need_login_send_people_back_afterwards(client: FlaskClient) -> None:
    response = client.get("/scenes/new?q=交通&f.region=杭州市")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/login?next=")
    register(client, "b@example.org")
    client.post("/logout")
    back = client.post(location, data={"email": "b@example.org", "password": PASSWORD})
    assert back.status_code == 302
    assert (
        back.headers["Location"]
        == "/scenes/new?q=%E4%BA%A4%E9%80%9A&f.region=%E6%9D%AD%E5%B7%9E%E5%B8%82"
    )


def test_login_never_redirects_off_site(client: FlaskClient) -> None:
    register(client, "c@example.org")
    client.post("/logout")
    for target in (
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
    ):
        response = client.post(
            "/login", data={"email": "c@example.org", "password": PASSWORD, "next": target}
        )
        assert response.headers["Location"] == "/scenes", target
        client.post("/logout")
    assert safe_next("/scenes/3?x=1") == "/scenes/3?x=1"


def test_logout_is_post_only(user_client: FlaskClient) -> None:
    assert user_client.get("/logout").status_code == 405
    assert user_client.get("/scenes").status_code == 200


def test_csrf_token_required_on_posts(csrf_app: Flask) -> None:
    client = csrf_app.test_client()
    response = client.post(
        "/register",
        data={
            "email": "d@example.org",
            "password": PASSWORD,
            "password2": PASSWORD,
            "timezone": "UTC",
        },
    )
    assert response.status_code == 400
    assert "表单已过期" in response.get_data(as_text=True)
    token = _token(client.get("/register").get_data(as_text=True))
    wrong = client.post(
        "/register",
        data={
            "email": "d@example.org",
            "password": PASSWORD,
            "password2": PASSWORD,
            "timezone": "UTC",
            "csrf_token": token + "x",
        },
    )
    assert wrong.status_code == 400
    ok = client.post(
        "/register",
        data={
            "email": "d@example.org",
            "password": PASSWORD,
            "password2": PASSWORD,
            "timezone": "UTC",
            "csrf_token": token,
        },
    )
    assert ok.status_code == 302
    # Every POST form on a logged-in page carries the token (logout is one).
    html = client.get("/scenes").get_data(as_text=True)
    assert _token(html)
    assert client.post("/logout").status_code == 400
    assert client.post("/logout", headers={"X-CSRF-Token": _token(html)}).status_code == 302


def test_csrf_cannot_be_turned_off_outside_testing(settings) -> None:
    from config.app import create_app

    app = create_app(settings, WTF_CSRF_ENABLED=False)  # not TESTING: the flag alone does nothing
    with app.app_context():
        from config.migrate import upgrade

        upgrade()
        response = app.test_client().post(
            "/login", data={"email": "x@example.org", "password": "x"}
        )
    assert response.status_code == 400
