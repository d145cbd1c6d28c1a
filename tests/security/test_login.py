"""Login as an attacker tries it: guessing, timing, stolen cookies, plain HTTP."""

from __future__ import annotations

import statistics
import time

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from config.extensions import db
from config.settings import Settings
from subscriptions.account import change_password
from subscriptions.models import User
from tests.security.conftest import PASSWORD, build_app, csrf_token, login, post, register


def _from(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_guessing_one_account_is_stopped_even_with_the_right_password(prod_app: Flask) -> None:
    register(prod_app.test_client(), "target@example.org")
    for n in range(10):  # the default: 10 failures per 15 minutes per account
        guess = login(_from(prod_app, f"10.0.{n}.1"), "target@example.org", f"wrong-{n}")
        assert guess.status_code == 401
    # From yet another address, with the right password: still refused for now.
    blocked = login(_from(prod_app, "10.9.9.9"), "TARGET@example.org")
    assert blocked.status_code == 429
    assert "Traceback" not in blocked.get_data(as_text=True)
    # Other accounts are not affected.
    register(prod_app.test_client(), "other@example.org")
    assert login(_from(prod_app, "10.9.9.9"), "other@example.org").status_code == 302


def test_guessing_from_one_address_is_stopped(settings: Settings) -> None:
    import dataclasses

    app = build_app(dataclasses.replace(settings, login_limit_address="5 per 15 minutes"), production=True)
    with app.app_context():
        register(app.test_client(), "victim@example.org")
        attacker = _from(app, "203.0.113.7")
        for n in range(5):
            assert login(attacker, f"user{n}@example.org", "guess-guess").status_code == 401
        assert login(attacker, "victim@example.org").status_code == 429
        assert login(_from(app, "198.51.100.1"), "victim@example.org").status_code == 302


def test_successful_logins_do_not_count(prod_app: Flask) -> None:
    register(prod_app.test_client(), "busy@example.org")
    client = _from(prod_app, "10.1.1.1")
    for _ in range(15):
        assert login(client, "busy@example.org").status_code == 302
        post(client, "/logout")


def _median_login_seconds(app: Flask, email: str, rounds: int = 5) -> float:
    times = []
    for n in range(rounds):
        client = _from(app, f"10.2.{n}.{len(email)}")
        token = csrf_token(client)
        start = time.perf_counter()
        response = client.post("/login", data={"email": email, "password": "not the password",
                                               "csrf_token": token})
        times.append(time.perf_counter() - start)
        assert response.status_code == 401
    return statistics.median(times)


def test_unknown_accounts_take_as_long_as_wrong_passwords(prod_app: Flask) -> None:
    register(prod_app.test_client(), "exists@example.org")
    known = _median_login_seconds(prod_app, "exists@example.org")
    unknown = _median_login_seconds(prod_app, "nobody-here@example.org")
    # Before, an unknown address answered ~20x faster (no password hash was checked).
    assert unknown > known * 0.5, (unknown, known)


def test_a_cookie_kept_after_logout_is_worthless(prod_app: Flask) -> None:
    client = prod_app.test_client()
    register(client, "leaver@example.org")
    cookie = client.get_cookie("session")
    assert cookie is not None
    assert post(client, "/logout").status_code == 302
    thief = prod_app.test_client()
    thief.set_cookie("session", cookie.value)
    assert thief.get("/scenes").status_code == 302  # sent to the login page


def test_a_password_change_ends_every_other_session(prod_app: Flask) -> None:
    from subscriptions.sessions import open_session

    laptop, phone = prod_app.test_client(), prod_app.test_client()
    register(laptop, "mover@example.org")
    assert login(phone, "mover@example.org").status_code == 302
    assert phone.get("/scenes").status_code == 200
    with laptop.session_transaction() as cookie_session:
        keep = cookie_session["sid"]
    with db.session() as s:
        user = s.scalar(select(User).where(User.email == "mover@example.org"))
        assert user is not None
        assert change_password(user, PASSWORD, "a new long password", "a new long password",
                               keep_session=keep) == []
        open_session(s, user)  # sessions opened later are unaffected
    assert phone.get("/scenes").status_code == 302
    assert laptop.get("/scenes").status_code == 200
    assert login(prod_app.test_client(), "mover@example.org").status_code == 401
    assert login(prod_app.test_client(), "mover@example.org", "a new long password").status_code == 302


def test_a_deleted_accounts_cookie_does_not_log_into_the_next_account(prod_app: Flask) -> None:
    old = prod_app.test_client()
    register(old, "gone@example.org")
    cookie = old.get_cookie("session")
    assert cookie is not None
    with db.session() as s:
        user = s.scalar(select(User).where(User.email == "gone@example.org"))
        s.delete(user)
    register(prod_app.test_client(), "next@example.org")
    replay = prod_app.test_client()
    replay.set_cookie("session", cookie.value)
    assert replay.get("/scenes").status_code == 302


def test_production_cookies_are_secure_and_hsts_is_sent(prod_app: Flask, dev_app: Flask) -> None:
    client = prod_app.test_client()
    token = csrf_token(client)
    response = client.post("/register", data={"email": "tls@example.org", "password": PASSWORD,
                                              "password2": PASSWORD, "timezone": "UTC",
                                              "csrf_token": token})
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "max-age=31536000" in client.get("/").headers["Strict-Transport-Security"]
    assert "Strict-Transport-Security" not in dev_app.test_client().get("/").headers


@pytest.mark.redis
def test_limits_are_shared_by_every_web_process_through_redis(settings: Settings) -> None:
    import dataclasses
    import os

    import redis

    url = os.environ.get("SCENEWATCH_TEST_REDIS_URL")
    if not url:
        pytest.fail("SCENEWATCH_TEST_REDIS_URL is not set (.ci/run sets it)")
    redis.Redis.from_url(url).flushdb()
    shared = dataclasses.replace(settings, ratelimit_storage=url, login_limit_account="3 per 15 minutes")
    first = build_app(shared, production=True)
    with first.app_context():
        register(first.test_client(), "shared@example.org")
        for _ in range(2):
            assert login(first.test_client(), "shared@example.org", "wrong-guess").status_code == 401
    second = build_app(shared, production=True)  # another web process, same store
    with second.app_context():
        assert login(second.test_client(), "shared@example.org", "wrong-guess").status_code == 401
        assert login(second.test_client(), "shared@example.org").status_code == 429
    assert any(b"login" in key for key in redis.Redis.from_url(url).keys("*"))
