"""The app factory: settings → extensions → blueprints. Nothing runs at import time."""
from __future__ import annotations

from typing import Any

from flask import Flask

from config.extensions import db, search
from config.extensions import settings as bound_settings
from config.logging import configure_logging, route_app_logger
from config.settings import Settings, load_settings


def init_services(settings: Settings) -> None:
    """Bind the settings, the database and the search backend (web, CLI, workers and
    plain scripts: nothing here needs a Flask app)."""
    from search.backends import make_backend

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    bound_settings.value = settings
    db.init(settings.database_url)
    search.backend = make_backend(settings)


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    """Build the Flask app for ``settings`` (default: from the environment)."""
    settings = settings or load_settings()
    configure_logging(settings)
    app = Flask(__name__, template_folder="../templates", static_folder=None)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SCENEWATCH=settings,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Production is served over TLS (README): the cookie never travels in clear.
        SESSION_COOKIE_SECURE=settings.production,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        **overrides,
    )
    route_app_logger(app)
    if settings.trusted_proxies:
        # Behind N reverse proxies: the client address (rate limits) and scheme come
        # from their X-Forwarded-* headers, and from nobody else's.
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    init_services(settings)

    from config.celery_app import celery_init_app

    celery_init_app(app)

    from config.request_id import init_request_id
    from config.routing import install_converters
    from subscriptions.i18n import init_i18n
    from subscriptions.views import register_views

    install_converters(app)
    from subscriptions.api import init_api

    init_i18n(app)
    init_request_id(app)
    register_views(app)
    init_api(app)
    return app


def current_settings() -> Settings:
    """The settings in force (the running app's inside its context)."""
    return bound_settings.get()
