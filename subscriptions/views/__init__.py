"""The web form's blueprints, hooks and page-wide template helpers."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Flask, current_app, g, request
from werkzeug.wrappers import Response

# Pages run only our own script files (progressive enhancement: every page works
# without them); styles are inline in base.html. Frames only from us
# (the outbox shows mail HTML in a sandboxed frame served by this site).
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-src 'self'; frame-ancestors 'self'; base-uri 'none'"
)


def lang_url(locale: str) -> str:
    """The current page in another language (keeps the other query parameters)."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    args.append(("lang", locale))
    return f"{request.path}?{urlencode(args)}"


def http_url(value: str | None) -> str:
    """``value`` when it is an http(s) URL, else "" (catalog links are untrusted:
    no ``javascript:`` or ``data:`` links on our pages)."""
    text = (value or "").strip()
    return text if urlsplit(text).scheme.lower() in ("http", "https") else ""


def short_id(dataset_id: str) -> str:
    """A dataset id short enough to cite: ``source:`` and the last part of the native
    id (ids are often whole portal URLs); the full id stays in the page."""
    from urllib.parse import parse_qsl

    source, _, native = (dataset_id or "").partition(":")
    if not native:
        return dataset_id
    parts = urlsplit(native)
    tail = ""
    if parts.scheme in ("http", "https"):
        values = [v for _, v in parse_qsl(parts.query) if v]
        segments = [s for s in parts.path.split("/") if s]
        tail = values[-1] if values else (segments[-1] if segments else parts.netloc)
    short = f"{source}:{tail or native}"
    return short if len(short) <= 48 else short[:47] + "…"


def _template_context() -> dict[str, Any]:
    settings = current_app.config["SCENEWATCH"]
    return {
        "current_user": getattr(g, "user", None),
        "outbox_enabled": not settings.smtp_host,
        "lang_url": lang_url,
    }


def _security_headers(response: Response) -> Response:
    if response.mimetype == "text/html" and "Content-Security-Policy" not in response.headers:
        response.headers["Content-Security-Policy"] = PAGE_CSP
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config["SCENEWATCH"].production:
        # Production runs behind TLS: browsers must never come back over plain HTTP.
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if response.mimetype == "text/html":
        # Pages show private scenes and one-time secrets: never keep them in shared caches.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _register_delivery_links(app: Flask) -> None:
    """The pages mail and webhooks link to: address confirmation, downloads, feeds.

    They live with the notifier; registered here so every app has them, and only
    once should the app factory register them too."""
    from subscriptions.downloads.views import bp as downloads_bp
    from subscriptions.views.confirm import bp as confirm_bp

    for blueprint in (confirm_bp, downloads_bp):
        if blueprint.name not in app.blueprints:
            app.register_blueprint(blueprint)


def register_views(app: Flask) -> None:
    """Register every page blueprint, CSRF protection, error pages and helpers."""
    from subscriptions.views import (
        account,
        admin_sources,
        auth,
        channels,
        datasets,
        errors,
        facets,
        health,
        runs,
        scene_edit,
        scenes,
        search_page,
        tokens_page,
    )
    from subscriptions.views.csrf import init_csrf
    from subscriptions.views.limits import init_limits
    from subscriptions.views.mail import bp as notifier_bp

    app.before_request(auth.load_user)
    init_csrf(app)
    init_limits(app)
    errors.init_errors(app)
    for blueprint in (
        search_page.bp,
        auth.bp,
        scenes.bp,
        scene_edit.bp,
        account.bp,
        facets.bp,
        tokens_page.bp,
        runs.bp,
        channels.bp,
        datasets.bp,
        health.bp,
        admin_sources.bp,
        notifier_bp,
    ):
        app.register_blueprint(blueprint)
    _register_delivery_links(app)
    app.context_processor(_template_context)
    app.jinja_env.filters["http_url"] = http_url
    app.jinja_env.filters["short_id"] = short_id
    app.after_request(_security_headers)
