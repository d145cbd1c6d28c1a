"""CSRF protection for the web form: Flask-WTF's CSRFProtect on every unsafe request.

Every POST form includes ``csrf_field()`` (a hidden ``csrf_token``); scripts may send
the token in an ``X-CSRF-Token`` header instead. Nothing else skips the check: not an
``Authorization`` header, not a JSON body. Views and blueprints that authenticate by
something other than the session cookie say so with :func:`exempt` /
:func:`exempt_blueprint`. Tests may turn the check off with ``TESTING`` and
``WTF_CSRF_ENABLED=False`` together, never with the flag alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Flask, g
from flask_wtf.csrf import CSRFError, generate_csrf
from markupsafe import Markup, escape

from config.extensions import csrf

FIELD = "csrf_token"
F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["CSRFError", "csrf_field", "exempt", "exempt_blueprint", "init_csrf"]


def csrf_field() -> Markup:
    """The hidden input every POST form includes."""
    return Markup(f'<input type="hidden" name="{FIELD}" value="{escape(generate_csrf())}">')


def exempt(view: F) -> F:
    """Mark one view as needing no token (the RFC 8058 one-click unsubscribe: mail
    clients POST it without any session; the signed token in its URL is the authority)."""
    return csrf.exempt(view)  # type: ignore[no-any-return]


def exempt_blueprint(blueprint: Blueprint) -> None:
    """Exempt every view of ``blueprint``: only for machine APIs that authenticate each
    request with an API token and never with the session cookie."""
    csrf.exempt(blueprint)


def _forget_cached_token() -> None:
    # Flask-WTF caches the signed token on ``g``; when an app context outlives one
    # request (tests, scripts driving the app) a cached token would stop the session
    # from ever receiving its own copy. Each request starts from its session.
    g.pop(FIELD, None)


def init_csrf(app: Flask) -> None:
    """Install the check and the ``csrf_field`` template helper (``csrf_token`` comes
    with Flask-WTF)."""
    if not app.testing:  # only tests may switch the check off
        app.config["WTF_CSRF_ENABLED"] = True
    # The token lives as long as the login session (which ends on logout), not an hour:
    # a form left open over lunch still submits.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    app.config.setdefault("WTF_CSRF_HEADERS", ["X-CSRF-Token", "X-CSRFToken"])
    app.before_request(_forget_cached_token)
    csrf.init_app(app)
    app.jinja_env.globals.update(csrf_field=csrf_field)
