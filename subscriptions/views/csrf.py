"""CSRF protection for the web form: a per-session token in every POST form.

The token lives in the session and in a hidden ``csrf_token`` field (or an
``X-CSRF-Token`` header); a before_request hook refuses unsafe requests whose token
does not match. Tests may turn the check off with ``TESTING`` and
``WTF_CSRF_ENABLED=False`` together, never with one of them alone.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Any

from flask import Flask, abort, current_app, request, session
from markupsafe import Markup, escape

SESSION_KEY = "csrf_token"
FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_EXEMPT_ENDPOINTS: set[str] = set()
_EXEMPT_BLUEPRINTS: set[str] = set()


def csrf_token() -> str:
    """The session's token, created on first use."""
    token = session.get(SESSION_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return str(token)


def csrf_field() -> Markup:
    """The hidden input every POST form includes."""
    return Markup(f'<input type="hidden" name="{FIELD}" value="{escape(csrf_token())}">')


def exempt(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view as needing no token (the RFC 8058 one-click unsubscribe: mail
    clients POST it without any session)."""
    _EXEMPT_ENDPOINTS.add(f"{view.__module__}.{view.__name__}")
    return view


def exempt_blueprint(name: str) -> None:
    """Exempt every view of blueprint ``name`` (machine APIs that use tokens, not cookies)."""
    _EXEMPT_BLUEPRINTS.add(name)


def _checks_enabled() -> bool:
    config = current_app.config
    return not (config.get("TESTING") and config.get("WTF_CSRF_ENABLED") is False)


def _is_exempt() -> bool:
    if request.blueprint in _EXEMPT_BLUEPRINTS:
        return True
    view = current_app.view_functions.get(request.endpoint or "")
    if view is not None and f"{view.__module__}.{view.__name__}" in _EXEMPT_ENDPOINTS:
        return True
    # A browser never attaches an Authorization header by itself, so a request that
    # carries one is an API client acting on purpose, not a forged form post.
    return "Authorization" in request.headers


def check_csrf() -> None:
    """Refuse (400) an unsafe request without the session's token."""
    if request.method in SAFE_METHODS or not _checks_enabled() or _is_exempt():
        return
    expected = session.get(SESSION_KEY)
    given = request.form.get(FIELD) or request.headers.get(HEADER) or ""
    if not expected or not hmac.compare_digest(str(expected), given):
        abort(400, description="csrf")


def init_csrf(app: Flask) -> None:
    """Install the check and the template helpers."""
    app.before_request(check_csrf)
    app.jinja_env.globals.update(csrf_token=csrf_token, csrf_field=csrf_field)
