"""Fixtures for attacking the app as it runs for real: CSRF on, production mode
(its own secret key, JSON logs, secure cookies), errors answered as pages, not raised."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from config.settings import Settings

PASSWORD = "correct horse battery"
TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def build_app(settings: Settings, production: bool, **config: Any) -> Flask:
    """The app as a real install runs it (no TESTING: a crash is a 500 page)."""
    from config.app import create_app
    from config.migrate import upgrade

    if production:
        settings = dataclasses.replace(settings, env="production", secret_key="prod-secret-" + "x" * 40)
    application = create_app(settings, **config)
    with application.app_context():
        upgrade()
    return application


@pytest.fixture
def prod_app(settings: Settings) -> Iterator[Flask]:
    application = build_app(settings, production=True)
    with application.app_context():
        yield application


@pytest.fixture
def dev_app(settings: Settings) -> Iterator[Flask]:
    application = build_app(settings, production=False)
    with application.app_context():
        yield application


def csrf_token(client: FlaskClient, page: str = "/login") -> str:
    """A CSRF token of the client's session, read from a form the way a browser gets it."""
    html = client.get(page).get_data(as_text=True)
    match = TOKEN_RE.search(html)
    assert match, f"no CSRF field on {page}"
    return match.group(1)


def post(client: FlaskClient, url: str, data: dict[str, Any] | None = None,
         **kwargs: Any) -> TestResponse:
    """POST like the browser does: with the session's CSRF token in the form."""
    form = dict(data or {})
    form.setdefault("csrf_token", csrf_token(client))
    return client.post(url, data=form, **kwargs)


def register(client: FlaskClient, email: str) -> None:
    response = post(client, "/register", {"email": email, "password": PASSWORD,
                                          "password2": PASSWORD, "locale": "en",
                                          "timezone": "Asia/Shanghai"})
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]


def login(client: FlaskClient, email: str, password: str = PASSWORD, **kwargs: Any) -> TestResponse:
    return post(client, "/login", {"email": email, "password": password}, **kwargs)
